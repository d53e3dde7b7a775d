/* SPDX-License-Identifier: MIT */
/* cmd_inspect.c — `genmix inspect FILE [--json]`: dtype, shape and summary statistics of every array in a
 * .npy, .npz, .safetensors or IDX file (the format is recognised from the first bytes, not the name),
 * plus the __metadata__ of a .safetensors file. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genmix/io.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix inspect FILE [--json]\n\n"
            "Print the dtype, shape and summary statistics (min, max, mean, population std over the finite\n"
            "values; NaN and Inf counts) of a .npy file, of every member of a .npz archive, of every tensor of\n"
            "a .safetensors file (and its __metadata__), or of an IDX file (raw or gzip). The format is\n"
            "recognised from the file's first bytes.\n\n"
            "options:\n"
            "  --json      one JSON object on stdout instead of text\n"
            "  -h, --help  this help\n");
}

static void shape_str(const gm_array *a, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < a->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)a->shape[i]);
    if (a->ndim == 1 && n < cap) n += (size_t)snprintf(buf + n, cap - n, ",");
    if (n < cap) snprintf(buf + n, cap - n, ")");
}

/* Print (or add to the JSON list) one array. */
static int report(const char *name, const gm_array *a, cJSON *list) {
    gm_array_stats s;
    gm_array_summary(a, &s);
    if (list) {
        cJSON *o = cJSON_CreateObject();
        cJSON *shape = cJSON_CreateArray();
        if (!o || !shape) {
            cJSON_Delete(o);
            cJSON_Delete(shape);
            return gm_set_error(GM_ENOMEM, "out of memory building JSON");
        }
        cJSON_AddItemToArray(list, o);
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "dtype", gm_dtype_name(a->dtype));
        for (int i = 0; i < a->ndim; i++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)a->shape[i]));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddNumberToObject(o, "count", (double)s.count);
        cJSON_AddNumberToObject(o, "min", s.min); /* NaN (no finite values) prints as null */
        cJSON_AddNumberToObject(o, "max", s.max);
        cJSON_AddNumberToObject(o, "mean", s.mean);
        cJSON_AddNumberToObject(o, "std", s.std);
        cJSON_AddNumberToObject(o, "nan", (double)s.n_nan);
        cJSON_AddNumberToObject(o, "inf", (double)s.n_inf);
        return GM_OK;
    }
    char sh[256];
    shape_str(a, sh, sizeof sh);
    printf("  %-24s %-5s %-16s min %.6g  max %.6g  mean %.6g  std %.6g  nan %zu  inf %zu\n", name,
           gm_dtype_name(a->dtype), sh, s.min, s.max, s.mean, s.std, s.n_nan, s.n_inf);
    return GM_OK;
}

/* A metadata value on one line: control characters and backslashes escaped C-style. */
static void print_escaped(const char *v) {
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else if (*p == '\\') fputs("\\\\", stdout);
        else if (*p < 0x20 || *p == 0x7f) printf("\\x%02x", *p);
        else putchar(*p);
    }
    putchar('\n');
}

typedef enum { FMT_UNKNOWN, FMT_NPY, FMT_NPZ, FMT_ST, FMT_IDX } file_format;

static int sniff(const char *path, file_format *fmt) {
    *fmt = FMT_UNKNOWN;
    FILE *f = gm_open_read(path, NULL); /* a directory or FIFO is named as such */
    if (!f) return GM_EIO;
    unsigned char b[12] = {0};
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n == 0) return gm_set_error(GM_EFORMAT, "%s: empty file (expected .npy, .npz, .safetensors or IDX)", path);
    if (n >= 6 && !memcmp(b, "\x93NUMPY", 6)) *fmt = FMT_NPY;
    else if (n >= 4 && b[0] == 'P' && b[1] == 'K' && ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6))) *fmt = FMT_NPZ;
    else if (n >= 9 && b[8] == '{') *fmt = FMT_ST;
    else if ((n >= 4 && b[0] == 0 && b[1] == 0 && b[2] >= 0x08 && b[2] <= 0x0e) || (n >= 2 && b[0] == 0x1f && b[1] == 0x8b))
        *fmt = FMT_IDX;
    if (*fmt == FMT_UNKNOWN)
        return gm_set_error(GM_EFORMAT, "%s: unrecognised format (expected .npy, .npz, .safetensors or IDX)", path);
    return GM_OK;
}

static int inspect(const char *path, int json) {
    file_format fmt;
    int rc = sniff(path, &fmt);
    if (rc) return rc;
    static const char *fmt_name[] = {"?", "npy", "npz", "safetensors", "idx"};
    cJSON *root = NULL, *list = NULL, *meta = NULL;
    if (json) {
        root = cJSON_CreateObject();
        if (!root) return gm_set_error(GM_ENOMEM, "out of memory building JSON");
        cJSON_AddStringToObject(root, "file", path);
        cJSON_AddStringToObject(root, "format", fmt_name[fmt]);
        list = cJSON_AddArrayToObject(root, "arrays");
    }
    gm_array a;
    memset(&a, 0, sizeof a);
    if (fmt == FMT_NPY || fmt == FMT_IDX) {
        rc = fmt == FMT_NPY ? gm_npy_mmap(path, &a) : gm_idx_read(path, &a);
        if (!rc) {
            if (!json) printf("%s: %s, 1 array\n", path, fmt_name[fmt]);
            rc = report(fmt == FMT_NPY ? "(array)" : "(idx)", &a, list);
            gm_array_free(&a);
        }
    } else if (fmt == FMT_NPZ) {
        char **names;
        size_t n;
        rc = gm_npz_list(path, &names, &n);
        if (!rc) {
            if (!json) printf("%s: npz, %zu member%s\n", path, n, n == 1 ? "" : "s");
            for (size_t i = 0; i < n && !rc; i++) {
                rc = gm_npz_read(path, names[i], &a);
                if (!rc) rc = report(names[i], &a, list);
                gm_array_free(&a);
            }
            gm_npz_names_free(names, n);
        }
    } else {
        gm_safetensors *st;
        rc = gm_safetensors_read(&st, path);
        if (!rc) {
            size_t n = gm_safetensors_count(st);
            if (!json) printf("%s: safetensors, %zu tensor%s\n", path, n, n == 1 ? "" : "s");
            for (size_t i = 0; i < n && !rc; i++) {
                rc = gm_safetensors_get(st, gm_safetensors_name(st, i), &a);
                if (!rc) rc = report(gm_safetensors_name(st, i), &a, list);
            }
            if (json) meta = cJSON_AddObjectToObject(root, "metadata");
            for (size_t k = 0; k < gm_safetensors_meta_count(st); k++) {
                const char *key = gm_safetensors_meta_key(st, k), *v = gm_safetensors_meta(st, key);
                if (json) cJSON_AddStringToObject(meta, key, v);
                else {
                    printf("  meta %s = ", key);
                    print_escaped(v);
                }
            }
            gm_safetensors_free(st);
        }
    }
    if (json && !rc) {
        char *s = cJSON_PrintUnformatted(root);
        if (!s) rc = gm_set_error(GM_ENOMEM, "out of memory printing JSON");
        else {
            puts(s);
            cJSON_free(s);
        }
    }
    cJSON_Delete(root);
    return rc;
}

int cmd_inspect(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_bad_option("inspect", argv, NULL);
        }
    }
    if (optind != argc - 1) return cli_usage_error("inspect", "expected exactly one FILE");
    int rc = inspect(argv[optind], json);
    return rc ? cli_fail(rc) : CLI_OK;
}
