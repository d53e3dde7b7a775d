/* SPDX-License-Identifier: MIT */
/* fuzz_csv.c — libFuzzer target for gm_csv_read (header row, quoted names, numeric cells, BOM, blank
 * lines, line endings), then column lookup and a write-back of whatever parsed. The reader used by
 * `genmix moe` and `genmix plot`. */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_file.h"
#include "genmix/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gm_csv t;
    if (gm_csv_read(fuzz_as_file(data, size), &t) == GM_OK) {
        for (size_t j = 0; j < t.ncols; j++)
            if (gm_csv_col(&t, t.colnames[j]) < 0) abort(); /* every parsed name must be found again */
        volatile double s = 0;
        for (size_t i = 0; i < t.nrows * t.ncols; i++) s += t.values[i];
        (void)s;
        gm_csv_free(&t);
    }
    return 0;
}
