/* SPDX-License-Identifier: MIT */
/* csv.c — numeric CSV tables with a header row (read and atomic write).
 *
 * Dialect read by gm_csv_read:
 *   - line 1 is the header: comma-separated column names; a name may be double-quoted ("a,b" or
 *     "say ""hi"""), and unquoted names are trimmed of surrounding spaces/tabs. Names must be unique.
 *     A UTF-8 byte-order mark before the header is skipped.
 *   - every following line holds exactly ncols cells; each cell (optionally quoted, surrounding
 *     spaces/tabs ignored) must parse completely with strtod: decimal or hex floats, and "nan", "inf",
 *     "infinity" in any case with an optional sign (so files written by gm_csv_write round-trip).
 *     Empty cells and trailing garbage ("1.5x") are GM_EFORMAT naming the 1-based line and the column.
 *   - lines end in LF or CRLF; empty (or whitespace-only) lines at the end are ignored, an empty line
 *     followed by more data is an error; quoted fields cannot span lines.
 * gm_csv_write writes "name,name\n" (names quoted only when needed) and %.17g values, which read back
 * bit-exactly; NaN is written "nan", infinities "inf"/"-inf".
 *
 * Owns: the gm_csv arrays (free with gm_csv_free). Thread safety: no shared state.
 */
#include "genmix/io.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading ---------------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    size_t line;       /* 1-based line number, for messages */
    char *cell;        /* scratch buffer holding the current field, NUL-terminated */
    size_t cell_cap;
} csv_ctx;

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int cell_reserve(csv_ctx *cx, size_t n) {
    if (n + 1 <= cx->cell_cap) return GM_OK;
    size_t cap = cx->cell_cap ? cx->cell_cap : 64;
    while (cap < n + 1) cap *= 2;
    char *p = gm_realloc(cx->cell, cap);
    if (!p) return gm_error_prefix(GM_ENOMEM, cx->path);
    cx->cell = p;
    cx->cell_cap = cap;
    return GM_OK;
}

/* Parse one field starting at *pos within line [0, len). On return cx->cell holds the field text
 * (quotes removed, "" unescaped, unquoted text trimmed), *pos is just past the separating comma or at
 * len, and *more says whether a comma followed (another field exists). */
static int next_field(csv_ctx *cx, const char *line, size_t len, size_t *pos, int *more) {
    size_t i = *pos;
    while (i < len && is_blank(line[i])) i++;
    size_t out = 0;
    if (i < len && line[i] == '"') {
        i++;
        for (;;) {
            if (i >= len) GM_FAIL(GM_EFORMAT, "%s:%zu: unterminated quoted field", cx->path, cx->line);
            char c = line[i++];
            if (c == '"') {
                if (i < len && line[i] == '"') i++; /* "" -> " */
                else break;
            }
            int rc = cell_reserve(cx, out + 1);
            if (rc) return rc;
            cx->cell[out++] = c;
        }
        while (i < len && is_blank(line[i])) i++;
        if (i < len && line[i] != ',')
            GM_FAIL(GM_EFORMAT, "%s:%zu: unexpected text after a closing quote", cx->path, cx->line);
    } else {
        size_t start = i;
        while (i < len && line[i] != ',') i++;
        size_t end = i;
        while (end > start && is_blank(line[end - 1])) end--;
        int rc = cell_reserve(cx, end - start);
        if (rc) return rc;
        memcpy(cx->cell, line + start, end - start);
        out = end - start;
    }
    int rc = cell_reserve(cx, out);
    if (rc) return rc;
    cx->cell[out] = '\0';
    *more = i < len; /* line[i] == ',' */
    *pos = *more ? i + 1 : len;
    /* an embedded NUL would silently shorten the field */
    if (memchr(cx->cell, '\0', out)) GM_FAIL(GM_EFORMAT, "%s:%zu: NUL byte in a field", cx->path, cx->line);
    return GM_OK;
}

static int line_is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!is_blank(s[i])) return 0;
    return 1;
}

/* Split the buffer into lines: returns the length of the line at `p` (excluding LF and a CR before it)
 * and sets *next to the start of the following line. */
static size_t take_line(const char *p, const char *end, const char **next) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    *next = nl ? nl + 1 : end;
    size_t n = (size_t)(stop - p);
    if (n > 0 && p[n - 1] == '\r') n--;
    return n;
}

static void csv_clear(gm_csv *t) {
    if (t->colnames)
        for (size_t j = 0; j < t->ncols; j++) gm_free(t->colnames[j]);
    gm_free(t->colnames);
    gm_free(t->values);
    memset(t, 0, sizeof *t);
}

int gm_csv_read(const char *path, gm_csv *out) {
    memset(out, 0, sizeof *out);
    void *data = NULL;
    size_t len = 0;
    int rc = gm_read_file(path, &data, &len);
    if (rc) return rc;
    const char *p = data, *end = p + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    csv_ctx cx = {path, 1, NULL, 0};
    gm_csv t;
    memset(&t, 0, sizeof t);

    /* header */
    const char *next;
    size_t n = take_line(p, end, &next);
    if (p >= end || line_is_blank(p, n)) {
        rc = gm_set_error(GM_EFORMAT, "%s:1: empty header row", path);
        goto fail;
    }
    size_t cap = 8;
    t.colnames = gm_calloc(cap, sizeof *t.colnames);
    if (!t.colnames) {
        rc = gm_error_prefix(GM_ENOMEM, path);
        goto fail;
    }
    size_t pos = 0;
    int more = 1;
    while (more) {
        rc = next_field(&cx, p, n, &pos, &more);
        if (rc) goto fail;
        for (size_t j = 0; j < t.ncols; j++)
            if (!strcmp(t.colnames[j], cx.cell)) {
                rc = gm_set_error(GM_EFORMAT, "%s:1: duplicate column name '%s'", path, cx.cell);
                goto fail;
            }
        if (t.ncols == cap) {
            char **nn = gm_realloc(t.colnames, 2 * cap * sizeof *nn);
            if (!nn) {
                rc = gm_error_prefix(GM_ENOMEM, path);
                goto fail;
            }
            t.colnames = nn;
            cap *= 2;
        }
        t.colnames[t.ncols] = gm_strdup(cx.cell);
        if (!t.colnames[t.ncols]) {
            rc = gm_error_prefix(GM_ENOMEM, path);
            goto fail;
        }
        t.ncols++;
    }

    /* count data lines up to the last non-blank one (blank lines at the end are ignored) */
    size_t nlines = 0, last_nonblank = 0;
    for (const char *q = next, *qn; q < end; q = qn) {
        size_t m = take_line(q, end, &qn);
        nlines++;
        if (!line_is_blank(q, m)) last_nonblank = nlines;
    }
    t.nrows = last_nonblank;
    if (t.nrows && t.ncols > (size_t)-1 / sizeof(double) / t.nrows) {
        rc = gm_set_error(GM_EFORMAT, "%s: table too large", path);
        goto fail;
    }
    t.values = gm_malloc(t.nrows * t.ncols * sizeof(double));
    if (!t.values) {
        rc = gm_error_prefix(GM_ENOMEM, path);
        goto fail;
    }
    p = next;
    for (size_t r = 0; r < t.nrows; r++, p = next) {
        cx.line = r + 2;
        n = take_line(p, end, &next);
        if (line_is_blank(p, n)) {
            rc = gm_set_error(GM_EFORMAT, "%s:%zu: empty line inside the table", path, cx.line);
            goto fail;
        }
        pos = 0;
        more = 1;
        size_t j = 0;
        for (; more; j++) {
            rc = next_field(&cx, p, n, &pos, &more);
            if (rc) goto fail;
            if (j >= t.ncols) continue; /* count the extra fields for the message */
            const char *name = t.colnames[j];
            if (!cx.cell[0]) {
                rc = gm_set_error(GM_EFORMAT, "%s:%zu: column '%s': empty cell", path, cx.line, name);
                goto fail;
            }
            char *e;
            errno = 0;
            double v = strtod(cx.cell, &e);
            if (e == cx.cell || *e) {
                rc = gm_set_error(GM_EFORMAT, "%s:%zu: column '%s': not a number: '%.40s'", path, cx.line, name,
                                  cx.cell);
                goto fail;
            }
            /* ERANGE: overflow gives +-HUGE_VAL (= inf) and underflow a tiny or zero value; both are
             * what strtod's nearest representable answer is, so accept them. */
            t.values[r * t.ncols + j] = v;
        }
        if (j != t.ncols) {
            rc = gm_set_error(GM_EFORMAT, "%s:%zu: %zu fields, but the header has %zu columns", path, cx.line, j,
                              t.ncols);
            goto fail;
        }
    }
    gm_free(cx.cell);
    gm_free(data);
    *out = t;
    return GM_OK;
fail:
    gm_free(cx.cell);
    gm_free(data);
    csv_clear(&t);
    return rc;
}

long gm_csv_col(const gm_csv *t, const char *name) {
    if (!t || !name) return -1;
    for (size_t j = 0; j < t->ncols; j++)
        if (!strcmp(t->colnames[j], name)) return (long)j;
    return -1;
}

void gm_csv_free(gm_csv *t) {
    if (!t) return;
    csv_clear(t);
}

/* ---- writing ---------------------------------------------------------------------------------- */

/* A name needs quotes if it is empty, has commas or quotes, or has surrounding blanks (which the
 * reader would trim). */
static int needs_quotes(const char *s) {
    size_t n = strlen(s);
    if (n == 0) return 1;
    if (is_blank(s[0]) || is_blank(s[n - 1])) return 1;
    return strpbrk(s, ",\"") != NULL;
}

static void write_name(FILE *f, const char *s) {
    if (!needs_quotes(s)) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int gm_csv_write(const char *path, size_t nrows, size_t ncols, const char *const *colnames, const double *values) {
    if (!path || !*path) GM_FAIL(GM_EINVAL, "csv: empty output path");
    if (ncols == 0 || !colnames) GM_FAIL(GM_EINVAL, "%s: csv: no columns", path);
    if (nrows && !values) GM_FAIL(GM_EINVAL, "%s: csv: NULL values for %zu rows", path, nrows);
    for (size_t j = 0; j < ncols; j++) {
        if (!colnames[j]) GM_FAIL(GM_EINVAL, "%s: csv: column %zu has no name", path, j);
        if (strpbrk(colnames[j], "\r\n")) GM_FAIL(GM_EINVAL, "%s: csv: column name %zu contains a line break", path, j);
        for (size_t k = 0; k < j; k++)
            if (!strcmp(colnames[j], colnames[k]))
                GM_FAIL(GM_EINVAL, "%s: csv: duplicate column name '%s'", path, colnames[j]);
    }
    gm_atomic_file af;
    int rc = gm_atomic_open(&af, path);
    if (rc) return rc;
    for (size_t j = 0; j < ncols; j++) {
        if (j) fputc(',', af.f);
        write_name(af.f, colnames[j]);
    }
    fputc('\n', af.f);
    for (size_t r = 0; r < nrows; r++) {
        for (size_t j = 0; j < ncols; j++) {
            double v = values[r * ncols + j];
            if (j) fputc(',', af.f);
            if (isnan(v)) fputs("nan", af.f);
            else if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", af.f);
            else fprintf(af.f, "%.17g", v);
        }
        fputc('\n', af.f);
    }
    return gm_atomic_commit(&af); /* reports any buffered write error and removes the temp file */
}
