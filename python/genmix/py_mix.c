/* SPDX-License-Identifier: MIT */
/* py_mix.c — genmix.mix (offline optimum, the online Mixture-UCB bandit as an object driven by the caller's
 * sampler), genmix.moe (fit / select / predict / sample of softmax-gated mixtures of experts) and
 * genmix.load (trained autoencoders: sample / decode / encode). Bindings over the public headers mix.h,
 * moe.h, ae.h, mcmc.h only; they convert arguments, release the GIL and return NumPy values.
 * Owns: the Bandit, MoE and Autoencoder types (their gm_mix + gm_mix_ref, gm_moe, gm_ae). Thread safety:
 * one object refuses concurrent use from two threads (RuntimeError); module functions are reentrant. */
#include "py_internal.h"

#include <math.h>
#include <string.h>

#include "genmix/ae.h"
#include "genmix/mcmc.h"
#include "genmix/mix.h"
#include "genmix/moe.h"
#include "genmix/rng.h"

/* ---- shared: float32 matrices ------------------------------------------------------------------ */

/* obj as a C-order float32 n x d matrix (copied unless it already is one), finite, n >= min_n. */
static PyArrayObject *f32_matrix(PyObject *obj, const char *name, size_t min_n) {
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(obj, 0);
    if (!a) return NULL;
    if (!PyArray_ISNUMBER(a) || PyArray_ISCOMPLEX(a) || PyArray_NDIM(a) != 2) {
        PyErr_Format(PyExc_ValueError, "%s: expected a 2-D real numeric array", name);
        Py_DECREF(a);
        return NULL;
    }
    PyArrayObject *b = (PyArrayObject *)PyArray_FromAny(
        (PyObject *)a, PyArray_DescrFromType(NPY_FLOAT32), 0, 0,
        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(a);
    if (!b) return NULL;
    const float *p = PyArray_DATA(b);
    npy_intp n = PyArray_SIZE(b);
    for (npy_intp i = 0; i < n; i++)
        if (!isfinite(p[i])) {
            PyErr_Format(PyExc_ValueError, "%s: row %zd contains %s (as float32)", name, (Py_ssize_t)(i / PyArray_DIM(b, 1)),
                         isnan(p[i]) ? "NaN" : "Inf or a value beyond the float32 range (|x| > 3.4e38)");
            Py_DECREF(b);
            return NULL;
        }
    if ((size_t)PyArray_DIM(b, 0) < min_n || PyArray_DIM(b, 1) < 1) {
        PyErr_Format(PyExc_ValueError, "%s: needs at least %zu rows and one column, got %zd x %zd", name, min_n,
                     (Py_ssize_t)PyArray_DIM(b, 0), (Py_ssize_t)PyArray_DIM(b, 1));
        Py_DECREF(b);
        return NULL;
    }
    return b;
}

/* ---- mix: configuration shared by offline() and Bandit ------------------------------------------ */

static int parse_score(const char *s, gm_mix_quad *quad, int *lin) {
    char buf[128];
    if (strlen(s) >= sizeof buf) goto bad;
    strcpy(buf, s);
    *quad = GM_MIX_QUAD_NONE;
    *lin = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        gm_mix_quad q = GM_MIX_QUAD_NONE;
        if (!strcmp(tok, "rke")) q = GM_MIX_QUAD_RKE;
        else if (!strcmp(tok, "kid")) q = GM_MIX_QUAD_KID;
        else if (!strcmp(tok, "mmd")) q = GM_MIX_QUAD_MMD;
        else if (!strcmp(tok, "precision")) *lin |= GM_MIX_LIN_PRECISION;
        else if (!strcmp(tok, "density")) *lin |= GM_MIX_LIN_DENSITY;
        else goto bad;
        if (q != GM_MIX_QUAD_NONE) {
            if (*quad != GM_MIX_QUAD_NONE) goto bad;
            *quad = q;
        }
    }
    if (*quad != GM_MIX_QUAD_NONE || *lin) return 0;
bad:
    PyErr_Format(PyExc_ValueError, "score '%s': expected rke|kid|mmd[,precision][,density] (one kernel score)", s);
    return -1;
}

typedef struct {
    const char *score, *kernel, *algo;
    PyObject *sigma, *reference;
    double lam;
    Py_ssize_t knn;
    int code;
    unsigned long long seed;
} mix_args;

/* cfg (defaults of the CLI for m arms, dimension d, horizon T) and the reference (NULL when not needed). */
static int mix_setup(const mix_args *a, size_t m, size_t d, size_t T, gm_mix_config *cfg, gm_mix_ref **ref) {
    gm_mix_quad quad;
    int lin;
    *ref = NULL;
    if (parse_score(a->score, &quad, &lin)) return -1;
    gm_mix_kernel kern;
    if (!strcmp(a->kernel, "gauss")) kern = GM_MIX_KERNEL_GAUSS;
    else if (!strcmp(a->kernel, "poly3")) kern = GM_MIX_KERNEL_POLY3;
    else {
        PyErr_Format(PyExc_ValueError, "kernel must be 'gauss' or 'poly3', got '%s'", a->kernel);
        return -1;
    }
    int gauss = quad == GM_MIX_QUAD_RKE || (quad != GM_MIX_QUAD_NONE && kern == GM_MIX_KERNEL_GAUSS);
    double sigma = NAN;
    if (a->sigma && a->sigma != Py_None) {
        sigma = PyFloat_AsDouble(a->sigma);
        if (sigma == -1 && PyErr_Occurred()) return -1;
    }
    if (gauss && !(sigma > 0 && isfinite(sigma))) {
        PyErr_SetString(PyExc_ValueError, "sigma (> 0) is required for the Gaussian kernel (no silent default)");
        return -1;
    }
    if (a->knn < 1 || a->knn > 64) {
        PyErr_SetString(PyExc_ValueError, "knn must be in 1..64");
        return -1;
    }
    if (m < 1 || m > GM_MIX_MAX_ARMS) {
        PyErr_Format(PyExc_ValueError, "1 to %d arms, got %zu", GM_MIX_MAX_ARMS, m);
        return -1;
    }
    gm_mix_config_default(cfg, m, d, T, quad, lin);
    cfg->kernel = kern;
    cfg->sigma = gauss ? sigma : 0;
    cfg->lambda = a->lam;
    if (lin) { /* the default Delta_L depends on lambda, as in `genmix mix` */
        gm_mix_config tmp;
        gm_mix_config_default(&tmp, m, d, T, quad, 0);
        cfg->delta_L = tmp.delta_L + a->lam * (((lin & GM_MIX_LIN_PRECISION) ? 1 : 0) + ((lin & GM_MIX_LIN_DENSITY) ? 1 : 0));
    }
    if (a->code) gm_mix_config_code(cfg);
    cfg->seed = a->seed;
    if (a->algo && gm_mix_algo_parse(a->algo, &cfg->algo) != GM_OK) {
        gm_py_raise(GM_EINVAL);
        return -1;
    }
    int rc = gm_mix_config_check(cfg);
    if (rc) {
        gm_py_raise(rc);
        return -1;
    }
    int needs_ref = quad == GM_MIX_QUAD_KID || quad == GM_MIX_QUAD_MMD || lin;
    if (needs_ref && (!a->reference || a->reference == Py_None)) {
        PyErr_Format(PyExc_ValueError, "score '%s' needs reference= (the real feature set)", a->score);
        return -1;
    }
    if (!needs_ref) return 0;
    PyArrayObject *y = f32_matrix(a->reference, "reference", lin ? (size_t)a->knn + 1 : 1);
    if (!y) return -1;
    if ((size_t)PyArray_DIM(y, 1) != d) {
        PyErr_Format(PyExc_ValueError, "reference has D = %zd, the arms have D = %zu", (Py_ssize_t)PyArray_DIM(y, 1), d);
        Py_DECREF(y);
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS rc = gm_mix_ref_create(ref, PyArray_DATA(y), (size_t)PyArray_DIM(y, 0), d, kern,
                                                  gauss ? sigma : 1.0, lin, (size_t)a->knn);
    Py_END_ALLOW_THREADS Py_DECREF(y);
    if (rc) {
        gm_py_raise(rc);
        return -1;
    }
    return 0;
}

static PyObject *py_mix_offline(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"arms", "score", "sigma", "reference", "kernel", "knn", "lam", NULL};
    mix_args a = {"rke", "gauss", NULL, Py_None, Py_None, 1.0, 5, 0, 0};
    PyObject *arms_o, *res = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$sOOsnd:offline", kwl, &arms_o, &a.score, &a.sigma, &a.reference,
                                     &a.kernel, &a.knn, &a.lam))
        return NULL;
    PyObject *seq = PySequence_Fast(arms_o, "arms must be a sequence of N_i x D arrays (one per generator)");
    if (!seq) return NULL;
    size_t m = (size_t)PySequence_Fast_GET_SIZE(seq), d = 0;
    PyArrayObject *X[GM_MIX_MAX_ARMS] = {0};
    const float *xp[GM_MIX_MAX_ARMS];
    size_t n[GM_MIX_MAX_ARMS];
    gm_mix_ref *ref = NULL;
    if (m < 1 || m > GM_MIX_MAX_ARMS) {
        PyErr_Format(PyExc_ValueError, "1 to %d arms, got %zu", GM_MIX_MAX_ARMS, m);
        goto done;
    }
    for (size_t i = 0; i < m; i++) {
        char name[32];
        snprintf(name, sizeof name, "arms[%zu]", i);
        if (!(X[i] = f32_matrix(PySequence_Fast_GET_ITEM(seq, i), name, 1))) goto done;
        if (i == 0) d = (size_t)PyArray_DIM(X[0], 1);
        if ((size_t)PyArray_DIM(X[i], 1) != d) {
            PyErr_Format(PyExc_ValueError, "%s has D = %zd, arms[0] has D = %zu", name, (Py_ssize_t)PyArray_DIM(X[i], 1), d);
            goto done;
        }
        xp[i] = PyArray_DATA(X[i]);
        n[i] = (size_t)PyArray_DIM(X[i], 0);
    }
    gm_mix_config cfg;
    size_t total = 0;
    for (size_t i = 0; i < m; i++) total += n[i];
    if (mix_setup(&a, m, d, total > m ? total : m, &cfg, &ref)) goto done; /* T: unused offline, must pass the check */
    npy_intp km[2] = {(npy_intp)m, (npy_intp)m}, m1 = (npy_intp)m;
    PyObject *alpha = PyArray_SimpleNew(1, &m1, NPY_FLOAT64), *K = PyArray_SimpleNew(2, km, NPY_FLOAT64),
             *f = PyArray_SimpleNew(1, &m1, NPY_FLOAT64);
    if (alpha && K && f) {
        double obj;
        int rc;
        double *ap = PyArray_DATA((PyArrayObject *)alpha), *Kp = PyArray_DATA((PyArrayObject *)K),
               *fp = PyArray_DATA((PyArrayObject *)f);
        Py_BEGIN_ALLOW_THREADS rc = gm_mix_offline(&cfg, ref, xp, n, NULL, ap, &obj, Kp, fp);
        Py_END_ALLOW_THREADS if (rc) gm_py_raise(rc);
        else res = Py_BuildValue("{s:O,s:d,s:d,s:O,s:O,s:O}", "alpha", alpha, "objective", obj, "score",
                                 gm_mix_score_of(cfg.quad, cfg.lin, obj), "higher_is_better",
                                 gm_mix_higher_better(cfg.quad, cfg.lin) ? Py_True : Py_False, "K", K, "f", f);
    }
    Py_XDECREF(alpha);
    Py_XDECREF(K);
    Py_XDECREF(f);
done:
    for (size_t i = 0; i < m && i < GM_MIX_MAX_ARMS; i++) Py_XDECREF(X[i]);
    Py_DECREF(seq);
    gm_mix_ref_free(ref);
    return res;
}

/* ---- mix: Bandit --------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD gm_mix *b;
    gm_mix_ref *ref;
    gm_mix_config cfg;
    Py_ssize_t last; /* arm of the last select(), -1 if none pending */
    int busy;
} Bandit;

static int bd_init(Bandit *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"arms", "d", "rounds", "score", "algo", "sigma", "reference", "kernel", "knn", "lam",
                          "code", "seed", NULL};
    mix_args a = {"rke", "gauss", "cab", Py_None, Py_None, 1.0, 5, 0, 0};
    Py_ssize_t m, d, T;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "nnn|$ssOOsndpK:Bandit", kwl, &m, &d, &T, &a.score, &a.algo, &a.sigma,
                                     &a.reference, &a.kernel, &a.knn, &a.lam, &a.code, &a.seed))
        return -1;
    if (self->b) {
        PyErr_SetString(PyExc_RuntimeError, "Bandit is already initialised");
        return -1;
    }
    if (m < 1 || d < 1 || T < 1) {
        PyErr_SetString(PyExc_ValueError, "arms, d and rounds must be positive");
        return -1;
    }
    if (mix_setup(&a, (size_t)m, (size_t)d, (size_t)T, &self->cfg, &self->ref)) return -1;
    int rc = gm_mix_create(&self->b, &self->cfg, self->ref);
    if (rc) {
        gm_py_raise(rc);
        return -1;
    }
    self->last = -1;
    return 0;
}

static void bd_dealloc(Bandit *self) {
    gm_mix_free(self->b);
    gm_mix_ref_free(self->ref);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int bd_ready(Bandit *self) {
    if (self->b) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Bandit was not initialised");
    return -1;
}

static PyObject *bd_select(Bandit *self, PyObject *noargs) {
    if (bd_ready(self) || gm_py_enter(&self->busy, "Bandit")) return NULL;
    size_t arm;
    int rc = gm_mix_select(self->b, &arm);
    gm_py_leave(&self->busy);
    if (rc) return gm_py_raise(rc);
    self->last = (Py_ssize_t)arm;
    return PyLong_FromSize_t(arm);
}

static PyObject *bd_observe(Bandit *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"x", "arm", NULL};
    PyObject *xo, *armo = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:observe", kwl, &xo, &armo) || bd_ready(self)) return NULL;
    size_t arm = self->last >= 0 ? (size_t)self->last : 0;
    if (armo == Py_None && self->last < 0) {
        PyErr_SetString(PyExc_ValueError, "observe(x) without arm= needs a select() first");
        return NULL;
    }
    if (gm_py_size(armo, "arm", &arm, 0)) return NULL;
    if (arm >= self->cfg.m) {
        PyErr_Format(PyExc_ValueError, "arm %zu out of range (0..%zu)", arm, self->cfg.m - 1);
        return NULL;
    }
    PyArrayObject *x = (PyArrayObject *)PyArray_FromAny(xo, PyArray_DescrFromType(NPY_FLOAT32), 0, 0,
                                                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
    if (!x) return NULL;
    if ((size_t)PyArray_SIZE(x) != self->cfg.d) {
        PyErr_Format(PyExc_ValueError, "x must hold d = %zu features, got %zd", self->cfg.d, (Py_ssize_t)PyArray_SIZE(x));
        Py_DECREF(x);
        return NULL;
    }
    if (gm_py_enter(&self->busy, "Bandit")) {
        Py_DECREF(x);
        return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_mix_update(self->b, arm, PyArray_DATA(x), NULL);
    Py_END_ALLOW_THREADS gm_py_leave(&self->busy);
    Py_DECREF(x);
    if (rc) return gm_py_raise(rc);
    self->last = -1;
    Py_RETURN_NONE;
}

static PyObject *bd_get_done(Bandit *self, void *c) {
    if (bd_ready(self)) return NULL;
    return PyBool_FromLong(gm_mix_done(self->b));
}
static PyObject *bd_get_t(Bandit *self, void *c) {
    if (bd_ready(self)) return NULL;
    return PyLong_FromSize_t(gm_mix_count(self->b));
}
static PyObject *bd_get_counts(Bandit *self, void *c) {
    if (bd_ready(self)) return NULL;
    npy_intp m = (npy_intp)self->cfg.m;
    PyObject *a = PyArray_SimpleNew(1, &m, NPY_INT64);
    const size_t *n = gm_mix_counts(self->b);
    for (npy_intp i = 0; a && i < m; i++) ((int64_t *)PyArray_DATA((PyArrayObject *)a))[i] = (int64_t)n[i];
    return a;
}
static PyObject *bd_get_alpha(Bandit *self, void *c) {
    if (bd_ready(self)) return NULL;
    return gm_py_vec(gm_mix_alpha(self->b), (npy_intp)self->cfg.m);
}
static PyObject *bd_get_objective(Bandit *self, void *c) {
    if (bd_ready(self)) return NULL;
    return PyFloat_FromDouble(gm_mix_objective(self->b));
}
static PyObject *bd_get_score(Bandit *self, void *c) {
    if (bd_ready(self)) return NULL;
    return PyFloat_FromDouble(gm_mix_score(self->b));
}

static PyMethodDef bd_methods[] = {
    {"select", (PyCFunction)bd_select, METH_NOARGS,
     "select() -> int: the arm (generator index) to sample next (round robin warm-up first). ValueError when\n"
     "the horizon is reached."},
    {"observe", (PyCFunction)(void (*)(void))bd_observe, METH_VARARGS | METH_KEYWORDS,
     "observe(x, arm=None): record one sample x (D features) of the arm returned by the last select()\n"
     "(or of `arm`)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef bd_getset[] = {
    {"done", (getter)bd_get_done, NULL, "True once `rounds` samples were observed", NULL},
    {"t", (getter)bd_get_t, NULL, "samples observed so far", NULL},
    {"counts", (getter)bd_get_counts, NULL, "samples per arm (int64 array)", NULL},
    {"alpha", (getter)bd_get_alpha, NULL, "last QP mixture weights (CAB/greedy; uniform before the first solve)",
     NULL},
    {"objective", (getter)bd_get_objective, NULL, "objective L of the collected set (lower is better)", NULL},
    {"score", (getter)bd_get_score, NULL, "reported score (RKE = 1/L, MMD = sqrt, else L)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject BanditType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genmix.mix.Bandit",
    .tp_basicsize = sizeof(Bandit),
    .tp_dealloc = (destructor)bd_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Bandit(arms, d, rounds, *, score='rke', algo='cab', sigma=None, reference=None, kernel='gauss',\n"
              "       knn=5, lam=1.0, code=False, seed=0)\n\n"
              "Online mixing of `arms` generators (Mixture-UCB, Rezaei, Farnia & Li 2025) driven by your sampler:\n\n"
              "    b = genmix.mix.Bandit(3, 64, 1000, score='rke', sigma=5.0)\n"
              "    while not b.done:\n"
              "        i = b.select()\n"
              "        b.observe(features(generators[i].sample()))\n\n"
              "score: rke | kid | mmd, optionally ',precision' / ',density' (need reference=, the real features);\n"
              "algo: cab, ogd, ucb, sh, uniform, greedy (as `genmix mix --algo`). RKE uses the Gaussian kernel\n"
              "exp(-|x-y|^2/sigma^2); KID/MMD exp(-|x-y|^2/(2 sigma^2)) or poly3. sigma has no default.",
    .tp_methods = bd_methods,
    .tp_getset = bd_getset,
    .tp_init = (initproc)bd_init,
    .tp_new = PyType_GenericNew,
};

/* ---- moe ----------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD gm_moe m;
    int have;
    double loglik, aic, bic, icl;
    size_t iterations, n;
    int flags;
} MoE;

static PyTypeObject MoEType;

static int parse_gate(const char *s, gm_moe_gate *g) {
    if (!strcmp(s, "identity")) *g = GM_MOE_GATE_IDENTITY;
    else if (!strcmp(s, "sigmoid")) *g = GM_MOE_GATE_SIGMOID;
    else if (!strcmp(s, "tanh")) *g = GM_MOE_GATE_TANH;
    else {
        PyErr_Format(PyExc_ValueError, "gate must be 'identity', 'sigmoid' or 'tanh', got '%s'", s);
        return -1;
    }
    return 0;
}

/* X (n x d float64) and y (n int labels, 0..S-1) for fitting; *S = classes (given, or max(y) + 1). */
static int moe_data(PyObject *xo, PyObject *yo, PyArrayObject **X, PyArrayObject **y, Py_ssize_t *S) {
    *y = NULL;
    if (!(*X = gm_py_f64(xo, "X", 2, 2))) return -1;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(yo, 0);
    if (!a) return -1;
    if (!PyArray_ISINTEGER(a) || PyArray_NDIM(a) != 1 || PyArray_DIM(a, 0) != PyArray_DIM(*X, 0)) {
        PyErr_SetString(PyExc_ValueError, "y must be a 1-D integer array with one label per row of X");
        Py_DECREF(a);
        return -1;
    }
    *y = (PyArrayObject *)PyArray_FromAny((PyObject *)a, PyArray_DescrFromType(NPY_INT), 0, 0,
                                          NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
    Py_DECREF(a);
    if (!*y) return -1;
    if (*S <= 0) {
        int mx = -1;
        const int *p = PyArray_DATA(*y);
        for (npy_intp i = 0; i < PyArray_DIM(*y, 0); i++) mx = p[i] > mx ? p[i] : mx;
        *S = mx + 1;
    }
    return 0;
}


static MoE *moe_from_result(const gm_moe_fit_result *r) {
    MoE *o = (MoE *)MoEType.tp_alloc(&MoEType, 0);
    if (!o) return NULL;
    int rc = gm_moe_copy(&o->m, &r->model);
    if (rc) {
        Py_DECREF(o);
        return (MoE *)gm_py_raise(rc);
    }
    o->have = 1;
    o->loglik = r->loglik;
    o->aic = r->aic;
    o->bic = r->bic;
    o->icl = r->icl;
    o->iterations = r->iterations;
    o->n = r->n;
    o->flags = r->flags;
    return o;
}

typedef struct {
    Py_ssize_t experts, restarts, max_iter;
    const char *gate;
    double tol;
    unsigned long long seed;
} fit_args;

static int fit_config(const fit_args *a, gm_moe_fit_config *cfg) {
    *cfg = gm_moe_fit_config_default();
    if (a->experts < 1 || a->restarts < 1 || a->max_iter < 1 || !(a->tol > 0)) {
        PyErr_SetString(PyExc_ValueError, "experts, restarts and max_iter must be >= 1 and tol > 0");
        return -1;
    }
    if (a->restarts > GM_MOE_MAX_RESTARTS) {
        PyErr_Format(PyExc_ValueError, "restarts must be in 1..%d (got %zd)", GM_MOE_MAX_RESTARTS, a->restarts);
        return -1;
    }
    cfg->n_experts = (size_t)a->experts;
    cfg->n_restarts = (size_t)a->restarts;
    cfg->max_iter = (size_t)a->max_iter;
    cfg->tol = a->tol;
    cfg->seed = a->seed;
    return parse_gate(a->gate, &cfg->gate);
}

static PyObject *py_moe_fit(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"X", "y", "experts", "classes", "restarts", "seed", "gate", "max_iter", "tol", NULL};
    PyObject *xo, *yo;
    fit_args a = {2, 10, 5000, "identity", 1e-8, 0};
    Py_ssize_t S = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$nnnKsnd:fit", kwl, &xo, &yo, &a.experts, &S, &a.restarts, &a.seed,
                                     &a.gate, &a.max_iter, &a.tol))
        return NULL;
    gm_moe_fit_config cfg;
    if (fit_config(&a, &cfg)) return NULL;
    PyArrayObject *X = NULL, *y = NULL;
    MoE *o = NULL;
    if (moe_data(xo, yo, &X, &y, &S)) goto done;
    gm_moe_fit_result r;
    memset(&r, 0, sizeof r);
    int rc;
    size_t n = (size_t)PyArray_DIM(X, 0), d = (size_t)PyArray_DIM(X, 1);
    Py_BEGIN_ALLOW_THREADS rc = gm_moe_fit(&cfg, PyArray_DATA(X), PyArray_DATA(y), n, d, (size_t)S, NULL, &r);
    Py_END_ALLOW_THREADS if (rc) gm_py_raise(rc);
    else o = moe_from_result(&r);
    gm_moe_fit_result_free(&r);
done:
    Py_XDECREF(X);
    Py_XDECREF(y);
    return (PyObject *)o;
}

static PyObject *py_moe_select(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"X", "y", "k_max", "criterion", "classes", "restarts", "seed", "gate", "max_iter", "tol", NULL};
    PyObject *xo, *yo, *res = NULL;
    fit_args a = {1, 10, 5000, "identity", 1e-8, 0};
    Py_ssize_t S = 0, kmax;
    const char *crit_s = "bic";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOn|$snnKsnd:select", kwl, &xo, &yo, &kmax, &crit_s, &S, &a.restarts,
                                     &a.seed, &a.gate, &a.max_iter, &a.tol))
        return NULL;
    gm_moe_criterion crit;
    if (!strcmp(crit_s, "bic")) crit = GM_MOE_SELECT_BIC;
    else if (!strcmp(crit_s, "aic")) crit = GM_MOE_SELECT_AIC;
    else if (!strcmp(crit_s, "icl")) crit = GM_MOE_SELECT_ICL;
    else {
        PyErr_Format(PyExc_ValueError, "criterion must be 'bic', 'aic' or 'icl', got '%s'", crit_s);
        return NULL;
    }
    if (kmax < 1 || kmax > 64) {
        PyErr_SetString(PyExc_ValueError, "k_max must be in 1..64");
        return NULL;
    }
    gm_moe_fit_config cfg;
    if (fit_config(&a, &cfg)) return NULL;
    PyArrayObject *X = NULL, *y = NULL;
    if (moe_data(xo, yo, &X, &y, &S)) goto done;
    gm_moe_select_result r;
    memset(&r, 0, sizeof r);
    int rc;
    size_t n = (size_t)PyArray_DIM(X, 0), d = (size_t)PyArray_DIM(X, 1);
    Py_BEGIN_ALLOW_THREADS rc = gm_moe_select(&cfg, PyArray_DATA(X), PyArray_DATA(y), n, d, (size_t)S, (size_t)kmax,
                                              crit, &r);
    Py_END_ALLOW_THREADS if (rc) {
        gm_py_raise(rc);
        goto done;
    }
    PyObject *fits = PyList_New((Py_ssize_t)r.k_max);
    for (size_t k = 0; fits && k < r.k_max; k++) {
        MoE *o = moe_from_result(&r.fits[k]);
        if (!o) Py_CLEAR(fits);
        else PyList_SET_ITEM(fits, (Py_ssize_t)k, (PyObject *)o);
    }
    if (fits) res = Py_BuildValue("(nN)", (Py_ssize_t)r.best_k, fits);
    gm_moe_select_result_free(&r);
done:
    Py_XDECREF(X);
    Py_XDECREF(y);
    return res;
}

static int moe_ready(MoE *self) {
    if (self->have) return 0;
    PyErr_SetString(PyExc_RuntimeError, "MoE objects come from genmix.moe.fit() / select()");
    return -1;
}

static PyArrayObject *moe_x(MoE *self, PyObject *xo) {
    PyArrayObject *X = gm_py_f64(xo, "X", 2, 2);
    if (X && (size_t)PyArray_DIM(X, 1) != self->m.dim) {
        PyErr_Format(PyExc_ValueError, "X has %zd features, the model has %zu", (Py_ssize_t)PyArray_DIM(X, 1),
                     self->m.dim);
        Py_CLEAR(X);
    }
    return X;
}

static PyObject *moe_predict_proba(MoE *self, PyObject *xo) {
    if (moe_ready(self)) return NULL;
    PyArrayObject *X = moe_x(self, xo);
    if (!X) return NULL;
    npy_intp dims[2] = {PyArray_DIM(X, 0), (npy_intp)self->m.n_classes};
    PyObject *P = PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (P) {
        Py_BEGIN_ALLOW_THREADS gm_moe_predict_proba(&self->m, PyArray_DATA(X), (size_t)dims[0],
                                                    PyArray_DATA((PyArrayObject *)P));
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(X);
    return P;
}

static PyObject *moe_gate_proba(MoE *self, PyObject *xo) {
    if (moe_ready(self)) return NULL;
    PyArrayObject *X = moe_x(self, xo);
    if (!X) return NULL;
    npy_intp dims[2] = {PyArray_DIM(X, 0), (npy_intp)self->m.n_experts};
    PyObject *P = PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (P) gm_moe_gate_proba(&self->m, PyArray_DATA(X), (size_t)dims[0], PyArray_DATA((PyArrayObject *)P));
    Py_DECREF(X);
    return P;
}

static PyObject *moe_predict(MoE *self, PyObject *xo) {
    if (moe_ready(self)) return NULL;
    PyArrayObject *X = moe_x(self, xo);
    if (!X) return NULL;
    npy_intp n = PyArray_DIM(X, 0);
    PyObject *L = PyArray_SimpleNew(1, &n, NPY_INT);
    if (L) gm_moe_predict(&self->m, PyArray_DATA(X), (size_t)n, PyArray_DATA((PyArrayObject *)L));
    Py_DECREF(X);
    return L;
}

static PyObject *moe_sample(MoE *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"n", "xr", "seed", NULL};
    Py_ssize_t n;
    double xr = 1.0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|$dK:sample", kwl, &n, &xr, &seed) || moe_ready(self)) return NULL;
    if (n < 1 || !(xr > 0) || !isfinite(xr)) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 1 and xr a finite number > 0");
        return NULL;
    }
    npy_intp dx[2] = {(npy_intp)n, (npy_intp)self->m.dim}, dn = (npy_intp)n;
    PyObject *X = PyArray_SimpleNew(2, dx, NPY_FLOAT64), *y = PyArray_SimpleNew(1, &dn, NPY_INT),
             *z = PyArray_SimpleNew(1, &dn, NPY_INT), *res = NULL;
    if (X && y && z) {
        gm_rng r;
        gm_rng_init(&r, seed, gm_rng_stream_id(GM_STREAM_DATA, 0)); /* the stream of `genmix moe sample` */
        int rc;
        Py_BEGIN_ALLOW_THREADS rc = gm_moe_sample(&self->m, (size_t)n, xr, &r, PyArray_DATA((PyArrayObject *)X),
                                                  PyArray_DATA((PyArrayObject *)y), PyArray_DATA((PyArrayObject *)z));
        Py_END_ALLOW_THREADS if (rc) gm_py_raise(rc);
        else res = Py_BuildValue("(OOO)", X, y, z);
    }
    Py_XDECREF(X);
    Py_XDECREF(y);
    Py_XDECREF(z);
    return res;
}

static void moe_dealloc(MoE *self) {
    gm_moe_free(&self->m);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *moe_get_W(MoE *self, void *c) {
    if (moe_ready(self)) return NULL;
    npy_intp dims[2] = {(npy_intp)self->m.dim + 1, (npy_intp)self->m.n_experts};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (a) memcpy(PyArray_DATA((PyArrayObject *)a), self->m.W, (size_t)(dims[0] * dims[1]) * sizeof(double));
    return a;
}
static PyObject *moe_get_V(MoE *self, void *c) {
    if (moe_ready(self)) return NULL;
    npy_intp dims[3] = {(npy_intp)self->m.n_experts, (npy_intp)self->m.dim + 1, (npy_intp)self->m.n_classes};
    PyObject *a = PyArray_SimpleNew(3, dims, NPY_FLOAT64);
    if (a) memcpy(PyArray_DATA((PyArrayObject *)a), self->m.V, (size_t)(dims[0] * dims[1] * dims[2]) * sizeof(double));
    return a;
}
static PyObject *moe_get_info(MoE *self, void *c) {
    if (moe_ready(self)) return NULL;
    return Py_BuildValue("{s:n,s:n,s:n,s:d,s:d,s:d,s:d,s:n,s:n,s:O}", "experts", (Py_ssize_t)self->m.n_experts,
                         "classes", (Py_ssize_t)self->m.n_classes, "dim", (Py_ssize_t)self->m.dim, "loglik",
                         self->loglik, "aic", self->aic, "bic", self->bic, "icl", self->icl, "iterations",
                         (Py_ssize_t)self->iterations, "n", (Py_ssize_t)self->n, "converged",
                         (self->flags & GM_MOE_CONVERGED) ? Py_True : Py_False);
}

static PyMethodDef moe_methods[] = {
    {"predict_proba", (PyCFunction)moe_predict_proba, METH_O,
     "predict_proba(X) -> (n, S): p(y = s | x) = sum_i pi_i(x) f_i(s | x)."},
    {"gate_proba", (PyCFunction)moe_gate_proba, METH_O, "gate_proba(X) -> (n, k): the gate pi_i(x)."},
    {"predict", (PyCFunction)moe_predict, METH_O, "predict(X) -> (n,) int: argmax_s p(y = s | x)."},
    {"sample", (PyCFunction)(void (*)(void))moe_sample, METH_VARARGS | METH_KEYWORDS,
     "sample(n, *, xr=1.0, seed=0) -> (X, y, z): x_tj ~ U[-xr, xr], expert z ~ Cat(pi(x)), class y ~ f_z(. | x);\n"
     "the Philox stream of `genmix moe sample --seed`."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef moe_getset[] = {
    {"W", (getter)moe_get_W, NULL, "gate coefficients, (d+1, k); row 0 intercepts, last column 0 (reference)", NULL},
    {"V", (getter)moe_get_V, NULL, "expert coefficients, (k, d+1, S); last class 0 (reference)", NULL},
    {"info", (getter)moe_get_info, NULL, "dict: experts, classes, dim, loglik, aic, bic, icl, iterations, n, converged",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject MoEType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genmix.moe.MoE",
    .tp_basicsize = sizeof(MoE),
    .tp_dealloc = (destructor)moe_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A fitted softmax-gated multinomial-logistic mixture of experts (from genmix.moe.fit/select):\n"
              "p(y = s | x) = sum_i softmax_i(W[0,i] + W[1:,i].g(x)) softmax_s(V_i[0,s] + V_i[1:,s].x).",
    .tp_methods = moe_methods,
    .tp_getset = moe_getset,
};

/* ---- load(): trained autoencoders ------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD gm_ae *ae;
    int busy;
} Autoencoder;

static void ae_dealloc(Autoencoder *self) {
    gm_ae_free(self->ae);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject AutoencoderType;

static PyObject *py_load(PyObject *self, PyObject *args) {
    PyObject *po;
    if (!PyArg_ParseTuple(args, "O&:load", PyUnicode_FSConverter, &po)) return NULL;
    gm_ae *ae = NULL;
    int rc;
    const char *path = PyBytes_AS_STRING(po);
    Py_BEGIN_ALLOW_THREADS rc = gm_ae_load(&ae, path);
    Py_END_ALLOW_THREADS Py_DECREF(po);
    if (rc) return gm_py_raise(rc);
    Autoencoder *o = (Autoencoder *)AutoencoderType.tp_alloc(&AutoencoderType, 0);
    if (!o) {
        gm_ae_free(ae);
        return NULL;
    }
    o->ae = ae;
    return (PyObject *)o;
}

static int ae_ready(Autoencoder *self) {
    if (self->ae) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Autoencoder objects come from genmix.load(path)");
    return -1;
}

static PyObject *ae_sample(Autoencoder *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"n", "steps", "seed", "decode", "encode", "corrupt", "z0_std", NULL};
    Py_ssize_t n, steps = 0;
    unsigned long long seed = 0;
    const char *dec = "mean", *enc = "sample";
    PyObject *co = Py_None;
    double z0 = 1.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|$nKssOd:sample", kwl, &n, &steps, &seed, &dec, &enc, &co, &z0) ||
        ae_ready(self))
        return NULL;
    if (n < 1 || steps < 0 || steps > 1000000 || !(z0 > 0)) { /* (the CLI's --mcmc-steps range) */
        PyErr_Format(PyExc_ValueError, "n must be >= 1, steps in 0..1000000, z0_std > 0 (got %zd, %zd, %g)", n, steps, z0);
        return NULL;
    }
    if ((strcmp(dec, "mean") && strcmp(dec, "sample")) || (strcmp(enc, "mean") && strcmp(enc, "sample"))) {
        PyErr_SetString(PyExc_ValueError, "decode and encode take 'mean' or 'sample'");
        return NULL;
    }
    const gm_ae_config *ac = gm_ae_get_config(self->ae);
    gm_latent_mcmc_config mc = gm_latent_mcmc_config_default();
    mc.n_chains = (size_t)n;
    mc.dec_mode = strcmp(dec, "sample") ? GM_LATENT_DECODE_MEAN : GM_LATENT_DECODE_SAMPLE;
    mc.enc_mode = strcmp(enc, "sample") ? GM_LATENT_ENCODE_MEAN : GM_LATENT_ENCODE_SAMPLE;
    mc.corrupt_sigma = ac->sigma_c;
    if (co != Py_None && (mc.corrupt_sigma = PyFloat_AsDouble(co)) == -1 && PyErr_Occurred()) return NULL;
    mc.z0_std = z0;
    mc.seed = seed;
    npy_intp dims[2] = {(npy_intp)n, (npy_intp)ac->data_dim};
    PyObject *out = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out || gm_py_enter(&self->busy, "Autoencoder")) {
        Py_XDECREF(out);
        return NULL;
    }
    gm_ae_model m;
    gm_ae_as_model(self->ae, &m);
    gm_latent_mcmc *s = NULL;
    size_t rec = (size_t)steps;
    int rc;
    float *x = PyArray_DATA((PyArrayObject *)out);
    Py_BEGIN_ALLOW_THREADS rc = gm_latent_mcmc_create(&s, &mc, &m);
    if (!rc) rc = gm_latent_mcmc_run(s, &rec, 1, x);
    gm_latent_mcmc_free(s);
    Py_END_ALLOW_THREADS gm_py_leave(&self->busy);
    if (rc) {
        Py_DECREF(out);
        return gm_py_raise(rc);
    }
    return out;
}

static PyObject *ae_decode(Autoencoder *self, PyObject *zo) {
    if (ae_ready(self)) return NULL;
    const gm_ae_config *ac = gm_ae_get_config(self->ae);
    PyArrayObject *z = f32_matrix(zo, "z", 1);
    if (!z) return NULL;
    if ((size_t)PyArray_DIM(z, 1) != ac->latent_dim) {
        PyErr_Format(PyExc_ValueError, "z has %zd columns, the latent dimension is %zu", (Py_ssize_t)PyArray_DIM(z, 1),
                     ac->latent_dim);
        Py_DECREF(z);
        return NULL;
    }
    npy_intp dims[2] = {PyArray_DIM(z, 0), (npy_intp)ac->data_dim};
    PyObject *out = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out || gm_py_enter(&self->busy, "Autoencoder")) {
        Py_DECREF(z);
        Py_XDECREF(out);
        return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_ae_decode(self->ae, PyArray_DATA((PyArrayObject *)out), PyArray_DATA(z), (size_t)dims[0]);
    Py_END_ALLOW_THREADS gm_py_leave(&self->busy);
    Py_DECREF(z);
    if (rc) {
        Py_DECREF(out);
        return gm_py_raise(rc);
    }
    return out;
}

static PyObject *ae_encode(Autoencoder *self, PyObject *xo) {
    if (ae_ready(self)) return NULL;
    const gm_ae_config *ac = gm_ae_get_config(self->ae);
    PyArrayObject *x = f32_matrix(xo, "x", 1);
    if (!x) return NULL;
    if ((size_t)PyArray_DIM(x, 1) != ac->data_dim) {
        PyErr_Format(PyExc_ValueError, "x has %zd columns, the data dimension is %zu", (Py_ssize_t)PyArray_DIM(x, 1),
                     ac->data_dim);
        Py_DECREF(x);
        return NULL;
    }
    npy_intp dims[2] = {PyArray_DIM(x, 0), (npy_intp)ac->latent_dim};
    PyObject *mu = PyArray_SimpleNew(2, dims, NPY_FLOAT32), *lv = PyArray_SimpleNew(2, dims, NPY_FLOAT32), *res = NULL;
    if (mu && lv && !gm_py_enter(&self->busy, "Autoencoder")) {
        int rc;
        Py_BEGIN_ALLOW_THREADS rc = gm_ae_encode(self->ae, PyArray_DATA((PyArrayObject *)mu),
                                                 PyArray_DATA((PyArrayObject *)lv), PyArray_DATA(x), (size_t)dims[0]);
        Py_END_ALLOW_THREADS gm_py_leave(&self->busy);
        if (rc) gm_py_raise(rc);
        else res = Py_BuildValue("(OO)", mu, lv);
    }
    Py_DECREF(x);
    Py_XDECREF(mu);
    Py_XDECREF(lv);
    return res;
}

static PyObject *ae_get_info(Autoencoder *self, void *c) {
    if (ae_ready(self)) return NULL;
    const gm_ae_config *ac = gm_ae_get_config(self->ae);
    return Py_BuildValue("{s:s,s:n,s:n,s:d,s:L}", "type", gm_ae_type_name(ac->type), "data_dim",
                         (Py_ssize_t)ac->data_dim, "latent_dim", (Py_ssize_t)ac->latent_dim, "sigma_c", ac->sigma_c,
                         "epoch", (long long)gm_ae_epoch(self->ae));
}

static PyMethodDef ae_methods[] = {
    {"sample", (PyCFunction)(void (*)(void))ae_sample, METH_VARARGS | METH_KEYWORDS,
     "sample(n, *, steps=0, seed=0, decode='mean', encode='sample', corrupt=None, z0_std=1.0) -> (n, D) float32\n\n"
     "Decoder means of z_0 ~ N(0, z0_std^2 I) after `steps` (0..1000000) latent decode->encode MCMC steps, exactly as\n"
     "`genmix sample --model M --n N --mcmc-steps STEPS --seed SEED` (corrupt defaults to the model's sigma_c)."},
    {"decode", (PyCFunction)ae_decode, METH_O, "decode(z) -> (n, D) float32 decoder means."},
    {"encode", (PyCFunction)ae_encode, METH_O, "encode(x) -> (mu, logvar), each (n, d) float32."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef ae_getset[] = {
    {"info", (getter)ae_get_info, NULL, "dict: type, data_dim, latent_dim, sigma_c, epoch", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject AutoencoderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genmix.Autoencoder",
    .tp_basicsize = sizeof(Autoencoder),
    .tp_dealloc = (destructor)ae_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A trained genmix autoencoder (vae, dvae, aae, daae) loaded with genmix.load(path).",
    .tp_methods = ae_methods,
    .tp_getset = ae_getset,
};

/* ---- registration ----------------------------------------------------------------------------------- */

PyDoc_STRVAR(offline_doc,
             "offline(arms, *, score='rke', sigma=None, reference=None, kernel='gauss', knn=5, lam=1.0)\n--\n\n"
             "The offline optimal mixture of generators: with K_ij = mean kappa(X_i, X_j) and f_i the linear terms\n"
             "(f = -2 E_Y kappa(x, Y) for KID/MMD to the reference, -lam*precision/-lam*density), alpha* =\n"
             "argmin over the simplex of alpha'(K + 1e-7 I) alpha + f'alpha. arms: a list of N_i x D arrays (used\n"
             "as float32). Returns {'alpha', 'objective', 'score' (RKE = 1/L, MMD = sqrt), 'higher_is_better',\n"
             "'K', 'f'}.");
PyDoc_STRVAR(fit_doc,
             "fit(X, y, *, experts=2, classes=None, restarts=10, seed=0, gate='identity', max_iter=5000, tol=1e-8)\n"
             "    -> MoE\n\n"
             "EM fit (Newton M-steps, random restarts, best objective among non-degenerate restarts) of a\n"
             "softmax-gated mixture of multinomial-logistic experts. X: n x d, y: labels 0..S-1 (S = classes or\n"
             "max(y)+1). restarts: 1..100000. gate: 'identity' (standard), 'sigmoid' or 'tanh' (modified gating).");
PyDoc_STRVAR(select_doc,
             "select(X, y, k_max, *, criterion='bic', classes=None, restarts=10, seed=0, gate='identity', ...)\n"
             "    -> (best_k, [MoE for k = 1..k_max])\n\n"
             "Fits k = 1..k_max experts and picks the smallest criterion ('bic', 'aic', 'icl') among non-degenerate\n"
             "fits (ties to the smaller k).");
PyDoc_STRVAR(load_doc,
             "load(path) -> Autoencoder: a model written by `genmix train vae|dvae|aae|daae` (.safetensors);\n"
             ".sample(n) draws images, .decode(z) / .encode(x) run the networks.");

PyMethodDef gm_py_mix_methods[] = {
    {"offline", (PyCFunction)(void (*)(void))py_mix_offline, METH_VARARGS | METH_KEYWORDS, offline_doc},
    {"moe_fit", (PyCFunction)(void (*)(void))py_moe_fit, METH_VARARGS | METH_KEYWORDS, fit_doc},
    {"moe_select", (PyCFunction)(void (*)(void))py_moe_select, METH_VARARGS | METH_KEYWORDS, select_doc},
    {"load", py_load, METH_VARARGS, load_doc},
    {NULL, NULL, 0, NULL}};

int gm_py_mix_init(PyObject *m) {
    PyTypeObject *types[] = {&BanditType, &MoEType, &AutoencoderType};
    const char *names[] = {"Bandit", "MoE", "Autoencoder"};
    for (int i = 0; i < 3; i++) {
        if (PyType_Ready(types[i]) < 0) return -1;
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
            Py_DECREF(types[i]);
            return -1;
        }
    }
    return 0;
}
