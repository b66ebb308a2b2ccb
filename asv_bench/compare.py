#!/usr/bin/env python
"""Seconds per EM iteration, gmscore vs scikit-learn (G1-G3) and gmscore vs
hmmlearn (H1-H3), on the workloads of the design.

    python asv_bench/compare.py [--quick] [--workloads G1,H2] [--repeat R]
                                [--n-iter N] [--threads T]
                                [--implementation log|scaling]
                                [--peakmem [--peer-blas-threads B] | --predict
                                 | --outofcore | --endtoend | --all]

For each workload both libraries start from the same parameters and run
exactly N iterations: GMMs from gmscore's k-means initialisation (seed 0,
computed once and not timed) with tol=0, N=5 by default; HMMs from fixed
deterministic parameters set with init_params='' (gmscore tol=0, hmmlearn
tol=-inf), N=3 by default.  Only ``fit`` is timed, and s/it is the median
fit time over R repeats divided by N.  Runs of the different configurations
are interleaved; each timed fit comes right after an untimed 1-iteration fit
of the same configuration, and each peer's fit is followed by an untimed
pause so that its BLAS pool threads stop spinning.

--quick uses 1/10 of the sample counts (GMM) or of the sequences (HMM): a
smoke test, the targets only apply to the full sizes.  --peakmem instead
measures the peak RSS of fits of G2 and of the memory workloads M1
(GaussianMixture full, N=5M, D=16, K=32, float32) and M2 (GaussianHMM full,
one sequence of 10^6 frames, D=8, K=16), each library and dtype in a fresh
subprocess, and checks gmscore against the ceilings of the design (process
peak RSS during the fit, data included: M1 < 0.6 GB, M2 < 1 GB).
--predict instead times the prediction paths on the same data (GMM:
predict_proba, score_samples, predict; HMM: decode with Viterbi,
score_samples, predict_proba) of models fitted (untimed) with one iteration
from the shared start, against the 15x target of every method.
--endtoend instead fits each library with its defaults (random_state=0),
initialisation included, to convergence: E1 (G1 data), E2 (G2 data,
covariance_type='diag'), E3 (H1 data, n_iter=50) and N5 (G1 data, n_init=5);
see endtoend.py.
--all runs, in one invocation and on one machine state, the per-iteration
timings (with --pomegranate, its column), the prediction paths, the
end-to-end fits and the cost curves (cost_curves.py, within
--curves-budget seconds; 0 skips them), one section after the other.
--outofcore instead runs the out-of-core workloads of benchmarks/oocore.py
(O1: GaussianMixture full, N=50M, D=16, K=16; O2: GaussianHMM diag,
10,000 x 1,000 frames, D=10, K=8; float32 data written in chunks to a
temporary file and fitted from an np.memmap of it, and from an in-memory
copy; O1 also by scikit-learn at N=10M), each fit in a fresh subprocess,
with the sampled peak RssAnon and seconds per iteration, and checks the
ratios and the anonymous-memory ceiling of the design.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks import common, oocore  # noqa: E402
import endtoend  # noqa: E402
import peers_pomegranate  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1/10 of the sample counts")
    p.add_argument("--workloads", default=None,
                   help="comma-separated subset of " + ",".join(common.ALL_WORKLOADS)
                        + " (default: all); with --peakmem of G1-G3,"
                        + ",".join(common.MEMORY_WORKLOADS) + " (default: G2,"
                        + ",".join(common.MEMORY_WORKLOADS) + ")")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed runs per configuration (default 3, 1 with --quick)")
    p.add_argument("--n-iter", type=int, default=None,
                   help=f"EM iterations per fit (default {common.N_ITER} for G*, "
                        f"{common.HMM_N_ITER} for H*, {common.MEM_N_ITER} for M*)")
    p.add_argument("--threads", type=int, default=2,
                   help="gmscore threads and scikit-learn/hmmlearn BLAS threads (default 2)")
    p.add_argument("--implementation", choices=("log", "scaling"), default="log",
                   help="HMM forward-backward implementation (default %(default)s)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--peakmem", action="store_true",
                      help="measure the peak RSS of fits (G2, M1, M2) instead of timing")
    mode.add_argument("--predict", action="store_true",
                      help="time the prediction paths instead of the fits")
    mode.add_argument("--outofcore", action="store_true",
                      help="out-of-core workloads O1, O2: memmap vs in-memory fits, "
                           "s/iteration and sampled peak RssAnon")
    mode.add_argument("--endtoend", action="store_true",
                      help="end-to-end default fits E1-E3 and n_init=5 (N5), initialisation "
                           "included, to convergence")
    mode.add_argument("--all", action="store_true",
                      help="one run of the timings, prediction paths, end-to-end fits and "
                           "cost curves, one section after the other")
    p.add_argument("--curves-budget", type=float, default=1800.0,
                   help="--all: seconds for the cost curves (default %(default)s; 0 skips "
                        "them)")
    p.add_argument("--pomegranate", action="store_true",
                   help="timing runs: add pomegranate (PyTorch, CPU) as a peer on G1-G3, H1-H2 "
                        "(see peers_pomegranate.py)")
    p.add_argument("--pomegranate-python", default=sys.executable,
                   help="interpreter that has pomegranate and torch (default: this one)")
    p.add_argument("--peer-blas-threads", type=int, default=1,
                   help="--peakmem: BLAS threads of scikit-learn / hmmlearn (default 1: BLAS "
                        "threads do not change their memory, and multi-threaded OpenBLAS stalls "
                        "badly on a loaded machine)")
    p.add_argument("--peakmem-timeout", type=float, default=3600.0,
                   help="--peakmem: seconds allowed to each fit's subprocess (default %(default)s)")
    # Internal: the child process of --peakmem.
    p.add_argument("--peakmem-child", help=argparse.SUPPRESS)
    p.add_argument("--peakmem-workload", default="G2", help=argparse.SUPPRESS)
    p.add_argument("--peakmem-dtype", default="float64", help=argparse.SUPPRESS)
    p.add_argument("--start-file", help=argparse.SUPPRESS)
    # Internal: the child process of --outofcore.
    p.add_argument("--outofcore-child", help=argparse.SUPPRESS)
    p.add_argument("--data-file", help=argparse.SUPPRESS)
    p.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    p.add_argument("--source", default="memmap", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.all:
        if args.workloads is not None or args.n_iter is not None:
            p.error("--all runs every workload with its default iterations: drop "
                    "--workloads / --n-iter")
        if args.curves_budget < 0 or (args.repeat is not None and args.repeat < 1) \
                or args.threads < 1:
            p.error("--curves-budget must be >= 0, --repeat and --threads >= 1")
        args.profile = "fast" if args.quick else "regular"
        return args
    if args.pomegranate and (args.peakmem or args.predict or args.outofcore or args.endtoend):
        p.error("--pomegranate adds a column to the per-iteration timings only: drop "
                "--peakmem / --predict / --outofcore / --endtoend")
    if args.outofcore or args.outofcore_child:
        args.profile = "fast" if args.quick else "regular"
        if args.repeat is None:
            args.repeat = 1
        args.workloads = [w.strip().upper() for w in (args.workloads or "O1,O2").split(",")
                          if w.strip()]
        unknown = [w for w in args.workloads if w not in oocore.WORKLOADS]
        if unknown:
            p.error(f"unknown workloads {unknown}; with --outofcore choose from "
                    f"{list(oocore.WORKLOADS)}")
        if args.repeat < 1 or (args.n_iter is not None and args.n_iter < 1) \
                or args.threads < 1:
            p.error("--repeat, --n-iter and --threads must be >= 1")
        return args
    args.profile = "fast" if args.quick else "regular"
    if args.endtoend:
        # Long fits (scikit-learn's N5: minutes): one each unless asked.
        args.repeat = args.repeat or 1
        args.workloads = [w.strip().upper() for w in
                          (args.workloads or ",".join(endtoend.CASES)).split(",") if w.strip()]
        unknown = [w for w in args.workloads if w not in endtoend.CASES]
        if unknown:
            p.error(f"unknown cases {unknown}; with --endtoend choose from "
                    f"{list(endtoend.CASES)}")
        if args.repeat < 1 or args.threads < 1:
            p.error("--repeat and --threads must be >= 1")
        return args
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.workloads is None:
        args.workloads = ",".join(["G2", *common.MEMORY_WORKLOADS] if args.peakmem
                                  else common.ALL_WORKLOADS)
    args.workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    allowed = ([*common.WORKLOADS, *common.MEMORY_WORKLOADS] if args.peakmem
               else list(common.ALL_WORKLOADS))
    unknown = [w for w in args.workloads if w not in allowed]
    if unknown:
        p.error(f"unknown workloads {unknown}; choose from {allowed}"
                + ("" if args.peakmem else " (M1, M2: with --peakmem)"))
    if args.repeat < 1 or (args.n_iter is not None and args.n_iter < 1) or args.threads < 1 \
            or args.peer_blas_threads < 1:
        p.error("--repeat, --n-iter, --threads and --peer-blas-threads must be >= 1")
    return args


# ------------------------------------------------------------------ reporting
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_machine(args):
    import gmscore
    import scipy
    import sklearn

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cfg = gmscore.get_config()
    print(f"machine: {cpu_model()}; os.cpu_count()={os.cpu_count()}, usable CPUs={usable}; "
          f"{platform.system()} {platform.release()}")
    try:
        from importlib.metadata import version

        hmmlearn_version = version("hmmlearn")
    except Exception:  # not installed: only the G* workloads can run
        hmmlearn_version = "not installed"
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"scikit-learn {sklearn.__version__}, hmmlearn {hmmlearn_version}")
    print(f"gmscore {cfg['version']}: openmp={cfg['openmp']}, "
          f"default_n_threads={cfg['default_n_threads']}, available_cpus={cfg['available_cpus']}")
    for b in cfg["blas"]:
        print(f"  BLAS: {b['internal_api']} {b['version']}, {b['num_threads']} threads, {b['filepath']}")
    if args.threads > usable:
        print(f"WARNING: --threads {args.threads} exceeds the {usable} usable CPUs")


def fmt(v, spec=".4g"):
    return "-" if v is None or not np.isfinite(v) else format(v, spec)


def print_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)))


# ------------------------------------------------------------------ timing
def reference(name):
    """The library gmscore is compared with on workload ``name``."""
    return "hmmlearn" if common.is_hmm(name) else "sklearn"


def n_iter_for(args, name):
    return args.n_iter if args.n_iter is not None else common.default_n_iter(name)


def configurations(threads, ref="sklearn"):
    """(key, library, dtype, gmscore threads, BLAS threads); ``ref`` is the
    reference library, keyed "sk64" for scikit-learn, "hl64" for hmmlearn."""
    return [
        ("gm64", "gmscore", "float64", threads, threads),
        ("gm32", "gmscore", "float32", threads, threads),
        ("gm64_1", "gmscore", "float64", 1, 1),
        ("sk64" if ref == "sklearn" else "hl64", ref, "float64", None, threads),
    ]


def timed_fit(library, name, dtype, n_threads, blas_threads, n_iter, profile,
              implementation="log"):
    X = common.get_data(name, dtype, profile)
    lengths = common.get_lengths(name, profile) if common.is_hmm(name) else None
    est = common.make_estimator(library, name, n_threads=n_threads, n_iter=n_iter,
                                profile=profile, implementation=implementation)
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        t0 = time.perf_counter()
        common.fit_quietly(est, X, lengths)
        elapsed = time.perf_counter() - t0
    return elapsed, est


#: Seconds to wait after a peer's fit, untimed: OpenBLAS's pool threads
#: busy-wait for a while after each call (~2^28 cycles by default) before
#: they sleep, and would otherwise take the CPUs from the next timed fit.
BLAS_SETTLE_S = 0.5


def settle_blas(library):
    if library != "gmscore":
        time.sleep(BLAS_SETTLE_S)


def max_rel_diff(a, b):
    """Largest absolute difference, relative to the largest |b|."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def prepare(name, configs, profile):
    """Generate (and cache) the data and the start of ``name``, untimed."""
    w = common.get_workload(name, profile)
    t0 = time.perf_counter()
    for _, _, dtype, _, _ in configs:
        common.get_data(name, dtype, profile)
    common.get_start(name, profile)
    return w, time.perf_counter() - t0


def time_workload(args, name):
    """Interleaved timed fits of every configuration of ``name``: (seconds
    per iteration by key, fitted estimator by key)."""
    configs = configurations(args.threads, reference(name))
    n_iter = n_iter_for(args, name)
    w, t_prep = prepare(name, configs, args.profile)
    print(f"{name}: {w.description}: data + start in {t_prep:.1f} s; timing ...", flush=True)
    for _, lib, dtype, nt, bt in configs:  # untimed warm-up, 1 iteration
        timed_fit(lib, name, dtype, nt, bt, 1, args.profile, args.implementation)
        settle_blas(lib)
    times = {c[0]: [] for c in configs}
    fitted = {}
    for _ in range(args.repeat):
        for key, lib, dtype, nt, bt in configs:
            # an untimed 1-iteration fit first: after the pause that follows
            # a peer's fit, the OpenMP threads sleep and the clocks are down
            timed_fit(lib, name, dtype, nt, bt, 1, args.profile, args.implementation)
            elapsed, fitted[key] = timed_fit(lib, name, dtype, nt, bt, n_iter, args.profile,
                                             args.implementation)
            times[key].append(elapsed)
            settle_blas(lib)
    return {k: statistics.median(v) / n_iter for k, v in times.items()}, fitted


def speed_columns(args, name, spi, ref_key):
    speedup = spi[ref_key] / spi["gm64"]
    target = common.TARGETS[name]
    verdict = "" if args.quick else (" met" if speedup >= target else " MISSED")
    return [fmt(spi["gm64"]), fmt(spi["gm32"]), fmt(spi["gm64_1"]), fmt(spi[ref_key]),
            f"{speedup:.2f}x", f"{target:g}x{verdict}", f"{spi['gm64_1'] / spi['gm64']:.2f}x"]


def run_timings(args):
    gmm = [n for n in args.workloads if not common.is_hmm(n)]
    hmm = [n for n in args.workloads if common.is_hmm(n)]
    sizes = ("1/10 sizes (GMM samples, HMM sequences): smoke test, targets do not apply"
             if args.quick else "full sizes")
    iters = ([f"{n_iter_for(args, gmm[0])} EM iterations per GMM fit"] if gmm else []) \
        + ([f"{n_iter_for(args, hmm[0])} Baum-Welch iterations per HMM fit"] if hmm else [])
    print(f"profile: {args.profile}  ({sizes}); {', '.join(iters)}, "
          f"median of {args.repeat} fit(s)")
    print(f"gmscore: n_threads={args.threads} (and 1 for the 1-thread column); "
          f"scikit-learn / hmmlearn: BLAS pinned to {args.threads} threads with threadpoolctl "
          f"(they have no other threading)")
    print("dtypes: float64 data for every column except 'gmscore f32' (float32 data)")
    print(f"fits interleaved; {BLAS_SETTLE_S} s untimed pause after each peer fit so its "
          "OpenBLAS pool threads stop spinning before the next timed fit; every timed fit "
          "follows an untimed 1-iteration fit of the same configuration")
    if gmm:
        print("GMM: tol=0; s/it = fit time / n_iter; scikit-learn's fit also runs one extra "
              "E-step after the last iteration, which is counted (raise --n-iter to dilute it)")
    if hmm:
        print(f"HMM: init_params='' from the same parameters, gmscore tol=0, hmmlearn tol=-inf, "
              f"implementation={args.implementation!r}; hmmlearn's GMMHMM without the k-means its "
              f"fit runs (and discards) even with init_params=''")
    print()

    pom = PomegranateColumn(args)
    if gmm:
        rows, checks = [], []
        for name in gmm:
            spi, fitted = time_workload(args, name)
            pom.add(name, spi, fitted)
            rows.append([name, common.get_workload(name, args.profile).description]
                        + speed_columns(args, name, spi, "sk64"))
            sk = fitted["sk64"]
            checks.append([
                name, f"{max_rel_diff(fitted['gm64'].means_, sk.means_):.1e}",
                f"{max_rel_diff(fitted['gm32'].means_, sk.means_):.1e}",
                f"{fitted['gm64'].lower_bound_:.10f}", f"{sk.lower_bound_:.10f}",
            ])
        print()
        print_table(["workload", "description", "gmscore f64 s/it", "gmscore f32 s/it",
                     "gmscore f64 1-thread s/it", "sklearn s/it",
                     "speed-up (sklearn/gmscore f64)", "target", f"{args.threads}-thread scaling"],
                    rows)
        print()
        print(f"sanity check after {n_iter_for(args, gmm[0])} iterations from the same start "
              "(means_: max |gmscore - sklearn| / max |sklearn|):")
        print_table(["workload", "means_ f64 vs sklearn", "means_ f32 vs sklearn",
                     "lower bound gmscore f64", "lower bound sklearn"], checks)
        if hmm:
            print()

    if hmm:
        rows, checks = [], []
        for name in hmm:
            spi, fitted = time_workload(args, name)
            pom.add(name, spi, fitted)
            rows.append([name, common.get_workload(name, args.profile).description]
                        + speed_columns(args, name, spi, "hl64"))
            hl = fitted["hl64"]
            # monitor_.history[-1]: log-likelihood of the last iteration's E-step.
            ll = {k: m.monitor_.history[-1] for k, m in fitted.items()}
            checks.append([
                name, f"{max_rel_diff(fitted['gm64'].means_, hl.means_):.1e}",
                f"{max_rel_diff(fitted['gm32'].means_, hl.means_):.1e}",
                f"{max_rel_diff(fitted['gm64'].covars_, hl.covars_):.1e}",
                f"{ll['gm64']:.10g}", f"{ll['hl64']:.10g}",
                f"{abs(ll['gm64'] - ll['hl64']) / abs(ll['hl64']):.1e}",
                f"{abs(ll['gm32'] - ll['hl64']) / abs(ll['hl64']):.1e}",
            ])
        print()
        print_table(["workload", "description", "gmscore f64 s/it", "gmscore f32 s/it",
                     "gmscore f64 1-thread s/it", "hmmlearn s/it",
                     "speed-up (hmmlearn/gmscore f64)", "target", f"{args.threads}-thread scaling"],
                    rows)
        print()
        print(f"sanity check after {n_iter_for(args, hmm[0])} iterations from the same start "
              "(max |gmscore - hmmlearn| / max |hmmlearn|; log-likelihood of the last E-step, "
              "relative difference):")
        print_table(["workload", "means_ f64 vs hmmlearn", "means_ f32 vs hmmlearn",
                     "covars_ f64 vs hmmlearn", "log-lik gmscore f64", "log-lik hmmlearn",
                     "log-lik f64 vs hmmlearn", "log-lik f32 vs hmmlearn"], checks)
    pom.report()  # after both tables


class PomegranateColumn:
    """pomegranate's s/it and agreement on the workloads it runs, next to
    gmscore's (``--pomegranate``); reports why when it cannot run."""

    def __init__(self, args):
        self.args, self.rows = args, []
        self.version, self.why = (None, "not requested (--pomegranate)")
        if args.pomegranate:
            self.version, self.why = peers_pomegranate.probe(args.pomegranate_python)
            print(f"pomegranate: {self.version or 'SKIPPED: ' + self.why}", flush=True)

    def add(self, name, spi, fitted):
        if self.version is None or name not in peers_pomegranate.WORKLOADS:
            return
        a = self.args
        X = common.get_data(name, "float64", a.profile)
        lengths = common.get_lengths(name, a.profile) if common.is_hmm(name) else None
        w = common.get_workload(name, a.profile)
        r = peers_pomegranate.run(a.pomegranate_python, name, X, lengths,
                                  common.get_start(name, a.profile), w.covariance_type,
                                  n_iter_for(a, name), a.repeat, a.threads)
        if "error" in r:
            self.rows.append([name, "-", fmt(spi["gm64"]), "-", "-", "-", "-", "-",
                              f"FAILED: {r['error']}"])
            return
        gm = fitted["gm64"]
        covs = gm.covars_ if lengths is not None else gm.covariances_
        if covs.ndim == r["covs"].ndim + 1:  # an HMM's diag covars_ is (K, D, D)
            covs = np.diagonal(covs, axis1=1, axis2=2)
        # Total log-likelihood of each library's fitted parameters.
        ll = gm.score(X, lengths) if lengths is not None else gm.score(X) * len(X)
        self.rows.append([name, fmt(r["s_per_it"]), fmt(spi["gm64"]),
                          f"{r['s_per_it'] / spi['gm64']:.2f}x",
                          f"{max_rel_diff(r['means'], gm.means_):.1e}",
                          f"{max_rel_diff(r['covs'], covs):.1e}",
                          f"{ll:.10g}", f"{float(r['loglik']):.10g}",
                          f"{abs(ll - float(r['loglik'])) / abs(ll):.1e}"])

    def report(self):
        if not self.args.pomegranate:
            return
        print()
        if self.version is None:
            print(f"pomegranate column skipped: {self.why}")
            return
        print(f"{self.version}, CPU, "
              f"torch.set_num_threads({self.args.threads}), float64, same start and "
              "iterations as the others (model differences: peers_pomegranate.py):")
        print_table(["workload", "pomegranate s/it", "gmscore f64 s/it",
                     "speed-up (pomegranate/gmscore f64)", "means vs gmscore",
                     "covariances vs gmscore", "log-lik gmscore (fitted)",
                     "log-lik pomegranate (fitted)", "relative difference"], self.rows)


# ------------------------------------------------------------------ prediction
def prediction_methods(name):
    """(label, call(estimator, X, lengths)) of the prediction paths timed for
    workload ``name``."""
    if common.is_hmm(name):
        return [("decode (viterbi)", lambda e, X, L: e.decode(X, L, algorithm="viterbi")),
                ("score_samples", lambda e, X, L: e.score_samples(X, L)),
                ("predict_proba", lambda e, X, L: e.predict_proba(X, L))]
    return [("predict_proba", lambda e, X, L: e.predict_proba(X)),
            ("score_samples", lambda e, X, L: e.score_samples(X)),
            ("predict", lambda e, X, L: e.predict(X))]


#: Speed-up target of the issue for every prediction path (reference time /
#: gmscore float64 time).
PREDICT_TARGET = 15.0


def agreement(name, label, ours, ref):
    """How far gmscore's float64 result is from the reference's."""
    if label.startswith("decode"):  # (log_prob, states)
        same = np.mean(np.asarray(ours[1]) == np.asarray(ref[1]))
        return (f"states equal {same:.4%}, log-prob rel {abs(ours[0] - ref[0]) / abs(ref[0]):.1e}")
    if label == "predict_proba":  # GMM and HMM posteriors
        return f"abs {np.max(np.abs(ours - ref)):.1e}"
    if common.is_hmm(name):  # score_samples: (log_prob, posteriors)
        return (f"log-lik rel {abs(ours[0] - ref[0]) / abs(ref[0]):.1e}, "
                f"posteriors abs {np.max(np.abs(ours[1] - ref[1])):.1e}")
    if label == "predict":
        return f"labels equal {np.mean(np.asarray(ours) == np.asarray(ref)):.4%}"
    return f"rel {max_rel_diff(ours, ref):.1e}"


def run_predictions(args):
    print(f"profile: {args.profile}  "
          f"({'1/10 sizes: smoke test' if args.quick else 'full sizes'}); "
          f"median of {args.repeat} call(s), each right after an untimed call of the same "
          "configuration")
    print("models: fitted (untimed) with 1 iteration from the shared start by each "
          "configuration; the prediction is on the same data they were fitted on")
    print(f"gmscore: n_threads={args.threads} (and 1 for the 1-thread column); "
          f"scikit-learn / hmmlearn: BLAS pinned to {args.threads} threads with threadpoolctl")
    if any(common.is_hmm(n) for n in args.workloads):
        print(f"HMM: implementation={args.implementation!r} for score_samples")
    print()
    rows, verdicts = [], []
    for name in args.workloads:
        ref = reference(name)
        configs = configurations(args.threads, ref)
        ref_key = configs[-1][0]
        w, t_prep = prepare(name, configs, args.profile)
        lengths = common.get_lengths(name, args.profile) if common.is_hmm(name) else None
        models = {}
        for key, lib, dtype, nt, bt in configs:
            models[key] = timed_fit(lib, name, dtype, nt, bt, 1, args.profile,
                                    args.implementation)[1]
            settle_blas(lib)
        print(f"{name}: {w.description}: data + start in {t_prep:.1f} s, models fitted; "
              "timing ...", flush=True)

        for label, call in prediction_methods(name):
            def run(key, dtype, bt):
                X = common.get_data(name, dtype, args.profile)
                with threadpool_limits(limits=bt, user_api="blas"):
                    t0 = time.perf_counter()
                    result = call(models[key], X, lengths)
                    return time.perf_counter() - t0, result

            for key, lib, dtype, _, bt in configs:  # untimed warm-up
                run(key, dtype, bt)
                settle_blas(lib)
            times = {c[0]: [] for c in configs}
            results = {}
            for _ in range(args.repeat):
                for key, lib, dtype, _, bt in configs:
                    run(key, dtype, bt)  # untimed, as for the fits
                    elapsed, results[key] = run(key, dtype, bt)
                    times[key].append(elapsed)
                    settle_blas(lib)
            t = {k: statistics.median(v) for k, v in times.items()}
            speedup = t[ref_key] / t["gm64"]
            verdicts.append(speedup >= PREDICT_TARGET)
            rows.append([name, label, fmt(t["gm64"]), fmt(t["gm32"]), fmt(t["gm64_1"]),
                         fmt(t[ref_key]), ref, f"{speedup:.2f}x",
                         f"{PREDICT_TARGET:g}x" + ("" if args.quick else
                                                   (" met" if verdicts[-1] else " MISSED")),
                         f"{t['gm64_1'] / t['gm64']:.2f}x",
                         agreement(name, label, results["gm64"], results[ref_key])])
            del results
    print()
    print_table(["workload", "method", "gmscore f64 s", "gmscore f32 s",
                 "gmscore f64 1-thread s", "reference s", "reference",
                 "speed-up (reference/gmscore f64)", "target", f"{args.threads}-thread scaling",
                 "gmscore f64 vs reference"], rows)
    if args.quick:
        print("--quick: 1/10 sizes, the target does not apply")
    elif verdicts:
        print(f"target {PREDICT_TARGET:g}x on every method: "
              f"{'all met' if all(verdicts) else f'MISSED on {verdicts.count(False)}'}")


# ------------------------------------------------------------------ peak memory
MIB = 2**20


def proc_status_mib(field):
    """A /proc/self/status field in MiB (VmRSS: current RSS, VmHWM: peak RSS
    since start or since the last reset); None where there is no /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return None


def current_rss_mib():
    """Current RSS (Linux only; None elsewhere)."""
    return proc_status_mib("VmRSS")


def peak_rss_mib():
    """Peak RSS of this process: VmHWM on Linux.  Not ru_maxrss, which in a
    child started by vfork+exec (Python's subprocess) starts at the *parent's*
    peak and is not lowered by /proc/self/clear_refs; getrusage is only the
    fallback where there is no /proc (ru_maxrss: KiB on Linux, bytes on macOS)."""
    hwm = proc_status_mib("VmHWM")
    if hwm is not None:
        return hwm
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def reset_peak_rss():
    """Reset the peak RSS (VmHWM) to the current RSS (Linux:
    /proc/self/clear_refs), so that a later peak is not masked by earlier,
    freed allocations.  Returns whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peakmem_configurations(name):
    """(library, dtype) of the --peakmem fits of workload ``name``: gmscore in
    every dtype of the workload, then the reference library in the same ones."""
    dtypes = common.MEMORY_DTYPES.get(name, ("float64",))
    return [("gmscore", dt) for dt in dtypes] + [(reference(name), dt) for dt in dtypes]


def peakmem_child(args):
    """Fit workload ``--peakmem-workload`` once in this (fresh) process, print
    the RSS figures (MiB) as JSON."""
    library, name, dtype = args.peakmem_child, args.peakmem_workload, args.peakmem_dtype
    if library == "gmscore":
        import gmscore  # noqa: F401
    elif library == "sklearn":
        import sklearn.mixture  # noqa: F401
    else:
        import hmmlearn.hmm  # noqa: F401
    now_import = current_rss_mib()
    with np.load(args.start_file) as f:
        start = {k: f[k] for k in f.files}
    est = common.make_estimator(library, name, n_threads=args.threads,
                                n_iter=args.n_iter, profile=args.profile, start=start)
    X = common.get_data(name, dtype, args.profile)
    lengths = common.get_lengths(name, args.profile) if common.is_hmm(name) else None
    peak_data = peak_rss_mib()  # after importing and generating the data
    now_data = current_rss_mib()
    was_reset = now_data is not None and reset_peak_rss()
    blas = args.threads if library == "gmscore" else args.peer_blas_threads
    error = None
    t0 = time.perf_counter()
    try:
        with threadpool_limits(limits=blas, user_api="blas"):
            common.fit_quietly(est, X, lengths)
    except MemoryError as exc:
        error = f"MemoryError: {exc}"
    elapsed = time.perf_counter() - t0
    peak_fit = peak_rss_mib()
    print(json.dumps({
        "library": library, "workload": name, "dtype": dtype, "data_mib": X.nbytes / MIB,
        "now_import": now_import, "peak_data": peak_data, "now_data": now_data,
        "was_reset": was_reset, "peak_fit": peak_fit,
        # The fit's own increment: over the RSS it started from when the peak
        # could be reset, else over the peak reached before it.
        "increment": peak_fit - (now_data if was_reset else peak_data),
        "process_peak": max(peak_data, peak_fit), "seconds": elapsed, "error": error,
    }))


def run_peakmem_child(args, name, library, dtype, start_file, n_iter):
    """One fit in a fresh subprocess: its JSON record, or a record with
    ``error`` set when it failed (MemoryError, killed, timed out, crashed)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--peakmem-child", library,
           "--peakmem-workload", name, "--peakmem-dtype", dtype, "--start-file", start_file,
           "--threads", str(args.threads), "--peer-blas-threads", str(args.peer_blas_threads),
           "--n-iter", str(n_iter)] + (["--quick"] if args.quick else [])
    failed = {"library": library, "workload": name, "dtype": dtype}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.peakmem_timeout)
    except subprocess.TimeoutExpired:
        return {**failed, "error": f"timed out after {args.peakmem_timeout:g} s"}
    if proc.returncode != 0:
        if proc.returncode < 0:
            why = f"killed by signal {-proc.returncode}"
            if -proc.returncode == 9:
                why += " (out of memory?)"
        else:
            tail = proc.stderr.strip().splitlines()[-1:] or [""]
            why = f"exit status {proc.returncode}: {tail[0][:200]}"
        return {**failed, "error": why, "seconds": time.perf_counter() - t0}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_peakmem(args):
    print(f"peak RSS of fits, each library and dtype in a fresh subprocess; gmscore "
          f"n_threads={args.threads}; scikit-learn / hmmlearn BLAS pinned to "
          f"{args.peer_blas_threads} thread(s) with threadpoolctl")
    print("RSS from /proc/self/status: VmRSS after importing the library and after "
          "generating the data, then the peak (VmHWM) is reset to the current RSS "
          "(/proc/self/clear_refs) and read again after the fit.  Memory workloads are "
          "generated in their dtype in blocks and start from the generating model's "
          "parameters (no k-means, no pass over the data), so the data is all that is "
          "resident when the fit starts")
    print()
    rows, resets, verdicts = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.workloads:
            w = common.get_workload(name, args.profile)
            n_iter = n_iter_for(args, name)
            start_file = os.path.join(tmp, f"start_{name}.npz")
            np.savez(start_file, **common.get_start(name, args.profile))
            print(f"{name}: {w.description}, {n_iter} iteration(s) per fit ...", flush=True)
            gm_peak = {}
            for library, dtype in peakmem_configurations(name):
                r = run_peakmem_child(args, name, library, dtype, start_file, n_iter)
                err = r.get("error")
                if "peak_fit" not in r:  # the subprocess died: no figures
                    rows.append([name, library, "f" + dtype[5:], "-", "-", "-", "-", "-", "-",
                                 "-", fmt(r.get("seconds"), ".1f"), f"FAILED: {err}"])
                    print(f"  {library} {dtype}: FAILED: {err}", flush=True)
                    continue
                resets.append(r["was_reset"])
                peak = r["peak_fit"]
                verdict = ""
                ceiling = common.MEMORY_CEILINGS.get(name)
                if library == "gmscore":
                    gm_peak[dtype] = peak
                    if ceiling is not None and not args.quick:
                        ok = peak * MIB < ceiling and not err
                        verdict = f"{'PASS' if ok else 'FAIL'} (< {ceiling / 1e9:g} GB)"
                        verdicts.append(ok)
                elif dtype in gm_peak:
                    verdict = f"{peak / gm_peak[dtype]:.1f}x gmscore"
                if err:
                    verdict = f"{err}; {verdict}" if verdict else err
                rows.append([name, library, "f" + dtype[5:], f"{r['data_mib']:.1f}",
                             fmt(r["now_import"], ".1f"), fmt(r["now_data"], ".1f"),
                             f"{r['peak_data']:.1f}", f"{peak:.1f}", f"{r['increment']:.1f}",
                             "-" if ceiling is None else f"{ceiling / MIB:.1f}",
                             f"{r['seconds']:.1f}", verdict])
                print(f"  {library} {dtype}: peak during fit {peak:.1f} MiB "
                      f"({r['seconds']:.1f} s)", flush=True)
    print()
    print_table(["workload", "library", "dtype", "X MiB", "RSS after import MiB",
                 "RSS after data MiB", "peak before fit MiB", "peak RSS during fit MiB",
                 "fit increment MiB", "ceiling MiB", "fit s", "verdict"], rows)
    print()
    if all(resets):
        print("'peak RSS during fit' is the process's peak RSS (VmHWM) over the fit, after "
              "resetting it once the data was generated: the data, the interpreter and the "
              "libraries included (what the ceilings bound); increment = it - 'RSS after "
              "data'; 'peak before fit' = the peak of importing + generating the data "
              "(benchmark overhead, not the fit's)")
    else:
        print("the peak could not be reset: 'peak RSS during fit' is the process peak; "
              "increment = it - 'peak before fit' (a lower bound)")
    if args.quick:
        print("--quick: 1/10 sizes, the ceilings do not apply")
    elif verdicts:
        print(f"ceilings (decimal GB, on gmscore's peak RSS during the fit): "
              f"{'all met' if all(verdicts) else 'MISSED'}")


# ------------------------------------------------------------------ out-of-core
def outofcore_cases(name, profile):
    """(library, source, rows) of the --outofcore fits of ``name``: O1 the
    memmap at full N and at the in-memory N, the in-memory copy, and
    scikit-learn on the in-memory copy; O2 the memmap and the copy."""
    n_all = oocore.get_workload(name, profile).n_samples
    n_small = oocore.small_rows(name, profile)
    if name == "O1":
        return [("gmscore", "memmap", n_all), ("gmscore", "memmap", n_small),
                ("gmscore", "memory", n_small), ("sklearn", "memory", n_small)]
    return [("gmscore", "memmap", n_all), ("gmscore", "memory", n_all)]


def outofcore_child(args):
    """One fit of ``--outofcore-child`` (library) in this fresh process:
    print its figures (seconds, MiB) as JSON."""
    library, name = args.outofcore_child, args.workloads[0]
    if library == "gmscore":
        import gmscore  # noqa: F401
    else:
        import sklearn.mixture  # noqa: F401
    n_iter = args.n_iter or oocore.default_n_iter(name)
    est = oocore.make_estimator(library, name, n_threads=args.threads, n_iter=n_iter,
                                profile=args.profile)
    X = oocore.load_data(args.source, name, args.data_file, args.profile, args.rows)
    lengths = oocore.lengths(name, args.profile, args.rows)
    # gmscore pins BLAS to 1 thread inside its fits and uses n_threads; the
    # peer's only threading is BLAS, pinned to --threads.
    r = oocore.measure_fit(est, X, lengths, blas_threads=args.threads)
    r.update(library=library, workload=name, source=args.source, rows=args.rows,
             data_mib=X.nbytes / MIB, n_iter=n_iter, memmap=isinstance(X, np.memmap))
    print(json.dumps(r))


def run_outofcore_child(args, name, library, source, rows, path):
    cmd = [sys.executable, os.path.abspath(__file__), "--outofcore-child", library,
           "--workloads", name, "--data-file", path, "--rows", str(rows),
           "--source", source, "--threads", str(args.threads)] \
        + (["--n-iter", str(args.n_iter)] if args.n_iter else []) \
        + (["--quick"] if args.quick else [])
    failed = {"library": library, "workload": name, "source": source, "rows": rows}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.peakmem_timeout)
    except subprocess.TimeoutExpired:
        return {**failed, "error": f"timed out after {args.peakmem_timeout:g} s"}
    if proc.returncode != 0:
        if proc.returncode < 0:
            why = f"killed by signal {-proc.returncode}"
            if -proc.returncode == 9:
                why += " (out of memory?)"
        else:
            tail = proc.stderr.strip().splitlines()[-1:] or [""]
            why = f"exit status {proc.returncode}: {tail[0][:200]}"
        return {**failed, "error": why, "seconds": time.perf_counter() - t0}
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: A longer gap between two RssAnon samples is flagged: the sampler thread
#: waited that long for the GIL (or the CPU), so a short peak may be missed.
MAX_SAMPLE_GAP_MS = 100.0


def _loadavg():
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _verdict(ok, quick):
    return "n/a (--quick)" if quick else ("met" if ok else "MISSED")


def run_outofcore(args):
    print(f"profile: {args.profile}  ("
          + (f"N and sequences / {oocore.FAST_DIVISOR}: smoke test, the targets do not apply"
             if args.quick else "full sizes") + f"); median of {args.repeat} fit(s) per "
          "gmscore configuration (scikit-learn: one), each in a fresh subprocess")
    print(f"dtype: {oocore.DTYPE} data (raw C-order file, opened read-only as np.memmap; "
          "'memory' = np.array(memmap), a plain in-memory copy made before the fit); "
          "identical starting parameters from the generating model, fixed iteration count, tol=0")
    print(f"threads: gmscore n_threads={args.threads}; scikit-learn's BLAS pinned to "
          f"{args.threads} threads with threadpoolctl")
    print(f"memory: RssAnon (anonymous pages; the memmap's file-backed pages do not count) "
          f"sampled every {oocore.SAMPLE_INTERVAL * 1e3:g} ms by a background thread during the "
          "fit; VmHWM (total RSS, file pages included) reset just before the fit, for reference")
    print("s/it = fit time / n_iter (validation and any final E-step included); the data file "
          "has just been written, so the memmap reads come from the page cache, not the disk")
    print(f"load average at start (1, 5, 15 min): {_loadavg()}")
    print()
    rows, summary = [], []
    tmp = tempfile.mkdtemp(prefix="gmscore-outofcore-", dir=tempfile.gettempdir())
    try:
        for name in args.workloads:
            w = oocore.get_workload(name, args.profile)
            n_iter = args.n_iter or oocore.default_n_iter(name)
            path = os.path.join(tmp, oocore.data_filename(name, args.profile))
            size_mb = w.n_samples * w.n_features * np.dtype(oocore.DTYPE).itemsize / 1e6
            print(f"{name}: {w.description}, {oocore.DTYPE}: writing {size_mb:.0f} MB to "
                  f"{path} ...", flush=True)
            print(f"  written in {oocore.write_data(name, path, args.profile):.1f} s; "
                  f"{n_iter} iterations per fit", flush=True)
            results = {}
            cases = outofcore_cases(name, args.profile)
            for rep in range(args.repeat):
                for case in cases:
                    if case[0] != "gmscore" and rep > 0:
                        continue
                    r = run_outofcore_child(args, name, *case, path)
                    results.setdefault(case, []).append(r)
                    err = r.get("error")
                    print(f"  {case[0]} {case[1]} N={case[2]:_}: "
                          + (f"FAILED: {err}" if err else
                             f"{r['seconds'] / r['n_iter']:.4g} s/it, peak RssAnon "
                             f"{r['peak_anon']:.1f} MiB"), flush=True)
            os.remove(path)
            spi, anon = {}, {}
            for case, rs in results.items():
                good = [r for r in rs if not r.get("error")]
                library, source, n = case
                if not good:
                    rows.append([name, library, source, f"{n:_}"] + ["-"] * 9
                                + [f"FAILED: {rs[-1].get('error')}"])
                    continue
                spi[case] = statistics.median(r["seconds"] / r["n_iter"] for r in good)
                anon[case] = max(r["peak_anon"] for r in good)
                worst = max(good, key=lambda r: r["peak_anon"])
                rows.append([name, library, source, f"{n:_}", f"{good[0]['data_mib']:.0f}",
                             f"{spi[case]:.4g}", f"{1e6 * spi[case] / n:.4g}",
                             f"{worst['anon_before']:.1f}", f"{anon[case]:.1f}",
                             f"{anon[case] - worst['anon_before']:.1f}",
                             f"{worst['peak_file']:.1f}",
                             f"{max(r['vmhwm'] for r in good):.1f}",
                             f"{worst['n_samples']} / {worst['max_gap_ms']:.0f}",
                             "sampler starved: peak RssAnon may be missed, see VmHWM"
                             if worst["max_gap_ms"] > MAX_SAMPLE_GAP_MS else ""])
            summary += outofcore_summary(args, name, cases, spi, anon)
    finally:
        for f in os.listdir(tmp):
            os.remove(os.path.join(tmp, f))
        os.rmdir(tmp)
    print()
    print(f"load average at end (1, 5, 15 min): {_loadavg()}")
    print()
    print_table(["workload", "library", "data", "N", "X MiB", "s/it", "s/it per 1M rows",
                 "RssAnon before fit MiB", "peak RssAnon MiB", "anon increment MiB",
                 "peak RssFile MiB", "VmHWM MiB", "samples / max gap ms", "note"], rows)
    print()
    print_table(["workload", "measure", "value", "target", "verdict"], summary)
    print()
    print("peak RssAnon is the process's (interpreter, libraries and, for 'memory', the "
          "in-memory copy of the data included); the ceiling is on the out-of-core fit's")
    if args.quick:
        print("--quick: the targets only apply to the full sizes")


def outofcore_summary(args, name, cases, spi, anon):
    """Rows (workload, measure, value, target, verdict) of the ratios."""
    q = args.quick
    out = []
    n_all = oocore.get_workload(name, args.profile).n_samples
    n_small = oocore.small_rows(name, args.profile)
    big, small = ("gmscore", "memmap", n_all), ("gmscore", "memmap", n_small)
    mem = ("gmscore", "memory", n_small)
    ceiling_mib = oocore.ANON_CEILING / MIB
    if small in spi and mem in spi:
        ratio = spi[small] / spi[mem]
        out.append([name, f"s/it memmap / in-memory, same N={n_small:_}", f"{ratio:.2f}x",
                    f"<= {oocore.RATIO_TARGET:g}x", _verdict(ratio <= oocore.RATIO_TARGET, q)])
    if big != small and big in spi and mem in spi:
        ratio = (spi[big] / n_all) / (spi[mem] / n_small)
        out.append([name, f"s/it per row memmap N={n_all:_} / in-memory N={n_small:_}",
                    f"{ratio:.2f}x", f"<= {oocore.RATIO_TARGET:g}x",
                    _verdict(ratio <= oocore.RATIO_TARGET, q)])
    if big in anon:
        out.append([name, f"peak RssAnon memmap N={n_all:_}",
                    f"{anon[big]:.1f} MiB ({anon[big] * MIB / 1e9:.3f} GB)",
                    f"<= {oocore.ANON_CEILING / 1e9:g} GB ({ceiling_mib:.1f} MiB)",
                    _verdict(anon[big] <= ceiling_mib, q)])
    if mem in anon:
        out.append([name, f"peak RssAnon in-memory N={n_small:_} (data included)",
                    f"{anon[mem]:.1f} MiB", "-", ""])
    sk = ("sklearn", "memory", n_small)
    if sk in spi and mem in spi:
        out.append([name, f"scikit-learn s/it / gmscore in-memory s/it, N={n_small:_}",
                    f"{spi[sk] / spi[mem]:.2f}x", "-", ""])
        out.append([name, f"scikit-learn peak RssAnon, N={n_small:_}",
                    f"{anon[sk]:.1f} MiB ({anon[sk] / anon[mem]:.1f}x gmscore in-memory)",
                    "-", ""])
    return out


def run_all(args):
    """The sections of --all, each parsed as its own mode would be (so each
    keeps its defaults), run one after the other in this process."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    print(f"--all started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"
          + (f" at commit {head}" if head else "") + "\n", flush=True)
    common_argv = ["--threads", str(args.threads), "--implementation", args.implementation]
    if args.quick:
        common_argv.append("--quick")
    if args.repeat is not None:
        common_argv += ["--repeat", str(args.repeat)]
    pom = (["--pomegranate", "--pomegranate-python", args.pomegranate_python]
           if args.pomegranate else [])
    sections = [
        ("seconds per iteration" + (", with pomegranate" if pom else ""),
         common_argv + pom, run_timings),
        ("prediction paths", common_argv + ["--predict"], run_predictions),
        ("end-to-end default fits", common_argv + ["--endtoend"],
         lambda a: endtoend.run(a, a.workloads, settle_blas, fmt, print_table)),
    ]
    for title, argv, run in sections:
        started = time.perf_counter()
        print(f"=== {title} ===", flush=True)
        run(parse_args(argv))
        print(f"=== {title}: {time.perf_counter() - started:.0f} s ===\n", flush=True)
    if args.curves_budget > 0:
        import cost_curves

        started = time.perf_counter()
        print("=== cost curves ===", flush=True)
        cost_curves.main(["--threads", str(args.threads), "--budget", f"{args.curves_budget:g}"]
                         + (["--quick"] if args.quick else []))
        print(f"=== cost curves: {time.perf_counter() - started:.0f} s ===", flush=True)


def main(argv=None):
    args = parse_args(argv)
    if args.peakmem_child:
        peakmem_child(args)
        return 0
    if args.outofcore_child:
        outofcore_child(args)
        return 0
    print_machine(args)
    print()
    if args.all:
        run_all(args)
    elif args.peakmem:
        run_peakmem(args)
    elif args.outofcore:
        run_outofcore(args)
    elif args.predict:
        run_predictions(args)
    elif args.endtoend:
        endtoend.run(args, args.workloads, settle_blas, fmt, print_table)
    else:
        run_timings(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
