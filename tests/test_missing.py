"""Missing values (NaN) marginalised exactly: GaussianMixture with
nan_policy='marginalize' against a brute-force numpy EM with missing data
(Ghahramani & Jordan 1994), row by row, on small cases."""
import warnings

import os
import sys

import numpy as np
import pytest

from gmscore import GaussianMixture

sys.path.insert(0, os.path.dirname(__file__))
from missing_reference import (COV_TYPES, full_covariances, precisions_of,  # noqa: E402
                               ref_em_step, ref_estep)
pytestmark = [pytest.mark.filterwarnings("ignore:Best performing initialization"),
              pytest.mark.filterwarnings("ignore:.*no observed feature:UserWarning")]


def data(n=60, d=4, k=3, frac=0.25, seed=0, empty_rows=0):
    rng = np.random.RandomState(seed)
    centres = rng.randn(k, d) * 4
    X = centres[rng.randint(k, size=n)] + rng.randn(n, d) @ rng.randn(d, d) * 0.5
    X[rng.rand(n, d) < frac] = np.nan
    if empty_rows:
        X[rng.choice(n, empty_rows, replace=False)] = np.nan
    return X


def start(ct, X, k, seed=1):
    """Starting parameters: means near random observed rows, data variance."""
    rng = np.random.RandomState(seed)
    d = X.shape[1]
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    means = filled[rng.choice(X.shape[0], k, replace=False)] + 0.1 * rng.randn(k, d)
    weights = rng.rand(k) + 0.5
    weights /= weights.sum()
    base = np.cov(filled.T) + 0.3 * np.eye(d)
    cov = {"full": np.array([base * (1 + 0.2 * j) for j in range(k)]), "tied": base,
           "diag": np.array([np.diag(base) * (1 + 0.1 * j) for j in range(k)]),
           "spherical": np.array([np.diag(base).mean() * (1 + 0.1 * j) for j in range(k)])}[ct]
    return weights, means, cov


def model(ct, weights, means, cov, **kw):
    kw.setdefault("max_iter", 1)
    return GaussianMixture(len(weights), covariance_type=ct, weights_init=weights,
                           means_init=means, precisions_init=precisions_of(ct, cov), tol=0,
                           nan_policy="marginalize", **kw)


# ------------------------------------------------------------ fitting
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_em_iterations_match_brute_force(ct, weighted):
    X = data(d=4, k=3, seed=3)
    sw = np.random.RandomState(5).rand(X.shape[0]) * 2 if weighted else None
    w, mu, cov = start(ct, X, 3)
    ref = (w, mu, cov)
    lowers = []
    for it in range(1, 4):
        lower, *ref = ref_em_step(ct, X, *ref, 1e-6, sw)
        lowers.append(lower)
        gm = model(ct, w, mu, cov, max_iter=it).fit(X, sample_weight=sw)
        np.testing.assert_allclose(gm.weights_, ref[0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(gm.means_, ref[1], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gm.covariances_, ref[2], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gm.lower_bounds_, lowers, rtol=1e-10)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_high_missingness_and_one_feature(ct):
    # 60% missing, and D = 1 (a row is then complete or entirely missing)
    for X in (data(n=80, d=5, k=2, frac=0.6, seed=7), data(n=40, d=1, k=2, frac=0.2, seed=2)):
        w, mu, cov = start(ct, X, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)    # rows entirely NaN
            gm = model(ct, w, mu, cov, max_iter=2).fit(X)
        ref = (w, mu, cov)
        for _ in range(2):
            _, *ref = ref_em_step(ct, X, *ref, 1e-6)
        np.testing.assert_allclose(gm.means_, ref[1], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gm.covariances_, ref[2], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_no_nan_gives_todays_fit_bitwise(ct):
    X = np.nan_to_num(data(n=300, d=3, k=3, seed=4), nan=0.5)
    a = GaussianMixture(3, covariance_type=ct, random_state=0, max_iter=20).fit(X)
    b = GaussianMixture(3, covariance_type=ct, random_state=0, max_iter=20,
                        nan_policy="marginalize").fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.lower_bounds_ == b.lower_bounds_
    assert np.array_equal(a.score_samples(X), b.score_samples(X))
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_likelihood_is_monotone(ct):
    # reg_covar=0: EM is exact (the regulariser moves each M-step off the
    # maximum by ~reg_covar * trace(precision), which can exceed the
    # late iterations' gains)
    X = data(n=1000, d=5, k=3, frac=0.3, seed=13)
    gm = GaussianMixture(3, covariance_type=ct, random_state=0, max_iter=40, tol=0,
                         nan_policy="marginalize", reg_covar=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    lb = np.array(gm.lower_bounds_)
    assert len(lb) == 40
    assert np.all(np.diff(lb) >= -1e-13 * np.abs(lb[1:])), np.diff(lb).min()
    # EM from the imputed start improves on the first iteration's marginal fit
    assert lb[-1] > lb[0]


@pytest.mark.parametrize("ct", COV_TYPES)
def test_thread_count_does_not_change_bits(ct):
    X = data(n=3000, d=6, k=4, frac=0.2, seed=12)
    fits = [GaussianMixture(4, covariance_type=ct, random_state=0, max_iter=5, tol=0,
                            nan_policy="marginalize", n_threads=t).fit(X) for t in (1, 2, 3)]
    for gm in fits[1:]:
        assert np.array_equal(gm.means_, fits[0].means_)
        assert np.array_equal(gm.covariances_, fits[0].covariances_)
        assert gm.lower_bounds_ == fits[0].lower_bounds_


def test_rows_entirely_nan_are_ignored_with_a_warning():
    X = data(n=60, d=3, k=2, seed=8)
    Xe = np.vstack([X[:20], np.full((3, 3), np.nan), X[20:], np.full((1, 3), np.nan)])
    w, mu, cov = start("full", X, 2)
    a = model("full", w, mu, cov, max_iter=3).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        b = model("full", w, mu, cov, max_iter=3).fit(Xe)
    assert any("4 sample(s) of X have no observed feature" in str(c.message) for c in caught)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-13)
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-13)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-13)
    # their score is the log of the marginal over no feature, their
    # posteriors the weights
    s = b.score_samples(np.vstack([Xe[20:21], Xe[:2]]))
    assert abs(s[0]) < 1e-14 and np.all(np.isfinite(s))   # log sum_k w_k
    np.testing.assert_allclose(b.predict_proba(Xe[20:21])[0], b.weights_, rtol=1e-14)
    with pytest.raises(ValueError, match="entirely NaN"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            GaussianMixture(1, nan_policy="marginalize").fit(np.full((4, 2), np.nan))


def test_feature_missing_everywhere_is_a_clear_error():
    X = data(n=50, d=4, k=2, seed=9)
    X[:, 2] = np.nan
    gm = GaussianMixture(2, nan_policy="marginalize", random_state=0)
    with pytest.raises(ValueError, match=r"feature\(s\) \[2\].*every sample"):
        gm.fit(X)
    assert not hasattr(gm, "means_")
    fitted = GaussianMixture(2, nan_policy="marginalize", random_state=0).fit(data(seed=9))
    before = {k: np.copy(v) for k, v in vars(fitted).items() if isinstance(v, np.ndarray)}
    with pytest.raises(ValueError, match=r"\[2\]"):
        fitted.fit(X)
    for k, v in before.items():
        assert np.array_equal(getattr(fitted, k), v)
    # a feature seen only in rows of zero weight is as unseen
    X = data(n=50, d=3, k=2, seed=9)
    X[10:, 1] = np.nan
    sw = np.ones(50)
    sw[:10] = 0
    with pytest.raises(ValueError, match=r"\[1\]"):
        GaussianMixture(2, nan_policy="marginalize").fit(X, sample_weight=sw)


def test_policy_validation_and_default():
    X = data(seed=1)
    with pytest.raises(ValueError, match="contains NaN"):
        GaussianMixture(2).fit(X)
    with pytest.raises(ValueError, match="nan_policy"):
        GaussianMixture(2, nan_policy="ignore").fit(np.nan_to_num(X))
    with pytest.raises(ValueError, match="infinity"):
        Xi = X.copy()
        Xi[0, 0] = np.inf
        GaussianMixture(2, nan_policy="marginalize").fit(Xi)
    assert GaussianMixture().get_params()["nan_policy"] == "raise"


def test_streamed_sources_still_refuse_nan():
    X = data(n=600, seed=2)
    gm = GaussianMixture(2, nan_policy="marginalize")
    with pytest.raises(ValueError, match="NaN"):
        gm.fit(lambda: iter([X[:300], X[300:]]))


def test_float32_and_data_frames():
    X = data(n=120, d=3, k=2, seed=13)
    w, mu, cov = start("full", X, 2)
    a = model("full", w, mu, cov, max_iter=3).fit(X)
    b = model("full", w, mu, cov, max_iter=3).fit(X.astype(np.float32))
    ref = (w, mu, cov)
    X32 = X.astype(np.float32).astype(np.float64)
    for _ in range(3):
        _, *ref = ref_em_step("full", X32, *ref, 1e-6)
    assert b.means_.dtype == np.float32
    np.testing.assert_allclose(b.means_, ref[1], rtol=1e-6)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-4)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    c = model("full", w, mu, cov, max_iter=3).fit(df)
    np.testing.assert_allclose(c.means_, a.means_, rtol=1e-14)
    assert list(c.feature_names_in_) == ["a", "b", "c"]


# ------------------------------------------------------------ predictions
def fitted(ct, seed=21, **kw):
    X = data(n=200, d=4, k=3, frac=0.2, seed=seed)
    gm = GaussianMixture(3, covariance_type=ct, random_state=0, max_iter=5,
                         nan_policy="marginalize", **kw).fit(X)
    return gm, X


def reference_rows(gm, X):
    k, d = gm.means_.shape
    S = full_covariances(gm.covariance_type, gm.covariances_, k, d)
    lse, resp, fills, cpads, _ = ref_estep(X, gm.weights_, gm.means_, S)
    mean = np.einsum("nk,nkd->nd", resp, fills)
    # law of total variance over the components
    var = (np.einsum("nk,nkdd->nd", resp, cpads)
           + np.einsum("nk,nkd->nd", resp, (fills - mean[:, None, :]) ** 2))
    return lse, resp, mean, var


@pytest.mark.parametrize("ct", COV_TYPES)
def test_predictions_use_the_marginals(ct):
    gm, _ = fitted(ct)
    X = data(n=50, d=4, k=3, frac=0.3, seed=22)
    X[3] = np.nan
    lse, resp, _, _ = reference_rows(gm, X)
    np.testing.assert_allclose(gm.score_samples(X), lse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gm.predict_proba(X), resp, rtol=1e-10, atol=1e-13)
    assert np.array_equal(gm.predict(X), resp.argmax(axis=1))
    np.testing.assert_allclose(gm.score(X), lse.mean(), rtol=1e-12)
    n_par = gm._n_parameters()
    np.testing.assert_allclose(gm.bic(X), -2 * lse.sum() + n_par * np.log(50), rtol=1e-12)
    # rows without NaN score as they always did
    full = data(n=20, d=4, k=3, frac=0.0, seed=23)
    both = np.vstack([full, X])
    np.testing.assert_allclose(gm.score_samples(both)[:20], gm.score_samples(full),
                               rtol=1e-12)
    # a model that does not marginalise still refuses NaN
    gm.set_params(nan_policy="raise")
    with pytest.raises(ValueError, match="NaN"):
        gm.score_samples(X)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_complete_rows_of_a_mixed_batch_give_the_bits_of_a_batch_without_nan(ct, dtype):
    """Complete rows among rows with NaN take the ordinary kernel: the same
    bits as when called alone, whatever their place in the batch."""
    gm, _ = fitted(ct)
    gaps = data(n=40, d=4, k=3, frac=0.3, seed=24).astype(dtype)
    full = data(n=30, d=4, k=3, frac=0.0, seed=25).astype(dtype)
    both = np.vstack([gaps[:15], full[:10], gaps[15:], full[10:]])
    at_full = np.r_[15:25, 50:70]
    at_gaps = np.r_[0:15, 25:50]
    for method in ("score_samples", "predict_proba", "predict"):
        mixed = getattr(gm, method)(both)
        alone = getattr(gm, method)(full)
        assert mixed.dtype == alone.dtype
        assert np.array_equal(mixed[at_full], alone), method
        np.testing.assert_array_equal(mixed[at_gaps], getattr(gm, method)(gaps))
    lse, resp, _, _ = reference_rows(gm, both.astype(np.float64))
    np.testing.assert_allclose(gm.score_samples(both), lse, atol=1e-12,
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_fit_predict_equals_fit_then_predict(ct):
    X = data(n=300, d=4, k=3, frac=0.2, seed=24)
    a = GaussianMixture(3, covariance_type=ct, random_state=0, max_iter=10,
                        nan_policy="marginalize")
    labels = a.fit_predict(X)
    assert np.array_equal(labels, a.predict(X))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_impute_is_the_conditional_mean(ct):
    gm, _ = fitted(ct)
    X = data(n=60, d=4, k=3, frac=0.3, seed=25)
    X[7] = np.nan
    _, _, mean, var = reference_rows(gm, X)
    got = gm.impute(X)
    np.testing.assert_allclose(got, mean, rtol=1e-10, atol=1e-12)
    obs = ~np.isnan(X)
    assert np.array_equal(got[obs], X[obs])
    # a row of NaN gets the mixture mean
    np.testing.assert_allclose(got[7], gm.weights_ @ gm.means_, rtol=1e-12)
    got2, std = gm.impute(X, return_std=True)
    assert np.array_equal(got2, got)
    np.testing.assert_allclose(std, np.sqrt(np.maximum(var, 0)), rtol=1e-9, atol=1e-12)
    assert np.all(std[obs] == 0) and np.all(std[~obs] > 0)
    # X itself is not modified, and complete X comes back unchanged
    assert np.isnan(X).sum() == (~obs).sum()
    full = np.nan_to_num(X)
    assert np.array_equal(gm.impute(full), full)


def test_impute_single_gaussian_is_the_regression_formula():
    rng = np.random.RandomState(0)
    cov = np.array([[2.0, 0.8, 0.3], [0.8, 1.0, 0.2], [0.3, 0.2, 0.5]])
    X = rng.multivariate_normal([1.0, -1.0, 0.5], cov, size=500)
    gm = GaussianMixture(1, covariance_type="full").fit(X)
    x = np.array([[0.3, np.nan, np.nan]])
    S, mu = gm.covariances_[0], gm.means_[0]
    want = mu[1:] + S[1:, :1] @ np.linalg.solve(S[:1, :1], x[0, :1] - mu[:1])
    np.testing.assert_allclose(gm.impute(x)[0, 1:], want, rtol=1e-12)


def test_clone_persistence_and_params(tmp_path):
    from sklearn.base import clone

    import gmscore

    gm, X = fitted("full")
    c = clone(gm)
    assert c.get_params()["nan_policy"] == "marginalize"
    path = tmp_path / "m.gms"
    gm.save(path)
    back = gmscore.load(path)
    assert back.nan_policy == "marginalize"
    np.testing.assert_array_equal(back.score_samples(X), gm.score_samples(X))
    np.testing.assert_array_equal(back.impute(X), gm.impute(X))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_kernel_blas_and_plain_loops_agree(ct):
    from gmscore import _missing
    from gmscore._missingc import leaf_size, missing_pass

    gm, _ = fitted(ct)
    X = data(n=700, d=4, k=3, frac=0.3, seed=26)
    p = _missing.Patterns(X)
    code, means, covs, log_w = _missing._model_arguments(gm)
    out = []
    for use_blas in (True, False):
        leaf = np.zeros(leaf_size(code, 3, 4))
        lse = np.empty(len(X))
        missing_pass(code, X, means, covs, log_w, p.order, p.start, p.observed,
                     centres=means, stats=leaf, lse=lse, use_blas=use_blas)
        out.append((leaf, lse))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_accumulate_and_partial_fit_take_nan(ct):
    gm, _ = fitted(ct)
    X = data(n=80, d=4, k=3, frac=0.3, seed=27)
    k, d = gm.means_.shape
    S = full_covariances(ct, gm.covariances_, k, d)
    keep = ~np.isnan(X).all(axis=1)
    lse, resp, fills, _, _ = ref_estep(X[keep], gm.weights_, gm.means_, S)
    stats = gm.accumulate(X)
    np.testing.assert_allclose(stats.nk, resp.sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(stats.s1, np.einsum("nk,nkd->kd", resp, fills - gm.means_),
                               rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(stats.loglik, lse.sum(), rtol=1e-12)
    # the statistics of two halves add up to those of the whole
    both = gm.accumulate(X[:40]) + gm.accumulate(X[40:])
    np.testing.assert_allclose(both.s2, stats.s2, rtol=1e-10, atol=1e-10)
    online = GaussianMixture(3, covariance_type=ct, random_state=0, nan_policy="marginalize")
    online.partial_fit(data(n=200, d=4, k=3, frac=0.2, seed=28))
    online.partial_fit(X)
    assert np.isfinite(online.means_).all() and np.isfinite(online.covariances_).all()


@pytest.mark.parametrize("ct", COV_TYPES)
def test_em_iteration_with_large_pattern_blocks_matches_brute_force(ct):
    # few patterns of many rows: the kernel's BLAS block paths (16+ rows)
    X = data(n=600, d=3, k=3, frac=0.15, seed=29)
    w, mu, cov = start(ct, X, 3)
    sw = np.random.RandomState(3).rand(X.shape[0])
    lower, *ref = ref_em_step(ct, X, w, mu, cov, 1e-6, sw)
    gm = model(ct, w, mu, cov, max_iter=1).fit(X, sample_weight=sw)
    np.testing.assert_allclose(gm.lower_bounds_, [lower], rtol=1e-12)
    np.testing.assert_allclose(gm.means_, ref[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=1e-10, atol=1e-12)
    far = X + 1e4    # centres far from the origin: the moments are centred first
    gm = model(ct, w, mu + 1e4, cov, max_iter=1).fit(far, sample_weight=sw)
    np.testing.assert_allclose(gm.means_, ref[1] + 1e4, rtol=1e-12)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=1e-7, atol=1e-9)
