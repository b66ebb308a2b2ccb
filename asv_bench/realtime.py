"""Real-time benchmarks R1-R4 (issue 14): streaming HMM inference and online EM.

    R1  HMMFilter.update(x) latency from Python, GaussianHMM K=8, D=10, diag
        and full: median and 99th percentile (target: median <= 10 us).
    R2  HMMFilter.update_many throughput (frames/s), K=8 and K=32, D=10 diag,
        1 thread (filter(decode=False); with the Viterbi recursion as well
        for reference), against the batch forward pass per frame
        (predict_proba(causal=True), and score) on the same frames
        (target: within 2x).
    R3  What users do today: hmmlearn re-running predict_proba on the growing
        window at t = 1,000 and 10,000 frames, per new frame, against one
        HMMFilter.update.
    R4  GaussianMixture.partial_fit over N samples in batches of 10,000 (diag,
        D=8, K=8; N = 10M with --full, else 1M): total time and final mean
        log-likelihood, against batch fits to convergence on the same data
        (tol=1e-6) from gmscore's default start and from the online run's
        start (its fit on the first batch).

Everything runs on one thread (n_threads=1, BLAS limited to 1). Model
parameters are fixed-seed random draws; the data are samples of the models.

Usage: python asv_bench/realtime.py [--full] [--only R1,R2,...] [--json out.json]
"""
import argparse
import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits


def random_hmm(k, d, covariance_type, seed=0):
    from gmscore import GaussianHMM

    rs = np.random.RandomState(seed)
    model = GaussianHMM(k, covariance_type=covariance_type, init_params="", n_threads=1)
    model.startprob_ = rs.dirichlet(np.ones(k))
    trans = rs.dirichlet(np.ones(k), size=k) + 4 * np.eye(k)
    model.transmat_ = trans / trans.sum(axis=1, keepdims=True)
    model.means_ = rs.randn(k, d) * 3
    if covariance_type == "diag":
        model.covars_ = rs.uniform(0.5, 2.0, size=(k, d))
    else:
        a = rs.randn(k, d, d) / np.sqrt(d)
        model.covars_ = a @ np.transpose(a, (0, 2, 1)) + 0.5 * np.eye(d)
    return model


def hmmlearn_copy(model):
    from hmmlearn import hmm

    h = hmm.GaussianHMM(model.n_components, covariance_type=model.covariance_type,
                        init_params="")
    h.startprob_ = model.startprob_.copy()
    h.transmat_ = model.transmat_.copy()
    h.means_ = model.means_.copy()
    h.covars_ = np.array(model._covars_, copy=True)
    return h


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def r1(results, n_updates=20_000):
    for ct in ("diag", "full"):
        model = random_hmm(8, 10, ct)
        X, _ = model.sample(n_updates, random_state=1)
        f = model.filter()
        update = f.update
        for x in X[:1000]:   # warm-up
            update(x)
        f.reset()
        ns = np.empty(n_updates)
        clock = time.perf_counter_ns
        for i in range(n_updates):
            x = X[i]
            t0 = clock()
            update(x)
            ns[i] = clock() - t0
        us = ns / 1e3
        row = {"covariance_type": ct, "median_us": float(np.median(us)),
               "p99_us": float(np.percentile(us, 99)), "n": n_updates}
        results.setdefault("R1", []).append(row)
        print(f"R1 update  K=8 D=10 {ct:5s}: median {row['median_us']:.2f} us, "
              f"p99 {row['p99_us']:.2f} us  ({n_updates} updates)")


def r2(results, n_frames=200_000):
    for k in (8, 32):
        model = random_hmm(k, 10, "diag")
        X, _ = model.sample(n_frames, random_state=2)
        f = model.filter(max_lag=0, decode=False)
        t_many, _ = best_of(lambda: f.reset().update_many(X))
        fd = model.filter(max_lag=0)
        t_many_dec, _ = best_of(lambda: fd.reset().update_many(X))
        t_causal, _ = best_of(lambda: model.predict_proba(X, causal=True))
        t_score, _ = best_of(lambda: model.score(X))
        row = {"K": k, "frames": n_frames, "update_many_fps": n_frames / t_many,
               "causal_fps": n_frames / t_causal, "score_fps": n_frames / t_score,
               "update_many_decode_fps": n_frames / t_many_dec,
               "ratio_vs_causal": t_many / t_causal, "ratio_vs_score": t_many / t_score}
        results.setdefault("R2", []).append(row)
        print(f"R2 K={k:2d}: update_many {row['update_many_fps'] / 1e6:.2f} Mframes/s; "
              f"batch causal forward {row['causal_fps'] / 1e6:.2f} Mframes/s "
              f"(ratio {row['ratio_vs_causal']:.2f}); score {row['score_fps'] / 1e6:.2f} "
              f"Mframes/s (ratio {row['ratio_vs_score']:.2f}); with decode=True "
              f"{row['update_many_decode_fps'] / 1e6:.2f} Mframes/s")


def r3(results):
    try:
        h = hmmlearn_copy(random_hmm(8, 10, "diag"))
    except ImportError:
        print("R3 skipped: hmmlearn is not installed")
        return
    model = random_hmm(8, 10, "diag")
    X, _ = model.sample(10_001, random_state=3)
    f = model.filter()
    f.update_many(X[:10_000])
    for t in (1_000, 10_000):
        hl, _ = best_of(lambda: h.predict_proba(X[:t]), repeat=5)
        gm, _ = best_of(lambda: model.predict_proba(X[:t], causal=True), repeat=5)
        # the filter's cost per new frame does not depend on t
        g, reps = f.copy(), 2000
        t0 = time.perf_counter()
        for i in range(reps):
            g.update(X[i])
        upd = (time.perf_counter() - t0) / reps
        row = {"t": t, "hmmlearn_window_s": hl, "gmscore_window_causal_s": gm,
               "filter_update_s": upd, "speedup_vs_hmmlearn": hl / upd}
        results.setdefault("R3", []).append(row)
        print(f"R3 t={t:6d}: hmmlearn predict_proba(window) {hl * 1e3:.2f} ms/frame, "
              f"gmscore predict_proba(window, causal) {gm * 1e3:.3f} ms/frame, "
              f"filter.update {upd * 1e6:.2f} us/frame ({hl / upd:.0f}x vs hmmlearn)")


def _r4_truth(k=8, d=8, seed=4):
    rs = np.random.RandomState(seed)
    return (rs.dirichlet(np.full(k, 5.0)), rs.randn(k, d) * 3,
            rs.uniform(0.5, 2.0, size=(k, d)))


def _r4_batch(i, size, truth):
    w, mu, var = truth
    rs = np.random.RandomState(1000 + i)
    z = rs.choice(len(w), size=size, p=w)
    return mu[z] + rs.randn(size, mu.shape[1]) * np.sqrt(var[z])


def r4(results, n_samples):
    from gmscore import GaussianMixture

    truth, size = _r4_truth(), 10_000
    n_batches = n_samples // size
    # generated once (10M x 8 float64 = 640 MB with --full), outside the timings
    X = np.concatenate([_r4_batch(i, size, truth) for i in range(n_batches)])

    online = GaussianMixture(8, covariance_type="diag", random_state=0, n_threads=1)
    t0 = time.perf_counter()
    for i in range(n_batches):
        online.partial_fit(X[i * size:(i + 1) * size])
        if i == 0:
            start = online.weights_.copy(), online.means_.copy(), online.precisions_.copy()
    t_online = time.perf_counter() - t0
    row = {"n_samples": n_batches * size, "partial_fit_s": t_online,
           "loglik_online": online.score(X)}
    # batch fits to convergence: gmscore's default start (k-means on all the
    # data), and the online run's start (its fit on the first batch)
    for name, kwargs in (("default_start", {}),
                         ("online_start", {"weights_init": start[0], "means_init": start[1],
                                           "precisions_init": start[2]})):
        batch = GaussianMixture(8, covariance_type="diag", random_state=0, n_threads=1,
                                max_iter=1000, tol=1e-6, **kwargs)
        t0 = time.perf_counter()
        batch.fit(X)
        row[f"fit_{name}_s"] = time.perf_counter() - t0
        row[f"fit_{name}_n_iter"] = int(batch.n_iter_)
        row[f"loglik_fit_{name}"] = batch.score(X)
    results["R4"] = [row]
    print(f"R4 N={row['n_samples']:,}: partial_fit {t_online:.2f} s, mean loglik "
          f"{row['loglik_online']:.6f}")
    for name in ("default_start", "online_start"):
        ll = row[f"loglik_fit_{name}"]
        print(f"   fit ({name}) {row[f'fit_{name}_s']:.2f} s, "
              f"{row[f'fit_{name}_n_iter']} iterations, mean loglik {ll:.6f}; online vs this "
              f"fit: relative gap {(ll - row['loglik_online']) / abs(ll):+.2e}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="R4 on 10M samples (default 1M)")
    p.add_argument("--only", default="R1,R2,R3,R4")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    which = set(args.only.upper().split(","))
    results = {"threads": 1}
    with threadpool_limits(1):
        if "R1" in which:
            r1(results)
        if "R2" in which:
            r2(results)
        if "R3" in which:
            r3(results)
        if "R4" in which:
            r4(results, 10_000_000 if args.full else 1_000_000)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
