/* SPDX-License-Identifier: MIT */
/* py_align.c — genmix.align: DAS (tempered, twisted SMC; genmix/das.h) driving the caller's own diffusion
 * model and reward through Python callables, or the built-in closed-form toys ("toy:gmm1"/"toy:gmm2"
 * denoisers, toy reward specs).
 *
 * The SMC state machine runs in C with the GIL released; each denoiser / reward call re-acquires it only
 * around the Python callback (PyGILState_Ensure), hands the rows over as a fresh (n, dim) float32 array
 * and converts the result back (any real dtype, C order; shape checked). An exception raised inside a
 * callback, or a result of the wrong shape, stops the run: it is kept and re-raised when align returns
 * (the C side sees an error status and frees everything).
 * Owns: the per-call callback context, the schedule, the toy mixture and the DAS object (all freed before
 * returning). Thread safety: call with the GIL held; the callbacks run on the calling thread. */
#include "py_internal.h"

#include <math.h>
#include <string.h>

#include "genmix/das.h"

typedef struct {
    PyObject *den, *vjp, *rw; /* borrowed callables (None/NULL if unused) */
    size_t dim;
    PyObject *et, *ev, *etb;  /* the first failure (exception type, value, traceback) */
} cb_ctx;

/* Keep the pending Python exception in ctx (the first one wins) and return a library error status. */
static int cb_fail(cb_ctx *c) {
    if (!c->et)
        PyErr_Fetch(&c->et, &c->ev, &c->etb);
    else
        PyErr_Clear();
    gm_set_error(GM_EINVAL, "Python callback failed");
    return GM_EINVAL;
}

/* New (n, dim) float32 array holding a copy of x. */
static PyObject *rows_array(const float *x, size_t n, size_t dim) {
    npy_intp sh[2] = {(npy_intp)n, (npy_intp)dim};
    PyObject *a = PyArray_SimpleNew(2, sh, NPY_FLOAT32);
    if (a && n * dim != 0) memcpy(PyArray_DATA((PyArrayObject *)a), x, n * dim * sizeof(float));
    return a;
}

/* Copy obj (array-like of n*dim reals, shape (n, dim)) into out as float32; -1 with ValueError otherwise. */
static int take_rows(PyObject *obj, size_t n, size_t dim, float *out, const char *what) {
    PyArrayObject *a = (PyArrayObject *)PyArray_FromAny(obj, PyArray_DescrFromType(NPY_FLOAT32), 0, 0,
                                                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED |
                                                            NPY_ARRAY_FORCECAST,
                                                        NULL);
    if (!a) return -1;
    if (PyArray_NDIM(a) != 2 || (size_t)PyArray_DIM(a, 0) != n || (size_t)PyArray_DIM(a, 1) != dim) {
        PyErr_Format(PyExc_ValueError, "%s must return an array of shape (%zu, %zu), got %d dimensions%s", what, n,
                     dim, PyArray_NDIM(a), PyArray_NDIM(a) == 2 ? " of another shape" : "");
        Py_DECREF(a);
        return -1;
    }
    memcpy(out, PyArray_DATA(a), n * dim * sizeof(float));
    Py_DECREF(a);
    return 0;
}

static int py_eps(void *ctx, const float *x, size_t n, int t, float *eps_out) {
    cb_ctx *c = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = GM_OK;
    PyObject *xa = rows_array(x, n, c->dim), *res = NULL;
    if (!xa || !(res = PyObject_CallFunction(c->den, "Oi", xa, t)) || take_rows(res, n, c->dim, eps_out, "denoiser"))
        rc = cb_fail(c);
    Py_XDECREF(xa);
    Py_XDECREF(res);
    PyGILState_Release(g);
    return rc;
}

static int py_eps_vjp(void *ctx, const float *x, size_t n, int t, const float *u, float *eps_out, float *vjp_out) {
    cb_ctx *c = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = GM_OK;
    PyObject *xa = rows_array(x, n, c->dim), *ua = rows_array(u, n, c->dim), *res = NULL;
    if (!xa || !ua || !(res = PyObject_CallFunction(c->vjp, "OiO", xa, t, ua))) {
        rc = cb_fail(c);
    } else if (!PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 2) {
        PyErr_SetString(PyExc_ValueError, "denoiser_vjp must return a tuple (eps, vjp)");
        rc = cb_fail(c);
    } else if (take_rows(PyTuple_GET_ITEM(res, 0), n, c->dim, eps_out, "denoiser_vjp (eps)") ||
               take_rows(PyTuple_GET_ITEM(res, 1), n, c->dim, vjp_out, "denoiser_vjp (vjp)")) {
        rc = cb_fail(c);
    }
    Py_XDECREF(xa);
    Py_XDECREF(ua);
    Py_XDECREF(res);
    PyGILState_Release(g);
    return rc;
}

static int py_reward(void *ctx, const float *x, size_t n, double *r, float *grad) {
    cb_ctx *c = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = GM_OK;
    PyObject *xa = rows_array(x, n, c->dim), *res = NULL, *vals;
    PyArrayObject *v = NULL;
    if (!xa || !(res = PyObject_CallFunctionObjArgs(c->rw, xa, NULL))) {
        rc = cb_fail(c);
        goto done;
    }
    vals = res;
    if (PyTuple_Check(res)) {
        if (PyTuple_GET_SIZE(res) != 2) {
            PyErr_SetString(PyExc_ValueError, "reward must return values or a tuple (values, gradient)");
            rc = cb_fail(c);
            goto done;
        }
        vals = PyTuple_GET_ITEM(res, 0);
        if (grad && take_rows(PyTuple_GET_ITEM(res, 1), n, c->dim, grad, "reward (gradient)")) {
            rc = cb_fail(c);
            goto done;
        }
    } else if (grad) {
        PyErr_SetString(PyExc_ValueError,
                        "reward must return (values, gradient) when grad is 'full' or 'x0only' (or use grad='none')");
        rc = cb_fail(c);
        goto done;
    }
    v = (PyArrayObject *)PyArray_FromAny(vals, PyArray_DescrFromType(NPY_FLOAT64), 0, 0,
                                         NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
    if (!v) {
        rc = cb_fail(c);
        goto done;
    }
    if ((size_t)PyArray_SIZE(v) != n || PyArray_NDIM(v) > 2 || (PyArray_NDIM(v) == 2 && PyArray_DIM(v, 1) != 1)) {
        PyErr_Format(PyExc_ValueError, "reward must return %zu values (shape (%zu,) or (%zu, 1))", n, n, n);
        rc = cb_fail(c);
        goto done;
    }
    memcpy(r, PyArray_DATA(v), n * sizeof(double)); /* a non-finite value kills that particle */
done:
    Py_XDECREF(v);
    Py_XDECREF(xa);
    Py_XDECREF(res);
    PyGILState_Release(g);
    return rc;
}

static const char align_doc[] =
    "align(denoiser, reward, alpha, *, dim=None, particles=16, steps=100, schedule='linear', T=1000,\n"
    "      grad=None, denoiser_vjp=None, eta=1.0, spacing='leading', temper='exp', gamma=0.0,\n"
    "      ess_threshold=0.5, resample='ssp', seed=42) -> dict\n\n"
    "DAS (Kim, Kim & Park 2025): sample p_tar(x) ∝ p_theta(x) exp(r(x)/alpha) from a diffusion model by\n"
    "tempered, twisted sequential Monte Carlo. The SMC runs in C (GIL released); the model and the reward\n"
    "are called back with the GIL held.\n\n"
    "denoiser: callable eps_hat(x, t) -> (n, dim) array: x is a fresh (n, dim) float32 array of the particles\n"
    "  at timestep t (int, T-1 .. 0; alpha_bar[t] = prod_{s<=t}(1 - beta_s) of the chosen schedule), the\n"
    "  result is the predicted noise (any real dtype, torch CPU tensors work). Or 'toy:gmm1' / 'toy:gmm2':\n"
    "  the exact closed-form denoiser of the built-in 2-D mixtures.\n"
    "reward: callable r(x) -> values (n,) or (values, gradient (n, dim)); the gradient d r / d x is needed\n"
    "  unless grad='none'. A non-finite value kills that particle. Or a toy spec string ('gmm1', 'gmm2',\n"
    "  'quad:a..,c..', 'linear:b..').\n"
    "alpha: temperature > 0. dim: the data dimension (required with a callable denoiser).\n"
    "grad: 'full' (needs denoiser_vjp(x, t, u) -> (eps, J^T u)), 'x0only' (reward gradient at the Tweedie\n"
    "  estimate, no model Jacobian) or 'none'; default 'full' with denoiser_vjp or a toy denoiser, else\n"
    "  'x0only'. schedule: 'linear' (DDPM betas 1e-4..0.02) or 'cosine'; steps: inference steps S <= T.\n"
    "Exceptions raised inside a callback propagate; a wrong result shape raises ValueError.\n"
    "Returns {'samples': (N, dim) float32 final particles x0, 'weights': (N,) normalised weights,\n"
    " 'rewards': (N,) r(x0), 'log_evidence', 'mean_reward', 'ess': (S+1,) trace, 'resamples': int,\n"
    " 'denoiser_calls': rows evaluated}. The result is the weighted particle set; resample with the\n"
    "weights for unweighted draws.";

static PyObject *py_align(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"denoiser", "reward", "alpha", "dim", "particles", "steps", "schedule", "T", "grad",
                          "denoiser_vjp", "eta", "spacing", "temper", "gamma", "ess_threshold", "resample",
                          "seed", NULL};
    PyObject *den_o, *rw_o, *dim_o = Py_None, *vjp_o = Py_None;
    double alpha, eta = 1.0, gamma = 0.0, ess = 0.5;
    int particles = 16, steps = 100, T = 1000;
    const char *sched = "linear", *grad = NULL, *spacing = "leading", *temper = "exp", *resample = "ssp";
    unsigned long long seed = 42;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOd|$OiisizOdssddsK:align", kwl, &den_o, &rw_o, &alpha, &dim_o,
                                     &particles, &steps, &sched, &T, &grad, &vjp_o, &eta, &spacing, &temper, &gamma,
                                     &ess, &resample, &seed))
        return NULL;
    gm_das_config cfg = gm_das_config_default();
    cfg.alpha = alpha;
    cfg.n_particles = particles;
    cfg.n_steps = steps;
    cfg.eta = eta;
    cfg.gamma = gamma;
    cfg.ess_threshold = ess;
    cfg.seed = (uint64_t)seed;
    int rc;
    if (!strcmp(spacing, "leading"))
        cfg.spacing = GM_SPACING_LEADING;
    else if (!strcmp(spacing, "linspace"))
        cfg.spacing = GM_SPACING_LINSPACE;
    else
        return PyErr_Format(PyExc_ValueError, "spacing must be 'leading' or 'linspace', got '%s'", spacing);
    if ((rc = gm_temper_parse(temper, &cfg.temper)) || (rc = gm_resample_parse(resample, &cfg.scheme)))
        return gm_py_raise(rc);
    gm_beta_kind bk;
    if (!strcmp(sched, "linear"))
        bk = GM_BETA_LINEAR;
    else if (!strcmp(sched, "cosine"))
        bk = GM_BETA_COSINE;
    else
        return PyErr_Format(PyExc_ValueError, "schedule must be 'linear' or 'cosine', got '%s'", sched);
    if (vjp_o != Py_None && !PyCallable_Check(vjp_o)) return PyErr_Format(PyExc_TypeError, "denoiser_vjp must be callable");

    cb_ctx c;
    memset(&c, 0, sizeof c);
    gm_gmm g;
    memset(&g, 0, sizeof g);
    int have_gmm = 0;
    gm_toy_reward toy;
    gm_diff_schedule *sch = gm_malloc(sizeof *sch); /* ~160 KB: not on the stack */
    gm_das *d = NULL;
    PyObject *res = NULL;
    if (!sch) return PyErr_NoMemory();
    if ((rc = gm_diff_schedule_init(sch, bk, T))) {
        gm_py_raise(rc);
        goto done;
    }
    gm_denoiser den;
    gm_reward rw;
    if (PyUnicode_Check(den_o)) {
        const char *s = PyUnicode_AsUTF8(den_o);
        if (!s) goto done;
        if (strncmp(s, "toy:", 4)) {
            PyErr_Format(PyExc_ValueError, "denoiser: a callable or 'toy:gmm1' / 'toy:gmm2', got '%s'", s);
            goto done;
        }
        if ((rc = gm_gmm_toy(&g, s + 4))) {
            gm_py_raise(rc);
            goto done;
        }
        have_gmm = 1;
        den = gm_gmm_denoiser(&g, sch);
        c.dim = g.dim;
    } else if (PyCallable_Check(den_o)) {
        size_t dim = 0;
        if (dim_o == Py_None) {
            PyErr_SetString(PyExc_ValueError, "dim is required with a callable denoiser");
            goto done;
        }
        if (gm_py_size(dim_o, "dim", &dim, 1)) goto done;
        c.dim = dim;
        c.den = den_o;
        den.dim = dim;
        den.eps = py_eps;
        den.eps_vjp = vjp_o != Py_None ? py_eps_vjp : NULL;
        den.ctx = &c;
        c.vjp = vjp_o;
    } else {
        PyErr_SetString(PyExc_TypeError, "denoiser must be a callable eps_hat(x, t) or a 'toy:...' name");
        goto done;
    }
    if (dim_o != Py_None && have_gmm) {
        size_t dim = 0;
        if (gm_py_size(dim_o, "dim", &dim, 1)) goto done;
        if (dim != c.dim) {
            PyErr_Format(PyExc_ValueError, "dim %zu does not match the toy model's dimension %zu", dim, c.dim);
            goto done;
        }
    }
    if (grad) {
        if ((rc = gm_das_grad_parse(grad, &cfg.grad))) {
            gm_py_raise(rc);
            goto done;
        }
    } else {
        cfg.grad = den.eps_vjp ? GM_DAS_GRAD_FULL : GM_DAS_GRAD_X0ONLY;
    }
    if (PyUnicode_Check(rw_o)) {
        const char *s = PyUnicode_AsUTF8(rw_o);
        if (!s) goto done;
        if ((rc = gm_toy_reward_parse(s, c.dim, &toy))) {
            gm_py_raise(rc);
            goto done;
        }
        rw = gm_toy_reward_as_reward(&toy);
    } else if (PyCallable_Check(rw_o)) {
        c.rw = rw_o;
        rw.dim = c.dim;
        rw.eval = py_reward;
        rw.has_grad = cfg.grad != GM_DAS_GRAD_NONE;
        rw.ctx = &c;
    } else {
        PyErr_SetString(PyExc_TypeError, "reward must be a callable r(x) or a toy reward spec string");
        goto done;
    }
    if ((rc = gm_das_create(&d, &cfg, sch, &den, &rw))) {
        gm_py_raise(rc);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    rc = GM_OK;
    while (rc == GM_OK && !gm_das_done(d)) rc = gm_das_step(d);
    Py_END_ALLOW_THREADS;
    if (c.et) { /* a callback failed: its exception, not the library's status */
        PyErr_Restore(c.et, c.ev, c.etb);
        c.et = c.ev = c.etb = NULL;
        goto done;
    }
    if (rc) {
        gm_py_raise(rc);
        goto done;
    }
    size_t n = gm_das_size(d), dim = c.dim;
    npy_intp sh[2] = {(npy_intp)n, (npy_intp)dim};
    PyObject *xs = PyArray_SimpleNew(2, sh, NPY_FLOAT32);
    double *W = gm_malloc(n * sizeof(double));
    PyObject *wv = NULL, *rv = NULL, *ev = NULL;
    const gm_das_trace *tr = gm_das_get_trace(d);
    long er = 0, vr = 0, rr = 0;
    gm_das_costs(d, &er, &vr, &rr);
    if (W) {
        gm_das_weights(d, W);
        wv = gm_py_vec(W, (npy_intp)n);
    }
    rv = gm_py_vec(gm_das_rewards(d), (npy_intp)n);
    ev = gm_py_vec(tr->ess, (npy_intp)tr->n);
    if (xs && W && wv && rv && ev) {
        memcpy(PyArray_DATA((PyArrayObject *)xs), gm_das_particles(d), n * dim * sizeof(float));
        res = Py_BuildValue("{s:O,s:O,s:O,s:d,s:d,s:O,s:i,s:l,s:l,s:l}", "samples", xs, "weights", wv, "rewards", rv,
                            "log_evidence", gm_das_log_evidence(d), "mean_reward", gm_das_mean_reward(d), "ess", ev,
                            "resamples", gm_das_n_resamples(d), "denoiser_calls", er, "vjp_calls", vr,
                            "reward_calls", rr);
    } else if (!PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    gm_free(W);
    Py_XDECREF(xs);
    Py_XDECREF(wv);
    Py_XDECREF(rv);
    Py_XDECREF(ev);
done:
    Py_XDECREF(c.et);
    Py_XDECREF(c.ev);
    Py_XDECREF(c.etb);
    gm_das_free(d);
    if (have_gmm) gm_gmm_free(&g);
    gm_free(sch);
    return res;
}

PyMethodDef gm_py_align_methods[] = {
    {"align", (PyCFunction)(void (*)(void))py_align, METH_VARARGS | METH_KEYWORDS, align_doc},
    {NULL, NULL, 0, NULL}};
