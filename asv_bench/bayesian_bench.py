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
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks import common, timing  # noqa: E402

STATE = ("weight_concentration_", "mean_precision_", "means_", "degrees_of_freedom_",
         "covariances_", "precisions_cholesky_", "weights_", "precisions_")
TARGET = 15.0


def parse_args(argv=None):
    return timing.parse_args(__doc__, argv, n_iter=5, extra=lambda p: p.add_argument(
        "--dtypes", default="float64,float32"))


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


def _quiet_fit(m, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X)


def timed(library, X, state, args):
    k = state["means_"].shape[0]
    spi, m = timing.seconds_per_iteration(
        lambda n_iter: make(library, k, n_iter, args.threads, state),
        lambda m: _quiet_fit(m, X), args.n_iter,
        blas_threads=args.threads if library == "scikit-learn" else 1)
    return spi, float(np.ravel(m.lower_bound_)[0])


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
          f"{sklearn.__version__} BLAS threads={args.threads}; {timing.machine()}")
    libraries = ("gmscore", "scikit-learn")
    timing.print_header(libraries, "final lower bound", lead_name="dtype", check_width=22)
    for dtype in args.dtypes.split(","):
        X = X64.astype(dtype)
        state = start_state(X, w.n_components, args.threads)
        times, last = timing.interleaved(
            libraries, lambda lib: timed(lib, X, state, args), args.repeat)
        timing.print_rows(times, last, lead=dtype, check_format="22.12g")
        gap = abs(last["gmscore"] - last["scikit-learn"]) / abs(last["scikit-learn"])
        print(f"{dtype:>8s} speed-up {timing.speedup(times, *libraries):.1f}x (target >= "
              f"{TARGET:g}x); relative lower-bound gap {gap:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
