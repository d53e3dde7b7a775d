/* cmd_eval.c — `genmix eval`: sample-quality metrics between feature files (.npy/.npz, FD statistics
 * files). Parses options, loads and checks the inputs, calls the eval library, prints a table on stdout,
 * writes JSON / statistics / per-sample arrays. Exit codes: 0 ok, 1 bad input or I/O, 2 usage,
 * 3 numerical failure. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/eval.h"
#include "genmix/hash.h"
#include "genmix/io.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define MAX_FAKE 16
#define MAX_SIGMA 8

/* ---- reading through io.h ---------------------------------------------------------------------------
 * Feature arrays are used as float32 (when stored as <f4/>f4) or float64 (any other numeric dtype). */

static int ev_read_as_float(int rc, gm_array *a) {
    if (rc) return rc;
    if (a->dtype != GM_DTYPE_F32 && (rc = gm_array_convert(a, GM_DTYPE_F64))) gm_array_free(a);
    return rc;
}

/* True if the .npz at `path` has a member `name` (false also when it cannot be listed). */
static int npz_has(const char *path, const char *name) {
    char **names;
    size_t n;
    int found = 0;
    if (gm_npz_list(path, &names, &n)) return 0;
    for (size_t i = 0; i < n && !found; i++) found = !strcmp(names[i], name);
    gm_npz_names_free(names, n);
    return found;
}

/* NaN/Inf in an input file is bad input (exit 1), not a numerical failure (exit 3): keep io's message,
 * report it as GM_EINVAL. */
static int ev_check_finite(const gm_array *a, const char *what) {
    int rc = gm_array_check_finite(a, what);
    if (rc == GM_ENUMERIC) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", gm_last_error());
        rc = gm_set_error(GM_EINVAL, "%s", msg);
    }
    return rc;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix eval --real R.npy --fake F.npy [--fake G.npy ...] [options]\n"
            "       genmix eval --real R.npy --save-stats R_stats.npz\n"
            "       genmix eval merge-stats --out ALL.npz SHARD1.npz SHARD2.npz ...   (see merge-stats --help)\n\n"
            "Sample-quality metrics between a real (reference) feature set and one or more generated sets.\n"
            "Inputs are N x D float32/float64 matrices in .npy or .npz (FILE.npz:member picks a member);\n"
            "a .npz holding 'mu' and 'sigma' (pytorch-fid / clean-fid / genmix statistics) gives FD only.\n\n"
            "metrics (--metrics, comma separated; default fd,kid,pr,prdc):\n"
            "  fd      Frechet distance (float64 statistics, symmetric-eigen / low-rank path)\n"
            "  kid     kernel inception distance: poly3 kernel, subsets, unbiased MMD^2, mean +- std\n"
            "  mmd     MMD^2 with an RBF kernel on the full sets (--mmd-sigma)\n"
            "  pr      k-NN precision/recall (Kynkaanniemi et al.), k = --k-pr, '<=' by default\n"
            "  prdc    precision/recall/density/coverage (Naeem et al.), k = --k-dc, '<' by default\n"
            "  prd     PRD curves (Sajjadi et al.), max F_8 / F_1/8 (--prd-out curves.npy)\n"
            "  vendi   Vendi score of each generated set (--vendi-q, --vendi-kernel)\n"
            "  rke     RKE mode count ||K/n||_F^-2 and RRKE vs the real set (--rke-sigma, required)\n"
            "  is      Inception Score: the generated files hold logits (or --is-probs probabilities)\n"
            "  cmmd    CMMD: 1000 x unbiased MMD^2, Gaussian kernel sigma 10 (--cmmd-sigma), on given embeddings\n"
            "  fdinf   FD-infinity: FD on --fdinf-points subsets (n_gen/10 .. n_gen rows, --fdinf-min), 1/N -> 0\n\n"
            "options:\n"
            "  --profile P         genmix (default) | torch-fidelity | clean-fid | prdc | dgm-eval | nvidia | openai\n"
            "  --k K               k for both P/R and PRDC;  --k-pr K, --k-dc K   each alone\n"
            "  --cmp le|lt         inside-ball comparison for both;  --cov-norm unbiased|biased (FD)\n"
            "  --kid-subsets S     (100)   --kid-size M (1000)   --kid-seed N (2020, RandomState-exact)\n"
            "  --kid-f32 / --kid-f64       kernel arithmetic precision (profile default)\n"
            "  --mmd-sigma S       RBF bandwidth for mmd (10);  --cmmd-sigma S  for cmmd (10)\n"
            "  --fdinf-min N (n_gen/10)  --fdinf-points P (15)   FD-infinity subset sizes (seeded by --seed)\n"
            "  --rke-sigma S[,S..] Gaussian bandwidths for rke;  --rke-mc PAIRS  also the Monte-Carlo estimate\n"
            "  --vendi-q Q         order (1; 'inf' allowed)   --vendi-kernel cosine|rbf:SIGMA (cosine)\n"
            "  --is-splits S (10)  --is-probs   --is-shuffle (RandomState(2020) permutation)\n"
            "  --prd-clusters C (20)  --prd-angles A (1001)  --prd-runs R (10)  --prd-out FILE.npy\n"
            "  --realism-out FILE.npy  per-sample realism of the first generated set\n"
            "  --labels FILE.npy   integer class of each generated row: vendi also per class and the\n"
            "                      mean over classes (dgm-eval's per-class Vendi)\n"
            "  --real-labels FILE.npy  integer class of each real row: with --labels, fd/kid/pr/prdc also per\n"
            "                      class (generated labels; each needs real rows) and the mean over classes\n"
            "  --tile T            rows per distance tile (1024);  --f32 / --f64  k-NN GEMM precision\n"
            "  --fp16 / --no-fp16  k-NN binary16 emulation: features, then each squared distance, rounded to\n"
            "                      fp16 (nvidia/openai); recomputed without it if a distance overflows\n"
            "  --bootstrap B       95%% percentile intervals from B resamples (FD: B extra FD computations)\n"
            "  --seed N            seed of every genmix stream (k-means, bootstrap, subsampling, RKE-MC) (0)\n"
            "  --json FILE         write all results as JSON;  --save-stats FILE.npz  statistics of --real\n"
            "  -h, --help\n"
            "Global flags (before 'eval'): --threads N (results do not depend on it), --quiet.\n");
}

/* ---- inputs ------------------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    gm_array arr;
    gm_feats f;
    int is_stats;   /* an FD statistics file */
    gm_fdstats stats;
    const char *dtype;
} input;

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Read FILE.npz[:member] or FILE.npy into in->arr. */
static int read_array(const char *spec, gm_array *out) {
    char path[4096];
    snprintf(path, sizeof path, "%s", spec);
    char *member = NULL, *colon = strstr(path, ".npz:");
    if (colon) {
        colon[4] = '\0';
        member = colon + 5;
    }
    if (ends_with(path, ".npz")) return ev_read_as_float(gm_npz_read(path, member, out), out);
    return ev_read_as_float(gm_npy_read(path, out), out);
}

static int load_stats(input *in) {
    gm_array mu, sigma;
    memset(&mu, 0, sizeof mu);
    memset(&sigma, 0, sizeof sigma);
    int rc;
    if ((rc = ev_read_as_float(gm_npz_read(in->path, "mu", &mu), &mu)) ||
        (rc = ev_read_as_float(gm_npz_read(in->path, "sigma", &sigma), &sigma)))
        goto done;
    if ((mu.dtype != GM_DTYPE_F64 && mu.dtype != GM_DTYPE_F32) ||
        (sigma.dtype != GM_DTYPE_F64 && sigma.dtype != GM_DTYPE_F32)) {
        rc = gm_set_error(GM_EFORMAT, "%s: mu and sigma must be float64 or float32", in->path);
        goto done;
    }
    size_t d = (size_t)mu.shape[0];
    if (mu.ndim != 1 || sigma.ndim != 2 || (size_t)sigma.shape[0] != d || (size_t)sigma.shape[1] != d || d == 0) {
        rc = gm_set_error(GM_ESHAPE, "%s: mu must be (d,) and sigma (d, d)", in->path);
        goto done;
    }
    if ((rc = ev_check_finite(&mu, in->path)) || (rc = ev_check_finite(&sigma, in->path))) goto done;
    if ((rc = gm_fdstats_init(&in->stats, d))) goto done;
    /* ADM's reference batches store mu as float32 (np.mean of float32 features): widened exactly */
    for (size_t j = 0; j < d; j++)
        in->stats.mean[j] = mu.dtype == GM_DTYPE_F32 ? (double)((const float *)mu.data)[j] : ((const double *)mu.data)[j];
    for (size_t j = 0; j < d * d; j++) /* holds sigma itself, not M2 */
        in->stats.m2[j] =
            sigma.dtype == GM_DTYPE_F32 ? (double)((const float *)sigma.data)[j] : ((const double *)sigma.data)[j];
    in->stats.n = 0;
    in->is_stats = 1;
    in->f.n = 0;
    in->f.d = d;
    in->dtype = "stats";
    rc = GM_OK;
done:
    gm_array_free(&mu);
    gm_array_free(&sigma);
    return rc;
}

static int load_input(input *in, const char *path, const char *role) {
    memset(&in->arr, 0, sizeof in->arr);
    in->path = path;
    if (ends_with(path, ".npz") && npz_has(path, "mu") && npz_has(path, "sigma")) return load_stats(in);
    int rc = read_array(path, &in->arr);
    if (rc) return rc;
    if (in->arr.ndim != 2)
        GM_FAIL(GM_ESHAPE, "%s (%s): features must be a 2-D N x D array, got %d dimensions", path, role, in->arr.ndim);
    if (in->arr.shape[0] == 0 || in->arr.shape[1] == 0)
        GM_FAIL(GM_EINVAL, "%s (%s): empty feature matrix (%lld x %lld)", path, role, (long long)in->arr.shape[0],
                (long long)in->arr.shape[1]);
    if ((rc = ev_check_finite(&in->arr, path))) return rc; /* bad input: exit 1, not 3 */
    in->dtype = in->arr.dtype == GM_DTYPE_F32 ? "float32" : "float64";
    in->f.data = in->arr.data;
    in->f.n = (size_t)in->arr.shape[0];
    in->f.d = (size_t)in->arr.shape[1];
    in->f.is_f64 = in->arr.dtype == GM_DTYPE_F64;
    return GM_OK;
}

static void free_input(input *in) {
    gm_array_free(&in->arr);
    gm_fdstats_free(&in->stats);
}

/* ---- options ------------------------------------------------------------------------------------ */

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

static int parse_metrics(const char *s, unsigned *m) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    *m = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (!strcmp(t, "fd") || !strcmp(t, "fid")) *m |= M_FD;
        else if (!strcmp(t, "kid")) *m |= M_KID;
        else if (!strcmp(t, "mmd")) *m |= M_MMD;
        else if (!strcmp(t, "pr") || !strcmp(t, "prc")) *m |= M_PR;
        else if (!strcmp(t, "prdc")) *m |= M_PRDC;
        else if (!strcmp(t, "prd")) *m |= M_PRD;
        else if (!strcmp(t, "vendi")) *m |= M_VENDI;
        else if (!strcmp(t, "rke")) *m |= M_RKE;
        else if (!strcmp(t, "is")) *m |= M_IS;
        else if (!strcmp(t, "cmmd")) *m |= M_CMMD;
        else if (!strcmp(t, "fdinf")) *m |= M_FDINF;
        else if (!strcmp(t, "all")) *m |= M_FD | M_KID | M_MMD | M_PR | M_PRDC | M_PRD | M_VENDI;
        else return -1;
    }
    return *m ? 0 : -1;
}

/* ---- output helpers ------------------------------------------------------------------------------ */

static void row(const char *name, double v, const gm_ci *ci) {
    if (ci)
        printf("  %-26s %16.10g   [%.6g, %.6g]\n", name, v, ci->lo, ci->hi);
    else
        printf("  %-26s %16.10g\n", name, v);
}

static cJSON *jnum(cJSON *o, const char *k, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
    return o;
}

static void jci(cJSON *ci, const char *k, const gm_ci *c) {
    cJSON *a = cJSON_AddArrayToObject(ci, k);
    cJSON_AddItemToArray(a, cJSON_CreateNumber(c->lo));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(c->hi));
}

static void progress_cb(const char *stage, double frac, void *ctx) {
    static double last = 0;
    (void)ctx;
    double now = gm_time_now();
    if (frac >= 1.0 || now - last > 2.0) {
        cli_progress("eval: %s %5.1f%%", stage, 100 * frac);
        last = now;
    }
}

/* ---- one generated set -------------------------------------------------------------------------- */

/* The 1-D integer .npy at path with one label per row of an n-row set (what: "generated"/"real"), as a
 * malloc'd int64 array. */
static int read_labels(const char *path, size_t n, const char *what, int64_t **out) {
    gm_array la;
    *out = NULL;
    int rc = gm_npy_read(path, &la);
    if (rc) return rc;
    if (la.dtype == GM_DTYPE_BOOL || la.dtype > GM_DTYPE_U64 || la.ndim != 1 || la.shape[0] != (int64_t)n) {
        gm_array_free(&la);
        return gm_set_error(GM_ESHAPE, "%s: labels must be a 1-D integer array with one entry per %s row (%zu)", path,
                            what, n);
    }
    if ((rc = gm_array_convert(&la, GM_DTYPE_F64))) { /* exact for integers below 2^53 */
        gm_array_free(&la);
        return rc;
    }
    int64_t *lab = malloc((n ? n : 1) * sizeof(int64_t));
    if (!lab) {
        gm_array_free(&la);
        return gm_set_error(GM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) lab[i] = (int64_t)((const double *)la.data)[i];
    gm_array_free(&la);
    *out = lab;
    return GM_OK;
}

/* FD (kind 0), KID (1), k-NN P/R (2) or PRDC (3) of each class (--labels and --real-labels) into
 * j.per_class [{label, n_real, n_fake, keys...}] and j.per_class_mean {keys}; the first 20 in the table. */
static int two_set_per_class(const opts *o, const input *real, const input *fake, int kind, const void *cfg, cJSON *j) {
    static const char *keys[4][4] = {{"value"}, {"mean", "std"}, {"precision", "recall", "f1"},
                                     {"precision", "recall", "density", "coverage"}};
    static const int col[4][4] = {{0}, {0, 1}, {0, 1, 2}, {3, 4, 5, 6}};
    static const int nk[4] = {1, 2, 3, 4};
    static const char *title[4] = {"FD", "KID", "precision", "prdc precision"};
    int64_t *lr = NULL, *lf = NULL;
    int rc;
    if ((rc = read_labels(o->real_labels, real->f.n, "real", &lr)) ||
        (rc = read_labels(o->labels, fake->f.n, "generated", &lf))) {
        free(lr);
        return rc;
    }
    gm_class_metrics pc;
    if (kind == 0)
        rc = gm_fd_per_class(&real->f, lr, &fake->f, lf, *(const gm_cov_norm *)cfg, &pc);
    else if (kind == 1)
        rc = gm_kid_per_class(&real->f, lr, &fake->f, lf, cfg, &pc);
    else
        rc = gm_knn_per_class(&real->f, lr, &fake->f, lf, cfg, &pc);
    free(lr);
    free(lf);
    if (rc) return rc;
    cJSON *arr = cJSON_AddArrayToObject(j, "per_class"), *mean = cJSON_AddObjectToObject(j, "per_class_mean");
    for (size_t a = 0; a < pc.n_classes; a++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "label", (double)pc.labels[a]);
        cJSON_AddNumberToObject(c, "n_real", (double)pc.n_real[a]);
        cJSON_AddNumberToObject(c, "n_fake", (double)pc.n_fake[a]);
        for (int k = 0; k < nk[kind]; k++) jnum(c, keys[kind][k], pc.values[a * pc.n_values + (size_t)col[kind][k]]);
        cJSON_AddItemToArray(arr, c);
        if (a < 20) {
            char name[64];
            snprintf(name, sizeof name, "  class %lld (n=%zu/%zu)", (long long)pc.labels[a], pc.n_real[a], pc.n_fake[a]);
            row(name, pc.values[a * pc.n_values + (size_t)col[kind][0]], NULL);
        }
    }
    for (int k = 0; k < nk[kind]; k++) jnum(mean, keys[kind][k], pc.mean[col[kind][k]]);
    char name[64];
    snprintf(name, sizeof name, "%s class mean (%zu)", title[kind], pc.n_classes);
    row(name, pc.mean[col[kind][0]], NULL);
    gm_class_metrics_free(&pc);
    return GM_OK;
}

/* k-NN per class with the whole-set configuration (no progress, no realism); frees *r on failure. */
static int knn_per_class(const opts *o, const input *real, const input *fake, const gm_knn_config *c, int kind,
                         cJSON *j, gm_knn_result *r) {
    gm_knn_config cc = *c;
    cc.progress = NULL;
    cc.realism = GM_REALISM_NONE;
    int rc = two_set_per_class(o, real, fake, kind, &cc, j);
    if (rc) gm_knn_result_free(r);
    return rc;
}

/* Vendi of the rows of each class (--labels: one integer per generated row) and the unweighted mean over
 * classes, as dgm-eval reports per-class Vendi. */
static int vendi_per_class(const opts *o, const input *fake, const gm_kernel *k, cJSON *j) {
    size_t n = fake->f.n;
    int64_t *lab;
    int rc = read_labels(o->labels, n, "generated", &lab);
    if (rc) return rc;
    gm_vendi_classes pc;
    rc = gm_vendi_per_class(&fake->f, lab, k, o->vendi_q, &pc);
    if (!rc) {
        cJSON *arr = cJSON_AddArrayToObject(j, "per_class");
        for (size_t a = 0; a < pc.n_classes; a++) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddNumberToObject(c, "label", (double)pc.labels[a]);
            cJSON_AddNumberToObject(c, "n", (double)pc.counts[a]);
            jnum(c, "value", pc.values[a]);
            cJSON_AddItemToArray(arr, c);
            if (a < 20) {
                char name[64];
                snprintf(name, sizeof name, "  class %lld (n=%zu)", (long long)pc.labels[a], pc.counts[a]);
                row(name, pc.values[a], NULL);
            }
        }
        jnum(j, "per_class_mean", pc.mean);
        cJSON_AddNumberToObject(j, "classes", (double)pc.n_classes);
        char name[64];
        snprintf(name, sizeof name, "Vendi class mean (%zu)", pc.n_classes);
        row(name, pc.mean, NULL);
    }
    gm_vendi_per_class_free(&pc);
    free(lab);
    return rc;
}

static int eval_fake(const opts *o, input *real, input *fake, int fi, cJSON *res, cJSON *warn) {
    cJSON *m = cJSON_AddObjectToObject(res, "metrics"), *ci = cJSON_AddObjectToObject(res, "ci"),
          *tm = cJSON_AddObjectToObject(res, "timings_s");
    int rc = GM_OK;
    double t0;
    char w[512];
    const gm_eval_profile *p = &o->prof;
    int B = (int)o->bootstrap;
    if (real && real->f.d != fake->f.d)
        GM_FAIL(GM_ESHAPE, "feature dimensions differ: %s has D = %zu, %s has D = %zu", real->path, real->f.d,
                fake->path, fake->f.d);
    if (fake->is_stats)
        printf("\n%s  (FD statistics, d = %zu)\n", fake->path, fake->f.d);
    else
        printf("\n%s  (%zu x %zu, %s)\n", fake->path, fake->f.n, fake->f.d, fake->dtype);
    if (o->metrics & M_FD) {
        t0 = gm_time_now();
        cli_progress("eval: fd ...");
        gm_fd_result fd;
        gm_cov_norm norm = (gm_cov_norm)o->cov_norm;
        if (real->is_stats || fake->is_stats) {
            /* a statistics file carries sigma itself (its normalisation was chosen when it was written) */
            gm_fdstats tmp[2];
            double *S[2] = {NULL, NULL};
            const double *mu[2];
            input *pair[2] = {real, fake};
            memset(tmp, 0, sizeof tmp);
            for (int k = 0; k < 2 && !rc; k++) {
                if (pair[k]->is_stats) {
                    mu[k] = pair[k]->stats.mean;
                    S[k] = pair[k]->stats.m2;
                    continue;
                }
                if ((rc = gm_fdstats_init(&tmp[k], pair[k]->f.d)) || (rc = gm_fdstats_add(&tmp[k], &pair[k]->f))) break;
                if (!(S[k] = malloc(pair[k]->f.d * pair[k]->f.d * sizeof(double)))) rc = GM_ENOMEM;
                if (!rc) rc = gm_fdstats_cov(&tmp[k], norm, S[k]);
                mu[k] = tmp[k].mean;
            }
            if (!rc) rc = gm_fd_from_moments(mu[0], S[0], mu[1], S[1], real->f.d, &fd);
            for (int k = 0; k < 2; k++) {
                if (!pair[k]->is_stats) free(S[k]);
                gm_fdstats_free(&tmp[k]);
            }
        } else if (p->fd_mean_f32) {
            gm_fdstats a, b;
            memset(&a, 0, sizeof a);
            memset(&b, 0, sizeof b);
            if (!(rc = gm_fdstats_init(&a, real->f.d)) && !(rc = gm_fdstats_init(&b, real->f.d)) &&
                !(rc = gm_fdstats_add(&a, &real->f)) && !(rc = gm_fdstats_add(&b, &fake->f))) {
                gm_fdstats_round_mean_f32(&a);
                gm_fdstats_round_mean_f32(&b);
                rc = gm_fd_from_stats(&a, &b, norm, &fd);
            }
            gm_fdstats_free(&a);
            gm_fdstats_free(&b);
        } else {
            rc = gm_fd(&real->f, &fake->f, norm, &fd);
        }
        if (rc) return rc;
        cJSON *j = cJSON_AddObjectToObject(m, "fd");
        jnum(j, "value", fd.fd);
        jnum(j, "mean_term", fd.mean_term);
        jnum(j, "trace_real", fd.trace1);
        jnum(j, "trace_gen", fd.trace2);
        jnum(j, "trace_sqrt", fd.trace_sqrt);
        jnum(j, "neg_eig_mass", fd.neg_eig_mass);
        jnum(j, "min_eig_real", fd.min_eig1);
        jnum(j, "min_eig_gen", fd.min_eig2);
        jnum(j, "cond_real", fd.cond1);
        jnum(j, "cond_gen", fd.cond2);
        cJSON_AddStringToObject(j, "method", fd.method);
        cJSON_AddStringToObject(j, "cov_norm", norm == GM_COV_BIASED ? "1/n" : "1/(n-1)");
        if (o->labels && o->real_labels && !real->is_stats && !fake->is_stats &&
            (rc = two_set_per_class(o, real, fake, 0, &norm, j)))
            return rc;
        gm_ci fci;
        int have_ci = 0;
        if (B > 0 && !real->is_stats && !fake->is_stats) {
            double *vals = malloc((size_t)B * sizeof(double));
            if (!vals) return GM_ENOMEM;
            cli_progress("eval: fd bootstrap (%d replicates) ...", B);
            rc = gm_fd_bootstrap(&real->f, &fake->f, norm, (size_t)B, o->seed, vals);
            if (!rc) {
                fci = gm_ci_bias_corrected(vals, (size_t)B, fd.fd, 0.95);
                jci(ci, "fd", &fci);
                have_ci = 1;
            }
            free(vals);
            if (rc) return rc;
        }
        row("FD", fd.fd, have_ci ? &fci : NULL);
        printf("    mean term %.6g  tr real %.6g  tr gen %.6g  tr sqrt %.6g  (%s)\n", fd.mean_term, fd.trace1,
               fd.trace2, fd.trace_sqrt, fd.method);
        if (fd.rank_deficient) {
            snprintf(w, sizeof w, "%s: FD with n <= d (rank-deficient covariance); %s path used", fake->path,
                     fd.method);
            cJSON_AddItemToArray(warn, cJSON_CreateString(w));
            cli_progress("eval: warning: %s", w);
        }
        if (fd.neg_eig_mass > 1e-8 * fd.trace_sqrt) {
            snprintf(w, sizeof w, "%s: negative eigenvalue mass %.3g clipped in tr sqrt", fake->path, fd.neg_eig_mass);
            cJSON_AddItemToArray(warn, cJSON_CreateString(w));
        }
        jnum(tm, "fd", gm_time_now() - t0);
    }
    if (real && real->is_stats && (o->metrics & ~(unsigned)(M_FD | M_VENDI | M_IS)))
        GM_FAIL(GM_EINVAL, "%s is a statistics file: only fd (and vendi/is of the generated set) can use it",
                real->path);
    if (fake->is_stats) return GM_OK;
    if (o->metrics & (M_KID | M_MMD)) {
        t0 = gm_time_now();
        if (o->metrics & M_KID) {
            cli_progress("eval: kid (%zu subsets of %zu) ...", p->kid.subsets, p->kid.subset_size);
            gm_kid_result kid;
            double *per = malloc(p->kid.subsets * sizeof(double));
            if (!per) return GM_ENOMEM;
            gm_kid_config kc = p->kid;
            kc.progress = progress_cb;
            rc = gm_kid(&real->f, &fake->f, &kc, &kid, per);
            if (rc) {
                free(per);
                return rc;
            }
            cJSON *j = cJSON_AddObjectToObject(m, "kid");
            jnum(j, "mean", kid.mean);
            jnum(j, "std", kid.std);
            cJSON_AddNumberToObject(j, "subsets", (double)kid.subsets);
            cJSON_AddNumberToObject(j, "subset_size", (double)kid.subset_size);
            cJSON_AddStringToObject(j, "kernel", "poly3");
            cJSON_AddStringToObject(j, "arithmetic", p->kid.f32 ? "float32" : "float64");
            gm_ci kci;
            int have = 0;
            if (B > 0 && !gm_mean_bootstrap(per, kid.subsets, (size_t)B, o->seed, 0.95, &kci)) {
                jci(ci, "kid", &kci);
                have = 1;
            }
            free(per);
            row("KID", kid.mean, have ? &kci : NULL);
            printf("    std %.6g over %zu subsets of %zu\n", kid.std, kid.subsets, kid.subset_size);
            if (kid.shrunk) {
                snprintf(w, sizeof w, "%s: KID subset size shrunk to %zu (smaller set)", fake->path, kid.subset_size);
                cJSON_AddItemToArray(warn, cJSON_CreateString(w));
                cli_progress("eval: warning: %s", w);
            }
            if (kid.mean < 0) printf("    note: KID < 0 is a valid value of the unbiased estimator\n");
            kc.progress = NULL;
            if (o->labels && o->real_labels && (rc = two_set_per_class(o, real, fake, 1, &kc, j))) return rc;
        }
        if (o->metrics & M_MMD) {
            cli_progress("eval: mmd (rbf, sigma %g) ...", o->mmd_sigma);
            gm_kernel k = gm_kernel_rbf_sigma(o->mmd_sigma);
            double v;
            if ((rc = gm_mmd(&real->f, &fake->f, &k, GM_MMD_UNBIASED, &v))) return rc;
            cJSON *j = cJSON_AddObjectToObject(m, "mmd");
            jnum(j, "value", v);
            jnum(j, "sigma", o->mmd_sigma);
            cJSON_AddStringToObject(j, "estimator", "unbiased");
            row("MMD^2 (rbf)", v, NULL);
        }
        jnum(tm, "kid_mmd", gm_time_now() - t0);
    }
    if (o->metrics & (M_PR | M_PRDC)) {
        t0 = gm_time_now();
        gm_knn_config c = p->knn;
        c.want_pr = !!(o->metrics & M_PR);
        c.want_dc = !!(o->metrics & M_PRDC);
        if (c.realism == GM_REALISM_DGM && !c.want_dc) c.realism = GM_REALISM_NONE;
        if (o->realism_out && fi == 0 && c.realism == GM_REALISM_NONE)
            c.realism = c.want_pr ? GM_REALISM_KYNKAAT : GM_REALISM_DGM;
        if (o->realism_out && fi == 0 && c.realism == GM_REALISM_KYNKAAT && !c.want_pr) c.realism = GM_REALISM_DGM;
        if (c.realism == GM_REALISM_KYNKAAT && !c.want_pr) c.realism = GM_REALISM_NONE;
        if (o->fp16 >= 0) c.fp16 = o->fp16;
        if (o->knn_prec >= 0)
            c.f32 = o->knn_prec;
        else if (p->knn_f32_if_input_f32)
            c.f32 = !real->f.is_f64 && !fake->f.is_f64;
        c.progress = progress_cb;
        gm_feats rf = real->f, ff = fake->f;
        void *b1 = NULL, *b2 = NULL;
        if (p->knn_subsample && (rf.n > p->knn_subsample || ff.n > p->knn_subsample)) {
            if ((rc = gm_feats_subsample(&real->f, p->knn_subsample, o->seed, 0, &b1, &rf)) ||
                (rc = gm_feats_subsample(&fake->f, p->knn_subsample, o->seed, 1 + (uint64_t)fi, &b2, &ff))) {
                gm_free(b1);
                return rc;
            }
        }
        gm_knn_result r;
        rc = gm_knn(&rf, &ff, &c, &r);
        gm_free(b1);
        gm_free(b2);
        if (rc) return rc;
        gm_knn_ci kc;
        int have = B > 0 && gm_knn_bootstrap(&r, &c, (size_t)B, o->seed, 0.95, &kc) == GM_OK;
        if (c.want_pr) {
            cJSON *j = cJSON_AddObjectToObject(m, "prc");
            jnum(j, "precision", r.precision);
            jnum(j, "recall", r.recall);
            jnum(j, "f1", r.f1);
            cJSON_AddNumberToObject(j, "k", (double)c.k_pr);
            cJSON_AddStringToObject(j, "cmp", c.cmp_pr == GM_CMP_LE ? "<=" : "<");
            char name[64];
            snprintf(name, sizeof name, "precision (k=%zu, %s)", c.k_pr, c.cmp_pr == GM_CMP_LE ? "<=" : "<");
            row(name, r.precision, have ? &kc.precision : NULL);
            snprintf(name, sizeof name, "recall (k=%zu, %s)", c.k_pr, c.cmp_pr == GM_CMP_LE ? "<=" : "<");
            row(name, r.recall, have ? &kc.recall : NULL);
            if (have) {
                jci(ci, "precision", &kc.precision);
                jci(ci, "recall", &kc.recall);
            }
            if (o->labels && o->real_labels && (rc = knn_per_class(o, real, fake, &c, 2, j, &r))) return rc;
        }
        if (c.want_dc) {
            cJSON *j = cJSON_AddObjectToObject(m, "prdc");
            jnum(j, "precision", r.dc_precision);
            jnum(j, "recall", r.dc_recall);
            jnum(j, "density", r.density);
            jnum(j, "coverage", r.coverage);
            cJSON_AddNumberToObject(j, "k", (double)c.k_dc);
            cJSON_AddStringToObject(j, "cmp", c.cmp_dc == GM_CMP_LE ? "<=" : "<");
            char name[64];
            snprintf(name, sizeof name, "prdc precision (k=%zu)", c.k_dc);
            row(name, r.dc_precision, have ? &kc.dc_precision : NULL);
            snprintf(name, sizeof name, "prdc recall (k=%zu)", c.k_dc);
            row(name, r.dc_recall, have ? &kc.dc_recall : NULL);
            row("density", r.density, have ? &kc.density : NULL);
            row("coverage", r.coverage, have ? &kc.coverage : NULL);
            if (have) {
                jci(ci, "prdc_precision", &kc.dc_precision);
                jci(ci, "prdc_recall", &kc.dc_recall);
                jci(ci, "density", &kc.density);
                jci(ci, "coverage", &kc.coverage);
            }
            if (o->labels && o->real_labels && (rc = knn_per_class(o, real, fake, &c, 3, j, &r))) return rc;
        }
        if (c.fp16) {
            cJSON_AddBoolToObject(m, "knn_fp16", !r.fp16_fallback);
            if (r.fp16_fallback) {
                snprintf(w, sizeof w, "%s: a squared distance overflowed binary16; k-NN recomputed without fp16 emulation",
                         fake->path);
                cJSON_AddItemToArray(warn, cJSON_CreateString(w));
            }
        }
        if (rf.n != real->f.n || ff.n != fake->f.n) {
            snprintf(w, sizeof w, "%s: k-NN metrics on subsamples of %zu and %zu rows (profile %s)", fake->path, rf.n,
                     ff.n, p->name);
            cJSON_AddItemToArray(warn, cJSON_CreateString(w));
        }
        if (r.realism) {
            double mean = 0;
            for (size_t j = 0; j < r.n_fake; j++) mean += r.realism[j] / (double)r.n_fake;
            jnum(cJSON_GetObjectItem(m, c.want_pr ? "prc" : "prdc"), "realism_mean", mean);
            if (o->realism_out && fi == 0) {
                int64_t shape[1] = {(int64_t)r.n_fake};
                rc = gm_npy_write(o->realism_out, GM_DTYPE_F64, 1, shape, r.realism);
            }
        }
        gm_knn_result_free(&r);
        if (rc) return rc;
        jnum(tm, "knn", gm_time_now() - t0);
    }
    if (o->metrics & M_PRD) {
        t0 = gm_time_now();
        cli_progress("eval: prd (%ld clusters, %ld runs) ...", o->prd_clusters, o->prd_runs);
        gm_prd_config c = gm_prd_config_default();
        c.num_clusters = (size_t)o->prd_clusters;
        c.num_angles = (size_t)o->prd_angles;
        c.num_runs = (size_t)o->prd_runs;
        c.seed = o->seed;
        double *pr = malloc(2 * c.num_angles * sizeof(double)), f8, f18;
        if (!pr) return GM_ENOMEM;
        rc = gm_prd(&real->f, &fake->f, &c, pr, pr + c.num_angles, &f8, &f18);
        if (!rc && o->prd_out && fi == 0) {
            double *cur = malloc(2 * c.num_angles * sizeof(double));
            if (!cur) rc = GM_ENOMEM;
            for (size_t a = 0; cur && a < c.num_angles; a++) {
                cur[2 * a] = pr[a];
                cur[2 * a + 1] = pr[c.num_angles + a];
            }
            int64_t shape[2] = {(int64_t)c.num_angles, 2};
            if (cur) rc = gm_npy_write(o->prd_out, GM_DTYPE_F64, 2, shape, cur);
            free(cur);
        }
        free(pr);
        if (rc) return rc;
        cJSON *j = cJSON_AddObjectToObject(m, "prd");
        jnum(j, "f8", f8);
        jnum(j, "f1_8", f18);
        cJSON_AddNumberToObject(j, "clusters", (double)c.num_clusters);
        cJSON_AddNumberToObject(j, "runs", (double)c.num_runs);
        row("PRD F8 (recall)", f8, NULL);
        row("PRD F1/8 (precision)", f18, NULL);
        jnum(tm, "prd", gm_time_now() - t0);
    }
    if (o->metrics & M_VENDI) {
        t0 = gm_time_now();
        gm_kernel k = {GM_KERNEL_COSINE, 0, 0, 0, 0};
        if (o->vendi_rbf) k = gm_kernel_rbf_sigma(o->vendi_sigma);
        double v;
        size_t clamped = 0;
        if ((rc = gm_vendi(&fake->f, &k, o->vendi_q, &v, &clamped))) return rc;
        cJSON *j = cJSON_AddObjectToObject(m, "vendi");
        jnum(j, "value", v);
        jnum(j, "q", isinf(o->vendi_q) ? -1 : o->vendi_q);
        cJSON_AddStringToObject(j, "kernel", o->vendi_rbf ? "rbf" : "cosine");
        cJSON_AddNumberToObject(j, "clamped_eigenvalues", (double)clamped);
        char name[64];
        snprintf(name, sizeof name, "Vendi (q=%g, %s)", o->vendi_q, o->vendi_rbf ? "rbf" : "cosine");
        row(name, v, NULL);
        if (o->labels && (rc = vendi_per_class(o, fake, &k, j))) return rc;
        jnum(tm, "vendi", gm_time_now() - t0);
    }
    if (o->metrics & M_RKE) {
        t0 = gm_time_now();
        double fr[MAX_SIGMA];
        if ((rc = gm_rke_frobenius(&fake->f, o->rke_sigma, (size_t)o->n_rke_sigma, (size_t)o->tile, fr))) return rc;
        cJSON *arr = cJSON_AddArrayToObject(m, "rke");
        for (int s = 0; s < o->n_rke_sigma; s++) {
            cJSON *j = cJSON_CreateObject();
            jnum(j, "sigma", o->rke_sigma[s]);
            jnum(j, "frobenius", fr[s]);
            jnum(j, "rke2", -log(fr[s]));
            jnum(j, "mode_count", 1 / fr[s]);
            char name[64];
            snprintf(name, sizeof name, "RKE mode count (s=%g)", o->rke_sigma[s]);
            row(name, 1 / fr[s], NULL);
            if (o->rke_mc > 0) {
                double mc;
                if ((rc = gm_rke_mc(&fake->f, o->rke_sigma[s], (size_t)o->rke_mc, o->seed, &mc))) return rc;
                jnum(j, "mode_count_mc", mc);
                row("  Monte-Carlo estimate", mc, NULL);
            }
            if (real) {
                double rr;
                if ((rc = gm_rrke(&fake->f, &real->f, o->rke_sigma[s], &rr))) return rc;
                jnum(j, "rrke", rr);
                snprintf(name, sizeof name, "RRKE (s=%g)", o->rke_sigma[s]);
                row(name, rr, NULL);
            }
            cJSON_AddItemToArray(arr, j);
        }
        jnum(tm, "rke", gm_time_now() - t0);
    }
    if (o->metrics & M_CMMD) {
        double v;
        if ((rc = gm_cmmd(&real->f, &fake->f, o->cmmd_sigma, GM_MMD_UNBIASED, &v))) return rc;
        cJSON *j = cJSON_AddObjectToObject(m, "cmmd");
        jnum(j, "value", v);
        jnum(j, "sigma", o->cmmd_sigma);
        cJSON_AddStringToObject(j, "estimator", "unbiased");
        row("CMMD (x1000)", v, NULL);
    }
    if (o->metrics & M_FDINF) {
        gm_fdstats rs;
        double inf, slope;
        size_t nmin = o->fdinf_min > 0 ? (size_t)o->fdinf_min : fake->f.n / 10;
        if (!(rc = gm_fdstats_init(&rs, real->f.d)) && !(rc = gm_fdstats_add(&rs, &real->f)))
            rc = gm_fd_infinity(&rs, &fake->f, (gm_cov_norm)o->cov_norm, nmin, (size_t)o->fdinf_points, o->seed, 1,
                                &inf, &slope, NULL, NULL);
        gm_fdstats_free(&rs);
        if (rc) return rc;
        cJSON *j = cJSON_AddObjectToObject(m, "fdinf");
        jnum(j, "value", inf);
        jnum(j, "slope", slope);
        cJSON_AddNumberToObject(j, "n_min", (double)nmin);
        cJSON_AddNumberToObject(j, "points", (double)o->fdinf_points);
        row("FD-infinity", inf, NULL);
    }
    if (o->metrics & M_IS) {
        double mean, sd;
        if ((rc = gm_inception_score(&fake->f, o->is_probs, (size_t)o->is_splits, o->prof.is_shuffle,
                                     o->prof.is_drop_remainder, &mean, &sd)))
            return rc;
        cJSON *j = cJSON_AddObjectToObject(m, "is");
        jnum(j, "mean", mean);
        jnum(j, "std", sd);
        cJSON_AddNumberToObject(j, "splits", (double)o->is_splits);
        row("Inception Score", mean, NULL);
        printf("    std %.6g over %ld splits\n", sd, o->is_splits);
    }
    return GM_OK;
}

/* ---- statistics file ------------------------------------------------------------------------------ */

static int save_stats(const char *path, const input *in, gm_cov_norm norm, unsigned long long seed) {
    gm_fdstats s;
    int rc = gm_fdstats_init(&s, in->f.d);
    if (rc) return rc;
    double *cov = malloc(in->f.d * in->f.d * sizeof(double));
    char meta[1024], hex[65] = "";
    if (!cov) {
        gm_fdstats_free(&s);
        return GM_ENOMEM;
    }
    if (!(rc = gm_fdstats_add(&s, &in->f)) && !(rc = gm_fdstats_cov(&s, norm, cov))) {
        char file[4096], *colon;
        snprintf(file, sizeof file, "%s", in->path);
        if ((colon = strstr(file, ".npz:"))) colon[4] = '\0';
        gm_sha256_file(file, hex);
        snprintf(meta, sizeof meta,
                 "{\"format\":\"genmix-fdstats\",\"genmix_version\":\"%s\",\"source\":\"%s\",\"sha256\":\"%s\","
                 "\"n\":%lld,\"d\":%zu,\"input_dtype\":\"%s\",\"cov_norm\":\"%s\",\"seed\":%llu}",
                 gm_version(), in->path, hex, (long long)s.n, s.d, in->dtype,
                 norm == GM_COV_BIASED ? "1/n" : "1/(n-1)", seed);
        int64_t n = s.n;
        gm_array a[5];
        memset(a, 0, sizeof a);
        a[0].dtype = GM_DTYPE_F64, a[0].ndim = 1, a[0].shape[0] = (int64_t)s.d, a[0].data = s.mean;
        a[1].dtype = GM_DTYPE_F64, a[1].ndim = 2, a[1].shape[0] = a[1].shape[1] = (int64_t)s.d, a[1].data = cov;
        a[2].dtype = GM_DTYPE_I64, a[2].ndim = 0, a[2].data = &n;
        a[3].dtype = GM_DTYPE_F64, a[3].ndim = 2, a[3].shape[0] = a[3].shape[1] = (int64_t)s.d, a[3].data = s.m2;
        a[4].dtype = GM_DTYPE_U8, a[4].ndim = 1, a[4].shape[0] = (int64_t)strlen(meta), a[4].data = meta;
        a[0].nbytes = s.d * sizeof(double);
        a[1].nbytes = a[3].nbytes = s.d * s.d * sizeof(double);
        a[2].nbytes = sizeof n;
        a[4].nbytes = strlen(meta);
        const char *names[5] = {"mu", "sigma", "n", "m2", "meta"};
        rc = gm_npz_write(path, 5, names, a);
    }
    free(cov);
    gm_fdstats_free(&s);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------------------ */

int cmd_eval(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "merge-stats")) return cmd_eval_merge_stats(argc - 1, argv + 1);
    opts o;
    memset(&o, 0, sizeof o);
    o.k_pr = o.k_dc = -1;
    o.cmp = o.cov_norm = o.kid_f32 = o.knn_prec = o.fp16 = -1;
    o.kid_subsets = o.kid_size = -1;
    o.kid_seed = -1;
    o.mmd_sigma = 10;
    o.cmmd_sigma = 10;
    o.fdinf_points = 15;
    o.vendi_q = 1;
    o.is_splits = 10;
    o.prd_clusters = 20;
    o.prd_angles = 1001;
    o.prd_runs = 10;
    o.tile = 1024;
    o.is_shuffle = -1;
    const char *profile = "genmix", *metrics = NULL;
    enum {
        O_REAL = 256, O_FAKE, O_METRICS, O_PROFILE, O_K, O_KPR, O_KDC, O_CMP, O_COVN, O_KIDS, O_KIDM, O_KIDSEED,
        O_KIDF32, O_KIDF64, O_MMDS, O_RKES, O_RKEMC, O_VQ, O_VK, O_ISS, O_ISP, O_ISSH, O_PRDC, O_PRDA, O_PRDR,
        O_PRDO, O_REALO, O_LABELS, O_RLABELS, O_TILE, O_F32, O_F64, O_FP16, O_NOFP16, O_BOOT, O_SEED, O_JSON, O_SAVE,
        O_CMMDS, O_FDINFMIN, O_FDINFPTS
    };
    static const struct option lo[] = {
        {"real", required_argument, 0, O_REAL}, {"fake", required_argument, 0, O_FAKE},
        {"gen", required_argument, 0, O_FAKE}, {"metrics", required_argument, 0, O_METRICS},
        {"profile", required_argument, 0, O_PROFILE}, {"k", required_argument, 0, O_K},
        {"k-pr", required_argument, 0, O_KPR}, {"k-dc", required_argument, 0, O_KDC},
        {"cmp", required_argument, 0, O_CMP}, {"cov-norm", required_argument, 0, O_COVN},
        {"kid-subsets", required_argument, 0, O_KIDS}, {"kid-size", required_argument, 0, O_KIDM},
        {"kid-seed", required_argument, 0, O_KIDSEED}, {"kid-f32", no_argument, 0, O_KIDF32},
        {"kid-f64", no_argument, 0, O_KIDF64}, {"mmd-sigma", required_argument, 0, O_MMDS},
        {"rke-sigma", required_argument, 0, O_RKES}, {"rke-mc", required_argument, 0, O_RKEMC},
        {"vendi-q", required_argument, 0, O_VQ}, {"vendi-kernel", required_argument, 0, O_VK},
        {"is-splits", required_argument, 0, O_ISS}, {"is-probs", no_argument, 0, O_ISP},
        {"is-shuffle", no_argument, 0, O_ISSH}, {"prd-clusters", required_argument, 0, O_PRDC},
        {"prd-angles", required_argument, 0, O_PRDA}, {"prd-runs", required_argument, 0, O_PRDR},
        {"prd-out", required_argument, 0, O_PRDO}, {"realism-out", required_argument, 0, O_REALO},
        {"labels", required_argument, 0, O_LABELS},
        {"real-labels", required_argument, 0, O_RLABELS},
        {"tile", required_argument, 0, O_TILE}, {"f32", no_argument, 0, O_F32}, {"f64", no_argument, 0, O_F64},
        {"fp16", no_argument, 0, O_FP16}, {"no-fp16", no_argument, 0, O_NOFP16},
        {"bootstrap", required_argument, 0, O_BOOT}, {"seed", required_argument, 0, O_SEED},
        {"json", required_argument, 0, O_JSON}, {"save-stats", required_argument, 0, O_SAVE},
        {"cmmd-sigma", required_argument, 0, O_CMMDS}, {"fdinf-min", required_argument, 0, O_FDINFMIN},
        {"fdinf-points", required_argument, 0, O_FDINFPTS},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    long lv;
    unsigned long long uv;
    double dv;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return CLI_OK;
        case O_REAL: o.real = optarg; break;
        case O_FAKE:
            if (o.nfake >= MAX_FAKE) return cli_usage_error("eval", "at most %d --fake files", MAX_FAKE);
            o.fake[o.nfake++] = optarg;
            break;
        case O_METRICS: metrics = optarg; break;
        case O_PROFILE: profile = optarg; break;
        case O_K:
        case O_KPR:
        case O_KDC:
            if (cli_parse_long(optarg, &lv) || lv < 1) return cli_usage_error("eval", "--k takes a positive integer");
            if (c != O_KDC) o.k_pr = lv;
            if (c != O_KPR) o.k_dc = lv;
            break;
        case O_CMP:
            if (!strcmp(optarg, "le") || !strcmp(optarg, "<=")) o.cmp = GM_CMP_LE;
            else if (!strcmp(optarg, "lt") || !strcmp(optarg, "<")) o.cmp = GM_CMP_LT;
            else return cli_usage_error("eval", "--cmp takes le or lt");
            break;
        case O_COVN:
            if (!strcmp(optarg, "unbiased")) o.cov_norm = GM_COV_UNBIASED;
            else if (!strcmp(optarg, "biased")) o.cov_norm = GM_COV_BIASED;
            else return cli_usage_error("eval", "--cov-norm takes unbiased or biased");
            break;
        case O_KIDS:
        case O_KIDM:
        case O_ISS:
        case O_PRDC:
        case O_PRDA:
        case O_PRDR:
        case O_TILE:
        case O_RKEMC:
        case O_BOOT:
            if (cli_parse_long(optarg, &lv) || lv < (c == O_BOOT || c == O_RKEMC ? 0 : 1))
                return cli_usage_error("eval", "%s takes a positive integer", argv[optind - 1]);
            if (c == O_KIDS) o.kid_subsets = lv;
            if (c == O_KIDM) o.kid_size = lv;
            if (c == O_ISS) o.is_splits = lv;
            if (c == O_PRDC) o.prd_clusters = lv;
            if (c == O_PRDA) o.prd_angles = lv;
            if (c == O_PRDR) o.prd_runs = lv;
            if (c == O_TILE) o.tile = lv;
            if (c == O_RKEMC) o.rke_mc = lv;
            if (c == O_BOOT) o.bootstrap = lv;
            break;
        case O_KIDSEED:
            if (cli_parse_u64(optarg, &uv) || uv > 0xffffffffULL)
                return cli_usage_error("eval", "--kid-seed takes an integer in 0..2^32-1");
            o.kid_seed = (long long)uv;
            break;
        case O_KIDF32: o.kid_f32 = 1; break;
        case O_KIDF64: o.kid_f32 = 0; break;
        case O_MMDS:
            if (cli_parse_double(optarg, &o.mmd_sigma) || !(o.mmd_sigma > 0))
                return cli_usage_error("eval", "--mmd-sigma takes a positive number");
            break;
        case O_RKES: {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", optarg);
            o.n_rke_sigma = 0;
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                if (o.n_rke_sigma >= MAX_SIGMA || cli_parse_double(t, &dv) || !(dv > 0))
                    return cli_usage_error("eval", "--rke-sigma takes up to %d positive numbers", MAX_SIGMA);
                o.rke_sigma[o.n_rke_sigma++] = dv;
            }
            break;
        }
        case O_VQ:
            if (!strcmp(optarg, "inf")) o.vendi_q = INFINITY;
            else if (cli_parse_double(optarg, &o.vendi_q) || !(o.vendi_q >= 0))
                return cli_usage_error("eval", "--vendi-q takes a number >= 0 or inf");
            break;
        case O_VK:
            if (!strcmp(optarg, "cosine")) o.vendi_rbf = 0;
            else if (!strncmp(optarg, "rbf:", 4) && !cli_parse_double(optarg + 4, &o.vendi_sigma) && o.vendi_sigma > 0)
                o.vendi_rbf = 1;
            else return cli_usage_error("eval", "--vendi-kernel takes cosine or rbf:SIGMA");
            break;
        case O_ISP: o.is_probs = 1; break;
        case O_ISSH: o.is_shuffle = 1; break;
        case O_PRDO: o.prd_out = optarg; break;
        case O_REALO: o.realism_out = optarg; break;
        case O_LABELS: o.labels = optarg; break;
        case O_RLABELS: o.real_labels = optarg; break;
        case O_F32: o.knn_prec = 1; break;
        case O_F64: o.knn_prec = 0; break;
        case O_FP16: o.fp16 = 1; break;
        case O_NOFP16: o.fp16 = 0; break;
        case O_SEED:
            if (cli_parse_u64(optarg, &o.seed)) return cli_usage_error("eval", "--seed takes a non-negative integer");
            break;
        case O_CMMDS:
            if (cli_parse_double(optarg, &o.cmmd_sigma) || !(o.cmmd_sigma > 0))
                return cli_usage_error("eval", "--cmmd-sigma takes a positive number");
            break;
        case O_FDINFMIN:
        case O_FDINFPTS:
            if (cli_parse_long(optarg, &lv) || lv < 2)
                return cli_usage_error("eval", "%s takes an integer >= 2", argv[optind - 1]);
            if (c == O_FDINFMIN) o.fdinf_min = lv;
            else o.fdinf_points = lv;
            break;
        case O_JSON: o.json = optarg; break;
        case O_SAVE: o.save_stats = optarg; break;
        default: return cli_usage_error("eval", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (gm_eval_profile_get(profile, &o.prof) != GM_OK) return cli_usage_error("eval", "%s", gm_last_error());
    if (metrics && parse_metrics(metrics, &o.metrics))
        return cli_usage_error("eval", "bad --metrics '%s' (fd,kid,mmd,pr,prdc,prd,vendi,rke,is)", metrics);
    if (!metrics) o.metrics = o.nfake ? (M_FD | M_KID | M_PR | M_PRDC) : 0;
    if ((o.metrics & M_RKE) && o.n_rke_sigma == 0)
        return cli_usage_error("eval", "rke needs --rke-sigma (the kernel bandwidth has no default)");
    if (!o.real && (o.metrics & ~(unsigned)(M_IS | M_VENDI | M_RKE)))
        return cli_usage_error("eval", "--real is required for these metrics");
    if (!o.real && !o.nfake) return cli_usage_error("eval", "give --real and --fake (see --help)");
    if (!o.nfake && !o.save_stats) return cli_usage_error("eval", "give at least one --fake (or --save-stats)");
    /* single-flag overrides of the profile */
    gm_eval_profile *p = &o.prof;
    if (o.k_pr > 0) p->knn.k_pr = (size_t)o.k_pr;
    if (o.k_dc > 0) p->knn.k_dc = (size_t)o.k_dc;
    if (o.cmp >= 0) p->knn.cmp_pr = p->knn.cmp_dc = (gm_cmp)o.cmp;
    if (o.cov_norm >= 0) p->cov_norm = (gm_cov_norm)o.cov_norm;
    if (o.kid_subsets > 0) p->kid.subsets = (size_t)o.kid_subsets;
    if (o.kid_size > 0) p->kid.subset_size = (size_t)o.kid_size;
    if (o.kid_seed >= 0) p->kid.seed = (uint32_t)o.kid_seed;
    if (o.kid_f32 >= 0) p->kid.f32 = o.kid_f32;
    if (o.is_shuffle > 0) p->is_shuffle = GM_IS_SHUFFLE_MT2020;
    p->knn.tile = (size_t)o.tile;
    o.cov_norm = p->cov_norm;

    int rc = GM_OK, threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    input real, fake[MAX_FAKE];
    memset(&real, 0, sizeof real);
    memset(fake, 0, sizeof fake);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "genmix_version", gm_version());
    cJSON_AddStringToObject(root, "profile", p->name);
    cJSON_AddNumberToObject(root, "seed", (double)o.seed);
    cJSON_AddNumberToObject(root, "threads", threads);
#ifdef GM_HAVE_BLAS
    cJSON_AddStringToObject(root, "blas", "openblas");
#else
    cJSON_AddStringToObject(root, "blas", "none");
#endif
    cJSON *jin = cJSON_AddArrayToObject(root, "inputs"), *jres = cJSON_AddArrayToObject(root, "results"),
          *warn = cJSON_AddArrayToObject(root, "warnings");
    double t_start = gm_time_now();
    if (o.real) {
        cli_progress("eval: reading %s", o.real);
        if ((rc = load_input(&real, o.real, "real"))) goto out;
    }
    for (int i = 0; i < o.nfake; i++) {
        cli_progress("eval: reading %s", o.fake[i]);
        if ((rc = load_input(&fake[i], o.fake[i], "fake"))) goto out;
    }
    for (int i = 0; i < o.nfake && o.real; i++)
        if (fake[i].f.d != real.f.d) {
            rc = gm_set_error(GM_ESHAPE, "feature dimensions differ: %s has D = %zu, %s has D = %zu", real.path,
                              real.f.d, fake[i].path, fake[i].f.d);
            goto out;
        }
    printf("genmix eval  profile %s  seed %llu  threads %d\n", p->name, o.seed, threads);
    if (o.real && real.is_stats) printf("real: %s  (FD statistics, d = %zu)\n", real.path, real.f.d);
    else if (o.real) printf("real: %s  (%zu x %zu, %s)\n", real.path, real.f.n, real.f.d, real.dtype);
    for (int i = -1; i < o.nfake; i++) {
        input *in = i < 0 ? &real : &fake[i];
        if (i < 0 && !o.real) continue;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "role", i < 0 ? "real" : "fake");
        cJSON_AddStringToObject(j, "path", in->path);
        cJSON_AddNumberToObject(j, "n", (double)in->f.n);
        cJSON_AddNumberToObject(j, "d", (double)in->f.d);
        cJSON_AddStringToObject(j, "dtype", in->dtype);
        if (o.json) {
            char file[4096], hex[65];
            snprintf(file, sizeof file, "%s", in->path);
            char *colon = strstr(file, ".npz:");
            if (colon) colon[4] = '\0';
            if (gm_sha256_file(file, hex) == GM_OK) cJSON_AddStringToObject(j, "sha256", hex);
        }
        cJSON_AddItemToArray(jin, j);
    }
    if (o.save_stats) {
        if (!o.real || real.is_stats) {
            rc = gm_set_error(GM_EINVAL, "--save-stats needs --real features (not a statistics file)");
            goto out;
        }
        cli_progress("eval: writing statistics %s", o.save_stats);
        if ((rc = save_stats(o.save_stats, &real, p->cov_norm, o.seed))) goto out;
        printf("statistics of %s written to %s\n", real.path, o.save_stats);
    }
    for (int i = 0; i < o.nfake; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "fake", fake[i].path);
        cJSON_AddItemToArray(jres, r);
        if ((rc = eval_fake(&o, o.real ? &real : NULL, &fake[i], i, r, warn))) goto out;
    }
    cJSON_AddNumberToObject(root, "total_s", gm_time_now() - t_start);
    if (o.json) {
        char *txt = cJSON_Print(root);
        if (!txt) {
            rc = GM_ENOMEM;
            goto out;
        }
        size_t len = strlen(txt);
        txt[len] = '\n';
        rc = gm_write_file_atomic(o.json, txt, len + 1);
        cJSON_free(txt);
        if (rc) goto out;
        cli_progress("eval: wrote %s", o.json);
    }
out:
    cJSON_Delete(root);
    free_input(&real);
    for (int i = 0; i < MAX_FAKE; i++) free_input(&fake[i]);
    fflush(stdout);
    return rc ? cli_fail(rc) : CLI_OK;
}
