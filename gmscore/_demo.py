"""The ``gmscore demo`` job: fit a GaussianMixture and a GaussianHMM on
built-in datasets and report what happened (and scikit-learn's / hmmlearn's
time for the same fits, when they are installed).

The datasets come from :func:`make_demo_data` and :func:`make_demo_sequences`:
fixed-seed draws from known models, so every run fits the same data and the
recovered parameters can be compared with the truth.
"""
import time

import numpy as np

DEMO_SEED = 20261127


def make_demo_data(n_samples=200_000, n_features=8, n_components=6, seed=DEMO_SEED):
    """Draw from a fixed random mixture of correlated Gaussians.

    Returns (X, labels, truth) with ``truth`` a dict of the generating
    ``weights``, ``means`` and ``covariances``.
    """
    rng = np.random.RandomState(seed)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = rng.uniform(-10, 10, size=(n_components, n_features))
    covariances = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        a = rng.normal(size=(n_features, n_features))
        covariances[k] = a @ a.T / n_features + 0.1 * np.eye(n_features)
    labels = rng.choice(n_components, size=n_samples, p=weights)
    chol = np.linalg.cholesky(covariances)
    z = rng.standard_normal(size=(n_samples, n_features))
    X = means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    return X, labels, {"weights": weights, "means": means, "covariances": covariances}


def make_demo_sequences(n_sequences=40, length=500, n_features=4, n_states=3, seed=DEMO_SEED):
    """Draw sequences from a fixed 3-regime Gaussian HMM with full covariances.

    Returns (X, lengths, states, truth) with ``truth`` the generating
    ``startprob``, ``transmat``, ``means`` and ``covars``.
    """
    rng = np.random.RandomState(seed + 1)
    startprob = np.full(n_states, 1.0 / n_states)
    transmat = np.full((n_states, n_states), 0.05 / (n_states - 1))
    np.fill_diagonal(transmat, 0.95)
    means = rng.uniform(-4, 4, size=(n_states, n_features))
    covars = np.empty((n_states, n_features, n_features))
    for k in range(n_states):
        a = rng.normal(size=(n_features, n_features)) * 0.5
        covars[k] = a @ a.T + 0.3 * np.eye(n_features)
    lengths = np.full(n_sequences, length)
    n = int(lengths.sum())
    # the state path, vectorised over sequences
    u = rng.random_sample((n_sequences, length))
    states = np.empty((n_sequences, length), dtype=np.int64)
    states[:, 0] = np.searchsorted(np.cumsum(startprob), u[:, 0])
    cdf = np.cumsum(transmat, axis=1)
    for t in range(1, length):
        rows = cdf[states[:, t - 1]]
        states[:, t] = np.minimum((rows <= u[:, t, None]).sum(axis=1), n_states - 1)
    states = states.ravel()
    chol = np.linalg.cholesky(covars)
    X = means[states] + np.einsum("nij,nj->ni", chol[states],
                                  rng.standard_normal((n, n_features)))
    truth = {"startprob": startprob, "transmat": transmat, "means": means, "covars": covars}
    return X, lengths, states, truth


def run_hmm_demo(n_threads=None, compare=True, out=print):
    from . import GaussianHMM

    X, lengths, states, truth = make_demo_sequences()
    k = truth["means"].shape[0]
    out(f"\ndata: built-in 3-regime sequences, seed {DEMO_SEED + 1}: {len(lengths)} "
        f"sequences x {lengths[0]} frames, {X.shape[1]} features")
    out(f"fitting GaussianHMM(n_components={k}, covariance_type='full', n_init=3) ...")
    # Baum-Welch from hmmlearn's random start can stop in a local optimum;
    # three restarts (a gmscore extra) keep the best.
    model = GaussianHMM(n_components=k, covariance_type="full", n_iter=100, tol=1e-4,
                        random_state=0, n_init=3, n_threads=n_threads)
    t0 = time.perf_counter()
    model.fit(X, lengths)
    t_fit = time.perf_counter() - t0
    mon = model.monitor_
    out(f"best restart converged: {mon.converged} after {mon.iter} iterations; "
        f"{t_fit:.3f} s for all restarts; log-likelihood {mon.history[-1]:.4f}")
    gains = np.diff(np.asarray(mon.history))
    out(f"log-likelihood per iteration: {mon.history[0]:.1f} -> {mon.history[-1]:.1f} "
        f"(smallest gain {gains.min():.2e}, never negative: {bool((gains >= -1e-6).all())})")
    order = [int(np.argmin(((truth["means"] - m) ** 2).sum(1))) for m in model.means_]
    if len(set(order)) == k:
        decoded = np.asarray(order)[model.predict(X, lengths)]
        out(f"Viterbi states agreeing with the generating regimes: {(decoded == states).mean():.4f}")
        out("fitted transmat_ (rows in the generating order):")
        inv = np.argsort(order)
        for row in model.transmat_[np.ix_(inv, inv)]:
            out("  " + "  ".join(f"{p:.3f}" for p in row))
    sample, _ = model.sample(5, random_state=0)
    out(f"sample(5) -> array of shape {sample.shape}")
    if not compare:
        return
    try:
        from hmmlearn.hmm import GaussianHMM as HmmlearnGaussianHMM
    except ImportError:
        out("hmmlearn not installed: no side-by-side timing (pip install hmmlearn to see it)")
        return
    import logging

    n_iter = 10
    timings = {}
    fitted = {}
    for name, cls, tol in (("gmscore", GaussianHMM, 0), ("hmmlearn", HmmlearnGaussianHMM, -np.inf)):
        m = cls(n_components=k, covariance_type="full", n_iter=n_iter, tol=tol, init_params="")
        m.startprob_ = np.full(k, 1.0 / k)
        m.transmat_ = np.full((k, k), 1.0 / k)
        m.means_ = model.means_ + 0.5
        m.covars_ = np.tile(np.cov(X.T), (k, 1, 1))
        if name == "gmscore":
            m.n_threads = n_threads
        logging.disable(logging.WARNING)
        try:
            t0 = time.perf_counter()
            m.fit(X, lengths)
            timings[name] = time.perf_counter() - t0
        finally:
            logging.disable(logging.NOTSET)
        fitted[name] = m
    diff = abs(fitted["gmscore"].monitor_.history[-1] - fitted["hmmlearn"].monitor_.history[-1])
    out(f"side by side, {n_iter} Baum-Welch iterations from the same start:")
    out(f"  gmscore   {timings['gmscore'] / n_iter * 1e3:8.2f} ms/iteration")
    out(f"  hmmlearn  {timings['hmmlearn'] / n_iter * 1e3:8.2f} ms/iteration")
    out(f"  speed-up  {timings['hmmlearn'] / timings['gmscore']:8.1f}x; final log-likelihoods "
        f"differ by {diff:.2e}")


def run_demo(n_samples=200_000, n_threads=None, compare=True, out=print):
    run_gmm_demo(n_samples, n_threads, compare, out)
    run_hmm_demo(n_threads, compare, out)
    return 0


def run_gmm_demo(n_samples=200_000, n_threads=None, compare=True, out=print):
    from . import GaussianMixture, get_config

    cfg = get_config()
    k = 6
    X, labels, truth = make_demo_data(n_samples, n_components=k)
    out(f"gmscore {cfg['version']} demo  (OpenMP {'on' if cfg['openmp'] else 'off'}, "
        f"default threads {cfg['default_n_threads']})")
    out(f"data: built-in mixture, seed {DEMO_SEED}: {X.shape[0]} samples x "
        f"{X.shape[1]} features, {k} true components, float64")
    out("")
    out(f"fitting GaussianMixture(n_components={k}, covariance_type='full') ...")
    gm = GaussianMixture(n_components=k, covariance_type="full", random_state=0,
                         verbose=2, verbose_interval=5, n_threads=n_threads, tol=1e-4)
    t0 = time.perf_counter()
    gm.fit(X)
    t_fit = time.perf_counter() - t0
    out("")
    out(f"converged: {gm.converged_} after {gm.n_iter_} iterations in {t_fit:.3f} s "
        f"({t_fit / max(gm.n_iter_, 1) * 1e3:.1f} ms/iteration incl. k-means init)")
    out(f"mean log-likelihood per sample: {gm.lower_bound_:.6f}")
    out(f"BIC: {gm.bic(X):.1f}")
    # Match fitted components to the truth by nearest mean.
    order = [int(np.argmin(((truth['means'] - m) ** 2).sum(1))) for m in gm.means_]
    out("component  weight (true)    |mean - true mean|")
    for j, t in enumerate(order):
        err = np.linalg.norm(gm.means_[j] - truth["means"][t])
        out(f"  {j:2d}       {gm.weights_[j]:.4f} ({truth['weights'][t]:.4f})   {err:.4f}")
    if len(set(order)) == k:
        agree = float((np.asarray(order)[gm.predict(X)] == labels).mean())
        out(f"labels agreeing with the generating components: {agree:.4f}")

    if not compare:
        return
    try:
        from sklearn.mixture import GaussianMixture as SkGaussianMixture
    except ImportError:
        out("\nscikit-learn not installed: no side-by-side timing "
            "(pip install scikit-learn to see it)")
        return
    # Same data, same starting point, fixed number of iterations on both.
    n_iter = 10
    init = GaussianMixture(n_components=k, random_state=0, max_iter=0).fit(X)
    start = dict(weights_init=init.weights_, means_init=init.means_,
                 precisions_init=init.precisions_, max_iter=n_iter, tol=0)
    ours = GaussianMixture(n_components=k, n_threads=n_threads, **start)
    theirs = SkGaussianMixture(n_components=k, **start)
    import warnings

    times = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in (("gmscore", ours), ("scikit-learn", theirs)):
            t0 = time.perf_counter()
            model.fit(X)
            times[name] = time.perf_counter() - t0
    rel = np.abs(ours.means_ - theirs.means_).max() / np.abs(theirs.means_).max()
    out(f"\nside by side, {n_iter} EM iterations from the same start "
        f"(gmscore threads: {ours.n_threads or cfg['default_n_threads']}):")
    out(f"  gmscore       {times['gmscore'] / n_iter * 1e3:8.1f} ms/iteration")
    out(f"  scikit-learn  {times['scikit-learn'] / n_iter * 1e3:8.1f} ms/iteration")
    out(f"  speed-up      {times['scikit-learn'] / times['gmscore']:8.1f}x")
    out(f"  lower bounds  {ours.lower_bound_:.10f} vs {theirs.lower_bound_:.10f}; "
        f"max relative difference of means {rel:.1e}")
