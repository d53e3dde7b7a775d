/* SPDX-License-Identifier: MIT */
/* genmix/fileio.h — the file layer every module writes and reads through (module core, src/core/fileio.c):
 * the one output rule for every file genmix writes, atomic writes, and reads that never block on a FIFO.
 * genmix/io.h includes it. Thread safety: re-entrant (no shared state). */
#ifndef GM_FILEIO_H
#define GM_FILEIO_H

#include <stdio.h>

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- output files: one rule for every file genmix writes ------------------------------------------
 * "-" is standard output (file descriptor 1, through a stream of its own: the FILE *stdout is flushed
 * first and is not written); a symlink is followed to its target; a regular or new file is written
 * atomically (temp file beside it + fsync + rename, permissions kept); a FIFO, character device or
 * other non-regular file is written directly and never replaced; a directory is refused; a missing
 * parent folder is refused (never created). */
typedef struct {
    FILE *f;
    char *tmp_path; /* temp file (atomic writes only) */
    char *path;     /* final target after following symlinks */
    int kind;       /* internal: atomic, direct or standard output */
} gm_atomic_file;
/* Check `path` against the rule without writing anything (call it before expensive work):
 * GM_OK, or GM_EIO/GM_EINVAL with a message naming the path and the reason. */
int gm_output_check(const char *path);
/* 1 when `path` is "-" (standard output). */
int gm_output_is_stdout(const char *path);
/* Open `path` for writing under the rule above. */
int gm_atomic_open(gm_atomic_file *af, const char *path);
/* Flush and finish: fsync + rename for atomic writes, close for direct ones and for standard output;
 * on any failure removes the temp file. */
int gm_atomic_commit(gm_atomic_file *af);
/* Give up: close and remove the temp file (a direct or stdout target keeps what was written). */
void gm_atomic_abort(gm_atomic_file *af);
/* Write a whole text/binary buffer under the rule. */
int gm_write_file_atomic(const char *path, const void *data, size_t len);
/* Open a regular file for reading (never blocks on a FIFO); anything else is refused with a message.
 * `st` (may be NULL) receives its stat. NULL on failure (error recorded). */
struct stat;
FILE *gm_open_read(const char *path, struct stat *st);
/* Read a whole file into a gm_malloc'd buffer (NUL-terminated for convenience; *len excludes it). */
int gm_read_file(const char *path, void **data, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* GM_FILEIO_H */
