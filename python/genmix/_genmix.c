/* SPDX-License-Identifier: MIT */
/* _genmix.c — the genmix CPython extension module: module definition, genmix.Error, conversion helpers
 * (NumPy arrays -> gm_feats without copies when the layout allows), status -> exception mapping.
 * The metric, mixing and model functions live in py_eval.c and py_mix.c, genmix.align in py_align.c; numerics are the C library's.
 * Owns: the module object and the genmix.Error type. Thread safety: all entry points hold the GIL except
 * inside the library calls they make (which touch only memory the call owns or has guarded). */
#define GM_PY_MAIN
#include "py_internal.h"

#include <string.h>

#include "genmix/io.h"

PyObject *gm_py_Error;

PyObject *gm_py_raise(int rc) {
    const char *msg = gm_last_error();
    if (!msg || !*msg) msg = gm_strerror(rc);
    /* the message may name a file whose name is not UTF-8: keep its bytes visible */
    PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "backslashreplace");
    if (!text) return NULL;
    PyObject *type = rc == GM_ENOMEM ? PyExc_MemoryError : (rc == GM_EINVAL || rc == GM_ESHAPE) ? PyExc_ValueError
                                                                                                : gm_py_Error;
    PyErr_SetObject(type, text);
    Py_DECREF(text);
    return NULL;
}

int gm_py_enter(int *busy, const char *what) {
    if (*busy) {
        PyErr_Format(PyExc_RuntimeError, "%s is in use by another thread", what);
        return -1;
    }
    *busy = 1;
    return 0;
}

/* The array as float32/float64, native byte order, aligned, C order; a new reference. */
static PyArrayObject *as_float_array(PyObject *obj, const char *name) {
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(obj, 0);
    if (!a) return NULL;
    int t = PyArray_TYPE(a);
    if (t != NPY_FLOAT32 && t != NPY_FLOAT64) {
        if (!PyArray_ISNUMBER(a) || PyArray_ISCOMPLEX(a)) {
            PyErr_Format(PyExc_ValueError, "%s: expected a real numeric array, got dtype %s", name,
                         PyArray_DESCR(a)->typeobj->tp_name);
            Py_DECREF(a);
            return NULL;
        }
        t = NPY_FLOAT64;
    }
    PyArrayObject *b = (PyArrayObject *)PyArray_FromAny((PyObject *)a, PyArray_DescrFromType(t), 0, 0,
                                                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, NULL);
    Py_DECREF(a);
    return b;
}

static int check_finite(PyArrayObject *a, const char *name) {
    gm_array v;
    memset(&v, 0, sizeof v);
    v.dtype = PyArray_TYPE(a) == NPY_FLOAT32 ? GM_DTYPE_F32 : GM_DTYPE_F64;
    v.ndim = PyArray_NDIM(a);
    for (int i = 0; i < v.ndim && i < GM_ARRAY_MAX_DIMS; i++) v.shape[i] = (int64_t)PyArray_DIM(a, i);
    v.data = PyArray_DATA(a);
    v.nbytes = (size_t)PyArray_NBYTES(a);
    int rc = gm_array_check_finite(&v, name);
    if (rc) {
        PyErr_SetString(PyExc_ValueError, gm_last_error());
        return -1;
    }
    return 0;
}

int gm_py_feats(PyObject *obj, const char *name, gm_feats *f, PyArrayObject **hold) {
    *hold = NULL;
    PyArrayObject *a = as_float_array(obj, name);
    if (!a) return -1;
    if (PyArray_NDIM(a) != 2) {
        PyErr_Format(PyExc_ValueError, "%s: features must be a 2-D N x D array, got %d dimensions", name,
                     PyArray_NDIM(a));
        Py_DECREF(a);
        return -1;
    }
    if (PyArray_DIM(a, 0) == 0 || PyArray_DIM(a, 1) == 0) {
        PyErr_Format(PyExc_ValueError, "%s: empty feature matrix (%zd x %zd)", name, (Py_ssize_t)PyArray_DIM(a, 0),
                     (Py_ssize_t)PyArray_DIM(a, 1));
        Py_DECREF(a);
        return -1;
    }
    if (check_finite(a, name)) {
        Py_DECREF(a);
        return -1;
    }
    f->data = PyArray_DATA(a);
    f->n = (size_t)PyArray_DIM(a, 0);
    f->d = (size_t)PyArray_DIM(a, 1);
    f->is_f64 = PyArray_TYPE(a) == NPY_FLOAT64;
    *hold = a;
    return 0;
}

PyArrayObject *gm_py_f64(PyObject *obj, const char *name, int ndim_min, int ndim_max) {
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_OF(obj, 0);
    if (!a) return NULL;
    if (!PyArray_ISNUMBER(a) || PyArray_ISCOMPLEX(a)) {
        PyErr_Format(PyExc_ValueError, "%s: expected a real numeric array", name);
        Py_DECREF(a);
        return NULL;
    }
    PyArrayObject *b = (PyArrayObject *)PyArray_FromAny((PyObject *)a, PyArray_DescrFromType(NPY_FLOAT64), 0, 0,
                                                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, NULL);
    Py_DECREF(a);
    if (!b) return NULL;
    if (PyArray_NDIM(b) < ndim_min || PyArray_NDIM(b) > ndim_max) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d to %d dimensions, got %d", name, ndim_min, ndim_max,
                     PyArray_NDIM(b));
        Py_DECREF(b);
        return NULL;
    }
    if (check_finite(b, name)) {
        Py_DECREF(b);
        return NULL;
    }
    return b;
}

PyObject *gm_py_vec(const double *v, npy_intp n) {
    PyObject *a = PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    if (a && n) memcpy(PyArray_DATA((PyArrayObject *)a), v, (size_t)n * sizeof(double));
    return a;
}

int gm_py_size(PyObject *o, const char *name, size_t *out, size_t min) {
    if (!o || o == Py_None) return 0;
    if (PyBool_Check(o) || !PyIndex_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an integer", name);
        return -1;
    }
    Py_ssize_t v = PyNumber_AsSsize_t(o, PyExc_OverflowError);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < (Py_ssize_t)min) {
        PyErr_Format(PyExc_ValueError, "%s must be >= %zu, got %zd", name, min, v);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int gm_py_bool(PyObject *o, int *out) {
    if (!o || o == Py_None) return 0;
    int v = PyObject_IsTrue(o);
    if (v < 0) return -1;
    *out = v;
    return 0;
}

int gm_py_setf(PyObject *d, const char *k, double v) {
    PyObject *x = PyFloat_FromDouble(v);
    if (!x) return -1;
    int rc = PyDict_SetItemString(d, k, x);
    Py_DECREF(x);
    return rc;
}

static PyObject *py_version(PyObject *self, PyObject *noargs) {
    return PyUnicode_FromString(gm_version());
}

static PyMethodDef base_methods[] = {
    {"version", py_version, METH_NOARGS, "version() -> str: the genmix library version (MAJOR.MINOR.PATCH)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "genmix._genmix",
    "The C core of the genmix Python package (use genmix.eval, genmix.mix, genmix.moe).", -1, base_methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__genmix(void) {
    import_array();
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    gm_py_Error = PyErr_NewExceptionWithDoc("genmix.Error",
                                            "A genmix library failure that is not a bad argument or an allocation "
                                            "failure (I/O, file format, numerical failure). The message is the "
                                            "library's.",
                                            NULL, NULL);
    if (!gm_py_Error || PyModule_AddObject(m, "Error", gm_py_Error) < 0) goto fail;
    Py_INCREF(gm_py_Error); /* the module's reference was stolen; keep ours for gm_py_raise */
    if (PyModule_AddStringConstant(m, "__version__", gm_version()) < 0) goto fail;
    if (PyModule_AddFunctions(m, gm_py_eval_methods) < 0 || gm_py_eval_init(m) < 0) goto fail;
    if (PyModule_AddFunctions(m, gm_py_mix_methods) < 0 || gm_py_mix_init(m) < 0) goto fail;
    if (PyModule_AddFunctions(m, gm_py_align_methods) < 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
