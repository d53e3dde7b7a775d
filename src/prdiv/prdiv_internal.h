/* SPDX-License-Identifier: MIT */
/* prdiv_internal.h — private helpers shared by the files of src/prdiv (never installed). */
#ifndef GM_PRDIV_INTERNAL_H
#define GM_PRDIV_INTERNAL_H

#include <stddef.h>

#include "genmix/prdiv.h"

/* The value of top-level member `key` of the JSON object text `js` as text (numbers printed with %.17g,
 * strings verbatim) into out; -1 if js does not parse, the key is missing or the value does not fit. */
int gm__json_field(const char *js, const char *key, char *out, size_t len);

/* One GAN iteration on caller-given data and noise (tests, e.g. the PyTorch golden): xr_in holds
 * n_critic*batch real rows (chunk s for critic step s, chunk 0 again for the generator step), z_in
 * (n_critic+1)*batch noise rows (critic steps, then the generator step); NULL = draw them as gm_gan_step.
 * gm__gan_params exposes the parameter table (names G.*, D.*, ema.*, D.k.sn_u, adam*). */
int gm__gan_step_with(gm_gan *g, const float *xr_in, const float *z_in, gm_gan_status *st);
gm_params *gm__gan_params(gm_gan *g);

/* gm_flow_create with procedure A's critic appended to the flow's table when critic_hidden > 0: tensors
 * critic.{0,2,4}.{weight,bias} (D -> Hc -> Hc -> 1) right after the 6·n_layers flow tensors, then
 * critic.adam.m / critic.adam.v spanning them (padding included). The flow's own code never touches them. */
int gm__flow_create(gm_flow **out, size_t D, size_t n_layers, size_t hidden, uint64_t seed, size_t critic_hidden);
/* Conv GAN (prdiv_gan_conv.c): one iteration on caller-given rows (n_critic*batch × 784, already in [−1, 1]) and
 * noise ((n_critic+1)*batch × dim_z), as gm__gan_step_with; the parameter table (G.*, D.*, ema.*, D.*.sn_u). */
int gm__cgan_step_with(gm_cgan *g, const float *xr_in, const float *z_in, gm_gan_status *st);
gm_params *gm__cgan_params(gm_cgan *g);
/* net 0: G(z) of n noise rows, net 1: the critic of n images (in [−1, 1]); then the backward of sum(dout · out)
 * (parameter gradients into the table's grad slab, zeroed first; input gradient into din). */
int gm__cgan_fwd_bwd(gm_cgan *g, int net, const float *in, size_t n, const float *dout, float *out, float *din);
/* The diagnostics of a generator batch (accuracies, % at the χ² clamp, % with a PR gradient, quantiles of
 * v_f) into st; scratch: B floats. */
void gm__gan_status_fill(gm_gan_status *st, const float *vf, const float *vr, size_t B, gm_gan_objective obj,
                         float lambda, float *scratch);

#endif
