"""nan_policy on the task models: GaussianMixtureRegressor and
GaussianMixtureClassifier against brute-force numpy/scipy computations
(per row, the marginal of each fitted Gaussian component over the row's
observed features), against GaussianMixture(nan_policy='marginalize') on
the same rows from the same start, and against today's results when X
has no NaN."""
import os
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import cholesky
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GaussianMixture, GaussianMixtureClassifier, GaussianMixtureRegressor
from gmscore.classifier import class_seeds

sys.path.insert(0, os.path.dirname(__file__))
from missing_reference import COV_TYPES, full_covariances  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:Best performing initialization"),
              pytest.mark.filterwarnings("ignore:EM did not converge"),
              pytest.mark.filterwarnings("ignore:.*no observed feature:UserWarning")]


def holes(X, frac, seed, empty_rows=()):
    """X with a random share of its entries NaN, and the given rows all NaN."""
    X = np.array(X, dtype=np.float64)
    rng = np.random.RandomState(seed)
    X[rng.rand(*X.shape) < frac] = np.nan
    X[list(empty_rows)] = np.nan
    return X


def regression_data(n=300, d=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * [1.0, 2.0, 0.5][:d]
    Y = np.column_stack([np.sin(X[:, 0]) + X[:, 1] * 0.5, X[:, 0] * X[:, -1]])
    return X, Y + 0.1 * rng.randn(n, 2)


# ---------------------------------------------------------- regressor
def brute_conditional(reg, x):
    """The conditional mixture of y given x's observed entries, by the
    textbook formulas on the joint mixture's full matrices: (weights,
    component means, component covariances, mean, variance)."""
    gm = reg.mixture_
    k, D = gm.means_.shape
    S = full_covariances(gm.covariance_type, gm.covariances_, k, D)
    o = np.flatnonzero(~np.isnan(x))
    t = np.arange(reg.n_features_in_, D)
    logw, means, covs = np.empty(k), np.empty((k, t.size)), np.empty((k, t.size, t.size))
    for j in range(k):
        mu, Sj = gm.means_[j], S[j]
        logw[j] = np.log(gm.weights_[j])
        means[j], covs[j] = mu[t], Sj[np.ix_(t, t)]
        if o.size:
            Soo, Sto = Sj[np.ix_(o, o)], Sj[np.ix_(t, o)]
            logw[j] += multivariate_normal(mu[o], Soo).logpdf(x[o])
            means[j] += Sto @ np.linalg.solve(Soo, x[o] - mu[o])
            covs[j] -= Sto @ np.linalg.solve(Soo, Sto.T)
    w = np.exp(logw - logsumexp(logw))
    mean = w @ means
    var = w @ (np.diagonal(covs, axis1=1, axis2=2) + (means - mean) ** 2)
    return w, means, covs, mean, var


def fitted_regressor(ct, k=3, frac=0.2, seed=0, **kw):
    X, Y = regression_data(seed=seed)
    Xn = holes(X, frac, seed + 1, empty_rows=(7,))
    reg = GaussianMixtureRegressor(k, covariance_type=ct, random_state=0, max_iter=30,
                                   nan_policy="marginalize", **kw).fit(Xn, Y)
    return reg, Xn, Y


def test_regressor_parameter_default_and_validation():
    assert GaussianMixtureRegressor().get_params()["nan_policy"] == "raise"
    X, Y = regression_data(n=50)
    with pytest.raises(ValueError, match="nan_policy"):
        GaussianMixtureRegressor(nan_policy="drop").fit(X, Y)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_regressor_fit_is_the_marginalised_joint_fit(ct):
    reg, Xn, Y = fitted_regressor(ct)
    joint = GaussianMixture(3, covariance_type=ct, random_state=0, max_iter=30,
                            nan_policy="marginalize").fit(np.hstack([Xn, Y]))
    assert reg.mixture_.nan_policy == "marginalize"
    for name in ("weights_", "means_", "covariances_"):
        assert_array_equal(getattr(reg.mixture_, name), getattr(joint, name))
    assert reg.n_iter_ == joint.n_iter_


@pytest.mark.parametrize("ct", COV_TYPES)
def test_regressor_predict_is_the_conditional_given_observed_inputs(ct):
    reg, _, _ = fitted_regressor(ct)
    X, _ = regression_data(n=40, seed=5)
    Xt = holes(X, 0.35, 6, empty_rows=(3,))
    assert 0 < np.isnan(Xt).any(axis=1).sum() < len(Xt)
    ref = [brute_conditional(reg, x) for x in Xt]
    mean, std = reg.predict(Xt, return_std=True)
    assert_allclose(mean, [r[3] for r in ref], rtol=1e-10, atol=1e-10)
    assert_allclose(std, np.sqrt([r[4] for r in ref]), rtol=1e-10, atol=1e-10)
    assert_array_equal(reg.predict(Xt), mean)
    # a row of NaN: y's marginal (the mixture's mean and total variance)
    gm = reg.mixture_
    assert_allclose(mean[3], gm.weights_ @ gm.means_[:, 3:], rtol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_regressor_rows_without_nan_keep_todays_bits(ct):
    X, Y = regression_data(seed=2)
    today = GaussianMixtureRegressor(3, covariance_type=ct, random_state=0).fit(X, Y)
    reg = GaussianMixtureRegressor(3, covariance_type=ct, random_state=0,
                                   nan_policy="marginalize").fit(X, Y)
    for name in ("weights_", "means_", "covariances_"):
        assert_array_equal(getattr(reg.mixture_, name), getattr(today.mixture_, name))
    Xt, Yt = regression_data(n=700, seed=3)
    m0, s0 = today.predict(Xt, return_std=True)
    m1, s1 = reg.predict(Xt, return_std=True)
    assert_array_equal(m0, m1)
    assert_array_equal(s0, s1)
    assert_array_equal(today.sample_conditional(Xt[:50], 4, random_state=2),
                       reg.sample_conditional(Xt[:50], 4, random_state=2))
    assert today.score(Xt, Yt) == reg.score(Xt, Yt)
    # complete rows among rows with NaN: exactly the same values
    mixed = holes(Xt, 0.2, 4)
    full = ~np.isnan(mixed).any(axis=1)
    mm, sm = reg.predict(mixed, return_std=True)
    assert_array_equal(mm[full], m0[full])
    assert_array_equal(sm[full], s0[full])


@pytest.mark.parametrize("ct", COV_TYPES)
def test_imputation_moments_equal_the_conditioning_kernel(ct):
    # the route predict takes for rows with NaN (the joint mixture's
    # imputation of the y columns) against the conditional kernel's route
    # for complete rows, on complete rows
    reg, _, _ = fitted_regressor(ct)
    X, _ = regression_data(n=500, seed=8)
    mean, std = reg.predict(X, return_std=True)
    Z = np.hstack([X, np.full((len(X), 2), np.nan)])
    imputed, istd = reg.mixture_.impute(Z, return_std=True)
    assert_allclose(imputed[:, 3:], mean, rtol=1e-12, atol=1e-12)
    assert_allclose(istd[:, 3:], std, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_sample_conditional_draws_from_the_observed_input_conditional(ct):
    from gmscore.conditional import condition_observed

    reg, _, _ = fitted_regressor(ct)
    X, _ = regression_data(n=30, seed=9)
    Xt = holes(X, 0.4, 10, empty_rows=(0,))
    ref = [brute_conditional(reg, x) for x in Xt]
    resp, means, pattern, cond = condition_observed(reg.mixture_, Xt)
    assert_allclose(resp, [r[0] for r in ref], rtol=1e-10, atol=1e-13)
    assert_allclose(means, [r[1] for r in ref], rtol=1e-10, atol=1e-10)
    assert_allclose(cond[pattern], [r[2] for r in ref], rtol=1e-10, atol=1e-12)
    # the draws: the same random numbers through the reference mixtures
    s = 6
    draws = reg.sample_conditional(Xt, s, random_state=3)
    rng = np.random.RandomState(3)
    u = rng.uniform(size=(len(Xt), s))
    z = rng.standard_normal((len(Xt), s, 2))
    want = np.empty_like(draws)
    for i, (w, m, c, _, _) in enumerate(ref):
        for j in range(s):
            comp = min(int(np.searchsorted(np.cumsum(w), u[i, j], side="left")), len(w) - 1)
            want[i, j] = m[comp] + cholesky(c[comp], lower=True) @ z[i, j]
    assert_allclose(draws, want, rtol=1e-9, atol=1e-10)
    # and their moments are the predicted ones
    many = reg.sample_conditional(Xt[:4], 20000, random_state=0)
    mean, std = reg.predict(Xt[:4], return_std=True)
    assert_allclose(many.mean(axis=1), mean, atol=5 * std.max() / np.sqrt(20000))
    assert_allclose(many.std(axis=1), std, rtol=0.05)


def test_regressor_one_output_and_score():
    X, Y = regression_data(seed=11)
    Xn = holes(X, 0.15, 12)
    reg = GaussianMixtureRegressor(4, random_state=0, nan_policy="marginalize").fit(Xn, Y[:, 0])
    pred, std = reg.predict(Xn, return_std=True)
    assert pred.shape == std.shape == (len(X),)
    ref = np.array([brute_conditional(reg, x)[3][0] for x in Xn])
    assert_allclose(pred, ref, rtol=1e-10, atol=1e-10)
    y = Y[:, 0]
    r2 = 1 - ((y - ref) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert_allclose(reg.score(Xn, y), r2, rtol=1e-10)
    assert reg.sample_conditional(Xn[:5], 3, random_state=0).shape == (5, 3)


def test_regressor_bad_input_errors_and_model_untouched():
    X, Y = regression_data(n=200, seed=13)
    Xn = holes(X, 0.2, 14)
    with pytest.raises(ValueError, match="NaN"):                 # the default refuses NaN
        GaussianMixtureRegressor(2).fit(Xn, Y)
    reg = GaussianMixtureRegressor(2, random_state=0, nan_policy="marginalize").fit(Xn, Y)
    before = {k: np.copy(v) for k, v in vars(reg.mixture_).items()
              if isinstance(v, np.ndarray)}
    pred = reg.predict(Xn)
    Yn = Y.copy()
    Yn[3, 1] = np.nan
    with pytest.raises(ValueError, match="y contains NaN.*X only"):
        reg.fit(Xn, Yn)
    Xf = Xn.copy()
    Xf[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) \[1\].*every sample"):
        reg.fit(Xf, Y)
    Xi = Xn.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        reg.fit(Xi, Y)
    with pytest.raises(ValueError, match="infinity"):
        reg.predict(Xi)
    with pytest.raises(ValueError, match="features"):
        reg.predict(Xn[:, :2])
    with pytest.raises(ValueError, match="nan_policy"):
        reg.set_params(nan_policy="ignore").fit(Xn, Y)
    reg.set_params(nan_policy="marginalize")
    for k, v in before.items():
        assert_array_equal(getattr(reg.mixture_, k), v)
    assert_array_equal(reg.predict(Xn), pred)
    # the raise policy keeps today's error at prediction too
    reg.set_params(nan_policy="raise")
    for call in (reg.predict, lambda X: reg.sample_conditional(X, 2),
                 lambda X: reg.score(X, Y)):
        with pytest.raises(ValueError, match="NaN"):
            call(Xn)


def test_regressor_clone_and_pickle():
    import pickle

    from sklearn.base import clone

    reg, Xn, _ = fitted_regressor("full")
    assert clone(reg).get_params()["nan_policy"] == "marginalize"
    back = pickle.loads(pickle.dumps(reg))
    assert back.nan_policy == "marginalize"
    assert_array_equal(back.predict(Xn), reg.predict(Xn))


# --------------------------------------------------------- classifier
def classification_data(n_per=(120, 90, 100), d=3, seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(m, d) @ rng.randn(d, d) * 0.7 + 2.5 * rng.randn(d)
                   for m in n_per])
    y = np.repeat(np.array(["a", "b", "c"])[:len(n_per)], n_per)
    order = rng.permutation(len(y))     # classes interleaved
    return X[order], y[order]


def brute_log_proba(clf, X):
    """Log posteriors from the fitted per-class parameters: each class's
    mixture density over the row's observed features times its prior,
    normalised."""
    out = np.empty((len(X), len(clf.classes_)))
    for c, gm in enumerate(clf.estimators_):
        k, d = gm.means_.shape
        S = full_covariances(gm.covariance_type, gm.covariances_, k, d)
        for i, x in enumerate(X):
            o = np.flatnonzero(~np.isnan(x))
            terms = [np.log(gm.weights_[j]) + (multivariate_normal(
                gm.means_[j][o], S[j][np.ix_(o, o)]).logpdf(x[o]) if o.size else 0.0)
                for j in range(k)]
            out[i, c] = np.log(clf.priors_[c]) + logsumexp(terms)
    return out - logsumexp(out, axis=1, keepdims=True)


def test_classifier_parameter_default_and_validation():
    assert GaussianMixtureClassifier().get_params()["nan_policy"] == "raise"
    X, y = classification_data()
    with pytest.raises(ValueError, match="nan_policy"):
        GaussianMixtureClassifier(nan_policy="drop").fit(X, y)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_each_class_is_the_marginalised_class_fit(ct, weighted):
    X, y = classification_data(seed=1)
    Xn = holes(X, 0.25, 2, empty_rows=(4, 17))
    sw = np.random.RandomState(3).rand(len(y)) + 0.2 if weighted else None
    clf = GaussianMixtureClassifier(2, covariance_type=ct, random_state=0, max_iter=20,
                                    nan_policy="marginalize").fit(Xn, y, sample_weight=sw)
    seeds = class_seeds(0, 3)
    for c, label in enumerate(clf.classes_):
        rows = y == label
        gm = GaussianMixture(2, covariance_type=ct, random_state=int(seeds[c]), max_iter=20,
                             nan_policy="marginalize").fit(
            Xn[rows], sample_weight=None if sw is None else sw[rows])
        est = clf.estimators_[c]
        assert est.nan_policy == "marginalize"
        for name in ("weights_", "means_", "covariances_"):
            assert_allclose(getattr(est, name), getattr(gm, name), rtol=1e-10, atol=1e-12)
        assert_allclose(est.lower_bounds_, gm.lower_bounds_, rtol=1e-10)
        assert clf.n_iter_[c] == gm.n_iter_


@pytest.mark.parametrize("ct", COV_TYPES)
def test_classifier_posteriors_from_the_observed_marginals(ct):
    X, y = classification_data(seed=4)
    clf = GaussianMixtureClassifier(2, covariance_type=ct, random_state=0,
                                    nan_policy="marginalize").fit(holes(X, 0.2, 5), y)
    Xt, yt = classification_data(n_per=(20, 20, 20), seed=6)
    Xt = holes(Xt, 0.3, 7, empty_rows=(2,))
    log_want = brute_log_proba(clf, Xt)
    want = np.exp(log_want)
    assert_allclose(clf.predict_proba(Xt), want, rtol=1e-10, atol=1e-13)
    assert_allclose(clf.predict_log_proba(Xt), log_want, rtol=1e-10, atol=1e-10)
    assert_array_equal(clf.predict(Xt), clf.classes_[want.argmax(axis=1)])
    assert clf.score(Xt, yt) == np.mean(clf.classes_[want.argmax(axis=1)] == yt)
    # a row of NaN: the priors
    assert_allclose(clf.predict_proba(Xt[2:3])[0], clf.priors_, rtol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_classifier_without_nan_is_todays(ct):
    X, y = classification_data(seed=8)
    today = GaussianMixtureClassifier(2, covariance_type=ct, random_state=0).fit(X, y)
    clf = GaussianMixtureClassifier(2, covariance_type=ct, random_state=0,
                                    nan_policy="marginalize").fit(X, y)
    for a, b in zip(today.estimators_, clf.estimators_):
        for name in ("weights_", "means_", "covariances_"):
            assert_array_equal(getattr(a, name), getattr(b, name))
    Xt, _ = classification_data(n_per=(50, 50, 50), seed=9)
    assert_array_equal(today.predict_proba(Xt), clf.predict_proba(Xt))
    mixed = holes(Xt, 0.2, 10)
    full = ~np.isnan(mixed).any(axis=1)
    assert_allclose(clf.predict_proba(mixed)[full], today.predict_proba(Xt)[full],
                    rtol=1e-12, atol=1e-15)


def test_classifier_empty_rows_and_features_missing_in_a_class():
    X, y = classification_data(seed=11)
    Xn = holes(X, 0.1, 12, empty_rows=(3, 8))
    with pytest.warns(UserWarning, match=r"2 sample\(s\) of X have no observed.*\[3, 8\]"):
        clf = GaussianMixtureClassifier(2, random_state=0, nan_policy="marginalize").fit(Xn, y)
    # the rows of NaN change no class fit, but count in the frequency priors
    keep = np.ones(len(y), bool)
    keep[[3, 8]] = False
    ref = GaussianMixtureClassifier(2, random_state=0, nan_policy="marginalize").fit(
        Xn[keep], y[keep])
    for a, b in zip(clf.estimators_, ref.estimators_):
        assert_allclose(a.means_, b.means_, rtol=1e-13)
    assert_allclose(clf.priors_, [np.mean(y == c) for c in clf.classes_], rtol=1e-15)
    before = [m.means_.copy() for m in clf.estimators_]
    Xb = Xn.copy()
    Xb[y == "b", 2] = np.nan
    with pytest.raises(ValueError, match=r"class 'b'.*feature\(s\) \[2\].*every sample"):
        clf.fit(Xb, y)
    Xe = Xn.copy()
    Xe[y == "c"] = np.nan
    with pytest.raises(ValueError, match=r"class 'c'.*entirely NaN"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(Xe, y)
    for m, b in zip(clf.estimators_, before):
        assert_array_equal(m.means_, b)


def test_classifier_raise_policy_error_unchanged():
    X, y = classification_data(seed=13)
    Xn = holes(X, 0.1, 14)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GaussianMixtureClassifier(2).fit(Xn, y)
    clf = GaussianMixtureClassifier(2, random_state=0).fit(X, y)
    for call in (clf.predict, clf.predict_proba, clf.predict_log_proba,
                 lambda X: clf.score(X, y)):
        with pytest.raises(ValueError, match="Input X contains NaN"):
            call(Xn)
    # a marginalising classifier switched to 'raise' refuses NaN again
    clf = GaussianMixtureClassifier(2, random_state=0, nan_policy="marginalize").fit(Xn, y)
    clf.set_params(nan_policy="raise")
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(Xn)


# ---------------------------------------------------------- selection
def test_selection_with_nan_uses_the_marginal_likelihood():
    from gmscore import select_mixture
    from gmscore.selection import _split
    from missing_reference import ref_estep

    X, _ = classification_data(n_per=(200, 150, 150), seed=15)
    Xn = holes(X, 0.2, 16, empty_rows=(9,))
    res = select_mixture(Xn, [1, 2, 3], ["full", "diag"], random_state=7,
                         nan_policy="marginalize")
    train, valid = _split(Xn, 0.2, np.random.RandomState(7))
    assert np.isnan(train).any() and np.isnan(valid).any()
    n = len(train)
    for row in res.rows:
        k, ct = row["n_components"], row["covariance_type"]
        gm = GaussianMixture(k, covariance_type=ct, random_state=7,
                             nan_policy="marginalize").fit(train)        # independent
        assert row["n_iter"] == gm.n_iter_ and row["kmeans_time_s"] is None
        S = full_covariances(ct, gm.covariances_, k, 3)
        lse, resp, _, _, _ = ref_estep(train, gm.weights_, gm.means_, S)
        p = k - 1 + k * 3 + {"full": k * 6, "diag": k * 3}[ct]
        bic = -2 * lse.sum() + p * np.log(n)
        assert row["bic"] == pytest.approx(bic, rel=1e-10)
        assert row["aic"] == pytest.approx(-2 * lse.sum() + 2 * p, rel=1e-10)
        entropy = -np.sum(resp[resp > 0] * np.log(resp[resp > 0]))
        assert row["icl"] == pytest.approx(bic + 2 * entropy, rel=1e-10)
        held, _, _, _, _ = ref_estep(valid, gm.weights_, gm.means_, S)
        assert row["held_out_log_likelihood"] == pytest.approx(held.mean(), rel=1e-10)
    assert res.best_.nan_policy == "marginalize" and res.best_params_["n_components"] == 3
    # the refit on all of X is the marginalised fit
    ref = GaussianMixture(**res.best_params_, random_state=7, nan_policy="marginalize").fit(Xn)
    assert_array_equal(res.best_.means_, ref.means_)


def test_selection_nan_policy_default_and_no_nan():
    from gmscore import select_mixture

    X, _ = classification_data(seed=17)
    with pytest.raises(ValueError, match="NaN"):
        select_mixture(holes(X, 0.1, 18), 2, "full")
    with pytest.raises(ValueError, match="nan_policy"):
        select_mixture(X, 2, "full", nan_policy="drop")
    a = select_mixture(X, [1, 2], ["full", "spherical"], random_state=3)
    b = select_mixture(X, [1, 2], ["full", "spherical"], random_state=3,
                       nan_policy="marginalize")
    for ra, rb in zip(a.rows, b.rows):
        for key in ("bic", "aic", "icl", "held_out_log_likelihood", "n_iter"):
            assert ra[key] == rb[key]


def test_data_frames_with_nan():
    pd = pytest.importorskip("pandas")
    X, Y = regression_data(n=200, seed=19)
    Xn = holes(X, 0.2, 20)
    df = pd.DataFrame(Xn, columns=["u", "v", "w"])
    reg = GaussianMixtureRegressor(2, random_state=0, nan_policy="marginalize").fit(df, Y)
    arr = GaussianMixtureRegressor(2, random_state=0, nan_policy="marginalize").fit(Xn, Y)
    assert list(reg.feature_names_in_) == ["u", "v", "w"]
    assert_array_equal(reg.predict(df), arr.predict(Xn))
    Xc, y = classification_data(seed=21)
    Xc = holes(Xc, 0.2, 22)
    dfc = pd.DataFrame(Xc, columns=["u", "v", "w"])
    clf = GaussianMixtureClassifier(2, random_state=0, nan_policy="marginalize").fit(dfc, y)
    ref = GaussianMixtureClassifier(2, random_state=0, nan_policy="marginalize").fit(Xc, y)
    assert list(clf.feature_names_in_) == ["u", "v", "w"]
    assert_array_equal(clf.predict_proba(dfc), ref.predict_proba(Xc))


# ------------------------------------------------------- scikit-learn's tag
@pytest.mark.parametrize("policy", ["raise", "marginalize"])
def test_allow_nan_tag_lets_meta_estimators_pass_nan(policy):
    """scikit-learn's meta-estimators read input_tags.allow_nan: with
    'marginalize' SelectFromModel-like wrappers hand NaN to the model, with
    'raise' scikit-learn refuses it before the model sees it."""
    from sklearn.feature_selection import SequentialFeatureSelector
    from sklearn.utils import get_tags

    from gmscore import GaussianMixture, GaussianMixtureClassifier, GaussianMixtureRegressor

    for cls in (GaussianMixture, GaussianMixtureClassifier, GaussianMixtureRegressor):
        assert get_tags(cls(nan_policy=policy)).input_tags.allow_nan == (policy == "marginalize")
    rng = np.random.RandomState(3)
    X = np.vstack([rng.randn(60, 3), rng.randn(60, 3) + 3.0])
    y = np.repeat([0, 1], 60)
    X[rng.rand(*X.shape) < 0.1] = np.nan
    sfs = SequentialFeatureSelector(
        GaussianMixtureClassifier(nan_policy=policy, random_state=0), n_features_to_select=2,
        cv=2)
    if policy == "raise":
        with pytest.raises(ValueError, match="NaN"):
            sfs.fit(X, y)
    else:
        sfs.fit(X, y)
        assert sfs.get_support().sum() == 2
