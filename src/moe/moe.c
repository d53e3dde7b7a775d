/* SPDX-License-Identifier: MIT */
/* moe.c — softmax-gated multinomial-logistic mixture of experts: the model object (gm_moe: allocation,
 * copy, parameter packing, reference normalisation, permutation, gate transforms). The folder src/moe/
 * owns the whole MoE module: moe.c (model storage), moe_lik.c (likelihood, gradient, prediction),
 * moe_newton.c (multinomial-logit Newton solver, Newton polish, standard errors), moe_fit.c (EM fitter
 * state machine, restarts, choosing k), moe_sample.c (data generators), moe_sim.c (Voronoi losses and the
 * simulation study), moe_io.c (model files); moe_internal.h holds what they share privately.
 *
 * Owns: gm_moe arrays (W, V). Thread safety: no shared state; every call is single-threaded.
 * Numerics: all arithmetic in double; reductions in a fixed order.
 *
 * module: moe (src/moe/) owns the softmax-gated mixture of experts: model, EM fitter, selection, sampling,
 * the identifiability simulation and its Voronoi losses (genmix/moe.h). A method: it uses core, io, linalg,
 * nn and eval. */
#include "genmix/moe.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "genmix/rng.h"

/* ============================================================================================== */
/* model storage                                                                                   */
/* ============================================================================================== */

int gm_moe_init(gm_moe *m, size_t n_experts, size_t n_classes, size_t dim, gm_moe_gate gate) {
    memset(m, 0, sizeof *m);
    if (n_experts < 1) GM_FAIL(GM_EINVAL, "moe: number of experts K must be >= 1 (got %zu)", n_experts);
    if (n_classes < 2) GM_FAIL(GM_EINVAL, "moe: need at least 2 classes (got %zu)", n_classes);
    if (dim < 1) GM_FAIL(GM_EINVAL, "moe: need at least 1 feature");
    if (gate != GM_MOE_GATE_IDENTITY && gate != GM_MOE_GATE_SIGMOID && gate != GM_MOE_GATE_TANH)
        GM_FAIL(GM_EINVAL, "moe: unknown gate transform %d", (int)gate);
    size_t p = dim + 1;
    m->W = gm_calloc(p * n_experts, sizeof(double));
    m->V = gm_calloc(n_experts * p * n_classes, sizeof(double));
    if (!m->W || !m->V) {
        gm_free(m->W);
        gm_free(m->V);
        memset(m, 0, sizeof *m);
        return GM_ENOMEM;
    }
    m->n_experts = n_experts;
    m->n_classes = n_classes;
    m->dim = dim;
    m->gate = gate;
    return GM_OK;
}

void gm_moe_free(gm_moe *m) {
    if (!m) return;
    gm_free(m->W);
    gm_free(m->V);
    m->W = m->V = NULL;
}

int gm_moe_copy(gm_moe *dst, const gm_moe *src) {
    int rc = gm_moe_init(dst, src->n_experts, src->n_classes, src->dim, src->gate);
    if (rc) return rc;
    size_t p = src->dim + 1;
    memcpy(dst->W, src->W, p * src->n_experts * sizeof(double));
    memcpy(dst->V, src->V, src->n_experts * p * src->n_classes * sizeof(double));
    return GM_OK;
}

size_t gm_moe_df(const gm_moe *m) {
    size_t p = m->dim + 1;
    return (m->n_experts - 1) * p + m->n_experts * (m->n_classes - 1) * p;
}

void gm_moe_pack(const gm_moe *m, double *theta) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1, o = 0;
    for (size_t i = 0; i + 1 < k; i++)
        for (size_t j = 0; j < p; j++) theta[o++] = m->W[j * k + i];
    for (size_t i = 0; i < k; i++)
        for (size_t s = 0; s + 1 < S; s++)
            for (size_t j = 0; j < p; j++) theta[o++] = m->V[(i * p + j) * S + s];
}

void gm_moe_unpack(gm_moe *m, const double *theta) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1, o = 0;
    for (size_t j = 0; j < p; j++) m->W[j * k + (k - 1)] = 0.0;
    for (size_t i = 0; i + 1 < k; i++)
        for (size_t j = 0; j < p; j++) m->W[j * k + i] = theta[o++];
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < p; j++) m->V[(i * p + j) * S + (S - 1)] = 0.0;
        for (size_t s = 0; s + 1 < S; s++)
            for (size_t j = 0; j < p; j++) m->V[(i * p + j) * S + s] = theta[o++];
    }
}

void gm_moe_set_reference(gm_moe *m, size_t gate_ref, size_t class_ref) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1;
    GM_ASSERT(gate_ref < k && class_ref < S);
    for (size_t j = 0; j < p; j++) {
        double r = m->W[j * k + gate_ref];
        for (size_t i = 0; i < k; i++) m->W[j * k + i] -= r;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < p; j++) {
            double *row = m->V + (i * p + j) * S;
            double r = row[class_ref];
            for (size_t s = 0; s < S; s++) row[s] -= r;
        }
}

void gm_moe_normalize(gm_moe *m) { gm_moe_set_reference(m, m->n_experts - 1, m->n_classes - 1); }

int gm_moe_permute(gm_moe *m, const size_t *perm) {
    size_t k = m->n_experts, S = m->n_classes, p = m->dim + 1;
    gm_moe old;
    int rc = gm_moe_copy(&old, m);
    if (rc) return rc;
    for (size_t i = 0; i < k; i++) {
        size_t src = perm[i];
        if (src >= k) {
            gm_moe_free(&old);
            GM_FAIL(GM_EINVAL, "moe_permute: index %zu out of range", src);
        }
        for (size_t j = 0; j < p; j++) m->W[j * k + i] = old.W[j * k + src];
        memcpy(m->V + i * p * S, old.V + src * p * S, p * S * sizeof(double));
    }
    gm_moe_free(&old);
    gm_moe_normalize(m);
    return GM_OK;
}

double gm_moe_gate_apply(gm_moe_gate g, double x) {
    switch (g) {
    case GM_MOE_GATE_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case GM_MOE_GATE_TANH: return tanh(x);
    default: return x;
    }
}

/* ============================================================================================== */
/* per-row evaluation                                                                              */
/* ============================================================================================== */

