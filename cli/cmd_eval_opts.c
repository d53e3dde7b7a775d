/* SPDX-License-Identifier: MIT */
/* cmd_eval_opts.c — options of `genmix eval`: parsing, ranges, profile overrides, and the checks of every
 * input file and output path that run before any metric is computed (so a typo fails in milliseconds).
 * Owns nothing beyond the opts struct the caller passes. Thread safety: main thread only. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_eval.h"
#include "genmix/io.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: genmix eval --real R.npy --fake F.npy [--fake G.npy ...] [options]\n"
            "       genmix eval --real R.npy --save-stats R_stats.npz\n"
            "       genmix eval merge-stats --out ALL.npz SHARD1.npz SHARD2.npz ...   (see merge-stats --help)\n\n"
            "Sample-quality metrics between a real (reference) feature set and one or more generated sets.\n"
            "Inputs are N x D float32/float64 matrices in .npy or .npz (FILE.npz:member picks a member);\n"
            "a .npz holding 'mu' and 'sigma' (pytorch-fid / clean-fid / genmix statistics) gives FD only.\n\n"
            "metrics (--metrics, comma separated; default fd,kid,pr,prdc):\n"
            "  fd      Frechet distance (float64 statistics, symmetric-eigen / low-rank path)\n"
            "  kid     kernel inception distance: poly3 kernel, subsets, unbiased MMD^2, mean +- std\n"
            "  mmd     MMD^2 with an RBF kernel on the full sets (--mmd-sigma)\n"
            "  pr      k-NN precision/recall (Kynkaanniemi et al.), k = --k-pr, '<=' by default\n"
            "  prdc    precision/recall/density/coverage (Naeem et al.), k = --k-dc, '<' by default\n"
            "  prd     PRD curves (Sajjadi et al.), max F_8 / F_1/8 (--prd-out curves.npy)\n"
            "  vendi   Vendi score of each generated set (--vendi-q, --vendi-kernel)\n"
            "  rke     RKE mode count ||K/n||_F^-2 and RRKE vs the real set (--rke-sigma, required)\n"
            "  is      Inception Score: the generated files hold logits (or --is-probs probabilities)\n"
            "  cmmd    CMMD: 1000 x unbiased MMD^2, Gaussian kernel sigma 10 (--cmmd-sigma), on given embeddings\n"
            "  fdinf   FD-infinity: FD on --fdinf-points subsets (n_gen/10 .. n_gen rows, --fdinf-min), 1/N -> 0\n\n"
            "options:\n"
            "  --profile P         genmix (default) | torch-fidelity | clean-fid | prdc | dgm-eval | nvidia | openai\n"
            "  --k K               k for both P/R and PRDC;  --k-pr K, --k-dc K   each alone\n"
            "  --cmp le|lt         inside-ball comparison for both;  --cov-norm unbiased|biased (FD)\n"
            "  --kid-subsets S     (100)   --kid-size M (1000)   --kid-seed N (2020, RandomState-exact)\n"
            "  --kid-f32 / --kid-f64       kernel arithmetic precision (profile default)\n"
            "  --mmd-sigma S       RBF bandwidth for mmd (10);  --cmmd-sigma S  for cmmd (10)\n"
            "  --fdinf-min N (n_gen/10)  --fdinf-points P (15)   FD-infinity subset sizes (seeded by --seed)\n"
            "  --rke-sigma S[,S..] Gaussian bandwidths for rke;  --rke-mc PAIRS  also the Monte-Carlo estimate\n"
            "  --vendi-q Q         order (1; 'inf' allowed)   --vendi-kernel cosine|rbf:SIGMA (cosine)\n"
            "  --is-splits S (10)  --is-probs   --is-shuffle (RandomState(2020) permutation)\n"
            "  --prd-clusters C (20)  --prd-angles A (1001)  --prd-runs R (10)  --prd-out FILE.npy\n"
            "  --realism-out FILE.npy  per-sample realism of the first generated set\n"
            "  --labels FILE.npy   integer class of each generated row: vendi also per class and the\n"
            "                      mean over classes (dgm-eval's per-class Vendi)\n"
            "  --real-labels FILE.npy  integer class of each real row: with --labels, fd/kid/pr/prdc also per\n"
            "                      class (generated labels; each needs real rows) and the mean over classes\n"
            "  --tile T            rows per distance tile (1024);  --f32 / --f64  k-NN GEMM precision\n"
            "  --fp16 / --no-fp16  k-NN binary16 emulation: features, then each squared distance, rounded to\n"
            "                      fp16 (nvidia/openai); recomputed without it if a distance overflows\n"
            "  --bootstrap B       95%% percentile intervals from B resamples (FD: B extra FD computations)\n"
            "  --seed N            seed of every genmix stream (k-means, bootstrap, subsampling, RKE-MC) (0)\n"
            "  --json FILE         write all results as JSON;  --save-stats FILE.npz  statistics of --real\n"
            "  -h, --help\n"
            "Global flags (before 'eval'): --threads N (results do not depend on it), --quiet.\n");
}

static int parse_metrics(const char *s, unsigned *m) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    *m = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (!strcmp(t, "fd") || !strcmp(t, "fid")) *m |= M_FD;
        else if (!strcmp(t, "kid")) *m |= M_KID;
        else if (!strcmp(t, "mmd")) *m |= M_MMD;
        else if (!strcmp(t, "pr") || !strcmp(t, "prc")) *m |= M_PR;
        else if (!strcmp(t, "prdc")) *m |= M_PRDC;
        else if (!strcmp(t, "prd")) *m |= M_PRD;
        else if (!strcmp(t, "vendi")) *m |= M_VENDI;
        else if (!strcmp(t, "rke")) *m |= M_RKE;
        else if (!strcmp(t, "is")) *m |= M_IS;
        else if (!strcmp(t, "cmmd")) *m |= M_CMMD;
        else if (!strcmp(t, "fdinf")) *m |= M_FDINF;
        else if (!strcmp(t, "all")) *m |= M_FD | M_KID | M_MMD | M_PR | M_PRDC | M_PRD | M_VENDI;
        else return -1;
    }
    return *m ? 0 : -1;
}

int eval_parse_args(int argc, char **argv, opts *op) {
    memset(op, 0, sizeof *op);
    op->k_pr = op->k_dc = -1;
    op->cmp = op->cov_norm = op->kid_f32 = op->knn_prec = op->fp16 = -1;
    op->kid_subsets = op->kid_size = -1;
    op->kid_seed = -1;
    op->mmd_sigma = 10;
    op->cmmd_sigma = 10;
    op->fdinf_points = 15;
    op->vendi_q = 1;
    op->is_splits = 10;
    op->prd_clusters = 20;
    op->prd_angles = 1001;
    op->prd_runs = 10;
    op->tile = 1024;
    op->is_shuffle = -1;
    const char *profile = "genmix", *metrics = NULL;
    enum {
        O_REAL = 256, O_FAKE, O_METRICS, O_PROFILE, O_K, O_KPR, O_KDC, O_CMP, O_COVN, O_KIDS, O_KIDM, O_KIDSEED,
        O_KIDF32, O_KIDF64, O_MMDS, O_RKES, O_RKEMC, O_VQ, O_VK, O_ISS, O_ISP, O_ISSH, O_PRDC, O_PRDA, O_PRDR,
        O_PRDO, O_REALO, O_LABELS, O_RLABELS, O_TILE, O_F32, O_F64, O_FP16, O_NOFP16, O_BOOT, O_SEED, O_JSON, O_SAVE,
        O_CMMDS, O_FDINFMIN, O_FDINFPTS
    };
    static const struct option lo[] = {
        {"real", required_argument, 0, O_REAL}, {"fake", required_argument, 0, O_FAKE},
        {"gen", required_argument, 0, O_FAKE}, {"metrics", required_argument, 0, O_METRICS},
        {"profile", required_argument, 0, O_PROFILE}, {"k", required_argument, 0, O_K},
        {"k-pr", required_argument, 0, O_KPR}, {"k-dc", required_argument, 0, O_KDC},
        {"cmp", required_argument, 0, O_CMP}, {"cov-norm", required_argument, 0, O_COVN},
        {"kid-subsets", required_argument, 0, O_KIDS}, {"kid-size", required_argument, 0, O_KIDM},
        {"kid-seed", required_argument, 0, O_KIDSEED}, {"kid-f32", no_argument, 0, O_KIDF32},
        {"kid-f64", no_argument, 0, O_KIDF64}, {"mmd-sigma", required_argument, 0, O_MMDS},
        {"rke-sigma", required_argument, 0, O_RKES}, {"rke-mc", required_argument, 0, O_RKEMC},
        {"vendi-q", required_argument, 0, O_VQ}, {"vendi-kernel", required_argument, 0, O_VK},
        {"is-splits", required_argument, 0, O_ISS}, {"is-probs", no_argument, 0, O_ISP},
        {"is-shuffle", no_argument, 0, O_ISSH}, {"prd-clusters", required_argument, 0, O_PRDC},
        {"prd-angles", required_argument, 0, O_PRDA}, {"prd-runs", required_argument, 0, O_PRDR},
        {"prd-out", required_argument, 0, O_PRDO}, {"realism-out", required_argument, 0, O_REALO},
        {"labels", required_argument, 0, O_LABELS}, {"real-labels", required_argument, 0, O_RLABELS},
        {"tile", required_argument, 0, O_TILE}, {"f32", no_argument, 0, O_F32}, {"f64", no_argument, 0, O_F64},
        {"fp16", no_argument, 0, O_FP16}, {"no-fp16", no_argument, 0, O_NOFP16},
        {"bootstrap", required_argument, 0, O_BOOT}, {"seed", required_argument, 0, O_SEED},
        {"json", required_argument, 0, O_JSON}, {"save-stats", required_argument, 0, O_SAVE},
        {"cmmd-sigma", required_argument, 0, O_CMMDS}, {"fdinf-min", required_argument, 0, O_FDINFMIN},
        {"fdinf-points", required_argument, 0, O_FDINFPTS},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    long lv;
    unsigned long long uv;
    double dv;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return CLI_OK;
        case O_REAL: op->real = optarg; break;
        case O_FAKE:
            if (op->nfake >= MAX_FAKE) return cli_usage_error("eval", "at most %d --fake files", MAX_FAKE);
            op->fake[op->nfake++] = optarg;
            break;
        case O_METRICS: metrics = optarg; break;
        case O_PROFILE: profile = optarg; break;
        case O_K:
        case O_KPR:
        case O_KDC:
            if (cli_parse_range("eval", c == O_K ? "--k" : c == O_KPR ? "--k-pr" : "--k-dc", optarg, 1, 100000, &lv))
                return CLI_USAGE;
            if (c != O_KDC) op->k_pr = lv;
            if (c != O_KPR) op->k_dc = lv;
            break;
        case O_CMP:
            if (!strcmp(optarg, "le") || !strcmp(optarg, "<=")) op->cmp = GM_CMP_LE;
            else if (!strcmp(optarg, "lt") || !strcmp(optarg, "<")) op->cmp = GM_CMP_LT;
            else return cli_usage_error("eval", "--cmp takes le or lt");
            break;
        case O_COVN:
            if (!strcmp(optarg, "unbiased")) op->cov_norm = GM_COV_UNBIASED;
            else if (!strcmp(optarg, "biased")) op->cov_norm = GM_COV_BIASED;
            else return cli_usage_error("eval", "--cov-norm takes unbiased or biased");
            break;
        case O_KIDS: /* integer options: name and range in one table, checked by the shared helper */
        case O_KIDM:
        case O_ISS:
        case O_PRDC:
        case O_PRDA:
        case O_PRDR:
        case O_TILE:
        case O_RKEMC:
        case O_FDINFMIN:
        case O_FDINFPTS:
        case O_BOOT: {
            static const struct { int c; long lo, hi; } lim[] = {
                {O_KIDS, 1, 100000},  {O_KIDM, 2, 10000000}, {O_ISS, 1, 100000},    {O_PRDC, 1, 256},
                {O_PRDA, 3, 100000},  {O_PRDR, 1, 1000},     {O_TILE, 1, 65536},    {O_RKEMC, 0, 1000000000},
                {O_BOOT, 0, 100000},  {O_FDINFMIN, 2, 100000000}, {O_FDINFPTS, 2, 1000}};
            const char *name = "";
            for (const struct option *l = lo; l->name; l++)
                if (l->val == c) name = l->name;
            char opt[32];
            snprintf(opt, sizeof opt, "--%s", name);
            for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
                if (lim[i].c == c && cli_parse_range("eval", opt, optarg, lim[i].lo, lim[i].hi, &lv)) return CLI_USAGE;
            if (c == O_KIDS) op->kid_subsets = lv;
            if (c == O_KIDM) op->kid_size = lv;
            if (c == O_ISS) op->is_splits = lv;
            if (c == O_PRDC) op->prd_clusters = lv;
            if (c == O_PRDA) op->prd_angles = lv;
            if (c == O_PRDR) op->prd_runs = lv;
            if (c == O_TILE) op->tile = lv;
            if (c == O_RKEMC) op->rke_mc = lv;
            if (c == O_BOOT) op->bootstrap = lv;
            if (c == O_FDINFMIN) op->fdinf_min = lv;
            if (c == O_FDINFPTS) op->fdinf_points = lv;
            break;
        }
        case O_KIDSEED:
            if (cli_parse_u64(optarg, &uv) || uv > 0xffffffffULL)
                return cli_usage_error("eval", "--kid-seed takes an integer in 0..2^32-1");
            op->kid_seed = (long long)uv;
            break;
        case O_KIDF32: op->kid_f32 = 1; break;
        case O_KIDF64: op->kid_f32 = 0; break;
        case O_MMDS:
            if (cli_parse_double(optarg, &op->mmd_sigma) || !(op->mmd_sigma > 0))
                return cli_usage_error("eval", "--mmd-sigma takes a positive number");
            break;
        case O_CMMDS:
            if (cli_parse_double(optarg, &op->cmmd_sigma) || !(op->cmmd_sigma > 0))
                return cli_usage_error("eval", "--cmmd-sigma takes a positive number");
            break;
        case O_RKES: {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", optarg);
            op->n_rke_sigma = 0;
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                if (op->n_rke_sigma >= MAX_SIGMA || cli_parse_double(t, &dv) || !(dv > 0))
                    return cli_usage_error("eval", "--rke-sigma takes up to %d positive numbers", MAX_SIGMA);
                op->rke_sigma[op->n_rke_sigma++] = dv;
            }
            break;
        }
        case O_VQ:
            if (!strcmp(optarg, "inf")) op->vendi_q = INFINITY;
            else if (cli_parse_double(optarg, &op->vendi_q) || !(op->vendi_q >= 0))
                return cli_usage_error("eval", "--vendi-q takes a number >= 0 or inf");
            break;
        case O_VK:
            if (!strcmp(optarg, "cosine")) op->vendi_rbf = 0;
            else if (!strncmp(optarg, "rbf:", 4) && !cli_parse_double(optarg + 4, &op->vendi_sigma) && op->vendi_sigma > 0)
                op->vendi_rbf = 1;
            else return cli_usage_error("eval", "--vendi-kernel takes cosine or rbf:SIGMA");
            break;
        case O_ISP: op->is_probs = 1; break;
        case O_ISSH: op->is_shuffle = 1; break;
        case O_PRDO: op->prd_out = optarg; break;
        case O_REALO: op->realism_out = optarg; break;
        case O_LABELS: op->labels = optarg; break;
        case O_RLABELS: op->real_labels = optarg; break;
        case O_F32: op->knn_prec = 1; break;
        case O_F64: op->knn_prec = 0; break;
        case O_FP16: op->fp16 = 1; break;
        case O_NOFP16: op->fp16 = 0; break;
        case O_SEED:
            if (cli_parse_u64(optarg, &op->seed)) return cli_usage_error("eval", "--seed takes a non-negative integer");
            break;
        case O_JSON: op->json = optarg; break;
        case O_SAVE: op->save_stats = optarg; break;
        default: return cli_bad_option("eval", argv, NULL);
        }
    }
    if (optind < argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (gm_eval_profile_get(profile, &op->prof) != GM_OK) return cli_usage_error("eval", "%s", gm_last_error());
    if (metrics && parse_metrics(metrics, &op->metrics))
        return cli_usage_error("eval", "bad --metrics '%s' (fd,kid,mmd,pr,prdc,prd,vendi,rke,is,cmmd,fdinf)", metrics);
    if (!metrics) op->metrics = op->nfake ? (M_FD | M_KID | M_PR | M_PRDC) : 0;
    if ((op->metrics & M_RKE) && op->n_rke_sigma == 0)
        return cli_usage_error("eval", "rke needs --rke-sigma (the kernel bandwidth has no default)");
    if (!op->real && (op->metrics & ~(unsigned)(M_IS | M_VENDI | M_RKE)))
        return cli_usage_error("eval", "--real is required for these metrics");
    if (!op->real && !op->nfake) return cli_usage_error("eval", "give --real and --fake (see --help)");
    if (!op->nfake && !op->save_stats) return cli_usage_error("eval", "give at least one --fake (or --save-stats)");
    if (op->real_labels && !op->labels) cli_warn("eval", "--real-labels is used only with --labels (per-class metrics)");
    /* single-flag overrides of the profile */
    gm_eval_profile *p = &op->prof;
    if (op->k_pr > 0) p->knn.k_pr = (size_t)op->k_pr;
    if (op->k_dc > 0) p->knn.k_dc = (size_t)op->k_dc;
    if (op->cmp >= 0) p->knn.cmp_pr = p->knn.cmp_dc = (gm_cmp)op->cmp;
    if (op->cov_norm >= 0) p->cov_norm = (gm_cov_norm)op->cov_norm;
    if (op->kid_subsets > 0) p->kid.subsets = (size_t)op->kid_subsets;
    if (op->kid_size > 0) p->kid.subset_size = (size_t)op->kid_size;
    if (op->kid_seed >= 0) p->kid.seed = (uint32_t)op->kid_seed;
    if (op->kid_f32 >= 0) p->kid.f32 = op->kid_f32;
    if (op->is_shuffle > 0) p->is_shuffle = GM_IS_SHUFFLE_MT2020;
    p->knn.tile = (size_t)op->tile;
    op->cov_norm = p->cov_norm;
    /* every file before any work: inputs exist and are regular files, outputs can be written */
    char file[MAX_FAKE + 1][4096], *colon;
    cli_file ins[MAX_FAKE + 4] = {{0}};
    int nin = 0;
    for (int i = -1; i < op->nfake; i++) {
        const char *in = i < 0 ? op->real : op->fake[i];
        if (!in) continue;
        snprintf(file[i + 1], sizeof file[i + 1], "%s", in); /* FILE.npz:member names the file FILE.npz */
        if ((colon = strstr(file[i + 1], ".npz:"))) colon[4] = '\0';
        if (cli_check_input("eval", i < 0 ? "--real" : "--fake", file[i + 1])) return CLI_ERR;
        ins[nin++] = (cli_file){i < 0 ? "--real" : "--fake", file[i + 1]};
    }
    ins[nin++] = (cli_file){"--labels", op->labels};
    ins[nin++] = (cli_file){"--real-labels", op->real_labels};
    if (cli_check_not_input("eval",
                            (cli_file[]){{"--json", op->json}, {"--save-stats", op->save_stats},
                                         {"--prd-out", op->prd_out}, {"--realism-out", op->realism_out}, {0}},
                            ins))
        return CLI_USAGE;
    if (cli_check_input("eval", "--labels", op->labels) || cli_check_input("eval", "--real-labels", op->real_labels) || cli_check_output("eval", "--json", op->json) ||
        cli_check_output("eval", "--save-stats", op->save_stats) || cli_check_output("eval", "--prd-out", op->prd_out) ||
        cli_check_output("eval", "--realism-out", op->realism_out))
        return CLI_ERR;
    int dashes = gm_output_is_stdout(op->json) + gm_output_is_stdout(op->save_stats) +
                 gm_output_is_stdout(op->prd_out) + gm_output_is_stdout(op->realism_out);
    if (dashes > 1) return cli_usage_error("eval", "only one of --json, --save-stats, --prd-out, --realism-out can be '-'");
    return -1;
}
