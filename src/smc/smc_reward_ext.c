/* SPDX-License-Identifier: MIT */
/* smc_reward_ext.c — user rewards: an external command exchanging .npy files, and a dlopen'ed plugin
 * implementing the genmix reward ABI v1 (both documented in genmix/das.h).
 *
 * Owns: the parsed argv and the private temporary directory (command), the dlopen handle (plugin).
 * Thread safety: one reward per thread (the command reuses its temporary files). The command runs with
 * fork/execvp (no shell); its stdout is sent to stderr so it cannot corrupt genmix's own stdout. */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "genmix/das.h"
#include "genmix/io.h"

typedef int (*reward_v1_fn)(const float *, size_t, size_t, double *, float *);

struct gm_reward_ext {
    size_t dim;
    /* command */
    char *line, *work, **argv, *dir, *in, *out; /* argv tokens point into work */
    int argc, in_slot, out_slot;
    /* plugin */
    void *dl;
    reward_v1_fn fn;
};

void gm_reward_ext_free(gm_reward_ext *e) {
    if (!e) return;
    if (e->in) unlink(e->in);
    if (e->out) unlink(e->out);
    if (e->dir) rmdir(e->dir);
    gm_free(e->line);
    gm_free(e->work);
    gm_free(e->argv);
    gm_free(e->dir);
    gm_free(e->in);
    gm_free(e->out);
    if (e->dl) dlclose(e->dl);
    gm_free(e);
}

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = gm_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int cmd_eval(void *ctx, const float *x, size_t n, double *r, float *grad) {
    gm_reward_ext *e = ctx;
    if (grad) GM_FAIL(GM_EINVAL, "command reward '%s' has no gradient (use --grad none)", e->line);
    int64_t shape[2] = {(int64_t)n, (int64_t)e->dim};
    unlink(e->out);
    int rc = gm_npy_write(e->in, GM_DTYPE_F32, 2, shape, x);
    if (rc != GM_OK) return rc;
    e->argv[e->in_slot] = e->in;
    e->argv[e->out_slot] = e->out;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) GM_FAIL(GM_EIO, "command reward '%s': fork failed: %s", e->line, strerror(errno));
    if (pid == 0) {
        dup2(2, 1);
        execvp(e->argv[0], e->argv);
        fprintf(stderr, "genmix: cannot run '%s': %s\n", e->argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) GM_FAIL(GM_EIO, "command reward '%s': waitpid failed", e->line);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        GM_FAIL(GM_EIO, "command reward '%s' failed (%s %d)", e->line, WIFEXITED(st) ? "exit status" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    gm_array a;
    rc = gm_npy_read(e->out, &a);
    if (rc != GM_OK) return gm_error_prefix(rc, "command reward output");
    if (!(a.ndim == 1 || (a.ndim == 2 && a.shape[1] == 1)) || a.shape[0] != (int64_t)n) {
        gm_array_free(&a);
        GM_FAIL(GM_ESHAPE, "command reward '%s' wrote a wrong shape: expected (%zu,) rewards", e->line, n);
    }
    rc = gm_array_convert(&a, GM_DTYPE_F64);
    if (rc == GM_OK) {
        const double *v = a.data;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(v[i])) {
                rc = gm_set_error(GM_ENUMERIC, "command reward '%s' returned a non-finite reward (%g) for row %zu", e->line, v[i], i);
                break;
            }
            r[i] = v[i];
        }
    }
    gm_array_free(&a);
    return rc;
}

int gm_reward_cmd_open(gm_reward_ext **out, const char *cmdline, size_t dim, gm_reward *rw) {
    *out = NULL;
    gm_reward_ext *e = gm_calloc(1, sizeof *e);
    if (!e) return GM_ENOMEM;
    e->dim = dim;
    e->in_slot = e->out_slot = -1;
    e->line = gm_strdup(cmdline);
    size_t len = strlen(cmdline);
    e->argv = gm_calloc(len / 2 + 2, sizeof(char *));
    char *work = e->work = gm_strdup(cmdline);
    if (!e->line || !e->argv || !work) {
        gm_reward_ext_free(e);
        return GM_ENOMEM;
    }
    char *save = NULL;
    for (char *tok = strtok_r(work, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (!strcmp(tok, "{in}")) e->in_slot = e->argc;
        if (!strcmp(tok, "{out}")) e->out_slot = e->argc;
        e->argv[e->argc++] = tok;
    }
    int rc = GM_OK;
    if (e->argc < 3 || e->in_slot < 1 || e->out_slot < 1)
        rc = gm_set_error(GM_EINVAL, "command reward '%s' must name a program and contain {in} and {out}", cmdline);
    if (rc == GM_OK) {
        const char *tmp = getenv("TMPDIR");
        char *tmpl = path_join(tmp && *tmp ? tmp : "/tmp", "genmix-reward-XXXXXX");
        if (!tmpl) rc = GM_ENOMEM;
        else if (!mkdtemp(tmpl)) {
            rc = gm_set_error(GM_EIO, "command reward: cannot create a temporary directory: %s", strerror(errno));
            gm_free(tmpl);
        } else {
            e->dir = tmpl;
            e->in = path_join(tmpl, "in.npy");
            e->out = path_join(tmpl, "out.npy");
            if (!e->in || !e->out) rc = GM_ENOMEM;
        }
    }
    if (rc != GM_OK) {
        gm_reward_ext_free(e);
        return rc;
    }
    e->argv[e->argc] = NULL;
    rw->dim = dim;
    rw->eval = cmd_eval;
    rw->has_grad = 0;
    rw->ctx = e;
    *out = e;
    return GM_OK;
}

static int plugin_eval(void *ctx, const float *x, size_t n, double *r, float *grad) {
    gm_reward_ext *e = ctx;
    int rc = e->fn(x, n, e->dim, r, grad);
    if (rc != 0) GM_FAIL(GM_EIO, "reward plugin '%s' failed (status %d)", e->line, rc);
    return GM_OK;
}

int gm_reward_plugin_open(gm_reward_ext **out, const char *path, size_t dim, gm_reward *rw) {
    *out = NULL;
    gm_reward_ext *e = gm_calloc(1, sizeof *e);
    if (!e) return GM_ENOMEM;
    e->dim = dim;
    e->line = gm_strdup(path);
    if (!e->line) {
        gm_reward_ext_free(e);
        return GM_ENOMEM;
    }
    e->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!e->dl) {
        const char *why = dlerror();
        int rc = gm_set_error(GM_EIO, "reward plugin '%s': %s", path, why ? why : "cannot load");
        gm_reward_ext_free(e);
        return rc;
    }
    /* POSIX dlsym returns void*; converting to a function pointer goes through a union to stay ISO C */
    union {
        void *p;
        reward_v1_fn f;
        int (*has)(void);
        int (*init)(size_t);
    } u;
    u.p = dlsym(e->dl, "genmix_reward_v1");
    if (!u.p) {
        int rc = gm_set_error(GM_EINVAL, "reward plugin '%s' does not export genmix_reward_v1", path);
        gm_reward_ext_free(e);
        return rc;
    }
    e->fn = u.f;
    int has_grad = 0;
    u.p = dlsym(e->dl, "genmix_reward_v1_has_grad");
    if (u.p) has_grad = u.has() != 0;
    u.p = dlsym(e->dl, "genmix_reward_v1_init");
    if (u.p && u.init(dim) != 0) {
        int rc = gm_set_error(GM_EINVAL, "reward plugin '%s' refused dimension %zu", path, dim);
        gm_reward_ext_free(e);
        return rc;
    }
    rw->dim = dim;
    rw->eval = plugin_eval;
    rw->has_grad = has_grad;
    rw->ctx = e;
    *out = e;
    return GM_OK;
}
