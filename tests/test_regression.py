"""Mixture regression: GaussianMixture.marginal / condition and
GaussianMixtureRegressor, against direct numpy/scipy formulas on small
cases and against the gmr package from identical mixtures."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GaussianMixture, GaussianMixtureRegressor
from gmscore._core.covariance import COV_TYPES, COVARIANCE


def fitted(ct, d=4, k=3, seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(300, d) @ rng.randn(d, d) + 3 * rng.randn(d) for _ in range(k)])
    return GaussianMixture(k, covariance_type=ct, random_state=seed).fit(X), X


def brute_condition(gm, given, a):
    """The conditional mixture by the textbook formulas, one component at a
    time, on full matrices."""
    k, d = gm.means_.shape
    rest = np.setdiff1d(np.arange(d), given)
    full = COVARIANCE[gm.covariance_type].as_full(gm.covariances_, k, d)
    logw, means, covs = [], [], []
    for j in range(k):
        S, mu = full[j], gm.means_[j]
        Saa, Sba, Sbb = S[np.ix_(given, given)], S[np.ix_(rest, given)], S[np.ix_(rest, rest)]
        logw.append(np.log(gm.weights_[j]) + multivariate_normal(mu[given], Saa).logpdf(a))
        means.append(mu[rest] + Sba @ np.linalg.solve(Saa, a - mu[given]))
        covs.append(Sbb - Sba @ np.linalg.solve(Saa, Sba.T))
    logw = np.array(logw)
    return np.exp(logw - logsumexp(logw)), np.array(means), np.array(covs)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_condition_one_row_is_the_textbook_conditional(ct):
    gm, X = fitted(ct)
    given, a = np.array([2, 0]), np.array([0.7, -1.2])
    cond = gm.condition(given, a)
    w, m, c = brute_condition(gm, given, a)
    assert isinstance(cond, GaussianMixture) and cond.covariance_type == ct
    assert_allclose(cond.weights_, w, rtol=1e-10)
    assert_allclose(cond.means_, m, rtol=1e-10, atol=1e-12)
    full = COVARIANCE[ct].as_full(cond.covariances_, 3, 2)
    assert_allclose(full, c, rtol=1e-10, atol=1e-12)
    # a usable fitted model: its density is the conditional's
    y = np.array([[0.3, 0.1], [1.0, -2.0]])
    expected = logsumexp([np.log(w[j]) + multivariate_normal(m[j], c[j]).logpdf(y)
                          for j in range(3)], axis=0)
    assert_allclose(cond.score_samples(y), expected, rtol=1e-10)
    cond.sample(5)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_condition_batch_rows_equal_one_row_at_a_time(ct):
    gm, X = fitted(ct, seed=1)
    given = np.array([1, 3])
    V = X[::37][:, given]
    batch = gm.condition(given, V)
    assert batch.weights.shape == (len(V), 3) and batch.means.shape == (len(V), 3, 2)
    assert_allclose(batch.weights.sum(axis=1), 1.0, rtol=1e-13)
    for i in range(0, len(V), 5):
        w, m, c = brute_condition(gm, given, V[i])
        assert_allclose(batch.weights[i], w, rtol=1e-9, atol=1e-14)
        assert_allclose(batch.means[i], m, rtol=1e-10, atol=1e-12)
    assert_array = np.testing.assert_array_equal
    assert_array(batch.indices, [0, 2])
    # row-independent threads: the same bits with 1 and 2 threads
    gm.n_threads = 1
    one = gm.condition(given, V)
    gm.n_threads = 2
    assert_array(one.weights, gm.condition(given, V).weights)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_marginal(ct):
    gm, X = fitted(ct, seed=2)
    m = gm.marginal([3, 1])
    k, d = gm.means_.shape
    full = COVARIANCE[ct].as_full(gm.covariances_, k, d)
    idx = [3, 1]
    Y = X[:20][:, idx]
    expected = logsumexp([np.log(gm.weights_[j]) + multivariate_normal(
        gm.means_[j][idx], full[j][np.ix_(idx, idx)]).logpdf(Y) for j in range(k)], axis=0)
    assert m.covariance_type == ct and m.n_features_in_ == 2
    assert_allclose(m.score_samples(Y), expected, rtol=1e-10)


def test_equal_to_gmr_for_identical_mixtures():
    gmr = pytest.importorskip("gmr")
    gm, X = fitted("full", d=5, k=4, seed=3)
    ref = gmr.GMM(4, priors=gm.weights_, means=gm.means_, covariances=gm.covariances_)
    given = np.array([0, 1, 3])
    rest = [2, 4]
    assert_allclose(gm.condition(given, X[::11][:, given]).mean(),
                    ref.predict(given, X[::11][:, given]), rtol=1e-10, atol=1e-12)
    one = gm.condition(given, X[5, given])
    ref_one = ref.condition(given, X[5, given])
    assert_allclose(one.weights_, ref_one.priors, rtol=1e-10)
    assert_allclose(one.means_, ref_one.means, rtol=1e-10)
    assert_allclose(one.covariances_, ref_one.covariances, rtol=1e-10, atol=1e-13)
    # the regressor's predictions are gmr's for the same joint mixture
    reg = GaussianMixtureRegressor(4, random_state=0).fit(X[:, given], X[:, rest])
    joint = reg.mixture_
    ref = gmr.GMM(4, priors=joint.weights_, means=joint.means_, covariances=joint.covariances_)
    assert_allclose(reg.predict(X[:, given]), ref.predict([0, 1, 2], X[:, given]),
                    rtol=1e-10, atol=1e-12)


def test_regressor_predict_std_and_sampling():
    rng = np.random.RandomState(4)
    x = rng.uniform(-3, 3, size=(3000, 1))
    y = np.sin(x[:, 0]) + 0.1 * rng.randn(3000)
    reg = GaussianMixtureRegressor(8, random_state=0).fit(x, y)
    assert reg.n_targets_ == 1 and reg.predict(x).shape == (3000,)
    assert reg.score(x, y) > 0.9          # a smooth curve, 8 local lines
    grid = np.linspace(-2.5, 2.5, 7)[:, None]
    mean, std = reg.predict(grid, return_std=True)
    # the standard deviation of the whole conditional mixture, by hand
    batch = reg.mixture_.condition([0], grid)
    comp_var = np.diagonal(COVARIANCE["full"].as_full(batch.covariances, 8, 1), axis1=1,
                           axis2=2)[:, 0]
    m = batch.means[:, :, 0]
    var = (batch.weights * (comp_var + m ** 2)).sum(1) - mean ** 2
    assert_allclose(std, np.sqrt(var), rtol=1e-8)
    assert_allclose(mean, batch.mean()[:, 0], rtol=1e-12)
    draws = reg.sample_conditional(grid, n_samples=4000, random_state=0)
    assert draws.shape == (7, 4000)
    assert_allclose(draws.mean(axis=1), mean, atol=4 * std.max() / np.sqrt(4000))
    assert_allclose(draws.std(axis=1), std, rtol=0.1)


def test_regressor_multi_output():
    rng = np.random.RandomState(5)
    X = rng.randn(2000, 3)
    Y = np.column_stack([X @ [1.0, -2.0, 0.5], X[:, 0] - X[:, 2]]) + 0.05 * rng.randn(2000, 2)
    reg = GaussianMixtureRegressor(1, random_state=0).fit(X, Y)
    pred = reg.predict(X)
    assert pred.shape == (2000, 2)
    # one joint Gaussian: the conditional mean is ordinary least squares
    A = np.column_stack([X, np.ones(len(X))])
    ols = A @ np.linalg.lstsq(A, Y, rcond=None)[0]
    assert_allclose(pred, ols, rtol=1e-5, atol=1e-6)
    assert reg.sample_conditional(X[:3], 2, random_state=1).shape == (3, 2, 2)


def test_check_estimator_regressor():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(GaussianMixtureRegressor(), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) > 50


def test_bad_conditioning_input():
    gm, X = fitted("full")
    before = gm.means_.copy()
    with pytest.raises(ValueError, match="out of range"):
        gm.condition([0, 4], [1.0, 2.0])
    with pytest.raises(ValueError, match="out of range"):
        gm.marginal([-1])
    with pytest.raises(ValueError, match="duplicates"):
        gm.condition([1, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        gm.condition([0], [np.nan])
    with pytest.raises(ValueError, match="NaN"):
        gm.condition([0], [[1.0], [np.inf]])
    with pytest.raises(ValueError, match="shape"):
        gm.condition([0, 1], [1.0])
    with pytest.raises(ValueError, match="every feature"):
        gm.condition([0, 1, 2, 3], [1.0, 2, 3, 4])
    with pytest.raises(TypeError, match="integers"):
        gm.condition([0.5], [1.0])
    with pytest.raises(ValueError, match="conditioning values.*samples \\[1\\].*no finite"):
        gm.condition([0], [[0.0], [1e200]])
    np.testing.assert_array_equal(gm.means_, before)
    reg = GaussianMixtureRegressor(2, random_state=0).fit(X[:, :2], X[:, 2])
    with pytest.raises(ValueError, match="expecting 2 features"):
        reg.predict(X[:, :3])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        GaussianMixtureRegressor().fit(X, X[:-1, 0])
    with pytest.raises(ValueError, match="Unknown label type"):
        GaussianMixtureRegressor().fit(X, np.array(["a", "b"] * (len(X) // 2), dtype=object))
