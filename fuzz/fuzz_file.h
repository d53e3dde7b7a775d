/* SPDX-License-Identifier: MIT */
/* fuzz_file.h — hands a fuzz input to a reader that takes a path: the bytes go into one memfd per
 * process (rewritten for every input, no disk traffic) opened through /proc/self/fd/N, which the
 * readers see as a regular file. Linux only, like the rest of the fuzz build. */
#ifndef GM_FUZZ_FILE_H
#define GM_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *fuzz_as_file(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("genmix-fuzz", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) abort();
    return path;
}

#endif
