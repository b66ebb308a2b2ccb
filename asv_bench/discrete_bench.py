#!/usr/bin/env python
"""H4: CategoricalHMM, 1,000 sequences x 1,000 symbols, 30 symbols, K=10,
seconds per Baum-Welch iteration, gmscore vs hmmlearn (target >= 30x).

    python asv_bench/discrete_bench.py [--quick] [--threads T] [--n-iter N]
                                       [--repeat R] [--implementation log|scaling]

Both libraries start from the same fixed parameters (init_params='';
gmscore tol=0, hmmlearn tol=-inf) and run exactly N iterations (default 3);
s/it is the median over R repeats (default 3) of the fit time divided by N.
gmscore runs with n_threads=T (default 2); hmmlearn's BLAS is pinned to T
threads with threadpoolctl. Each timed fit follows an untimed 1-iteration
fit of the same library. The two fits' final log-likelihoods are printed
side by side as a check that they did the same work. --quick: 100
sequences (a smoke test; the target applies to the full size).
"""
import logging
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks import timing  # noqa: E402


def parse_args(argv=None):
    return timing.parse_args(__doc__, argv, n_iter=3, extra=lambda p: p.add_argument(
        "--implementation", default="log", choices=["log", "scaling"]))


def workload(n_seq, length=1000, n_symbols=30, k=10, seed=0):
    """Data drawn from one random HMM, the start from another."""
    rs = np.random.RandomState(seed)
    truth_B = rs.dirichlet(np.full(n_symbols, 0.3), k)
    truth_A = rs.dirichlet(np.ones(k), k) + 4 * np.eye(k)
    truth_A /= truth_A.sum(axis=1, keepdims=True)
    states = np.empty(n_seq * length, dtype=np.int64)
    states[::length] = rs.randint(0, k, n_seq)
    u = rs.random_sample(states.shape)
    cdf_A = np.cumsum(truth_A, axis=1)
    for t in range(1, length):   # vectorised over the sequences
        prev = states[t - 1::length]
        states[t::length] = (u[t::length, None] > cdf_A[prev]).sum(axis=1)
    cdf_B = np.cumsum(truth_B, axis=1)
    X = (rs.random_sample(states.shape)[:, None] > cdf_B[states]).sum(axis=1)
    X = np.minimum(X, n_symbols - 1)[:, None].astype(np.int64)
    start = dict(startprob_=np.full(k, 1.0 / k), transmat_=rs.dirichlet(np.full(k, 5.0), k),
                 emissionprob_=rs.dirichlet(np.full(n_symbols, 5.0), k))
    return X, [length] * n_seq, start


def make(library, k, n_iter, threads, implementation, start):
    if library == "gmscore":
        from gmscore import CategoricalHMM

        m = CategoricalHMM(k, n_iter=n_iter, tol=0, init_params="", n_threads=threads,
                           implementation=implementation)
    else:
        from hmmlearn.hmm import CategoricalHMM

        m = CategoricalHMM(k, n_iter=n_iter, tol=-np.inf, init_params="",
                           implementation=implementation)
    for name, value in start.items():
        setattr(m, name, value.copy())
    return m


def timed(library, X, lengths, start, args):
    k = start["startprob_"].shape[0]
    spi, m = timing.seconds_per_iteration(
        lambda n_iter: make(library, k, n_iter, args.threads, args.implementation, start),
        lambda m: m.fit(X, lengths), args.n_iter,
        blas_threads=args.threads if library == "hmmlearn" else 1)
    return spi, m.monitor_.history[-1]


def main(argv=None):
    args = parse_args(argv)
    logging.disable(logging.WARNING)
    n_seq = 100 if args.quick else 1000
    X, lengths, start = workload(n_seq)
    import gmscore
    import hmmlearn

    print(f"H4 CategoricalHMM: {n_seq} x 1000 symbols, 30 symbols, K=10, "
          f"implementation={args.implementation!r}, {args.n_iter} iterations x {args.repeat} "
          f"repeats; gmscore {gmscore.__version__} n_threads={args.threads}, hmmlearn "
          f"{hmmlearn.__version__} BLAS threads={args.threads}; {timing.machine()}")
    libraries = ("gmscore", "hmmlearn")
    times, last = timing.interleaved(
        libraries, lambda lib: timed(lib, X, lengths, start, args), args.repeat)
    timing.print_header(libraries, "final loglik")
    timing.print_rows(times, last)
    print(f"speed-up: {timing.speedup(times, *libraries):.1f}x (target >= 30x); loglik gap "
          f"{abs(last['gmscore'] - last['hmmlearn']):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
