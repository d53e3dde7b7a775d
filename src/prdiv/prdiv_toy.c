/* SPDX-License-Identifier: MIT */
/* prdiv_toy.c — the 2-D toy targets of spec §4.2 (8 Gaussians on a ring of radius 2, σ 0.1, or σ 0.2 as
 * spec §4.2 also allows; 25 Gaussians on the grid {−2..2}², σ 0.05): sampling from a Philox stream, exact density, mode list.
 * Owns nothing. Thread safety: re-entrant. */
#include <math.h>
#include <string.h>

#include "genmix/prdiv.h"
#include "genmix/rng.h"

#define TWO_PI 6.283185307179586477

int gm_toy_from_name(const char *name) {
    if (!name) return -1;
    if (!strncmp(name, "toy:", 4)) name += 4;
    if (!strcmp(name, "8gaussians")) return GM_TOY_8GAUSS;
    if (!strcmp(name, "25gaussians")) return GM_TOY_25GAUSS;
    if (!strcmp(name, "8gaussians-wide")) return GM_TOY_8GAUSS_WIDE;
    return -1;
}
const char *gm_toy_name(gm_toy toy) {
    switch (toy) {
    case GM_TOY_8GAUSS: return "toy:8gaussians";
    case GM_TOY_25GAUSS: return "toy:25gaussians";
    case GM_TOY_8GAUSS_WIDE: return "toy:8gaussians-wide";
    default: return NULL;
    }
}

size_t gm_toy_modes(gm_toy toy, double *c, double *sd) {
    if (toy == GM_TOY_8GAUSS || toy == GM_TOY_8GAUSS_WIDE) {
        for (int k = 0; c && k < 8; k++) c[2 * k] = 2 * cos(TWO_PI * k / 8), c[2 * k + 1] = 2 * sin(TWO_PI * k / 8);
        if (sd) *sd = toy == GM_TOY_8GAUSS ? 0.1 : 0.2;
        return 8;
    }
    for (int k = 0; c && k < 25; k++) c[2 * k] = k / 5 - 2, c[2 * k + 1] = k % 5 - 2;
    if (sd) *sd = 0.05;
    return 25;
}

void gm_toy_sample(gm_toy toy, float *x, size_t n, uint64_t seed, uint64_t stream) {
    double c[50], sd;
    size_t K = gm_toy_modes(toy, c, &sd);
    gm_rng r;
    gm_rng_init(&r, seed, stream);
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)gm_rng_below(&r, K);
        x[2 * i] = (float)(c[2 * k] + sd * gm_rng_normal(&r));
        x[2 * i + 1] = (float)(c[2 * k + 1] + sd * gm_rng_normal(&r));
    }
}

double gm_toy_density(gm_toy toy, double x, double y) {
    double c[50], sd, s = 0;
    size_t K = gm_toy_modes(toy, c, &sd);
    for (size_t k = 0; k < K; k++) {
        double dx = x - c[2 * k], dy = y - c[2 * k + 1];
        s += exp(-0.5 * (dx * dx + dy * dy) / (sd * sd));
    }
    return s / ((double)K * TWO_PI * sd * sd);
}
