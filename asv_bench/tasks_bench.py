"""T1 / T3: the classifiers against per-class loops of the peers.

    python asv_bench/tasks_bench.py             # T1 and T3 at the issue's sizes
    python asv_bench/tasks_bench.py --quick     # a tenth of the data, a smoke run
    python asv_bench/tasks_bench.py --only T1   # one workload

T1  GaussianMixtureClassifier, N=1M, D=16, 10 classes x 8 components, full,
    against a loop of scikit-learn GaussianMixture fits, one per class.
T3  HMMClassifier, 20 classes x 100 sequences x 500 frames (D=10, 4 states,
    diag: the issue does not fix D, K or the covariance type), against a
    loop of hmmlearn GaussianHMM fits, one per class; and prediction
    (per-sequence log-likelihoods of every class) against hmmlearn
    ``score`` called per class and sequence.

Per iteration: (fit of n + 1 iterations - fit of 1 iteration) / n, median
of ``--repeat`` runs, tol=0 (T1: both from the same explicit per-class
starting parameters; T3: each library's own initialisation, which the
difference cancels). End to end: median of ``--repeat`` fits with each library's defaults
(max_iter / n_iter and tol as given), initialisation included.
Threads: gmscore's ``n_threads`` (default 2); scikit-learn / hmmlearn run
with threadpoolctl's BLAS limit at the same count.
"""
import argparse
import json
import time
import warnings

import numpy as np


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def per_iteration(make, n_iter, repeat):
    one = timed(lambda: make(1), repeat)
    many = timed(lambda: make(n_iter + 1), repeat)
    return (many - one) / n_iter


# =================================================================== T1
def t1_data(n, d, n_classes, k, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(n_classes, size=n)
    centres = rng.uniform(-5, 5, size=(n_classes, k, d))
    comp = rng.randint(k, size=n)
    X = centres[y, comp] + rng.standard_normal((n, d))
    return X, y


def t1_starts(X, y, n_classes, k, seed=1):
    rng = np.random.RandomState(seed)
    d = X.shape[1]
    means = np.stack([X[y == c][rng.choice((y == c).sum(), k, replace=False)]
                      for c in range(n_classes)])
    weights = np.full((n_classes, k), 1.0 / k)
    prec = np.tile(np.eye(d), (n_classes, k, 1, 1))
    return weights, means, prec


def run_t1(scale, n_iter, repeat, n_threads):
    from sklearn.mixture import GaussianMixture as SkGM
    from threadpoolctl import threadpool_limits

    from gmscore import GaussianMixtureClassifier
    from gmscore.classifier import class_seeds

    n, d, n_classes, k = int(1_000_000 * scale), 16, 10, 8
    X, y = t1_data(n, d, n_classes, k)
    w, m, p = t1_starts(X, y, n_classes, k)
    rows = [X[y == c] for c in range(n_classes)]

    def ours(it):
        return GaussianMixtureClassifier(k, covariance_type="full", weights_init=w,
                                         means_init=m, precisions_init=p, tol=0.0,
                                         max_iter=it, n_threads=n_threads).fit(X, y)

    def theirs(it):
        return [SkGM(k, covariance_type="full", weights_init=w[c], means_init=m[c],
                     precisions_init=p[c], tol=0.0, max_iter=it).fit(rows[c])
                for c in range(n_classes)]

    with warnings.catch_warnings(), threadpool_limits(n_threads):
        warnings.simplefilter("ignore")
        a, b = ours(3), theirs(3)
        diff = max(float(np.abs(a.estimators_[c].means_ - b[c].means_).max())
                   for c in range(n_classes))
        ours_it = per_iteration(ours, n_iter, repeat)
        theirs_it = per_iteration(theirs, n_iter, repeat)
        # default fits: median of `repeat` (each fit is short and the
        # machine's speed drifts); the same seeds every time, and the
        # same per-class seeds on both sides (class c is fitted as
        # GaussianMixture(random_state=class_seeds(0, C)[c]) would be), so
        # both start from the same k-means initialisation
        last = {}
        seeds = class_seeds(0, n_classes)

        def ours_default():
            last["ours"] = GaussianMixtureClassifier(k, covariance_type="full", random_state=0,
                                                     n_threads=n_threads).fit(X, y)

        def theirs_default():
            last["theirs"] = [SkGM(k, covariance_type="full",
                                   random_state=int(seeds[c])).fit(rows[c])
                              for c in range(n_classes)]

        ours_e2e = timed(ours_default, repeat)
        theirs_e2e = timed(theirs_default, repeat)
        clf, sk = last["ours"], last["theirs"]
    return {
        "workload": f"T1 GMM classifier full N={n} D={d} C={n_classes} K={k}",
        "gmscore_s_per_iter": ours_it, "sklearn_loop_s_per_iter": theirs_it,
        "speedup_per_iter": theirs_it / ours_it,
        "gmscore_default_fit_s": ours_e2e, "gmscore_default_iters": clf.n_iter_.tolist(),
        "sklearn_loop_default_fit_s": theirs_e2e,
        "sklearn_default_iters": [g.n_iter_ for g in sk],
        "max_abs_mean_diff_after_3_iters": diff,
        "max_abs_mean_diff_default_fits": max(
            float(np.abs(clf.estimators_[c].means_ - sk[c].means_).max())
            for c in range(n_classes)),
    }


# =================================================================== T3
def t3_data(n_classes, n_seq, frames, d, k, seed=0):
    rng = np.random.RandomState(seed)
    seqs, y = [], []
    for c in range(n_classes):
        means = rng.uniform(-3, 3, size=(k, d))
        stay = 0.5 + 0.45 * c / max(n_classes - 1, 1)
        for _ in range(n_seq):
            moves = rng.uniform(size=frames) > stay
            jumps = rng.randint(1, k, size=frames)
            states = np.empty(frames, dtype=np.int64)
            states[0] = rng.randint(k)
            for t in range(1, frames):   # a benchmark's data generator
                states[t] = (states[t - 1] + jumps[t]) % k if moves[t] else states[t - 1]
            seqs.append(means[states] + rng.standard_normal((frames, d)))
            y.append(c)
    return seqs, np.array(y)


def run_t3(scale, n_iter, repeat, n_threads):
    from hmmlearn import hmm as hl
    from threadpoolctl import threadpool_limits

    from gmscore import HMMClassifier

    n_classes, n_seq, frames, d, k = 20, max(int(100 * scale), 2), 500, 10, 4
    seqs, y = t3_data(n_classes, n_seq, frames, d, k)
    X = np.concatenate(seqs)
    lengths = np.full(len(seqs), frames)
    per_class = [(np.concatenate([s for s, lab in zip(seqs, y) if lab == c]),
                  np.full(n_seq, frames)) for c in range(n_classes)]

    def ours(it):
        return HMMClassifier(k, covariance_type="diag", n_iter=it, tol=-np.inf,
                             random_state=0, n_threads=n_threads).fit(X, y, lengths=lengths)

    def theirs(it):
        return [hl.GaussianHMM(k, covariance_type="diag", n_iter=it, tol=-np.inf,
                               random_state=0).fit(Xc, lc) for Xc, lc in per_class]

    with warnings.catch_warnings(), threadpool_limits(n_threads):
        warnings.simplefilter("ignore")
        import logging

        logging.getLogger("hmmlearn").setLevel(logging.ERROR)
        ours_it = per_iteration(ours, n_iter, repeat)
        theirs_it = per_iteration(theirs, n_iter, repeat)
        clf, ref = ours(10), theirs(10)
        ours_pred = timed(lambda: clf.log_likelihoods(X, lengths), repeat)
        sub = seqs[:: max(len(seqs) // 200, 1)]     # hmmlearn: a sample of the sequences
        t0 = time.perf_counter()
        for s in sub:
            for m in ref:
                m.score(s)
        theirs_pred = (time.perf_counter() - t0) * len(seqs) / len(sub)
        t0 = time.perf_counter()
        ours(10)
        ours_e2e = time.perf_counter() - t0
        t0 = time.perf_counter()
        theirs(10)
        theirs_e2e = time.perf_counter() - t0
    return {
        "workload": f"T3 HMM classifier diag C={n_classes} x {n_seq} seqs x {frames} "
                    f"frames D={d} K={k}",
        "gmscore_s_per_iter": ours_it, "hmmlearn_loop_s_per_iter": theirs_it,
        "speedup_per_iter": theirs_it / ours_it,
        "gmscore_fit_10_iter_s": ours_e2e, "hmmlearn_loop_fit_10_iter_s": theirs_e2e,
        "gmscore_predict_s": ours_pred,
        "hmmlearn_score_loop_s (extrapolated from %d sequences)" % len(sub): theirs_pred,
        "speedup_predict": theirs_pred / ours_pred,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the data")
    ap.add_argument("--only", choices=["T1", "T3"])
    ap.add_argument("--n-iter", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n-threads", type=int, default=2)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    scale = 0.1 if args.quick else 1.0
    results = []
    if args.only in (None, "T1"):
        results.append(run_t1(scale, args.n_iter, args.repeat, args.n_threads))
    if args.only in (None, "T3"):
        results.append(run_t3(scale, args.n_iter, args.repeat, args.n_threads))
    for r in results:
        print(r["workload"])
        for key, value in r.items():
            if key != "workload":
                print(f"  {key:55s} {value:.4g}" if isinstance(value, float)
                      else f"  {key:55s} {value}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
