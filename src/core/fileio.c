/* fileio.c — atomic writes (temp file in the destination directory + fsync + rename) and whole-file reads.
 * Owns: the temp-file path strings inside gm_atomic_file until commit/abort. */
#include "genmix/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gm_atomic_open(gm_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = gm_strdup(path);
    af->tmp_path = gm_malloc(n + 16);
    if (!af->path || !af->tmp_path) {
        gm_free(af->path);
        gm_free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return GM_ENOMEM;
    }
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        gm_free(af->path);
        gm_free(af->tmp_path);
        memset(af, 0, sizeof *af);
        GM_FAIL(GM_EIO, "%s: cannot create file: %s", path, strerror(e));
    }
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        gm_free(af->path);
        gm_free(af->tmp_path);
        memset(af, 0, sizeof *af);
        GM_FAIL(GM_EIO, "%s: cannot open: %s", path, strerror(e));
    }
    return GM_OK;
}

void gm_atomic_abort(gm_atomic_file *af) {
    if (!af || !af->tmp_path) return;
    if (af->f) fclose(af->f);
    unlink(af->tmp_path);
    gm_free(af->tmp_path);
    gm_free(af->path);
    memset(af, 0, sizeof *af);
}

int gm_atomic_commit(gm_atomic_file *af) {
    int e = 0;
    if (fflush(af->f) != 0 || ferror(af->f)) e = errno ? errno : EIO;
    if (!e && fsync(fileno(af->f)) != 0 && errno != EINVAL) e = errno;
    if (fclose(af->f) != 0 && !e) e = errno ? errno : EIO;
    af->f = NULL;
    if (!e && rename(af->tmp_path, af->path) != 0) e = errno;
    if (e) {
        char path[1024];
        snprintf(path, sizeof path, "%s", af->path);
        gm_atomic_abort(af);
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

int gm_read_file(const char *path, void **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) GM_FAIL(GM_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        GM_FAIL(GM_EIO, "%s: not a regular file", path);
    }
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
