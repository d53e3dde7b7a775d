/* SPDX-License-Identifier: MIT */
/* py_eval.c — genmix.eval in C: fd, fd_stats, kid, mmd, pr, prdc, prd, vendi, rke, is_score, the
 * FeatureStats type (streaming, mergeable FD statistics) and the KNNStream type (streaming k-NN metrics).
 * Each function converts its NumPy arguments, applies the CLI's --profile conventions (gm_eval_profile)
 * exactly as `genmix eval` does, releases the GIL around the library call and returns Python values.
 * Owns: the FeatureStats / KNNStream types (their gm_fdstats / gm_knn_stream). Thread safety: functions
 * are reentrant; one FeatureStats / KNNStream refuses concurrent use from two threads (RuntimeError). */
#include "py_internal.h"

#include <math.h>
#include <string.h>

/* ---- shared argument handling -------------------------------------------------------------------- */

static int get_profile(const char *name, gm_eval_profile *p) {
    if (gm_eval_profile_get(name ? name : "genmix", p) != GM_OK) {
        gm_py_raise(GM_EINVAL);
        return -1;
    }
    return 0;
}

static int parse_cov_norm(const char *s, gm_cov_norm *out) {
    if (!s) return 0;
    if (!strcmp(s, "unbiased")) *out = GM_COV_UNBIASED;
    else if (!strcmp(s, "biased")) *out = GM_COV_BIASED;
    else {
        PyErr_Format(PyExc_ValueError, "cov_norm must be 'unbiased' or 'biased', got '%s'", s);
        return -1;
    }
    return 0;
}

static int parse_cmp(const char *s, gm_cmp *out) {
    if (!s) return 0;
    if (!strcmp(s, "le") || !strcmp(s, "<=")) *out = GM_CMP_LE;
    else if (!strcmp(s, "lt") || !strcmp(s, "<")) *out = GM_CMP_LT;
    else {
        PyErr_Format(PyExc_ValueError, "cmp must be 'le' ('<=') or 'lt' ('<'), got '%s'", s);
        return -1;
    }
    return 0;
}

static int parse_estimator(const char *s, int allow_ustat, gm_mmd_estimator *out) {
    if (!strcmp(s, "unbiased")) *out = GM_MMD_UNBIASED;
    else if (!strcmp(s, "biased")) *out = GM_MMD_BIASED;
    else if (allow_ustat && !strcmp(s, "ustat")) *out = GM_MMD_USTAT;
    else {
        PyErr_Format(PyExc_ValueError, "estimator must be 'unbiased', 'biased'%s, got '%s'",
                     allow_ustat ? " or 'ustat'" : "", s);
        return -1;
    }
    return 0;
}

static int same_d(const gm_feats *a, const gm_feats *b) {
    if (a->d == b->d) return 0;
    PyErr_Format(PyExc_ValueError, "feature dimensions differ: real has D = %zu, fake has D = %zu", a->d, b->d);
    return -1;
}

static PyObject *fd_dict(const gm_fd_result *r, gm_cov_norm norm) {
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    if (gm_py_setf(d, "value", r->fd) || gm_py_setf(d, "mean_term", r->mean_term) ||
        gm_py_setf(d, "trace_real", r->trace1) || gm_py_setf(d, "trace_gen", r->trace2) ||
        gm_py_setf(d, "trace_sqrt", r->trace_sqrt) || gm_py_setf(d, "neg_eig_mass", r->neg_eig_mass) ||
        gm_py_setf(d, "min_eig_real", r->min_eig1) || gm_py_setf(d, "min_eig_gen", r->min_eig2) ||
        gm_py_setf(d, "cond_real", r->cond1) || gm_py_setf(d, "cond_gen", r->cond2)) {
        Py_DECREF(d);
        return NULL;
    }
    PyObject *s = PyUnicode_FromString(r->method ? r->method : "");
    PyObject *c = PyUnicode_FromString(norm == GM_COV_BIASED ? "1/n" : "1/(n-1)");
    PyObject *rd = PyBool_FromLong(r->rank_deficient);
    int bad = !s || !c || PyDict_SetItemString(d, "method", s) || PyDict_SetItemString(d, "cov_norm", c) ||
              PyDict_SetItemString(d, "rank_deficient", rd);
    Py_XDECREF(s);
    Py_XDECREF(c);
    Py_XDECREF(rd);
    if (bad) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* ---- FD ------------------------------------------------------------------------------------------ */

/* FD of two feature sets as `genmix eval` computes it under profile p. */
static int fd_compute(const gm_feats *r, const gm_feats *g, const gm_eval_profile *p, gm_cov_norm norm,
                      gm_fd_result *out) {
    if (!p->fd_mean_f32) return gm_fd(r, g, norm, out);
    gm_fdstats a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int rc;
    if (!(rc = gm_fdstats_init(&a, r->d)) && !(rc = gm_fdstats_init(&b, r->d)) && !(rc = gm_fdstats_add(&a, r)) &&
        !(rc = gm_fdstats_add(&b, g))) {
        gm_fdstats_round_mean_f32(&a);
        gm_fdstats_round_mean_f32(&b);
        rc = gm_fd_from_stats(&a, &b, norm, out);
    }
    gm_fdstats_free(&a);
    gm_fdstats_free(&b);
    return rc;
}

/* ---- per class (labels=) --------------------------------------------------------------------------- */

typedef enum { PC_FD = 0, PC_KID = 1, PC_PR = 2, PC_PRDC = 3 } pc_kind;

/* labels = (real_labels, fake_labels): two 1-D integer arrays of n_real / n_fake entries, as int64. */
static int pc_labels(PyObject *lo, size_t nr, size_t nf, PyArrayObject **a, PyArrayObject **b) {
    *a = *b = NULL;
    if (!PySequence_Check(lo) || PySequence_Size(lo) != 2) {
        PyErr_SetString(PyExc_ValueError, "labels must be a pair (real_labels, fake_labels)");
        return -1;
    }
    PyObject *items[2] = {PySequence_GetItem(lo, 0), PySequence_GetItem(lo, 1)};
    PyArrayObject **outs[2] = {a, b};
    size_t want[2] = {nr, nf};
    const char *names[2] = {"real_labels", "fake_labels"};
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        PyArrayObject *t = items[i] ? (PyArrayObject *)PyArray_FROM_OF(items[i], 0) : NULL;
        if (!t) {
            rc = -1;
            break;
        }
        if (!PyArray_ISINTEGER(t) && !PyArray_ISBOOL(t)) {
            PyErr_Format(PyExc_ValueError, "%s: expected an integer array", names[i]);
            rc = -1;
        } else if (PyArray_NDIM(t) != 1 || (size_t)PyArray_DIM(t, 0) != want[i]) {
            PyErr_Format(PyExc_ValueError, "%s: expected a 1-D array of %zu labels (one per row)", names[i], want[i]);
            rc = -1;
        } else if (!(*outs[i] = (PyArrayObject *)PyArray_FromAny((PyObject *)t, PyArray_DescrFromType(NPY_INT64), 1,
                                                                  1, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED |
                                                                         NPY_ARRAY_FORCECAST,
                                                                  NULL))) {
            rc = -1;
        }
        Py_DECREF(t);
    }
    Py_XDECREF(items[0]);
    Py_XDECREF(items[1]);
    if (rc) {
        Py_CLEAR(*a);
        Py_CLEAR(*b);
    }
    return rc;
}

/* {"labels", "n_real", "n_fake": arrays; each value key: per-class array; "class_mean": {key: mean}}. */
static PyObject *pc_result(const gm_class_metrics *m, pc_kind kind) {
    static const char *keys[4][4] = {{"value"}, {"mean", "std"}, {"precision", "recall", "f1"},
                                     {"precision", "recall", "density", "coverage"}};
    static const int col[4][4] = {{0}, {0, 1}, {0, 1, 2}, {3, 4, 5, 6}};
    static const int nk[4] = {1, 2, 3, 4};
    npy_intp nc = (npy_intp)m->n_classes;
    PyObject *res = PyDict_New(), *means = PyDict_New();
    PyObject *lab = PyArray_SimpleNew(1, &nc, NPY_INT64), *nr = PyArray_SimpleNew(1, &nc, NPY_INT64),
             *nf = PyArray_SimpleNew(1, &nc, NPY_INT64);
    int bad = !res || !means || !lab || !nr || !nf;
    for (npy_intp c = 0; c < nc && !bad; c++) {
        ((int64_t *)PyArray_DATA((PyArrayObject *)lab))[c] = m->labels[c];
        ((int64_t *)PyArray_DATA((PyArrayObject *)nr))[c] = (int64_t)m->n_real[c];
        ((int64_t *)PyArray_DATA((PyArrayObject *)nf))[c] = (int64_t)m->n_fake[c];
    }
    bad = bad || PyDict_SetItemString(res, "labels", lab) || PyDict_SetItemString(res, "n_real", nr) ||
          PyDict_SetItemString(res, "n_fake", nf);
    for (int k = 0; k < nk[kind] && !bad; k++) {
        PyObject *v = PyArray_SimpleNew(1, &nc, NPY_FLOAT64);
        if (!v) {
            bad = 1;
            break;
        }
        for (npy_intp c = 0; c < nc; c++)
            ((double *)PyArray_DATA((PyArrayObject *)v))[c] = m->values[(size_t)c * m->n_values + (size_t)col[kind][k]];
        bad = PyDict_SetItemString(res, keys[kind][k], v) || gm_py_setf(means, keys[kind][k], m->mean[col[kind][k]]);
        Py_DECREF(v);
    }
    bad = bad || PyDict_SetItemString(res, "class_mean", means);
    Py_XDECREF(lab);
    Py_XDECREF(nr);
    Py_XDECREF(nf);
    Py_XDECREF(means);
    if (bad) Py_CLEAR(res);
    return res;
}

/* The metric per class of r / g (labels as pc_labels reads them); the GIL is released for the computation. */
static PyObject *pc_run(pc_kind kind, const gm_feats *r, const gm_feats *g, PyObject *labels, gm_cov_norm norm,
                        const gm_kid_config *kc, const gm_knn_config *nc) {
    PyArrayObject *la, *lb;
    if (pc_labels(labels, r->n, g->n, &la, &lb)) return NULL;
    const int64_t *lr = PyArray_DATA(la), *lf = PyArray_DATA(lb);
    gm_class_metrics m;
    int rc;
    Py_BEGIN_ALLOW_THREADS;
    if (kind == PC_FD)
        rc = gm_fd_per_class(r, lr, g, lf, norm, &m);
    else if (kind == PC_KID)
        rc = gm_kid_per_class(r, lr, g, lf, kc, &m);
    else
        rc = gm_knn_per_class(r, lr, g, lf, nc, &m);
    Py_END_ALLOW_THREADS;
    Py_DECREF(la);
    Py_DECREF(lb);
    if (rc) return gm_py_raise(rc);
    PyObject *res = pc_result(&m, kind);
    gm_class_metrics_free(&m);
    return res;
}

static PyObject *py_fd(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"real", "fake", "profile", "cov_norm", "details", "labels", NULL};
    PyObject *ro, *fo, *labels = Py_None;
    const char *profile = "genmix", *cn = NULL;
    int details = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$zzpO:fd", kwl, &ro, &fo, &profile, &cn, &details, &labels))
        return NULL;
    gm_eval_profile p;
    if (get_profile(profile, &p) || parse_cov_norm(cn, &p.cov_norm)) return NULL;
    gm_feats r, g;
    PyArrayObject *hr = NULL, *hg = NULL;
    PyObject *res = NULL;
    if (gm_py_feats(ro, "real", &r, &hr) || gm_py_feats(fo, "fake", &g, &hg) || same_d(&r, &g)) goto done;
    if (labels != Py_None) {
        res = pc_run(PC_FD, &r, &g, labels, p.cov_norm, NULL, NULL);
        goto done;
    }
    gm_fd_result fd;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fd_compute(&r, &g, &p, p.cov_norm, &fd);
    Py_END_ALLOW_THREADS if (rc) {
        gm_py_raise(rc);
        goto done;
    }
    res = details ? fd_dict(&fd, p.cov_norm) : PyFloat_FromDouble(fd.fd);
done:
    Py_XDECREF(hr);
    Py_XDECREF(hg);
    return res;
}

/* ---- FeatureStats --------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD gm_fdstats s;
    int busy;
} FeatureStats;

static PyTypeObject FeatureStatsType;

static int fs_add_array(FeatureStats *self, PyObject *batch) {
    gm_feats x;
    PyArrayObject *h;
    if (gm_py_feats(batch, "batch", &x, &h)) return -1;
    if (x.d != self->s.d) {
        PyErr_Format(PyExc_ValueError, "batch has D = %zu, the statistics have D = %zu", x.d, self->s.d);
        Py_DECREF(h);
        return -1;
    }
    if (gm_py_enter(&self->busy, "FeatureStats")) {
        Py_DECREF(h);
        return -1;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_fdstats_add(&self->s, &x);
    Py_END_ALLOW_THREADS gm_py_leave(&self->busy);
    Py_DECREF(h);
    if (rc) {
        gm_py_raise(rc);
        return -1;
    }
    return 0;
}

static int fs_init(FeatureStats *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"d", NULL};
    PyObject *o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:FeatureStats", kwl, &o)) return -1;
    if (self->s.mean) {
        PyErr_SetString(PyExc_RuntimeError, "FeatureStats is already initialised");
        return -1;
    }
    size_t d = 0;
    int is_int = (PyLong_Check(o) || PyArray_IsScalar(o, Integer)) && !PyBool_Check(o);
    if (is_int) {
        if (gm_py_size(o, "d", &d, 1)) return -1;
    } else {
        PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(o, 0);
        if (!a) return -1;
        d = PyArray_NDIM(a) == 2 ? (size_t)PyArray_DIM(a, 1) : 0;
        Py_DECREF(a);
        if (!d) {
            PyErr_SetString(PyExc_ValueError, "FeatureStats(d) takes a dimension or a first 2-D batch");
            return -1;
        }
    }
    int rc = gm_fdstats_init(&self->s, d);
    if (rc) {
        gm_py_raise(rc);
        return -1;
    }
    return is_int ? 0 : fs_add_array(self, o);
}

static void fs_dealloc(FeatureStats *self) {
    gm_fdstats_free(&self->s);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int fs_ready(FeatureStats *self) {
    if (!self->s.mean) {
        PyErr_SetString(PyExc_RuntimeError, "FeatureStats was not initialised");
        return -1;
    }
    if (self->busy) { /* another thread is adding to it with the GIL released */
        PyErr_SetString(PyExc_RuntimeError, "FeatureStats is in use by another thread");
        return -1;
    }
    return 0;
}

static PyObject *fs_add(FeatureStats *self, PyObject *batch) {
    if (!self->s.mean) return fs_ready(self), NULL;
    if (fs_add_array(self, batch)) return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

/* New FeatureStats holding a copy of src. */
static FeatureStats *fs_copy(FeatureStats *src) {
    FeatureStats *o = (FeatureStats *)FeatureStatsType.tp_alloc(&FeatureStatsType, 0);
    if (!o) return NULL;
    int rc = gm_fdstats_init(&o->s, src->s.d);
    if (rc) {
        Py_DECREF(o);
        return (FeatureStats *)gm_py_raise(rc);
    }
    o->s.n = src->s.n;
    memcpy(o->s.mean, src->s.mean, src->s.d * sizeof(double));
    memcpy(o->s.m2, src->s.m2, src->s.d * src->s.d * sizeof(double));
    return o;
}

static int fs_merge_into(FeatureStats *dst, PyObject *other) {
    if (!PyObject_TypeCheck(other, &FeatureStatsType)) {
        PyErr_SetString(PyExc_TypeError, "can only merge a FeatureStats");
        return -1;
    }
    FeatureStats *b = (FeatureStats *)other;
    if (fs_ready(b)) return -1;
    if (b->s.d != dst->s.d) {
        PyErr_Format(PyExc_ValueError, "cannot merge statistics of D = %zu into D = %zu", b->s.d, dst->s.d);
        return -1;
    }
    int rc = gm_fdstats_merge(&dst->s, &b->s);
    if (rc) {
        gm_py_raise(rc);
        return -1;
    }
    return 0;
}

static PyObject *fs_merge(FeatureStats *self, PyObject *other) {
    if (fs_ready(self)) return NULL;
    PyObject *src = other;
    if (other == (PyObject *)self) { /* s.merge(s): merge a copy (the library's merge must not alias) */
        if (!(src = (PyObject *)fs_copy(self))) return NULL;
    } else {
        Py_INCREF(src);
    }
    /* the merge runs with the GIL held; fs_ready has refused objects another thread is adding to */
    int bad = fs_merge_into(self, src);
    Py_DECREF(src);
    if (bad) return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *fs_nb_add(PyObject *a, PyObject *b) {
    if (!PyObject_TypeCheck(a, &FeatureStatsType) || !PyObject_TypeCheck(b, &FeatureStatsType))
        Py_RETURN_NOTIMPLEMENTED;
    if (fs_ready((FeatureStats *)a)) return NULL;
    FeatureStats *o = fs_copy((FeatureStats *)a);
    if (!o) return NULL;
    if (fs_merge_into(o, b)) {
        Py_DECREF(o);
        return NULL;
    }
    return (PyObject *)o;
}

static PyObject *fs_cov(FeatureStats *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"norm", NULL};
    const char *ns = "unbiased";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|s:cov", kwl, &ns)) return NULL;
    gm_cov_norm norm = GM_COV_UNBIASED;
    if (fs_ready(self) || parse_cov_norm(ns, &norm)) return NULL;
    npy_intp dims[2] = {(npy_intp)self->s.d, (npy_intp)self->s.d};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (!a) return NULL;
    int rc = gm_fdstats_cov(&self->s, norm, PyArray_DATA((PyArrayObject *)a));
    if (rc) {
        Py_DECREF(a);
        return gm_py_raise(rc);
    }
    return a;
}

static PyObject *fs_get_n(FeatureStats *self, void *c) { return PyLong_FromLongLong((long long)self->s.n); }
static PyObject *fs_get_d(FeatureStats *self, void *c) { return PyLong_FromSize_t(self->s.d); }
static PyObject *fs_get_mean(FeatureStats *self, void *c) {
    if (fs_ready(self)) return NULL;
    return gm_py_vec(self->s.mean, (npy_intp)self->s.d);
}
static PyObject *fs_get_m2(FeatureStats *self, void *c) {
    if (fs_ready(self)) return NULL;
    npy_intp dims[2] = {(npy_intp)self->s.d, (npy_intp)self->s.d};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (a) memcpy(PyArray_DATA((PyArrayObject *)a), self->s.m2, self->s.d * self->s.d * sizeof(double));
    return a;
}

/* Pickling (for multiprocessing): (n, mean, m2) restore the exact state. */
static PyObject *fs_reduce(FeatureStats *self, PyObject *noargs) {
    if (fs_ready(self)) return NULL;
    PyObject *mod = PyImport_ImportModule("genmix._genmix");
    if (!mod) return NULL;
    PyObject *fn = PyObject_GetAttrString(mod, "_fdstats_restore");
    Py_DECREF(mod);
    if (!fn) return NULL;
    PyObject *mean = fs_get_mean(self, NULL), *m2 = fs_get_m2(self, NULL);
    PyObject *res = NULL;
    if (mean && m2) res = Py_BuildValue("(O(LOO))", fn, (long long)self->s.n, mean, m2);
    Py_DECREF(fn);
    Py_XDECREF(mean);
    Py_XDECREF(m2);
    return res;
}

static PyObject *py_fdstats_restore(PyObject *self, PyObject *args) {
    long long n;
    PyObject *mo, *so;
    if (!PyArg_ParseTuple(args, "LOO:_fdstats_restore", &n, &mo, &so)) return NULL;
    PyArrayObject *mean = gm_py_f64(mo, "mean", 1, 1), *m2 = mean ? gm_py_f64(so, "m2", 2, 2) : NULL;
    FeatureStats *o = NULL;
    if (!mean || !m2) goto done;
    npy_intp d = PyArray_DIM(mean, 0);
    if (d < 1 || PyArray_DIM(m2, 0) != d || PyArray_DIM(m2, 1) != d || n < 0) {
        PyErr_SetString(PyExc_ValueError, "FeatureStats state: mean (d,), m2 (d, d), n >= 0");
        goto done;
    }
    o = (FeatureStats *)FeatureStatsType.tp_alloc(&FeatureStatsType, 0);
    if (!o) goto done;
    int rc = gm_fdstats_init(&o->s, (size_t)d);
    if (rc) {
        Py_CLEAR(o);
        gm_py_raise(rc);
        goto done;
    }
    o->s.n = n;
    memcpy(o->s.mean, PyArray_DATA(mean), (size_t)d * sizeof(double));
    memcpy(o->s.m2, PyArray_DATA(m2), (size_t)(d * d) * sizeof(double));
done:
    Py_XDECREF(mean);
    Py_XDECREF(m2);
    return (PyObject *)o;
}

static PyMethodDef fs_methods[] = {
    {"add", (PyCFunction)fs_add, METH_O,
     "add(batch) -> self: add the rows of an N x D float32/float64 batch (Chan's merge of the batch's own\n"
     "centred moments, float64). Adding the same rows in the same batches gives the same bits."},
    {"merge", (PyCFunction)fs_merge, METH_O,
     "merge(other) -> self: in place self += other (exact pooled count, mean and M2; `a + b` returns a new\n"
     "object). Statistics of shards computed on several GPUs/processes combine exactly."},
    {"cov", (PyCFunction)(void (*)(void))fs_cov, METH_VARARGS | METH_KEYWORDS,
     "cov(norm='unbiased') -> (D, D) float64: M2/(n-1) ('unbiased', the default of genmix/torch-fidelity/\n"
     "pytorch-fid, np.cov) or M2/n ('biased', the nvidia profile)."},
    {"__reduce__", (PyCFunction)fs_reduce, METH_NOARGS, "pickle support (exact state)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef fs_getset[] = {
    {"n", (getter)fs_get_n, NULL, "number of rows added", NULL},
    {"d", (getter)fs_get_d, NULL, "feature dimension", NULL},
    {"mean", (getter)fs_get_mean, NULL, "(D,) float64 mean (a copy)", NULL},
    {"m2", (getter)fs_get_m2, NULL, "(D, D) float64 centred second moments sum (x-mu)(x-mu)^T (a copy)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyNumberMethods fs_number = {.nb_add = fs_nb_add};

static PyTypeObject FeatureStatsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genmix.eval.FeatureStats",
    .tp_basicsize = sizeof(FeatureStats),
    .tp_dealloc = (destructor)fs_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "FeatureStats(d_or_batch)\n\n"
              "Streaming, mergeable float64 statistics for the Frechet distance: count n, mean mu and centred\n"
              "second moments M2 = sum (x - mu)(x - mu)^T. Construct with the dimension D or with a first batch;\n"
              "add(batch) accumulates rows, `a + b` (or a.merge(b)) pools two shards exactly (Chan et al.).\n"
              "fd_stats(a, b) gives the FD; cov() the covariance. Picklable.\n\n"
              "    s = genmix.eval.FeatureStats(2048)\n"
              "    for batch in loader: s.add(extract(batch))\n"
              "    total = s_gpu0 + s_gpu1\n",
    .tp_methods = fs_methods,
    .tp_getset = fs_getset,
    .tp_as_number = &fs_number,
    .tp_init = (initproc)fs_init,
    .tp_new = PyType_GenericNew,
};

/* (mu, sigma) tuple or FeatureStats -> mean and covariance pointers (sigma held in *hold / *cov_buf). */
typedef struct {
    PyArrayObject *mu, *sigma;
    double *cov;
    const double *m, *s;
    size_t d;
} moments;

static int get_moments(PyObject *o, const char *name, gm_cov_norm norm, int round_f32, moments *out) {
    memset(out, 0, sizeof *out);
    if (PyObject_TypeCheck(o, &FeatureStatsType)) {
        FeatureStats *f = (FeatureStats *)o;
        if (fs_ready(f)) return -1;
        size_t d = f->s.d;
        out->cov = PyMem_Malloc((d * d + d) * sizeof(double));
        if (!out->cov) {
            PyErr_NoMemory();
            return -1;
        }
        int rc = gm_fdstats_cov(&f->s, norm, out->cov);
        if (rc) {
            gm_py_raise(rc);
            return -1;
        }
        double *m = out->cov + d * d;
        memcpy(m, f->s.mean, d * sizeof(double));
        if (round_f32)
            for (size_t j = 0; j < d; j++) m[j] = (double)(float)m[j];
        out->m = m;
        out->s = out->cov;
        out->d = d;
        return 0;
    }
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 2) {
        PyErr_Format(PyExc_TypeError, "%s: expected a FeatureStats or a (mu, sigma) tuple", name);
        return -1;
    }
    out->mu = gm_py_f64(PyTuple_GET_ITEM(o, 0), "mu", 1, 1);
    if (!out->mu) return -1;
    out->sigma = gm_py_f64(PyTuple_GET_ITEM(o, 1), "sigma", 2, 2);
    if (!out->sigma) return -1;
    npy_intp d = PyArray_DIM(out->mu, 0);
    if (d < 1 || PyArray_DIM(out->sigma, 0) != d || PyArray_DIM(out->sigma, 1) != d) {
        PyErr_Format(PyExc_ValueError, "%s: mu must be (d,) and sigma (d, d)", name);
        return -1;
    }
    out->m = PyArray_DATA(out->mu);
    out->s = PyArray_DATA(out->sigma);
    out->d = (size_t)d;
    return 0;
}

static void free_moments(moments *m) {
    Py_XDECREF(m->mu);
    Py_XDECREF(m->sigma);
    PyMem_Free(m->cov);
}

static PyObject *py_fd_stats(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"a", "b", "profile", "cov_norm", "details", NULL};
    PyObject *ao, *bo, *res = NULL;
    const char *profile = "genmix", *cn = NULL;
    int details = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$zzp:fd_stats", kwl, &ao, &bo, &profile, &cn, &details))
        return NULL;
    gm_eval_profile p;
    if (get_profile(profile, &p) || parse_cov_norm(cn, &p.cov_norm)) return NULL;
    moments a, b;
    memset(&b, 0, sizeof b);
    if (get_moments(ao, "a", p.cov_norm, p.fd_mean_f32, &a) || get_moments(bo, "b", p.cov_norm, p.fd_mean_f32, &b))
        goto done;
    if (a.d != b.d) {
        PyErr_Format(PyExc_ValueError, "feature dimensions differ: %zu and %zu", a.d, b.d);
        goto done;
    }
    gm_fd_result fd;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_fd_from_moments(a.m, a.s, b.m, b.s, a.d, &fd);
    Py_END_ALLOW_THREADS if (rc) gm_py_raise(rc);
    else res = details ? fd_dict(&fd, p.cov_norm) : PyFloat_FromDouble(fd.fd);
done:
    free_moments(&a);
    free_moments(&b);
    return res;
}

/* ---- KID / MMD ----------------------------------------------------------------------------------- */

static PyObject *py_kid(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"real", "fake", "profile", "subsets", "subset_size", "seed", "f32", "strict",
                          "per_subset", "labels", NULL};
    PyObject *ro, *fo, *so = Py_None, *mo = Py_None, *seo = Py_None, *f32o = Py_None, *sto = Py_None, *res = NULL;
    PyObject *labels = Py_None;
    const char *profile = "genmix";
    int want_per = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$zOOOOOpO:kid", kwl, &ro, &fo, &profile, &so, &mo, &seo, &f32o,
                                     &sto, &want_per, &labels))
        return NULL;
    gm_eval_profile p;
    if (get_profile(profile, &p)) return NULL;
    gm_kid_config kc = p.kid;
    size_t seed = kc.seed;
    if (gm_py_size(so, "subsets", &kc.subsets, 1) || gm_py_size(mo, "subset_size", &kc.subset_size, 2) ||
        gm_py_size(seo, "seed", &seed, 0) || gm_py_bool(f32o, &kc.f32) || gm_py_bool(sto, &kc.strict))
        return NULL;
    if (seed > 0xffffffffULL) {
        PyErr_SetString(PyExc_ValueError, "seed must be in 0..2^32-1");
        return NULL;
    }
    kc.seed = (uint32_t)seed;
    gm_feats r, g;
    PyArrayObject *hr = NULL, *hg = NULL;
    double *per = NULL;
    if (gm_py_feats(ro, "real", &r, &hr) || gm_py_feats(fo, "fake", &g, &hg) || same_d(&r, &g)) goto done;
    if (labels != Py_None) {
        res = pc_run(PC_KID, &r, &g, labels, GM_COV_UNBIASED, &kc, NULL);
        goto done;
    }
    if (kc.subsets > PY_SSIZE_T_MAX / sizeof(double) || !(per = PyMem_Malloc(kc.subsets * sizeof(double)))) {
        PyErr_Format(PyExc_MemoryError, "kid: out of memory for the results of subsets = %zu", kc.subsets);
        goto done;
    }
    gm_kid_result k;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_kid(&r, &g, &kc, &k, per);
    Py_END_ALLOW_THREADS if (rc) {
        gm_py_raise(rc);
        goto done;
    }
    res = Py_BuildValue("{s:d,s:d,s:n,s:n,s:O,s:s}", "mean", k.mean, "std", k.std, "subsets", (Py_ssize_t)k.subsets,
                        "subset_size", (Py_ssize_t)k.subset_size, "shrunk", k.shrunk ? Py_True : Py_False,
                        "arithmetic", kc.f32 ? "float32" : "float64");
    if (res && want_per) {
        PyObject *v = gm_py_vec(per, (npy_intp)k.subsets);
        if (!v || PyDict_SetItemString(res, "per_subset", v)) Py_CLEAR(res);
        Py_XDECREF(v);
    }
done:
    PyMem_Free(per);
    Py_XDECREF(hr);
    Py_XDECREF(hg);
    return res;
}

static PyObject *py_mmd(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"x", "y", "sigma", "kernel", "estimator", NULL};
    PyObject *xo, *yo, *res = NULL;
    double sigma = 10;
    const char *kern = "rbf", *est = "unbiased";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$dss:mmd", kwl, &xo, &yo, &sigma, &kern, &est)) return NULL;
    gm_kernel k;
    if (!strcmp(kern, "rbf")) {
        if (!(sigma > 0) || !isfinite(sigma)) {
            PyErr_SetString(PyExc_ValueError, "sigma must be a positive number");
            return NULL;
        }
        k = gm_kernel_rbf_sigma(sigma);
    } else if (!strcmp(kern, "poly3")) {
        k = gm_kernel_poly3();
    } else {
        PyErr_Format(PyExc_ValueError, "kernel must be 'rbf' or 'poly3', got '%s'", kern);
        return NULL;
    }
    gm_mmd_estimator e;
    if (parse_estimator(est, 1, &e)) return NULL;
    gm_feats x, y;
    PyArrayObject *hx = NULL, *hy = NULL;
    if (gm_py_feats(xo, "x", &x, &hx) || gm_py_feats(yo, "y", &y, &hy) || same_d(&x, &y)) goto done;
    double v;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_mmd(&x, &y, &k, e, &v);
    Py_END_ALLOW_THREADS if (rc) gm_py_raise(rc);
    else res = PyFloat_FromDouble(v);
done:
    Py_XDECREF(hx);
    Py_XDECREF(hy);
    return res;
}

/* ---- k-NN precision/recall, density/coverage ------------------------------------------------------ */

typedef struct {
    PyObject *k, *cmp_o, *f32, *fp16, *tile;
    const char *profile;
    unsigned long long seed;
} knn_args;

/* The k-NN configuration `genmix eval` builds for profile + overrides (want_pr / want_dc given). */
static int knn_config(const knn_args *a, int want_pr, int want_dc, int in_f32, gm_eval_profile *p,
                      gm_knn_config *c) {
    if (get_profile(a->profile, p)) return -1;
    size_t k = 0;
    if (gm_py_size(a->k, "k", &k, 1)) return -1;
    if (k) {
        if (want_pr) p->knn.k_pr = k;
        if (want_dc) p->knn.k_dc = k;
    }
    const char *cs = NULL;
    if (a->cmp_o && a->cmp_o != Py_None) {
        if (!(cs = PyUnicode_AsUTF8(a->cmp_o))) return -1;
        gm_cmp cmp = GM_CMP_LE;
        if (parse_cmp(cs, &cmp)) return -1;
        p->knn.cmp_pr = p->knn.cmp_dc = cmp;
    }
    if (gm_py_size(a->tile, "tile", &p->knn.tile, 1)) return -1;
    *c = p->knn;
    c->want_pr = want_pr;
    c->want_dc = want_dc;
    if (c->realism == GM_REALISM_DGM && !c->want_dc) c->realism = GM_REALISM_NONE;
    if (c->realism == GM_REALISM_KYNKAAT && !c->want_pr) c->realism = GM_REALISM_NONE;
    int f = -1, h = -1;
    if (gm_py_bool(a->f32, &f) || gm_py_bool(a->fp16, &h)) return -1;
    if (h >= 0) c->fp16 = h;
    if (f >= 0)
        c->f32 = f;
    else if (p->knn_f32_if_input_f32)
        c->f32 = in_f32;
    return 0;
}

static PyObject *knn_common(PyObject *args, PyObject *kw, int want_pr, int want_dc, const char *fname) {
    static char *kwl[] = {"real", "fake", "k", "profile", "cmp", "f32", "fp16", "tile", "seed", "labels", NULL};
    PyObject *ro, *fo, *res = NULL, *labels = Py_None;
    knn_args a = {Py_None, Py_None, Py_None, Py_None, Py_None, "genmix", 0};
    char fmt[64];
    snprintf(fmt, sizeof fmt, "OO|O$zOOOOKO:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, &ro, &fo, &a.k, &a.profile, &a.cmp_o, &a.f32, &a.fp16,
                                     &a.tile, &a.seed, &labels))
        return NULL;
    gm_feats r, g;
    PyArrayObject *hr = NULL, *hg = NULL;
    gm_eval_profile p;
    gm_knn_config c;
    if (gm_py_feats(ro, "real", &r, &hr) || gm_py_feats(fo, "fake", &g, &hg) || same_d(&r, &g) ||
        knn_config(&a, want_pr, want_dc, !r.is_f64 && !g.is_f64, &p, &c))
        goto done;
    if (labels != Py_None) { /* per class: no subsampling (each class is usually small) */
        res = pc_run(want_pr ? PC_PR : PC_PRDC, &r, &g, labels, GM_COV_UNBIASED, NULL, &c);
        goto done;
    }
    gm_knn_result out;
    int rc = GM_OK;
    Py_BEGIN_ALLOW_THREADS gm_feats rf = r, ff = g;
    void *b1 = NULL, *b2 = NULL;
    if (p.knn_subsample && (rf.n > p.knn_subsample || ff.n > p.knn_subsample)) {
        rc = gm_feats_subsample(&r, p.knn_subsample, a.seed, 0, &b1, &rf);
        if (!rc) rc = gm_feats_subsample(&g, p.knn_subsample, a.seed, 1, &b2, &ff);
    }
    if (!rc) rc = gm_knn(&rf, &ff, &c, &out);
    gm_free(b1);
    gm_free(b2);
    Py_END_ALLOW_THREADS if (rc) {
        gm_py_raise(rc);
        goto done;
    }
    if (want_pr)
        res = Py_BuildValue("{s:d,s:d,s:d,s:n,s:s}", "precision", out.precision, "recall", out.recall, "f1", out.f1,
                            "k", (Py_ssize_t)c.k_pr, "cmp", c.cmp_pr == GM_CMP_LE ? "<=" : "<");
    else
        res = Py_BuildValue("{s:d,s:d,s:d,s:d,s:n,s:s}", "precision", out.dc_precision, "recall", out.dc_recall,
                            "density", out.density, "coverage", out.coverage, "k", (Py_ssize_t)c.k_dc, "cmp",
                            c.cmp_dc == GM_CMP_LE ? "<=" : "<");
    gm_knn_result_free(&out);
done:
    Py_XDECREF(hr);
    Py_XDECREF(hg);
    return res;
}

static PyObject *py_pr(PyObject *self, PyObject *args, PyObject *kw) { return knn_common(args, kw, 1, 0, "pr"); }
static PyObject *py_prdc(PyObject *self, PyObject *args, PyObject *kw) {
    return knn_common(args, kw, 0, 1, "prdc");
}

/* ---- KNNStream ------------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD gm_knn_stream *s;
    gm_knn_config c;
    size_t d;
    int busy, finished;
} KNNStream;

static int ks_init(KNNStream *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"d", "k_pr", "k_dc", "pr", "dc", "profile", "cmp", "f32", "fp16", "tile", NULL};
    PyObject *dO, *kpr = Py_None, *kdc = Py_None;
    int want_pr = 1, want_dc = 1;
    knn_args a = {Py_None, Py_None, Py_None, Py_None, Py_None, "genmix", 0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOppzOOOO:KNNStream", kwl, &dO, &kpr, &kdc, &want_pr, &want_dc,
                                     &a.profile, &a.cmp_o, &a.f32, &a.fp16, &a.tile))
        return -1;
    if (self->s) {
        PyErr_SetString(PyExc_RuntimeError, "KNNStream is already initialised");
        return -1;
    }
    size_t d = 0;
    if (gm_py_size(dO, "d", &d, 1)) return -1;
    if (!want_pr && !want_dc) {
        PyErr_SetString(PyExc_ValueError, "KNNStream: pr and dc are both off");
        return -1;
    }
    gm_eval_profile p;
    /* the stream cannot see the input dtype before the first batch: the prdc profile's "distances in the
       input dtype" is f32=True/False here (default float64 unless f32=True) */
    if (knn_config(&a, want_pr, want_dc, 0, &p, &self->c)) return -1;
    if (gm_py_size(kpr, "k_pr", &self->c.k_pr, 1) || gm_py_size(kdc, "k_dc", &self->c.k_dc, 1)) return -1;
    self->c.realism = GM_REALISM_NONE;
    self->c.progress = NULL;
    int rc = gm_knn_stream_create(&self->s, d, &self->c);
    if (rc) {
        gm_py_raise(rc);
        return -1;
    }
    self->d = d;
    return 0;
}

static void ks_dealloc(KNNStream *self) {
    gm_knn_stream_free(self->s);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *ks_feed(KNNStream *self, PyObject *batch, int set) {
    if (!self->s) {
        PyErr_SetString(PyExc_RuntimeError, "KNNStream was not initialised");
        return NULL;
    }
    if (self->finished) {
        PyErr_SetString(PyExc_ValueError, "KNNStream: finish() was already called");
        return NULL;
    }
    gm_feats x;
    PyArrayObject *h;
    if (gm_py_feats(batch, "batch", &x, &h)) return NULL;
    if (x.d != self->d) {
        PyErr_Format(PyExc_ValueError, "batch has D = %zu, the stream has D = %zu", x.d, self->d);
        Py_DECREF(h);
        return NULL;
    }
    if (gm_py_enter(&self->busy, "KNNStream")) {
        Py_DECREF(h);
        return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_knn_stream_feed(self->s, set, &x);
    Py_END_ALLOW_THREADS gm_py_leave(&self->busy);
    Py_DECREF(h);
    if (rc) return gm_py_raise(rc);
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *ks_add_real(KNNStream *self, PyObject *b) { return ks_feed(self, b, GM_KNN_REAL); }
static PyObject *ks_add_fake(KNNStream *self, PyObject *b) { return ks_feed(self, b, GM_KNN_FAKE); }

static PyObject *ks_finish(KNNStream *self, PyObject *noargs) {
    if (!self->s) {
        PyErr_SetString(PyExc_RuntimeError, "KNNStream was not initialised");
        return NULL;
    }
    if (self->finished) {
        PyErr_SetString(PyExc_ValueError, "KNNStream: finish() was already called");
        return NULL;
    }
    if (gm_py_enter(&self->busy, "KNNStream")) return NULL;
    gm_knn_result r;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_knn_stream_finish(self->s, &r);
    Py_END_ALLOW_THREADS gm_py_leave(&self->busy);
    self->finished = 1;
    if (rc) return gm_py_raise(rc);
    PyObject *res = PyDict_New();
    if (res && self->c.want_pr) {
        PyObject *v = Py_BuildValue("{s:d,s:d,s:d,s:n}", "precision", r.precision, "recall", r.recall, "f1", r.f1,
                                    "k", (Py_ssize_t)self->c.k_pr);
        if (!v || PyDict_SetItemString(res, "pr", v)) Py_CLEAR(res);
        Py_XDECREF(v);
    }
    if (res && self->c.want_dc) {
        PyObject *v = Py_BuildValue("{s:d,s:d,s:d,s:d,s:n}", "precision", r.dc_precision, "recall", r.dc_recall,
                                    "density", r.density, "coverage", r.coverage, "k", (Py_ssize_t)self->c.k_dc);
        if (!v || PyDict_SetItemString(res, "prdc", v)) Py_CLEAR(res);
        Py_XDECREF(v);
    }
    if (res) {
        PyObject *nr = PyLong_FromSize_t(r.n_real), *nf = PyLong_FromSize_t(r.n_fake);
        if (!nr || !nf || PyDict_SetItemString(res, "n_real", nr) || PyDict_SetItemString(res, "n_fake", nf))
            Py_CLEAR(res);
        Py_XDECREF(nr);
        Py_XDECREF(nf);
    }
    gm_knn_result_free(&r);
    return res;
}

static PyMethodDef ks_methods[] = {
    {"add_real", (PyCFunction)ks_add_real, METH_O, "add_real(batch) -> self: append real (reference) rows."},
    {"add_fake", (PyCFunction)ks_add_fake, METH_O, "add_fake(batch) -> self: append generated rows."},
    {"finish", (PyCFunction)ks_finish, METH_NOARGS,
     "finish() -> dict: {'pr': {...}, 'prdc': {...}, 'n_real', 'n_fake'}; bitwise equal to pr()/prdc() on the\n"
     "concatenated sets. The stream cannot be fed after finish()."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject KNNStreamType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "genmix.eval.KNNStream",
    .tp_basicsize = sizeof(KNNStream),
    .tp_dealloc = (destructor)ks_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "KNNStream(d, *, k_pr=None, k_dc=None, pr=True, dc=True, profile='genmix', cmp=None, f32=None,\n"
              "          fp16=None, tile=None)\n\n"
              "Streaming k-NN precision/recall (k_pr, default 3, '<=') and density/coverage (k_dc, default 5, '<'):\n"
              "feed real and generated rows batch by batch, in any order, with add_real(batch) / add_fake(batch),\n"
              "then finish(). The rows are kept (in float64, or float32 with f32=True); the result is bitwise\n"
              "identical to pr()/prdc() on the concatenated sets for any batch sizes and thread counts.",
    .tp_methods = ks_methods,
    .tp_init = (initproc)ks_init,
    .tp_new = PyType_GenericNew,
};

/* ---- PRD, Vendi, RKE, IS -------------------------------------------------------------------------- */

static PyObject *py_prd(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"real", "fake", "clusters", "angles", "runs", "seed", NULL};
    PyObject *ro, *fo, *co = Py_None, *ao = Py_None, *uo = Py_None, *res = NULL;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$OOOK:prd", kwl, &ro, &fo, &co, &ao, &uo, &seed)) return NULL;
    gm_prd_config c = gm_prd_config_default();
    if (gm_py_size(co, "clusters", &c.num_clusters, 1) || gm_py_size(ao, "angles", &c.num_angles, 1) ||
        gm_py_size(uo, "runs", &c.num_runs, 1))
        return NULL;
    if (c.num_runs > 1000 || c.num_angles > 100000) /* the CLI's limits (a huge value ran for ever) */
        return PyErr_Format(PyExc_ValueError, "prd: runs must be in 1..1000 and angles in 1..100000 (got %zu, %zu)",
                            c.num_runs, c.num_angles);
    c.seed = seed;
    gm_feats r, g;
    PyArrayObject *hr = NULL, *hg = NULL;
    PyObject *pa = NULL, *ra = NULL;
    if (gm_py_feats(ro, "real", &r, &hr) || gm_py_feats(fo, "fake", &g, &hg) || same_d(&r, &g)) goto done;
    npy_intp na = (npy_intp)c.num_angles;
    pa = PyArray_SimpleNew(1, &na, NPY_FLOAT64);
    ra = pa ? PyArray_SimpleNew(1, &na, NPY_FLOAT64) : NULL;
    if (!ra) goto done;
    double *pp = PyArray_DATA((PyArrayObject *)pa), *rr = PyArray_DATA((PyArrayObject *)ra), f8, f18;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_prd(&r, &g, &c, pp, rr, &f8, &f18);
    Py_END_ALLOW_THREADS if (rc) {
        gm_py_raise(rc);
        goto done;
    }
    res = Py_BuildValue("{s:O,s:O,s:d,s:d}", "precision", pa, "recall", ra, "f8", f8, "f1_8", f18);
done:
    Py_XDECREF(pa);
    Py_XDECREF(ra);
    Py_XDECREF(hr);
    Py_XDECREF(hg);
    return res;
}

static PyObject *py_vendi(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"x", "q", "kernel", "sigma", NULL};
    PyObject *xo, *res = NULL;
    double q = 1, sigma = 0;
    const char *kern = "cosine";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|d$sd:vendi", kwl, &xo, &q, &kern, &sigma)) return NULL;
    if (!(q >= 0)) {
        PyErr_SetString(PyExc_ValueError, "q must be >= 0 (math.inf allowed)");
        return NULL;
    }
    gm_kernel k = {GM_KERNEL_COSINE, 0, 0, 0, 0};
    if (!strcmp(kern, "rbf")) {
        if (!(sigma > 0) || !isfinite(sigma)) {
            PyErr_SetString(PyExc_ValueError, "kernel='rbf' needs sigma > 0");
            return NULL;
        }
        k = gm_kernel_rbf_sigma(sigma);
    } else if (strcmp(kern, "cosine")) {
        PyErr_Format(PyExc_ValueError, "kernel must be 'cosine' or 'rbf', got '%s'", kern);
        return NULL;
    }
    gm_feats x;
    PyArrayObject *hx;
    if (gm_py_feats(xo, "x", &x, &hx)) return NULL;
    double v;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_vendi(&x, &k, q, &v, NULL);
    Py_END_ALLOW_THREADS Py_DECREF(hx);
    if (rc) return gm_py_raise(rc);
    res = PyFloat_FromDouble(v);
    return res;
}

#define RKE_MAX_SIGMA 64

static PyObject *py_rke(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"x", "sigma", "real", "mc_pairs", "seed", "tile", NULL};
    PyObject *xo, *so, *ro = Py_None, *mco = Py_None, *to = Py_None, *res = NULL;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$OOKO:rke", kwl, &xo, &so, &ro, &mco, &seed, &to)) return NULL;
    double sig[RKE_MAX_SIGMA], fr[RKE_MAX_SIGMA], mc[RKE_MAX_SIGMA], rr[RKE_MAX_SIGMA];
    size_t ns = 0, pairs = 0, tile = 1024;
    int scalar = PyNumber_Check(so) && !PySequence_Check(so);
    if (gm_py_size(mco, "mc_pairs", &pairs, 0) || gm_py_size(to, "tile", &tile, 1)) return NULL;
    PyObject *seq = scalar ? NULL : PySequence_Fast(so, "sigma must be a number or a sequence of numbers");
    if (!scalar && !seq) return NULL;
    Py_ssize_t cnt = scalar ? 1 : PySequence_Fast_GET_SIZE(seq);
    if (cnt < 1 || cnt > RKE_MAX_SIGMA) {
        Py_XDECREF(seq);
        PyErr_Format(PyExc_ValueError, "sigma: 1 to %d bandwidths", RKE_MAX_SIGMA);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < cnt; i++) {
        double v = PyFloat_AsDouble(scalar ? so : PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred()) {
            Py_XDECREF(seq);
            return NULL;
        }
        if (!(v > 0) || !isfinite(v)) {
            Py_XDECREF(seq);
            PyErr_SetString(PyExc_ValueError, "sigma must be positive");
            return NULL;
        }
        sig[ns++] = v;
    }
    Py_XDECREF(seq);
    gm_feats x, r;
    PyArrayObject *hx = NULL, *hr = NULL;
    if (gm_py_feats(xo, "x", &x, &hx)) return NULL;
    if (ro != Py_None && (gm_py_feats(ro, "real", &r, &hr) || same_d(&r, &x))) goto done;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_rke_frobenius(&x, sig, ns, tile, fr);
    for (size_t s = 0; s < ns && !rc; s++) {
        if (pairs) rc = gm_rke_mc(&x, sig[s], pairs, seed, &mc[s]);
        if (!rc && hr) rc = gm_rrke(&x, &r, sig[s], &rr[s]);
    }
    Py_END_ALLOW_THREADS if (rc) {
        gm_py_raise(rc);
        goto done;
    }
    PyObject *list = PyList_New((Py_ssize_t)ns);
    for (size_t s = 0; list && s < ns; s++) {
        PyObject *d = Py_BuildValue("{s:d,s:d,s:d,s:d}", "sigma", sig[s], "frobenius", fr[s], "rke2", -log(fr[s]),
                                    "mode_count", 1 / fr[s]);
        if (d && pairs && gm_py_setf(d, "mode_count_mc", mc[s])) Py_CLEAR(d);
        if (d && hr && gm_py_setf(d, "rrke", rr[s])) Py_CLEAR(d);
        if (!d) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)s, d);
    }
    if (list && scalar) {
        res = PyList_GET_ITEM(list, 0);
        Py_INCREF(res);
        Py_DECREF(list);
    } else {
        res = list;
    }
done:
    Py_XDECREF(hx);
    Py_XDECREF(hr);
    return res;
}

static PyObject *py_is_score(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"x", "splits", "probs", "profile", "shuffle", NULL};
    PyObject *xo, *spo = Py_None, *sho = Py_None;
    int probs = 0;
    const char *profile = "genmix";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OpzO:is_score", kwl, &xo, &spo, &probs, &profile, &sho))
        return NULL;
    gm_eval_profile p;
    if (get_profile(profile, &p)) return NULL;
    size_t splits = 10;
    int sh = -1;
    if (gm_py_size(spo, "splits", &splits, 1) || gm_py_bool(sho, &sh)) return NULL;
    if (sh >= 0) p.is_shuffle = sh ? GM_IS_SHUFFLE_MT2020 : GM_IS_SHUFFLE_NONE;
    gm_feats x;
    PyArrayObject *hx;
    if (gm_py_feats(xo, "x", &x, &hx)) return NULL;
    double mean, sd;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_inception_score(&x, probs, splits, p.is_shuffle, p.is_drop_remainder, &mean, &sd);
    Py_END_ALLOW_THREADS Py_DECREF(hx);
    if (rc) return gm_py_raise(rc);
    return Py_BuildValue("(dd)", mean, sd);
}

/* ---- CMMD, FD-infinity ------------------------------------------------------------------------------- */

static PyObject *py_cmmd(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"real", "fake", "sigma", "estimator", NULL};
    PyObject *ro, *fo, *res = NULL;
    double sigma = 10;
    const char *est = "unbiased";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$ds:cmmd", kwl, &ro, &fo, &sigma, &est)) return NULL;
    gm_mmd_estimator e;
    if (parse_estimator(est, 0, &e)) return NULL;
    gm_feats r, g;
    PyArrayObject *hr = NULL, *hg = NULL;
    if (gm_py_feats(ro, "real", &r, &hr) || gm_py_feats(fo, "fake", &g, &hg) || same_d(&r, &g)) goto done;
    double v;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_cmmd(&r, &g, sigma, e, &v);
    Py_END_ALLOW_THREADS if (rc) gm_py_raise(rc);
    else res = PyFloat_FromDouble(v);
done:
    Py_XDECREF(hr);
    Py_XDECREF(hg);
    return res;
}

static PyObject *py_fd_infinity(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwl[] = {"real", "fake", "n_min", "points", "seed", "shuffle", "cov_norm", NULL};
    PyObject *ro, *fo, *nmo = Py_None, *res = NULL;
    size_t points = 15, n_min = 0;
    Py_ssize_t pts = 15;
    unsigned long long seed = 0;
    int shuffle = 1;
    const char *cn = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$OnKpz:fd_infinity", kwl, &ro, &fo, &nmo, &pts, &seed, &shuffle, &cn))
        return NULL;
    gm_cov_norm norm = GM_COV_UNBIASED;
    if (parse_cov_norm(cn, &norm)) return NULL;
    if (pts < 2 || pts > 10000) {
        PyErr_SetString(PyExc_ValueError, "points must be in 2..10000");
        return NULL;
    }
    points = (size_t)pts;
    gm_feats g;
    PyArrayObject *hg = NULL, *hr = NULL;
    gm_fdstats own;
    memset(&own, 0, sizeof own);
    const gm_fdstats *rs = NULL;
    int *busy = NULL;
    size_t *ns = NULL;
    double *fds = NULL;
    if (gm_py_feats(fo, "fake", &g, &hg)) return NULL;
    n_min = g.n / 10; /* 5 000 of 50 000 in the paper */
    if (gm_py_size(nmo, "n_min", &n_min, 2)) goto done;
    if (PyObject_TypeCheck(ro, &FeatureStatsType)) {
        if (fs_ready((FeatureStats *)ro) || gm_py_enter(&((FeatureStats *)ro)->busy, "FeatureStats")) goto done;
        busy = &((FeatureStats *)ro)->busy;
        rs = &((FeatureStats *)ro)->s;
    } else {
        gm_feats r;
        if (gm_py_feats(ro, "real", &r, &hr) || same_d(&r, &g)) goto done;
        int rc = gm_fdstats_init(&own, r.d);
        if (!rc) {
            Py_BEGIN_ALLOW_THREADS rc = gm_fdstats_add(&own, &r);
            Py_END_ALLOW_THREADS
        }
        if (rc) {
            gm_py_raise(rc);
            goto done;
        }
        rs = &own;
    }
    ns = PyMem_Malloc(points * sizeof(size_t));
    fds = PyMem_Malloc(points * sizeof(double));
    if (!ns || !fds) {
        PyErr_NoMemory();
        goto done;
    }
    double inf, slope;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = gm_fd_infinity(rs, &g, norm, n_min, points, seed, shuffle, &inf, &slope, ns, fds);
    Py_END_ALLOW_THREADS if (rc) {
        gm_py_raise(rc);
        goto done;
    }
    npy_intp np_ = (npy_intp)points;
    PyObject *na = PyArray_SimpleNew(1, &np_, NPY_INT64), *fa = gm_py_vec(fds, np_);
    for (size_t p = 0; na && p < points; p++) ((int64_t *)PyArray_DATA((PyArrayObject *)na))[p] = (int64_t)ns[p];
    if (na && fa) res = Py_BuildValue("{s:d,s:d,s:O,s:O}", "value", inf, "slope", slope, "n", na, "fd", fa);
    Py_XDECREF(na);
    Py_XDECREF(fa);
done:
    if (busy) gm_py_leave(busy);
    PyMem_Free(ns);
    PyMem_Free(fds);
    gm_fdstats_free(&own);
    Py_XDECREF(hg);
    Py_XDECREF(hr);
    return res;
}

/* ---- docstrings and registration -------------------------------------------------------------------- */

#define PROFILES "'genmix' (default), 'torch-fidelity', 'clean-fid', 'prdc', 'dgm-eval', 'nvidia', 'openai'"

PyDoc_STRVAR(fd_doc,
             "fd(real, fake, *, profile='genmix', cov_norm=None, details=False, labels=None) -> float\n\n"
             "Frechet distance ||mu_r - mu_g||^2 + tr(S_r) + tr(S_g) - 2 tr((S_r S_g)^{1/2}) between two N x D\n"
             "feature sets (float32/float64 rows; statistics in float64). cov_norm 'unbiased' (M2/(n-1), default)\n"
             "or 'biased' (M2/n). tr sqrt from the eigenvalues of S_r^{1/2} S_g S_r^{1/2} (negative ones\n"
             "clipped to 0), or the nuclear norm of the centred cross-product when both n < D (low-rank path).\n"
             "profile: " PROFILES " (torch-fidelity and clean-fid round the means to float32; nvidia divides by n).\n"
             "details=True returns a dict (value, mean_term, trace_real, trace_gen, trace_sqrt, neg_eig_mass, ...)\n"
             "with the keys of `genmix eval --json`. Equal to the CLI's value bit for bit. S_r = L L^T (Cholesky)\n"
             "gives tr sqrt from the eigenvalues of L^T S_g L (eigenvalues only); the eigen path when S_r is singular.\n"
             "labels=(real_labels, fake_labels): 1-D integer arrays (one class per row); the metric of each generated\n"
             "label between that class's real and generated rows (each class needs real rows), returned as arrays\n"
             "per class with 'labels', 'n_real', 'n_fake' and 'class_mean' (unweighted means); key 'value'.");
PyDoc_STRVAR(fd_stats_doc,
             "fd_stats(a, b, *, profile='genmix', cov_norm=None, details=False) -> float\n\n"
             "Frechet distance from statistics: a and b are each a FeatureStats (covariance M2/(n-1), or M2/n\n"
             "with cov_norm='biased') or a (mu, sigma) tuple of a (D,) mean and a (D, D) covariance (e.g.\n"
             "pytorch-fid / clean-fid reference statistics), used as given.");
PyDoc_STRVAR(kid_doc,
             "kid(real, fake, *, profile='genmix', subsets=100, subset_size=1000, seed=2020, f32=None, strict=None,\n"
             "    per_subset=False, labels=None) -> dict\n\n"
             "Kernel Inception Distance: mean and std (ddof 0) over `subsets` subsets of unbiased MMD^2 with the\n"
             "cubic polynomial kernel k(x, y) = (x.y / D + 1)^3. Subset s draws idx_fake = choice(n_fake, m) then\n"
             "idx_real = choice(n_real, m) from one numpy RandomState(seed) stream, exactly as torch-fidelity.\n"
             "If a set is smaller than subset_size, m shrinks to it (strict=True raises instead, torch-fidelity).\n"
             "f32=True: float32 kernel arithmetic (torch-fidelity / clean-fid profiles). Returns {'mean', 'std',\n"
             "'subsets', 'subset_size', 'shrunk', 'arithmetic'[, 'per_subset']}. KID < 0 is a valid value.\n"
             "labels=(real_labels, fake_labels): 1-D integer arrays (one class per row); the metric of each generated\n"
             "label between that class's real and generated rows (each class needs real rows), returned as arrays\n"
             "per class with 'labels', 'n_real', 'n_fake' and 'class_mean' (unweighted means); keys 'mean', 'std'.");
PyDoc_STRVAR(mmd_doc,
             "mmd(x, y, *, sigma=10.0, kernel='rbf', estimator='unbiased') -> float\n\n"
             "Squared MMD between full sets (sizes may differ), float64. kernel 'rbf': k = exp(-||x-y||^2/(2 sigma^2));\n"
             "'poly3': (x.y/D + 1)^3. estimator 'unbiased' (diagonals excluded within each set), 'ustat' or 'biased'\n"
             "(V-statistic).");
PyDoc_STRVAR(pr_doc,
             "pr(real, fake, k=None, *, profile='genmix', cmp=None, f32=None, fp16=None, tile=None, seed=0,\n"
             "   labels=None) -> dict\n\n"
             "Improved precision/recall (Kynkaanniemi et al. 2019): precision = fraction of generated rows inside\n"
             "some real k-NN ball (d(g, r) <= r_k(r) with cmp 'le', default; 'lt' for '<'), recall = the same\n"
             "with the roles swapped. k defaults to 3 (profile). Euclidean distances from float64 GEMM (f32=True:\n"
             "float32 dot products, as torch-fidelity). Returns {'precision', 'recall', 'f1', 'k', 'cmp'}.\n"
             "labels=(real_labels, fake_labels): 1-D integer arrays (one class per row); the metric of each generated\n"
             "label between that class's real and generated rows (each class needs real rows), returned as arrays\n"
             "per class with 'labels', 'n_real', 'n_fake' and 'class_mean' (unweighted means).");
PyDoc_STRVAR(prdc_doc,
             "prdc(real, fake, k=None, *, profile='genmix', cmp=None, f32=None, fp16=None, tile=None, seed=0,\n"
             "     labels=None) -> dict\n\n"
             "Precision, recall, density and coverage of Naeem et al. 2020 as prdc.compute_prdc(real_features,\n"
             "fake_features, nearest_k) computes them: k (nearest_k) defaults to 5, '<' comparisons; density =\n"
             "(1/(k M)) sum_j #{i : d(g_j, r_i) < r_k(r_i)}, coverage = fraction of real rows whose nearest\n"
             "generated row is inside their k-NN ball. profile='prdc' also uses float32 distances for float32\n"
             "input; 'dgm-eval' subsamples to 10 000 rows with `seed`. Returns {'precision', 'recall', 'density',\n"
             "'coverage', 'k', 'cmp'}.\n"
             "labels=(real_labels, fake_labels): 1-D integer arrays (one class per row); the metric of each generated\n"
             "label between that class's real and generated rows (each class needs real rows), returned as arrays\n"
             "per class with 'labels', 'n_real', 'n_fake' and 'class_mean' (unweighted means) (no subsampling per class).");
PyDoc_STRVAR(prd_doc,
             "prd(real, fake, *, clusters=20, angles=1001, runs=10, seed=0) -> dict\n\n"
             "PRD curves (Sajjadi et al. 2018): k-means (k-means++, 10 restarts, 100 Lloyd iterations) on the union,\n"
             "histograms of both sets, precision/recall along `angles` slopes (1..100000), averaged over `runs`\n"
             "(1..1000). Returns\n"
             "{'precision': ndarray, 'recall': ndarray, 'f8' (recall-like), 'f1_8' (precision-like)}.");
PyDoc_STRVAR(vendi_doc,
             "vendi(x, q=1.0, *, kernel='cosine', sigma=None) -> float\n\n"
             "Vendi score of order q: exp of the Renyi entropy of order q of the eigenvalues of K/n (q=1: Shannon;\n"
             "q=math.inf: 1/lambda_max). kernel 'cosine' (rows normalised; dual X X^T or primal X^T X, as\n"
             "Vendi-Score's score_dual) or 'rbf' with sigma: exp(-||x-y||^2/(2 sigma^2)). Eigenvalues below\n"
             "n eps lambda_max count as 0.");
PyDoc_STRVAR(rke_doc,
             "rke(x, sigma, *, real=None, mc_pairs=0, seed=0, tile=None) -> dict (or list for several sigmas)\n\n"
             "Renyi kernel entropy mode count of order 2: 1/||K/n||_F^2 with the Gaussian kernel\n"
             "k = exp(-||x-y||^2/(2 sigma^2)), exact by tiles. Keys: sigma, frobenius (||K/n||_F^2), rke2 (its -log),\n"
             "mode_count; mode_count_mc with mc_pairs > 0 (Monte-Carlo over pairs); rrke with real= given\n"
             "(RRKE = -log ||K_xr / sqrt(n m)||_*^2).");
PyDoc_STRVAR(is_doc,
             "is_score(x, *, splits=10, probs=False, profile='genmix', shuffle=None) -> (mean, std)\n\n"
             "Inception Score exp(E_x KL(p(y|x) || p(y))) over `splits` splits (rows [s N/S, (s+1) N/S)); x holds\n"
             "logits (softmax in float64) or, with probs=True, probabilities (rows sum to 1). shuffle=True or the\n"
             "torch-fidelity/dgm-eval profiles permute the rows with RandomState(2020) first.");

PyDoc_STRVAR(cmmd_doc,
             "cmmd(real, fake, *, sigma=10.0, estimator='unbiased') -> float\n\n"
             "CMMD (Jayasumana et al. 2024): 1000 * MMD^2 between embeddings you provide (CLIP image embeddings in\n"
             "the paper) with the Gaussian kernel k = exp(-||x-y||^2 / (2 sigma^2)), sigma = 10. estimator\n"
             "'unbiased' excludes the diagonals of K_rr and K_ff (the paper's text); 'biased' takes the means over\n"
             "all pairs (the paper's reference code).");
PyDoc_STRVAR(fd_infinity_doc,
             "fd_infinity(real, fake, *, n_min=len(fake)//10, points=15, seed=0, shuffle=True, cov_norm=None) -> dict\n\n"
             "FD-infinity (Chong & Forsyth 2020): FD between the real statistics (an N x D array or a FeatureStats)\n"
             "and `points` subsets of the generated rows of sizes N_p = int(linspace(n_min, len(fake), points)),\n"
             "each drawn without replacement (seeded; shuffle=False takes the first N_p rows), then the\n"
             "least-squares line FD_N = FD_inf + slope / N. Returns {'value': FD_inf, 'slope', 'n', 'fd'}.");

PyMethodDef gm_py_eval_methods[] = {
    {"cmmd", (PyCFunction)(void (*)(void))py_cmmd, METH_VARARGS | METH_KEYWORDS, cmmd_doc},
    {"fd_infinity", (PyCFunction)(void (*)(void))py_fd_infinity, METH_VARARGS | METH_KEYWORDS, fd_infinity_doc},
    {"fd", (PyCFunction)(void (*)(void))py_fd, METH_VARARGS | METH_KEYWORDS, fd_doc},
    {"fd_stats", (PyCFunction)(void (*)(void))py_fd_stats, METH_VARARGS | METH_KEYWORDS, fd_stats_doc},
    {"kid", (PyCFunction)(void (*)(void))py_kid, METH_VARARGS | METH_KEYWORDS, kid_doc},
    {"mmd", (PyCFunction)(void (*)(void))py_mmd, METH_VARARGS | METH_KEYWORDS, mmd_doc},
    {"pr", (PyCFunction)(void (*)(void))py_pr, METH_VARARGS | METH_KEYWORDS, pr_doc},
    {"prdc", (PyCFunction)(void (*)(void))py_prdc, METH_VARARGS | METH_KEYWORDS, prdc_doc},
    {"prd", (PyCFunction)(void (*)(void))py_prd, METH_VARARGS | METH_KEYWORDS, prd_doc},
    {"vendi", (PyCFunction)(void (*)(void))py_vendi, METH_VARARGS | METH_KEYWORDS, vendi_doc},
    {"rke", (PyCFunction)(void (*)(void))py_rke, METH_VARARGS | METH_KEYWORDS, rke_doc},
    {"is_score", (PyCFunction)(void (*)(void))py_is_score, METH_VARARGS | METH_KEYWORDS, is_doc},
    {"_fdstats_restore", py_fdstats_restore, METH_VARARGS, "internal: unpickle a FeatureStats"},
    {NULL, NULL, 0, NULL}};

int gm_py_eval_init(PyObject *m) {
    if (PyType_Ready(&FeatureStatsType) < 0 || PyType_Ready(&KNNStreamType) < 0) return -1;
    Py_INCREF(&FeatureStatsType);
    if (PyModule_AddObject(m, "FeatureStats", (PyObject *)&FeatureStatsType) < 0) {
        Py_DECREF(&FeatureStatsType);
        return -1;
    }
    Py_INCREF(&KNNStreamType);
    if (PyModule_AddObject(m, "KNNStream", (PyObject *)&KNNStreamType) < 0) {
        Py_DECREF(&KNNStreamType);
        return -1;
    }
    return 0;
}
