"""T2: Gaussian mixture regression, predict on 1M rows (D_in=8, D_out=2,
K=16, full covariances), gmscore against the gmr package from the same
joint mixture.

    python asv_bench/regression_bench.py [--rows N] [--repeat R] [--threads T]

gmscore runs with ``--threads`` kernel threads (default 2); gmr is numpy, its
BLAS pinned to the same number of threads with threadpoolctl. Medians of
``--repeat`` calls; the predictions' agreement is printed as well.
"""
import argparse
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits


def joint_mixture(d_in, d_out, k, seed=0):
    """A fitted GaussianMixture over d_in + d_out dimensions, from a
    random mixture's draws (fitted once on 50,000 rows)."""
    from gmscore import GaussianMixture

    rng = np.random.RandomState(seed)
    d = d_in + d_out
    centres = rng.uniform(-5, 5, size=(k, d))
    mix = [rng.randn(d, d) / np.sqrt(d) for _ in range(k)]
    labels = rng.randint(0, k, size=50_000)
    Z = centres[labels] + np.einsum("nij,nj->ni", np.stack(mix)[labels],
                                    rng.randn(50_000, d))
    return GaussianMixture(k, random_state=0, max_iter=20, tol=1e-3).fit(Z)


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    import gmr

    from gmscore import GaussianMixtureRegressor

    d_in, d_out, k = 8, 2, 16
    gm = joint_mixture(d_in, d_out, k)
    reg = GaussianMixtureRegressor(k, n_threads=args.threads)
    reg.mixture_, reg.n_features_in_, reg.n_targets_, reg._y_one_d = gm, d_in, d_out, False
    X = np.random.RandomState(1).uniform(-5, 5, size=(args.rows, d_in))
    ref = gmr.GMM(k, priors=gm.weights_, means=gm.means_, covariances=gm.covariances_)
    ours_s, ours = median_time(lambda: reg.predict(X), args.repeat)
    with threadpool_limits(args.threads, user_api="blas"):
        peer_s, peer = median_time(lambda: ref.predict(np.arange(d_in), X), args.repeat)
    ours_std_s, _ = median_time(lambda: reg.predict(X, return_std=True), args.repeat)
    rel = float(np.max(np.abs(ours - peer)) / np.max(np.abs(peer)))
    print(f"T2 GMR predict, {args.rows:_} rows, D_in={d_in}, D_out={d_out}, K={k}, full, "
          f"float64; gmscore {args.threads} threads, gmr with BLAS at {args.threads}; "
          f"median of {args.repeat}")
    print(f"  gmscore predict           {ours_s:.4f} s")
    print(f"  gmscore predict+std       {ours_std_s:.4f} s")
    print(f"  gmr GMM.predict           {peer_s:.4f} s")
    print(f"  speed-up                  {peer_s / ours_s:.1f}x (target >= 50x)")
    print(f"  max relative difference   {rel:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
