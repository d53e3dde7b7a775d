/* SPDX-License-Identifier: MIT */
/* prdiv_internal.h — private helpers shared by the files of src/prdiv (never installed). */
#ifndef GM_PRDIV_INTERNAL_H
#define GM_PRDIV_INTERNAL_H

#include <stddef.h>

#include "genmix/prdiv.h"
#include "genmix/optim.h"
#include "genmix/rng.h"
#include "genmix/tape.h"

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
/* ---- shared by the GAN trainers (prdiv_gan_common.c) ---- */
/* Where a trainer keeps its pieces in its gm_params table: first tensor of G, of EMA(G), the three
 * spectral-norm vectors (t_u .. t_u+2) and the Adam moments (t_gm: G.m, G.v, D.m, D.v); n_g / n_d the floats
 * spanned by G and by D in the slab (padding included). */
typedef struct {
    size_t t_g, t_ema, t_u, t_gm, n_g, n_d, t_d;
} gm__gan_layout;
/* One GAN iteration as both trainers run it (spec §2.2): n_critic critic steps (G frozen, noise chunk s, real
 * chunk s), then the generator step (fresh noise, real chunk 0), the α̂/β̂ of ratio_obj as a diagnostic, the
 * status (if st), the generator update and EMA. The real rows are in xr already; the noise is z_in's chunks
 * or drawn from the Philox stream keyed by the iteration. G(net, z, frozen) is the trained generator and
 * D(net, x, frozen) the critic. */
typedef struct {
    void *net;
    gm_var *(*G)(void *net, gm_var *z, int frozen);
    gm_var *(*D)(void *net, gm_var *x, int frozen);
    const char *who; /* message prefix */
    gm_tape *tape;
    gm_params *P;
    const gm__gan_layout *L;
    gm_optim *opt_g, *opt_d;
    int64_t *step;
    float *xr, *z; /* n_critic chunks of `row`-float rows; batch*dim_z */
    const float *z_in;
    size_t batch, dim_z, n_critic, row;
    int x_nd;
    const int64_t *x_shape; /* batch rows */
    uint64_t seed;
    gm_gan_objective crit_obj, gen_obj, ratio_obj;
    float lambda, lr_g, lr_d, thr, ema_decay;
    int64_t ema_start;
    float *scratch; /* batch floats, for the status */
} gm__gan_iter;
int gm__gan_iterate(const gm__gan_iter *it, gm_gan_status *st);
/* n samples of G(net, z, ema) (rows of `row` floats) from noise stream `stream` of `seed`, in chunks of `chunk`
 * rows; to_unit maps the generator's [−1, 1] to [0, 1]. */
int gm__gan_sample_loop(void *net, gm_var *(*G)(void *net, gm_var *z, int ema), gm_tape *t, uint64_t seed, size_t Z,
                        size_t chunk, size_t row, int to_unit, float *x, size_t n, int ema, uint64_t stream);
/* The tail of create: EMA(G) = G, the spectral-norm vectors ~ N(0, 1) normalised (from r), the two Adam
 * optimisers pointing into the table. */
void gm__gan_init_tail(gm_params *P, const gm__gan_layout *L, gm_rng *r, float beta1, float beta2, float eps,
                       gm_optim *opt_g, gm_optim *opt_d);
/* The tail of an iteration: Adam step of G with the gradient in the table's grad slab, ++*step, then
 * EMA(G) = G up to ema_start, an EMA update after. */
void gm__gan_gen_update(gm_params *P, const gm__gan_layout *L, gm_optim *opt_g, float lr_g, int64_t *step,
                        int64_t ema_start, float ema_decay);
/* The diagnostics of a generator batch (accuracies at threshold thr, % at the χ² clamp, % with a PR gradient
 * of the ratio of ratio_obj, quantiles of v_f) into st; scratch: B floats. */
void gm__gan_status_fill(gm_gan_status *st, const float *vf, const float *vr, size_t B, float thr,
                         gm_gan_objective ratio_obj, float lambda, float *scratch);
/* Open a trainer checkpoint and check it holds model `model_name` with config, step and seed (borrowed from
 * *ck); on failure *ck is closed and NULL, the message names the file and `what`. */
int gm__gan_ckpt_open(gm_checkpoint **ck, const char *path, const char *model_name, const char *what, const char **js,
                      const char **step, const char **seed);
/* Number member `key` of js into *x (1); 0 with *bad = 1 when it is missing or malformed, also *oom = 1 when
 * an allocation failed (then every later call fails without trying). */
int gm__json_num(const char *js, const char *key, int *bad, int *oom, double *x);
/* String member `key` of js into v (1), else 0 with *bad / *oom as gm__json_num. */
int gm__json_str(const char *js, const char *key, int *bad, int *oom, char *v, size_t len);
/* One numeric member of a checkpoint config: key, the type of the config-struct field at `offset`, and
 * whether it may be absent (then the field keeps its default). The value is read as gm__json_num does and
 * cast from double to the field's type. */
typedef enum { GM__CK_F32, GM__CK_SIZE, GM__CK_I64, GM__CK_INT } gm__ck_type;
typedef struct {
    const char *key;
    gm__ck_type type;
    size_t offset;
    int optional;
} gm__ck_field;
/* A row for member k of struct T with type F32, SIZE, I64 or INT; a member of another C type does not compile. */
#define GM__CK_REQ(T, k, t) {#k, GM__CK_##t, GM__CK_OFF(T, k, t), 0}
#define GM__CK_OPT(T, k, t) {#k, GM__CK_##t, GM__CK_OFF(T, k, t), 1}
#define GM__CK_OFF(T, k, t) \
    (offsetof(T, k) + 0 * sizeof(char[_Generic(((T *)0)->k, GM__CK_CTYPE_##t: 1, default: -1)]))
#define GM__CK_CTYPE_F32 float
#define GM__CK_CTYPE_SIZE size_t
#define GM__CK_CTYPE_I64 int64_t
#define GM__CK_CTYPE_INT int
/* Read the n rows of f from js into the struct cfg, in table order: a required row that is missing or
 * malformed sets *bad; an allocation failure sets *oom (and every later row fails without trying). */
void gm__ckpt_read_fields(const char *js, const gm__ck_field *f, size_t n, void *cfg, int *bad, int *oom);
/* The end of reading a trainer config: GM_OK when neither oom nor bad; else closes ck and fails with
 * GM_ENOMEM (the allocation's message prefixed by path) or GM_EFORMAT "malformed <what> config". */
int gm__ckpt_config_end(gm_checkpoint *ck, const char *path, const char *what, int bad, int oom);

/* Image flow (prdiv_iflow.c): one MLE step with per-row weights w (batch floats; NULL = 1): the loss is
 * −mean_b(w_b log p(y_b))/(D ln 2) (procedure B's weighted MLE). */
int gm__iflow_step_with(gm_iflow *f, const float *w, double *bpd);
/* Procedure B's weight w = f_λ′(r) − f_λ(r)/r of spec §3 (λ ≥ 1: λ/r if λr > 1 else (λ−1)/r; λ < 1: 1/r if λr > 1
 * else 0), clipped to [0, 100] (prdiv_flowtrain.c). */
double gm__prdiv_weight_b(double lam, double r);

#endif
