/* SPDX-License-Identifier: MIT */
/* fileio.c — genmix's one output rule and whole-file reads.
 *
 * Every file genmix writes goes through gm_atomic_open/commit (or gm_write_file_atomic), which apply:
 *   - "-"                         standard output: file descriptor 1 through a stream of its own (what
 *                                 the FILE *stdout holds is flushed first; fd 1 is never closed), so a
 *                                 program may point stdout elsewhere for its own messages;
 *   - a symlink                   followed to its final target, and the rule applied to that target;
 *   - a regular or missing file   written atomically: temp file in the same folder + fsync + rename,
 *                                 keeping an existing file's permission bits;
 *   - a FIFO, character device, socket or other non-regular file
 *                                 opened and written directly, never renamed over or removed;
 *   - a directory                 refused ("is a directory");
 *   - a missing parent folder     refused ("folder ... does not exist"): genmix never creates the folder
 *                                 of an output *file* (options that name an output *folder* create it).
 * gm_output_check applies the same rule without writing, so commands check outputs before any work.
 * Reads (gm_read_file, gm_open_read) refuse anything but regular files and never block on a FIFO.
 * Owns: the path strings inside gm_atomic_file until commit/abort. Thread safety: reentrant. */
#include "genmix/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { AF_ATOMIC = 0, AF_DIRECT = 1, AF_STDOUT = 2 };

/* Follows `path` through symlinks to the final name (which may not exist). gm_malloc'd or NULL. */
static char *final_target(const char *path) {
    char *cur = gm_strdup(path);
    for (int hop = 0; cur && hop < 40; hop++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) return cur;
        link[n] = '\0';
        char *next;
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) {
            next = gm_strdup(link);
        } else { /* relative to the folder holding the link */
            size_t d = (size_t)(slash - cur) + 1;
            next = gm_malloc(d + (size_t)n + 1);
            if (next) {
                memcpy(next, cur, d);
                memcpy(next + d, link, (size_t)n + 1);
            }
        }
        gm_free(cur);
        cur = next;
    }
    return cur; /* a loop: later calls report ELOOP */
}

/* The folder holding `path` ("." for a bare name), into buf. */
static void parent_of(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, cap, ".");
    else if (slash == path) snprintf(buf, cap, "/");
    else snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

/* The rule, without side effects. On success *kind is AF_*, *target the gm_malloc'd final path. */
static int classify(const char *path, int *kind, char **target) {
    *target = NULL;
    if (!path || !*path) GM_FAIL(GM_EINVAL, "empty output path");
    if (!strcmp(path, "-")) {
        *kind = AF_STDOUT;
        return GM_OK;
    }
    char *t = final_target(path);
    if (!t) return gm_error_prefix(GM_ENOMEM, path);
    struct stat st;
    if (stat(t, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            gm_free(t);
            GM_FAIL(GM_EIO, "%s: is a directory, not a file", path);
        }
        if (!S_ISREG(st.st_mode)) {
            if (access(t, W_OK) != 0) {
                int e = errno;
                gm_free(t);
                GM_FAIL(GM_EIO, "%s: cannot write: %s", path, strerror(e));
            }
            *kind = AF_DIRECT;
            *target = t;
            return GM_OK;
        }
    } else if (errno != ENOENT) {
        int e = errno;
        gm_free(t);
        GM_FAIL(GM_EIO, "%s: %s", path, strerror(e));
    }
    /* regular or new file: the temp file goes beside the target, so its folder must be writable */
    char dir[PATH_MAX];
    parent_of(t, dir, sizeof dir);
    struct stat ds;
    if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode)) {
        gm_free(t);
        GM_FAIL(GM_EIO, "%s: folder '%s' does not exist (genmix does not create it)", path, dir);
    }
    if (access(dir, W_OK | X_OK) != 0) {
        int e = errno;
        gm_free(t);
        GM_FAIL(GM_EIO, "%s: cannot write in folder '%s': %s", path, dir, strerror(e));
    }
    *kind = AF_ATOMIC;
    *target = t;
    return GM_OK;
}

int gm_output_check(const char *path) {
    int kind;
    char *t;
    int rc = classify(path, &kind, &t);
    gm_free(t);
    return rc;
}

int gm_output_is_stdout(const char *path) { return path && !strcmp(path, "-"); }

static int open_fail(gm_atomic_file *af, const char *path, const char *what, int e) {
    gm_free(af->path);
    gm_free(af->tmp_path);
    memset(af, 0, sizeof *af);
    GM_FAIL(GM_EIO, "%s: %s: %s", path, what, strerror(e));
}

/* The process's file-creation mask, read from /proc/self/status ("Umask:", Linux >= 4.7) because
 * umask(2) can only be read by setting it, which races with other threads. 022 when unreadable. */
static mode_t process_umask(void) {
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return mask;
    char line[128];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Umask:", 6)) {
            mask = (mode_t)(strtoul(line + 6, NULL, 8) & 0777);
            break;
        }
    fclose(f);
    return mask;
}

int gm_atomic_open(gm_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    int rc = classify(path, &af->kind, &af->path);
    if (rc) return rc;
    if (af->kind == AF_STDOUT) {
        fflush(stdout);
        int fd = dup(STDOUT_FILENO);
        af->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!af->f) {
            int e = errno;
            if (fd >= 0) close(fd);
            memset(af, 0, sizeof *af);
            GM_FAIL(GM_EIO, "standard output: %s", strerror(e));
        }
        return GM_OK;
    }
    if (af->kind == AF_DIRECT) {
        af->f = fopen(af->path, "wb");
        return af->f ? GM_OK : open_fail(af, path, "cannot open", errno);
    }
    size_t n = strlen(af->path);
    af->tmp_path = gm_malloc(n + 16);
    if (!af->tmp_path) {
        gm_free(af->path);
        memset(af, 0, sizeof *af);
        return gm_error_prefix(GM_ENOMEM, path);
    }
    memcpy(af->tmp_path, af->path, n);
    memcpy(af->tmp_path + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) return open_fail(af, path, "cannot create file", errno);
    struct stat st;
    /* a replaced file keeps its permissions; a new one gets 0666 less the umask, as fopen would give
     * (mkstemp creates 0600) */
    fchmod(fd, stat(af->path, &st) == 0 ? (st.st_mode & 07777) : (0666 & ~process_umask()));
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        return open_fail(af, path, "cannot open", e);
    }
    return GM_OK;
}

void gm_atomic_abort(gm_atomic_file *af) {
    if (!af || !af->f) return;
    fclose(af->f); /* (for "-": flushes and closes the duplicate of fd 1) */
    if (af->kind == AF_ATOMIC) unlink(af->tmp_path);
    gm_free(af->tmp_path);
    gm_free(af->path);
    memset(af, 0, sizeof *af);
}

int gm_atomic_commit(gm_atomic_file *af) {
    int e = 0;
    if (fflush(af->f) != 0 || ferror(af->f)) e = errno ? errno : EIO;
    if (af->kind == AF_STDOUT) {
        if (fclose(af->f) != 0 && !e) e = errno ? errno : EIO;
        memset(af, 0, sizeof *af);
        if (e) GM_FAIL(GM_EIO, "standard output: write failed: %s", strerror(e));
        return GM_OK;
    }
    if (!e && af->kind == AF_ATOMIC && fsync(fileno(af->f)) != 0 && errno != EINVAL) e = errno;
    if (fclose(af->f) != 0 && !e) e = errno ? errno : EIO;
    af->f = NULL;
    if (!e && af->kind == AF_ATOMIC && rename(af->tmp_path, af->path) != 0) e = errno;
    if (e) {
        char path[1024];
        snprintf(path, sizeof path, "%s", af->path);
        if (af->kind == AF_ATOMIC) unlink(af->tmp_path);
        gm_free(af->tmp_path);
        gm_free(af->path);
        memset(af, 0, sizeof *af);
        GM_FAIL(GM_EIO, "%s: write failed: %s", path, strerror(e));
    }
    gm_free(af->tmp_path);
    gm_free(af->path);
    memset(af, 0, sizeof *af);
    return GM_OK;
}

int gm_write_file_atomic(const char *path, const void *data, size_t len) {
    gm_atomic_file af;
    int rc = gm_atomic_open(&af, path);
    if (rc) return rc;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;
        gm_atomic_abort(&af);
        GM_FAIL(GM_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return gm_atomic_commit(&af);
}

FILE *gm_open_read(const char *path, struct stat *st_out) {
    /* O_NONBLOCK: opening a FIFO without a writer returns at once (and is then refused) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        gm_set_error(GM_EIO, "%s: cannot open: %s", path, strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        close(fd);
        gm_set_error(GM_EIO, "%s: %s", path, dir ? "is a directory, not a file" : "not a regular file");
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        gm_set_error(GM_EIO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (st_out) *st_out = st;
    return f;
}

int gm_read_file(const char *path, void **data, size_t *len) {
    *data = NULL;
    *len = 0;
    struct stat st;
    FILE *f = gm_open_read(path, &st);
    if (!f) return GM_EIO;
    size_t n = (size_t)st.st_size;
    char *buf = gm_malloc(n + 1);
    if (!buf) {
        fclose(f);
        return gm_error_prefix(GM_ENOMEM, path);
    }
    if (n && fread(buf, 1, n, f) != n) {
        int e = ferror(f) ? errno : 0;
        fclose(f);
        gm_free(buf);
        GM_FAIL(GM_EIO, "%s: read failed: %s", path, e ? strerror(e) : "file changed size");
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return GM_OK;
}
