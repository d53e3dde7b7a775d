# SPDX-License-Identifier: MIT
# moe_flexmix.R — reference fits of the softmax-gated multinomial-logistic MoE with R's flexmix
# (FLXMRmultinom experts + FLXPmultinom(~ x) concomitant gate), on data from the deterministic LCG generator
# of the genmix moe spec (section 7.1; genmix's gm_moe_sample_lcg produces the same rows).
#
# usage: Rscript tools/moe_flexmix.R OUTFILE [NREP] [DATADIR]
#   writes one line per design: "design n flexmix_loglik seconds nrep"; with DATADIR, also the CSVs.
suppressPackageStartupMessages(library(flexmix))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "tests/golden/moe_flexmix.txt"
nrep <- if (length(args) >= 2) as.integer(args[2]) else 5L
datadir <- if (length(args) >= 3) args[3] else NA

lcg <- function(seed, m) { s <- seed; u <- numeric(m)
  for (t in 1:m) { s <- (1664525 * s + 1013904223) %% 4294967296
                   u[t] <- (s + 0.5) / 4294967296 }; u }
smx <- function(v) { e <- exp(v - max(v)); e / sum(e) }
gen <- function(n, seed, B0, B1, Bc, A, xr = 1) {
  u <- lcg(seed, 3 * n); x <- xr * (-1 + 2 * u[seq(1, 3 * n, by = 3)])
  z <- y <- integer(n)
  for (t in 1:n) {
    z[t] <- which(u[3*t-1] < cumsum(smx(B0 + B1 * x[t])))[1]
    y[t] <- which(u[3*t] < cumsum(smx(Bc[z[t], ] + A[z[t], ] * x[t])))[1] }
  data.frame(x = x, y = y, z = z) }

designs <- list(
  A = gen(2000, 20240521, c(.5, 0), c(3, 0), rbind(c(1, .5, 0), c(-.5, 1, 0)),
          rbind(c(2, -1, 0), c(-2, 1.5, 0))),
  B = gen(5000, 20240521, c(0, 0), c(1.5, 0), rbind(c(.5, 0), c(-.5, 0)),
          rbind(c(1, 0), c(-1.5, 0)), xr = 3))

lines <- character(0)
for (nm in names(designs)) {
  d <- designs[[nm]]
  d$yf <- factor(d$y)
  if (!is.na(datadir)) write.csv(d[, c("x", "y")], file.path(datadir, sprintf("moe_design_%s.csv", nm)),
                                 row.names = FALSE, quote = FALSE)
  set.seed(1)
  t0 <- proc.time()[["elapsed"]]
  fm <- stepFlexmix(yf ~ x, data = d, k = 2, nrep = nrep, verbose = FALSE,
                    model = FLXMRmultinom(), concomitant = FLXPmultinom(~ x),
                    control = list(tolerance = 1e-8, iter.max = 1000, minprior = 0))
  secs <- proc.time()[["elapsed"]] - t0
  ll <- as.numeric(logLik(fm))
  lines <- c(lines, sprintf("%s %d %.10f %.3f %d", nm, nrow(d), ll, secs, nrep))
  cat(lines[length(lines)], "\n")
}
writeLines(c("# design n flexmix_loglik seconds nrep  (tools/moe_flexmix.R; flexmix FLXMRmultinom + FLXPmultinom(~x), k = 2)",
             lines), out)
