/* SPDX-License-Identifier: MIT */
/* npz.c — .npz archives (ZIP of .npy members) as written by numpy.savez / savez_compressed.
 *
 * Reader: finds the end-of-central-directory record, walks the central directory (sizes, CRCs and
 * offsets come from there; NumPy's local headers carry a forced ZIP64 extra field, which is skipped),
 * extracts stored (method 0) or deflated (method 8, raw inflate via zlib) members, checks their CRC-32,
 * and parses them with gm_npy_parse. ZIP64 archives (more than 65535 members or 4 GiB, as NumPy writes
 * them) are read through the ZIP64 end-of-central-directory record and the 0x0001 extra fields; encrypted
 * members, multi-disk archives and other compression methods are refused with a clear message.
 * Writer: uncompressed members "name.npy" (v1.0 .npy bytes identical to numpy.save), fixed DOS timestamp
 * 1980-01-01 00:00 so the output is reproducible, atomic temp-file + rename.
 * Owns: the arrays and name lists it returns. Thread safety: no shared state. */
#include <errno.h>
#include <stdio.h>
#include <zlib.h>

#include "io_internal.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64_LOC 0x07064b50u
#define SIG_EOCD64 0x06064b50u

typedef struct {
    const uint8_t *name; /* not NUL-terminated */
    size_t name_len;
    unsigned method, flags;
    uint32_t crc;
    size_t csize, usize, local_off;
} zip_entry;

/* Replace the 0xffffffff fields of a central-directory entry by the 64-bit values of its ZIP64 extra
 * field (id 0x0001: uncompressed size, compressed size, local header offset — only those that overflow,
 * in that order). ex points at the entry's extra fields (exlen bytes). */
static int zip64_extra(zip_entry *ze, const uint8_t *ex, size_t exlen) {
    int need_u = ze->usize == 0xffffffffu, need_c = ze->csize == 0xffffffffu, need_o = ze->local_off == 0xffffffffu;
    size_t p = 0;
    while (exlen - p >= 4) {
        unsigned id = gm__rd16le(ex + p), sz = gm__rd16le(ex + p + 2);
        if (exlen - p - 4 < sz) return -1;
        if (id == 0x0001) {
            const uint8_t *d = ex + p + 4;
            size_t q = 0;
            if (need_u) {
                if (sz - q < 8) return -1;
                ze->usize = (size_t)gm__rd64le(d + q);
                q += 8;
                need_u = 0;
            }
            if (need_c) {
                if (sz - q < 8) return -1;
                ze->csize = (size_t)gm__rd64le(d + q);
                q += 8;
                need_c = 0;
            }
            if (need_o) {
                if (sz - q < 8) return -1;
                ze->local_off = (size_t)gm__rd64le(d + q);
                need_o = 0;
            }
            break;
        }
        p += 4 + (size_t)sz;
    }
    return need_u || need_c || need_o ? -1 : 0;
}

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t n;
    zip_entry *e;
} zip_dir;

/* Parse the central directory of buf[0..len). */
static int zip_open(zip_dir *z, const uint8_t *buf, size_t len, const char *label) {
    memset(z, 0, sizeof *z);
    z->buf = buf;
    z->len = len;
    if (len < 22) {
        if (len >= 4 && gm__rd32le(buf) == SIG_LOCAL)
            GM_FAIL(GM_EFORMAT, "%s: truncated zip archive (no end of central directory)", label);
        GM_FAIL(GM_EFORMAT, "%s: not a zip/.npz archive", label);
    }
    /* EOCD: 22 bytes + up to 65535 bytes of comment, scanning backwards */
    size_t eocd = SIZE_MAX;
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lo;)
        if (gm__rd32le(buf + i) == SIG_EOCD && i + 22 + gm__rd16le(buf + i + 20) == len) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX) {
        if (gm__rd32le(buf) == SIG_LOCAL)
            GM_FAIL(GM_EFORMAT, "%s: truncated or corrupt zip archive (no end of central directory)", label);
        GM_FAIL(GM_EFORMAT, "%s: not a zip/.npz archive", label);
    }
    const uint8_t *e = buf + eocd;
    unsigned disk = gm__rd16le(e + 4), cd_disk = gm__rd16le(e + 6);
    size_t n_here = gm__rd16le(e + 8), n_total = gm__rd16le(e + 10);
    size_t cd_size = gm__rd32le(e + 12), cd_off = gm__rd32le(e + 16);
    if (eocd >= 20 && gm__rd32le(buf + eocd - 20) == SIG_EOCD64_LOC) {
        /* ZIP64: locator (sig, disk, offset of the ZIP64 EOCD record, disks), then the record's 64-bit counts */
        const uint8_t *loc = buf + eocd - 20;
        uint64_t off64 = gm__rd64le(loc + 8);
        if (gm__rd32le(loc + 4) != 0 || gm__rd32le(loc + 16) > 1)
            GM_FAIL(GM_EFORMAT, "%s: multi-disk zip archives are not supported", label);
        if (off64 > eocd - 20 || eocd - 20 - off64 < 56 || gm__rd32le(buf + off64) != SIG_EOCD64)
            GM_FAIL(GM_EFORMAT, "%s: corrupt ZIP64 end of central directory (offset %llu)", label,
                    (unsigned long long)off64);
        const uint8_t *e64 = buf + off64;
        uint64_t h = gm__rd64le(e64 + 24), t = gm__rd64le(e64 + 32), cs = gm__rd64le(e64 + 40), co = gm__rd64le(e64 + 48);
        disk = gm__rd32le(e64 + 16) != 0;
        cd_disk = gm__rd32le(e64 + 20) != 0;
        if (cs > len || co > len || t > len / 46 + 1)
            GM_FAIL(GM_EFORMAT, "%s: ZIP64 central directory (offset %llu, %llu bytes, %llu entries) lies outside the archive",
                    label, (unsigned long long)co, (unsigned long long)cs, (unsigned long long)t);
        n_here = (size_t)h;
        n_total = (size_t)t;
        cd_size = (size_t)cs;
        cd_off = (size_t)co;
        eocd = (size_t)off64; /* the central directory ends before the ZIP64 record */
    } else if (n_total == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        GM_FAIL(GM_EFORMAT, "%s: ZIP64 fields without a ZIP64 end-of-central-directory locator", label);
    }
    if (disk != 0 || cd_disk != 0 || n_here != n_total) GM_FAIL(GM_EFORMAT, "%s: multi-disk zip archives are not supported", label);
    if (cd_off > eocd || cd_size > eocd - cd_off)
        GM_FAIL(GM_EFORMAT, "%s: central directory (offset %zu, %zu bytes) lies outside the archive", label, cd_off, cd_size);
    z->e = gm_calloc(n_total ? n_total : 1, sizeof *z->e);
    if (!z->e) return gm_error_prefix(GM_ENOMEM, label);
    size_t p = cd_off, end = cd_off + cd_size;
    for (size_t k = 0; k < n_total; k++) {
        if (end - p < 46 || gm__rd32le(buf + p) != SIG_CENTRAL) {
            gm_free(z->e);
            z->e = NULL;
            GM_FAIL(GM_EFORMAT, "%s: corrupt central directory entry %zu", label, k);
        }
        const uint8_t *c = buf + p;
        zip_entry *ze = &z->e[k];
        ze->flags = gm__rd16le(c + 8);
        ze->method = gm__rd16le(c + 10);
        ze->crc = gm__rd32le(c + 16);
        ze->csize = gm__rd32le(c + 20);
        ze->usize = gm__rd32le(c + 24);
        size_t fn = gm__rd16le(c + 28), ex = gm__rd16le(c + 30), cm = gm__rd16le(c + 32);
        ze->local_off = gm__rd32le(c + 42);
        if (end - p - 46 < fn + ex + cm) {
            gm_free(z->e);
            z->e = NULL;
            GM_FAIL(GM_EFORMAT, "%s: corrupt central directory entry %zu (name past its end)", label, k);
        }
        ze->name = c + 46;
        ze->name_len = fn;
        if ((ze->csize == 0xffffffffu || ze->usize == 0xffffffffu || ze->local_off == 0xffffffffu) &&
            zip64_extra(ze, c + 46 + fn, ex) != 0) {
            gm_free(z->e);
            z->e = NULL;
            GM_FAIL(GM_EFORMAT, "%s: member %zu: missing or corrupt ZIP64 extra field", label, k);
        }
        p += 46 + fn + ex + cm;
    }
    z->n = n_total;
    return GM_OK;
}

static void zip_close(zip_dir *z) {
    gm_free(z->e);
    z->e = NULL;
}

static int name_is(const zip_entry *e, const char *s, size_t n) { return e->name_len == n && !memcmp(e->name, s, n); }

/* Extract member e into a gm_malloc'd buffer of e->usize bytes, CRC checked. */
static int zip_extract(const zip_dir *z, const zip_entry *e, const char *label, uint8_t **out) {
    *out = NULL;
    char mname[256];
    snprintf(mname, sizeof mname, "%.*s", (int)(e->name_len > 200 ? 200 : e->name_len), (const char *)e->name);
    if (e->flags & 1) GM_FAIL(GM_EFORMAT, "%s: member '%s' is encrypted", label, mname);
    if (e->method != 0 && e->method != 8)
        GM_FAIL(GM_EFORMAT, "%s: member '%s' uses compression method %u (only stored and deflate are supported)", label,
                mname, e->method);
    size_t lo = e->local_off;
    if (lo > z->len || z->len - lo < 30 || gm__rd32le(z->buf + lo) != SIG_LOCAL)
        GM_FAIL(GM_EFORMAT, "%s: member '%s': bad local header at offset %zu", label, mname, lo);
    size_t fn = gm__rd16le(z->buf + lo + 26), ex = gm__rd16le(z->buf + lo + 28);
    size_t start = lo + 30 + fn + ex;
    if (start > z->len || z->len - start < e->csize)
        GM_FAIL(GM_EFORMAT, "%s: member '%s': %zu compressed bytes run past the end of the archive", label, mname, e->csize);
    if (e->method == 0 && e->csize != e->usize)
        GM_FAIL(GM_EFORMAT, "%s: member '%s': stored sizes differ (%zu vs %zu)", label, mname, e->csize, e->usize);
    /* deflate expands at most ~1032:1: refuse impossible sizes before allocating them */
    if (e->method == 8 && e->usize / 1032 > e->csize + 1)
        GM_FAIL(GM_EFORMAT, "%s: member '%s': %zu bytes cannot inflate from %zu compressed bytes", label, mname, e->usize,
                e->csize);
    uint8_t *dst = gm_malloc(e->usize ? e->usize : 1);
    if (!dst) return gm_error_prefix(GM_ENOMEM, label);
    const uint8_t *src = z->buf + start;
    if (e->method == 0) {
        if (e->usize) memcpy(dst, src, e->usize);
    } else {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
            gm_free(dst);
            GM_FAIL(GM_ENOMEM, "%s: zlib inflateInit2 failed", label);
        }
        size_t in_pos = 0, out_pos = 0;
        int zr = Z_OK;
        while (zr == Z_OK) {
            size_t ic = e->csize - in_pos > UINT_MAX ? UINT_MAX : e->csize - in_pos;
            size_t oc = e->usize - out_pos > UINT_MAX ? UINT_MAX : e->usize - out_pos;
            zs.next_in = (Bytef *)(src + in_pos);
            zs.avail_in = (uInt)ic;
            zs.next_out = dst + out_pos;
            zs.avail_out = (uInt)oc;
            zr = inflate(&zs, Z_NO_FLUSH);
            size_t used = ic - zs.avail_in, made = oc - zs.avail_out;
            in_pos += used;
            out_pos += made;
            if (zr == Z_OK && used == 0 && made == 0) zr = Z_BUF_ERROR;
        }
        inflateEnd(&zs);
        if (zr != Z_STREAM_END || out_pos != e->usize) {
            gm_free(dst);
            if (zr == Z_MEM_ERROR) GM_FAIL(GM_ENOMEM, "%s: out of memory inflating member '%s'", label, mname);
            GM_FAIL(GM_EFORMAT, "%s: member '%s': corrupt deflate data (%s)", label, mname,
                    zr == Z_STREAM_END ? "size mismatch" : zr == Z_BUF_ERROR ? "truncated or too long" : "invalid stream");
        }
    }
    uint32_t crc = 0;
    size_t done = 0;
    while (done < e->usize) {
        size_t c = e->usize - done > UINT_MAX ? UINT_MAX : e->usize - done;
        crc = (uint32_t)crc32(crc, dst + done, (uInt)c);
        done += c;
    }
    if (crc != e->crc) {
        gm_free(dst);
        GM_FAIL(GM_EFORMAT, "%s: member '%s': CRC-32 mismatch (archive says %08x, data gives %08x)", label, mname,
                (unsigned)e->crc, (unsigned)crc);
    }
    *out = dst;
    return GM_OK;
}

/* ==== public API =============================================================================== */

int gm_npz_parse(const void *buf, size_t len, const char *label, const char *name, gm_array *out) {
    GM_ASSERT(out != NULL && (buf != NULL || len == 0));
    memset(out, 0, sizeof *out);
    label = GM__LABEL(label);
    zip_dir z;
    int rc = zip_open(&z, buf, len, label);
    if (rc) return rc;
    const zip_entry *e = NULL;
    if (!name) {
        if (z.n) e = &z.e[0];
    } else {
        size_t nl = strlen(name);
        for (size_t i = 0; i < z.n && !e; i++) {
            const zip_entry *c = &z.e[i];
            if ((c->name_len == nl + 4 && !memcmp(c->name, name, nl) && !memcmp(c->name + nl, ".npy", 4)) ||
                name_is(c, name, nl))
                e = c;
        }
    }
    if (!e) {
        zip_close(&z);
        if (!name) GM_FAIL(GM_EFORMAT, "%s: archive has no members", label);
        GM_FAIL(GM_EFORMAT, "%s: no member '%s'", label, name);
    }
    uint8_t *m;
    rc = zip_extract(&z, e, label, &m);
    if (rc == GM_OK) {
        char mlabel[512];
        snprintf(mlabel, sizeof mlabel, "%s:%.*s", label, (int)(e->name_len > 200 ? 200 : e->name_len),
                 (const char *)e->name);
        rc = gm_npy_parse(m, e->usize, mlabel, out);
        gm_free(m);
    }
    zip_close(&z);
    return rc;
}

int gm_npz_read(const char *path, const char *name, gm_array *out) {
    GM_ASSERT(path != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    void *buf;
    size_t len;
    int rc = gm_read_file(path, &buf, &len);
    if (rc) return rc;
    rc = gm_npz_parse(buf, len, path, name, out);
    gm_free(buf);
    return rc;
}

void gm_npz_names_free(char **names, size_t count) {
    if (!names) return;
    for (size_t i = 0; i < count; i++) gm_free(names[i]);
    gm_free(names);
}

int gm_npz_list(const char *path, char ***names, size_t *count) {
    GM_ASSERT(path != NULL && names != NULL && count != NULL);
    *names = NULL;
    *count = 0;
    void *buf;
    size_t len;
    int rc = gm_read_file(path, &buf, &len);
    if (rc) return rc;
    zip_dir z;
    rc = zip_open(&z, buf, len, path);
    if (rc) {
        gm_free(buf);
        return rc;
    }
    char **v = gm_calloc(z.n ? z.n : 1, sizeof *v);
    if (!v) rc = gm_error_prefix(GM_ENOMEM, path);
    for (size_t i = 0; !rc && i < z.n; i++) {
        size_t nl = z.e[i].name_len;
        if (nl >= 4 && !memcmp(z.e[i].name + nl - 4, ".npy", 4)) nl -= 4;
        v[i] = gm_malloc(nl + 1);
        if (!v[i]) {
            rc = gm_error_prefix(GM_ENOMEM, path);
            break;
        }
        memcpy(v[i], z.e[i].name, nl);
        v[i][nl] = 0;
    }
    size_t n = z.n;
    zip_close(&z);
    gm_free(buf);
    if (rc) {
        gm_npz_names_free(v, n);
        return rc;
    }
    *names = v;
    *count = n;
    return GM_OK;
}

/* ==== writer ================================================================================== */

static void put16(FILE *f, unsigned v) {
    uint8_t b[2];
    gm__wr16le(b, (uint16_t)v);
    fwrite(b, 1, 2, f);
}
static void put32(FILE *f, uint32_t v) {
    uint8_t b[4];
    gm__wr32le(b, v);
    fwrite(b, 1, 4, f);
}

#define DOS_DATE 0x0021 /* 1980-01-01 */

int gm_npz_write(const char *path, size_t n, const char *const *names, const gm_array *arrays) {
    GM_ASSERT(path != NULL && (n == 0 || (names != NULL && arrays != NULL)));
    if (n > 0xfffe) GM_FAIL(GM_EINVAL, "%s: %zu members need ZIP64 (not supported)", path, n);
    char hdr[1024];
    uint32_t *crc = gm_calloc(n ? n : 1, sizeof *crc);
    size_t *size = gm_calloc(n ? n : 1, sizeof *size), *off = gm_calloc(n ? n : 1, sizeof *off);
    int *hl = gm_calloc(n ? n : 1, sizeof *hl);
    int rc = GM_OK;
    if (!crc || !size || !off || !hl) {
        rc = GM_ENOMEM;
        goto done;
    }
    /* sizes, offsets and CRCs first (the local header precedes the data) */
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const gm_array *a = &arrays[i];
        size_t nl = strlen(names[i]);
        if (nl == 0 || nl > 1000) {
            rc = gm_set_error(GM_EINVAL, "%s: bad member name '%s'", path, names[i]);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                rc = gm_set_error(GM_EINVAL, "%s: duplicate member name '%s'", path, names[i]);
                goto done;
            }
        hl[i] = gm__npy_header(hdr, sizeof hdr, a->dtype, a->ndim, a->shape);
        if (hl[i] < 0) {
            rc = gm_set_error(GM_EINVAL, "%s: member '%s': dtype %s or rank %d cannot be written", path, names[i],
                              gm_dtype_name(a->dtype), a->ndim);
            goto done;
        }
        size_t nb;
        if (gm__shape_nbytes(a->ndim, a->shape, gm_dtype_size(a->dtype), NULL, &nb) || nb != a->nbytes) {
            rc = gm_set_error(GM_EINVAL, "%s: member '%s': nbytes does not match dtype and shape", path, names[i]);
            goto done;
        }
        size[i] = (size_t)hl[i] + nb;
        crc[i] = (uint32_t)crc32(0, (const Bytef *)hdr, (uInt)hl[i]);
        for (size_t d = 0; d < nb;) {
            size_t c = nb - d > UINT_MAX ? UINT_MAX : nb - d;
            crc[i] = (uint32_t)crc32(crc[i], (const Bytef *)a->data + d, (uInt)c);
            d += c;
        }
        off[i] = pos;
        pos += 30 + nl + 4 + size[i];
        if (size[i] >= 0xffffffffu || pos >= 0xffffffffu) {
            rc = gm_set_error(GM_EINVAL, "%s: archive larger than 4 GiB needs ZIP64 (not supported)", path);
            goto done;
        }
    }
    gm_atomic_file af;
    rc = gm_atomic_open(&af, path);
    if (rc) goto done;
    FILE *f = af.f;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        put32(f, SIG_LOCAL);
        put16(f, 20);
        put16(f, 0);
        put16(f, 0); /* stored */
        put16(f, 0);
        put16(f, DOS_DATE);
        put32(f, crc[i]);
        put32(f, (uint32_t)size[i]);
        put32(f, (uint32_t)size[i]);
        put16(f, (unsigned)(nl + 4));
        put16(f, 0);
        fwrite(names[i], 1, nl, f);
        fwrite(".npy", 1, 4, f);
        int h = gm__npy_header(hdr, sizeof hdr, arrays[i].dtype, arrays[i].ndim, arrays[i].shape);
        fwrite(hdr, 1, (size_t)h, f);
        if (arrays[i].nbytes) fwrite(arrays[i].data, 1, arrays[i].nbytes, f);
    }
    size_t cd_start = pos;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        put32(f, SIG_CENTRAL);
        put16(f, 20);
        put16(f, 20);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0);
        put16(f, DOS_DATE);
        put32(f, crc[i]);
        put32(f, (uint32_t)size[i]);
        put32(f, (uint32_t)size[i]);
        put16(f, (unsigned)(nl + 4));
        put16(f, 0);
        put16(f, 0);
        put16(f, 0);
        put16(f, 0);
        put32(f, 0x81a40000u); /* external attributes: regular file, mode 0644 */
        put32(f, (uint32_t)off[i]);
        fwrite(names[i], 1, nl, f);
        fwrite(".npy", 1, 4, f);
        pos += 46 + nl + 4;
    }
    if (pos >= 0xffffffffu) {
        gm_atomic_abort(&af);
        rc = gm_set_error(GM_EINVAL, "%s: archive larger than 4 GiB needs ZIP64 (not supported)", path);
        goto done;
    }
    put32(f, SIG_EOCD);
    put16(f, 0);
    put16(f, 0);
    put16(f, (unsigned)n);
    put16(f, (unsigned)n);
    put32(f, (uint32_t)(pos - cd_start));
    put32(f, (uint32_t)cd_start);
    put16(f, 0);
    if (ferror(f)) {
        int e = errno;
        gm_atomic_abort(&af);
        rc = gm_set_error(GM_EIO, "%s: write failed: %s", path, strerror(e));
        goto done;
    }
    rc = gm_atomic_commit(&af);
done:
    gm_free(crc);
    gm_free(size);
    gm_free(off);
    gm_free(hl);
    return rc;
}
