/* SPDX-License-Identifier: MIT */
/* cmd_data.c — `genmix data fashion-mnist --out DIR`: export the Debian dataset-fashion-mnist IDX files as
 * .npy arrays (images float32 in [0, 1] as N x 784 and N x 1 x 28 x 28, labels uint8). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/io.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix data fashion-mnist --out DIR [--grid N] [--source DIR]\n\n"
            "Export Fashion-MNIST (Debian package dataset-fashion-mnist) as .npy files in DIR:\n"
            "  train_images.npy       60000 x 784       float32, pixel / 255, in [0, 1]\n"
            "  train_images_nchw.npy  60000 x 1 x 28 x 28  (the same values)\n"
            "  train_labels.npy       60000             uint8, class 0..9\n"
            "  test_images.npy, test_images_nchw.npy, test_labels.npy  (10000 images)\n"
            "  examples.png           the first N test images of each class, one class per row\n"
            "Files are written atomically (temp file + rename). Classes: 0 T-shirt/top, 1 Trouser,\n"
            "2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.\n\n"
            "options:\n"
            "  --out DIR     output directory (created if missing)\n"
            "  --grid N      examples per class in examples.png (default 10, 0: no PNG)\n"
            "  --source DIR  directory of the IDX files (default %s)\n"
            "  -h, --help    this help\n",
            GM_FASHION_MNIST_DIR);
}

/* examples.png: rows = classes 0..9, the first `per_class` test images of each class. */
static int write_grid(const gm_tensor *x, const uint8_t *y, size_t n, int per_class, const char *out) {
    size_t m = (size_t)per_class * 10;
    float *img = gm_calloc(m * 784, sizeof(float)); /* classes with too few images leave black cells */
    if (!img) return GM_ENOMEM;
    size_t filled[10] = {0};
    for (size_t i = 0; i < n; i++) {
        int c = y[i];
        if (filled[c] < (size_t)per_class) {
            memcpy(img + ((size_t)c * (size_t)per_class + filled[c]) * 784, x->data + i * 784, 784 * sizeof(float));
            filled[c]++;
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/examples.png", out);
    int rc = gm_png_write_grid(path, img, m, 1, 28, 28, per_class, 2);
    if (!rc) printf("%s  %d x 10 grid of test images\n", path, per_class);
    gm_free(img);
    return rc;
}

static int export_split(const char *src, const char *out, int train, int grid) {
    const char *split = train ? "train" : "test";
    gm_tensor x;
    uint8_t *y;
    size_t n;
    double t0 = gm_time_now();
    int rc = gm_fashion_mnist_load(src, train, &x, &y, &n);
    if (rc) return rc;
    cli_progress("data: loaded %zu %s images in %.2f s", n, split, gm_time_now() - t0);
    char path[4096];
    int64_t s2[2] = {(int64_t)n, 784}, s4[4] = {(int64_t)n, 1, 28, 28}, s1[1] = {(int64_t)n};
    snprintf(path, sizeof path, "%s/%s_images.npy", out, split);
    rc = gm_npy_write(path, GM_DTYPE_F32, 2, s2, x.data);
    if (!rc) printf("%s  float32 (%zu, 784)\n", path, n);
    if (!rc) {
        snprintf(path, sizeof path, "%s/%s_images_nchw.npy", out, split);
        rc = gm_npy_write(path, GM_DTYPE_F32, 4, s4, x.data);
        if (!rc) printf("%s  float32 (%zu, 1, 28, 28)\n", path, n);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/%s_labels.npy", out, split);
        rc = gm_npy_write(path, GM_DTYPE_U8, 1, s1, y);
        if (!rc) printf("%s  uint8 (%zu,)\n", path, n);
    }
    if (!rc && grid > 0) rc = write_grid(&x, y, n, grid, out);
    gm_tensor_free(&x);
    gm_free(y);
    return rc;
}

int cmd_data(int argc, char **argv) {
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"source", required_argument, NULL, 's'},
                                         {"grid", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *src = NULL;
    long grid = 10;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's': src = optarg; break;
        case 'g':
            if (cli_parse_long(optarg, &grid) || grid < 0 || grid > 1000)
                return cli_usage_error("data", "--grid takes an integer in 0..1000");
            break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_bad_option("data", argv, NULL);
        }
    }
    if (optind != argc - 1) return cli_usage_error("data", "expected one dataset name (fashion-mnist)");
    if (strcmp(argv[optind], "fashion-mnist") != 0)
        return cli_usage_error("data", "unknown dataset '%s' (available: fashion-mnist)", argv[optind]);
    if (!out) return cli_usage_error("data", "--out DIR is required");
    if (cli_check_output_dir("data", "--out", out)) return CLI_ERR;
    {   /* an IDX input reached through a name written into --out (a symlink is written through) */
        static const char *const names[] = {"train_images.npy", "train_images_nchw.npy", "train_labels.npy", "test_images.npy",
                                            "test_images_nchw.npy", "test_labels.npy", "examples.png", NULL};
        static const char *const stems[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                            "t10k-labels-idx1-ubyte"};
        char idx[8][4096];
        cli_file ins[9];
        for (int i = 0; i < 8; i++) {
            snprintf(idx[i], sizeof idx[i], "%s/%s%s", src ? src : GM_FASHION_MNIST_DIR, stems[i / 2], i % 2 ? ".gz" : "");
            ins[i] = (cli_file){"--source", idx[i]};
        }
        ins[8] = (cli_file){0};
        if (cli_check_not_in_dir("data", "--out", out, names, ins)) return CLI_USAGE;
    }
    int rc = cli_mkdirs(out);
    if (!rc) rc = export_split(src, out, 1, 0);
    if (!rc) rc = export_split(src, out, 0, (int)grid);
    return rc ? cli_fail(rc) : CLI_OK;
}
