/* py_mix.c — genmix.mix and genmix.moe in C (filled below). */
#include "py_internal.h"

PyMethodDef gm_py_mix_methods[] = {{NULL, NULL, 0, NULL}};
int gm_py_mix_init(PyObject *m) { return 0; }
