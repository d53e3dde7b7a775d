/* SPDX-License-Identifier: MIT */
/* png.c — 8-bit PNG writing (plain pixels and image grids) and reading, over libpng.
 *
 * Owns nothing between calls. Every writer goes through gm_atomic_open/commit, so the destination is
 * either the old file or the complete new one. libpng reports errors by longjmp; each entry point sets
 * up its own jump buffer, keeps every resource it may have to release in `volatile` locals, and turns a
 * libpng error into one line "path: png: <libpng message>" (GM_EIO on write, GM_EFORMAT on read).
 * Warnings are ignored (they never affect the pixels we write or accept).
 * Thread safety: no shared state.
 */
#include "genmix/io.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>

/* ---- libpng error plumbing -------------------------------------------------------------------- */

/* The libpng message of the failure being unwound on this thread. Thread-local rather than a local
 * of the caller, because a local modified between setjmp and longjmp would be indeterminate. */
static _Thread_local char png_msg[200];

static void on_png_error(png_structp png, png_const_charp msg) {
    snprintf(png_msg, sizeof png_msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* ---- writing ---------------------------------------------------------------------------------- */

/* Encode `pixels` (height rows of width*channels bytes) to the open stream `f`. Returns GM_OK or
 * GM_EIO with the libpng message (the caller prefixes nothing: the message already names `path`). */
static int png_encode(FILE *f, const char *path, const uint8_t *pixels, int width, int height, int channels) {
    png_msg[0] = '\0';
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_png_error, on_png_warning);
    if (!png) GM_FAIL(GM_ENOMEM, "%s: png: cannot create the libpng writer", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        GM_FAIL(GM_ENOMEM, "%s: png: cannot create the libpng info struct", path);
    }
    /* Nothing below the setjmp is modified after it except through libpng, so no volatile is needed. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        GM_FAIL(GM_EIO, "%s: png: %s", path, png_msg);
    }
    int color = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Deterministic output: no time chunk, fixed compression settings. */
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return GM_OK;
}

/* Largest width/height we accept (libpng's own default limit is 1,000,000; keep buffers sane). */
#define GM_PNG_MAX_DIM 100000
/* Largest decoded image gm_png_read accepts (bytes). */
#define GM_PNG_MAX_BYTES ((size_t)1 << 30)

int gm_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels) {
    if (!path || !*path) GM_FAIL(GM_EINVAL, "png: empty output path");
    if (!pixels) GM_FAIL(GM_EINVAL, "%s: png: NULL pixel buffer", path);
    if (width <= 0 || height <= 0 || width > GM_PNG_MAX_DIM || height > GM_PNG_MAX_DIM)
        GM_FAIL(GM_EINVAL, "%s: png: bad size %d x %d (1..%d)", path, width, height, GM_PNG_MAX_DIM);
    if (channels != 1 && channels != 3 && channels != 4)
        GM_FAIL(GM_EINVAL, "%s: png: channels must be 1, 3 or 4 (got %d)", path, channels);
    gm_atomic_file af;
    int rc = gm_atomic_open(&af, path);
    if (rc) return rc;
    rc = png_encode(af.f, path, pixels, width, height, channels);
    if (rc) {
        gm_atomic_abort(&af);
        return rc;
    }
    return gm_atomic_commit(&af);
}

/* [0,1] float -> byte, NaN -> 0, round half up. */
static uint8_t unit_to_byte(float v) {
    if (!(v > 0.0f)) return 0; /* also NaN */
    if (v >= 1.0f) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

int gm_png_write_grid(const char *path, const float *images, size_t n, int channels, int height, int width,
                      int ncols, int pad) {
    if (!path || !*path) GM_FAIL(GM_EINVAL, "png grid: empty output path");
    if (!images) GM_FAIL(GM_EINVAL, "%s: png grid: NULL image buffer", path);
    if (n == 0) GM_FAIL(GM_EINVAL, "%s: png grid: no images", path);
    if (channels != 1 && channels != 3)
        GM_FAIL(GM_EINVAL, "%s: png grid: channels must be 1 or 3 (got %d)", path, channels);
    if (width <= 0 || height <= 0 || width > GM_PNG_MAX_DIM || height > GM_PNG_MAX_DIM)
        GM_FAIL(GM_EINVAL, "%s: png grid: bad image size %d x %d", path, width, height);
    if (pad < 0 || pad > 1000) GM_FAIL(GM_EINVAL, "%s: png grid: bad pad %d (0..1000)", path, pad);
    if (n > (size_t)GM_PNG_MAX_DIM * GM_PNG_MAX_DIM) GM_FAIL(GM_EINVAL, "%s: png grid: too many images", path);
    size_t cols;
    if (ncols <= 0) { /* automatic: the smallest c with c*c >= n */
        cols = 1;
        while (cols * cols < n) cols++;
    } else {
        cols = (size_t)ncols < n ? (size_t)ncols : n;
    }
    size_t rows = (n + cols - 1) / cols;
    size_t W = (size_t)width, H = (size_t)height, P = (size_t)pad;
    size_t outw = cols * (W + P) + P, outh = rows * (H + P) + P;
    if (outw > GM_PNG_MAX_DIM || outh > GM_PNG_MAX_DIM)
        GM_FAIL(GM_EINVAL, "%s: png grid: %zu x %zu pixels is too large", path, outw, outh);
    size_t C = (size_t)channels;
    uint8_t *buf = gm_malloc(outw * outh * C);
    if (!buf) return gm_error_prefix(GM_ENOMEM, path);
    memset(buf, 128, outw * outh * C); /* mid-gray border and empty cells */
    for (size_t k = 0; k < n; k++) {
        const float *img = images + k * C * H * W; /* (C, H, W) planar */
        size_t x0 = P + (k % cols) * (W + P), y0 = P + (k / cols) * (H + P);
        for (size_t y = 0; y < H; y++) {
            uint8_t *row = buf + ((y0 + y) * outw + x0) * C;
            for (size_t x = 0; x < W; x++)
                for (size_t c = 0; c < C; c++) row[x * C + c] = unit_to_byte(img[(c * H + y) * W + x]);
        }
    }
    int rc = gm_png_write(path, buf, (int)outw, (int)outh, channels);
    gm_free(buf);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------------- */

int gm_png_read(const char *path, uint8_t **pixels, int *width, int *height, int *channels) {
    *pixels = NULL;
    *width = *height = *channels = 0;
    FILE *f = gm_open_read(path, NULL);
    if (!f) return GM_EIO;
    uint8_t sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        GM_FAIL(GM_EFORMAT, "%s: not a PNG file", path);
    }
    png_msg[0] = '\0';
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, on_png_error, on_png_warning);
    if (!png) {
        fclose(f);
        GM_FAIL(GM_ENOMEM, "%s: png: cannot create the libpng reader", path);
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        fclose(f);
        GM_FAIL(GM_ENOMEM, "%s: png: cannot create the libpng info struct", path);
    }
    /* `buf` is assigned after setjmp and read in the error branch: it must be volatile. */
    uint8_t *volatile buf = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        gm_free(buf);
        GM_FAIL(GM_EFORMAT, "%s: png: %s", path, png_msg);
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, GM_PNG_MAX_DIM, GM_PNG_MAX_DIM);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    /* Normalise to 8-bit gray / RGB / RGBA: palettes and low bit depths expand, 16-bit strips,
     * transparency chunks become alpha, gray+alpha becomes RGBA. */
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    int trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    if (trns) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_GRAY_ALPHA || (color == PNG_COLOR_TYPE_GRAY && trns)) png_set_gray_to_rgb(png);
    if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    if (ch != 1 && ch != 3 && ch != 4) png_error(png, "unsupported pixel layout after transforms");
    if ((double)w * (double)h * ch > (double)GM_PNG_MAX_BYTES) png_error(png, "image too large to load");
    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)w * (size_t)ch) png_error(png, "unexpected row size");
    buf = gm_malloc(stride * (size_t)h);
    if (!buf) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return gm_error_prefix(GM_ENOMEM, path);
    }
    int passes = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE ? 7 : 1;
    for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < h; y++) png_read_row(png, buf + (size_t)y * stride, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    *pixels = buf;
    *width = (int)w;
    *height = (int)h;
    *channels = ch;
    return GM_OK;
}
