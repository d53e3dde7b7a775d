# SPDX-License-Identifier: MIT
"""test_python.py — unittest suite of the genmix Python package (run by tests/cli_python.sh under ctest).

Checks: the Python values equal the CLI's JSON bit for bit on the eval fixtures for every profile and metric;
FeatureStats accumulate/merge/pickle exactly; KNNStream equals pr()/prdc() bitwise for any batching; no
RSS/refcount growth over 10 000 calls; bad input raises (never crashes); the GIL is released during
computation; an example written the way prdc's compute_prdc and torch-fidelity's FD/KID are called.
Environment: GM_GENMIX = the genmix binary; PYTHONPATH holds the built package.
"""
import gc
import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import genmix
import genmix.eval as ge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
G = os.path.join(ROOT, "tests", "golden")
GENMIX = os.environ.get("GM_GENMIX", os.path.join(ROOT, "build", "genmix"))


def fixture(name):
    return np.load(os.path.join(G, name))


class Num(str):
    """A number of the CLI's JSON kept as its text; equal to a Python float that cJSON would print the same."""

    def __eq__(self, other):
        if isinstance(other, float):
            return str.__eq__(self, cjson_text(other))
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def cjson_text(v):
    """The text cJSON (1.7) writes for a double: %1.15g if that reads back within one DBL_EPSILON relative,
    else %1.17g. Two doubles with the same text here are the same JSON output."""
    s = "%1.15g" % v
    t = float(s)
    if abs(t - v) <= max(abs(t), abs(v)) * sys.float_info.epsilon:
        return s
    return "%1.17g" % v


def cli_json(*args):
    """Run `genmix --threads 2 --quiet eval ... --json` and return the first result's metrics, numbers as
    their JSON text (Num), compared with Python floats through cjson_text."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "o.json")
        subprocess.run([GENMIX, "--threads", "2", "--quiet", "eval", *args, "--json", out], check=True,
                       stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f, parse_float=Num, parse_int=Num)["results"][0]["metrics"]


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class TestCliAgreement(unittest.TestCase):
    """Python == CLI JSON, to the last printed digit: every number the CLI writes is the text cJSON makes of
    the Python value (cJSON keeps 15 significant digits when they read back within 1 ulp, else 17)."""

    @classmethod
    def setUpClass(cls):
        cls.real = fixture("eval_real.npy")   # float64
        cls.fake = fixture("eval_fake.npy")   # float32

    def check_main(self, profile):
        j = cli_json("--profile", profile, "--real", f"{G}/eval_real.npy", "--fake", f"{G}/eval_fake.npy",
                     "--metrics", "fd,kid,mmd,pr,prdc", "--kid-subsets", "10", "--kid-size", "100",
                     "--mmd-sigma", "2")
        r, f = self.real, self.fake
        fd = ge.fd(r, f, profile=profile, details=True)
        for k in ("value", "mean_term", "trace_real", "trace_gen", "trace_sqrt"):
            self.assertEqual(fd[k], j["fd"][k], f"{profile} fd {k}")
        self.assertEqual(fd["method"], j["fd"]["method"])
        self.assertEqual(ge.fd(r, f, profile=profile), j["fd"]["value"])
        kid = ge.kid(r, f, profile=profile, subsets=10, subset_size=100)
        self.assertEqual(kid["mean"], j["kid"]["mean"], f"{profile} kid mean")
        self.assertEqual(kid["std"], j["kid"]["std"], f"{profile} kid std")
        self.assertEqual(ge.mmd(r, f, sigma=2.0), j["mmd"]["value"])
        pr = ge.pr(r, f, profile=profile)
        for k in ("precision", "recall"):
            self.assertEqual(pr[k], j["prc"][k], f"{profile} pr {k}")
        self.assertEqual(str(pr["k"]), j["prc"]["k"])
        dc = ge.prdc(r, f, profile=profile)
        for k in ("precision", "recall", "density", "coverage"):
            self.assertEqual(dc[k], j["prdc"][k], f"{profile} prdc {k}")

    def test_profile_genmix(self):
        self.check_main("genmix")

    def test_profile_torch_fidelity(self):
        self.check_main("torch-fidelity")

    def test_profile_clean_fid(self):
        self.check_main("clean-fid")

    def test_profile_prdc(self):
        self.check_main("prdc")

    def test_profile_nvidia(self):
        self.check_main("nvidia")

    def test_profile_dgm_eval(self):
        self.check_main("dgm-eval")

    def test_k_and_cmp_overrides(self):
        j = cli_json("--real", f"{G}/eval_real.npy", "--fake", f"{G}/eval_fake.npy", "--metrics", "pr,prdc",
                     "--k", "7", "--cmp", "lt", "--f32")
        pr = ge.pr(self.real, self.fake, 7, cmp="lt", f32=True)
        dc = ge.prdc(self.real, self.fake, k=7, cmp="<", f32=True)
        self.assertEqual((pr["precision"], pr["recall"]), (j["prc"]["precision"], j["prc"]["recall"]))
        self.assertEqual((dc["density"], dc["coverage"]), (j["prdc"]["density"], j["prdc"]["coverage"]))

    def test_vendi_rke_prd(self):
        j = cli_json("--real", f"{G}/eval_real.npy", "--fake", f"{G}/eval_fake.npy", "--metrics", "vendi,rke,prd",
                     "--rke-sigma", "1,2", "--rke-mc", "5000", "--prd-runs", "2", "--prd-clusters", "5", "--seed", "3")
        self.assertEqual(ge.vendi(self.fake), j["vendi"]["value"])
        rk = ge.rke(self.fake, [1.0, 2.0], real=self.real, mc_pairs=5000, seed=3)
        for a, b in zip(rk, j["rke"]):
            for k in ("frobenius", "mode_count", "rke2", "rrke", "mode_count_mc"):
                self.assertEqual(a[k], b[k], f"rke {k}")
        self.assertEqual(ge.rke(self.fake, 2.0)["mode_count"], j["rke"][1]["mode_count"])
        prd = ge.prd(self.real, self.fake, clusters=5, runs=2, seed=3)
        self.assertEqual((prd["f8"], prd["f1_8"]), (j["prd"]["f8"], j["prd"]["f1_8"]))
        self.assertEqual(prd["precision"].shape, (1001,))

    def test_cmmd_fdinf(self):
        j = cli_json("--real", f"{G}/eval_real.npy", "--fake", f"{G}/eval_fake.npy", "--metrics", "cmmd,fdinf",
                     "--seed", "7", "--fdinf-points", "6")
        self.assertEqual(ge.cmmd(self.real, self.fake), j["cmmd"]["value"])
        r = ge.fd_infinity(self.real, self.fake, seed=7, points=6)
        self.assertEqual((r["value"], r["slope"]), (j["fdinf"]["value"], j["fdinf"]["slope"]))

    def test_vendi_q_and_rbf(self):
        j = cli_json("--fake", f"{G}/eval_fake.npy", "--metrics", "vendi", "--vendi-q", "inf",
                     "--vendi-kernel", "rbf:3")
        self.assertEqual(ge.vendi(self.fake, math.inf, kernel="rbf", sigma=3.0), j["vendi"]["value"])

    def test_is(self):
        for prof, extra in (("genmix", []), ("torch-fidelity", []), ("genmix", ["--is-shuffle"])):
            j = cli_json("--profile", prof, "--fake", f"{G}/eval_logits.npy", "--metrics", "is", *extra)
            m, s = ge.is_score(fixture("eval_logits.npy"), profile=prof, shuffle=True if extra else None)
            self.assertEqual((m, s), (j["is"]["mean"], j["is"]["std"]))

    def test_fortran_big_endian_and_stats_file(self):
        fb = fixture("eval_fake_fortran_be.npy")
        self.assertFalse(fb.flags["C_CONTIGUOUS"])
        j = cli_json("--real", f"{G}/eval_real.npy", "--fake", f"{G}/eval_fake_fortran_be.npy",
                     "--metrics", "fd,prdc")
        self.assertEqual(ge.fd(self.real, fb), j["fd"]["value"])
        self.assertEqual(ge.prdc(self.real, fb)["density"], j["prdc"]["density"])
        st = np.load(f"{G}/eval_real_stats.npz")
        j = cli_json("--real", f"{G}/eval_real_stats.npz", "--fake", f"{G}/eval_fake.npy", "--metrics", "fd")
        self.assertEqual(ge.fd_stats((st["mu"], st["sigma"]), ge.FeatureStats(self.fake)), j["fd"]["value"])


class TestFeatureStats(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(1)
        self.x = rng.standard_normal((3000, 16)) @ rng.standard_normal((16, 16))
        self.y = rng.standard_normal((2500, 16)).astype(np.float32) + 0.3

    def test_one_batch_equals_fd(self):
        a, b = ge.FeatureStats(self.x), ge.FeatureStats(16).add(self.y)
        self.assertEqual(ge.fd_stats(a, b), ge.fd(self.x, self.y))
        self.assertEqual((a.n, a.d), (3000, 16))

    def test_moments_match_numpy(self):
        s = ge.FeatureStats(16)
        for i in range(0, 3000, 700):
            s.add(self.x[i:i + 700])
        np.testing.assert_allclose(s.mean, self.x.mean(0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(s.cov(), np.cov(self.x, rowvar=False), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(s.cov("biased"), np.cov(self.x, rowvar=False, bias=True), rtol=1e-11, atol=1e-12)

    def test_merge_shards(self):
        shards = [ge.FeatureStats(self.x[i:i + 1000]) for i in range(0, 3000, 1000)]
        total = shards[0] + shards[1] + shards[2]
        self.assertEqual(total.n, 3000)
        whole = ge.FeatureStats(self.x)
        np.testing.assert_allclose(total.m2, whole.m2, rtol=1e-12, atol=1e-10)
        self.assertAlmostEqual(ge.fd_stats(total, ge.FeatureStats(self.y)), ge.fd(self.x, self.y), delta=1e-10)
        # merging is deterministic: the same shards in the same order give the same bits
        again = ge.FeatureStats(self.x[:1000]) + ge.FeatureStats(self.x[1000:2000]) + ge.FeatureStats(self.x[2000:])
        self.assertTrue(np.array_equal(again.m2, total.m2))
        m = ge.FeatureStats(self.x[:1000])
        self.assertIs(m.merge(shards[1]), m)
        self.assertEqual(m.n, 2000)
        self.assertEqual(shards[0].n, 1000)  # `+` did not modify its operands
        twice = ge.FeatureStats(self.x[:500])
        twice.merge(twice)                    # merging with itself pools two copies
        ref = ge.FeatureStats(np.r_[self.x[:500], self.x[:500]])
        self.assertEqual(twice.n, 1000)
        np.testing.assert_allclose(twice.m2, ref.m2, rtol=1e-12, atol=1e-10)

    def test_pickle_exact(self):
        s = ge.FeatureStats(self.x)
        t = pickle.loads(pickle.dumps(s))
        self.assertTrue(np.array_equal(s.mean, t.mean) and np.array_equal(s.m2, t.m2) and s.n == t.n)

    def test_profiles_and_tuples(self):
        a, b = ge.FeatureStats(self.x), ge.FeatureStats(self.y)
        self.assertEqual(ge.fd_stats(a, b, profile="torch-fidelity"), ge.fd(self.x, self.y, profile="torch-fidelity"))
        self.assertEqual(ge.fd_stats(a, b, cov_norm="biased"), ge.fd(self.x, self.y, profile="nvidia"))
        t = (a.mean, a.cov())
        self.assertEqual(ge.fd_stats(t, b), ge.fd_stats(a, b))


class TestKNNStream(unittest.TestCase):
    def test_bitwise_any_batching(self):
        rng = np.random.default_rng(2)
        r, f = rng.standard_normal((1300, 6)), rng.standard_normal((1100, 6)) + 0.2
        pr, dc = ge.pr(r, f), ge.prdc(r, f)
        for sizes in ((1300, 1100), (1, 7), (500, 333), (1024, 1)):
            s = ge.KNNStream(6, tile=256) if sizes == (1, 7) else ge.KNNStream(6)
            i = j = 0
            while i < len(r) or j < len(f):
                if i < len(r):
                    s.add_real(r[i:i + sizes[0]])
                    i += sizes[0]
                if j < len(f):
                    s.add_fake(f[j:j + sizes[1]])
                    j += sizes[1]
            out = s.finish()
            want_pr = pr if sizes != (1, 7) else ge.pr(r, f, tile=256)
            want_dc = dc if sizes != (1, 7) else ge.prdc(r, f, tile=256)
            for k in ("precision", "recall"):
                self.assertEqual(out["pr"][k], want_pr[k], (sizes, k))
            for k in ("precision", "recall", "density", "coverage"):
                self.assertEqual(out["prdc"][k], want_dc[k], (sizes, k))
            self.assertEqual((out["n_real"], out["n_fake"]), (1300, 1100))
            with self.assertRaises(ValueError):
                s.add_real(r[:3])
            with self.assertRaises(ValueError):
                s.finish()


class TestLeaks(unittest.TestCase):
    """10 000 calls (rotating over every entry point, errors included): refcounts of the inputs unchanged,
    live Python objects and RSS do not grow."""

    def test_10000_calls(self):
        rng = np.random.default_rng(3)
        r, f = rng.random((40, 4)), rng.random((30, 4)).astype(np.float32)
        bad = np.full((5, 4), np.nan)
        mom = (f.mean(0), np.cov(f, rowvar=False))
        yl = (r[:, 0] > 0.5).astype(int)
        model = genmix.moe.fit(r, yl, restarts=1, max_iter=50)

        def bandit():
            b = genmix.mix.Bandit(2, 4, 6, sigma=1.0)
            while not b.done:
                b.observe(f[b.select()])
            return b.counts

        def raises(fn):
            try:
                fn()
            except (ValueError, TypeError):
                return
            raise AssertionError("no error")

        calls = [
            lambda: ge.prdc(r, f, k=3),
            lambda: ge.pr(r, f),
            lambda: ge.fd(r, f, details=True),
            lambda: ge.kid(r, f, subsets=2, subset_size=10, per_subset=True),
            lambda: ge.fd_stats(ge.FeatureStats(r) + ge.FeatureStats(f), mom),
            lambda: pickle.loads(pickle.dumps(ge.FeatureStats(r))),
            lambda: ge.KNNStream(4).add_real(r).add_fake(f).finish(),
            lambda: ge.mmd(r, f, sigma=1.0),
            lambda: ge.vendi(f),
            lambda: ge.is_score(r, splits=2),
            lambda: raises(lambda: ge.prdc(r, bad)),
            lambda: raises(lambda: ge.fd(r, f[:, :2])),
            lambda: raises(lambda: ge.kid(r, f, profile="nope")),
            lambda: raises(lambda: ge.FeatureStats(4).add(r[:, :3])),
            lambda: genmix.mix.offline([r, f], sigma=1.0),
            bandit,
            lambda: (model.predict_proba(r), model.sample(5, seed=1)),
            lambda: raises(lambda: genmix.mix.offline([r, f[:, :2]], sigma=1.0)),
        ]
        for i in range(1800):
            calls[i % len(calls)]()
        gc.collect()
        rc_r, rc_f, objs, rss0 = sys.getrefcount(r), sys.getrefcount(f), len(gc.get_objects()), rss_kib()
        for i in range(10000):
            calls[i % len(calls)]()
        gc.collect()
        rss1 = rss_kib()
        self.assertEqual(sys.getrefcount(r), rc_r)
        self.assertEqual(sys.getrefcount(f), rc_f)
        self.assertLessEqual(len(gc.get_objects()), objs + 10)
        print(f"\n  RSS after warm-up {rss0} KiB, after 10 000 more calls {rss1} KiB", file=sys.stderr)
        self.assertLess(rss1 - rss0, 1024, f"RSS grew from {rss0} to {rss1} KiB")


class TestBadInput(unittest.TestCase):
    def test_errors(self):
        r = np.random.default_rng(4).random((50, 3))
        cases = [
            (ValueError, lambda: ge.fd(r, r[:, :2])),
            (ValueError, lambda: ge.fd(r[0], r)),
            (ValueError, lambda: ge.fd(np.zeros((0, 3)), r)),
            (ValueError, lambda: ge.prdc(r, np.array([[1.0, np.inf, 0.0]] * 9))),
            (ValueError, lambda: ge.prdc(r, r, k=50)),
            (ValueError, lambda: ge.prdc(r, r, k=0)),
            (TypeError, lambda: ge.prdc(r, r, k=2.5)),
            (ValueError, lambda: ge.prdc(r, r, cmp="~")),
            (ValueError, lambda: ge.kid(r, r, profile="nope")),
            (ValueError, lambda: ge.kid(r, r, subset_size=100, strict=True)),
            (ValueError, lambda: ge.fd(np.array([["a", "b"]]), r)),
            (ValueError, lambda: ge.fd(r.astype(complex), r)),
            (TypeError, lambda: ge.fd(r)),
            (TypeError, lambda: ge.fd(r, r, bogus=1)),
            (ValueError, lambda: ge.mmd(r, r, sigma=-1.0)),
            (ValueError, lambda: ge.mmd(r, r, kernel="laplace")),
            (ValueError, lambda: ge.vendi(r, -1.0)),
            (ValueError, lambda: ge.vendi(r, kernel="rbf")),
            (ValueError, lambda: ge.rke(r, 0.0)),
            (ValueError, lambda: ge.rke(r, [])),
            (ValueError, lambda: ge.is_score(np.ones((10, 4)), probs=True)),
            (ValueError, lambda: ge.FeatureStats(3).add(np.ones((4, 2)))),
            (ValueError, lambda: ge.FeatureStats(3) + ge.FeatureStats(4)),
            (ValueError, lambda: ge.FeatureStats(0)),
            (TypeError, lambda: ge.FeatureStats(3).merge(5)),
            (ValueError, lambda: ge.fd_stats((np.zeros(3), np.eye(2)), ge.FeatureStats(r))),
            (TypeError, lambda: ge.fd_stats(r, r)),
            (ValueError, lambda: ge.KNNStream(3).add_real(np.ones((2, 4)))),
            (ValueError, lambda: ge.KNNStream(3, pr=False, dc=False)),
            (ValueError, lambda: ge.KNNStream(3).add_real(r).finish()),
            (ValueError, lambda: ge.prd(r, r, clusters=0)),
        ]
        for exc, fn in cases:
            with self.assertRaises(exc):
                fn()
        # the library's message is kept
        with self.assertRaisesRegex(ValueError, r"k = 50 must be in 1..n-1"):
            ge.prdc(r, r, k=50)
        # an impossible allocation says what it was for (it was a MemoryError without a message)
        with self.assertRaisesRegex(MemoryError, r"kid: out of memory .*subsets = 4611686018427387904"):
            ge.kid(r, r, subsets=2 ** 62, subset_size=10)
        # a tile whose buffers overflow size_t (it aborted the interpreter with a heap overrun): in memory the
        # tile is cut to the row count (same bits as the default), a stream (rows unknown) refuses it
        self.assertEqual(ge.prdc(r, r, tile=2 ** 62), ge.prdc(r, r))
        with self.assertRaisesRegex(MemoryError, r"tile"):
            ge.KNNStream(3, tile=2 ** 62)
        self.assertEqual(ge.rke(r, 1.0, tile=2 ** 62), ge.rke(r, 1.0))  # (RKE: one tile of all rows)
        # the CLI's limits: a huge PRD run count ran for ever with the GIL released
        with self.assertRaisesRegex(ValueError, r"runs must be in 1..1000"):
            ge.prd(r, r, runs=2 ** 62)
        with self.assertRaisesRegex(ValueError, r"angles in 1..100000"):
            ge.prd(r, r, angles=2 ** 62)
        self.assertTrue(issubclass(genmix.Error, Exception))

    def test_layouts_without_changing_results(self):
        rng = np.random.default_rng(5)
        r, f = rng.random((60, 5)), rng.random((70, 5))
        want = ge.prdc(r, f)
        self.assertEqual(ge.prdc(np.asfortranarray(r), f), want)
        self.assertEqual(ge.prdc(r.tolist(), f.tolist()), want)
        self.assertEqual(ge.prdc(np.ascontiguousarray(r[:, ::-1])[:, ::-1], f), want)
        big = rng.random((60, 10))
        big[:, ::2] = r[:, :5] if False else big[:, ::2]
        strided = np.empty((60, 10))
        strided[:, ::2] = r
        self.assertEqual(ge.prdc(strided[:, ::2], f), want)
        self.assertEqual(ge.prdc(r.astype(">f8"), f), want)
        self.assertEqual(ge.fd((r * 1000).astype(np.int32), (f * 1000).astype(np.int64)),
                         ge.fd((r * 1000).astype(np.int32).astype(float), (f * 1000).astype(np.int64).astype(float)))


class TestNoCopy(unittest.TestCase):
    """C-order float32/float64 arrays are used in place: no NumPy allocation of their size during a call
    (NumPy reports its buffers to tracemalloc), while a Fortran-order array is copied once."""

    def peak_during(self, fn):
        import tracemalloc
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return peak

    def test_in_place(self):
        for dt in (np.float32, np.float64):
            x = np.random.default_rng(15).random((20000, 64)).astype(dt)   # 5 or 10 MB
            s = ge.FeatureStats(64)
            self.assertLess(self.peak_during(lambda: s.add(x)), 200_000, dt)
            self.assertLess(self.peak_during(lambda: ge.vendi(x[:3000])), 200_000, dt)
            xf = np.asfortranarray(x)
            self.assertGreaterEqual(self.peak_during(lambda: s.add(xf)), x.nbytes, dt)


class TestGIL(unittest.TestCase):
    def test_released_during_computation(self):
        rng = np.random.default_rng(6)
        r, f = rng.random((2000, 48)), rng.random((2000, 48))
        t0 = time.perf_counter()
        ge.prdc(r, f)
        single = time.perf_counter() - t0
        done = threading.Event()
        intervals = []

        def work():
            a = time.perf_counter()
            ge.prdc(r, f)
            intervals.append((a, time.perf_counter()))
            done.set()

        th = threading.Thread(target=work)
        stamps = []
        th.start()
        while not done.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)
        th.join()
        (a, b), = intervals
        inside = sum(1 for t in stamps if a < t < b)
        # With the GIL held for the whole call the main thread could not take a single stamp inside it.
        self.assertGreater(single, 0.02, "workload too small to tell")
        self.assertGreaterEqual(inside, 10, f"main thread ran {inside} times during a {b - a:.3f} s call")
        # Two threads in genmix at once, one of them failing repeatedly: results equal the sequential ones and
        # each thread gets its own error message (the library's error buffer is thread-local).
        want = (ge.fd(r, f), ge.prdc(r, f)["density"])
        out, errs = [], []

        def good():
            for _ in range(3):
                out.append((ge.fd(r, f), ge.prdc(r, f)["density"]))

        def failing():
            for _ in range(200):
                try:
                    ge.prdc(r[:10], f[:10, :], k=20)
                except ValueError as e:
                    errs.append(str(e))

        ts = [threading.Thread(target=good), threading.Thread(target=failing)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(out, [want] * 3)
        self.assertEqual(len(errs), 200)
        self.assertTrue(all(e.startswith("k-NN: k = 20 must be in 1..n-1") for e in errs), set(errs))

    def test_shared_object_guard(self):
        s = ge.FeatureStats(8)
        x = np.random.default_rng(7).random((20000, 8))
        errors = []

        def add():
            for _ in range(20):
                try:
                    s.add(x)
                except RuntimeError as e:
                    errors.append(e)

        ts = [threading.Thread(target=add) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(s.n, (40 - len(errors)) * 20000)


class TestExamples(unittest.TestCase):
    """Calling conventions of prdc's compute_prdc and torch-fidelity's FD/KID, against NumPy written from the
    papers' formulas (pairwise distances by broadcasting, scipy.linalg.sqrtm, RandomState subsets)."""

    def test_compute_prdc_convention(self):
        rng = np.random.default_rng(8)
        real_features, fake_features, nearest_k = rng.random((300, 8)), rng.random((250, 8)), 5
        metrics = ge.prdc(real_features, fake_features, nearest_k)   # as prdc.compute_prdc(...)
        d_rr = np.sqrt(((real_features[:, None] - real_features[None]) ** 2).sum(-1))
        d_ff = np.sqrt(((fake_features[:, None] - fake_features[None]) ** 2).sum(-1))
        d_rf = np.sqrt(((real_features[:, None] - fake_features[None]) ** 2).sum(-1))
        r_real = np.sort(d_rr, axis=1)[:, nearest_k]
        r_fake = np.sort(d_ff, axis=1)[:, nearest_k]
        want = {
            "precision": (d_rf < r_real[:, None]).any(axis=0).mean(),
            "recall": (d_rf < r_fake[None, :]).any(axis=1).mean(),
            "density": (1.0 / nearest_k) * (d_rf < r_real[:, None]).sum(axis=0).mean(),
            "coverage": (d_rf.min(axis=1) < r_real).mean(),
        }
        for k, v in want.items():
            self.assertAlmostEqual(metrics[k], v, delta=1e-12, msg=k)

    def test_torch_fidelity_convention(self):
        import scipy.linalg
        rng = np.random.default_rng(9)
        feats_real = rng.standard_normal((600, 12)).astype(np.float32)
        feats_fake = (rng.standard_normal((500, 12)) * 1.1 + 0.1).astype(np.float32)
        out = {"frechet_inception_distance": ge.fd(feats_real, feats_fake, profile="torch-fidelity")}
        kid = ge.kid(feats_real, feats_fake, profile="torch-fidelity", subsets=20, subset_size=200)
        out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"] = kid["mean"], kid["std"]
        mu1, mu2 = feats_real.mean(0).astype(np.float64), feats_fake.mean(0).astype(np.float64)
        s1, s2 = np.cov(feats_real.astype(np.float64), rowvar=False), np.cov(feats_fake.astype(np.float64), rowvar=False)
        fid = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
        self.assertAlmostEqual(out["frechet_inception_distance"], fid, delta=1e-6 * fid)
        rs = np.random.RandomState(2020)
        vals = []
        d = feats_real.shape[1]
        for _ in range(20):
            f = feats_fake[rs.choice(len(feats_fake), 200, replace=False)].astype(np.float64)
            r = feats_real[rs.choice(len(feats_real), 200, replace=False)].astype(np.float64)
            kxx, kyy, kxy = (f @ f.T / d + 1) ** 3, (r @ r.T / d + 1) ** 3, (f @ r.T / d + 1) ** 3
            m = 200
            vals.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                        - 2 * kxy.mean())
        self.assertAlmostEqual(out["kernel_inception_distance_mean"], np.mean(vals), delta=1e-5 * abs(np.mean(vals)) + 1e-7)
        self.assertAlmostEqual(out["kernel_inception_distance_std"], np.std(vals), delta=1e-4 * np.std(vals) + 1e-7)


def np_fd(mu1, s1, mu2, s2):
    """FD in NumPy: tr sqrt(S1 S2) from the eigenvalues of S1^1/2 S2 S1^1/2 (negative ones clipped)."""
    w, u = np.linalg.eigh(s1)
    h = (u * np.sqrt(np.clip(w, 0, None))) @ u.T
    ev = np.linalg.eigvalsh(h @ s2 @ h)
    return ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum()


class TestNewMetrics(unittest.TestCase):
    """CMMD and FD-infinity against NumPy written from the papers' formulas (1e-9 relative)."""

    def np_cmmd(self, x, y, sigma=10.0, unbiased=True):
        g = 1 / (2 * sigma ** 2)
        k = lambda a, b: np.exp(-g * ((a[:, None] - b[None]) ** 2).sum(-1))  # noqa: E731
        kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
        n, m = len(x), len(y)
        if unbiased:
            v = (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        else:
            v = kxx.mean() + kyy.mean() - 2 * kxy.mean()
        return 1000 * v

    def test_cmmd(self):
        rng = np.random.default_rng(13)
        x = rng.standard_normal((300, 16)) * 4
        y = rng.standard_normal((250, 16)) * 4.4 + 0.5
        for unbiased in (True, False):
            want = self.np_cmmd(x, y, unbiased=unbiased)
            got = ge.cmmd(x, y, estimator="unbiased" if unbiased else "biased")
            self.assertAlmostEqual(got, want, delta=1e-9 * abs(want))
        # unit-norm embeddings, as CLIP's: small values, still 1e-9 relative
        xu, yu = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
        want = self.np_cmmd(xu, yu)
        self.assertAlmostEqual(ge.cmmd(xu, yu), want, delta=1e-9 * abs(want))
        self.assertAlmostEqual(ge.cmmd(x, y, sigma=3.0), self.np_cmmd(x, y, 3.0), delta=1e-9 * abs(self.np_cmmd(x, y, 3.0)))
        self.assertEqual(ge.cmmd(x, y), 1000 * ge.mmd(x, y, sigma=10.0))
        with self.assertRaises(ValueError):
            ge.cmmd(x, y, sigma=0.0)
        with self.assertRaises(ValueError):
            ge.cmmd(x[:1], y)

    def test_fd_infinity(self):
        rng = np.random.default_rng(14)
        d = 32  # FD_N's O(d/N) bias then dominates the subset noise
        a = rng.standard_normal((d, d)) / np.sqrt(d)
        real = rng.standard_normal((4000, d)) @ a
        fake = rng.standard_normal((3000, d)) @ (a * 1.2) + 0.1
        res = ge.fd_infinity(real, fake, n_min=300, points=15, shuffle=False)
        ns = np.linspace(300, 3000, 15).astype(np.int32)
        self.assertTrue(np.array_equal(res["n"], ns))
        mu_r, s_r = real.mean(0), np.cov(real, rowvar=False)
        fds = np.array([np_fd(mu_r, s_r, fake[:n].mean(0), np.cov(fake[:n], rowvar=False)) for n in ns])
        np.testing.assert_allclose(res["fd"], fds, rtol=1e-9)
        slope, icpt = np.polyfit(1.0 / ns, fds, 1)
        self.assertAlmostEqual(res["value"], icpt, delta=1e-9 * abs(icpt))
        self.assertAlmostEqual(res["slope"], slope, delta=1e-9 * abs(slope))
        self.assertEqual(res["fd"][-1], ge.fd(real, fake))
        # the bias of FD_N is positive and O(1/N): the extrapolation is below the full-set FD
        self.assertGreater(res["slope"], 0)
        self.assertLess(res["value"], res["fd"][-1])
        # seeded random subsets: reproducible, and FeatureStats for the real side gives the same
        r1 = ge.fd_infinity(real, fake, n_min=300, seed=5)
        r2 = ge.fd_infinity(ge.FeatureStats(real), fake, n_min=300, seed=5)
        self.assertEqual(r1["value"], r2["value"])
        self.assertFalse(np.array_equal(r1["fd"][:-1], res["fd"][:-1]))
        with self.assertRaises(ValueError):
            ge.fd_infinity(real, fake, n_min=3000)
        with self.assertRaises(ValueError):
            ge.fd_infinity(real, fake, points=1)


class TestMix(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(10)
        self.a = rng.standard_normal((120, 3)).astype(np.float32)                  # diverse
        self.b = (0.05 * rng.standard_normal((100, 3)) + 1).astype(np.float32)      # nearly one mode
        self.c = rng.standard_normal((90, 3)).astype(np.float32) * 0.5

    def test_offline_rke_against_numpy(self):
        sigma = 1.5
        arms = [self.a, self.b, self.c]
        res = genmix.mix.offline(arms, score="rke", sigma=sigma)
        K = np.empty((3, 3))
        for i, x in enumerate(arms):
            for j, y in enumerate(arms):
                d2 = ((x[:, None, :].astype(np.float64) - y[None].astype(np.float64)) ** 2).sum(-1)
                K[i, j] = np.exp(-d2 / sigma ** 2).mean()
        np.testing.assert_allclose(res["K"], K, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res["f"], 0, atol=0)
        alpha = res["alpha"]
        self.assertAlmostEqual(alpha.sum(), 1.0, delta=1e-12)
        self.assertTrue((alpha >= 0).all())
        Kr = K + 1e-7 * np.eye(3)
        obj = alpha @ Kr @ alpha
        self.assertAlmostEqual(res["objective"], alpha @ K @ alpha, delta=1e-9)
        # KKT on the simplex: gradient equal on the support, not smaller off it
        g = 2 * Kr @ alpha
        sup = alpha > 1e-9
        self.assertLess(np.ptp(g[sup]), 1e-7)
        self.assertTrue((g[~sup] >= g[sup].min() - 1e-7).all())
        for w in np.random.default_rng(0).dirichlet(np.ones(3), 200):  # no better point
            self.assertGreaterEqual(w @ Kr @ w, obj - 1e-12)
        self.assertAlmostEqual(res["score"], 1 / res["objective"], delta=1e-9 * res["score"])
        self.assertTrue(res["higher_is_better"])

    def test_offline_kid_needs_reference(self):
        with self.assertRaisesRegex(ValueError, "reference"):
            genmix.mix.offline([self.a, self.b], score="kid", sigma=1.0)
        r = genmix.mix.offline([self.a, self.b], score="kid", sigma=1.0, reference=self.c)
        self.assertFalse(r["higher_is_better"])
        with self.assertRaises(ValueError):
            genmix.mix.offline([self.a, self.b], score="rke")          # sigma required
        with self.assertRaises(ValueError):
            genmix.mix.offline([self.a, self.b[:, :2]], score="rke", sigma=1.0)
        with self.assertRaises(ValueError):
            genmix.mix.offline([self.a], score="fid", sigma=1.0)

    def test_bandit_drives_a_sampler(self):
        rng = np.random.default_rng(11)
        T, sigma = 240, 1.5
        b = genmix.mix.Bandit(2, 3, T, score="rke", algo="cab", sigma=sigma, seed=1)
        pools = [self.a, self.b]
        seen = []
        taken = [0, 0]
        while not b.done:
            i = b.select()
            x = pools[i][taken[i] % len(pools[i])] + 1e-3 * rng.standard_normal(3).astype(np.float32)
            taken[i] += 1
            b.observe(x)
            seen.append(x)
        self.assertEqual(b.t, T)
        self.assertEqual(b.counts.sum(), T)
        self.assertGreater(b.counts[0], b.counts[1])       # the diverse generator wins most pulls
        X = np.array(seen, dtype=np.float64)
        d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
        self.assertAlmostEqual(b.objective, np.exp(-d2 / sigma ** 2).mean(), delta=1e-9)
        self.assertAlmostEqual(b.score, 1 / b.objective, delta=1e-9 * b.score)
        with self.assertRaises(ValueError):
            b.select()                                      # horizon reached
        b2 = genmix.mix.Bandit(2, 3, 10, sigma=1.0)
        with self.assertRaises(ValueError):
            b2.observe(self.a[0])                           # observe before select
        b2.select()
        with self.assertRaises(ValueError):
            b2.observe(self.a[0][:2])
        with self.assertRaises(ValueError):
            b2.observe(self.a[0], arm=5)
        with self.assertRaises(ValueError):
            genmix.mix.Bandit(2, 3, 10, sigma=1.0, algo="nope")


class TestMoE(unittest.TestCase):
    """genmix.moe against `genmix moe fit` / `genmix moe sample` on the same data and seeds."""

    def test_fit_and_sample_match_cli(self):
        rng = np.random.default_rng(12)
        X = rng.uniform(-1, 1, (300, 2))
        y = ((X[:, 0] + 0.3 * rng.standard_normal(300)) > 0).astype(int) + (X[:, 1] > 0.5)
        m = genmix.moe.fit(X, y, experts=2, restarts=3, seed=0)
        with tempfile.TemporaryDirectory() as d:
            np.savetxt(f"{d}/d.csv", np.c_[X, y], delimiter=",", header="a,b,y", comments="",
                       fmt=["%.17g", "%.17g", "%d"])
            out = subprocess.run([GENMIX, "--quiet", "moe", "fit", "--csv", f"{d}/d.csv", "--target", "y",
                                  "--experts", "2", "--restarts", "3", "--seed", "0", "--json", "--out",
                                  f"{d}/m.json"], check=True, capture_output=True, text=True).stdout
            j = json.loads(out, parse_float=Num)
            self.assertEqual(Num(j["loglik"]), m.info["loglik"])
            self.assertEqual(Num(j["bic"]), m.info["bic"])
            subprocess.run([GENMIX, "--quiet", "moe", "sample", "--model", f"{d}/m.json", "--n", "50", "--seed", "3",
                            "--expert", "--out", f"{d}/s.csv"], check=True, stdout=subprocess.DEVNULL)
            cli = np.loadtxt(f"{d}/s.csv", delimiter=",", skiprows=1)
        Xs, ys, zs = m.sample(50, seed=3)
        np.testing.assert_allclose(Xs, cli[:, :2], rtol=0, atol=1e-15)
        self.assertTrue(np.array_equal(ys, cli[:, 2].astype(int)) and np.array_equal(zs, cli[:, 3].astype(int)))
        P = m.predict_proba(X)
        np.testing.assert_allclose(P.sum(1), 1, atol=1e-12)
        self.assertTrue(np.array_equal(m.predict(X), P.argmax(1)))
        self.assertGreater((m.predict(X) == y).mean(), 0.7)
        self.assertEqual(m.W.shape, (3, 2))
        self.assertEqual(m.V.shape, (2, 3, 3))
        np.testing.assert_allclose(m.gate_proba(X).sum(1), 1, atol=1e-12)
        k, fits = genmix.moe.select(X, y, 2, restarts=2)
        self.assertIn(k, (1, 2))
        self.assertEqual(len(fits), 2)
        with self.assertRaises(ValueError):
            genmix.moe.fit(X, y[:-1])
        with self.assertRaises(ValueError):
            genmix.moe.fit(X, y + 0.5)
        with self.assertRaises(ValueError):
            m.predict(X[:, :1])
        with self.assertRaises(ValueError):
            genmix.moe.fit(X, y, gate="relu")


class TestLoad(unittest.TestCase):
    """genmix.load(path).sample(n) == `genmix sample` on a tiny trained VAE (bitwise)."""

    def test_sample_matches_cli(self):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([GENMIX, "--quiet", "train", "vae", "--data", "fashion-mnist", "--limit", "200",
                                "--hidden", "16,8", "--latent", "3", "--batch", "50", "--epochs", "1", "--out",
                                f"{d}/m.st"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                self.skipTest("cannot train the tiny model: " + r.stderr.strip())
            ae = genmix.load(f"{d}/m.st")
            self.assertEqual((ae.info["type"], ae.info["latent_dim"], ae.info["data_dim"]), ("vae", 3, 784))
            for steps in (0, 2):
                subprocess.run([GENMIX, "--quiet", "sample", "--model", f"{d}/m.st", "--n", "6", "--seed", "4",
                                "--mcmc-steps", str(steps), "--out", f"{d}/s.npy"], check=True,
                               stdout=subprocess.DEVNULL)
                x = ae.sample(6, seed=4, steps=steps)
                self.assertEqual(x.dtype, np.float32)
                self.assertTrue(np.array_equal(x, np.load(f"{d}/s.npy")), f"steps {steps}")
            mu, lv = ae.encode(x)
            self.assertEqual(ae.decode(mu).shape, (6, 784))
            with self.assertRaises(ValueError):
                ae.decode(np.zeros((2, 4)))
            with self.assertRaises(ValueError):
                ae.sample(0)
            with self.assertRaisesRegex(ValueError, r"steps in 0..1000000"):  # (ran for ever, GIL released)
                ae.sample(2, steps=2 ** 62)
        with self.assertRaises(Exception) as cm:
            genmix.load(os.path.join(G, "eval_real.npy"))
        self.assertIsInstance(cm.exception, (genmix.Error, ValueError))
        with self.assertRaisesRegex(genmix.Error, "cannot open"):
            genmix.load("/nonexistent/model.safetensors")
        with self.assertRaisesRegex(genmix.Error, r"\\xff: cannot open"):  # a non-UTF-8 name stays visible
            genmix.load(b"/nonexistent/\xff")


class TestDocs(unittest.TestCase):
    def test_docstrings(self):
        for mod in (ge, genmix.mix, genmix.moe):
            for name in mod.__all__:
                doc = getattr(mod, name).__doc__
                self.assertTrue(doc and len(doc) > 80, name)
        self.assertTrue(len(genmix.load.__doc__) > 80)
        self.assertIn("nearest_k", ge.prdc.__doc__)
        self.assertEqual(genmix.__version__, genmix.version())
        out = subprocess.run([GENMIX, "--version"], capture_output=True, text=True, check=True).stdout
        self.assertIn(genmix.__version__, out.splitlines()[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
