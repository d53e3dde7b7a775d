/* SPDX-License-Identifier: MIT */
/* genmix/rng.h — Philox4x64-10 counter-based random streams and the distributions genmix samples.
 *
 * Usage:
 *     gm_rng r;
 *     gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_PARTICLE, i));   // one stream per entity
 *     double u = gm_rng_uniform(&r);          // [0, 1)
 *     double z = gm_rng_normal(&r);           // N(0, 1)
 *     gm_rng_normal_fill(&r, buf, n);         // n floats ~ N(0, 1)
 *
 * Mapping (fixed, documented in docs/rng.md): key = {seed, 0}; counter = {block, 0, stream_lo, stream_hi}.
 * Counter word 0 is the block index; each block yields four 64-bit words, consumed in order. Draw j of
 * stream s is therefore a pure function of (seed, s, j): results never depend on the thread count.
 * NumPy parity: numpy.random.Philox(key=[seed, 0], counter=[b-1, 0, lo, hi]).random_raw() returns our
 * block b (NumPy increments the counter before each block); doubles are (x >> 11) * 2^-53 as in NumPy.
 *
 * Draw counts: uniform = 1 word; normal = Box-Muller, 2 words per pair of normals (the second is cached
 * and returned by the next call); gamma/beta/dirichlet use rejection (variable counts).
 * Ownership: gm_rng is a plain value; copy it to fork a stream state. Thread safety: one gm_rng per thread.
 */
#ifndef GM_RNG_H
#define GM_RNG_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t key[2];
    uint64_t ctr[4];  /* ctr[0] = index of the next block to generate */
    uint64_t buf[4];  /* current block */
    int idx;          /* next unread word of buf (4 = empty) */
    int has_normal;   /* a cached second Box-Muller normal */
    double normal;
} gm_rng;

/* Stream purposes: the top 8 bits of a 64-bit stream id; the low 56 bits are the entity index. */
enum {
    GM_STREAM_DEFAULT = 0,
    GM_STREAM_DATA = 1,      /* shuffling, minibatches */
    GM_STREAM_INIT = 2,      /* parameter initialisation */
    GM_STREAM_NOISE = 3,     /* training noise (dropout, reparameterisation, diffusion) */
    GM_STREAM_PARTICLE = 4,  /* SMC particles */
    GM_STREAM_CHAIN = 5,     /* MCMC chains */
    GM_STREAM_ARM = 6,       /* bandit arms / replications */
    GM_STREAM_EVAL = 7,      /* metric subsets, bootstrap, k-means */
    GM_STREAM_SIM = 8,       /* simulation studies (data generation) */
    GM_STREAM_USER = 100
};

/* ((uint64_t)purpose << 56) | index; asserts index < 2^56 and purpose < 256. */
uint64_t gm_rng_stream_id(unsigned purpose, uint64_t index);

/* The raw Philox4x64-10 bijection: out = philox(ctr, key). */
void gm_philox4x64_10(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4]);

/* Start stream `stream` (counter words 2..3 = {stream, 0}) of `seed` at block 0. */
void gm_rng_init(gm_rng *r, uint64_t seed, uint64_t stream);
/* Same with a full 128-bit stream id (counter words 2 and 3). */
void gm_rng_init128(gm_rng *r, uint64_t seed, uint64_t stream_lo, uint64_t stream_hi);
/* Jump to block `block` of the current stream (drops buffered words and the cached normal). */
void gm_rng_seek(gm_rng *r, uint64_t block);

uint64_t gm_rng_u64(gm_rng *r);
/* Uniform double in [0, 1): (x >> 11) * 2^-53. */
double gm_rng_uniform(gm_rng *r);
/* Uniform double in (0, 1): ((x >> 11) + 0.5) * 2^-53, safe for log(). */
double gm_rng_uniform_pos(gm_rng *r);
/* Uniform integer in [0, n), unbiased (Lemire's method); n >= 1. */
uint64_t gm_rng_below(gm_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double gm_rng_normal(gm_rng *r);
/* Gamma(shape, scale 1), shape > 0 (Marsaglia-Tsang; shape < 1 by the u^(1/a) boost). */
double gm_rng_gamma(gm_rng *r, double shape);
/* Beta(a, b) via two gammas. */
double gm_rng_beta(gm_rng *r, double a, double b);
/* Dirichlet(alpha[0..k-1]) into out[0..k-1]. */
void gm_rng_dirichlet(gm_rng *r, const double *alpha, size_t k, double *out);
/* Index drawn with probability w[i] / sum(w); weights non-negative, sum > 0 (asserted). */
size_t gm_rng_categorical(gm_rng *r, const double *w, size_t k);

/* Fill n floats with N(0,1) / U[0,1). */
void gm_rng_normal_fill(gm_rng *r, float *x, size_t n);
void gm_rng_uniform_fill(gm_rng *r, float *x, size_t n);

/* perm[0..n-1] = a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void gm_rng_permutation(gm_rng *r, size_t *perm, size_t n);
/* Shuffle an array of size_t in place (Fisher-Yates). */
void gm_rng_shuffle(gm_rng *r, size_t *a, size_t n);
/* k distinct indices from 0..n-1 in random order (k <= n); uses O(n) temporary memory.
 * Returns GM_OK, GM_EINVAL (k > n) or GM_ENOMEM. */
int gm_rng_choice(gm_rng *r, size_t n, size_t k, size_t *out);

/* ---- numpy.random.RandomState-compatible MT19937 (src/core/mt19937.c) ----------------------------
 * Not a genmix stream: used where a reference tool's NumPy draws must be reproduced (KID subsets). */

typedef struct {
    uint32_t mt[624];
    int pos;
} gm_mt19937;

void gm_mt19937_seed(gm_mt19937 *r, uint32_t seed);
uint32_t gm_mt19937_u32(gm_mt19937 *r);
/* Uniform integer in [0, max] by masked rejection, as NumPy's legacy random_interval. */
uint64_t gm_mt19937_interval(gm_mt19937 *r, uint64_t max);
/* RandomState.permutation(n): identity then shuffle i = n-1..1 with j = interval(i). */
void gm_mt19937_permutation(gm_mt19937 *r, size_t *perm, size_t n);
/* RandomState.choice(n, m, replace=False) = permutation(n)[:m]; `work` holds n entries. */
void gm_mt19937_choice(gm_mt19937 *r, size_t n, size_t m, size_t *out, size_t *work);

/* Log-densities of the distributions above. */
double gm_normal_logpdf(double x, double mu, double sigma);
double gm_gamma_logpdf(double x, double shape);
double gm_beta_logpdf(double x, double a, double b);
double gm_dirichlet_logpdf(const double *x, const double *alpha, size_t k);

#ifdef __cplusplus
}
#endif
#endif /* GM_RNG_H */
