/* SPDX-License-Identifier: MIT */
/* main.c — genmix entry point: global flags, then dispatch through the subcommand table. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int cli_quiet = 0;
int cli_threads = 0;

struct gm_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct gm_cmd commands[] = {
    {"version", cmd_version, "print the genmix version"},
    {"data", cmd_data, "export a dataset (fashion-mnist) as .npy arrays"},
    {"inspect", cmd_inspect, "dtype, shape and statistics of a .npy, .npz, .safetensors or IDX file"},
    {"plot", cmd_plot, "plot CSV columns (e.g. per-round trajectories) as a PNG line chart"},
    {"eval", cmd_eval, "sample-quality metrics between feature sets (.npy/.npz)"},
    {"train", cmd_train, "train a model (classifier|vae|dvae|aae|daae|ddpm|gan|flow), write .safetensors"},
    {"features", cmd_features, "classifier penultimate-layer features of images (.npy)"},
    {"mix", cmd_mix, "online mixing of generators (Mixture-UCB CAB/OGD + baselines): weights, score, regret"},
    {"moe", cmd_moe, "softmax-gated mixture of experts: fit, select, predict, sample, convergence-rate simulation"},
    {"sample", cmd_sample, "samples of a trained autoencoder (optionally latent-MCMC refined), GAN, flow or diffusion model"},
    {"interpolate", cmd_interpolate, "slerp between two encoded test images, each point refined by latent MCMC (.png)"},
    {"latent-study", cmd_latent_study, "latent MCMC study of an autoencoder: latent MMD, classes, memorisation per step"},
    {"mcmc-linear", cmd_mcmc_linear, "latent decode->encode chains of linear-Gaussian AEs: closed form vs simulation"},
    {"align", cmd_align, "reward-aligned samples from a diffusion model by DAS (tempered SMC) and baselines"},
    {"pr-curve", cmd_pr_curve, "precision-recall curves alpha/beta over lambda (classifier, k-NN, histogram) and D_lambda-PR"},
    {"flow", cmd_flow, "normalizing-flow tools: exact log-density of a flow checkpoint at given points"},
};
static const size_t n_commands = sizeof commands / sizeof commands[0];

static void print_help(FILE *f) {
    fprintf(f,
            "genmix %s — better samples from the generative models you have, and proof that they are.\n\n"
            "usage: genmix [--threads N] [--quiet] <command> [options]\n"
            "       genmix help <command>      (or genmix <command> --help)\n\n"
            "commands:\n",
            gm_version());
    for (size_t i = 0; i < n_commands; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nglobal options (before or after the command):\n"
            "  --threads N   OpenMP/BLAS threads (results do not depend on it)\n"
            "  --quiet       no progress lines on stderr (warnings and errors are always printed)\n"
            "  --version     print the version\n"
            "exit codes: 0 ok, 1 run-time error, 2 usage error, 3 numerical failure\n");
}

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("genmix %s\n", gm_version());
    printf("Copyright (c) 2026 the genmix authors. License: MIT (SPDX-License-Identifier: MIT).\n");
    return CLI_OK;
}

int cli_fail(int rc) {
    const char *msg = gm_last_error();
    fprintf(stderr, "genmix: error: %s\n", msg && *msg ? msg : gm_strerror(rc));
    return rc == GM_ENUMERIC ? CLI_NUMERIC : CLI_ERR;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "genmix %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'genmix %s --help')\n", cmd);
    return CLI_USAGE;
}

void cli_progress(const char *fmt, ...) {
    if (cli_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, unsigned long long *out) {
    char *end;
    errno = 0;
    if (*s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int cli_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) GM_FAIL(GM_EINVAL, "bad directory name '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                GM_FAIL(GM_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    return GM_OK;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_help(stdout);
            return CLI_OK;
        } else if (!strcmp(argv[i], "--version")) {
            return cmd_version(0, NULL);
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            cli_quiet = 1;
        } else if (!strcmp(argv[i], "--threads") || !strncmp(argv[i], "--threads=", 10)) {
            long t; /* --threads N or --threads=N; a missing value is an error too */
            const char *val = argv[i][9] == '=' ? argv[i] + 10 : i + 1 < argc ? argv[++i] : "";
            if (cli_parse_long(val, &t) || t < 1 || t > 1024) {
                fprintf(stderr, "genmix: --threads takes an integer in 1..1024 (got '%s')\n", val);
                return CLI_USAGE;
            }
            cli_threads = (int)t;
        } else {
            fprintf(stderr, "genmix: unknown global option '%s'\n", argv[i]);
            print_help(stderr);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return CLI_USAGE;
    }
#ifdef _OPENMP
    if (cli_threads > 0) omp_set_num_threads(cli_threads);
#endif
    const char *name = argv[i];
    if (!strcmp(name, "help")) {
        if (i + 1 >= argc) {
            print_help(stdout);
            return CLI_OK;
        }
        name = argv[i + 1];
        for (size_t c = 0; c < n_commands; c++)
            if (!strcmp(commands[c].name, name)) {
                char *hargv[3] = {(char *)commands[c].name, "--help", NULL};
                return commands[c].fn(2, hargv);
            }
        fprintf(stderr, "genmix: unknown command '%s'\n", name);
        print_help(stderr);
        return CLI_USAGE;
    }
    /* a global flag after the command (genmix eval ... --quiet) is taken as if it came first */
    int w = i + 1;
    for (int r = i + 1; r < argc; r++) {
        if (!strcmp(argv[r], "--")) { /* the rest are operands */
            while (r < argc) argv[w++] = argv[r++];
            break;
        }
        if (!strcmp(argv[r], "--quiet")) {
            cli_quiet = 1;
        } else if (!strcmp(argv[r], "--threads") || !strncmp(argv[r], "--threads=", 10)) {
            long t; /* --threads N or --threads=N; a missing value is an error too */
            const char *val = argv[r][9] == '=' ? argv[r] + 10 : r + 1 < argc ? argv[++r] : "";
            if (cli_parse_long(val, &t) || t < 1 || t > 1024) {
                fprintf(stderr, "genmix: --threads takes an integer in 1..1024 (got '%s')\n", val);
                return CLI_USAGE;
            }
            cli_threads = (int)t;
#ifdef _OPENMP
            omp_set_num_threads(cli_threads);
#endif
        } else {
            argv[w++] = argv[r];
        }
    }
    argc = w;
    /* An output option given "-" owns standard output (the library writes it to fd 1 through a stream of
     * its own): everything the command prints for the reader (tables, "wrote ..." lines) goes to stderr. */
    for (int r = i + 1; r < argc; r++) {
        size_t len = strlen(argv[r]);
        if (!strcmp(argv[r], "-") || (len > 3 && !strncmp(argv[r], "--", 2) && !strcmp(argv[r] + len - 2, "=-"))) {
            fflush(stdout);
            stdout = stderr;
            break;
        }
    }
    for (size_t c = 0; c < n_commands; c++)
        if (!strcmp(commands[c].name, name)) {
            optind = 1; /* each subcommand parses its own argv with getopt_long */
            opterr = 0; /* and reports a bad option itself, in one line (cli_bad_option) */
            return commands[c].fn(argc - i, argv + i);
        }
    fprintf(stderr, "genmix: unknown command '%s'\n", name);
    print_help(stderr);
    return CLI_USAGE;
}
