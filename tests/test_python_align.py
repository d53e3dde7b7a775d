# SPDX-License-Identifier: MIT
"""test_python_align.py — unittest suite of genmix.align (DAS over Python callables; run by
tests/cli_python_align.sh under ctest).

Checks: a NumPy reward written with the C toy reward's arithmetic gives the C path's particles and weights
bit for bit; a tiny PyTorch denoiser (the exact GMM-2 eps-hat written in torch, and with torch autograd for
grad='full') gives the C exact denoiser's mode weights within Monte-Carlo tolerance; DAS mode weights on the
toy targets against the closed-form tilted mixture; bad callables (exceptions inside the callback, wrong
shapes, missing gradient) raise the right exception, never crash, and leak neither references nor memory.
Environment: PYTHONPATH holds the built package.
"""
import gc
import math
import sys
import unittest

import numpy as np

import genmix

# the GMM-2 toy of genmix (diffusion.h): 8 means on the circle of radius 4, variance 0.3, equal weights
ANG = np.arange(8) * math.pi / 4
MEANS = np.stack([4 * np.cos(ANG), 4 * np.sin(ANG)], 1)
VAR = 0.3
A_Q, C_Q = np.array([1.0, 0.1]), np.array([0.0, 1.0])  # reward "gmm2": -x^2 - (y - 1)^2 / 10


def reward_np(x):
    """The toy reward 'gmm2' with the C code's arithmetic (double per element, float32 gradient)."""
    xd = x.astype(np.float64)
    s = np.zeros(len(x))
    g = np.empty(x.shape, np.float32)
    for j in range(2):
        u = xd[:, j] - C_Q[j]
        s -= A_Q[j] * u * u
        g[:, j] = (-2.0 * A_Q[j] * u).astype(np.float32)
    return s, g


def alpha_bar_linear(T=1000):
    beta = 1e-4 + (0.02 - 1e-4) * np.arange(T) / (T - 1)
    return np.cumprod(1 - beta)


def mode_weights(samples, weights):
    d2 = ((samples[:, None, :].astype(np.float64) - MEANS[None]) ** 2).sum(-1)
    return np.bincount(d2.argmin(1), weights=weights, minlength=8)


def tilted_weights(alpha):
    """Closed form: w_k ∝ prod_d (1 + 2 a_d v / alpha)^(-1/2) exp(-a_d (m_kd - c_d)^2 / (alpha + 2 a_d v))."""
    lw = np.zeros(8)
    for j in range(2):
        den = alpha + 2 * A_Q[j] * VAR
        lw += -0.5 * np.log(den / alpha) - A_Q[j] * (MEANS[:, j] - C_Q[j]) ** 2 / den
    w = np.exp(lw - lw.max())
    return w / w.sum()


try:
    import torch
except ImportError:  # python3-torch is in the Makefile's DEPS_PYTHON; without it those tests are skipped
    torch = None


def torch_gmm_denoiser():
    """eps_hat(x, t) = -sqrt(1 - ab_t) grad log p_t(x) of the GMM-2 pushed through the forward process, in
    float64 torch; and its VJP u -> J^T u by autograd."""
    ab = torch.tensor(alpha_bar_linear(), dtype=torch.float64)
    mu = torch.tensor(MEANS, dtype=torch.float64)

    def eps_t(x, t):
        a = ab[t]
        v = a * VAR + (1 - a)
        diff = x[:, None, :] - a.sqrt() * mu[None]             # n x 8 x 2
        logp = -(diff ** 2).sum(-1) / (2 * v)                  # equal weights and variances
        gam = torch.softmax(logp, dim=1)
        score = -(gam[:, :, None] * diff).sum(1) / v
        return -(1 - a).sqrt() * score

    def eps(x, t):
        with torch.no_grad():
            return eps_t(torch.from_numpy(x).double(), t).float().numpy()

    def vjp(x, t, u):
        xt = torch.from_numpy(x).double().requires_grad_(True)
        e = eps_t(xt, t)
        (g,) = torch.autograd.grad(e, xt, torch.from_numpy(u).double())
        return e.detach().float().numpy(), g.float().numpy()

    return eps, vjp


class TestAlignAgreement(unittest.TestCase):
    def test_python_reward_bitwise_equals_c(self):
        for grad in ("full", "x0only"):
            c = genmix.align("toy:gmm2", "gmm2", 1.0, particles=64, steps=40, grad=grad, seed=5)
            p = genmix.align("toy:gmm2", reward_np, 1.0, particles=64, steps=40, grad=grad, seed=5)
            self.assertTrue(np.array_equal(c["samples"], p["samples"]))
            self.assertTrue(np.array_equal(c["weights"], p["weights"]))
            self.assertEqual(c["log_evidence"], p["log_evidence"])
            self.assertEqual(c["resamples"], p["resamples"])
        # values without gradient with grad='none'
        c = genmix.align("toy:gmm2", "gmm2", 1.0, particles=32, steps=20, grad="none", seed=1)
        p = genmix.align("toy:gmm2", lambda x: reward_np(x)[0], 1.0, particles=32, steps=20, grad="none", seed=1)
        self.assertTrue(np.array_equal(c["weights"], p["weights"]))

    def test_ess_threshold_and_seed(self):
        # resample when ESS < tau N: tau = 0 never, tau = 2 at each of the 20 steps (the first step's
        # weights are equal under exp tempering, lambda_0 = 0, but 2N > N); the seed selects the noise
        kw = dict(particles=32, steps=20, grad="none")
        self.assertEqual(genmix.align("toy:gmm2", "gmm2", 1.0, ess_threshold=0.0, seed=1, **kw)["resamples"], 0)
        self.assertEqual(genmix.align("toy:gmm2", "gmm2", 1.0, ess_threshold=2.0, seed=1, **kw)["resamples"], 20)
        a, b, c = (genmix.align("toy:gmm2", "gmm2", 1.0, seed=s, **kw)["samples"] for s in (1, 1, 2))
        self.assertTrue(np.array_equal(a, b))
        self.assertFalse(np.array_equal(a, c))

    @unittest.skipIf(torch is None, "python3-torch is not installed")
    def test_torch_denoiser_matches_c_exact_denoiser(self):
        torch.set_num_threads(1)
        eps, vjp = torch_gmm_denoiser()
        # the torch eps-hat is the C exact denoiser up to float rounding (checked directly on the C run's rows)
        n, steps = 400, 30
        for grad, extra in (("x0only", {}), ("full", {"denoiser_vjp": vjp})):
            c = genmix.align("toy:gmm2", "gmm2", 1.0, particles=n, steps=steps, grad=grad, seed=11)
            p = genmix.align(eps, reward_np, 1.0, dim=2, particles=n, steps=steps, grad=grad, seed=11, **extra)
            wc, wp = mode_weights(c["samples"], c["weights"]), mode_weights(p["samples"], p["weights"])
            # same noise streams and a denoiser equal to ~1e-7: the two runs follow each other; MC tolerance
            # of one run is ~0.03 per mode at N = 400, the agreement is far tighter
            self.assertLess(np.abs(wc - wp).max(), 0.02, (grad, wc, wp))
            self.assertLess(abs(c["log_evidence"] - p["log_evidence"]), 0.02)
            self.assertEqual(p["denoiser_calls"], n * steps)
            self.assertEqual(p["vjp_calls"], n * steps if grad == "full" else 0)

    def test_closed_form_tilt(self):
        # DAS with the exact denoiser on the toy target vs the closed-form tilted mode weights (alpha = 1 and
        # 0.3): 12 independent runs (seeds 0..11) of N = 400, 100 steps; per mode |mean - closed form| <= 4 SE
        # of the run-to-run spread + 0.01 (the 100-step sampler's discretisation)
        runs = 12
        for alpha in (1.0, 0.3):
            want = tilted_weights(alpha)
            ws = np.array([mode_weights(r["samples"], r["weights"]) for r in
                           (genmix.align("toy:gmm2", "gmm2", alpha, particles=400, steps=100, seed=s)
                            for s in range(runs))])
            got, se = ws.mean(0), ws.std(0, ddof=1) / math.sqrt(runs)
            self.assertTrue(np.all(np.abs(got - want) <= 4 * se + 0.01), (alpha, got, se, want))
            self.assertGreater(got[2], 0.7)  # the mode the reward favours dominates


class TestAlignBadCallables(unittest.TestCase):
    def test_exception_propagates(self):
        class Boom(Exception):
            pass

        def den(x, t):
            if t < 500:
                raise Boom("denoiser failed at t=%d" % t)
            return np.zeros_like(x)

        with self.assertRaises(Boom) as cm:
            genmix.align(den, reward_np, 1.0, dim=2, particles=8, steps=10)
        self.assertIn("denoiser failed", str(cm.exception))

        def rw(x):
            raise KeyError("reward")
        with self.assertRaises(KeyError):
            genmix.align("toy:gmm2", rw, 1.0, particles=8, steps=5)
        with self.assertRaises(ZeroDivisionError):
            genmix.align(lambda x, t: x, lambda x: (1 / 0, None), 1.0, dim=2, particles=4, steps=3)

    def test_wrong_shapes_and_types(self):
        with self.assertRaisesRegex(ValueError, "denoiser must return an array of shape"):
            genmix.align(lambda x, t: x[:, :1], reward_np, 1.0, dim=2, particles=8, steps=5)
        with self.assertRaisesRegex(ValueError, "reward must return 8 values"):
            genmix.align("toy:gmm2", lambda x: (np.zeros(7), np.zeros((8, 2))), 1.0, particles=8, steps=5)
        with self.assertRaisesRegex(ValueError, "gradient"):
            genmix.align("toy:gmm2", lambda x: np.zeros(8), 1.0, particles=8, steps=5, grad="x0only")
        with self.assertRaisesRegex(ValueError, "reward \\(gradient\\) must return an array of shape"):
            genmix.align("toy:gmm2", lambda x: (np.zeros(8), np.zeros(8)), 1.0, particles=8, steps=5)
        with self.assertRaisesRegex(ValueError, "could not convert|float"):
            genmix.align(lambda x, t: [["a", "b"]] * len(x), reward_np, 1.0, dim=2, particles=8, steps=5)
        with self.assertRaisesRegex(ValueError, "dim is required"):
            genmix.align(lambda x, t: x, reward_np, 1.0)
        with self.assertRaises(TypeError):
            genmix.align(3, reward_np, 1.0, dim=2)
        with self.assertRaisesRegex(ValueError, "alpha"):
            genmix.align("toy:gmm2", "gmm2", -1.0)
        with self.assertRaisesRegex(ValueError, "grad full needs"):
            genmix.align(lambda x, t: x, reward_np, 1.0, dim=2, grad="full")
        with self.assertRaisesRegex(ValueError, "toy"):
            genmix.align("toy:nope", "gmm2", 1.0)
        with self.assertRaisesRegex(ValueError, "schedule"):
            genmix.align("toy:gmm2", "gmm2", 1.0, schedule="quadratic")
        # every particle killed by a non-finite reward: the library's numerical error
        with self.assertRaises(genmix.Error):
            genmix.align("toy:gmm2", lambda x: (np.full(len(x), np.nan), np.zeros_like(x)), 1.0, particles=8,
                         steps=5)

    def test_no_leaks(self):
        def den(x, t):
            return 0.5 * x

        def bad(x, t):
            raise RuntimeError("x")
        refs = (sys.getrefcount(den), sys.getrefcount(bad), sys.getrefcount(reward_np))
        gc.collect()
        rss0 = rss_kb()
        for i in range(300):
            genmix.align(den, reward_np, 1.0, dim=2, particles=16, steps=5, seed=i)
            try:
                genmix.align(bad, reward_np, 1.0, dim=2, particles=16, steps=5)
            except RuntimeError:
                pass
        gc.collect()
        self.assertEqual(refs, (sys.getrefcount(den), sys.getrefcount(bad), sys.getrefcount(reward_np)))
        self.assertLess(rss_kb() - rss0, 4096)


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    unittest.main(verbosity=2)
