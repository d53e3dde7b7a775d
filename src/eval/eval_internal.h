/* SPDX-License-Identifier: MIT */
/* eval_internal.h — private helpers shared by the src/eval_*.c files (never installed).
 * The feature-set row helpers are public (gm_feats_* in genmix/eval.h); dense linear algebra is
 * genmix/linalg.h. */
#ifndef GM_EVAL_INTERNAL_H
#define GM_EVAL_INTERNAL_H

#include "genmix/eval.h"
#include "genmix/linalg.h"

#endif
