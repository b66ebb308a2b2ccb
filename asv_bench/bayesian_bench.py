#!/usr/bin/env python
"""B1: BayesianGaussianMixture full, N=200,000, D=16, K=16,
weight_concentration_prior_type='dirichlet_process', seconds per
variational EM iteration, gmscore vs scikit-learn (target >= 15x), float64
and float32.

    python asv_bench/bayesian_bench.py [--quick] [--threads T] [--n-iter N]
                                       [--repeat R] [--dtypes float64,float32]

The data are G1's (benchmarks/common.py). Both libraries start from the
same parameters: gmscore's k-means initialisation (a max_iter=0 fit,
computed once per dtype and not timed) copied into each model, which then
continues by warm start for exactly N iterations (tol=0; default N=5).
Only ``fit`` is timed (it includes each library's pass for the default
priors, the data's mean and covariance); s/it is the median over R repeats
(default 3) of the fit time divided by N. gmscore runs with n_threads=T
(default 2), scikit-learn's BLAS is pinned to T threads with threadpoolctl.
Runs are interleaved, each timed fit after an untimed 1-iteration fit of
the same library. The final lower bounds are printed side by side as a
check that both did the same work. --quick: N=20,000 (a smoke test; the
target applies to the full size).
"""
import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks import common  # noqa: E402

STATE = ("weight_concentration_", "mean_precision_", "means_", "degrees_of_freedom_",
         "covariances_", "precisions_cholesky_", "weights_", "precisions_")
TARGET = 15.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-iter", type=int, default=5)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dtypes", default="float64,float32")
    return p.parse_args(argv)


def start_state(X, k, threads):
    """gmscore's k-means start (the variational M-step from the k-means
    responsibilities), as attributes both libraries continue from."""
    from gmscore import BayesianGaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = BayesianGaussianMixture(n_components=k, max_iter=0, random_state=0,
                                    n_threads=threads).fit(X)
    return {name: getattr(m, name) for name in STATE}


def make(library, k, n_iter, threads, state):
    kw = dict(n_components=k, covariance_type="full", max_iter=n_iter, tol=0,
              warm_start=True, random_state=0,
              weight_concentration_prior_type="dirichlet_process")
    if library == "gmscore":
        from gmscore import BayesianGaussianMixture

        m = BayesianGaussianMixture(n_threads=threads, **kw)
    else:
        from sklearn.mixture import BayesianGaussianMixture

        m = BayesianGaussianMixture(**kw)
    for name, value in state.items():
        setattr(m, name, tuple(v.copy() for v in value) if isinstance(value, tuple)
                else np.array(value, copy=True))
    m.converged_, m.lower_bound_, m.n_features_in_ = False, -np.inf, state["means_"].shape[1]
    return m


def timed(library, X, state, args):
    k = state["means_"].shape[0]
    blas = args.threads if library == "scikit-learn" else 1
    with threadpool_limits(limits=blas, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make(library, k, 1, args.threads, state).fit(X)
        m = make(library, k, args.n_iter, args.threads, state)
        t0 = time.perf_counter()
        m.fit(X)
        elapsed = time.perf_counter() - t0
    return elapsed / args.n_iter, float(np.ravel(m.lower_bound_)[0])


def main(argv=None):
    args = parse_args(argv)
    w = common.WORKLOADS["G1"]
    if args.quick:
        w = common.replace(w, n_samples=w.n_samples // 10)
    X64 = common.make_data(w)
    import gmscore
    import sklearn

    print(f"B1 BayesianGaussianMixture full, dirichlet_process: N={w.n_samples}, "
          f"D={w.n_features}, K={w.n_components}, {args.n_iter} iterations x {args.repeat} "
          f"repeats; gmscore {gmscore.__version__} n_threads={args.threads}, scikit-learn "
          f"{sklearn.__version__} BLAS threads={args.threads}; "
          f"{platform.processor() or ''} {os.cpu_count()} CPUs")
    print(f"{'dtype':>8s} {'library':>13s} {'s/it (median)':>14s} {'all s/it':>28s} "
          f"{'final lower bound':>22s}")
    speedups = {}
    for dtype in args.dtypes.split(","):
        X = X64.astype(dtype)
        state = start_state(X, w.n_components, args.threads)
        times = {"gmscore": [], "scikit-learn": []}
        last = {}
        for _ in range(args.repeat):   # interleaved
            for library in times:
                spi, lb = timed(library, X, state, args)
                times[library].append(spi)
                last[library] = lb
        for lib in times:
            print(f"{dtype:>8s} {lib:>13s} {statistics.median(times[lib]):14.4g} "
                  f"{' '.join(f'{t:.4g}' for t in times[lib]):>28s} {last[lib]:22.12g}")
        ours, ref = (statistics.median(times[lib]) for lib in ("gmscore", "scikit-learn"))
        speedups[dtype] = ref / ours
        gap = abs(last["gmscore"] - last["scikit-learn"]) / abs(last["scikit-learn"])
        print(f"{dtype:>8s} speed-up {ref / ours:.1f}x (target >= {TARGET:g}x); relative "
              f"lower-bound gap {gap:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
