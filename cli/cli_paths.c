/* cli_paths.c — checks of the files a command names, run before any expensive work, so a bad path
 * fails in milliseconds instead of after training/evaluation. The rule itself lives in the library
 * (gm_output_check in src/core/fileio.c); this file only names the option in the message.
 * Owns nothing. Thread safety: not needed (called from the main thread before work starts). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "genmix/io.h"

int cli_check_output(const char *cmd, const char *opt, const char *path) {
    if (!path) return CLI_OK;
    if (gm_output_check(path) != GM_OK) {
        fprintf(stderr, "genmix %s: %s: %s\n", cmd, opt, gm_last_error());
        return CLI_ERR;
    }
    return CLI_OK;
}

int cli_check_output_dir(const char *cmd, const char *opt, const char *path) {
    if (!path) return CLI_OK;
    struct stat st;
    if (!*path) {
        fprintf(stderr, "genmix %s: %s: empty folder name\n", cmd, opt);
        return CLI_ERR;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "genmix %s: %s: %s exists and is not a folder\n", cmd, opt, path);
            return CLI_ERR;
        }
        if (access(path, W_OK | X_OK) != 0) {
            fprintf(stderr, "genmix %s: %s: cannot write in folder %s: %s\n", cmd, opt, path, strerror(errno));
            return CLI_ERR;
        }
        return CLI_OK;
    }
    /* a missing output folder is created (with its parents): the nearest existing ancestor must be a
     * writable folder */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (;;) {
        char *slash = strrchr(buf, '/');
        while (slash && slash > buf && slash[1] == '\0') { /* trailing slashes */
            *slash = '\0';
            slash = strrchr(buf, '/');
        }
        if (!slash) snprintf(buf, sizeof buf, ".");
        else if (slash == buf) buf[1] = '\0';
        else *slash = '\0';
        if (stat(buf, &st) == 0) break;
        if (!strcmp(buf, ".") || !strcmp(buf, "/")) break;
    }
    if (!S_ISDIR(st.st_mode) || access(buf, W_OK | X_OK) != 0) {
        fprintf(stderr, "genmix %s: %s: cannot create folder %s (%s is not a writable folder)\n", cmd, opt, path, buf);
        return CLI_ERR;
    }
    return CLI_OK;
}

int cli_check_input(const char *cmd, const char *opt, const char *path) {
    if (!path) return CLI_OK;
    FILE *f = gm_open_read(path, NULL);
    if (!f) {
        fprintf(stderr, "genmix %s: %s: %s\n", cmd, opt, gm_last_error());
        return CLI_ERR;
    }
    fclose(f);
    return CLI_OK;
}
