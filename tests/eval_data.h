/* SPDX-License-Identifier: MIT */
/* eval_data.h — deterministic data sets shared by the eval tests: the spec §9.1 hash features and the
 * splitmix64 sets of tools/ref_eval.py (bit-identical doubles in C and NumPy). */
#ifndef GM_EVAL_DATA_H
#define GM_EVAL_DATA_H

#include <stdint.h>
#include <stdlib.h>

static double feat91(int64_t i, int64_t j, int64_t s, double scale, double shift) {
    const int64_t P = 65521;
    int64_t h = (i * 1000003 + j * 7919 + s) % P;
    h = (h * h + 12345) % P;
    return scale * (double)h / (double)P + shift;
}

/* G: 200 x 16 (s 1, scale 1, shift 0); R: 300 x 16 (s 7, scale 1.2, shift 0.1). malloc'd. */
static inline double *make91(size_t n, size_t d, int64_t s, double scale, double shift) {
    double *x = malloc(n * d * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x[i * d + j] = feat91((int64_t)i, (int64_t)j, s, scale, shift);
    return x;
}

static double *make_splitmix(uint64_t seed, size_t n, size_t d, double scale, double shift, double bump) {
    double *x = malloc(n * d * sizeof(double));
    uint64_t s = seed;
    for (size_t i = 0; i < n * d; i++) {
        s += 0x9E3779B97F4A7C15ULL;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        x[i] = scale * ((double)(z >> 11) * 0x1.0p-53) + shift;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j += 3) x[i * d + j] += bump;
    return x;
}

/* Value `name` from tests/golden/eval_ref.txt (NaN if missing). */
static inline double golden(const char *name) {
    FILE *f = fopen("tests/golden/eval_ref.txt", "r");
    if (!f) return NAN;
    char key[128];
    double v, out = NAN;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%127s %lf", key, &v) == 2 && !strcmp(key, name)) out = v;
    fclose(f);
    return out;
}

#endif
