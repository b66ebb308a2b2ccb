"""``gmscore bench``: seconds per EM / Baum-Welch iteration, gmscore side by
side with scikit-learn (mixtures) and hmmlearn (HMMs) when they are
installed, on the design's workloads G1-G3 and H1-H3 (the definitions of
asv_bench/benchmarks/common.py; asv_bench/compare.py is the full script,
with memory, prediction, out-of-core and end-to-end runs).

Both libraries start from the same parameters and run exactly ``n_iter``
iterations (tol=0 / -inf): mixtures from gmscore's k-means start (not
timed), HMMs from fixed parameters near the generating model. s/it is the
median over ``--repeat`` timed fits, each after an untimed one-iteration
fit, divided by ``n_iter``; the last column is the relative difference of
the two final log-likelihoods (identical starts: rounding only). The
default sizes are 1/20 of the design's (``--full``: the design's; the
speed-up targets apply to those, on 2 threads).
"""
import sys
import time
import warnings

import numpy as np

# name: (model, covariance, n_samples or (n_sequences, n_frames), D, K, n_mix, seed)
WORKLOADS = {
    "G1": ("GaussianMixture", "full", 200_000, 16, 16, 1, 1001),
    "G2": ("GaussianMixture", "diag", 1_000_000, 8, 8, 1, 1002),
    "G3": ("GaussianMixture", "full", 100_000, 64, 32, 1, 1003),
    "H1": ("GaussianHMM", "diag", (100, 1000), 10, 8, 1, 2001),
    "H2": ("GaussianHMM", "full", (20, 5000), 8, 16, 1, 2002),
    "H3": ("GMMHMM", "diag", (50, 2000), 13, 5, 4, 2003),
}
TARGETS = {"G1": 15.0, "G2": 15.0, "G3": 8.0, "H1": 30.0, "H2": 50.0, "H3": 30.0}
SMALL = 20   # the default sizes divide N (mixtures) or the sequences (HMMs) by this


def add_bench_parser(sub):
    p = sub.add_parser("bench", help="seconds per iteration vs scikit-learn / hmmlearn "
                       "(the design's workloads, small sizes by default)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--workloads", default=",".join(WORKLOADS), metavar="G1,H1,...",
                   help=f"some of {','.join(WORKLOADS)} (default all)")
    p.add_argument("--full", action="store_true", help="the design's sizes (slow for the "
                   "peers: hmmlearn takes seconds per H2 iteration)")
    p.add_argument("--scale", type=float, help="sizes times this (default 1/20; --full: 1)")
    p.add_argument("--n-iter", type=int, help="iterations per timed fit (default 5 for "
                   "mixtures, 3 for HMMs)")
    p.add_argument("--repeat", type=int, default=1, help="timed fits per library (median)")
    p.add_argument("--threads", type=int, default=2,
                   help="gmscore threads and the peers' BLAS threads (default 2)")
    p.add_argument("--no-peers", action="store_true", help="time gmscore only")
    p.add_argument("-q", "--quiet", action="store_true", help="no status lines on stderr")


def _sizes(name, scale):
    model, cov, n, d, k, m, seed = WORKLOADS[name]
    if isinstance(n, tuple):
        n = (max(1, int(round(n[0] * scale))), n[1])
    else:
        n = max(10 * k, int(round(n * scale)))
    return model, cov, n, d, k, m, seed


def _describe(model, cov, n, d, k, m):
    size = f"{n[0]}x{n[1]}" if isinstance(n, tuple) else f"N={n:_}"
    return f"{model} {cov}, {size}, D={d}, K={k}" + (f", M={m}" if model == "GMMHMM" else "")


def _gmm_data(n, d, k, seed):
    """A fixed random mixture of k correlated Gaussians in a cube."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 5.0)))
    means = rng.uniform(-4.0, 4.0, size=(k, d))
    a = rng.normal(size=(k, d, d))
    chols = np.linalg.cholesky(a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d))
    Z = rng.standard_normal((n, d))
    return np.einsum("nij,nj->ni", chols[labels], Z) + means[labels]


def _hmm_data(model, cov, n_seq, n_frames, d, k, m, seed):
    """A sticky chain (stay 0.9) with separated Gaussian (mixture) states,
    and a start near it that both libraries are given."""
    rng = np.random.default_rng(seed)
    n = n_seq * n_frames
    jumps = rng.random(n) >= 0.9
    jumps[::n_frames] = True
    fresh = rng.choice(k, size=n)
    states = fresh[np.maximum.accumulate(np.where(jumps, np.arange(n), 0))]
    centres = rng.uniform(-4.0, 4.0, size=(k, d))
    if model == "GMMHMM":
        means = centres[:, None, :] + rng.normal(scale=1.5, size=(k, m, d))
        comp = rng.integers(0, m, size=n)
        X = means[states, comp] + rng.standard_normal((n, d)) * 0.6
    elif cov == "diag":
        means = centres
        X = means[states] + rng.standard_normal((n, d)) * rng.uniform(0.5, 1.2, (k, d))[states]
    else:
        means = centres
        a = rng.normal(size=(k, d, d))
        chols = np.linalg.cholesky(a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d))
        X = np.einsum("nij,nj->ni", chols[states], rng.standard_normal((n, d))) + means[states]
    alpha = np.ones((k, k)) + 4.0 * np.eye(k)
    start = {"startprob_": np.full(k, 1.0 / k),
             "transmat_": np.array([rng.dirichlet(row) for row in alpha]),
             "means_": means + rng.normal(scale=0.5, size=means.shape)}
    var = X.var(axis=0)
    if model == "GMMHMM":
        start["weights_"] = np.full((k, m), 1.0 / m)
        start["covars_"] = np.tile(var, (k, m, 1))
    elif cov == "diag":
        start["covars_"] = np.tile(var, (k, 1))
    else:
        start["covars_"] = np.tile(np.cov(X, rowvar=False), (k, 1, 1))
    return X, np.full(n_seq, n_frames, dtype=np.int64), start


def _peer(model):
    """The peer's class, or None when it is not installed."""
    try:
        if model in ("GaussianMixture",):
            from sklearn.mixture import GaussianMixture

            return "scikit-learn", GaussianMixture
        from hmmlearn import hmm

        return "hmmlearn", getattr(hmm, model)
    except ImportError:
        return None


def _timed(make, fit, n_iter, repeat):
    """Median seconds per iteration of ``fit(make(n_iter))``, each timed
    fit after an untimed 1-iteration one; and the last model."""
    times, model = [], None
    for _ in range(repeat):
        fit(make(1))
        model = make(n_iter)
        t0 = time.perf_counter()
        fit(model)
        times.append((time.perf_counter() - t0) / n_iter)
    return float(np.median(times)), model


def _gmm_case(cov, n, d, k, seed, n_iter, repeat, threads, peer):
    import gmscore

    X = _gmm_data(n, d, k, seed)
    init = gmscore.GaussianMixture(k, covariance_type=cov, max_iter=0, random_state=0,
                                   n_threads=threads).fit(X)
    start = dict(weights_init=init.weights_, means_init=init.means_,
                 precisions_init=init.precisions_)

    def make(cls, **kw):
        return lambda it: cls(k, covariance_type=cov, tol=0.0, max_iter=it, **start, **kw)

    def ll(m):
        return float(m.score(X))

    ours, m1 = _timed(make(gmscore.GaussianMixture, n_threads=threads),
                      lambda m: m.fit(X), n_iter, repeat)
    theirs = diff = None
    if peer is not None:
        theirs, m2 = _timed(make(peer), lambda m: m.fit(X), n_iter, repeat)
        diff = abs(ll(m1) - ll(m2)) / abs(ll(m2))
    return ours, theirs, diff


def _hmm_case(model, cov, n, d, k, m, seed, n_iter, repeat, threads, peer):
    import gmscore

    X, lengths, start = _hmm_data(model, cov, n[0], n[1], d, k, m, seed)

    def make(cls, tol, **kw):
        extra = {"n_mix": m} if model == "GMMHMM" else {}

        def build(it):
            h = cls(k, covariance_type=cov, n_iter=it, tol=tol, init_params="", **extra, **kw)
            for attr, value in start.items():
                setattr(h, attr, value.copy())
            return h
        return build

    ours, m1 = _timed(make(getattr(gmscore, model), 0.0, n_threads=threads),
                      lambda h: h.fit(X, lengths), n_iter, repeat)
    theirs = diff = None
    if peer is not None:
        theirs, m2 = _timed(make(peer, -np.inf), lambda h: h.fit(X, lengths), n_iter, repeat)
        a, b = m1.monitor_.history[-1], m2.monitor_.history[-1]
        diff = abs(a - b) / abs(b)
    return ours, theirs, diff


def _row(cells, widths):
    return "  ".join(str(c).rjust(w) if i >= 2 else str(c).ljust(w)
                     for i, (c, w) in enumerate(zip(cells, widths)))


def run_bench(args):
    from threadpoolctl import threadpool_limits

    from ._cli_io import UsageError

    names = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in names if w not in WORKLOADS]
    if bad or not names:
        raise UsageError(f"--workloads {args.workloads!r}: use some of {','.join(WORKLOADS)}")
    if args.repeat < 1 or (args.n_iter is not None and args.n_iter < 1) or args.threads < 1:
        raise UsageError("--repeat, --n-iter and --threads must be positive")
    scale = args.scale if args.scale is not None else (1.0 if args.full else 1.0 / SMALL)
    if not scale > 0:
        raise UsageError("--scale must be positive")
    head = ("workload", "model", "gmscore s/it", "peer s/it", "speed-up", "target",
            "rel. diff")
    widths = (8, 44, 12, 22, 8, 6, 9)
    out = sys.stdout
    out.write(f"seconds per iteration, {args.threads} threads, float64, sizes x{scale:g}\n")
    out.write(_row(head, widths) + "\n")
    missing = set()
    for name in names:
        model, cov, n, d, k, m, seed = _sizes(name, scale)
        found = None if args.no_peers else _peer(model)
        if found is None and not args.no_peers:
            missing.add("scikit-learn" if model == "GaussianMixture" else "hmmlearn")
        peer_name, peer = found if found is not None else ("", None)
        n_iter = args.n_iter or (5 if model == "GaussianMixture" else 3)
        if not args.quiet:
            print(f"bench {name}: {_describe(model, cov, n, d, k, m)} ...", file=sys.stderr,
                  flush=True)
        with warnings.catch_warnings(), threadpool_limits(args.threads):
            warnings.simplefilter("ignore")     # tol=0 never converges, by design
            if model == "GaussianMixture":
                ours, theirs, diff = _gmm_case(cov, n, d, k, seed, n_iter, args.repeat,
                                               args.threads, peer)
            else:
                ours, theirs, diff = _hmm_case(model, cov, n, d, k, m, seed, n_iter,
                                               args.repeat, args.threads, peer)
        cells = (name, _describe(model, cov, n, d, k, m), f"{ours:.4g}",
                 "-" if theirs is None else f"{theirs:.4g} ({peer_name})",
                 "-" if theirs is None else f"{theirs / ours:.1f}x", f"{TARGETS[name]:g}x",
                 "-" if diff is None else f"{diff:.1e}")
        out.write(_row(cells, widths) + "\n")
        out.flush()
    if missing:
        out.write(f"(no peer column: install {' and '.join(sorted(missing))} for the "
                  "comparison)\n")
    if scale != 1.0:
        out.write("(the targets apply to the design's sizes: gmscore bench --full)\n")
    return 0
