/* test_fileio.c — atomic writes leave either the old or the new file, never a partial one. */
#include "gm_test.h"
#include "genmix/io.h"

#include <dirent.h>
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

GM_TEST(test_errors) {
    void *buf;
    size_t len;
    CHECK_RC(gm_read_file("/nonexistent/x.npy", &buf, &len), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/x.npy") != NULL);
    CHECK_RC(gm_read_file("/tmp", &buf, &len), GM_EIO);
    CHECK_RC(gm_write_file_atomic("/nonexistent/dir/y.npy", "x", 1), GM_EIO);
    CHECK(strstr(gm_last_error(), "/nonexistent/dir/y.npy") != NULL);
}

GM_TEST_MAIN({"atomic_roundtrip", test_atomic_roundtrip}, {"errors", test_errors})
