/* SPDX-License-Identifier: MIT */
/* cmd_eval.h — private to `genmix eval` (cmd_eval.c computes and prints, cmd_eval_opts.c parses the
 * options and checks every input and output before any work). */
#ifndef GM_CMD_EVAL_H
#define GM_CMD_EVAL_H

#include "genmix/eval.h"

#define MAX_FAKE 16
#define MAX_SIGMA 8

enum { M_FD = 1, M_KID = 2, M_MMD = 4, M_PR = 8, M_PRDC = 16, M_PRD = 32, M_VENDI = 64, M_RKE = 128, M_IS = 256,
       M_CMMD = 512, M_FDINF = 1024 };

typedef struct {
    const char *real, *fake[MAX_FAKE];
    int nfake;
    unsigned metrics;
    gm_eval_profile prof;
    long k_pr, k_dc;
    int cmp, cov_norm, kid_f32, knn_prec, fp16;
    long kid_subsets, kid_size;
    long long kid_seed;
    double mmd_sigma, rke_sigma[MAX_SIGMA], vendi_q, vendi_sigma, cmmd_sigma;
    long fdinf_min, fdinf_points;
    int n_rke_sigma, is_probs, is_shuffle, vendi_rbf;
    long rke_mc, is_splits, prd_clusters, prd_angles, prd_runs, tile, bootstrap;
    unsigned long long seed;
    const char *json, *save_stats, *prd_out, *realism_out, *labels, *real_labels;
} opts;


/* Parses argv into *o and checks options, input files and output paths before any work.
 * Returns -1 to go on, or the exit code to return (0 for --help, 1 bad file/path, 2 usage). */
int eval_parse_args(int argc, char **argv, opts *o);

#endif
