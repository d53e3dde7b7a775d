/* SPDX-License-Identifier: MIT */
/* mt19937.c — the MT19937 generator of numpy.random.RandomState (seeding, 32-bit draws, the legacy
 * masked-rejection interval, permutation and choice without replacement), so that subsets can be drawn
 * exactly as NumPy-based reference tools draw them (genmix/rng.h). Owns nothing: the state is the
 * caller's gm_mt19937. Thread safety: one gm_mt19937 per thread. */
#include "genmix/rng.h"

#include <string.h>

void gm_mt19937_seed(gm_mt19937 *r, uint32_t seed) {
    r->mt[0] = seed;
    for (uint32_t i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + i;
    r->pos = 624;
}

static void mt_refill(gm_mt19937 *r) {
    static const uint32_t mag[2] = {0u, 0x9908b0dfu};
    uint32_t *mt = r->mt;
    int k;
    for (k = 0; k < 624 - 397; k++) {
        uint32_t y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
        mt[k] = mt[k + 397] ^ (y >> 1) ^ mag[y & 1];
    }
    for (; k < 623; k++) {
        uint32_t y = (mt[k] & 0x80000000u) | (mt[k + 1] & 0x7fffffffu);
        mt[k] = mt[k + 397 - 624] ^ (y >> 1) ^ mag[y & 1];
    }
    uint32_t y = (mt[623] & 0x80000000u) | (mt[0] & 0x7fffffffu);
    mt[623] = mt[396] ^ (y >> 1) ^ mag[y & 1];
    r->pos = 0;
}

uint32_t gm_mt19937_u32(gm_mt19937 *r) {
    if (r->pos >= 624) mt_refill(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t gm_mt19937_interval(gm_mt19937 *r, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max, v;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xffffffffULL) {
        while ((v = (gm_mt19937_u32(r) & mask)) > max) {
        }
    } else {
        do {
            uint64_t hi = gm_mt19937_u32(r);
            v = ((hi << 32) | gm_mt19937_u32(r)) & mask;
        } while (v > max);
    }
    return v;
}

void gm_mt19937_permutation(gm_mt19937 *r, size_t *perm, size_t n) {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)gm_mt19937_interval(r, i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void gm_mt19937_choice(gm_mt19937 *r, size_t n, size_t m, size_t *out, size_t *work) {
    GM_ASSERT(m <= n);
    gm_mt19937_permutation(r, work, n);
    memcpy(out, work, m * sizeof(size_t));
}
