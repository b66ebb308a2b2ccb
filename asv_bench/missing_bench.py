#!/usr/bin/env python
"""M3: GaussianMixture on G1 (full, N=200,000, D=16, K=16) with 10% of the
entries missing completely at random, nan_policy='marginalize': seconds
per EM iteration next to the complete-data iteration (target: within 3x),
and the imputation RMSE of the missing entries next to scikit-learn's
IterativeImputer on the same data.

    python asv_bench/missing_bench.py [--quick] [--threads T] [--n-iter N]
                                      [--repeat R] [--missing F] [--no-imputer]

Timing: both fits start from the same parameters (gmscore's k-means
initialisation on the complete data, given as weights_init / means_init /
precisions_init, tol=0); s/it is the median over R repeats (default 3) of
(time of a (1 + N)-iteration fit - time of a 1-iteration fit) / N, so the
once-per-fit work (validation, grouping the rows by missingness pattern,
the initialisation's fill) is left out; it is printed on its own. float64,
n_threads=T (default 2).

Imputation: gmscore fits from its own default initialisation (max_iter=100,
tol=1e-3), then ``impute``; IterativeImputer(max_iter=10, random_state=0)
(BayesianRidge, scikit-learn's default) runs with its BLAS pinned to T
threads; the column means are the baseline. RMSE over the masked entries
against the true values, and each method's wall time. --quick: N/10 rows.
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
from benchmarks.common import get_workload, make_data  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-iter", type=int, default=5)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--missing", type=float, default=0.1)
    p.add_argument("--no-imputer", action="store_true",
                   help="skip scikit-learn's IterativeImputer (slow on the full size)")
    return p.parse_args(argv)


def per_iteration(make, X, n_iter, repeat):
    """Median (t(1 + n_iter) - t(1)) / n_iter, and the median t(1)."""
    its, ones = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        make(1).fit(X)
        t1 = time.perf_counter()
        make(1 + n_iter).fit(X)
        t2 = time.perf_counter()
        ones.append(t1 - t0)
        its.append(((t2 - t1) - (t1 - t0)) / n_iter)
    return statistics.median(its), statistics.median(ones)


def main(argv=None):
    args = parse_args(argv)
    from gmscore import GaussianMixture

    warnings.simplefilter("ignore")   # ConvergenceWarning of the fixed-iteration fits
    w = get_workload("G1", "fast" if args.quick else "regular")
    X = make_data(w)
    rng = np.random.RandomState(0)
    mask = rng.rand(*X.shape) < args.missing
    Xm = X.copy()
    Xm[mask] = np.nan
    k = w.n_components
    print(f"M3: {w.description}, {mask.mean():.1%} of entries missing (MCAR), "
          f"{int((~mask.any(axis=1)).sum())} complete rows; float64, n_threads={args.threads}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs")
    start = GaussianMixture(k, max_iter=0, random_state=0, n_threads=args.threads).fit(X)
    kw = dict(weights_init=start.weights_, means_init=start.means_,
              precisions_init=start.precisions_, tol=0, n_threads=args.threads)

    def complete(n):
        return GaussianMixture(k, max_iter=n, **kw)

    def missing(n):
        return GaussianMixture(k, max_iter=n, nan_policy="marginalize", **kw)

    t_full, one_full = per_iteration(complete, X, args.n_iter, args.repeat)
    t_miss, one_miss = per_iteration(missing, Xm, args.n_iter, args.repeat)
    print(f"\n{'fit':28s} {'s/iter':>9s} {'1-iteration fit, s':>20s}")
    print(f"{'complete data':28s} {t_full:9.4f} {one_full:20.3f}")
    print(f"{'10% MCAR, marginalize':28s} {t_miss:9.4f} {one_miss:20.3f}")
    print(f"ratio (target <= 3x): {t_miss / t_full:.2f}x")

    truth = X[mask]
    rows = []
    t0 = time.perf_counter()
    col_means = np.nanmean(Xm, axis=0)
    rows.append(("column means", np.broadcast_to(col_means, X.shape)[mask],
                 time.perf_counter() - t0))
    t0 = time.perf_counter()
    gm = GaussianMixture(k, random_state=0, nan_policy="marginalize",
                         n_threads=args.threads).fit(Xm)
    filled = gm.impute(Xm)
    rows.append((f"gmscore GMM K={k} impute ({gm.n_iter_} it)", filled[mask],
                 time.perf_counter() - t0))
    if not args.no_imputer:
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer

        t0 = time.perf_counter()
        with threadpool_limits(args.threads):
            imp = IterativeImputer(max_iter=10, random_state=0).fit_transform(Xm)
        rows.append(("sklearn IterativeImputer", imp[mask], time.perf_counter() - t0))
    print(f"\n{'imputation':34s} {'RMSE':>8s} {'wall s':>8s}")
    for name, values, secs in rows:
        rmse = float(np.sqrt(np.mean((values - truth) ** 2)))
        print(f"{name:34s} {rmse:8.4f} {secs:8.2f}")


if __name__ == "__main__":
    main()
