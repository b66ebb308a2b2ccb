"""The ``gmscore demo`` job: fit a GaussianMixture on a built-in dataset and
report what happened (and scikit-learn's time for the same fit, if present).

The dataset comes from :func:`make_demo_data`: a fixed-seed draw from a known
mixture, so every run fits the same data and the recovered parameters can be
compared with the truth.
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


def run_demo(n_samples=200_000, n_threads=None, compare=True, out=print):
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
        return 0
    try:
        from sklearn.mixture import GaussianMixture as SkGaussianMixture
    except ImportError:
        out("\nscikit-learn not installed: no side-by-side timing "
            "(pip install scikit-learn to see it)")
        return 0
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
    return 0
