/* SPDX-License-Identifier: MIT */
/* tape.c — the eager autodiff tape: leaf variables, node recording, reverse pass, and the ops that wrap
 * the nn kernels. Owns: its arena (values, gradients, caches, vars) and the node array (kept across
 * resets, so a steady-state step does not call malloc). Thread safety: one tape per thread. */
#include <string.h>

#include "genmix/rng.h"
#include "genmix/tape.h"
#include "nn_internal.h"

struct gm_tape {
    gm_arena *arena;
    gm_node *nodes;
    size_t n, cap;
    int no_grad;
    int status;
    void *scratch; /* gm__tape_scratch: one buffer reused by every kernel call (kept across resets) */
    size_t scratch_cap;
};

/* ==== lifecycle ================================================================================ */

int gm_tape_create(gm_tape **out, size_t arena_bytes) {
    *out = NULL;
    gm_tape *t = gm_calloc(1, sizeof *t);
    if (!t) return GM_ENOMEM;
    int rc = gm_arena_create(&t->arena, arena_bytes);
    if (rc != GM_OK) {
        gm_free(t);
        return rc;
    }
    *out = t;
    return GM_OK;
}

void gm_tape_free(gm_tape *t) {
    if (!t) return;
    gm_arena_free(t->arena);
    gm_free(t->nodes);
    gm_free(t->scratch);
    gm_free(t);
}

void gm_tape_reset(gm_tape *t) {
    t->n = 0;
    t->status = GM_OK;
    gm_arena_reset(t->arena);
}

int gm_tape_no_grad(gm_tape *t, int on) {
    int prev = t->no_grad;
    t->no_grad = on;
    return prev;
}
int gm_tape_status(const gm_tape *t) { return t->status; }
gm_arena *gm_tape_arena(gm_tape *t) { return t->arena; }
size_t gm_tape_node_count(const gm_tape *t) { return t->n; }

gm_var *gm_tape_fail(gm_tape *t, int code, const char *msg) {
    if (t->status == GM_OK) {
        t->status = code;
        if (msg) gm_set_error(code, "%s", msg);
    }
    return NULL;
}

/* ==== variables ================================================================================ */

static gm_var *new_var(gm_tape *t, float *val, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > 4) return gm_tape_fail(t, GM_EINVAL, "tape: a variable has at most 4 dims");
    gm_var *v = gm_arena_alloc(t->arena, sizeof *v);
    if (!v) return gm_tape_fail(t, GM_ENOMEM, NULL);
    memset(v, 0, sizeof *v);
    v->ndim = ndim;
    v->n = 1;
    for (int i = 0; i < 4; i++) {
        v->shape[i] = i < ndim ? shape[i] : 1;
        if (i < ndim) {
            if (shape[i] < 0) return gm_tape_fail(t, GM_EINVAL, "tape: negative dimension");
            v->n *= (size_t)shape[i];
        }
    }
    if (val)
        v->val = val;
    else {
        v->val = gm_arena_alloc(t->arena, (v->n ? v->n : 1) * sizeof(float));
        if (!v->val) return gm_tape_fail(t, GM_ENOMEM, NULL);
    }
    return v;
}

gm_var *gm_tape_param(gm_tape *t, float *val, float *grad, int ndim, const int64_t *shape) {
    GM_ASSERT(t && val);
    gm_var *v = new_var(t, val, ndim, shape);
    if (!v) return NULL;
    v->grad = grad;
    v->requires_grad = grad != NULL;
    return v;
}

gm_var *gm_tape_input(gm_tape *t, float *val, int ndim, const int64_t *shape, int requires_grad) {
    GM_ASSERT(t && val);
    gm_var *v = new_var(t, val, ndim, shape);
    if (v) v->requires_grad = requires_grad != 0;
    return v;
}

gm_var *gm_tape_new(gm_tape *t, int ndim, const int64_t *shape, int requires_grad) {
    gm_var *v = new_var(t, NULL, ndim, shape);
    if (v) v->requires_grad = requires_grad != 0;
    return v;
}

gm_var *gm_var_detach(gm_tape *t, gm_var *v) {
    if (!v) return NULL;
    gm_var *d = new_var(t, v->val, v->ndim, v->shape);
    return d;
}

float *gm_tape_grad(gm_tape *t, gm_var *v) {
    if (!v || !v->requires_grad) return NULL;
    if (!v->grad) {
        v->grad = gm_arena_floats(t->arena, v->n ? v->n : 1);
        if (!v->grad) gm_tape_fail(t, GM_ENOMEM, NULL);
    }
    return v->grad;
}

gm_node *gm_tape_record(gm_tape *t, gm_backward_fn fn, gm_var *out, int nin, gm_var *const *in) {
    GM_ASSERT(nin >= 0 && nin <= 4);
    int need = 0;
    for (int i = 0; i < nin; i++) need |= in[i] && in[i]->requires_grad;
    out->requires_grad = need && !t->no_grad;
    if (!out->requires_grad) return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        gm_node *p = gm_realloc(t->nodes, cap * sizeof *p);
        if (!p) {
            gm_tape_fail(t, GM_ENOMEM, NULL);
            out->requires_grad = 0;
            return NULL;
        }
        t->nodes = p;
        t->cap = cap;
    }
    gm_node *n = &t->nodes[t->n++];
    memset(n, 0, sizeof *n);
    n->backward = fn;
    n->out = out;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    return n;
}

/* ==== backward ================================================================================= */

int gm_tape_backward_from(gm_tape *t, gm_var *out, const float *dout) {
    if (t->status != GM_OK) return t->status;
    if (!out) GM_FAIL(GM_EINVAL, "tape: backward from a NULL variable");
    if (!out->requires_grad) GM_FAIL(GM_EINVAL, "tape: backward from a variable that does not require a gradient");
    /* a second backward on the same tape starts from clean intermediate gradients (leaf gradients keep
     * accumulating, as parameters' do) */
    for (size_t i = 0; i < t->n; i++)
        if (t->nodes[i].out->grad) memset(t->nodes[i].out->grad, 0, t->nodes[i].out->n * sizeof(float));
    float *g = gm_tape_grad(t, out);
    if (!g) return t->status;
    for (size_t i = 0; i < out->n; i++) g[i] += dout[i];
    for (size_t i = t->n; i-- > 0;) {
        gm_node *n = &t->nodes[i];
        if (!n->out->grad) continue; /* nothing flowed into this node */
        n->backward(t, n);
        if (t->status != GM_OK) return t->status;
    }
    return GM_OK;
}

int gm_tape_backward(gm_tape *t, gm_var *loss) {
    if (loss && loss->n != 1) GM_FAIL(GM_ESHAPE, "tape: backward needs a scalar loss (got %zu elements)", loss->n);
    const float one = 1.0f;
    return gm_tape_backward_from(t, loss, &one);
}

/* ==== ops ====================================================================================== */

#define G(v) gm_tape_grad(t, (v))
#define NEED(v)                                                          \
    do {                                                                 \
        if (!(v)) return gm_tape_fail(t, GM_EINVAL, NULL);              \
    } while (0)

static gm_var *shape_fail(gm_tape *t, const char *op, const char *what) {
    if (t->status == GM_OK) {
        t->status = GM_ESHAPE;
        gm_set_error(GM_ESHAPE, "%s: %s", op, what);
    }
    return NULL;
}

/* Scratch that lives only during one kernel call (forward or backward): reusing one buffer keeps it in
 * cache, where fresh arena memory for every call would stream from RAM. Contents are undefined. */
void *gm__tape_scratch(gm_tape *t, size_t bytes) {
    if (bytes > t->scratch_cap) {
        gm_free(t->scratch);
        t->scratch_cap = 0;
        t->scratch = gm_malloc(bytes);
        if (!t->scratch) {
            gm_tape_fail(t, GM_ENOMEM, NULL);
            return NULL;
        }
        t->scratch_cap = bytes;
    }
    return t->scratch;
}

/* The gradient buffer of v for a kernel that writes every element: when nothing has flowed into v yet, the
 * buffer is allocated without zeroing and *fresh = 1 (the kernel then writes instead of adding). */
float *gm__tape_grad_unzeroed(gm_tape *t, gm_var *v, int *fresh) {
    *fresh = 0;
    if (!v || !v->requires_grad) return NULL;
    if (!v->grad) {
        v->grad = gm_arena_alloc(t->arena, (v->n ? v->n : 1) * sizeof(float));
        if (!v->grad) {
            gm_tape_fail(t, GM_ENOMEM, NULL);
            return NULL;
        }
        *fresh = 1;
    }
    return v->grad;
}

static void *save_buf(gm_tape *t, size_t bytes) {
    void *p = gm_arena_alloc(t->arena, bytes ? bytes : 1);
    if (!p) gm_tape_fail(t, GM_ENOMEM, NULL);
    return p;
}

/* ---- linear ---- */
static void bw_linear(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0], *w = n->in[1], *b = n->in[2];
    gm_linear_backward(G(x), G(w), b ? G(b) : NULL, n->out->grad, x->val, w->val, (size_t)n->ip[0],
                       (size_t)n->ip[1], (size_t)n->ip[2]);
}
gm_var *gm_op_linear(gm_tape *t, gm_var *x, gm_var *w, gm_var *b) {
    if (!x || !w || t->status) return gm_tape_fail(t, GM_EINVAL, "linear: NULL input");
    size_t B = (size_t)x->shape[0], C = B ? x->n / B : 0, OC = (size_t)w->shape[0];
    if (w->ndim != 2 || (size_t)w->shape[1] != C) return shape_fail(t, "linear", "weight is not (OC, C) for input (B, C)");
    if (b && b->n != OC) return shape_fail(t, "linear", "bias is not (OC)");
    int64_t sh[2] = {(int64_t)B, (int64_t)OC};
    gm_var *y = new_var(t, NULL, 2, sh);
    if (!y) return NULL;
    gm_linear_forward(y->val, x->val, w->val, b ? b->val : NULL, B, C, OC);
    gm_var *in[3] = {x, w, b};
    gm_node *n = gm_tape_record(t, bw_linear, y, 3, in);
    if (n) n->ip[0] = (int64_t)B, n->ip[1] = (int64_t)C, n->ip[2] = (int64_t)OC;
    return y;
}

/* ---- conv2d / conv-transpose2d ---- */
static gm_conv_dims dims_of(const gm_node *n) {
    gm_conv_dims d;
    d.B = (size_t)n->ip[0], d.C = (size_t)n->ip[1], d.H = (size_t)n->ip[2], d.W = (size_t)n->ip[3];
    d.OC = (size_t)n->ip[4], d.K = (size_t)n->ip[5], d.stride = (size_t)n->ip[6], d.pad = (size_t)n->ip[7];
    d.OH = (size_t)n->ip[8], d.OW = (size_t)n->ip[9];
    return d;
}
static void put_dims(gm_node *n, const gm_conv_dims *d) {
    n->ip[0] = (int64_t)d->B, n->ip[1] = (int64_t)d->C, n->ip[2] = (int64_t)d->H, n->ip[3] = (int64_t)d->W;
    n->ip[4] = (int64_t)d->OC, n->ip[5] = (int64_t)d->K, n->ip[6] = (int64_t)d->stride, n->ip[7] = (int64_t)d->pad;
    n->ip[8] = (int64_t)d->OH, n->ip[9] = (int64_t)d->OW;
}
static void bw_conv(gm_tape *t, gm_node *n) {
    gm_conv_dims d = dims_of(n);
    gm_var *b = n->in[2];
    if (n->save[2]) { /* the 1x1 path: no cache */
        gm__conv1x1_backward(G(n->in[0]), G(n->in[1]), b ? G(b) : NULL, n->out->grad, n->in[0]->val, n->in[1]->val,
                             &d);
        return;
    }
    if (n->save[1] || n->save[3]) { /* the 3x3 and stride-2 grid paths: nothing cached, the kernel re-lays
                                      * the input out when dW is needed */
        const int s2 = n->save[3] != NULL;
        float *work = gm__tape_scratch(t, (s2 ? gm__convs2_work_size(&d) : gm__conv3_work_size(&d)) * sizeof(float));
        int fresh = 0;
        float *din = work ? gm__tape_grad_unzeroed(t, n->in[0], &fresh) : NULL;
        if (work && t->status == GM_OK)
            (s2 ? gm__convs2_backward : gm__conv3_backward)(din, G(n->in[1]), b ? G(b) : NULL, n->out->grad,
                                                            n->in[0]->val, n->in[1]->val, &d, fresh, work);
        return;
    }
    float *work = gm__tape_scratch(t, gm_conv2d_work_size(&d) * sizeof(float));
    if (!work) return;
    gm_conv2d_backward(G(n->in[0]), G(n->in[1]), b ? G(b) : NULL, n->out->grad, n->save[0], n->in[1]->val, &d, work);
}
gm_var *gm_op_conv2d(gm_tape *t, gm_var *x, gm_var *w, gm_var *b, int stride, int pad) {
    if (!x || !w || t->status) return gm_tape_fail(t, GM_EINVAL, "conv2d: NULL input");
    if (x->ndim != 4 || w->ndim != 4 || w->shape[1] != x->shape[1] || w->shape[2] != w->shape[3])
        return shape_fail(t, "conv2d", "expected x(B,C,H,W) and w(OC,C,K,K)");
    if (b && b->n != (size_t)w->shape[0]) return shape_fail(t, "conv2d", "bias is not (OC)");
    gm_conv_dims d = {(size_t)x->shape[0], (size_t)x->shape[1], (size_t)x->shape[2], (size_t)x->shape[3],
                      (size_t)w->shape[0], (size_t)w->shape[2], (size_t)stride, (size_t)pad, 0, 0};
    if (stride < 1 || pad < 0 || gm_conv2d_dims(&d) != GM_OK) return shape_fail(t, "conv2d", gm_last_error());
    int64_t sh[4] = {(int64_t)d.B, (int64_t)d.OC, (int64_t)d.OH, (int64_t)d.OW};
    gm_var *y = new_var(t, NULL, 4, sh);
    /* four paths, told apart in the backward by the save slot that is set: 1x1 (one GEMM per image, save[2]);
     * 3x3 stride 1 pad 1 with SIMD (no im2col, nothing cached: the padded input lives in the reused scratch,
     * save[1]); K 3/4 stride 2 pad 1 on phase grids with SIMD (the same, save[3]); otherwise im2col + SGEMM
     * with the column matrix cached in save[0] */
    const int simd = gm__conv3_isa() != GM__ISA_C;
    const int s2 = gm__convs2_applies(&d);
    int path = !y ? -1 : gm__conv1x1_applies(&d) ? 2 : !simd ? 0 : gm__conv3_applies(&d) ? 1 : s2 ? 3 : 0;
    float *col = NULL, *work = NULL;
    if (path == 1) work = gm__tape_scratch(t, gm__conv3_work_size(&d) * sizeof(float));
    if (path == 3) work = gm__tape_scratch(t, gm__convs2_work_size(&d) * sizeof(float));
    if (path == 0) {
        col = save_buf(t, gm_conv2d_col_size(&d) * sizeof(float));
        /* forward scratch is only the OC x B*OH*OW product: the head of the work array */
        work = col ? gm__tape_scratch(t, d.OC * d.B * d.OH * d.OW * sizeof(float)) : NULL;
    }
    if (path < 0 || (path != 2 && !work)) return NULL;
    if (path == 3)
        gm__convs2_forward(y->val, x->val, w->val, b ? b->val : NULL, &d, work);
    else if (path == 2)
        gm__conv1x1_forward(y->val, x->val, w->val, b ? b->val : NULL, &d);
    else if (path == 1)
        gm__conv3_forward(y->val, x->val, w->val, b ? b->val : NULL, &d, work);
    else
        gm_conv2d_forward(y->val, col, x->val, w->val, b ? b->val : NULL, &d, work);
    gm_var *in[3] = {x, w, b};
    gm_node *n = gm_tape_record(t, bw_conv, y, 3, in);
    if (n) {
        put_dims(n, &d);
        n->save[path] = path ? (void *)x->val : col;
    }
    return y;
}

static void bw_conv_lrelu(gm_tape *t, gm_node *n) {
    gm_conv_dims d = dims_of(n);
    gm_var *b = n->in[2];
    float *work = gm__tape_scratch(t, gm__convs2_work_size(&d) * sizeof(float));
    int fresh = 0;
    float *din = work ? gm__tape_grad_unzeroed(t, n->in[0], &fresh) : NULL;
    if (work && t->status == GM_OK)
        gm__convs2_backward_lrelu(din, G(n->in[1]), b ? G(b) : NULL, n->out->grad, n->out->val, n->fp[0],
                                  n->in[0]->val, n->in[1]->val, &d, fresh, work);
}
gm_var *gm_op_conv2d_lrelu(gm_tape *t, gm_var *x, gm_var *w, gm_var *b, int stride, int pad, float alpha) {
    if (!x || !w || t->status) return gm_tape_fail(t, GM_EINVAL, "conv2d_lrelu: NULL input");
    gm_conv_dims d = {0};
    if (x->ndim == 4 && w->ndim == 4 && stride >= 1 && pad >= 0) {
        gm_conv_dims e = {(size_t)x->shape[0], (size_t)x->shape[1], (size_t)x->shape[2], (size_t)x->shape[3],
                          (size_t)w->shape[0], (size_t)w->shape[2], (size_t)stride, (size_t)pad, 0, 0};
        d = e;
    }
    /* the fused node only where its kernel applies; everything else (shape errors included) goes the
     * two-op way */
    if (!(alpha >= 0.0f) || w->ndim != 4 || w->shape[1] != x->shape[1] || w->shape[2] != w->shape[3] ||
        (b && b->n != (size_t)w->shape[0]) || d.K != 4 || gm_conv2d_dims(&d) != GM_OK || !gm__convs2_applies(&d) ||
        gm__conv3_isa() == GM__ISA_C)
        return gm_op_act(t, gm_op_conv2d(t, x, w, b, stride, pad), GM_ACT_LEAKY_RELU, alpha);
    int64_t sh[4] = {(int64_t)d.B, (int64_t)d.OC, (int64_t)d.OH, (int64_t)d.OW};
    gm_var *y = new_var(t, NULL, 4, sh);
    float *work = y ? gm__tape_scratch(t, gm__convs2_work_size(&d) * sizeof(float)) : NULL;
    if (!work) return NULL;
    gm__convs2_forward_lrelu(y->val, x->val, w->val, b ? b->val : NULL, alpha, &d, work);
    gm_var *in[3] = {x, w, b};
    gm_node *n = gm_tape_record(t, bw_conv_lrelu, y, 3, in);
    if (n) {
        put_dims(n, &d);
        n->fp[0] = alpha;
    }
    return y;
}

static void bw_crp(gm_tape *t, gm_node *n) {
    gm_conv_dims d = dims_of(n);
    float *work = save_buf(t, gm_conv_relu_pool_work_size(&d) * sizeof(float));
    if (!work) return;
    gm_var *x = n->in[0], *w = n->in[1], *b = n->in[2];
    gm_conv_relu_pool_backward(G(x), G(w), b ? G(b) : NULL, n->out->grad, n->save[0], x->val, w->val, &d, work);
}
gm_var *gm_op_conv_relu_pool(gm_tape *t, gm_var *x, gm_var *w, gm_var *b, int stride, int pad) {
    if (!x || !w || t->status) return gm_tape_fail(t, GM_EINVAL, "conv_relu_pool: NULL input");
    if (x->ndim != 4 || w->ndim != 4 || w->shape[1] != x->shape[1] || w->shape[2] != w->shape[3])
        return shape_fail(t, "conv_relu_pool", "expected x(B,C,H,W) and w(OC,C,K,K)");
    if (b && b->n != (size_t)w->shape[0]) return shape_fail(t, "conv_relu_pool", "bias is not (OC)");
    gm_conv_dims d = {(size_t)x->shape[0], (size_t)x->shape[1], (size_t)x->shape[2], (size_t)x->shape[3],
                      (size_t)w->shape[0], (size_t)w->shape[2], (size_t)stride, (size_t)pad, 0, 0};
    if (stride < 1 || pad < 0 || gm_conv2d_dims(&d) != GM_OK) return shape_fail(t, "conv_relu_pool", gm_last_error());
    if (d.OH < 2 || d.OW < 2) return shape_fail(t, "conv_relu_pool", "conv output smaller than the 2x2 pool");
    int64_t sh[4] = {(int64_t)d.B, (int64_t)d.OC, (int64_t)(d.OH / 2), (int64_t)(d.OW / 2)};
    gm_var *y = new_var(t, NULL, 4, sh);
    int32_t *am = y ? save_buf(t, y->n * sizeof(int32_t)) : NULL;
    float *work = am ? save_buf(t, gm_conv_relu_pool_work_size(&d) * sizeof(float)) : NULL;
    if (!work) return NULL;
    gm_conv_relu_pool_forward(y->val, am, x->val, w->val, b ? b->val : NULL, &d, work);
    gm_var *in[3] = {x, w, b};
    gm_node *n = gm_tape_record(t, bw_crp, y, 3, in);
    if (n) {
        put_dims(n, &d);
        n->save[0] = am;
    }
    return y;
}

static void bw_convt(gm_tape *t, gm_node *n) {
    gm_conv_dims d = dims_of(n);
    gm_var *b = n->in[2];
    if (n->save[1]) { /* the stride-2 grid path (as in bw_conv) */
        float *work = gm__tape_scratch(t, gm__convts2_work_size(&d) * sizeof(float));
        int fresh = 0;
        float *din = work ? gm__tape_grad_unzeroed(t, n->in[0], &fresh) : NULL;
        if (work && t->status == GM_OK)
            gm__convts2_backward(din, G(n->in[1]), b ? G(b) : NULL, n->out->grad, n->in[0]->val, n->in[1]->val, &d,
                                 fresh, work);
        return;
    }
    float *work = save_buf(t, gm_conv_transpose2d_work_size(&d) * sizeof(float));
    if (!work) return;
    gm_conv_transpose2d_backward(G(n->in[0]), G(n->in[1]), b ? G(b) : NULL, n->out->grad, n->in[0]->val,
                                 n->in[1]->val, &d, work);
}
gm_var *gm_op_conv_transpose2d(gm_tape *t, gm_var *x, gm_var *w, gm_var *b, int stride, int pad) {
    if (!x || !w || t->status) return gm_tape_fail(t, GM_EINVAL, "conv_transpose2d: NULL input");
    if (x->ndim != 4 || w->ndim != 4 || w->shape[0] != x->shape[1] || w->shape[2] != w->shape[3])
        return shape_fail(t, "conv_transpose2d", "expected x(B,C,H,W) and w(C,OC,K,K)");
    if (b && b->n != (size_t)w->shape[1]) return shape_fail(t, "conv_transpose2d", "bias is not (OC)");
    gm_conv_dims d = {(size_t)x->shape[0], (size_t)x->shape[1], (size_t)x->shape[2], (size_t)x->shape[3],
                      (size_t)w->shape[1], (size_t)w->shape[2], (size_t)stride, (size_t)pad, 0, 0};
    if (stride < 1 || pad < 0 || gm_conv_transpose2d_dims(&d) != GM_OK)
        return shape_fail(t, "conv_transpose2d", gm_last_error());
    int64_t sh[4] = {(int64_t)d.B, (int64_t)d.OC, (int64_t)d.OH, (int64_t)d.OW};
    gm_var *y = new_var(t, NULL, 4, sh);
    /* K 3/4 stride 2 pad 1 with SIMD: the grid kernels, work in the reused scratch, nothing cached (save[1]
     * marks the path); otherwise GEMM + col2im with work in the arena */
    const int s2 = gm__convts2_applies(&d) && gm__conv3_isa() != GM__ISA_C;
    float *work = !y ? NULL
                  : s2 ? gm__tape_scratch(t, gm__convts2_work_size(&d) * sizeof(float))
                       : save_buf(t, gm_conv_transpose2d_work_size(&d) * sizeof(float));
    if (!work) return NULL;
    if (s2)
        gm__convts2_forward(y->val, x->val, w->val, b ? b->val : NULL, &d, work);
    else
        gm_conv_transpose2d_forward(y->val, x->val, w->val, b ? b->val : NULL, &d, work);
    gm_var *in[3] = {x, w, b};
    gm_node *n = gm_tape_record(t, bw_convt, y, 3, in);
    if (n) {
        put_dims(n, &d);
        if (s2) n->save[1] = (void *)x->val;
    }
    return y;
}

/* ---- pooling / upsampling ---- */
static void bw_maxpool(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0];
    gm_maxpool2d_backward(G(x), n->out->grad, n->save[0], (size_t)(x->shape[0] * x->shape[1]), (size_t)x->shape[2],
                          (size_t)x->shape[3], (size_t)n->ip[0], (size_t)n->ip[1]);
}
static void bw_avgpool(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0];
    gm_avgpool2d_backward(G(x), n->out->grad, (size_t)(x->shape[0] * x->shape[1]), (size_t)x->shape[2],
                          (size_t)x->shape[3], (size_t)n->ip[0], (size_t)n->ip[1]);
}
static gm_var *pool(gm_tape *t, gm_var *x, int k, int s, int is_max) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, "pool: NULL input");
    if (x->ndim != 4 || k < 1 || s < 1 || x->shape[2] < k || x->shape[3] < k)
        return shape_fail(t, is_max ? "maxpool2d" : "avgpool2d", "expected x(B,C,H,W) with H, W >= window");
    int64_t sh[4] = {x->shape[0], x->shape[1], (x->shape[2] - k) / s + 1, (x->shape[3] - k) / s + 1};
    gm_var *y = new_var(t, NULL, 4, sh);
    if (!y) return NULL;
    size_t BC = (size_t)(x->shape[0] * x->shape[1]);
    int32_t *am = NULL;
    if (is_max) {
        am = save_buf(t, y->n * sizeof(int32_t));
        if (!am) return NULL;
        gm_maxpool2d_forward(y->val, am, x->val, BC, (size_t)x->shape[2], (size_t)x->shape[3], (size_t)k, (size_t)s);
    } else
        gm_avgpool2d_forward(y->val, x->val, BC, (size_t)x->shape[2], (size_t)x->shape[3], (size_t)k, (size_t)s);
    gm_node *n = gm_tape_record(t, is_max ? bw_maxpool : bw_avgpool, y, 1, &x);
    if (n) n->ip[0] = k, n->ip[1] = s, n->save[0] = am;
    return y;
}
gm_var *gm_op_maxpool2d(gm_tape *t, gm_var *x, int k, int stride) { return pool(t, x, k, stride, 1); }
gm_var *gm_op_avgpool2d(gm_tape *t, gm_var *x, int k, int stride) { return pool(t, x, k, stride, 0); }

static void bw_upsample(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0];
    gm_upsample_nearest_backward(G(x), n->out->grad, (size_t)(x->shape[0] * x->shape[1]), (size_t)x->shape[2],
                                 (size_t)x->shape[3], (size_t)n->ip[0]);
}
gm_var *gm_op_upsample(gm_tape *t, gm_var *x, int f) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, "upsample: NULL input");
    if (x->ndim != 4 || f < 1) return shape_fail(t, "upsample", "expected x(B,C,H,W) and factor >= 1");
    int64_t sh[4] = {x->shape[0], x->shape[1], x->shape[2] * f, x->shape[3] * f};
    gm_var *y = new_var(t, NULL, 4, sh);
    if (!y) return NULL;
    gm_upsample_nearest_forward(y->val, x->val, (size_t)(x->shape[0] * x->shape[1]), (size_t)x->shape[2],
                                (size_t)x->shape[3], (size_t)f);
    gm_node *n = gm_tape_record(t, bw_upsample, y, 1, &x);
    if (n) n->ip[0] = f;
    return y;
}

/* ---- activations ---- */
static void bw_act(gm_tape *t, gm_node *n) {
    gm_act_backward((gm_act)n->ip[0], G(n->in[0]), n->out->grad, n->in[0]->val, n->out->val, n->out->n, n->fp[0]);
}
gm_var *gm_op_act(gm_tape *t, gm_var *x, gm_act act, float alpha) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, "act: NULL input");
    if ((unsigned)act >= GM_ACT_COUNT) return gm_tape_fail(t, GM_EINVAL, "act: unknown activation");
    if (act == GM_ACT_IDENTITY) return x;
    gm_var *y = new_var(t, NULL, x->ndim, x->shape);
    if (!y) return NULL;
    gm_act_forward(act, y->val, x->val, x->n, alpha);
    gm_node *n = gm_tape_record(t, bw_act, y, 1, &x);
    if (n) n->ip[0] = act, n->fp[0] = alpha;
    return y;
}

/* ---- normalisation ---- */
static void bw_layernorm(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0], *g = n->in[1], *b = n->in[2];
    size_t C = (size_t)n->ip[0], N = x->n / C;
    gm_layernorm_backward(G(x), g ? G(g) : NULL, b ? G(b) : NULL, n->out->grad, x->val, n->save[0], n->save[1],
                          g ? g->val : NULL, N, C);
}
gm_var *gm_op_layernorm(gm_tape *t, gm_var *x, gm_var *gamma, gm_var *beta, float eps) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, "layernorm: NULL input");
    size_t C = (size_t)x->shape[x->ndim ? x->ndim - 1 : 0], N = C ? x->n / C : 0;
    if ((gamma && gamma->n != C) || (beta && beta->n != C)) return shape_fail(t, "layernorm", "gamma/beta are not (C)");
    gm_var *y = new_var(t, NULL, x->ndim, x->shape);
    float *mean = y ? save_buf(t, N * sizeof(float)) : NULL, *rstd = mean ? save_buf(t, N * sizeof(float)) : NULL;
    if (!rstd) return NULL;
    gm_layernorm_forward(y->val, mean, rstd, x->val, gamma ? gamma->val : NULL, beta ? beta->val : NULL, N, C, eps);
    gm_var *in[3] = {x, gamma, beta};
    gm_node *n = gm_tape_record(t, bw_layernorm, y, 3, in);
    if (n) n->ip[0] = (int64_t)C, n->save[0] = mean, n->save[1] = rstd;
    return y;
}

static void bw_groupnorm(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0], *g = n->in[1], *b = n->in[2];
    size_t B = (size_t)x->shape[0], C = (size_t)x->shape[1], S = x->n / (B * C);
    gm_groupnorm_backward(G(x), g ? G(g) : NULL, b ? G(b) : NULL, n->out->grad, x->val, n->save[0], n->save[1],
                          g ? g->val : NULL, B, C, S, (size_t)n->ip[0]);
}
gm_var *gm_op_groupnorm(gm_tape *t, gm_var *x, int groups, gm_var *gamma, gm_var *beta, float eps) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, "groupnorm: NULL input");
    if (x->ndim < 2 || groups < 1 || x->shape[1] % groups) return shape_fail(t, "groupnorm", "channels not divisible by groups");
    size_t B = (size_t)x->shape[0], C = (size_t)x->shape[1], S = x->n / (B * C);
    if ((gamma && gamma->n != C) || (beta && beta->n != C)) return shape_fail(t, "groupnorm", "gamma/beta are not (C)");
    gm_var *y = new_var(t, NULL, x->ndim, x->shape);
    size_t nG = B * (size_t)groups;
    float *mean = y ? save_buf(t, nG * sizeof(float)) : NULL, *rstd = mean ? save_buf(t, nG * sizeof(float)) : NULL;
    if (!rstd) return NULL;
    gm_groupnorm_forward(y->val, mean, rstd, x->val, gamma ? gamma->val : NULL, beta ? beta->val : NULL, B, C, S,
                         (size_t)groups, eps);
    gm_var *in[3] = {x, gamma, beta};
    gm_node *n = gm_tape_record(t, bw_groupnorm, y, 3, in);
    if (n) n->ip[0] = groups, n->save[0] = mean, n->save[1] = rstd;
    return y;
}

/* ---- elementwise ---- */
static void bw_dropout(gm_tape *t, gm_node *n) { gm_dropout_backward(G(n->in[0]), n->out->grad, n->save[0], n->out->n); }
gm_var *gm_op_dropout(gm_tape *t, gm_var *x, float p, void *rng) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, "dropout: NULL input");
    if (p == 0.0f) return x;
    if (!(p > 0.0f && p < 1.0f) || !rng) return gm_tape_fail(t, GM_EINVAL, "dropout: p must be in [0, 1) with an rng");
    gm_var *y = new_var(t, NULL, x->ndim, x->shape);
    float *mask = y ? save_buf(t, x->n * sizeof(float)) : NULL;
    if (!mask) return NULL;
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < x->n; i++) mask[i] = gm_rng_uniform((gm_rng *)rng) < (double)p ? 0.0f : keep;
    gm_dropout_forward(y->val, x->val, mask, x->n);
    gm_node *n = gm_tape_record(t, bw_dropout, y, 1, &x);
    if (n) n->save[0] = mask;
    return y;
}

static gm_var *binary_same(gm_tape *t, gm_var *a, gm_var *b, const char *op) {
    if (!a || !b || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    if (a->n != b->n) return shape_fail(t, op, "operands differ in size");
    return new_var(t, NULL, a->ndim, a->shape);
}
static void bw_add(gm_tape *t, gm_node *n) { gm_add_backward(G(n->in[0]), G(n->in[1]), n->out->grad, n->out->n); }
gm_var *gm_op_add(gm_tape *t, gm_var *a, gm_var *b) {
    gm_var *y = binary_same(t, a, b, "add");
    if (!y) return NULL;
    gm_add_forward(y->val, a->val, b->val, y->n);
    gm_var *in[2] = {a, b};
    gm_tape_record(t, bw_add, y, 2, in);
    return y;
}
static void bw_mul(gm_tape *t, gm_node *n) {
    gm_mul_backward(G(n->in[0]), G(n->in[1]), n->out->grad, n->in[0]->val, n->in[1]->val, n->out->n);
}
gm_var *gm_op_mul(gm_tape *t, gm_var *a, gm_var *b) {
    gm_var *y = binary_same(t, a, b, "mul");
    if (!y) return NULL;
    gm_mul_forward(y->val, a->val, b->val, y->n);
    gm_var *in[2] = {a, b};
    gm_tape_record(t, bw_mul, y, 2, in);
    return y;
}
static void bw_scale(gm_tape *t, gm_node *n) { gm_scale_backward(G(n->in[0]), n->out->grad, n->fp[0], n->out->n); }
gm_var *gm_op_scale(gm_tape *t, gm_var *x, float s, float c) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    gm_var *y = new_var(t, NULL, x->ndim, x->shape);
    if (!y) return NULL;
    gm_scale_forward(y->val, x->val, s, c, x->n);
    gm_node *n = gm_tape_record(t, bw_scale, y, 1, &x);
    if (n) n->fp[0] = s;
    return y;
}
static void bw_add_channel(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0];
    size_t B = (size_t)x->shape[0], C = (size_t)x->shape[1];
    gm_add_channel_backward(G(x), G(n->in[1]), n->out->grad, B, C, x->n / (B * C));
}
gm_var *gm_op_add_channel(gm_tape *t, gm_var *x, gm_var *v) {
    if (!x || !v || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    if (x->ndim < 2 || v->n != (size_t)(x->shape[0] * x->shape[1])) return shape_fail(t, "add_channel", "v is not (B, C)");
    gm_var *y = new_var(t, NULL, x->ndim, x->shape);
    if (!y) return NULL;
    size_t B = (size_t)x->shape[0], C = (size_t)x->shape[1];
    gm_add_channel_forward(y->val, x->val, v->val, B, C, x->n / (B * C));
    gm_var *in[2] = {x, v};
    gm_tape_record(t, bw_add_channel, y, 2, in);
    return y;
}

/* ---- concat / split / reshape ---- */
static void outer_inner(const gm_var *x, int axis, size_t *O, size_t *In) {
    *O = 1, *In = 1;
    for (int i = 0; i < axis; i++) *O *= (size_t)x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++) *In *= (size_t)x->shape[i];
}
static void bw_concat(gm_tape *t, gm_node *n) {
    gm_concat_backward(G(n->in[0]), G(n->in[1]), n->out->grad, (size_t)n->ip[0], (size_t)n->ip[1], (size_t)n->ip[2],
                       (size_t)n->ip[3]);
}
gm_var *gm_op_concat(gm_tape *t, gm_var *a, gm_var *b, int axis) {
    if (!a || !b || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    if (axis < 0 || axis >= a->ndim || a->ndim != b->ndim) return shape_fail(t, "concat", "bad axis or ranks differ");
    for (int i = 0; i < a->ndim; i++)
        if (i != axis && a->shape[i] != b->shape[i]) return shape_fail(t, "concat", "shapes differ off the axis");
    int64_t sh[4];
    memcpy(sh, a->shape, sizeof sh);
    sh[axis] = a->shape[axis] + b->shape[axis];
    gm_var *y = new_var(t, NULL, a->ndim, sh);
    if (!y) return NULL;
    size_t O, In;
    outer_inner(a, axis, &O, &In);
    gm_concat_forward(y->val, a->val, b->val, O, (size_t)a->shape[axis], (size_t)b->shape[axis], In);
    gm_var *in[2] = {a, b};
    gm_node *n = gm_tape_record(t, bw_concat, y, 2, in);
    if (n) n->ip[0] = (int64_t)O, n->ip[1] = a->shape[axis], n->ip[2] = b->shape[axis], n->ip[3] = (int64_t)In;
    return y;
}
/* split: each half is its own node (a slice), so either half may be unused */
static void bw_slice(gm_tape *t, gm_node *n) {
    size_t O = (size_t)n->ip[0], Ca = (size_t)n->ip[1], Cb = (size_t)n->ip[2], In = (size_t)n->ip[3];
    if (n->ip[4] == 0)
        gm_split_backward(G(n->in[0]), n->out->grad, NULL, O, Ca, Cb, In);
    else
        gm_split_backward(G(n->in[0]), NULL, n->out->grad, O, Ca, Cb, In);
}
int gm_op_split(gm_tape *t, gm_var *x, int axis, int64_t na, gm_var **a, gm_var **b) {
    *a = *b = NULL;
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, NULL), t->status;
    if (axis < 0 || axis >= x->ndim || na <= 0 || na >= x->shape[axis])
        return shape_fail(t, "split", "bad axis or split size"), t->status;
    size_t O, In;
    outer_inner(x, axis, &O, &In);
    int64_t sa[4], sb[4];
    memcpy(sa, x->shape, sizeof sa);
    memcpy(sb, x->shape, sizeof sb);
    sa[axis] = na;
    sb[axis] = x->shape[axis] - na;
    gm_var *ya = new_var(t, NULL, x->ndim, sa), *yb = ya ? new_var(t, NULL, x->ndim, sb) : NULL;
    if (!yb) return t->status;
    gm_split_forward(ya->val, yb->val, x->val, O, (size_t)sa[axis], (size_t)sb[axis], In);
    for (int k = 0; k < 2; k++) {
        gm_node *n = gm_tape_record(t, bw_slice, k ? yb : ya, 1, &x);
        if (n) n->ip[0] = (int64_t)O, n->ip[1] = sa[axis], n->ip[2] = sb[axis], n->ip[3] = (int64_t)In, n->ip[4] = k;
    }
    *a = ya, *b = yb;
    return t->status;
}

gm_var *gm_op_reshape(gm_tape *t, gm_var *x, int ndim, const int64_t *shape) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    gm_var *y = new_var(t, x->val, ndim, shape);
    if (!y) return NULL;
    if (y->n != x->n) return shape_fail(t, "reshape", "element count changes");
    /* no node: the output shares the value and the gradient buffer of x */
    y->requires_grad = x->requires_grad && !t->no_grad;
    if (y->requires_grad) {
        y->grad = G(x);
        if (!y->grad) return NULL;
    }
    return y;
}

/* ---- reductions and losses ---- */
static gm_var *scalar_out(gm_tape *t) {
    int64_t one = 1;
    return new_var(t, NULL, 0, &one);
}
static void bw_sum(gm_tape *t, gm_node *n) {
    if (n->ip[0])
        gm_mean_backward(G(n->in[0]), n->out->grad, n->in[0]->n);
    else
        gm_sum_backward(G(n->in[0]), n->out->grad, n->in[0]->n);
}
static gm_var *reduce(gm_tape *t, gm_var *x, int mean) {
    if (!x || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    if (mean && x->n == 0) return shape_fail(t, "mean", "empty input");
    gm_var *y = scalar_out(t);
    if (!y) return NULL;
    if (mean)
        gm_mean_forward(y->val, x->val, x->n);
    else
        gm_sum_forward(y->val, x->val, x->n);
    gm_node *n = gm_tape_record(t, bw_sum, y, 1, &x);
    if (n) n->ip[0] = mean;
    return y;
}
gm_var *gm_op_sum(gm_tape *t, gm_var *x) { return reduce(t, x, 0); }
gm_var *gm_op_mean(gm_tape *t, gm_var *x) { return reduce(t, x, 1); }

static void bw_xent(gm_tape *t, gm_node *n) {
    gm_softmax_xent_backward(G(n->in[0]), n->out->grad, n->save[0], n->save[1], (size_t)n->ip[0], (size_t)n->ip[1]);
}
gm_var *gm_op_softmax_xent(gm_tape *t, gm_var *logits, const int32_t *labels) {
    if (!logits || !labels || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    size_t B = (size_t)logits->shape[0], V = B ? logits->n / B : 0;
    if (B == 0 || V == 0) return shape_fail(t, "softmax_xent", "empty logits");
    for (size_t i = 0; i < B; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= V) {
            if (!t->status) {
                t->status = GM_EINVAL;
                gm_set_error(GM_EINVAL, "softmax_xent: label %d of row %zu is outside 0..%zu", (int)labels[i], i, V - 1);
            }
            return NULL;
        }
    gm_var *y = scalar_out(t);
    float *probs = y ? save_buf(t, logits->n * sizeof(float)) : NULL;
    int32_t *lab = probs ? save_buf(t, B * sizeof(int32_t)) : NULL;
    if (!lab) return NULL;
    memcpy(lab, labels, B * sizeof(int32_t));
    gm_softmax_xent_forward(y->val, NULL, probs, logits->val, lab, B, V);
    gm_node *n = gm_tape_record(t, bw_xent, y, 1, &logits);
    if (n) n->ip[0] = (int64_t)B, n->ip[1] = (int64_t)V, n->save[0] = probs, n->save[1] = lab;
    return y;
}

static void bw_bce(gm_tape *t, gm_node *n) {
    gm_bce_logits_backward(G(n->in[0]), G(n->in[1]), n->out->grad, n->in[0]->val, n->in[1]->val, n->in[0]->n);
}
gm_var *gm_op_bce_logits(gm_tape *t, gm_var *x, gm_var *target) {
    if (!x || !target || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    if (x->n != target->n || x->n == 0) return shape_fail(t, "bce_logits", "logits and targets differ in size");
    gm_var *y = scalar_out(t);
    if (!y) return NULL;
    gm_bce_logits_forward(y->val, x->val, target->val, x->n);
    gm_var *in[2] = {x, target};
    gm_tape_record(t, bw_bce, y, 2, in);
    return y;
}
static void bw_mse(gm_tape *t, gm_node *n) {
    gm_mse_backward(G(n->in[0]), G(n->in[1]), n->out->grad, n->in[0]->val, n->in[1]->val, n->in[0]->n);
}
gm_var *gm_op_mse(gm_tape *t, gm_var *a, gm_var *b) {
    if (!a || !b || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    if (a->n != b->n || a->n == 0) return shape_fail(t, "mse", "operands differ in size");
    gm_var *y = scalar_out(t);
    if (!y) return NULL;
    gm_mse_forward(y->val, a->val, b->val, a->n);
    gm_var *in[2] = {a, b};
    gm_tape_record(t, bw_mse, y, 2, in);
    return y;
}
static void bw_kl(gm_tape *t, gm_node *n) {
    size_t B = (size_t)n->in[0]->shape[0];
    gm_gauss_kl_backward(G(n->in[0]), G(n->in[1]), n->out->grad, n->in[0]->val, n->in[1]->val, B, n->in[0]->n / B);
}
gm_var *gm_op_gauss_kl(gm_tape *t, gm_var *mu, gm_var *logvar) {
    if (!mu || !logvar || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    if (mu->n != logvar->n || mu->n == 0 || mu->shape[0] < 1) return shape_fail(t, "gauss_kl", "mu and logvar differ in size");
    gm_var *y = scalar_out(t);
    if (!y) return NULL;
    size_t B = (size_t)mu->shape[0];
    gm_gauss_kl_forward(y->val, mu->val, logvar->val, B, mu->n / B);
    gm_var *in[2] = {mu, logvar};
    gm_tape_record(t, bw_kl, y, 2, in);
    return y;
}
static void bw_temb(gm_tape *t, gm_node *n) {
    gm_time_embed_backward(G(n->in[0]), n->out->grad, n->in[0]->val, n->in[0]->n, (size_t)n->ip[0], 10000.0f);
}
gm_var *gm_op_time_embed(gm_tape *t, gm_var *tv, int dim) {
    if (!tv || t->status) return gm_tape_fail(t, GM_EINVAL, NULL);
    if (dim < 2 || dim % 2) return shape_fail(t, "time_embed", "dim must be even and >= 2");
    int64_t sh[2] = {(int64_t)tv->n, dim};
    gm_var *y = new_var(t, NULL, 2, sh);
    if (!y) return NULL;
    gm_time_embed_forward(y->val, tv->val, tv->n, (size_t)dim, 10000.0f);
    gm_node *n = gm_tape_record(t, bw_temb, y, 1, &tv);
    if (n) n->ip[0] = dim;
    return y;
}
