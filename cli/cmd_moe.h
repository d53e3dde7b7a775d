/* SPDX-License-Identifier: MIT */
/* cmd_moe.h — what the `genmix moe` subcommand files share (not part of the library): the subcommands of
 * the dispatch table in cmd_moe.c and the small CSV/file helpers they all use. */
#ifndef GM_CMD_MOE_H
#define GM_CMD_MOE_H

#include "genmix/io.h"
#include "genmix/moe.h"

int moe_fit(int argc, char **argv);
int moe_select(int argc, char **argv);
int moe_predict(int argc, char **argv);
int moe_sample(int argc, char **argv);
int moe_simulate(int argc, char **argv);

/* gm_csv_read, refusing nan/inf cells with "FILE:LINE: column 'NAME': ..." (GM_EFORMAT). */
int moe_csv_load(const char *path, gm_csv *out);
/* X (n x d) = the model's feature columns of the table, by name; GM_EINVAL naming a missing column. */
int moe_features_from_csv(const gm_csv *tab, const char *csv, const char *model, char *const *features, size_t d,
                          double *X);
int moe_ends_with(const char *s, const char *suf);
/* cJSON_Print(root) + newline, written atomically to path (root is a cJSON *). */
int moe_write_json(const char *path, const void *root);

#endif
