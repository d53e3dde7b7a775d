/* SPDX-License-Identifier: MIT */
/* plugin_reward_test.c — a reward plugin implementing the genmix reward ABI v1 (genmix/das.h), built by
 * CMake as build/tests/genmix_reward_test.so for tests/cli_align.sh: the GMM-2 toy reward
 * r(x, y) = -x^2 - (y - 1)^2/10 with its gradient, 2-D only. Not part of the library. */
#include <stddef.h>

int genmix_reward_v1_init(size_t dim);
int genmix_reward_v1_has_grad(void);
int genmix_reward_v1(const float *x, size_t n, size_t dim, double *r, float *grad);

int genmix_reward_v1_init(size_t dim) { return dim == 2 ? 0 : 1; }
int genmix_reward_v1_has_grad(void) { return 1; }

int genmix_reward_v1(const float *x, size_t n, size_t dim, double *r, float *grad) {
    if (dim != 2) return 1;
    for (size_t i = 0; i < n; i++) {
        double a = (double)x[2 * i], b = (double)x[2 * i + 1] - 1.0;
        r[i] = -a * a - b * b / 10.0;
        if (grad) {
            grad[2 * i] = (float)(-2.0 * a);
            grad[2 * i + 1] = (float)(-b / 5.0);
        }
    }
    return 0;
}
