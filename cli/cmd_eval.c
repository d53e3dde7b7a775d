/* SPDX-License-Identifier: MIT */
/* cmd_eval.c — `genmix eval`: sample-quality metrics between feature files (.npy/.npz, FD statistics
 * files). Parses options, loads and checks the inputs, calls the eval library, prints a table on stdout,
 * writes JSON / statistics / per-sample arrays. Exit codes: 0 ok, 1 bad input or I/O, 2 usage,
 * 3 numerical failure. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "genmix/eval.h"
#include "genmix/hash.h"
#include "genmix/io.h"
#include "cmd_eval.h"

#ifdef _OPENMP
#include <omp.h>
#endif


/* ---- "-" outputs ---------------------------------------------------------------------------------
 * When an output option is "-", standard output belongs to that file: the report table goes to stderr
 * (fd 1 points at stderr while computing) and each write to "-" briefly gets the real stdout back. */
static int real_stdout = -1;

static void stdout_for_report(const opts *o) {
    const char *outs[4] = {o->json, o->save_stats, o->prd_out, o->realism_out};
    for (int i = 0; i < 4; i++)
        if (gm_output_is_stdout(outs[i]) && real_stdout < 0) {
            fflush(stdout);
            real_stdout = dup(1);
            dup2(2, 1);
        }
}

static void stdout_swap(int to_real) {
    if (real_stdout < 0) return;
    fflush(stdout);
    dup2(to_real ? real_stdout : 2, 1);
}

static void stdout_restore(void) {
    if (real_stdout < 0) return;
    stdout_swap(1);
    close(real_stdout);
    real_stdout = -1;
}

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
/* The file's own element type in NumPy's words (messages, the inspect line, --json, --save-stats metadata):
 * an integer or bool file is computed on as float64 but is reported as what it is. */
static const char *ev_dtype_numpy(gm_dtype t) {
    static const char *const names[GM_DTYPE_COUNT] = {"bool",  "uint8",  "int8",   "int16",   "uint16",  "int32", "uint32",
                                                      "int64", "uint64", "float16", "bfloat16", "float32", "float64"};
    return (unsigned)t < GM_DTYPE_COUNT ? names[t] : "?";
}

/* spec (FILE.npy or FILE.npz[:member]) as float32/float64 in *out; *orig = the dtype stored in the file */
static int read_array(const char *spec, gm_array *out, gm_dtype *orig) {
    char path[4096];
    snprintf(path, sizeof path, "%s", spec);
    char *member = NULL, *colon = strstr(path, ".npz:");
    if (colon) {
        colon[4] = '\0';
        member = colon + 5;
    }
    int rc = ends_with(path, ".npz") ? gm_npz_read(path, member, out) : gm_npy_read(path, out);
    *orig = out->dtype;
    return ev_read_as_float(rc, out);
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
    gm_dtype orig = GM_DTYPE_F64;
    int rc = read_array(path, &in->arr, &orig);
    if (rc) return rc;
    if (in->arr.ndim != 2)
        GM_FAIL(GM_ESHAPE, "%s (%s): features must be a 2-D N x D array, got %d dimensions", path, role, in->arr.ndim);
    if (in->arr.shape[0] == 0 || in->arr.shape[1] == 0)
        GM_FAIL(GM_EINVAL, "%s (%s): empty feature matrix (%lld x %lld)", path, role, (long long)in->arr.shape[0],
                (long long)in->arr.shape[1]);
    if ((rc = ev_check_finite(&in->arr, path))) return rc; /* bad input: exit 1, not 3 */
    in->dtype = ev_dtype_numpy(orig);
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
            cli_warn("eval", "%s", w);
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
                cli_warn("eval", "%s", w);
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
                stdout_swap(1);
                rc = gm_npy_write(o->realism_out, GM_DTYPE_F64, 1, shape, r.realism);
                stdout_swap(0);
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
            if (cur) {
                stdout_swap(1);
                rc = gm_npy_write(o->prd_out, GM_DTYPE_F64, 2, shape, cur);
                stdout_swap(0);
            }
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

/* Everything that depends on the loaded sizes, for every input, before the first metric: a problem with
 * the third --fake must not surface after the first two were computed. */
static int check_sizes(const opts *o, const input *real, const input *fake) {
    const gm_eval_profile *p = &o->prof;
    if (real && real->is_stats && (o->metrics & ~(unsigned)(M_FD | M_VENDI | M_IS)))
        GM_FAIL(GM_EINVAL, "--real %s is a statistics file: only fd (and vendi/is of the generated set) can use it",
                real->path);
    for (int i = -1; i < o->nfake; i++) {
        const input *in = i < 0 ? real : &fake[i];
        if (!in || in->is_stats) continue;
        const char *opt = i < 0 ? "--real" : "--fake";
        size_t n = in->f.n;
        if (o->metrics & M_PR && p->knn.k_pr >= n)
            GM_FAIL(GM_EINVAL, "%s %s has %zu rows: k-NN precision/recall needs --k-pr (or --k) in 1..%zu, got %zu", opt,
                    in->path, n, n - 1, p->knn.k_pr);
        if (o->metrics & M_PRDC && p->knn.k_dc >= n)
            GM_FAIL(GM_EINVAL, "%s %s has %zu rows: density/coverage needs --k-dc (or --k) in 1..%zu, got %zu", opt,
                    in->path, n, n - 1, p->knn.k_dc);
        if (i >= 0 && o->metrics & M_IS && (size_t)o->is_splits > n)
            GM_FAIL(GM_EINVAL, "--fake %s has %zu rows: --is-splits must be in 1..%zu, got %ld", in->path, n, n,
                    o->is_splits);
        if (i >= 0 && real && !real->is_stats && o->metrics & M_PRD && (size_t)o->prd_clusters > n + real->f.n)
            GM_FAIL(GM_EINVAL, "--prd-clusters %ld exceeds the %zu points of --real and --fake %s", o->prd_clusters,
                    n + real->f.n, in->path);
        /* the label files too, before the first metric (they were read only when their metric came) */
        const char *lpath = i < 0 ? o->real_labels : o->labels;
        int64_t *lab = NULL;
        int rc = lpath && (i >= 0 || o->labels) ? read_labels(lpath, n, i < 0 ? "real" : "generated", &lab) : GM_OK;
        free(lab);
        if (rc) return gm_error_prefix(rc, i < 0 ? "--real-labels" : "--labels");
    }
    return GM_OK;
}

/* ---- main ------------------------------------------------------------------------------------------ */

int cmd_eval(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "merge-stats")) return cmd_eval_merge_stats(argc - 1, argv + 1);
    opts o;
    int code = eval_parse_args(argc, argv, &o);
    if (code >= 0) return code;
    gm_eval_profile *p = &o.prof;

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
    stdout_for_report(&o);
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
    if ((rc = check_sizes(&o, o.real ? &real : NULL, fake))) goto out;
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
        stdout_swap(1);
        rc = save_stats(o.save_stats, &real, p->cov_norm, o.seed);
        stdout_swap(0);
        if (rc) goto out;
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
        stdout_swap(1);
        rc = gm_write_file_atomic(o.json, txt, len + 1);
        stdout_swap(0);
        cJSON_free(txt);
        if (rc) goto out;
        cli_progress("eval: wrote %s", o.json);
    }
out:
    cJSON_Delete(root);
    free_input(&real);
    for (int i = 0; i < MAX_FAKE; i++) free_input(&fake[i]);
    fflush(stdout);
    stdout_restore();
    return rc ? cli_fail(rc) : CLI_OK;
}
