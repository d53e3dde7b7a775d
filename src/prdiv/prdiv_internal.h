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

#endif
