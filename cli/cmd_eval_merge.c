/* SPDX-License-Identifier: MIT */
/* cmd_eval_merge.c — `genmix eval merge-stats`: pool FD statistics files written by `genmix eval
 * --save-stats` (count n, mean mu, centred moments m2) from shards of one feature set (several GPUs,
 * processes or runs) into one file, exactly (Chan's formula, gm_fdstats_merge), in the order given.
 * Parsing and file I/O only; the merge is the library's. Exit codes: 0 ok, 1 bad input/I/O, 2 usage. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/eval.h"
#include "genmix/io.h"

static void merge_usage(FILE *f) {
    fprintf(f, "usage: genmix eval merge-stats --out OUT.npz [--cov-norm unbiased|biased] IN.npz IN.npz ...\n\n"
               "Pools statistics files of `genmix eval --save-stats` (they hold n, mu and m2) into one, exactly:\n"
               "the result equals the statistics of the concatenated features up to rounding of the pooling.\n"
               "pytorch-fid / clean-fid files (mu and sigma only) cannot be pooled exactly and are refused.\n"
               "--cov-norm: the normalisation of the written sigma (default unbiased, M2/(n-1)).\n");
}

/* One statistics file into s (initialised here). */
static int read_shard(const char *path, gm_fdstats *s) {
    gm_array a[3];
    const char *names[3] = {"mu", "m2", "n"};
    memset(a, 0, sizeof a);
    int rc = GM_OK;
    for (int i = 0; i < 3 && !rc; i++) {
        rc = gm_npz_read(path, names[i], &a[i]);
        if (rc == GM_EFORMAT && i > 0)
            rc = gm_set_error(GM_EINVAL, "%s: no '%s' member: not a genmix statistics file (mu and sigma alone "
                                         "cannot be pooled exactly)", path, names[i]);
        if (!rc && i < 2) rc = gm_array_convert(&a[i], GM_DTYPE_F64);
    }
    if (rc) goto done;
    size_t d = a[0].ndim == 1 ? (size_t)a[0].shape[0] : 0;
    if (!d || a[1].ndim != 2 || (size_t)a[1].shape[0] != d || (size_t)a[1].shape[1] != d || a[2].ndim != 0 ||
        a[2].dtype != GM_DTYPE_I64) {
        rc = gm_set_error(GM_ESHAPE, "%s: expected mu (d,), m2 (d, d) float64 and a scalar int64 n", path);
        goto done;
    }
    int64_t n = *(const int64_t *)a[2].data;
    if (n < 1) {
        rc = gm_set_error(GM_EINVAL, "%s: n = %lld rows", path, (long long)n);
        goto done;
    }
    if ((rc = gm_array_check_finite(&a[0], path)) || (rc = gm_array_check_finite(&a[1], path))) {
        rc = gm_set_error(GM_EINVAL, "%s", gm_last_error());
        goto done;
    }
    if ((rc = gm_fdstats_init(s, d))) goto done;
    s->n = n;
    memcpy(s->mean, a[0].data, d * sizeof(double));
    memcpy(s->m2, a[1].data, d * d * sizeof(double));
done:
    for (int i = 0; i < 3; i++) gm_array_free(&a[i]);
    return rc;
}

int cmd_eval_merge_stats(int argc, char **argv) {
    const char *out = NULL;
    gm_cov_norm norm = GM_COV_UNBIASED;
    static const struct option lo[] = {{"out", required_argument, 0, 'o'}, {"cov-norm", required_argument, 0, 'c'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
        switch (c) {
        case 'h': merge_usage(stdout); return CLI_OK;
        case 'o': out = optarg; break;
        case 'c':
            if (!strcmp(optarg, "unbiased")) norm = GM_COV_UNBIASED;
            else if (!strcmp(optarg, "biased")) norm = GM_COV_BIASED;
            else return cli_usage_error("eval merge-stats", "--cov-norm takes unbiased or biased");
            break;
        default: return cli_bad_option("eval merge-stats", argv, NULL);
        }
    }
    if (!out) return cli_usage_error("eval merge-stats", "--out is required");
    if (argc - optind < 1) return cli_usage_error("eval merge-stats", "give at least one statistics file");
    if (cli_check_output("eval merge-stats", "--out", out)) return CLI_ERR;
    for (int i = optind; i < argc; i++) {
        if (cli_check_not_input("eval merge-stats", (cli_file[]){{"--out", out}, {0}}, (cli_file[]){{"IN.npz", argv[i]}, {0}}))
            return CLI_USAGE;
    }
    gm_fdstats total, s;
    memset(&total, 0, sizeof total);
    memset(&s, 0, sizeof s);
    double *cov = NULL;
    int rc = GM_OK;
    for (int i = optind; i < argc && !rc; i++) {
        if ((rc = read_shard(argv[i], i == optind ? &total : &s))) break;
        if (i == optind) continue;
        if (s.d != total.d)
            rc = gm_set_error(GM_ESHAPE, "%s has d = %zu, %s has d = %zu", argv[i], s.d, argv[optind], total.d);
        else
            rc = gm_fdstats_merge(&total, &s);
        gm_fdstats_free(&s);
    }
    if (!rc && !(cov = malloc(total.d * total.d * sizeof(double)))) rc = gm_set_error(GM_ENOMEM, "out of memory");
    if (!rc) rc = gm_fdstats_cov(&total, norm, cov);
    if (!rc) {
        char meta[512];
        snprintf(meta, sizeof meta,
                 "{\"format\":\"genmix-fdstats\",\"genmix_version\":\"%s\",\"merged_from\":%d,\"n\":%lld,\"d\":%zu,"
                 "\"cov_norm\":\"%s\"}",
                 gm_version(), argc - optind, (long long)total.n, total.d, norm == GM_COV_BIASED ? "1/n" : "1/(n-1)");
        int64_t n = total.n, d = (int64_t)total.d;
        gm_array a[5];
        memset(a, 0, sizeof a);
        a[0] = (gm_array){.dtype = GM_DTYPE_F64, .ndim = 1, .shape = {d}, .data = total.mean,
                          .nbytes = total.d * sizeof(double)};
        a[1] = (gm_array){.dtype = GM_DTYPE_F64, .ndim = 2, .shape = {d, d}, .data = cov,
                          .nbytes = total.d * total.d * sizeof(double)};
        a[2] = (gm_array){.dtype = GM_DTYPE_I64, .ndim = 0, .data = &n, .nbytes = sizeof n};
        a[3] = a[1];
        a[3].data = total.m2;
        a[4] = (gm_array){.dtype = GM_DTYPE_U8, .ndim = 1, .shape = {(int64_t)strlen(meta)}, .data = meta,
                          .nbytes = strlen(meta)};
        const char *names[5] = {"mu", "sigma", "n", "m2", "meta"};
        rc = gm_npz_write(out, 5, names, a);
    }
    if (!rc) printf("merged %d statistics files (n = %lld, d = %zu) into %s\n", argc - optind, (long long)total.n,
                    total.d, out);
    free(cov);
    gm_fdstats_free(&total);
    return rc ? cli_fail(rc) : CLI_OK;
}
