"""EM behaviour of gmscore.GaussianMixture: agreement with scikit-learn from
identical starts, monotonicity, recovery, n_init, warm start, sample
weights, thread/dtype invariance, and the estimator API."""
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest

from gmscore import ConvergenceWarning, GaussianMixture
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

sklearn_mixture = pytest.importorskip("sklearn.mixture")
SkGaussianMixture = sklearn_mixture.GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]


def make_blobs(n_per=300, d=3, k=3, seed=0, spread=5.0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    parts = [rng.randn(n_per, d) @ rng.randn(d, d) + spread * rng.randn(d) for _ in range(k)]
    return np.vstack(parts).astype(dtype)


def rel_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def shared_start(X, k, covariance_type, seed=0):
    """Starting parameters both libraries accept (from 2 sklearn EM steps)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        sk = SkGaussianMixture(k, covariance_type=covariance_type, random_state=seed,
                               max_iter=2).fit(X)
    return dict(weights_init=sk.weights_, means_init=sk.means_,
                precisions_init=sk.precisions_, covariance_type=covariance_type)


def fit_quiet(model, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SkConvergenceWarning)
        return model.fit(X, **kw)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_identical_start_agrees_with_sklearn(covariance_type, seed):
    X = make_blobs(n_per=400, d=4, k=3, seed=seed)
    start = shared_start(X, 3, covariance_type, seed)
    sk = fit_quiet(SkGaussianMixture(3, max_iter=15, tol=0, **start), X)
    gm = fit_quiet(GaussianMixture(3, max_iter=15, tol=0, **start), X)
    assert gm.n_iter_ == sk.n_iter_ == 15
    assert rel_diff(gm.lower_bound_, sk.lower_bound_) < 1e-8
    assert rel_diff(gm.lower_bounds_, sk.lower_bounds_) < 1e-8
    assert rel_diff(gm.weights_, sk.weights_) < 1e-8
    assert rel_diff(gm.means_, sk.means_) < 1e-8
    assert rel_diff(gm.covariances_, sk.covariances_) < 1e-8
    assert rel_diff(gm.precisions_, sk.precisions_) < 1e-8
    assert rel_diff(gm.precisions_cholesky_, sk.precisions_cholesky_) < 1e-8
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-8)
    np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), rtol=1e-6, atol=1e-12)
    assert gm.bic(X) == pytest.approx(sk.bic(X), rel=1e-8)
    assert gm.aic(X) == pytest.approx(sk.aic(X), rel=1e-8)


# Tied with one-row-per-component inits is a documented difference (our
# start is the data covariance, scikit-learn pools the uncentred second
# moment of all rows), so it is not compared.
@pytest.mark.parametrize("init_params,covariance_type", [
    (init, ct) for init in ("random", "random_from_data", "k-means++") for ct in COV_TYPES
    if ct != "tied" or init == "random"
])
def test_random_inits_follow_sklearn_stream(init_params, covariance_type):
    # The same RandomState draws give the same initial responsibilities.
    X = make_blobs(seed=3)
    kw = dict(covariance_type=covariance_type, init_params=init_params,
              random_state=7, max_iter=5, tol=0)
    sk = fit_quiet(SkGaussianMixture(3, **kw), X)
    gm = fit_quiet(GaussianMixture(3, **kw), X)
    assert rel_diff(gm.means_, sk.means_) < 1e-8
    # The first bound differs by design: for one-row-per-component inits
    # scikit-learn starts from weights 1/n_samples (not summing to one) and
    # expands the huge reg_covar-sized quadratic form, losing digits; the
    # responsibilities, and so every later iteration, agree.
    assert rel_diff(gm.lower_bounds_[1:], sk.lower_bounds_[1:]) < 1e-8
    assert gm.lower_bounds_[0] >= sk.lower_bounds_[0] - 1e-6 * abs(sk.lower_bounds_[0])


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_kmeans_init_reaches_sklearn_optimum(covariance_type):
    X = make_blobs(n_per=500, seed=4, spread=8.0)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    sk = SkGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    assert gm.converged_
    assert gm.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-6)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_log_likelihood_is_monotone(covariance_type, init_params):
    X = make_blobs(n_per=300, d=3, k=4, seed=5, spread=2.0)
    gm = fit_quiet(GaussianMixture(4, covariance_type=covariance_type, reg_covar=0.0,
                                   init_params=init_params, max_iter=60, tol=0,
                                   random_state=0), X)
    lb = np.asarray(gm.lower_bounds_)
    assert len(lb) == 60
    drops = np.diff(lb)
    assert (drops >= -1e-10 * np.abs(lb[1:])).all(), drops.min()


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_recovers_well_separated_components(covariance_type):
    rng = np.random.RandomState(0)
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    weights = np.array([0.5, 0.3, 0.2])
    n = 6000
    labels = rng.choice(3, size=n, p=weights)
    X = means[labels] + rng.randn(n, 2) * 0.7
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    order = [int(np.argmin(((gm.means_ - m) ** 2).sum(1))) for m in means]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(gm.means_[order], means, atol=0.06)
    np.testing.assert_allclose(gm.weights_[order], weights, atol=0.02)
    variances = {"full": lambda c: np.diagonal(c, axis1=1, axis2=2)[order],
                 "tied": np.diag,
                 "diag": lambda c: c[order],
                 "spherical": lambda c: c[order]}[covariance_type](gm.covariances_)
    np.testing.assert_allclose(variances, 0.49, rtol=0.08)
    accuracy = (np.asarray(order).argsort()[gm.predict(X)] == labels).mean()
    assert accuracy > 0.99


def test_n_init_never_worse_than_one_init():
    X = make_blobs(n_per=200, d=2, k=5, seed=6, spread=3.0)
    for seed in range(3):
        one = fit_quiet(GaussianMixture(5, n_init=1, random_state=seed, init_params="random"), X)
        many = fit_quiet(GaussianMixture(5, n_init=6, random_state=seed, init_params="random"), X)
        assert many.lower_bound_ >= one.lower_bound_ - 1e-12


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_warm_start_continues_where_it_left_off(covariance_type):
    X = make_blobs(seed=8)
    start = shared_start(X, 3, covariance_type)
    straight = fit_quiet(GaussianMixture(3, max_iter=10, tol=0, **start), X)
    warm = GaussianMixture(3, max_iter=5, tol=0, warm_start=True, **start)
    fit_quiet(warm, X)
    first = list(warm.lower_bounds_)
    fit_quiet(warm, X)
    np.testing.assert_allclose(first + warm.lower_bounds_, straight.lower_bounds_, rtol=1e-13)
    np.testing.assert_allclose(warm.means_, straight.means_, rtol=1e-12)
    np.testing.assert_allclose(warm.covariances_, straight.covariances_, rtol=1e-11)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_integer_sample_weights_equal_repeated_rows(covariance_type, dtype):
    X = make_blobs(n_per=150, seed=9).astype(dtype)
    counts = np.random.RandomState(1).randint(0, 4, size=X.shape[0])
    start = shared_start(X.astype(np.float64), 3, covariance_type)
    weighted = fit_quiet(GaussianMixture(3, max_iter=8, tol=0, **start), X,
                         sample_weight=counts)
    repeated = fit_quiet(GaussianMixture(3, max_iter=8, tol=0, **start),
                         np.repeat(X, counts, axis=0))
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=rtol)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(weighted.weights_, repeated.weights_, rtol=rtol)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data", "random"])
def test_sample_weight_with_every_init(init_params):
    X = make_blobs(seed=10)
    w = np.random.RandomState(2).uniform(0.5, 2.0, size=X.shape[0])
    gm = GaussianMixture(3, init_params=init_params, random_state=0).fit(X, sample_weight=w)
    assert np.isfinite(gm.means_).all() and gm.converged_
    # The lower bound is the weighted mean log-likelihood of the data.
    assert gm.lower_bound_ == pytest.approx(
        np.average(gm.score_samples(X), weights=w), abs=1e-2)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_fit_predict_equals_fit_then_predict(covariance_type):
    X = make_blobs(seed=11, spread=1.5)
    kw = dict(covariance_type=covariance_type, random_state=0, max_iter=3)
    labels = fit_quiet(GaussianMixture(3, **kw), X).predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_array_equal(GaussianMixture(3, **kw).fit_predict(X), labels)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_results_do_not_depend_on_thread_count(covariance_type, dtype):
    X = make_blobs(n_per=3000, d=5, k=4, seed=12, dtype=dtype)  # > 16 blocks
    fits = [fit_quiet(GaussianMixture(4, covariance_type=covariance_type, random_state=0,
                                      max_iter=10, n_threads=t), X) for t in (1, 2)]
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(fits[0], attr), getattr(fits[1], attr))
    np.testing.assert_array_equal(fits[0].score_samples(X), fits[1].score_samples(X))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_matches_float64_on_well_scaled_data(covariance_type):
    X = make_blobs(n_per=2000, d=4, k=3, seed=13)
    start = shared_start(X, 3, covariance_type)
    f64 = fit_quiet(GaussianMixture(3, max_iter=20, tol=0, **start), X)
    f32 = fit_quiet(GaussianMixture(3, max_iter=20, tol=0, **start), X.astype(np.float32))
    # scikit-learn's dtypes: float32 parameters and outputs for float32 data
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(f32, name).dtype == np.float32, name
        assert getattr(f64, name).dtype == np.float64, name
    X32 = X.astype(np.float32)
    assert f32.predict_proba(X32).dtype == f32.score_samples(X32).dtype == np.float32
    assert f32.predict_proba(X).dtype == f64.predict_proba(X32).dtype == np.float64
    assert rel_diff(f32.lower_bounds_, f64.lower_bounds_) < 1e-4
    np.testing.assert_allclose(f32.means_, f64.means_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(f32.covariances_, f64.covariances_, rtol=1e-3, atol=1e-4)


def test_float32_fits_offset_data_like_float64():
    rng = np.random.RandomState(14)
    X = np.vstack([rng.randn(500, 2), rng.randn(500, 2) + 6]) + 1e3
    for dtype in (np.float64, np.float32):
        gm = GaussianMixture(2, random_state=0).fit(X.astype(dtype))
        assert gm.converged_ and np.isfinite(gm.covariances_).all()
        assert np.allclose(np.sort(gm.means_[:, 0]), [1e3, 1e3 + 6], atol=0.2)


def test_predict_paths_are_consistent():
    X = make_blobs(seed=15)
    gm = GaussianMixture(3, random_state=0).fit(X)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(proba.argmax(axis=1), gm.predict(X))
    assert gm.score(X) == pytest.approx(gm.score_samples(X).mean(), rel=1e-14)
    assert gm.n_features_in_ == 3


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_sample_draws_from_the_fitted_mixture(covariance_type):
    X = make_blobs(seed=16)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    Xs, ys = gm.sample(20000)
    assert Xs.shape == (20000, 3) and ys.shape == (20000,)
    assert np.bincount(ys, minlength=3) == pytest.approx(gm.weights_ * 20000, abs=500)
    for k in range(3):
        np.testing.assert_allclose(Xs[ys == k].mean(axis=0), gm.means_[k], atol=0.2)


def test_verbose_prints_progress(capsys):
    X = make_blobs(seed=17)
    fit_quiet(GaussianMixture(3, verbose=2, verbose_interval=1, max_iter=3, tol=0,
                              random_state=0), X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out
    assert out.count("Iteration") == 3 and "ll change" in out
    assert "did not converge" in out


def test_convergence_warning_and_flags():
    X = make_blobs(seed=18)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm = GaussianMixture(3, max_iter=2, tol=0, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2
    gm = GaussianMixture(3, random_state=0).fit(X)
    assert gm.converged_ and gm.n_iter_ < 100


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_initial_weights_sum_to_one(init_params):
    X = make_blobs(seed=22)
    gm = GaussianMixture(3, init_params=init_params, max_iter=0, random_state=0).fit(X)
    assert gm.weights_.sum() == pytest.approx(1.0, abs=1e-12)


def test_max_iter_zero_keeps_user_initialisation():
    X = make_blobs(seed=19)
    start = shared_start(X, 3, "full")
    gm = GaussianMixture(3, max_iter=0, **start).fit(X)
    np.testing.assert_array_equal(gm.weights_, start["weights_init"])
    np.testing.assert_array_equal(gm.means_, start["means_init"])
    np.testing.assert_allclose(gm.precisions_, start["precisions_init"], rtol=1e-10)
    np.testing.assert_allclose(gm.covariances_, np.linalg.inv(start["precisions_init"]),
                               rtol=1e-8)


def test_fit_allocates_no_samples_by_components_array():
    # tracemalloc sees numpy's allocations: the fit's peak must stay far
    # below one n_samples x n_components float64 array.
    rng = np.random.RandomState(20)
    n, k = 100_000, 32
    X = rng.randn(n, 4)
    gm = GaussianMixture(k, covariance_type="full", max_iter=3, tol=0, random_state=0)
    tracemalloc.start()
    try:
        fit_quiet(gm, X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * k * 8 / 4, peak


def test_estimator_api_clone_and_pickle():
    from sklearn.base import clone

    X = make_blobs(seed=21)
    gm = GaussianMixture(3, covariance_type="diag", random_state=0, n_threads=1)
    assert clone(gm).get_params() == gm.get_params()
    assert gm.set_params(tol=1e-4) is gm and gm.tol == 1e-4
    with pytest.raises(ValueError, match="Invalid parameter"):
        gm.set_params(bogus=1)
    assert "covariance_type='diag'" in repr(gm)
    gm.fit(X)
    loaded = pickle.loads(pickle.dumps(gm))
    np.testing.assert_array_equal(loaded.predict_proba(X), gm.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), gm.score_samples(X))


def test_show_config_reports_build(capsys):
    import gmscore

    gmscore.show_config()
    out = capsys.readouterr().out
    assert gmscore.__version__ in out and "OpenMP" in out and "n_threads" in out
    assert "BLAS" in out


def test_demo_runs_and_reports(capsys):
    from gmscore.__main__ import main

    assert main(["demo", "--n-samples", "20000", "--no-compare"]) == 0
    out = capsys.readouterr().out
    assert "converged: True" in out and "log-likelihood" in out


def test_n_threads_none_follows_openmp_limits():
    from threadpoolctl import threadpool_limits

    from gmscore import _kernels
    from gmscore._threads import available_cpus, effective_n_threads

    assert 1 <= effective_n_threads(None) <= available_cpus()
    assert effective_n_threads(1) == 1
    if _kernels.has_openmp():
        with threadpool_limits(limits=1, user_api="openmp"):
            assert effective_n_threads(None) == 1
        assert effective_n_threads(10**6) == available_cpus()
    else:
        assert effective_n_threads(2) == 1


def test_fit_pins_blas_to_one_thread_and_restores_it():
    import os

    from threadpoolctl import threadpool_info

    from gmscore import _kernels

    from gmscore._core.covariance import COVARIANCE

    seen = []
    original = COVARIANCE["full"].precision_cholesky

    def spy(cov):
        # the BLAS the kernels call (only it, where they found its thread
        # count; every BLAS otherwise): see gmscore/_threads.py
        kernels = _kernels.blas_library()
        seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"
                    and (kernels is None or os.path.samefile(i["filepath"], kernels)))
        return original(cov)

    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    COVARIANCE["full"].precision_cholesky = spy
    try:
        fit_quiet(GaussianMixture(2, max_iter=2, tol=0, random_state=0), make_blobs(k=2))
    finally:
        del COVARIANCE["full"].precision_cholesky  # the class's method again
    assert seen and set(seen) == {1}
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
