/* SPDX-License-Identifier: MIT */
/* mix_bandit.c — the Mixture-UCB bandit state machine (gm_mix: create / select / update / push_ahead /
 * free): the sample store, the online kernel sums S and F, the look-ahead queues, the CAB/OGD/UCB/SH/
 * uniform/oracle/greedy/best1 selection rules.
 * Owns: a gm_mix's sample store (T x d floats, squared norms, arm labels), kernel sums S (m x m) and F (m),
 * the per-arm look-ahead queues and their kernel rows. Thread safety: one gm_mix per thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/mix.h"
#include "genmix/rng.h"
#include "mix_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ==== bandit ===================================================================================== */


int gm_mix_create(gm_mix **out, const gm_mix_config *cfg, const gm_mix_ref *ref) {
    GM_ASSERT(out != NULL && cfg != NULL);
    *out = NULL;
    int rc = gm_mix_config_check(cfg);
    if (rc) return rc;
    if (ref && ref->d != cfg->d)
        GM_FAIL(GM_ESHAPE, "mixing: reference set has dimension %zu, arms have %zu", ref->d, cfg->d);
    if (ref && (cfg->lin & ~ref->lin)) GM_FAIL(GM_EINVAL, "mixing: the reference set was created without k-NN radii");
    gm_mix *b = gm_calloc(1, sizeof *b);
    if (!b) return GM_ENOMEM;
    b->cfg = *cfg;
    b->ref = ref;
    b->m = cfg->m;
    b->d = cfg->d;
    b->T = cfg->T;
    b->B = cfg->lookahead;
    if (cfg->quad == GM_MIX_QUAD_RKE) {
        b->k.type = GM__MIX_KT_GAUSS;
        b->k.g = 1.0 / (cfg->sigma * cfg->sigma);
        b->k.invd = 1.0 / (double)cfg->d;
    } else if (cfg->quad == GM_MIX_QUAD_KID || cfg->quad == GM_MIX_QUAD_MMD) {
        b->k = gm__mix_kernel_of(cfg->kernel, cfg->sigma, cfg->d);
    } else {
        b->k.type = GM__MIX_KT_NONE;
    }
    size_t m = b->m, B = b->B, T = b->T, d = b->d;
    size_t nd = T;
    if (B * m > nd) nd = B * m;
    if (ref && ref->n > nd) nd = ref->n;
    b->X = gm_malloc(T * d * sizeof *b->X);
    b->sq = gm_malloc(T * sizeof *b->sq);
    b->lab = gm_malloc(T);
    b->dots = gm_malloc(nd * sizeof *b->dots);
    if (B) {
        b->Qx = gm_malloc(m * B * d * sizeof *b->Qx);
        b->Qsq = gm_malloc(m * B * sizeof *b->Qsq);
        b->Qf = gm_malloc(m * B * sizeof *b->Qf);
        b->QR = gm_malloc(m * B * m * sizeof *b->QR);
        b->tile = gm_malloc(B * T * sizeof *b->tile);
    }
    b->part = gm_malloc(((T + GM__MIX_KBA - 1) / GM__MIX_KBA) * (B ? B : 1) * m * sizeof *b->part); /* GM__MIX_KBA <= GM__MIX_KB */
    if (!b->X || !b->sq || !b->lab || !b->dots || !b->part || (B && (!b->Qx || !b->Qsq || !b->Qf || !b->QR || !b->tile))) {
        gm_mix_free(b);
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < m; i++) b->alpha[i] = 1.0 / (double)m;
    if (cfg->algo == GM_MIX_ORACLE) {
        double s = 0.0;
        for (size_t i = 0; i < m; i++) s += cfg->oracle_alpha[i];
        for (size_t i = 0; i < m; i++) b->cfg.oracle_alpha[i] = cfg->oracle_alpha[i] / s;
    }
    gm_rng_init(&b->rng, cfg->seed, gm_rng_stream_id(GM_STREAM_ARM, (cfg->run << 16) | 0xffffu));
    *out = b;
    return GM_OK;
}

void gm_mix_free(gm_mix *b) {
    if (!b) return;
    gm_free(b->X);
    gm_free(b->sq);
    gm_free(b->lab);
    gm_free(b->dots);
    gm_free(b->Qx);
    gm_free(b->Qsq);
    gm_free(b->Qf);
    gm_free(b->QR);
    gm_free(b->tile);
    gm_free(b->part);
    gm_free(b);
}

int gm_mix_done(const gm_mix *b) {
    GM_ASSERT(b != NULL);
    return b->t >= b->T;
}
size_t gm_mix_count(const gm_mix *b) {
    GM_ASSERT(b != NULL);
    return b->t;
}
const size_t *gm_mix_counts(const gm_mix *b) {
    GM_ASSERT(b != NULL);
    return b->n;
}
const double *gm_mix_alpha(const gm_mix *b) {
    GM_ASSERT(b != NULL);
    return b->alpha;
}
size_t gm_mix_queued(const gm_mix *b, size_t arm) {
    GM_ASSERT(b != NULL);
    return arm < b->m ? b->qcnt[arm] - b->qpos[arm] : 0;
}

void gm_mix_estimates(const gm_mix *b, double *K, double *f) {
    GM_ASSERT(b != NULL);
    size_t m = b->m;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < m; j++) {
            double den = (double)b->n[i] * (double)b->n[j];
            if (K) K[i * m + j] = den > 0.0 ? b->S[i * m + j] / den : 0.0;
        }
        if (f) f[i] = b->n[i] ? b->F[i] / (double)b->n[i] : 0.0;
    }
}

double gm_mix_objective(const gm_mix *b) {
    GM_ASSERT(b != NULL);
    if (b->t == 0) return NAN;
    double s = 0.0, f = 0.0, t = (double)b->t;
    for (size_t i = 0; i < b->m * b->m; i++) s += b->S[i];
    for (size_t i = 0; i < b->m; i++) f += b->F[i];
    double v = s / (t * t) + f / t;
    if ((b->cfg.quad == GM_MIX_QUAD_KID || b->cfg.quad == GM_MIX_QUAD_MMD) && b->ref) v += b->ref->self;
    return v;
}

double gm_mix_score(const gm_mix *b) {
    GM_ASSERT(b != NULL);
    return gm_mix_score_of(b->cfg.quad, b->cfg.lin, gm_mix_objective(b));
}

static size_t argmin(const double *v, size_t m, const unsigned char *mask) {
    size_t best = m;
    for (size_t i = 0; i < m; i++) {
        if (mask && !mask[i]) continue;
        if (best == m || v[i] < v[best]) best = i;
    }
    return best;
}

static void sh_step(gm_mix *b, const double *Kh, const double *fh, size_t warm) {
    size_t m = b->m;
    if (!b->sh_init) {
        b->sh_init = 1;
        for (size_t i = 0; i < m; i++) b->alive[i] = 1;
        size_t p = 0;
        while (((size_t)1 << p) < m) p++;
        b->sh_phases = p;
        b->sh_len = (b->T - warm) / (p + 1);
        if (b->sh_len < 1) b->sh_len = 1;
        b->sh_end = warm + b->sh_len;
    }
    if (b->t >= b->sh_end && b->sh_phase < b->sh_phases) {
        size_t alive = 0;
        for (size_t i = 0; i < m; i++) alive += b->alive[i];
        size_t keep = (alive + 1) / 2;
        double sc[GM_MIX_MAX_ARMS];
        unsigned char nxt[GM_MIX_MAX_ARMS] = {0};
        for (size_t i = 0; i < m; i++) sc[i] = Kh[i * m + i] + fh[i];
        for (size_t r = 0; r < keep; r++) {
            size_t a = argmin(sc, m, b->alive);
            nxt[a] = 1;
            b->alive[a] = 0;
        }
        memcpy(b->alive, nxt, m);
        b->sh_phase++;
        b->sh_end = b->sh_phase == b->sh_phases ? b->T : b->sh_end + b->sh_len;
        b->sh_rr = 0;
    }
}

int gm_mix_select(gm_mix *b, size_t *arm) {
    GM_ASSERT(b != NULL && arm != NULL);
    if (b->t >= b->T) GM_FAIL(GM_EINVAL, "mixing: all %zu rounds are done", b->T);
    const gm_mix_config *c = &b->cfg;
    size_t m = b->m;
    if (c->algo == GM_MIX_BEST1) {
        *arm = c->oracle_arm;
        return GM_OK;
    }
    if (c->algo == GM_MIX_ORACLE) {
        *arm = gm_rng_categorical(&b->rng, c->oracle_alpha, m);
        return GM_OK;
    }
    size_t warm = c->n0 * m;
    if (b->t < warm || m == 1) {
        *arm = b->t % m;
        return GM_OK;
    }
    if (c->algo == GM_MIX_UNIFORM) {
        *arm = (size_t)gm_rng_below(&b->rng, m);
        return GM_OK;
    }
    double Kh[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS], fh[GM_MIX_MAX_ARMS], eps[GM_MIX_MAX_ARMS];
    gm_mix_estimates(b, Kh, fh);
    double lnt = log((double)b->t);
    for (size_t i = 0; i < m; i++) {
        double ni = (double)b->n[i];
        if (c->algo == GM_MIX_UCB) /* the official code keeps the 2 here, also in compat mode */
            eps[i] = c->delta_L * sqrt(c->beta * lnt / (2.0 * ni));
        else if (c->code_compat)
            eps[i] = c->delta_L * sqrt(c->beta * lnt / ni);
        else
            eps[i] = c->delta_L * sqrt(c->beta * lnt / (2.0 * ni)) + c->delta_kappa / ni;
        if (c->lin) eps[i] += c->lambda * c->delta_G / ni;
        if (c->algo == GM_MIX_GREEDY) eps[i] = 0.0;
    }
    switch (c->algo) {
    case GM_MIX_CAB:
    case GM_MIX_GREEDY: {
        double cc[GM_MIX_MAX_ARMS] = {0}, a[GM_MIX_MAX_ARMS];
        for (size_t i = 0; i < m; i++) {
            Kh[i * m + i] += c->ridge;
            cc[i] = fh[i] - eps[i];
        }
        if (!gm_mix_qp_try_support(Kh, cc, m, b->qp_mask, a)) {
            int rc = gm_mix_qp(Kh, cc, m, a, NULL);
            if (rc) return rc;
        }
        b->qp_mask = 0;
        for (size_t i = 0; i < m; i++)
            if (a[i] > 0.0) b->qp_mask |= 1UL << i;
        double s = 0.0;
        for (size_t i = 0; i < m; i++) {
            if (!(a[i] > 0.0)) a[i] = 0.0;
            s += a[i];
        }
        if (!(s > 0.0)) GM_FAIL(GM_ENUMERIC, "mixing: QP returned no weight");
        for (size_t i = 0; i < m; i++) b->alpha[i] = a[i] / s;
        *arm = gm_rng_categorical(&b->rng, b->alpha, m);
        return GM_OK;
    }
    case GM_MIX_OGD: {
        double h[GM_MIX_MAX_ARMS], t = (double)b->t;
        for (size_t i = 0; i < m; i++) {
            double g = c->ridge * (double)b->n[i];
            for (size_t j = 0; j < m; j++) g += Kh[i * m + j] * (double)b->n[j];
            h[i] = 2.0 / t * g + fh[i] - eps[i];
        }
        *arm = argmin(h, m, NULL);
        return GM_OK;
    }
    case GM_MIX_UCB: {
        double h[GM_MIX_MAX_ARMS];
        for (size_t i = 0; i < m; i++) h[i] = Kh[i * m + i] + fh[i] - eps[i];
        *arm = argmin(h, m, NULL);
        return GM_OK;
    }
    case GM_MIX_SH: {
        sh_step(b, Kh, fh, warm);
        size_t alive = 0, idx[GM_MIX_MAX_ARMS];
        for (size_t i = 0; i < m; i++)
            if (b->alive[i]) idx[alive++] = i;
        *arm = idx[b->sh_rr++ % alive];
        return GM_OK;
    }
    default:
        GM_FAIL(GM_EINVAL, "mixing: bad algorithm");
    }
}

/* Terms of a single row from the reference (uses b->dots; no allocation). */
static int terms_from_ref(gm_mix *b, const float *x, double sqx, double *t) {
    if (!b->ref) GM_FAIL(GM_EINVAL, "mixing: this score needs a reference set (or per-sample terms)");
    gm__mix_dots(b->ref->Y, b->ref->n, b->d, x, b->dots);
    gm__mix_ref_terms_row(b->ref, b->dots, sqx, t);
    return GM_OK;
}

int gm_mix_update(gm_mix *b, size_t arm, const float *x, const double *terms) {
    GM_ASSERT(b != NULL); /* x == NULL: the next queued sample */
    size_t m = b->m, d = b->d, B = b->B;
    if (arm >= m) GM_FAIL(GM_EINVAL, "mixing: arm %zu out of range (m = %zu)", arm, m);
    if (b->t >= b->T) GM_FAIL(GM_EINVAL, "mixing: the store is full (T = %zu samples)", b->T);
    int quad = b->k.type != GM__MIX_KT_NONE;
    double s[GM_MIX_MAX_ARMS] = {0};
    const float *xv;
    double sqx, fv = 0.0;
    size_t skip_row = (size_t)-1;
    if (!x) {
        if (b->qpos[arm] >= b->qcnt[arm]) GM_FAIL(GM_EINVAL, "mixing: no queued sample for arm %zu", arm);
        size_t r = arm * B + b->qpos[arm]++;
        xv = b->Qx + r * d;
        sqx = b->Qsq[r];
        fv = b->Qf[r];
        if (quad) memcpy(s, b->QR + r * m, m * sizeof *s);
        skip_row = r;
    } else {
        if (!gm__mix_row_finite(x, d)) GM_FAIL(GM_ENUMERIC, "mixing: sample of arm %zu has a NaN or Inf", arm);
        xv = x;
        sqx = gm__mix_sqnorm(x, d);
        if (gm__mix_needs_terms(&b->cfg)) {
            double tv[GM_MIX_NTERMS];
            if (terms) {
                memcpy(tv, terms, sizeof tv);
            } else {
                int rc = terms_from_ref(b, x, sqx, tv);
                if (rc) return rc;
            }
            fv = gm__mix_fval_of(&b->cfg, tv);
        }
        if (quad && b->t > 0) {
            /* one GEMV per fixed block of GM__MIX_KB stored samples, partial sums added in block order */
            size_t t = b->t, nblk = (t + GM__MIX_KB - 1) / GM__MIX_KB;
            for (size_t k = 0; k < nblk; k++) {
                size_t i0 = k * GM__MIX_KB, ni = t - i0 < GM__MIX_KB ? t - i0 : GM__MIX_KB;
                double *P = b->part + k * m;
                for (size_t j = 0; j < m; j++) P[j] = 0.0;
                gm__mix_dots(b->X + i0 * d, ni, d, xv, b->dots + i0);
                gm__mix_krow(&b->k, b->dots + i0, b->sq + i0, sqx, ni);
                gm__mix_acc_arms(b->dots + i0, b->lab + i0, ni, m, P);
            }
            for (size_t k = 0; k < nblk; k++)
                for (size_t j = 0; j < m; j++) s[j] += b->part[k * m + j];
        }
    }
    if (quad) {
        /* the new sample enters the kernel rows of every queued (future) sample */
        for (size_t a = 0; a < m && B; a++) {
            size_t r0 = a * B + b->qpos[a], r1 = a * B + b->qcnt[a];
            if (r1 <= r0) continue;
            gm__mix_dots(b->Qx + r0 * d, r1 - r0, d, xv, b->dots);
            gm__mix_krow(&b->k, b->dots, b->Qsq + r0, sqx, r1 - r0);
            for (size_t r = r0; r < r1; r++)
                if (r != skip_row) b->QR[r * m + arm] += (double)b->dots[r - r0];
        }
        double kxx = gm__mix_kself(&b->k, sqx);
        for (size_t j = 0; j < m; j++) {
            if (j == arm) {
                b->S[arm * m + arm] += 2.0 * s[arm] + (b->cfg.code_compat ? 2.0 : 1.0) * kxx;
            } else {
                b->S[arm * m + j] += s[j];
                b->S[j * m + arm] += s[j];
            }
        }
    }
    b->F[arm] += fv;
    memmove(b->X + b->t * d, xv, d * sizeof *xv);
    b->sq[b->t] = sqx;
    b->lab[b->t] = (unsigned char)arm;
    b->n[arm]++;
    b->t++;
    return GM_OK;
}

int gm_mix_push_ahead(gm_mix *b, size_t arm, const float *x, size_t n, const double *terms) {
    GM_ASSERT(b != NULL && (x != NULL || n == 0));
    size_t m = b->m, d = b->d, B = b->B;
    if (arm >= m) GM_FAIL(GM_EINVAL, "mixing: arm %zu out of range (m = %zu)", arm, m);
    if (n > B) GM_FAIL(GM_EINVAL, "mixing: %zu samples exceed the look-ahead capacity %zu", n, B);
    if (b->qpos[arm] < b->qcnt[arm]) GM_FAIL(GM_EINVAL, "mixing: arm %zu still has queued samples", arm);
    for (size_t r = 0; r < n; r++)
        if (!gm__mix_row_finite(x + r * d, d)) GM_FAIL(GM_ENUMERIC, "mixing: queued sample %zu of arm %zu has a NaN or Inf", r, arm);
    float *Q = b->Qx + arm * B * d;
    memcpy(Q, x, n * d * sizeof *x);
    for (size_t r = 0; r < n; r++) {
        size_t row = arm * B + r;
        b->Qsq[row] = gm__mix_sqnorm(Q + r * d, d);
        b->Qf[row] = 0.0;
        if (gm__mix_needs_terms(&b->cfg)) {
            double tv[GM_MIX_NTERMS];
            if (terms) {
                memcpy(tv, terms + r * GM_MIX_NTERMS, sizeof tv);
            } else {
                int rc = terms_from_ref(b, Q + r * d, b->Qsq[row], tv);
                if (rc) return rc;
            }
            b->Qf[row] = gm__mix_fval_of(&b->cfg, tv);
        }
        double *R = b->QR + row * m;
        for (size_t j = 0; j < m; j++) R[j] = 0.0;
    }
    if (b->k.type != GM__MIX_KT_NONE && b->t > 0 && n > 0) {
        /* one SGEMM per fixed block of GM__MIX_KBA stored samples (columns i0.. of the n x T tile), per-block
         * partial sums added in block order, so the result does not depend on which thread ran a block.
         * The blocks are OpenMP tasks: gm_mix_simulate calls this inside its replication loop's parallel
         * region, where a thread without a replication of its own (e.g. one run on 2 threads) waits at the
         * loop's barrier and runs tasks, and OpenBLAS stays single-threaded. (A nested `parallel for` here
         * would run serially inside that region; outside any region the tasks run on the calling thread.) */
        size_t t = b->T, nblk = (b->t + GM__MIX_KBA - 1) / GM__MIX_KBA;
        for (size_t k = 0; k < nblk; k++) {
#pragma omp task default(shared) firstprivate(k) if (nblk > 1)
            {
                size_t i0 = k * GM__MIX_KBA, ni = b->t - i0 < GM__MIX_KBA ? b->t - i0 : GM__MIX_KBA;
                gm__mix_dots_tile(Q, n, b->X + i0 * d, ni, d, b->tile + i0, t);
                for (size_t r = 0; r < n; r++) {
                    double *P = b->part + (k * B + r) * m;
                    for (size_t j = 0; j < m; j++) P[j] = 0.0;
                    float *tr = b->tile + r * t + i0;
                    gm__mix_krow(&b->k, tr, b->sq + i0, b->Qsq[arm * B + r], ni);
                    gm__mix_acc_arms(tr, b->lab + i0, ni, m, P);
                }
            }
        }
#pragma omp taskwait
        for (size_t r = 0; r < n; r++) {
            double *R = b->QR + (arm * B + r) * m;
            for (size_t k = 0; k < nblk; k++)
                for (size_t j = 0; j < m; j++) R[j] += b->part[(k * B + r) * m + j];
        }
    }
    b->qpos[arm] = 0;
    b->qcnt[arm] = n;
    return GM_OK;
}
