/* SPDX-License-Identifier: MIT */
/* genmix/genmix.h — umbrella header: includes every public genmix header, for programs that use the
 * library as a whole (`#include <genmix/genmix.h>`, compiled with `pkg-config --cflags --libs genmix`).
 * Owns nothing; see each header for its module's API, ownership and thread safety. */
#ifndef GM_GENMIX_H
#define GM_GENMIX_H

#include "genmix/base.h"
#include "genmix/rng.h"
#include "genmix/hash.h"
#include "genmix/fileio.h"
#include "genmix/linalg.h"
#include "genmix/tensor.h"
#include "genmix/io.h"
#include "genmix/nn.h"
#include "genmix/tape.h"
#include "genmix/optim.h"
#include "genmix/models.h"
#include "genmix/classifier.h"
#include "genmix/ae.h"
#include "genmix/mcmc.h"
#include "genmix/eval.h"
#include "genmix/mix.h"
#include "genmix/moe.h"
#include "genmix/plot.h"
#include "genmix/prdiv.h"
#include "genmix/diffusion.h"
#include "genmix/smc.h"
#include "genmix/das.h"

#endif /* GM_GENMIX_H */
