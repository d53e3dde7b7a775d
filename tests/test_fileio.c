/* SPDX-License-Identifier: MIT */
/* test_fileio.c — the output rule of src/core/fileio.c: atomic writes leave either the old or the new
 * file, never a partial one; symlinks are written through; FIFOs and character devices are written
 * directly and never replaced; "-" is standard output; directories and missing folders are refused
 * (before and at write time); reads refuse non-regular files without blocking on a FIFO. */
#define _XOPEN_SOURCE 700 /* mknod */
#include "gm_test.h"
#include "genmix/io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

GM_TEST(test_atomic_roundtrip) {
    char dir[] = "/tmp/gm_fileio_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    CHECK_OK(gm_write_file_atomic(path, "hello", 5));
    void *buf;
    size_t len;
    CHECK_OK(gm_read_file(path, &buf, &len));
    CHECK_INT_EQ(len, 5);
    CHECK(memcmp(buf, "hello", 5) == 0 && ((char *)buf)[5] == 0);
    gm_free(buf);
    /* an aborted write keeps the old content and leaves no temp file */
    gm_atomic_file af;
    CHECK_OK(gm_atomic_open(&af, path));
    fputs("partial", af.f);
    gm_atomic_abort(&af);
    CHECK_OK(gm_read_file(path, &buf, &len));
    CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
    gm_free(buf);
    CHECK_INT_EQ(count_tmp_files(dir), 0);
    unlink(path);
    rmdir(dir);
}

GM_TEST(test_new_file_mode_follows_umask) {
    char dir[] = "/tmp/gm_fileio_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    struct stat st;
    const mode_t masks[3] = {022, 077, 002}, want[3] = {0644, 0600, 0664};
    mode_t saved = umask(022);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/new%d.txt", dir, i);
        umask(masks[i]);
        CHECK_OK(gm_write_file_atomic(path, "x", 1));
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == want[i]);
        unlink(path);
    }
    umask(saved);
    rmdir(dir);
}

GM_TEST(test_errors) {
    void *buf;
    size_t len;
    CHECK_RC(gm_read_file("/nonexistent/x.npy", &buf, &len), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/x.npy") != NULL);
    CHECK_RC(gm_read_file("/tmp", &buf, &len), GM_EIO);
    CHECK_RC(gm_write_file_atomic("/nonexistent/dir/y.npy", "x", 1), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/dir/y.npy") != NULL);
}

static char *slurp(const char *path) {
    void *buf;
    size_t len;
    return gm_read_file(path, &buf, &len) == GM_OK ? buf : NULL;
}

GM_TEST(test_symlink_written_through) {
    char dir[] = "/tmp/gm_fileio_XXXXXX", tgt[256], link[256], rel[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(tgt, sizeof tgt, "%s/target.txt", dir);
    snprintf(link, sizeof link, "%s/link.txt", dir);
    snprintf(rel, sizeof rel, "%s/rel.txt", dir);
    CHECK_OK(gm_write_file_atomic(tgt, "old", 3));
    CHECK(chmod(tgt, 0600) == 0);
    CHECK(symlink(tgt, link) == 0);
    CHECK(symlink("link.txt", rel) == 0); /* a relative link to a link */
    CHECK_OK(gm_output_check(rel));
    CHECK_OK(gm_write_file_atomic(rel, "new", 3));
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode)); /* the links stay links */
    CHECK(lstat(rel, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat(tgt, &st) == 0 && (st.st_mode & 0777) == 0600); /* permissions kept */
    char *txt = slurp(tgt);
    CHECK(txt && !strcmp(txt, "new"));
    gm_free(txt);
    CHECK_INT_EQ(count_tmp_files(dir), 0);
    /* a dangling link creates its target */
    char dang[256], made[256];
    snprintf(dang, sizeof dang, "%s/dangling", dir);
    snprintf(made, sizeof made, "%s/made.txt", dir);
    CHECK(symlink("made.txt", dang) == 0);
    CHECK_OK(gm_write_file_atomic(dang, "x", 1));
    CHECK(lstat(dang, &st) == 0 && S_ISLNK(st.st_mode) && stat(made, &st) == 0 && st.st_size == 1);
    unlink(made), unlink(dang), unlink(rel), unlink(link), unlink(tgt);
    rmdir(dir);
}

GM_TEST(test_fifo_written_directly) {
    char dir[] = "/tmp/gm_fileio_XXXXXX", fifo[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_OK(gm_output_check(fifo));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) { /* the reader: exits 0 when it got exactly the payload */
        char buf[64] = {0};
        int fd = open(fifo, O_RDONLY);
        ssize_t n = 0, r;
        while (fd >= 0 && (r = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0) n += r;
        _exit(n == 13 && !memcmp(buf, "through pipe\n", 13) ? 0 : 1);
    }
    CHECK_OK(gm_write_file_atomic(fifo, "through pipe\n", 13));
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct stat st;
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode)); /* still a FIFO, not replaced */
    CHECK_INT_EQ(count_tmp_files(dir), 0);
    /* reading a FIFO with no writer is refused at once instead of hanging */
    void *buf;
    size_t len;
    time_t t0 = time(NULL);
    CHECK_RC(gm_read_file(fifo, &buf, &len), GM_EIO);
    CHECK(strstr(gm_last_error(), "not a regular file") != NULL);
    CHECK(time(NULL) - t0 < 2);
    unlink(fifo);
    rmdir(dir);
}

GM_TEST(test_char_device_written_directly) {
    /* as root, a device node of our own (same numbers as /dev/null); otherwise /dev/null itself */
    char dir[] = "/tmp/gm_fileio_XXXXXX", dev[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(dev, sizeof dev, "%s/null", dir);
    const char *path = mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0 ? dev : "/dev/null";
    struct stat before, after;
    CHECK(stat(path, &before) == 0 && S_ISCHR(before.st_mode));
    CHECK_OK(gm_output_check(path));
    CHECK_OK(gm_write_file_atomic(path, "discarded", 9));
    CHECK(stat(path, &after) == 0 && S_ISCHR(after.st_mode) && after.st_ino == before.st_ino &&
          after.st_rdev == before.st_rdev);
    CHECK_INT_EQ(count_tmp_files(dir), 0);
    if (path == dev) unlink(dev);
    rmdir(dir);
}

GM_TEST(test_refusals) {
    char dir[] = "/tmp/gm_fileio_XXXXXX", p[256];
    CHECK(mkdtemp(dir) != NULL);
    /* a directory is refused before and at write time, and stays a directory */
    CHECK_RC(gm_output_check(dir), GM_EIO);
    CHECK(strstr(gm_last_error(), "is a directory") != NULL);
    CHECK_RC(gm_write_file_atomic(dir, "x", 1), GM_EIO);
    CHECK(strstr(gm_last_error(), "is a directory") != NULL);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    /* a missing folder is refused, never created */
    snprintf(p, sizeof p, "%s/nodir/out.json", dir);
    CHECK_RC(gm_output_check(p), GM_EIO);
    CHECK(strstr(gm_last_error(), "does not exist") != NULL && strstr(gm_last_error(), "nodir") != NULL);
    CHECK_RC(gm_write_file_atomic(p, "x", 1), GM_EIO);
    snprintf(p, sizeof p, "%s/nodir", dir);
    CHECK(stat(p, &st) != 0);
    /* a file used as a folder */
    snprintf(p, sizeof p, "%s/file", dir);
    CHECK_OK(gm_write_file_atomic(p, "x", 1));
    snprintf(p, sizeof p, "%s/file/out.json", dir);
    CHECK_RC(gm_output_check(p), GM_EIO);
    CHECK_RC(gm_output_check(""), GM_EINVAL);
    snprintf(p, sizeof p, "%s/file", dir);
    unlink(p);
    rmdir(dir);
}

/* Points fd 1 at the new file `path` and returns a duplicate of the old fd 1 (give it to fd1_restore). */
static int fd1_to_file(const char *path) {
    fflush(stdout);
    int saved = dup(1), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    return saved;
}

static void fd1_restore(int saved) {
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
}

GM_TEST(test_dash_is_stdout) {
    /* "-" writes to standard output: redirect fd 1 into a file and read it back */
    char dir[] = "/tmp/gm_fileio_XXXXXX", p[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(p, sizeof p, "%s/captured", dir);
    int saved = fd1_to_file(p);
    CHECK(gm_output_is_stdout("-") && !gm_output_is_stdout("./-"));
    CHECK_OK(gm_output_check("-"));
    int rc = gm_write_file_atomic("-", "to stdout\n", 10);
    fd1_restore(saved);
    CHECK_OK(rc);
    char *txt = slurp(p);
    CHECK(txt && !strcmp(txt, "to stdout\n"));
    gm_free(txt);
    CHECK(access("-", F_OK) != 0); /* no file named "-" */
    unlink(p);
    rmdir(dir);
}

GM_TEST(test_dash_is_fd1_not_the_stdout_stream) {
    /* "-" is file descriptor 1 even when the FILE *stdout points elsewhere (genmix's CLI sends its report
     * to stderr that way when an output is "-"), and text already buffered in stdout comes first */
    char dir[] = "/tmp/gm_fileio_XXXXXX", p[256], q[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(p, sizeof p, "%s/fd1", dir);
    snprintf(q, sizeof q, "%s/report", dir);
    int saved = fd1_to_file(p);
    fputs("before ", stdout); /* buffered in the stdout stream: written before the data */
    int rc0 = gm_write_file_atomic("-", "data\n", 5);
    FILE *report = fopen(q, "w"), *real = stdout;
    CHECK(report != NULL);
    stdout = report;
    int rc = gm_write_file_atomic("-", "more\n", 5);
    printf("report\n");
    stdout = real;
    fclose(report);
    fd1_restore(saved);
    CHECK_OK(rc0);
    CHECK_OK(rc);
    char *txt = slurp(p), *rep = slurp(q);
    CHECK(txt && !strcmp(txt, "before data\nmore\n"));
    CHECK(rep && !strcmp(rep, "report\n"));
    gm_free(txt);
    gm_free(rep);
    unlink(p);
    unlink(q);
    rmdir(dir);
}

GM_TEST_MAIN({"atomic_roundtrip", test_atomic_roundtrip}, {"new_file_mode_follows_umask", test_new_file_mode_follows_umask},
             {"errors", test_errors},
             {"symlink_written_through", test_symlink_written_through}, {"fifo_written_directly", test_fifo_written_directly},
             {"char_device_written_directly", test_char_device_written_directly}, {"refusals", test_refusals},
             {"dash_is_stdout", test_dash_is_stdout}, {"dash_is_fd1_not_the_stdout_stream", test_dash_is_fd1_not_the_stdout_stream})
