/* SPDX-License-Identifier: MIT */
/* rng.c — Philox4x64-10 (Salmon et al., SC'11) and samplers on top of it.
 * Owns nothing; gm_rng is a value type. Thread safety: one gm_rng per thread. */
#include "genmix/rng.h"

#include <math.h>
#include <string.h>

#define PHILOX_M0 0xD2E7470EE14C6C93ULL
#define PHILOX_M1 0xCA5A826395121157ULL
#define PHILOX_W0 0x9E3779B97F4A7C15ULL
#define PHILOX_W1 0xBB67AE8584CAA73BULL

static inline void mulhilo64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
#if defined(__SIZEOF_INT128__)
    __extension__ typedef unsigned __int128 u128;
    u128 p = (u128)a * (u128)b;
    *hi = (uint64_t)(p >> 64);
    *lo = (uint64_t)p;
#else
    /* 32x32->64 schoolbook fallback */
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *lo = (p00 & 0xffffffffu) | (mid << 32);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
#endif
}

void gm_philox4x64_10(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4]) {
    uint64_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint64_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t hi0, lo0, hi1, lo1;
        mulhilo64(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo64(PHILOX_M1, c2, &hi1, &lo1);
        uint64_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

uint64_t gm_rng_stream_id(unsigned purpose, uint64_t index) {
    GM_ASSERT(purpose < 256);
    GM_ASSERT(index < ((uint64_t)1 << 56));
    return ((uint64_t)purpose << 56) | index;
}

void gm_rng_init128(gm_rng *r, uint64_t seed, uint64_t stream_lo, uint64_t stream_hi) {
    memset(r, 0, sizeof *r);
    r->key[0] = seed;
    r->key[1] = 0;
    r->ctr[0] = 0;
    r->ctr[1] = 0;
    r->ctr[2] = stream_lo;
    r->ctr[3] = stream_hi;
    r->idx = 4;
}

void gm_rng_init(gm_rng *r, uint64_t seed, uint64_t stream) { gm_rng_init128(r, seed, stream, 0); }

void gm_rng_seek(gm_rng *r, uint64_t block) {
    r->ctr[0] = block;
    r->idx = 4;
    r->has_normal = 0;
}

uint64_t gm_rng_u64(gm_rng *r) {
    if (r->idx >= 4) {
        gm_philox4x64_10(r->ctr, r->key, r->buf);
        r->ctr[0]++;
        r->idx = 0;
    }
    return r->buf[r->idx++];
}

double gm_rng_uniform(gm_rng *r) { return (double)(gm_rng_u64(r) >> 11) * 0x1.0p-53; }

double gm_rng_uniform_pos(gm_rng *r) { return ((double)(gm_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53; }

uint64_t gm_rng_below(gm_rng *r, uint64_t n) {
    GM_ASSERT(n >= 1);
    /* Lemire (2019): multiply-shift with rejection of the biased low products. */
    uint64_t x = gm_rng_u64(r), hi, lo;
    mulhilo64(x, n, &hi, &lo);
    if (lo < n) {
        uint64_t t = (0 - n) % n;
        while (lo < t) {
            x = gm_rng_u64(r);
            mulhilo64(x, n, &hi, &lo);
        }
    }
    return hi;
}

double gm_rng_normal(gm_rng *r) {
    if (r->has_normal) {
        r->has_normal = 0;
        return r->normal;
    }
    double u1 = gm_rng_uniform_pos(r);
    double u2 = gm_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586476925 * u2;
    r->normal = rad * sin(th);
    r->has_normal = 1;
    return rad * cos(th);
}

double gm_rng_gamma(gm_rng *r, double shape) {
    GM_ASSERT(shape > 0);
    if (shape < 1.0) {
        /* G(a) = G(a+1) * U^(1/a) */
        double g = gm_rng_gamma(r, shape + 1.0);
        return g * exp(log(gm_rng_uniform_pos(r)) / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = gm_rng_normal(r), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = gm_rng_uniform_pos(r);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

double gm_rng_beta(gm_rng *r, double a, double b) {
    double x = gm_rng_gamma(r, a), y = gm_rng_gamma(r, b);
    return x / (x + y);
}

void gm_rng_dirichlet(gm_rng *r, const double *alpha, size_t k, double *out) {
    double s = 0;
    for (size_t i = 0; i < k; i++) {
        out[i] = gm_rng_gamma(r, alpha[i]);
        s += out[i];
    }
    for (size_t i = 0; i < k; i++) out[i] /= s;
}

size_t gm_rng_categorical(gm_rng *r, const double *w, size_t k) {
    GM_ASSERT(k >= 1);
    double s = 0;
    for (size_t i = 0; i < k; i++) {
        GM_ASSERT(w[i] >= 0);
        s += w[i];
    }
    GM_ASSERT(s > 0);
    double u = gm_rng_uniform(r) * s, c = 0;
    for (size_t i = 0; i < k; i++) {
        c += w[i];
        if (u < c && w[i] > 0) return i;
    }
    /* rounding: return the last index with positive weight */
    for (size_t i = k; i-- > 0;)
        if (w[i] > 0) return i;
    return k - 1;
}

void gm_rng_normal_fill(gm_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)gm_rng_normal(r);
}

void gm_rng_uniform_fill(gm_rng *r, float *x, size_t n) {
    /* 24-bit mantissa so that the float is exactly the truncated double and stays < 1 */
    for (size_t i = 0; i < n; i++) x[i] = (float)(gm_rng_u64(r) >> 40) * 0x1.0p-24f;
}

void gm_rng_shuffle(gm_rng *r, size_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)gm_rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void gm_rng_permutation(gm_rng *r, size_t *perm, size_t n) {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    gm_rng_shuffle(r, perm, n);
}

int gm_rng_choice(gm_rng *r, size_t n, size_t k, size_t *out) {
    if (k > n) GM_FAIL(GM_EINVAL, "cannot choose %zu distinct items out of %zu", k, n);
    size_t *a = gm_malloc((n ? n : 1) * sizeof *a);
    if (!a) return GM_ENOMEM;
    for (size_t i = 0; i < n; i++) a[i] = i;
    /* partial Fisher-Yates from the front */
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)gm_rng_below(r, n - i);
        size_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        out[i] = a[i];
    }
    gm_free(a);
    return GM_OK;
}

/* ---- log-densities ------------------------------------------------------------------------- */

double gm_normal_logpdf(double x, double mu, double sigma) {
    double z = (x - mu) / sigma;
    return -0.5 * z * z - log(sigma) - 0.91893853320467274178; /* 0.5*log(2*pi) */
}

double gm_gamma_logpdf(double x, double shape) {
    if (x < 0) return -INFINITY;
    if (x == 0) return shape < 1 ? (double)INFINITY : (shape == 1 ? 0.0 : -(double)INFINITY);
    return (shape - 1.0) * log(x) - x - lgamma(shape);
}

double gm_beta_logpdf(double x, double a, double b) {
    if (x < 0 || x > 1) return -INFINITY;
    return (a - 1.0) * log(x) + (b - 1.0) * log1p(-x) + lgamma(a + b) - lgamma(a) - lgamma(b);
}

double gm_dirichlet_logpdf(const double *x, const double *alpha, size_t k) {
    double s = 0, la = 0, lp = 0;
    for (size_t i = 0; i < k; i++) {
        if (x[i] < 0) return -INFINITY;
        s += alpha[i];
        la += lgamma(alpha[i]);
        lp += (alpha[i] - 1.0) * log(x[i]);
    }
    return lgamma(s) - la + lp;
}
