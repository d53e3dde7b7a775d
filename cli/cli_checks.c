/* SPDX-License-Identifier: MIT */
/* cli_checks.c — checks shared by every subcommand, run before any expensive work so that a bad value or
 * path fails in milliseconds instead of after training/evaluation: integer options with their range,
 * the files a command reads and writes (the output rule itself lives in the library: gm_output_check in
 * src/core/fileio.c; this file only names the option in the message), and warnings (always printed,
 * --quiet or not).
 * Owns nothing. Thread safety: not needed (called from the main thread before work starts). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "genmix/io.h"

int cli_check_output(const char *cmd, const char *opt, const char *path) {
    if (!path) return CLI_OK;
    if (gm_output_check(path) != GM_OK) {
        (void)cmd;
        fprintf(stderr, "genmix: error: %s: %s\n", opt, gm_last_error());
        return CLI_ERR;
    }
    return CLI_OK;
}

int cli_check_output_dir(const char *cmd, const char *opt, const char *path) {
    if (!path) return CLI_OK;
    struct stat st;
    if (!*path) {
        fprintf(stderr, "genmix: error: %s: empty folder name (genmix %s)\n", opt, cmd);
        return CLI_ERR;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "genmix: error: %s: %s exists and is not a folder (genmix %s)\n", opt, path, cmd);
            return CLI_ERR;
        }
        if (access(path, W_OK | X_OK) != 0) {
            fprintf(stderr, "genmix: error: %s: cannot write in folder %s: %s (genmix %s)\n", opt, path, strerror(errno), cmd);
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
        fprintf(stderr, "genmix: error: %s: cannot create folder %s (%s is not a writable folder; genmix %s)\n", opt, path, buf, cmd);
        return CLI_ERR;
    }
    return CLI_OK;
}

int cli_check_input(const char *cmd, const char *opt, const char *path) {
    if (!path) return CLI_OK;
    FILE *f = gm_open_read(path, NULL);
    if (!f) {
        (void)cmd;
        fprintf(stderr, "genmix: error: %s: %s\n", opt, gm_last_error());
        return CLI_ERR;
    }
    fclose(f);
    return CLI_OK;
}

/* Two output paths that name one file: both existing regular files with the same st_dev/st_ino, or both
 * missing with the same last name in the same (existing) folder, or, when that folder is missing too, the
 * same text. Existing special files (/dev/null, a FIFO) are written directly and never "the same file". */
static int same_output(const char *a, const char *b) {
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea || eb) return ea && eb && S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char da[4096], db[4096];
    const char *na = strrchr(a, '/'), *nb = strrchr(b, '/');
    na = na ? na + 1 : a;
    nb = nb ? nb + 1 : b;
    if (strcmp(na, nb) != 0) return 0;
    snprintf(da, sizeof da, "%.*s", na == a ? 1 : (int)(na - a), na == a ? "." : a);
    snprintf(db, sizeof db, "%.*s", nb == b ? 1 : (int)(nb - b), nb == b ? "." : b);
    if (stat(da, &sa) == 0 && stat(db, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a, b) == 0;
}

int cli_check_distinct_outputs(const char *cmd, const cli_file *outs) {
    for (const cli_file *o = outs; o && o->opt; o++) {
        if (!o->path || gm_output_is_stdout(o->path)) continue;
        for (const cli_file *p = o + 1; p->opt; p++) {
            if (!p->path || gm_output_is_stdout(p->path) || !same_output(o->path, p->path)) continue;
            fprintf(stderr, "genmix %s: %s '%s' and %s '%s' name the same file (the second would replace the first)\n",
                    cmd, o->opt, o->path, p->opt, p->path);
            return CLI_USAGE;
        }
    }
    return CLI_OK;
}

int cli_check_not_in_dir(const char *cmd, const char *opt, const char *dir, const char *const *names, const cli_file *ins) {
    if (!dir) return CLI_OK;
    char path[4096];
    for (; names && *names; names++) {
        snprintf(path, sizeof path, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", *names);
        if (cli_check_not_input(cmd, (cli_file[]){{opt, path}, {0}}, ins)) return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_check_not_input(const char *cmd, const cli_file *outs, const cli_file *ins) {
    if (cli_check_distinct_outputs(cmd, outs)) return CLI_USAGE;
    for (; outs && outs->opt; outs++) {
        struct stat so, si;
        if (!outs->path || gm_output_is_stdout(outs->path) || stat(outs->path, &so) != 0) continue; /* a new file */
        for (const cli_file *in = ins; in && in->opt; in++) {
            if (!in->path || !strcmp(in->path, "-") || stat(in->path, &si) != 0) continue;
            if (so.st_dev == si.st_dev && so.st_ino == si.st_ino) {
                fprintf(stderr, "genmix %s: %s '%s' is the same file as the input %s '%s' (it would be overwritten)\n", cmd,
                        outs->opt, outs->path, in->opt, in->path);
                return CLI_USAGE;
            }
        }
    }
    return CLI_OK;
}

int cli_parse_range(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    long v;
    if (cli_parse_long(s, &v) || v < lo || v > hi) {
        fprintf(stderr, "genmix %s: %s takes an integer in %ld..%ld (got '%s')\n(see 'genmix %s --help')\n", cmd, opt,
                lo, hi, s, cmd);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_OK;
}

int cli_parse_drange(const char *cmd, const char *opt, const char *s, double lo, double hi, int open_lo, double *out) {
    double v;
    if (cli_parse_double(s, &v) || !(open_lo ? v > lo : v >= lo) || !(v <= hi)) {
        fprintf(stderr, "genmix %s: %s takes a number in %s%g, %g] (got '%s')\n(see 'genmix %s --help')\n", cmd, opt,
                open_lo ? "(" : "[", lo, hi, s, cmd);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_OK;
}

void cli_warn(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "genmix %s: warning: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_parse_count(const char *cmd, const char *opt, const char *s, long lo, long *out) {
    if (cli_parse_long(s, out) || *out < lo || *out > 100000000) return cli_usage_error(cmd, "--%s: '%s' is not a valid count", opt, s);
    return CLI_OK;
}

int cli_bad_option(const char *cmd, char *const *argv, const char *hint) {
    const char *a = optind > 0 ? argv[optind - 1] : "";
    const char *eq = strchr(a, '=');
    int len = eq && !strncmp(a, "--", 2) ? (int)(eq - a) : (int)strlen(a);
    const char *h1 = hint ? " (" : "", *h2 = hint ? hint : "", *h3 = hint ? ")" : "";
    if (strncmp(a, "--", 2) != 0 && a[0] == '-' && optopt) /* a short option: unknown, or its value is missing */
        return cli_usage_error(cmd, "option '-%c' is unknown or needs a value%s%s%s", optopt, h1, h2, h3);
    if (!optopt) return cli_usage_error(cmd, "unknown option '%.*s'%s%s%s", len, a, h1, h2, h3);
    if (eq) return cli_usage_error(cmd, "option '%.*s' takes no value%s%s%s", len, a, h1, h2, h3);
    return cli_usage_error(cmd, "option '%s' needs a value%s%s%s", a, h1, h2, h3);
}
