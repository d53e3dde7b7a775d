/* SPDX-License-Identifier: MIT */
/* cli.h — shared declarations of the genmix command-line tool (not part of the library).
 * Each subcommand lives in cli/cmd_<name>.c as `int cmd_<name>(int argc, char **argv)`: argv[0] is the
 * subcommand name, parse with getopt_long, call the library, return an exit code:
 * 0 ok, 1 run-time error (print with cli_error), 2 usage error, 3 numerical failure. */
#ifndef GM_CLI_H
#define GM_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "genmix/base.h"
#include "genmix/prdiv.h" /* gm_gan_status (cli_gan_progress) */

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2, CLI_NUMERIC = 3 };

/* Global flags parsed by main before dispatch. */
extern int cli_quiet;   /* --quiet: no progress on stderr */
extern int cli_threads; /* --threads N (0 = default) */

/* Print "genmix: error: <gm_last_error() or msg>" and return the exit code for status rc
 * (1, or 3 for GM_ENUMERIC). */
int cli_fail(int rc);
/* Print "genmix <cmd>: <printf message>" to stderr and return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Progress line on stderr unless --quiet. */
void cli_progress(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Parse helpers: return 0 on success, -1 on a malformed number. */
int cli_parse_long(const char *s, long *out);
int cli_parse_u64(const char *s, unsigned long long *out);
int cli_parse_double(const char *s, double *out);
/* Checks before work (cli_paths.c): print "genmix CMD: OPT: reason" and return CLI_ERR (exit 1), or
 * CLI_OK (also for a NULL path, i.e. an option not given).
 *   cli_check_output      a file genmix will write: the library's output rule (gm_output_check):
 *                         "-" = stdout, symlinks followed, FIFOs/devices written directly, a directory
 *                         or a missing parent folder refused;
 *   cli_check_output_dir  a folder genmix will write into: an existing writable folder, or creatable
 *                         (missing folders named by such options are created with their parents);
 *   cli_check_input       a file genmix will read: an existing regular file (a FIFO is refused). */
int cli_check_output(const char *cmd, const char *opt, const char *path);
int cli_check_output_dir(const char *cmd, const char *opt, const char *path);
int cli_check_input(const char *cmd, const char *opt, const char *path);
/* One file option of a command: the option as typed ("--json") and its value (NULL: not given). */
typedef struct {
    const char *opt, *path;
} cli_file;
/* An output that is the same file as an input would replace the input (data loss): for each output in outs
 * and input in ins (both lists end with an entry whose opt is NULL; NULL paths and "-" are skipped), refuse
 * a pair naming one existing file (same st_dev and st_ino after following symlinks: also catches "./x",
 * hard links and a symlink to the input) with the one line "genmix CMD: OUT_OPT 'P' is the same file as
 * the input IN_OPT 'Q' (it would be overwritten)" and return CLI_USAGE (exit 2), else CLI_OK. Call it
 * before any work, next to cli_check_output. */
int cli_check_not_input(const char *cmd, const cli_file *outs, const cli_file *ins);
/* Two outputs of one command naming the same file: the second would silently replace the first. Refuse a
 * pair in outs (NULL paths and "-" skipped; existing special files such as /dev/null are never a pair; a file
 * not yet there matches by folder and last name) with the one line "genmix CMD: OPT1 'P' and OPT2 'Q' name
 * the same file (...)" and return CLI_USAGE (exit 2). cli_check_not_input runs it on its outs first, so a
 * command calls it directly only where its outputs are not already listed there. */
int cli_check_distinct_outputs(const char *cmd, const cli_file *outs);
/* A command writing the files names[] (NULL-terminated) into folder dir (option opt; NULL dir: skipped): an
 * input that is one of DIR/NAME would be replaced. cli_check_not_input for each DIR/NAME (message names opt
 * with the full path and the input option), CLI_USAGE on a hit. */
int cli_check_not_in_dir(const char *cmd, const char *opt, const char *dir, const char *const *names, const cli_file *ins);
/* An integer option in lo..hi (a number in [lo, hi], or (lo, hi] with open_lo): on a bad value print
 * "genmix CMD: OPT takes an integer in LO..HI (got 'S')" and return CLI_USAGE (exit 2), else CLI_OK. */
int cli_parse_range(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
/* A count option (name opt without "--") in lo..1e8 into *out, else "genmix CMD: --OPT: 'S' is not a valid
 * count" and CLI_USAGE. */
int cli_parse_count(const char *cmd, const char *opt, const char *s, long lo, long *out);
int cli_parse_drange(const char *cmd, const char *opt, const char *s, double lo, double hi, int open_lo, double *out);
/* The usage error for getopt_long's '?' (main.c sets opterr = 0, so getopt prints nothing itself): one line
 * naming the option as typed, "unknown option '--x'", "option '--x' needs a value" or "option '--x' takes
 * no value", then hint (may be NULL) in parentheses; returns CLI_USAGE. Call it right after getopt_long
 * returned '?' (it reads optind and optopt). */
int cli_bad_option(const char *cmd, char *const *argv, const char *hint);
/* "genmix CMD: warning: ..." on stderr, always (--quiet silences progress, never warnings). */
void cli_warn(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* mkdir -p; returns GM_OK or GM_EIO with a message. */
int cli_mkdirs(const char *path);

/* ---- subcommands: one line per command here and in the table in main.c ------------------------ */
int cmd_version(int argc, char **argv);

/* Fashion-MNIST from `dir` (Debian's dataset-fashion-mnist): n x 784 floats in [0,1] and labels 0..9;
 * both allocated by the library (gm_malloc), release each with gm_free(). Defined in cmd_train.c. */
int cli_fashion_mnist(const char *dir, int train, float **images, uint8_t **labels, size_t *n);
int cmd_data(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_eval_merge_stats(int argc, char **argv); /* genmix eval merge-stats (cmd_eval_merge.c) */
int cmd_train(int argc, char **argv);    /* nn: genmix train <model> */
int cmd_features(int argc, char **argv); /* nn: classifier features */
int cmd_mix(int argc, char **argv);
int cmd_moe(int argc, char **argv);
int cmd_mcmc_linear(int argc, char **argv);
int cmd_align(int argc, char **argv); /* das: genmix align */
int train_ddpm(int argc, char **argv); /* das: genmix train ddpm */
int train_ddpm_finetune(int argc, char **argv); /* das: genmix train ddpm-finetune (cmd_train_finetune.c) */
int cmd_sample(int argc, char **argv);      /* ae: latent MCMC samples of an autoencoder */
/* cmd_sample_prdiv.c: 1 and the checkpoint's "model" metadata (e.g. "gan", "ddpm-unet") if --model names a
 * genmix checkpoint that has one; genmix sample dispatches on it (cmd_ae.c) */
int cli_sample_model_type(int argc, char **argv, char *type, size_t len);
int cmd_sample_prdiv(int argc, char **argv, const char *type); /* prdiv: genmix sample of a GAN / flow */
int cmd_flow(int argc, char **argv);                          /* prdiv: genmix flow logprob */
int cli_diffusion_ckpt_kind(const char *path); /* das: 2 ddpm-unet, 1 ddpm-mlp, 0 other (cmd_sample_ddpm.c) */
int sample_ddpm(int argc, char **argv);      /* das: genmix sample for diffusion models (cmd_sample_ddpm.c) */
int cmd_interpolate(int argc, char **argv); /* ae: slerp strips with MCMC refinement */
int train_ae(int argc, char **argv);
int cmd_latent_study(int argc, char **argv); /* ae: per-step latent MCMC study measurements */        /* ae: genmix train vae|dvae|aae|daae */
int cmd_pr_curve(int argc, char **argv); /* prdiv: PR curves */
int train_gan(int argc, char **argv);    /* prdiv: genmix train gan (cmd_train_gan.c) */
/* Scatter PNG of n model points x (n x 2) over as many points of toy `toy` (gm_toy); cmd_train_gan.c. */
int cli_toy_scatter(const char *path, const char *title, int toy, uint64_t seed, const float *x, size_t n);
/* n samples x (n x d floats) to the .npy `path` after checking each is finite (else GM_ENUMERIC "<what>: sample
 * I is not finite", nothing written); the prdiv sample writers (cmd_train_gan.c). */
int cli_write_samples(const char *path, const char *what, const float *x, long n, long d);
/* The progress line of a GAN iteration (both GAN trainers; cmd_train_gan.c), ending in speed printed with
 * speed_fmt (one double, e.g. "%.1f it/s"). */
void cli_gan_progress(const gm_gan_status *st, const char *speed_fmt, double speed);
/* A real GAN option (name opt without "--"): finite, in [0, 1) if is_decay else > 0; else the usage message
 * and CLI_USAGE (cmd_train_gan.c). */
int cli_gan_parse_real(const char *cmd, const char *opt, const char *s, int is_decay, double *d);
/* conv GAN on Fashion-MNIST (cmd_train_gan_conv.c): train gan --data fashion-mnist, and genmix sample of a
 * "gan-conv" checkpoint; cli_train_gan_is_conv tells train_gan to hand its command line over. */
int cli_train_gan_is_conv(int argc, char **argv);
int train_gan_conv(int argc, char **argv);
int cmd_sample_gan_conv(int argc, char **argv, const char *type);
/* image flow on Fashion-MNIST (cmd_train_flow_image.c): train flow --data fashion-mnist, genmix sample and
 * genmix flow logprob of a "flow-image" checkpoint. */
int cli_train_flow_is_image(int argc, char **argv);
int train_flow_image(int argc, char **argv);
int cmd_sample_flow_image(int argc, char **argv, const char *type);
int cli_flow_logprob_image(const char *model, const char *xp, const char *out, unsigned long long stream);
int train_flow(int argc, char **argv);   /* prdiv: genmix train flow (cmd_train_flow.c) */

#endif
