/* SPDX-License-Identifier: MIT */
/* prdiv_estimate.c — PR-curve estimators from samples (see genmix/prdiv.h): Simon et al.'s classifier
 * estimator (gm_seq MLP on the tape, Adam, `runs` classifiers combined by the median logit), a k-NN
 * density-ratio estimator (within-set radii from gm_knn_radii, cross-set k-th distances by tiled GEMM),
 * and Sajjadi's histogram PRD (gm_prd) read at arbitrary λ.
 * Owns nothing between calls. Thread safety: re-entrant; RNG streams are (GM_STREAM_EVAL, 5·2^32 + ...),
 * so results depend only on the inputs, the config and the seed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/eval.h"
#include "genmix/linalg.h"
#include "genmix/models.h"
#include "genmix/optim.h"
#include "genmix/prdiv.h"
#include "genmix/rng.h"
#include "genmix/tape.h"

gm_prcurve_config gm_prcurve_config_default(void) {
    gm_prcurve_config c;
    memset(&c, 0, sizeof c);
    c.runs = 10;
    c.epochs = 10;
    c.batch = 128;
    c.lr = 1e-3;
    c.weight_decay = 0.1;
    c.hidden = 0;
    c.bias = 1;
    c.k = 5;
    c.prd = gm_prd_config_default();
    c.seed = 0;
    return c;
}

static const char *est_names[3] = {"classifier", "knn", "hist"};
const char *gm_prcurve_estimator_name(gm_prcurve_estimator e) { return (unsigned)e < 3 ? est_names[e] : NULL; }
int gm_prcurve_estimator_from_name(const char *name) {
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, est_names[i])) return i;
    return -1;
}

/* ==== classifier (Simon et al. 2019) =============================================================== */

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Train one classifier on (Xtr, ytr) and write its logits on Xte into out. */
static int train_one(const float *Xtr, const float *ytr, size_t ntr, const float *Xte, size_t nte, size_t d,
                     const gm_prcurve_config *cfg, size_t run, double *out) {
    char spec[96];
    if (cfg->hidden)
        snprintf(spec, sizeof spec, "linear:%zu%s,relu,linear:1%s", cfg->hidden, cfg->bias ? "" : ":nobias",
                 cfg->bias ? "" : ":nobias");
    else
        snprintf(spec, sizeof spec, "linear:1%s", cfg->bias ? "" : ":nobias");
    int64_t in_shape[1] = {(int64_t)d};
    gm_seq *net = NULL;
    gm_tape *t = NULL;
    gm_optim opt;
    memset(&opt, 0, sizeof opt);
    size_t B = cfg->batch, *perm = gm_malloc(ntr * sizeof(size_t));
    float *xb = gm_malloc(B * d * sizeof(float)), *yb = gm_malloc(B * sizeof(float));
    int rc = GM_ENOMEM;
    if (!perm || !xb || !yb) goto done;
    if ((rc = gm_seq_create(&net, spec, 1, in_shape)) != GM_OK) goto done;
    gm_seq_init(net, cfg->seed * 1000003u + run);
    gm_optim_config oc = gm_optim_config_default();
    oc.kind = GM_OPT_ADAM;
    oc.weight_decay = (float)cfg->weight_decay;
    if ((rc = gm_optim_init(&opt, &oc, net->params.total)) != GM_OK) goto done;
    if ((rc = gm_tape_create(&t, 0)) != GM_OK) goto done;
    gm_rng rng;
    gm_rng_init(&rng, cfg->seed, gm_rng_stream_id(GM_STREAM_EVAL, ((uint64_t)5 << 32) + 1 + run));
    for (size_t ep = 0; ep < cfg->epochs; ep++) {
        gm_rng_permutation(&rng, perm, ntr);
        for (size_t b0 = 0; b0 < ntr; b0 += B) {
            size_t nb = ntr - b0 < B ? ntr - b0 : B;
            for (size_t i = 0; i < nb; i++) {
                memcpy(xb + i * d, Xtr + perm[b0 + i] * d, d * sizeof(float));
                yb[i] = ytr[perm[b0 + i]];
            }
            gm_var *x = gm_tape_input(t, xb, 2, (int64_t[]){(int64_t)nb, (int64_t)d}, 0);
            gm_var *y = gm_tape_input(t, yb, 2, (int64_t[]){(int64_t)nb, 1}, 0);
            gm_var *loss = gm_op_bce_logits(t, gm_seq_forward(net, t, x, -1, 0, NULL), y);
            if ((rc = gm_tape_status(t)) != GM_OK) goto done;
            gm_params_zero_grad(&net->params);
            if ((rc = gm_tape_backward(t, loss)) != GM_OK) goto done;
            gm_optim_step(&opt, net->params.val, net->params.grad, (float)cfg->lr);
            gm_tape_reset(t);
        }
    }
    gm_tape_no_grad(t, 1);
    for (size_t b0 = 0; b0 < nte; b0 += B) {
        size_t nb = nte - b0 < B ? nte - b0 : B;
        gm_var *x = gm_tape_input(t, (float *)(Xte + b0 * d), 2, (int64_t[]){(int64_t)nb, (int64_t)d}, 0);
        gm_var *lg = gm_seq_forward(net, t, x, -1, 0, NULL);
        if ((rc = gm_tape_status(t)) != GM_OK) goto done;
        for (size_t i = 0; i < nb; i++) out[b0 + i] = lg->val[i];
        gm_tape_reset(t);
    }
    rc = GM_OK;
done:
    gm_tape_free(t);
    gm_optim_free(&opt);
    gm_seq_free(net);
    gm_free(perm);
    gm_free(xb);
    gm_free(yb);
    return rc;
}

int gm_prcurve_classifier(const gm_feats *real, const gm_feats *fake, const gm_prcurve_config *cfg,
                          const double *lambdas, size_t n_lambda, double *alpha, double *beta) {
    int rc = gm_feats_check_pair(real, fake, 4, "PR curve (classifier)");
    if (rc || (rc = gm_prcurve_check_lambdas(lambdas, n_lambda))) return rc;
    if (cfg->runs < 1 || cfg->epochs < 1 || cfg->batch < 1 || !(cfg->lr > 0) || !(cfg->weight_decay >= 0))
        GM_FAIL(GM_EINVAL, "PR curve (classifier): runs, epochs, batch and lr must be positive");
    size_t d = real->d, N = real->n + fake->n;
    /* per-row coin flip: train or test */
    uint8_t *is_test = gm_malloc(N);
    double *mean = gm_calloc(d, sizeof(double)), *sd = gm_calloc(d, sizeof(double)), *row = gm_malloc(d * sizeof(double));
    float *Xtr = gm_malloc(N * d * sizeof(float)), *Xte = gm_malloc(N * d * sizeof(float));
    float *ytr = gm_malloc(N * sizeof(float));
    uint8_t *yte = gm_malloc(N);
    double *scores = gm_malloc(cfg->runs * N * sizeof(double)), *med = gm_malloc(cfg->runs * sizeof(double));
    double *s_real = gm_malloc(N * sizeof(double)), *s_fake = gm_malloc(N * sizeof(double));
    rc = GM_ENOMEM;
    if (!is_test || !mean || !sd || !row || !Xtr || !Xte || !ytr || !yte || !scores || !med || !s_real || !s_fake) goto done;
    gm_rng rng;
    gm_rng_init(&rng, cfg->seed, gm_rng_stream_id(GM_STREAM_EVAL, (uint64_t)5 << 32));
    for (size_t i = 0; i < N; i++) is_test[i] = (uint8_t)(gm_rng_u64(&rng) >> 63);
    /* standardise every feature by the pooled mean and standard deviation (fixed-order sums) */
    const gm_feats *sets[2] = {real, fake};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            gm_feats_rows_f64(sets[s], i, 1, row);
            for (size_t j = 0; j < d; j++) mean[j] += row[j];
        }
    for (size_t j = 0; j < d; j++) mean[j] /= (double)N;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            gm_feats_rows_f64(sets[s], i, 1, row);
            for (size_t j = 0; j < d; j++) sd[j] += (row[j] - mean[j]) * (row[j] - mean[j]);
        }
    for (size_t j = 0; j < d; j++) {
        sd[j] = sqrt(sd[j] / (double)N);
        if (!(sd[j] > 0)) sd[j] = 1;
    }
    size_t ntr = 0, nte = 0, nte_r = 0, nte_f = 0, ntr_r = 0, ntr_f = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            size_t g = s ? real->n + i : i;
            gm_feats_rows_f64(sets[s], i, 1, row);
            float *dst = is_test[g] ? Xte + nte * d : Xtr + ntr * d;
            for (size_t j = 0; j < d; j++) dst[j] = (float)((row[j] - mean[j]) / sd[j]);
            if (is_test[g]) {
                yte[nte++] = (uint8_t)(s == 0);
                s ? nte_f++ : nte_r++;
            } else {
                ytr[ntr++] = s == 0 ? 1.0f : 0.0f;
                s ? ntr_f++ : ntr_r++;
            }
        }
    if (!ntr_r || !ntr_f || !nte_r || !nte_f) {
        rc = gm_set_error(GM_EINVAL, "PR curve (classifier): too few rows for a train/test split");
        goto done;
    }
    for (size_t r = 0; r < cfg->runs; r++)
        if ((rc = train_one(Xtr, ytr, ntr, Xte, nte, d, cfg, r, scores + r * N)) != GM_OK) goto done;
    size_t a = 0, b = 0;
    for (size_t i = 0; i < nte; i++) {
        for (size_t r = 0; r < cfg->runs; r++) med[r] = scores[r * N + i];
        qsort(med, cfg->runs, sizeof(double), cmp_dbl);
        size_t R = cfg->runs;
        double m = R % 2 ? med[R / 2] : 0.5 * (med[R / 2 - 1] + med[R / 2]);
        if (yte[i]) s_real[a++] = m;
        else s_fake[b++] = m;
    }
    rc = gm_prcurve_from_scores(s_real, a, s_fake, b, lambdas, n_lambda, alpha, beta);
done:
    gm_free(is_test);
    gm_free(mean);
    gm_free(sd);
    gm_free(row);
    gm_free(Xtr);
    gm_free(Xte);
    gm_free(ytr);
    gm_free(yte);
    gm_free(scores);
    gm_free(med);
    gm_free(s_real);
    gm_free(s_fake);
    return rc;
}

/* ==== k-NN density ratio ============================================================================ */

#define KNN_TQ 256  /* query rows per tile */
#define KNN_TR 2048 /* reference rows per tile */

/* Squared distance from each query row to its k-th nearest reference row: out[i] (k <= ref->n). */
static int cross_kth(const gm_feats *qry, const gm_feats *ref, size_t k, double *out) {
    size_t d = qry->d, nq = qry->n, nr = ref->n;
    double *Q = gm_malloc(KNN_TQ * d * sizeof(double)), *R = gm_malloc(KNN_TR * d * sizeof(double));
    double *G = gm_malloc(KNN_TQ * KNN_TR * sizeof(double)), *rn = gm_malloc(nr * sizeof(double));
    double *qn = gm_malloc(nq * sizeof(double)), *top = gm_malloc(KNN_TQ * k * sizeof(double));
    int rc = GM_ENOMEM;
    if (!Q || !R || !G || !rn || !qn || !top) goto done;
    gm_feats_row_norms(ref, rn);
    gm_feats_row_norms(qry, qn);
    for (size_t q0 = 0; q0 < nq; q0 += KNN_TQ) {
        size_t mq = nq - q0 < KNN_TQ ? nq - q0 : KNN_TQ;
        gm_feats_rows_f64(qry, q0, mq, Q);
        for (size_t i = 0; i < mq * k; i++) top[i] = INFINITY;
        for (size_t r0 = 0; r0 < nr; r0 += KNN_TR) {
            size_t mr = nr - r0 < KNN_TR ? nr - r0 : KNN_TR;
            gm_feats_rows_f64(ref, r0, mr, R);
            gm_la_dgemm_nt(mq, mr, d, -2.0, Q, R, 0.0, G);
#pragma omp parallel for schedule(static)
            for (long i = 0; i < (long)mq; i++) {
                double *tp = top + (size_t)i * k; /* ascending */
                for (size_t j = 0; j < mr; j++) {
                    double v = qn[q0 + (size_t)i] + rn[r0 + j] + G[(size_t)i * mr + j];
                    if (v < 0) v = 0;
                    if (v >= tp[k - 1]) continue;
                    size_t p = k - 1;
                    while (p > 0 && tp[p - 1] > v) {
                        tp[p] = tp[p - 1];
                        p--;
                    }
                    tp[p] = v;
                }
            }
        }
        for (size_t i = 0; i < mq; i++) out[q0 + i] = top[i * k + k - 1];
    }
    rc = GM_OK;
done:
    gm_free(Q);
    gm_free(R);
    gm_free(G);
    gm_free(rn);
    gm_free(qn);
    gm_free(top);
    return rc;
}

int gm_prcurve_knn_logratio(const gm_feats *real, const gm_feats *fake, size_t k, double *lr_real, double *lr_fake) {
    int rc = gm_feats_check_pair(real, fake, 2, "PR curve (k-NN)");
    if (rc) return rc;
    size_t N = real->n, M = fake->n, d = real->d;
    if (k < 1 || k >= N || k >= M) GM_FAIL(GM_EINVAL, "PR curve (k-NN): k = %zu must be in 1..min(n_real, n_fake) - 1", k);
    double *rr = gm_malloc(N * k * sizeof(double)), *rf = gm_malloc(M * k * sizeof(double));
    double *cr = gm_malloc(N * sizeof(double)), *cf = gm_malloc(M * sizeof(double));
    rc = GM_ENOMEM;
    if (!rr || !rf || !cr || !cf) goto done;
    if ((rc = gm_knn_radii(real, k, 1024, 0, rr)) || (rc = gm_knn_radii(fake, k, 1024, 0, rf))) goto done;
    if ((rc = cross_kth(real, fake, k, cr)) || (rc = cross_kth(fake, real, k, cf))) goto done;
    const double tiny = 1e-300, hd = 0.5 * (double)d;
    for (size_t i = 0; i < N; i++) /* r = M ρ_Q^d / ((N-1) ρ_P^d) */
        lr_real[i] = log((double)M / (double)(N - 1)) + hd * (log(fmax(cr[i], tiny)) - log(fmax(rr[i * k + k - 1], tiny)));
    for (size_t j = 0; j < M; j++) /* r = (M-1) ρ_Q^d / (N ρ_P^d) */
        lr_fake[j] = log((double)(M - 1) / (double)N) + hd * (log(fmax(rf[j * k + k - 1], tiny)) - log(fmax(cf[j], tiny)));
    rc = GM_OK;
done:
    gm_free(rr);
    gm_free(rf);
    gm_free(cr);
    gm_free(cf);
    return rc;
}

int gm_prcurve_knn(const gm_feats *real, const gm_feats *fake, size_t k, const double *lambdas, size_t n_lambda,
                   double *alpha, double *beta) {
    int rc = gm_prcurve_check_lambdas(lambdas, n_lambda);
    if (rc || (rc = gm_feats_check_pair(real, fake, 2, "PR curve (k-NN)"))) return rc;
    double *lr = gm_malloc(real->n * sizeof(double)), *lf = gm_malloc(fake->n * sizeof(double));
    rc = GM_ENOMEM;
    if (lr && lf && !(rc = gm_prcurve_knn_logratio(real, fake, k, lr, lf)))
        rc = gm_prcurve_from_logratio(lr, real->n, lf, fake->n, lambdas, n_lambda, alpha, beta, NULL, NULL);
    /* the estimated ratio is not normalised: keep the curve inside its bounds α <= min(λ, 1) */
    for (size_t l = 0; !rc && l < n_lambda; l++)
        if (alpha && alpha[l] > fmin(lambdas[l], 1.0)) {
            alpha[l] = fmin(lambdas[l], 1.0);
            if (beta) beta[l] = alpha[l] / lambdas[l];
        }
    gm_free(lr);
    gm_free(lf);
    return rc;
}

/* ==== histogram PRD (Sajjadi et al. 2018) via gm_prd ================================================ */

int gm_prcurve_hist(const gm_feats *real, const gm_feats *fake, const gm_prd_config *prd, const double *lambdas,
                    size_t n_lambda, double *alpha, double *beta) {
    int rc = gm_prcurve_check_lambdas(lambdas, n_lambda);
    if (rc) return rc;
    size_t A = prd->num_angles;
    if (A < 3) GM_FAIL(GM_EINVAL, "PR curve (hist): num_angles must be >= 3");
    double *pc = gm_malloc(A * sizeof(double)), *rcv = gm_malloc(A * sizeof(double));
    rc = GM_ENOMEM;
    if (!pc || !rcv) goto done;
    if ((rc = gm_prd(real, fake, prd, pc, rcv, NULL, NULL))) goto done;
    /* the angle grid of gm_prd_from_histograms */
    const double eps = 1e-10, a0 = eps, a1 = 1.5707963267948966 - eps;
    for (size_t l = 0; l < n_lambda; l++) {
        double lam = lambdas[l], u = (atan(lam) - a0) / (a1 - a0) * (double)(A - 1), a;
        if (u <= 0) {
            a = pc[0] * lam / tan(a0); /* below the first slope: α is linear in λ (β constant) */
        } else if (u >= (double)(A - 1)) {
            a = pc[A - 1];
        } else {
            size_t i = (size_t)u;
            if (i >= A - 1) i = A - 2;
            double l0 = tan(a0 + (a1 - a0) * (double)i / (double)(A - 1));
            double l1 = tan(a0 + (a1 - a0) * (double)(i + 1) / (double)(A - 1));
            double w = (lam - l0) / (l1 - l0);
            a = pc[i] + w * (pc[i + 1] - pc[i]);
        }
        if (a > fmin(lam, 1.0)) a = fmin(lam, 1.0);
        if (alpha) alpha[l] = a;
        if (beta) beta[l] = a / lam;
    }
    rc = GM_OK;
done:
    gm_free(pc);
    gm_free(rcv);
    return rc;
}

int gm_prcurve_estimate(const gm_feats *real, const gm_feats *fake, gm_prcurve_estimator est,
                        const gm_prcurve_config *cfg, const double *lambdas, size_t n_lambda, double *alpha,
                        double *beta) {
    switch (est) {
    case GM_PRCURVE_CLASSIFIER: return gm_prcurve_classifier(real, fake, cfg, lambdas, n_lambda, alpha, beta);
    case GM_PRCURVE_KNN: return gm_prcurve_knn(real, fake, cfg->k, lambdas, n_lambda, alpha, beta);
    case GM_PRCURVE_HIST: return gm_prcurve_hist(real, fake, &cfg->prd, lambdas, n_lambda, alpha, beta);
    default: GM_FAIL(GM_EINVAL, "PR curve: unknown estimator %d", (int)est);
    }
}
