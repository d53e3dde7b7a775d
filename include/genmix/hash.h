/* SPDX-License-Identifier: MIT */
/* genmix/hash.h — SHA-256 (FIPS 180-4) of buffers and files, for the provenance of inputs (eval JSON
 * `inputs[].sha256`, statistics-file metadata).
 *
 * Usage:
 *     char hex[65];
 *     gm_sha256_hex("abc", 3, hex);                        // "ba7816bf..."
 *     if (gm_sha256_file(path, hex) != GM_OK) puts(gm_last_error());
 *
 * Ownership: the caller owns `hex` (65 chars: 64 lowercase hex digits + NUL). Errors: GM_EIO (with the
 * errno text) when a file cannot be read, GM_ENOMEM. Thread safety: re-entrant (no state).
 */
#ifndef GM_HASH_H
#define GM_HASH_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SHA-256 as 64 lowercase hex digits + NUL. */
void gm_sha256_hex(const void *data, size_t len, char hex[65]);
/* SHA-256 of a file's bytes (GM_EIO if unreadable). */
int gm_sha256_file(const char *path, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif /* GM_HASH_H */
