# moe_plot_sim.R — log-log plot of the mean Voronoi loss D1 vs n from `genmix moe simulate` output
# (DIR/moe_sim_<case>.csv) over the fits not flagged DEGENERATE, with OLS lines fitted on the upper half of
# the n grid (as the "upper" slopes printed by the command) and an n^-1/2 guide.
# usage: Rscript tools/moe_plot_sim.R DIR OUT.png
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; out <- args[2]
cases <- c("exact", "over", "regime2", "modified")
cols <- c("black", "blue", "red", "darkgreen")
dat <- list()
for (cs in cases) {
  f <- file.path(dir, sprintf("moe_sim_%s.csv", cs))
  if (file.exists(f)) dat[[cs]] <- read.csv(f)
}
png(out, width = 900, height = 600)
par(mar = c(5, 5, 3, 1))
ms <- lapply(dat, function(d) { d <- d[bitwAnd(d$flags, 4L) == 0, ]; tapply(d$loss, d$n, mean) })
yr <- range(unlist(ms)); xr <- range(as.numeric(unlist(lapply(ms, names))))
plot(NA, xlim = xr, ylim = yr, log = "xy", xlab = "n", ylab = "mean D1 Voronoi loss",
     main = "genmix moe simulate: design A, nearTrue + EM (non-degenerate fits)")
leg <- character(0); lc <- character(0)
for (i in seq_along(cases)) {
  cs <- cases[i]; if (is.null(ms[[cs]])) next
  n <- as.numeric(names(ms[[cs]])); m <- as.numeric(ms[[cs]])
  points(n, m, col = cols[i], pch = 19); lines(n, m, col = cols[i])
  up <- n >= n[ceiling(length(n) / 2) + (length(n) %% 2 == 0)]
  b <- coef(lm(log(m[up]) ~ log(n[up])))
  lines(n[up], exp(b[1] + b[2] * log(n[up])), col = cols[i], lty = 2, lwd = 2)
  leg <- c(leg, sprintf("%s: upper-half slope %.3f", cs, b[2])); lc <- c(lc, cols[i])
}
n0 <- xr[1]; g <- min(unlist(ms)) * sqrt(xr[2] / xr[1]) * 2
lines(xr, g * (xr / n0)^(-0.5), col = "gray", lty = 3, lwd = 2)
legend("topright", legend = c(leg, "n^-1/2 guide"), col = c(lc, "gray"), lty = c(rep(1, length(lc)), 3), pch = c(rep(19, length(lc)), NA))
invisible(dev.off())
cat("wrote", out, "\n")
