/* cmd_features.c — `genmix features`: penultimate-layer features of the Fashion-MNIST classifier.
 * Input images: .npy of shape (N, 784), (N, 28, 28) or (N, 1, 28, 28); float32/float64 in [0, 1] or uint8
 * in [0, 255]. Output: float32 .npy (N, 128), written atomically.
 * (A small local .npy reader/writer is used until the io module is merged.) */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/classifier.h"
#include "genmix/io.h"

/* Parse a little-endian C-order .npy with dtype <f4, <f8 or |u1 into float32 (u1 scaled by 1/255). */
static int npy_load(const char *path, float **out, int64_t *shape, int *ndim) {
    void *raw;
    size_t len;
    int rc = gm_read_file(path, &raw, &len);
    if (rc != GM_OK) return rc;
    unsigned char *b = raw;
    size_t hl, ho;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6)) { rc = gm_set_error(GM_EFORMAT, "%s: not a .npy file", path); goto done; }
    if (b[6] == 1) hl = (size_t)b[8] | (size_t)b[9] << 8, ho = 10;
    else if ((b[6] == 2 || b[6] == 3) && len >= 12) hl = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24, ho = 12;
    else { rc = gm_set_error(GM_EFORMAT, "%s: unsupported .npy version %d", path, b[6]); goto done; }
    if (hl > 10000 || ho + hl > len) { rc = gm_set_error(GM_EFORMAT, "%s: bad .npy header length", path); goto done; }
    char hdr[10001];
    memcpy(hdr, b + ho, hl);
    hdr[hl] = '\0';
    int esz = 0, kind = 0;
    if (strstr(hdr, "'<f4'")) esz = 4, kind = 'f';
    else if (strstr(hdr, "'<f8'")) esz = 8, kind = 'd';
    else if (strstr(hdr, "'|u1'")) esz = 1, kind = 'u';
    if (!esz) { rc = gm_set_error(GM_EFORMAT, "%s: dtype must be float32, float64 or uint8", path); goto done; }
    if (strstr(hdr, "'fortran_order': True")) { rc = gm_set_error(GM_EFORMAT, "%s: Fortran order is not supported", path); goto done; }
    char *s = strstr(hdr, "'shape':");
    char *p = s ? strchr(s, '(') : NULL;
    if (!p) { rc = gm_set_error(GM_EFORMAT, "%s: no shape in the .npy header", path); goto done; }
    *ndim = 0;
    size_t n = 1;
    for (p++; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || *ndim >= 4) { rc = gm_set_error(GM_EFORMAT, "%s: bad shape in the .npy header", path); goto done; }
        shape[(*ndim)++] = v;
        n *= (size_t)v;
        p = end;
    }
    size_t off = ho + hl;
    if (len - off != n * (size_t)esz) { rc = gm_set_error(GM_EFORMAT, "%s: data size does not match the shape", path); goto done; }
    float *x = malloc((n ? n : 1) * sizeof(float));
    if (!x) { rc = GM_ENOMEM; goto done; }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *q = b + off + i * (size_t)esz;
        if (kind == 'f') memcpy(x + i, q, 4);
        else if (kind == 'd') { double d; memcpy(&d, q, 8); x[i] = (float)d; }
        else x[i] = (float)q[0] / 255.0f;
    }
    *out = x;
done:
    gm_free(raw);
    return rc;
}

static int npy_save_f32(const char *path, const float *x, size_t rows, size_t cols) {
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    size_t total = 10 + (size_t)hl + 1, pad = (64 - total % 64) % 64, H = (size_t)hl + pad + 1;
    size_t len = 10 + H + rows * cols * 4;
    unsigned char *b = malloc(len);
    if (!b) return GM_ENOMEM;
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(H & 0xff), b[9] = (unsigned char)(H >> 8);
    memcpy(b + 10, hdr, (size_t)hl);
    memset(b + 10 + hl, ' ', pad);
    b[10 + H - 1] = '\n';
    memcpy(b + 10 + H, x, rows * cols * 4);
    int rc = gm_write_file_atomic(path, b, len);
    free(b);
    return rc;
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
        default: return cli_usage_error("features", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("features", "unexpected argument '%s'", argv[optind]);
    if (!model || !in || !out) return cli_usage_error("features", "--model, --in and --out are required");
    gm_clf *clf = NULL;
    float *x = NULL, *f = NULL;
    int64_t sh[4];
    int nd = 0;
    int rc = gm_clf_load(&clf, model);
    if (rc == GM_OK) rc = npy_load(in, &x, sh, &nd);
    if (rc != GM_OK) goto done;
    size_t per = 1;
    for (int i = 1; i < nd; i++) per *= (size_t)sh[i];
    if (nd < 2 || per != 784) {
        rc = gm_set_error(GM_ESHAPE, "%s: expected images of 784 pixels per row ((N,784), (N,28,28) or (N,1,28,28))", in);
        goto done;
    }
    size_t n = (size_t)sh[0], dim = gm_clf_feature_dim(clf);
    for (size_t i = 0; i < n * 784; i++)
        if (!isfinite(x[i])) {
            rc = gm_set_error(GM_ENUMERIC, "%s: image %zu contains NaN/Inf", in, i / 784);
            goto done;
        }
    f = malloc((n ? n : 1) * dim * sizeof(float));
    if (!f) { rc = GM_ENOMEM; goto done; }
    if ((rc = gm_clf_features(clf, x, n, f)) != GM_OK) goto done;
    if ((rc = npy_save_f32(out, f, n, dim)) != GM_OK) goto done;
    printf("features: %zu images -> %s (%zu x %zu float32)\n", n, out, n, dim);
done:
    gm_clf_free(clf);
    free(x);
    free(f);
    return rc == GM_OK ? CLI_OK : cli_fail(rc);
}
