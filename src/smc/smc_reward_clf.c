/* SPDX-License-Identifier: MIT */
/* smc_reward_clf.c — the classifier reward of spec das.md §8: r(x) = log sum_{c in S} p(c | x) for a set S
 * of Fashion-MNIST classes, with p from genmix's CNN classifier applied to the image (x + 1)/2 (diffusion
 * space [-1, 1] -> classifier space [0, 1]), and its input gradient through the network:
 *     r = LSE_{c in S}(z) - LSE_c(z),   dr/dz_c = q_c 1[c in S] - p_c,   q = softmax restricted to S,
 *     dr/dx = (1/2) J_z(x)^T dr/dz    (one tape backward from the logits).
 * Also the ten log-probabilities without gradient (gm_reward_clf_log_probs), with which `genmix align
 * --eval-clf` scores samples by an independent classifier.
 * Owns: the loaded gm_clf (network and tape). Thread safety: one reward per thread (the tape is reused). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/classifier.h"
#include "genmix/das.h"

struct gm_reward_clf {
    gm_clf *clf;
    int in_set[10];
    float *xb; /* chunk x 784 */
    float *dz; /* chunk x 10 */
};

#define CLF_CHUNK 128

static const char *const fm_names[10] = {"tshirt", "trouser", "pullover", "dress", "coat",
                                         "sandal", "shirt",   "sneaker",  "bag",   "boot"};

/* class name (case-insensitive, letters only: "T-shirt/top" -> "tshirttop"; "Ankle boot" -> "ankleboot")
 * or index 0..9; -1 if unknown */
static int class_index(const char *s, size_t len) {
    char b[32];
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < sizeof b; i++)
        if (isalnum((unsigned char)s[i])) b[k++] = (char)tolower((unsigned char)s[i]);
    b[k] = 0;
    if (k == 1 && b[0] >= '0' && b[0] <= '9') return b[0] - '0';
    if (!strcmp(b, "tshirttop") || !strcmp(b, "top")) return 0;
    if (!strcmp(b, "ankleboot")) return 9;
    for (int c = 0; c < 10; c++)
        if (!strcmp(b, fm_names[c])) return c;
    return -1;
}

/* Logits z (bs x 10) of the rows x[0..bs) (at most CLF_CHUNK) mapped to [0, 1], recorded on the tape
 * with an input gradient slot if want_grad; *xv is the input variable. */
static int clf_logits(gm_reward_clf *R, const float *x, size_t bs, int want_grad, gm_var **xv, gm_var **z) {
    gm_tape *t = R->clf->tape;
    for (size_t i = 0; i < bs * 784; i++) R->xb[i] = 0.5f * (x[i] + 1.0f);
    gm_tape_reset(t);
    int prev = gm_tape_no_grad(t, !want_grad);
    int64_t xs[4] = {(int64_t)bs, 1, 28, 28};
    *xv = gm_tape_input(t, R->xb, 4, xs, want_grad);
    *z = gm_seq_forward_frozen(R->clf->net, t, *xv, -1, 0, NULL);
    gm_tape_no_grad(t, prev);
    return gm_tape_status(t);
}

static int clf_eval(void *ctx, const float *x, size_t n, double *r, float *grad) {
    gm_reward_clf *R = ctx;
    gm_tape *t = R->clf->tape;
    int rc = GM_OK;
    for (size_t s0 = 0; s0 < n && rc == GM_OK; s0 += CLF_CHUNK) {
        size_t bs = n - s0 < CLF_CHUNK ? n - s0 : CLF_CHUNK;
        gm_var *xv, *z;
        if ((rc = clf_logits(R, x + s0 * 784, bs, grad != NULL, &xv, &z)) != GM_OK) break;
        for (size_t i = 0; i < bs; i++) {
            const float *zi = z->val + i * 10;
            double mx = -HUGE_VAL, ms = -HUGE_VAL;
            for (int c = 0; c < 10; c++) {
                mx = fmax(mx, (double)zi[c]);
                if (R->in_set[c]) ms = fmax(ms, (double)zi[c]);
            }
            double sa = 0, ss = 0;
            for (int c = 0; c < 10; c++) {
                sa += exp((double)zi[c] - mx);
                if (R->in_set[c]) ss += exp((double)zi[c] - ms);
            }
            double la = mx + log(sa), ls = ms + log(ss);
            r[s0 + i] = ls - la; /* non-finite logits give a non-finite reward: the particle dies */
            if (grad)
                for (int c = 0; c < 10; c++)
                    R->dz[i * 10 + (size_t)c] = (float)((R->in_set[c] ? exp((double)zi[c] - ls) : 0.0) - exp((double)zi[c] - la));
        }
        if (!grad) continue;
        rc = gm_tape_backward_from(t, z, R->dz);
        if (rc == GM_OK)
            for (size_t i = 0; i < bs * 784; i++) grad[s0 * 784 + i] = 0.5f * xv->grad[i];
    }
    gm_tape_reset(t);
    return rc;
}

int gm_reward_clf_open(gm_reward_clf **out, const char *path, const char *classes, size_t dim, gm_reward *rw) {
    *out = NULL;
    if (dim != 784) GM_FAIL(GM_EINVAL, "classifier reward: the model's dimension is %zu, not 784 (28x28 images)", dim);
    int in_set[10] = {0}, cnt = 0;
    for (const char *p = classes; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int c = class_index(p, len);
        if (c < 0)
            GM_FAIL(GM_EINVAL, "classifier reward: unknown class '%.*s' (0..9 or tshirt, trouser, pullover, dress, coat, "
                    "sandal, shirt, sneaker, bag, boot)", (int)len, p);
        cnt += !in_set[c];
        in_set[c] = 1;
        p = e ? e + 1 : p + len;
    }
    if (cnt == 0) GM_FAIL(GM_EINVAL, "classifier reward: no classes given in '%s'", classes);
    gm_reward_clf *R = gm_calloc(1, sizeof *R);
    if (!R) return GM_ENOMEM;
    memcpy(R->in_set, in_set, sizeof in_set);
    int rc = gm_clf_load(&R->clf, path);
    if (rc == GM_OK && gm_seq_out_size(R->clf->net, -1) != 10)
        rc = gm_set_error(GM_EFORMAT, "%s: the classifier has %zu outputs, not 10", path, gm_seq_out_size(R->clf->net, -1));
    if (rc == GM_OK) {
        R->xb = gm_malloc(CLF_CHUNK * 784 * sizeof(float));
        R->dz = gm_malloc(CLF_CHUNK * 10 * sizeof(float));
        if (!R->xb || !R->dz) rc = GM_ENOMEM;
    }
    if (rc != GM_OK) {
        gm_reward_clf_free(R);
        return rc;
    }
    rw->dim = 784;
    rw->eval = clf_eval;
    rw->has_grad = 1;
    rw->ctx = R;
    *out = R;
    return GM_OK;
}

int gm_reward_clf_parse(gm_reward_clf **out, const char *spec, size_t dim, gm_reward *rw) {
    *out = NULL;
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec) GM_FAIL(GM_EINVAL, "classifier reward '%s': expected CLF.safetensors:CLASSES", spec);
    size_t pl = (size_t)(colon - spec);
    char *path = gm_malloc(pl + 1);
    if (!path) return GM_ENOMEM;
    memcpy(path, spec, pl);
    path[pl] = 0;
    int rc = gm_reward_clf_open(out, path, colon + 1, dim, rw);
    gm_free(path);
    return rc;
}

/* log p(c | (x+1)/2) for the 10 classes (n x 10, row-wise log-softmax of the logits in double). */
int gm_reward_clf_log_probs(gm_reward_clf *R, const float *x, size_t n, double *logp) {
    int rc = GM_OK;
    for (size_t s0 = 0; s0 < n && rc == GM_OK; s0 += CLF_CHUNK) {
        size_t bs = n - s0 < CLF_CHUNK ? n - s0 : CLF_CHUNK;
        gm_var *xv, *z;
        if ((rc = clf_logits(R, x + s0 * 784, bs, 0, &xv, &z)) != GM_OK) break;
        for (size_t i = 0; i < bs; i++) {
            const float *zi = z->val + i * 10;
            double mx = -HUGE_VAL, sa = 0.0;
            for (int c = 0; c < 10; c++) mx = fmax(mx, (double)zi[c]);
            for (int c = 0; c < 10; c++) sa += exp((double)zi[c] - mx);
            for (int c = 0; c < 10; c++) logp[(s0 + i) * 10 + (size_t)c] = (double)zi[c] - mx - log(sa);
        }
    }
    gm_tape_reset(R->clf->tape);
    return rc;
}

void gm_reward_clf_classes(const gm_reward_clf *R, int in_set[10]) { memcpy(in_set, R->in_set, sizeof R->in_set); }

void gm_reward_clf_free(gm_reward_clf *R) {
    if (!R) return;
    gm_clf_free(R->clf);
    gm_free(R->xb);
    gm_free(R->dz);
    gm_free(R);
}
