#!/usr/bin/env python
"""Cost curves: seconds per EM / Baum-Welch iteration against the problem
size, gmscore vs scikit-learn (GaussianMixture) and hmmlearn (GaussianHMM),
with fitted growth exponents and the machine's measured limits.

    python asv_bench/cost_curves.py [--quick] [--threads T] [--budget S]
                                    [--peer-max-fit S] [--max-fit S]
                                    [--n-iter I] [--repeat R]
                                    [--curves N_diag,K_full,...]
                                    [--json PATH] [--png PATH]

Curves (one parameter varies, the others fixed):

    N_diag   GaussianMixture diag, N = 1e4..1e7,  D=8,  K=8
    N_full   GaussianMixture full, N = 1e4..1e7,  D=16, K=16
    K_diag   GaussianMixture diag, K = 2..256,    N=1e5, D=16
    K_full   GaussianMixture full, K = 2..256,    N=1e5, D=16
    D_diag   GaussianMixture diag, D = 2..256,    N=5e4, K=8
    D_full   GaussianMixture full, D = 2..256,    N=5e4, K=8
    T_hmm    GaussianHMM diag, T = 1e4..1e7 frames (sequences of 1000), D=10, K=8
    K_hmm    GaussianHMM diag, K = 2..256 states, T=1e5 frames, D=10

Every point fits float64 data (a fixed-seed mixture, or a sticky HMM's
states with Gaussian noise) from the same start for both libraries (the
generating means plus noise, unit covariances, uniform weights; HMMs with
init_params=''), runs exactly --n-iter iterations (tol=0; hmmlearn
tol=-inf), and s/it is the median over --repeat fits of fit time / n_iter
(validation and scikit-learn's final E-step included: it is what a user
pays; small points are dominated by such fixed costs, which is why the
exponents are fitted over the asymptotic points only).  Each timed fit
follows an untimed 1-iteration fit of the same configuration.  gmscore runs
with n_threads=T; the peers' only threading is BLAS, pinned to T threads
with threadpoolctl.

Growth exponent: least squares slope of log(s/it) on log(x) over the points
with x >= the curve's ``asymptotic_from`` (listed in the output; where fewer
than two such points were measured, the two largest measured ones).  Machine
limits: read bandwidth (numpy sum of a 512 MiB array, T chunks summed by T
threads at once; the ufunc releases the GIL) and the GEMM rate (numpy
matmul of 4096 x 4096 float64 with BLAS pinned to T threads).  gmscore's
diag iterations are expressed as achieved GB/s (bytes of X, read once per
iteration, / s/it: a lower bound of the traffic) and its full iterations as
achieved GFLOP/s (4 N K D^2 per iteration: the E-step's (x - mu_k) times
the D x D precision factor and the accumulation of the K weighted D x D
second moments, each counted as a dense 2 N D^2 GEMM per component).

A point is skipped when its predicted fit time (from the library's previous
measured point and the curve's expected exponent, so a slow outlier there
skips the rest of that library's curve) exceeds --peer-max-fit (gmscore:
--max-fit), or, for a peer, its predicted
memory exceeds 70 % of MemAvailable; any point is skipped once the --budget
is spent.  Skipped points are listed, never extrapolated.  --quick runs a
few small points of each curve (< 1 minute): a smoke test.

Writes the results to --json (default asv_bench/results/cost_curves.json) and a
log-log plot to --png (default asv_bench/cost_curves.png; needs matplotlib,
in the ``bench`` extra).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks import common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMES_PER_SEQUENCE = 1000


@dataclass(frozen=True)
class Curve:
    name: str
    model: str  # "gmm" or "hmm"
    covariance_type: str
    vary: str  # "N", "K", "D" or "T"
    fixed: dict
    points: tuple
    quick_points: tuple
    asymptotic_from: float
    expected: float  # expected growth exponent (for predicting skipped points)

    @property
    def peer(self):
        return "hmmlearn" if self.model == "hmm" else "sklearn"

    def size(self, x):
        s = dict(self.fixed)
        s[self.vary] = int(x)
        return s


_N_POINTS = (10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000)
_POW2 = (2, 4, 8, 16, 32, 64, 128, 256)
CURVES = {c.name: c for c in [
    Curve("N_diag", "gmm", "diag", "N", {"D": 8, "K": 8}, _N_POINTS,
          (10_000, 30_000, 100_000), 100_000, 1.0),
    Curve("N_full", "gmm", "full", "N", {"D": 16, "K": 16}, _N_POINTS,
          (10_000, 30_000, 100_000), 100_000, 1.0),
    Curve("K_diag", "gmm", "diag", "K", {"N": 100_000, "D": 16}, _POW2, (2, 8, 32), 16, 1.0),
    Curve("K_full", "gmm", "full", "K", {"N": 100_000, "D": 16}, _POW2, (2, 8, 32), 16, 1.0),
    Curve("D_diag", "gmm", "diag", "D", {"N": 50_000, "K": 8}, _POW2, (2, 8, 32), 16, 1.0),
    Curve("D_full", "gmm", "full", "D", {"N": 50_000, "K": 8}, _POW2, (2, 8, 32), 32, 2.0),
    Curve("T_hmm", "hmm", "diag", "T", {"D": 10, "K": 8}, _N_POINTS,
          (10_000, 30_000, 100_000), 100_000, 1.0),
    Curve("K_hmm", "hmm", "diag", "K", {"T": 100_000, "D": 10}, _POW2, (2, 8, 32), 32, 2.0),
]}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a few small points per curve (< 1 min)")
    p.add_argument("--threads", type=int, default=2,
                   help="gmscore n_threads and the peers' BLAS threads (default 2)")
    p.add_argument("--curves", default=",".join(CURVES),
                   help="comma-separated subset of " + ",".join(CURVES))
    p.add_argument("--n-iter", type=int, default=None, help="iterations per fit (3; --quick 2)")
    p.add_argument("--repeat", type=int, default=None, help="fits per point (3; --quick 1)")
    p.add_argument("--budget", type=float, default=3600.0,
                   help="seconds for the whole run; later points are skipped (default 3600)")
    p.add_argument("--peer-max-fit", type=float, default=60.0,
                   help="skip a peer point whose predicted fit time exceeds this (default 60 s)")
    p.add_argument("--max-fit", type=float, default=300.0,
                   help="skip a gmscore point whose predicted fit time exceeds this "
                        "(default 300 s)")
    p.add_argument("--json", default=os.path.join(HERE, "results", "cost_curves.json"),
                   help="results file (default asv_bench/results/cost_curves.json, not committed)")
    p.add_argument("--png", default=os.path.join(HERE, "cost_curves.png"),
                   help="log-log plot (default asv_bench/cost_curves.png, shown in the README)")
    args = p.parse_args(argv)
    args.curves = [c.strip() for c in args.curves.split(",") if c.strip()]
    unknown = [c for c in args.curves if c not in CURVES]
    if unknown:
        p.error(f"unknown curves {unknown}; choose from {list(CURVES)}")
    args.n_iter = args.n_iter or (2 if args.quick else 3)
    args.repeat = args.repeat or (1 if args.quick else 3)
    if min(args.n_iter, args.repeat, args.threads) < 1 \
            or min(args.budget, args.max_fit, args.peer_max_fit) <= 0:
        p.error("--n-iter, --repeat, --threads, --budget and the --*max-fit caps must be positive")
    return args


# ------------------------------------------------------------------ machine limits
def read_bandwidth(threads, mib=512, repeat=5):
    """Read bandwidth in GB/s: ``threads`` chunks of a ``mib`` MiB float64
    array summed concurrently, best of ``repeat``."""
    a = np.ones(mib * 2**20 // 8)
    chunks = np.array_split(a, threads)
    best = np.inf
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeat):
            t0 = time.perf_counter()
            list(pool.map(np.sum, chunks))
            best = min(best, time.perf_counter() - t0)
    return a.nbytes / best / 1e9


def gemm_rate(threads, n=4096, repeat=3):
    """GEMM rate in GFLOP/s: an n x n float64 matmul (2 n^3 flops) with BLAS
    pinned to ``threads``, best of ``repeat``."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    best = np.inf
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b  # warm-up
        for _ in range(repeat):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


# ------------------------------------------------------------------ data and models
def gmm_problem(cov, N, D, K, seed=0):
    """(X, start) of a GMM point: K clusters of unit-variance noise around
    means uniform in [-4, 4]^D; the start is the means plus noise, unit
    covariances, uniform weights."""
    rng = np.random.default_rng([seed, N, D, K])
    means = rng.uniform(-4.0, 4.0, size=(K, D))
    labels = rng.integers(K, size=N)
    X = rng.standard_normal((N, D))
    for lo in range(0, N, 1 << 18):  # in blocks: no second N x D temporary
        X[lo:lo + (1 << 18)] += means[labels[lo:lo + (1 << 18)]]
    prec = np.ones((K, D)) if cov == "diag" else np.tile(np.eye(D), (K, 1, 1))
    start = {"weights_init": np.full(K, 1.0 / K),
             "means_init": means + rng.normal(scale=0.3, size=(K, D)),
             "precisions_init": prec}
    return X, start


def hmm_problem(T, D, K, seed=0):
    """(X, lengths, start) of an HMM point: a sticky chain (stay 0.9) over K
    states with unit-variance Gaussian emissions, sequences of 1000 frames."""
    rng = np.random.default_rng([seed, T, D, K])
    n_seq = max(1, T // FRAMES_PER_SEQUENCE)
    T = n_seq * FRAMES_PER_SEQUENCE
    fresh = rng.integers(K, size=T)
    jumps = rng.random(T) >= 0.9
    jumps[::FRAMES_PER_SEQUENCE] = True
    states = fresh[np.maximum.accumulate(np.where(jumps, np.arange(T), 0))]
    means = rng.uniform(-4.0, 4.0, size=(K, D))
    X = rng.standard_normal((T, D))
    X += means[states]
    trans = np.full((K, K), 0.1 / K) + 0.9 * np.eye(K)
    start = {"startprob_": np.full(K, 1.0 / K), "transmat_": trans / trans.sum(1, keepdims=True),
             "means_": means + rng.normal(scale=0.3, size=(K, D)), "covars_": np.ones((K, D))}
    return X, np.full(n_seq, FRAMES_PER_SEQUENCE, dtype=np.int64), start


def make_gmm(library, cov, K, start, n_iter, threads):
    kw = dict(covariance_type=cov, max_iter=n_iter, tol=0, **start)
    if library == "gmscore":
        import gmscore

        return gmscore.GaussianMixture(K, n_threads=threads, **kw)
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(K, **kw)


def make_hmm(library, K, start, n_iter, threads):
    kw = dict(covariance_type="diag", n_iter=n_iter, init_params="")
    if library == "gmscore":
        import gmscore

        model = gmscore.GaussianHMM(K, tol=0, n_threads=threads, **kw)
    else:
        from hmmlearn.hmm import GaussianHMM

        model = GaussianHMM(K, tol=-np.inf, random_state=0, **kw)
    for attr, value in start.items():
        setattr(model, attr, value.copy())
    return model


def peer_memory_bytes(curve, s):
    """Rough peak memory of the peer's fit (data included): scikit-learn
    keeps several (N, K) float64 arrays and (for full) an (N, D) copy per
    component; hmmlearn several (T, K) arrays."""
    if curve.model == "hmm":
        return 8.0 * s["T"] * (2 * s["D"] + 6 * s["K"])
    return 8.0 * s["N"] * (3 * s["D"] + 5 * s["K"])


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024.0
    except OSError:
        pass
    return np.inf


# ------------------------------------------------------------------ timing
def time_point(curve, s, libraries, args):
    """{library: s/it} of one point; the data is made once for both."""
    if curve.model == "hmm":
        X, lengths, start = hmm_problem(s["T"], s["D"], s["K"])

        def make(lib, n_iter):
            return make_hmm(lib, s["K"], start, n_iter, args.threads)
    else:
        X, start = gmm_problem(curve.covariance_type, s["N"], s["D"], s["K"])
        lengths = None

        def make(lib, n_iter):
            return make_gmm(lib, curve.covariance_type, s["K"], start, n_iter, args.threads)

    times = {lib: [] for lib in libraries}
    for _ in range(args.repeat):
        for lib in libraries:
            with threadpool_limits(limits=args.threads, user_api="blas"):
                common.fit_quietly(make(lib, 1), X, lengths)  # untimed
                est = make(lib, args.n_iter)
                t0 = time.perf_counter()
                common.fit_quietly(est, X, lengths)
                times[lib].append((time.perf_counter() - t0) / args.n_iter)
            if lib != "gmscore":
                time.sleep(0.5)  # let the peer's OpenBLAS threads stop spinning
    return {lib: statistics.median(v) for lib, v in times.items()}, X.nbytes


def achieved(curve, s, spi, x_bytes):
    """gmscore's achieved rate at a point: (value, unit)."""
    if curve.model == "gmm" and curve.covariance_type == "diag":
        return x_bytes / spi / 1e9, "GB/s"
    if curve.model == "gmm":
        return 4.0 * s["N"] * s["K"] * s["D"] ** 2 / spi / 1e9, "GFLOP/s"
    return None, None


def fit_exponent(xs, ys, start):
    """(slope, the x used): over the measured points with x >= ``start``;
    where fewer than two are (--quick, or skipped points), over the two
    largest measured points."""
    measured = [(x, y) for x, y in zip(xs, ys) if y is not None]
    pts = [(x, y) for x, y in measured if x >= start]
    asymptotic = len(pts) >= 2
    if not asymptotic:
        pts = measured[-2:]
    if len(pts) < 2:
        return None, [p[0] for p in pts], False
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0]), [p[0] for p in pts], asymptotic


def run_curve(curve, args, t_start):
    points = curve.quick_points if args.quick else curve.points
    libs = ["gmscore", curve.peer]
    res = {**curve_info(curve), "points": []}
    last = {}  # library -> (x, s/it) of its last measured point
    for x in points:
        s = curve.size(x)
        row = {"x": int(x), "size": s, "s_per_it": {}, "skipped": {}}
        if time.perf_counter() - t_start > args.budget:
            row["skipped"] = {lib: "budget spent" for lib in libs}
            res["points"].append(row)
            print(f"  {curve.vary}={x}: skipped (budget spent)", flush=True)
            continue
        run = []
        for lib in libs:
            cap, opt = ((args.max_fit, "--max-fit") if lib == "gmscore"
                        else (args.peer_max_fit, "--peer-max-fit"))
            if lib in last:
                x0, t0 = last[lib]
                # n_iter timed iterations plus the untimed 1-iteration fit
                predicted = t0 * (x / x0) ** curve.expected * (args.n_iter + 1)
                if predicted > cap:
                    row["skipped"][lib] = f"predicted fit {predicted:.0f} s > {opt} {cap:g} s"
                    continue
            if lib != "gmscore" and peer_memory_bytes(curve, s) > 0.7 * mem_available():
                row["skipped"][lib] = (f"predicted memory {peer_memory_bytes(curve, s) / 1e9:.1f}"
                                       " GB > 70% of MemAvailable")
                continue
            run.append(lib)
        spi, x_bytes = time_point(curve, s, run, args) if run else ({}, 0)
        for lib, t in spi.items():
            row["s_per_it"][lib] = t
            last[lib] = (x, t)
        if "gmscore" in spi:
            row["achieved"], row["achieved_unit"] = achieved(curve, s, spi["gmscore"], x_bytes)
        res["points"].append(row)
        text = "; ".join([f"{lib} {t:.4g} s/it" for lib, t in spi.items()]
                         + [f"{lib} skipped: {why}" for lib, why in row["skipped"].items()])
        print(f"  {curve.vary}={x}: {text}", flush=True)
    res["exponents"] = {}
    for lib in libs:
        xs = [p["x"] for p in res["points"]]
        ys = [p["s_per_it"].get(lib) for p in res["points"]]
        slope, used, asymptotic = fit_exponent(xs, ys, curve.asymptotic_from)
        res["exponents"][lib] = {"exponent": slope, "points": used, "asymptotic": asymptotic}
    return res


# ------------------------------------------------------------------ output
def curve_info(curve):
    return {"name": curve.name, "model": curve.model, "covariance_type": curve.covariance_type,
            "vary": curve.vary, "fixed": curve.fixed, "asymptotic_from": curve.asymptotic_from}


def curve_title(r):
    fixed = ", ".join(f"{k}={v:_}" for k, v in r["fixed"].items())
    kind = "GaussianHMM" if r["model"] == "hmm" else "GaussianMixture"
    return f"{kind} {r['covariance_type']}: s/it vs {r['vary']} ({fixed})"


def plot(results, limits, path, threads):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written (pip install '.[bench]')")
        return False
    n = len(results)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax, r in zip(axes.flat, results):
        for lib, style in (("gmscore", "o-"), ("sklearn", "s--"), ("hmmlearn", "s--")):
            pts = [(p["x"], p["s_per_it"][lib]) for p in r["points"] if lib in p["s_per_it"]]
            if not pts:
                continue
            fitted = r["exponents"].get(lib, {})
            e = fitted.get("exponent")
            # *: fitted below the asymptotic range (see the text output)
            star = "" if fitted.get("asymptotic") else "*"
            label = lib + ("" if e is None else f" (slope {e:.2f}{star})")
            ax.loglog(*zip(*pts), style, label=label, markersize=4)
        if r["vary"] in ("K", "D"):  # powers of two: plain tick labels
            from matplotlib.ticker import NullFormatter, ScalarFormatter

            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(curve_title(r), fontsize=8)
        ax.set_xlabel(r["vary"])
        ax.set_ylabel("s / iteration")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"gmscore vs peers, {threads} threads, float64; machine: read "
                 f"{limits['read_gb_s']:.1f} GB/s, GEMM {limits['gemm_gflop_s']:.1f} GFLOP/s",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def report(results, limits):
    print()
    print(f"machine limits ({limits['threads']} threads): read bandwidth "
          f"{limits['read_gb_s']:.2f} GB/s, GEMM {limits['gemm_gflop_s']:.2f} GFLOP/s")
    print()
    print("growth exponents (least squares on log-log over the points listed):")
    for r in results:
        for lib, e in r["exponents"].items():
            v = "-" if e["exponent"] is None else f"{e['exponent']:.3f}"
            note = "" if e["asymptotic"] else (
                f"  (fewer than two points at {r['vary']} >= {r['asymptotic_from']:_}: "
                "not the asymptotic growth)")
            print(f"  {r['name']:7s} {lib:9s} {v:>6s}  over {r['vary']} in {e['points']}{note}")
    print()
    print("gmscore's achieved rate (diag: GB/s of X read once per iteration; full: "
          "GFLOP/s at 4 N K D^2 per iteration), and as a fraction of the machine's limit "
          "(a diag iteration far below the bandwidth is bound by its K exp/log per sample, "
          "not by memory):")
    for r in results:
        for p in r["points"]:
            a = p.get("achieved")
            if a is None:
                continue
            limit = limits["read_gb_s"] if p["achieved_unit"] == "GB/s" else limits["gemm_gflop_s"]
            print(f"  {r['name']:7s} {r['vary']}={p['x']:<9} {a:8.2f} {p['achieved_unit']:8s} "
                  f"({a / limit:.0%} of the limit)")
    skipped = [(r["name"], p["x"], lib, why) for r in results for p in r["points"]
               for lib, why in p["skipped"].items()]
    if skipped:
        print()
        print("skipped points (not measured, not extrapolated):")
        for name, x, lib, why in skipped:
            print(f"  {name} {x}: {lib}: {why}")


def main(argv=None):
    args = parse_args(argv)
    import gmscore

    cfg = gmscore.get_config()
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()="
          f"{os.cpu_count()}; gmscore {cfg['version']} openmp={cfg['openmp']}; numpy "
          f"{np.__version__}; {args.threads} threads; float64; {args.n_iter} iterations per "
          f"fit, median of {args.repeat}" + ("; --quick: smoke test" if args.quick else ""))
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    limits = {"threads": args.threads, "read_gb_s": read_bandwidth(args.threads),
              "gemm_gflop_s": gemm_rate(args.threads, n=1024 if args.quick else 4096)}
    print(f"read bandwidth {limits['read_gb_s']:.2f} GB/s, GEMM {limits['gemm_gflop_s']:.2f} "
          "GFLOP/s", flush=True)
    t_start = time.perf_counter()
    results = []
    for name in args.curves:
        print(f"{name}: {curve_title(curve_info(CURVES[name]))}", flush=True)
        results.append(run_curve(CURVES[name], args, t_start))
    report(results, limits)
    out = {"threads": args.threads, "dtype": "float64", "n_iter": args.n_iter,
           "repeat": args.repeat, "quick": args.quick, "limits": limits, "curves": results,
           "gmscore": cfg["version"], "numpy": np.__version__,
           "loadavg_end": os.getloadavg(), "seconds": time.perf_counter() - t_start}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nresults: {args.json}")
    if plot(results, limits, args.png, args.threads):
        print(f"plot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
