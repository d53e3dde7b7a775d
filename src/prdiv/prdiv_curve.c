/* SPDX-License-Identifier: MIT */
/* prdiv_curve.c — exact precision–recall curves and PR-divergences (spec §1.2–1.4): discrete and gridded
 * densities, two 1-D Gaussians in closed form, curves from log density ratios or classifier scores, f
 * and its mixture weights, and the mixture identity D_f = ∫ w_f(λ) D_λ dλ by Simpson's rule in log λ.
 * Owns nothing. Thread safety: re-entrant; every reduction runs in index order.
 *
 * module: prdiv (src/prdiv/) owns the precision-recall divergence: exact and estimated PR curves, the
 * PR/chi2/f-GAN losses, the GAN trainer state machine and RealNVP flows (genmix/prdiv.h). A method: it
 * uses core, io, linalg, nn and eval. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genmix/prdiv.h"

#define SQRT2 1.41421356237309504880

double gm_prdiv_f(double lambda, double u) { return fmax(lambda * u, 1.0) - fmax(lambda, 1.0); }

double gm_prdiv_from_alpha(double lambda, double alpha) { return fmin(lambda, 1.0) - alpha; }

int gm_prcurve_check_lambdas(const double *lambdas, size_t n_lambda) {
    if (n_lambda == 0 || !lambdas) GM_FAIL(GM_EINVAL, "PR curve: empty lambda grid");
    for (size_t i = 0; i < n_lambda; i++)
        if (!(lambdas[i] > 0) || !isfinite(lambdas[i]))
            GM_FAIL(GM_EINVAL, "PR curve: lambda[%zu] = %g must be finite and > 0", i, lambdas[i]);
    return GM_OK;
}

static int check_density(const double *p, size_t n, const char *what) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0) || !isfinite(p[i])) GM_FAIL(GM_EINVAL, "PR curve: %s[%zu] = %g is not a probability", what, i, p[i]);
        s += p[i];
    }
    if (fabs(s - 1) > 1e-6) GM_FAIL(GM_EINVAL, "PR curve: %s sums to %.9g, not 1", what, s);
    return GM_OK;
}

int gm_prcurve_grid(const double *p, const double *q, size_t n, double h, const double *lambdas, size_t n_lambda,
                    double *alpha, double *beta) {
    int rc = gm_prcurve_check_lambdas(lambdas, n_lambda);
    if (rc) return rc;
    if (n == 0 || !(h > 0)) GM_FAIL(GM_EINVAL, "PR curve: empty grid or cell volume <= 0");
    for (size_t l = 0; l < n_lambda; l++) {
        double lam = lambdas[l], a = 0;
        for (size_t i = 0; i < n; i++) a += fmin(lam * p[i], q[i]);
        a *= h;
        if (alpha) alpha[l] = a;
        if (beta) beta[l] = a / lam;
    }
    return GM_OK;
}

int gm_prcurve_discrete(const double *p, const double *q, size_t n, const double *lambdas, size_t n_lambda,
                        double *alpha, double *beta) {
    int rc;
    if (n == 0) GM_FAIL(GM_EINVAL, "PR curve: empty histograms");
    if ((rc = check_density(p, n, "real")) || (rc = check_density(q, n, "fake"))) return rc;
    return gm_prcurve_grid(p, q, n, 1.0, lambdas, n_lambda, alpha, beta);
}

/* ---- two 1-D Gaussians ---------------------------------------------------------------------------- */

/* Mass of N(m, s²) on (lo, hi), computed from the tail nearer to the interval (no 1 − x cancellation). */
static double gmass(double m, double s, double lo, double hi) {
    double zl = (lo - m) / s, zh = (hi - m) / s;
    if (zl >= 0) return 0.5 * (erfc(zl / SQRT2) - erfc(zh / SQRT2));
    if (zh <= 0) return 0.5 * (erfc(-zh / SQRT2) - erfc(-zl / SQRT2));
    return 1.0 - 0.5 * erfc(-zl / SQRT2) - 0.5 * erfc(zh / SQRT2);
}

/* Masses of P and Q on {λp < q} (neg) and {λp >= q} (pos). g(x) = log(λp/q) = a x² + b x + c. */
static void gauss_split(double mp, double sp, double mq, double sq, double lambda, double *p_neg, double *q_neg,
                        double *p_pos, double *q_pos) {
    double a = -0.5 / (sp * sp) + 0.5 / (sq * sq), b = mp / (sp * sp) - mq / (sq * sq);
    double c = log(lambda * sq / sp) - 0.5 * mp * mp / (sp * sp) + 0.5 * mq * mq / (sq * sq);
    double cuts[2];
    int nc = 0, first_neg; /* sign of g on the leftmost interval */
    double scale = fabs(b) + fabs(c) + 1;
    if (fabs(a) <= 1e-15 * scale) {
        if (b == 0) {
            first_neg = c < 0;
        } else {
            cuts[nc++] = -c / b;
            first_neg = b > 0; /* g -> -inf on the left when b > 0 */
        }
    } else {
        double disc = b * b - 4 * a * c;
        if (disc <= 0) {
            first_neg = a < 0;
        } else {
            double sq_d = sqrt(disc), qq = -0.5 * (b + copysign(sq_d, b));
            double r1 = qq / a, r2 = c / qq;
            cuts[0] = fmin(r1, r2);
            cuts[1] = fmax(r1, r2);
            nc = 2;
            first_neg = a < 0;
        }
    }
    double edges[4] = {-INFINITY, 0, 0, 0};
    for (int i = 0; i < nc; i++) edges[1 + i] = cuts[i];
    edges[nc + 1] = INFINITY;
    *p_neg = *q_neg = *p_pos = *q_pos = 0;
    int neg = first_neg;
    for (int i = 0; i <= nc; i++, neg = !neg) {
        double pm = gmass(mp, sp, edges[i], edges[i + 1]), qm = gmass(mq, sq, edges[i], edges[i + 1]);
        if (neg) {
            *p_neg += pm;
            *q_neg += qm;
        } else {
            *p_pos += pm;
            *q_pos += qm;
        }
    }
}

double gm_prcurve_gauss1d(double mp, double sp, double mq, double sq, double lambda) {
    double pn, qn, pp, qp;
    gauss_split(mp, sp, mq, sq, lambda, &pn, &qn, &pp, &qp);
    return lambda * pn + qp;
}

/* D_λ by its hockey-stick form (accurate in relative terms far in the tails). */
double gm_prdiv_gauss1d(double mp, double sp, double mq, double sq, double lambda) {
    double pn, qn, pp, qp;
    gauss_split(mp, sp, mq, sq, lambda, &pn, &qn, &pp, &qp);
    double d = lambda >= 1 ? qn - lambda * pn : lambda * pp - qp;
    return d > 0 ? d : 0;
}

/* ---- curves from ratios and scores ------------------------------------------------------------------ */

int gm_prcurve_from_logratio(const double *lr_real, size_t n_real, const double *lr_fake, size_t n_fake,
                             const double *lambdas, size_t n_lambda, double *alpha, double *beta, double *alpha_p,
                             double *alpha_q) {
    int rc = gm_prcurve_check_lambdas(lambdas, n_lambda);
    if (rc) return rc;
    if ((n_real == 0 || !lr_real) && (n_fake == 0 || !lr_fake))
        GM_FAIL(GM_EINVAL, "PR curve: no samples");
    for (size_t i = 0; i < n_real; i++)
        if (isnan(lr_real[i])) GM_FAIL(GM_ENUMERIC, "PR curve: log ratio of real row %zu is NaN", i);
    for (size_t j = 0; j < n_fake; j++)
        if (isnan(lr_fake[j])) GM_FAIL(GM_ENUMERIC, "PR curve: log ratio of fake row %zu is NaN", j);
    for (size_t l = 0; l < n_lambda; l++) {
        double lam = lambdas[l], ap = 0, aq = 0;
        for (size_t i = 0; i < n_real; i++) ap += fmin(lam, exp(-lr_real[i]));
        for (size_t j = 0; j < n_fake; j++) aq += fmin(lam * exp(lr_fake[j]), 1.0);
        if (n_real) ap /= (double)n_real;
        if (n_fake) aq /= (double)n_fake;
        double a = n_real && n_fake ? 0.5 * (ap + aq) : (n_real ? ap : aq);
        if (alpha) alpha[l] = a;
        if (beta) beta[l] = a / lam;
        if (alpha_p) alpha_p[l] = n_real ? ap : (double)NAN;
        if (alpha_q) alpha_q[l] = n_fake ? aq : (double)NAN;
    }
    return GM_OK;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int gm_prcurve_from_scores(const double *s_real, size_t n_real, const double *s_fake, size_t n_fake,
                           const double *lambdas, size_t n_lambda, double *alpha, double *beta) {
    int rc = gm_prcurve_check_lambdas(lambdas, n_lambda);
    if (rc) return rc;
    if (n_real == 0 || n_fake == 0) GM_FAIL(GM_EINVAL, "PR curve: both score sets must be non-empty");
    double *r = gm_malloc(n_real * sizeof *r), *f = gm_malloc(n_fake * sizeof *f);
    if (!r || !f) {
        gm_free(r);
        gm_free(f);
        return GM_ENOMEM;
    }
    rc = GM_OK;
    for (size_t i = 0; i < n_real; i++)
        if (!isfinite(r[i] = s_real[i])) rc = gm_set_error(GM_ENUMERIC, "PR curve: real score %zu is not finite", i);
    for (size_t j = 0; j < n_fake; j++)
        if (!isfinite(f[j] = s_fake[j])) rc = gm_set_error(GM_ENUMERIC, "PR curve: fake score %zu is not finite", j);
    if (rc) goto done;
    qsort(r, n_real, sizeof *r, cmp_dbl);
    qsort(f, n_fake, sizeof *f, cmp_dbl);
    /* Sweep t over the merged distinct values (and +inf): er(t) = #{r < t}/nr, ef(t) = #{f >= t}/nf. */
    for (size_t l = 0; l < n_lambda; l++) {
        double lam = lambdas[l], best = 1.0; /* t = -inf: er = 0, ef = 1 */
        size_t i = 0, j = 0;
        while (i < n_real || j < n_fake) {
            double t = (j >= n_fake || (i < n_real && r[i] <= f[j])) ? r[i] : f[j];
            while (i < n_real && r[i] <= t) i++;
            while (j < n_fake && f[j] <= t) j++;
            /* threshold just above t: er = #{r <= t}, ef = #{f > t} */
            double v = lam * (double)i / (double)n_real + (double)(n_fake - j) / (double)n_fake;
            if (v < best) best = v;
        }
        if (lam < best) best = lam; /* t = +inf: er = 1, ef = 0 */
        if (alpha) alpha[l] = best;
        if (beta) beta[l] = best / lam;
    }
done:
    gm_free(r);
    gm_free(f);
    return rc;
}

/* ---- f-divergences and the mixture identity ------------------------------------------------------- */

static const char *fdiv_names[GM_FDIV_COUNT] = {"kl", "rkl", "pearson", "neyman", "hellinger", "js2"};

const char *gm_fdiv_name(gm_fdiv f) { return (unsigned)f < GM_FDIV_COUNT ? fdiv_names[f] : NULL; }

double gm_fdiv_f(gm_fdiv f, double u) {
    switch (f) {
    case GM_FDIV_KL: return u > 0 ? u * log(u) : 0;
    case GM_FDIV_RKL: return -log(u);
    case GM_FDIV_PEARSON: return (u - 1) * (u - 1);
    case GM_FDIV_NEYMAN: return (u - 1) * (u - 1) / u;
    case GM_FDIV_HELLINGER: return (sqrt(u) - 1) * (sqrt(u) - 1);
    case GM_FDIV_JS2: return (u > 0 ? u * log(u) : 0) - (u + 1) * log((u + 1) / 2);
    default: return NAN;
    }
}

double gm_fdiv_weight(gm_fdiv f, double lambda) {
    switch (f) {
    case GM_FDIV_KL: return 1 / (lambda * lambda);
    case GM_FDIV_RKL: return 1 / lambda;
    case GM_FDIV_PEARSON: return 2 / (lambda * lambda * lambda);
    case GM_FDIV_NEYMAN: return 2;
    case GM_FDIV_HELLINGER: return 0.5 / (lambda * sqrt(lambda));
    case GM_FDIV_JS2: return 1 / (lambda * (1 + lambda));
    default: return NAN;
    }
}

/* Limit of q f(p/q) as q -> 0 with p > 0: p · lim_{u->inf} f(u)/u. */
static double fdiv_slope_inf(gm_fdiv f) {
    switch (f) {
    case GM_FDIV_RKL: return 0;
    case GM_FDIV_NEYMAN: return 1;
    case GM_FDIV_HELLINGER: return 1;
    case GM_FDIV_JS2: return log(2.0);
    default: return INFINITY;
    }
}

double gm_fdiv_discrete(gm_fdiv f, const double *p, const double *q, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i] > 0) s += q[i] * gm_fdiv_f(f, p[i] / q[i]);
        else if (p[i] > 0) s += p[i] * fdiv_slope_inf(f);
    }
    return s;
}

int gm_prdiv_mixture(gm_fdiv f, gm_prdiv_fn D, void *ctx, double s_lo, double s_hi, size_t n_panels, double *out) {
    if ((unsigned)f >= GM_FDIV_COUNT) GM_FAIL(GM_EINVAL, "mixture: unknown f-divergence %d", (int)f);
    if (!(s_hi > s_lo) || !isfinite(s_lo) || !isfinite(s_hi) || n_panels == 0)
        GM_FAIL(GM_EINVAL, "mixture: need s_lo < s_hi (finite) and n_panels >= 1");
    double H = (s_hi - s_lo) / (double)n_panels, acc = 0;
    for (size_t k = 0; k <= 2 * n_panels; k++) {
        double s = s_lo + 0.5 * H * (double)k, lam = exp(s), d = D(lam, ctx);
        if (isnan(d)) GM_FAIL(GM_ENUMERIC, "mixture: D(lambda = %g) is NaN", lam);
        double g = gm_fdiv_weight(f, lam) * lam * d;
        double wk = (k == 0 || k == 2 * n_panels) ? 1 : (k % 2 ? 4 : 2);
        acc += wk * g;
    }
    *out = acc * H / 6.0;
    return GM_OK;
}
