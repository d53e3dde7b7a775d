/* SPDX-License-Identifier: MIT */
/* py_internal.h — shared declarations of the genmix CPython extension (_genmix): NumPy C API set-up across
 * the extension's files, conversion of NumPy arrays to gm_feats, mapping of gm_status codes to Python
 * exceptions, and the "busy" guard that keeps two threads out of one object while the GIL is released.
 * Owns: nothing (each py_*.c owns its types). Thread safety: call with the GIL held. */
#ifndef GM_PY_INTERNAL_H
#define GM_PY_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL gm_py_ARRAY_API
#ifndef GM_PY_MAIN
#define NO_IMPORT_ARRAY
#endif
#include <Python.h>
#include <numpy/arrayobject.h>

#include "genmix/base.h"
#include "genmix/eval.h"

/* genmix.Error: failures that are neither bad arguments nor allocation (I/O, format, numerical). */
extern PyObject *gm_py_Error;

/* Raise the exception for status rc with the library's message (gm_last_error()); returns NULL.
 * GM_EINVAL/GM_ESHAPE -> ValueError, GM_ENOMEM -> MemoryError, others -> genmix.Error. */
PyObject *gm_py_raise(int rc);

/* View `obj` as an n x d float32/float64 C-order matrix. float32 and float64 arrays in C order are used
 * in place (no copy); other layouts, byte orders and numeric dtypes are copied (other dtypes become
 * float64, as the CLI reads them). Fails with ValueError naming `name` on a non-2-D, empty or non-finite
 * input. *hold receives the reference to release (Py_XDECREF) after use. */
int gm_py_feats(PyObject *obj, const char *name, gm_feats *f, PyArrayObject **hold);
/* The same for an array of any rank as float64 (C order); n = number of elements. */
PyArrayObject *gm_py_f64(PyObject *obj, const char *name, int ndim_min, int ndim_max);
/* New 1-D float64 array holding a copy of v[0..n). */
PyObject *gm_py_vec(const double *v, npy_intp n);
/* Optional non-negative integer argument (None keeps *out); ValueError naming `name` otherwise. */
int gm_py_size(PyObject *o, const char *name, size_t *out, size_t min);
/* Optional boolean (None keeps *out). */
int gm_py_bool(PyObject *o, int *out);
/* Set a float item of a dict; returns -1 on failure. */
int gm_py_setf(PyObject *d, const char *k, double v);

/* Guard for objects whose C state a released-GIL call works on. */
int gm_py_enter(int *busy, const char *what);
#define gm_py_leave(busy) (*(busy) = 0)

/* Module parts: each adds its functions/types to the module, returns -1 on failure. */
int gm_py_eval_init(PyObject *m);
int gm_py_mix_init(PyObject *m);
extern PyMethodDef gm_py_eval_methods[];
extern PyMethodDef gm_py_mix_methods[];
extern PyMethodDef gm_py_align_methods[];

#endif /* GM_PY_INTERNAL_H */
