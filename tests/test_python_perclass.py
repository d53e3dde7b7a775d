# SPDX-License-Identifier: MIT
"""test_python_perclass.py — per-class metrics (labels=) of genmix.eval against NumPy references of the
metrics' formulas (1e-9 relative), bad labels, and ADM/EDM-style reference statistics (.npz with mu/sigma
plus other members, float32 mu) read by `genmix eval` (run by tests/cli_python_extra.sh).
Environment: GM_GENMIX = the genmix binary; PYTHONPATH holds the built package.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np

import genmix
import genmix.eval as ge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENMIX = os.environ.get("GM_GENMIX", os.path.join(ROOT, "build", "genmix"))


def fd_ref(x, y):
    """||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2), S unbiased; tr sqrt by eigh (similarity)."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    w, u = np.linalg.eigh(s1)
    v = u * np.sqrt(np.maximum(w, 0))
    ev = np.linalg.eigvalsh(v.T @ s2 @ v)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.maximum(ev, 0)).sum())


def kid_ref(real, fake, subsets=100, m=1000, seed=2020):
    """Unbiased MMD^2 with k = (x.y/d + 1)^3 over subsets drawn by RandomState(seed).choice (fake, then real);
    m shrinks to the smaller set; mean and std (ddof 0)."""
    m = min(m, len(real), len(fake))
    d = real.shape[1]
    rng = np.random.RandomState(seed)
    v = []
    for _ in range(subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        b = (x @ y.T / d + 1) ** 3
        v.append((a.sum() - np.diag(a).sum()) / (m * (m - 1)) - 2 * b.sum() / (m * m))
    return float(np.mean(v)), float(np.std(v))


def sqdist(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def knn_ref(real, fake, k, le):
    """k-NN precision/recall (radius = distance to the k-th neighbour, self excluded), density, coverage."""
    cmp = np.less_equal if le else np.less
    rr = np.sort(sqdist(real, real), 1)[:, k]
    rf = np.sort(sqdist(fake, fake), 1)[:, k]
    d = sqdist(real, fake)
    inside = cmp(d, rr[:, None])
    return {"precision": inside.any(0).mean(), "recall": cmp(d, rf[None, :]).any(1).mean(),
            "density": inside.sum(0).mean() / k, "coverage": (d.min(1) < rr).mean()}


class TestPerClass(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(7)
        cls.lr = np.repeat([3, 0, 7], [150, 120, 90])
        cls.lf = np.repeat([7, 3, 0], [80, 140, 110])
        cls.real = rng.standard_normal((len(cls.lr), 6)) + cls.lr[:, None] * 0.3
        cls.fake = rng.standard_normal((len(cls.lf), 6)) * 1.1 + cls.lf[:, None] * 0.25
        cls.classes = [0, 3, 7]

    def sub(self, c):
        return self.real[self.lr == c], self.fake[self.lf == c]

    def test_fd(self):
        out = ge.fd(self.real, self.fake, labels=(self.lr, self.lf))
        self.assertEqual(out["labels"].tolist(), self.classes)
        self.assertEqual(out["n_real"].tolist(), [120, 150, 90])
        self.assertEqual(out["n_fake"].tolist(), [110, 140, 80])
        want = [fd_ref(*self.sub(c)) for c in self.classes]
        np.testing.assert_allclose(out["value"], want, rtol=1e-9)
        self.assertAlmostEqual(out["class_mean"]["value"], np.mean(want), delta=1e-9 * np.mean(want))
        # each class value is the whole-set function on that class's rows, bit for bit
        self.assertEqual(out["value"][1], ge.fd(*self.sub(3)))

    def test_kid(self):
        out = ge.kid(self.real, self.fake, labels=(self.lr, self.lf), subsets=20)
        for i, c in enumerate(self.classes):
            m, s = kid_ref(*self.sub(c), subsets=20)
            self.assertAlmostEqual(out["mean"][i], m, delta=1e-9 * abs(m) + 1e-15)
            self.assertAlmostEqual(out["std"][i], s, delta=1e-9 * abs(s) + 1e-15)
        self.assertAlmostEqual(out["class_mean"]["mean"], out["mean"].mean(), delta=1e-15)

    def test_prdc_and_pr(self):
        out = ge.prdc(self.real, self.fake, 5, labels=(self.lr, self.lf))
        pr = ge.pr(self.real, self.fake, 3, labels=(self.lr, self.lf))
        for i, c in enumerate(self.classes):
            want = knn_ref(*self.sub(c), 5, le=False)
            for key in ("precision", "recall", "density", "coverage"):
                self.assertAlmostEqual(out[key][i], want[key], delta=1e-12, msg=(c, key))
            want = knn_ref(*self.sub(c), 3, le=True)
            self.assertAlmostEqual(pr["precision"][i], want["precision"], delta=1e-12)
            self.assertAlmostEqual(pr["recall"][i], want["recall"], delta=1e-12)
        self.assertAlmostEqual(out["class_mean"]["density"], out["density"].mean(), delta=1e-15)

    def test_bad_labels(self):
        with self.assertRaisesRegex(ValueError, "class 5 has generated rows but no real rows"):
            lf = self.lf.copy()
            lf[0] = 5
            ge.fd(self.real, self.fake, labels=(self.lr, lf))
        with self.assertRaisesRegex(ValueError, "fake_labels: expected a 1-D array of 330"):
            ge.fd(self.real, self.fake, labels=(self.lr, self.lf[:-1]))
        with self.assertRaisesRegex(ValueError, "integer"):
            ge.kid(self.real, self.fake, labels=(self.lr, self.lf.astype(float)))
        with self.assertRaisesRegex(ValueError, "pair"):
            ge.prdc(self.real, self.fake, labels=self.lr)
        with self.assertRaisesRegex(ValueError, "class 7"):  # 2 generated rows of class 7: FD needs >= 2 ...
            lf = np.where(self.lf == 7, 0, self.lf)
            lf[:1] = 7
            ge.fd(self.real, self.fake, labels=(self.lr, lf))


    def test_cli_labels(self):
        # genmix eval --labels (generated) --real-labels: per-class fd/kid/prdc in the JSON, equal to the
        # Python values (same library path) and to the NumPy references
        with tempfile.TemporaryDirectory() as t:
            f = {n: os.path.join(t, n + ".npy") for n in ("r", "f", "lr", "lf")}
            for n, a in (("r", self.real), ("f", self.fake), ("lr", self.lr), ("lf", self.lf.astype(np.int32))):
                np.save(f[n], a)
            js = os.path.join(t, "o.json")
            out = subprocess.run([GENMIX, "--quiet", "eval", "--real", f["r"], "--fake", f["f"], "--metrics",
                                  "fd,kid,prdc", "--kid-subsets", "20", "--labels", f["lf"], "--real-labels",
                                  f["lr"], "--json", js], capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("FD class mean (3)", out.stdout)
            m = json.load(open(js))["results"][0]["metrics"]
        fd = ge.fd(self.real, self.fake, labels=(self.lr, self.lf))
        kid = ge.kid(self.real, self.fake, labels=(self.lr, self.lf), subsets=20)
        prdc = ge.prdc(self.real, self.fake, labels=(self.lr, self.lf))
        for i, c in enumerate(self.classes):
            self.assertEqual([e["label"] for e in m["fd"]["per_class"]], self.classes)
            self.assertAlmostEqual(m["fd"]["per_class"][i]["value"], fd["value"][i], delta=1e-14 * fd["value"][i])
            self.assertAlmostEqual(m["fd"]["per_class"][i]["value"], fd_ref(*self.sub(c)), delta=1e-9 * fd["value"][i])
            self.assertAlmostEqual(m["kid"]["per_class"][i]["mean"], kid["mean"][i], delta=1e-14 * abs(kid["mean"][i]))
            self.assertEqual(m["prdc"]["per_class"][i]["coverage"], prdc["coverage"][i])
            self.assertEqual(m["prdc"]["per_class"][i]["n_real"], [120, 150, 90][i])
        self.assertAlmostEqual(m["fd"]["per_class_mean"]["value"], fd["class_mean"]["value"], delta=1e-14)
        # a generated class without real rows: exit 1 naming the class
        with tempfile.TemporaryDirectory() as t:
            lf = self.lf.copy()
            lf[0] = 9
            for n, a in (("r", self.real), ("f", self.fake), ("lr", self.lr), ("lf", lf)):
                np.save(os.path.join(t, n + ".npy"), a)
            out = subprocess.run([GENMIX, "--quiet", "eval", "--real", os.path.join(t, "r.npy"), "--fake",
                                  os.path.join(t, "f.npy"), "--metrics", "fd", "--labels", os.path.join(t, "lf.npy"),
                                  "--real-labels", os.path.join(t, "lr.npy")], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1)
            self.assertIn("class 9 has generated rows but no real rows", out.stderr)


class TestReferenceNpz(unittest.TestCase):
    def test_adm_style_npz(self):
        # ADM's reference batches: arr_0 (images), mu (float32 from np.mean of float32 features), sigma
        # (float64 from np.cov), mu_s / sigma_s (spatial features); EDM-style: mu, sigma only
        rng = np.random.default_rng(3)
        real = rng.standard_normal((400, 16)).astype(np.float32)
        fake = (rng.standard_normal((300, 16)) * 1.1).astype(np.float32)
        mu, sigma = real.mean(0), np.cov(real, rowvar=False)
        self.assertEqual(mu.dtype, np.float32)
        with tempfile.TemporaryDirectory() as t:
            adm, edm, fk = (os.path.join(t, n) for n in ("ref_adm.npz", "ref_edm.npz", "fake.npy"))
            np.savez(adm, arr_0=np.zeros((4, 8, 8, 3), np.uint8), mu=mu, sigma=sigma, mu_s=mu[:4],
                     sigma_s=np.eye(4))
            np.savez(edm, mu=mu.astype(np.float64), sigma=sigma)
            np.save(fk, fake)
            want = ge.fd_stats((mu.astype(np.float64), sigma), ge.FeatureStats(fake))
            for ref in (adm, edm):
                out = subprocess.run([GENMIX, "--quiet", "eval", "--real", ref, "--fake", fk, "--metrics", "fd",
                                      "--json", os.path.join(t, "o.json")], capture_output=True, text=True)
                self.assertEqual(out.returncode, 0, out.stderr)
                got = json.load(open(os.path.join(t, "o.json")))["results"][0]["metrics"]["fd"]["value"]
                self.assertAlmostEqual(got, want, delta=1e-12 * want)


if __name__ == "__main__":
    unittest.main(verbosity=2)
