/* SPDX-License-Identifier: MIT */
/* linalg_kernel.c — the scalar kernel values shared by the metrics and the mixing bandit
 * (genmix/linalg.h): polynomial from a dot product, RBF from a squared distance. Owns nothing.
 * Thread safety: pure functions. */
#include "genmix/linalg.h"

#include <math.h>

double gm_kernel_poly(double dot, double gamma, double coef0, int degree) {
    double b = gamma * dot + coef0, v = 1;
    for (int i = 0; i < degree; i++) v *= b;
    return v;
}

double gm_kernel_rbf(double d2, double sigma) { return exp(-d2 / (2 * sigma * sigma)); }
