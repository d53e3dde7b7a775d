/* SPDX-License-Identifier: MIT */
/* cmd_features.c — `genmix features`: penultimate-layer features of the Fashion-MNIST classifier.
 * Input images: .npy of shape (N, 784), (N, 28, 28) or (N, 1, 28, 28); float32/float64 in [0, 1] or uint8
 * in [0, 255]. Output: float32 .npy (N, 128), written atomically (io.h reader and writer). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/classifier.h"
#include "genmix/io.h"

/* Read the images through io (any .npy version, endianness or order) and return them as float32 in [0, 1]:
 * float32/float64 are taken as they are, uint8 is scaled by 1/255; other dtypes are refused. */
static int load_images(const char *path, gm_array *a) {
    int rc = gm_npy_read(path, a);
    if (rc != GM_OK) return rc;
    gm_dtype t = a->dtype;
    if (t != GM_DTYPE_F32 && t != GM_DTYPE_F64 && t != GM_DTYPE_U8)
        GM_FAIL(GM_EFORMAT, "%s: dtype must be float32, float64 or uint8 (got %s)", path, gm_dtype_name(t));
    if ((rc = gm_array_convert(a, GM_DTYPE_F32)) != GM_OK) return rc;
    if (t == GM_DTYPE_U8) {
        float *x = a->data;
        size_t n = gm_array_numel(a);
        for (size_t i = 0; i < n; i++) x[i] /= 255.0f;
    }
    return GM_OK;
}

int cmd_features(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {"in", required_argument, 0, 'i'},
                                         {"out", required_argument, 0, 'o'},   {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *in = NULL, *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: genmix features --model clf.safetensors --in images.npy --out feats.npy\n\n"
                   "Writes the classifier's penultimate-layer features (float32, N x 128): genmix's default feature\n"
                   "space for Fashion-MNIST metrics. images.npy: (N,784), (N,28,28) or (N,1,28,28); float32/float64\n"
                   "pixels in [0,1] or uint8 in [0,255].\n");
            return CLI_OK;
        default: return cli_bad_option("features", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("features", "unexpected argument '%s'", argv[optind]);
    if (!model || !in || !out) return cli_usage_error("features", "--model, --in and --out are required");
    if (cli_check_input("features", "--model", model) || cli_check_input("features", "--in", in) ||
        cli_check_output("features", "--out", out))
        return CLI_ERR;
    if (cli_check_not_input("features", (cli_file[]){{"--out", out}, {0}}, (cli_file[]){{"--model", model}, {"--in", in}, {0}})) return CLI_USAGE;
    gm_clf *clf = NULL;
    gm_array img;
    memset(&img, 0, sizeof img);
    float *f = NULL;
    int rc = gm_clf_load(&clf, model);
    if (rc == GM_OK) rc = load_images(in, &img);
    if (rc != GM_OK) goto done;
    size_t per = 1;
    for (int i = 1; i < img.ndim; i++) per *= (size_t)img.shape[i];
    if (img.ndim < 2 || img.ndim > 4 || per != 784) {
        rc = gm_set_error(GM_ESHAPE, "%s: expected images of 784 pixels per row ((N,784), (N,28,28) or (N,1,28,28))", in);
        goto done;
    }
    size_t n = (size_t)img.shape[0], dim = gm_clf_feature_dim(clf);
    const float *x = img.data;
    /* bad pixels are bad input (exit 1), like eval and mix: NaN/Inf, or floats outside [0, 1] (e.g. 0..255) */
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n * per; i++) {
        if (!isfinite(x[i])) {
            rc = gm_set_error(GM_EINVAL, "--in %s: pixel %zu of image %zu is NaN or infinite", in, i % per, i / per);
            goto done;
        }
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (lo < 0 || hi > 1) {
        rc = gm_set_error(GM_EINVAL, "--in %s: float pixels must be in [0, 1], found [%g, %g] (divide by 255, or store uint8)",
                          in, (double)lo, (double)hi);
        goto done;
    }
    f = malloc((n ? n : 1) * dim * sizeof(float));
    if (!f) { rc = GM_ENOMEM; goto done; }
    if ((rc = gm_clf_features(clf, x, n, f)) != GM_OK) goto done;
    int64_t osh[2] = {(int64_t)n, (int64_t)dim};
    if ((rc = gm_npy_write(out, GM_DTYPE_F32, 2, osh, f)) != GM_OK) goto done;
    /* with --out -, stdout carries the array; the summary goes to stderr */
    fprintf(gm_output_is_stdout(out) ? stderr : stdout, "features: %zu images -> %s (%zu x %zu float32)\n", n, out, n, dim);
done:
    gm_clf_free(clf);
    gm_array_free(&img);
    free(f);
    return rc == GM_OK ? CLI_OK : cli_fail(rc);
}
