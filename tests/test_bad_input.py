"""Bad input gets a clear ValueError/TypeError, and fit never leaves NaN
parameters behind.

Every ``pytest.raises`` matches a distinctive part of the message, so a test
fails when the error type regresses *or* when the message stops saying what
is wrong.
"""
import copy
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from gmscore import GaussianMixture
from gmscore._validation import InvalidParameterError, NotFittedError

COV_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
FITTED_PARAMS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
# Methods of a fitted model that take X.
X_METHODS = ("predict", "predict_proba", "score", "score_samples", "bic", "aic")
N_FEATURES = 3
N_COMPONENTS = 2


@pytest.fixture(autouse=True)
def _quiet():
    # Convergence and overflow warnings are beside the point here; errors are
    # what these tests are about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _blobs(n=60, d=N_FEATURES, seed=0):
    rng = np.random.RandomState(seed)
    half = n // 2
    return np.vstack([rng.randn(half, d), rng.randn(n - half, d) + 6.0])


@pytest.fixture(scope="module")
def X():
    return _blobs()


@pytest.fixture(scope="module")
def fitted():
    return GaussianMixture(N_COMPONENTS, random_state=0).fit(_blobs())


def _good_precisions(covariance_type, k=N_COMPONENTS, d=N_FEATURES):
    return {
        "full": np.stack([np.eye(d)] * k),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[covariance_type]


def _call(est, method, X):
    return getattr(est, method)(X)


def assert_finite_fit(gm):
    """Every fitted parameter (and the lower bound) is finite, weights sum to 1."""
    for name in FITTED_PARAMS:
        value = getattr(gm, name)
        assert np.all(np.isfinite(value)), f"{name} is not finite: {value!r}"
    assert np.isfinite(gm.lower_bound_)
    assert_allclose(gm.weights_.sum(), 1.0, rtol=1e-10)
    assert (gm.weights_ >= 0).all()


def assert_no_nan_attributes(gm):
    """Whatever fitted parameters exist on the estimator are free of NaN."""
    for name in FITTED_PARAMS:
        if hasattr(gm, name):
            assert not np.isnan(getattr(gm, name)).any(), f"{name} contains NaN"


def fit_is_finite_or_clear_error(gm, X, pattern, **fit_kw):
    """Fit must either succeed with finite parameters or raise a ValueError
    whose message matches ``pattern`` -- never return NaN parameters and never
    leak another exception type. Returns 'raised' or 'fitted'."""
    try:
        gm.fit(X, **fit_kw)
    except ValueError as exc:
        assert re.search(pattern, str(exc)), f"unclear message: {exc}"
        assert_no_nan_attributes(gm)
        return "raised"
    assert_finite_fit(gm)
    return "fitted"


# ===================================================================== X: NaN/inf
NONFINITE = [
    pytest.param(np.nan, r"Input X contains NaN", id="nan"),
    pytest.param(np.inf, r"Input X contains infinity", id="+inf"),
    pytest.param(-np.inf, r"Input X contains infinity", id="-inf"),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("value, match", NONFINITE)
@pytest.mark.parametrize("method", ["fit", "fit_predict"])
def test_fit_rejects_non_finite_X(X, method, value, match, dtype):
    Xb = X.astype(dtype)
    Xb[7, 1] = value
    with pytest.raises(ValueError, match=match):
        getattr(GaussianMixture(N_COMPONENTS, random_state=0), method)(Xb)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("value, match", NONFINITE)
@pytest.mark.parametrize("method", X_METHODS)
def test_predict_methods_reject_non_finite_X(fitted, X, method, value, match, dtype):
    Xb = X[:10].astype(dtype)
    Xb[-1, -1] = value
    with pytest.raises(ValueError, match=match):
        _call(fitted, method, Xb)


def test_all_nonfinite_kinds_in_one_array(X):
    Xb = X.copy()
    Xb[0, 0], Xb[1, 1], Xb[2, 2] = np.inf, -np.inf, np.nan
    with pytest.raises(ValueError, match=r"contains NaN"):
        GaussianMixture().fit(Xb)


def test_object_array_with_none_is_missing_value():
    Xo = np.array([[1.0, None], [2.0, 3.0], [4.0, 5.0]], dtype=object)
    with pytest.raises(ValueError, match=r"Input X contains NaN"):
        GaussianMixture().fit(Xo)


# ================================================= X: shape and dtype problems
def _bad_X_cases(n_features):
    rng = np.random.RandomState(1)
    good = rng.randn(5, n_features)
    return [
        pytest.param(np.empty((0, n_features)), ValueError, r"0 sample\(s\)", id="no-rows"),
        pytest.param(np.empty((5, 0)), ValueError, r"0 feature\(s\)", id="no-features"),
        pytest.param([], ValueError, r"Expected 2D array", id="empty-list"),
        pytest.param(good[:, 0], ValueError,
                     r"Expected 2D array, got 1D array(.|\n)*reshape\(-1, 1\)", id="1d"),
        pytest.param(good[None], ValueError, r"Expected 2D array, got 3D array", id="3d"),
        pytest.param(3.0, ValueError, r"Expected 2D array, got scalar", id="scalar"),
        pytest.param(good.astype(np.complex128), ValueError, r"[Cc]omplex", id="complex"),
        pytest.param(good + 1j, ValueError, r"[Cc]omplex", id="complex-nonzero-imag"),
        pytest.param(np.array([["a"] * n_features] * 5, dtype=object), ValueError,
                     r"X must contain only numbers", id="object-strings"),
        pytest.param(np.array([["1.0"] * (n_features - 1) + ["abc"]] * 5), ValueError,
                     r"X must contain only numbers", id="str-dtype-not-numbers"),
        pytest.param(sp.csr_matrix(good), TypeError, r"sparse(.|\n)*toarray\(\)", id="csr_matrix"),
        pytest.param(sp.csr_array(good), TypeError, r"sparse(.|\n)*toarray\(\)", id="csr_array"),
        pytest.param(sp.coo_matrix(good), TypeError, r"sparse(.|\n)*toarray\(\)", id="coo_matrix"),
        pytest.param(None, TypeError, r"X is None", id="None"),
        pytest.param([[1.0] * n_features, [1.0] * (n_features - 1)], ValueError,
                     r"inhomogeneous|only numbers", id="ragged-list"),
    ]


@pytest.mark.parametrize("bad, exc, match", _bad_X_cases(N_FEATURES))
def test_fit_rejects_malformed_X(bad, exc, match):
    with pytest.raises(exc, match=match):
        GaussianMixture(random_state=0).fit(bad)


@pytest.mark.parametrize("bad, exc, match", _bad_X_cases(N_FEATURES))
@pytest.mark.parametrize("method", X_METHODS)
def test_predict_methods_reject_malformed_X(fitted, method, bad, exc, match):
    with pytest.raises(exc, match=match):
        _call(fitted, method, bad)


def test_fit_rejects_single_sample(X):
    # scikit-learn needs at least two samples to fit
    with pytest.raises(ValueError, match=r"1 sample\(s\)(.|\n)*minimum of 2"):
        GaussianMixture(1).fit(X[:1])


@pytest.mark.parametrize("n_samples, n_components", [(2, 3), (3, 5), (4, 60)])
def test_fit_rejects_fewer_samples_than_components(X, n_samples, n_components):
    msg = (rf"n_samples >= n_components(.|\n)*n_components = {n_components}, "
           rf"n_samples = {n_samples}")
    with pytest.raises(ValueError, match=msg):
        GaussianMixture(n_components, random_state=0).fit(X[:n_samples])


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_n_samples_equal_n_components_is_fine(X, covariance_type):
    # the boundary of the check above: one sample per component fits
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X[[0, 1, 40]])
    assert_finite_fit(gm)


def test_single_sample_is_fine_at_predict_time(fitted, X):
    assert fitted.predict(X[:1]).shape == (1,)
    assert np.isfinite(fitted.score_samples(X[:1])).all()


@pytest.mark.parametrize("convert", [
    pytest.param(lambda a: a.astype(object), id="object-numbers"),
    pytest.param(lambda a: a.tolist(), id="list-of-lists"),
    pytest.param(lambda a: a.astype(str), id="numeric-strings"),
])
def test_convertible_X_is_accepted_as_float64(X, convert):
    ref = GaussianMixture(N_COMPONENTS, random_state=0).fit(X)
    gm = GaussianMixture(N_COMPONENTS, random_state=0).fit(convert(X))
    assert gm.means_.dtype == np.float64
    assert_allclose(gm.means_, ref.means_, rtol=1e-12, atol=1e-12)
    assert_allclose(gm.covariances_, ref.covariances_, rtol=1e-12, atol=1e-12)
    # and at predict time
    assert_array_equal(ref.predict(convert(X)), ref.predict(X))
    assert_allclose(ref.score_samples(convert(X)), ref.score_samples(X), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool, np.float16])
def test_other_real_dtypes_are_accepted(dtype):
    Xi = (np.random.RandomState(0).randn(40, 2) * 4).astype(dtype)
    gm = GaussianMixture(1, random_state=0).fit(Xi)
    assert gm.means_.dtype == np.float64
    assert_finite_fit(gm)


# ======================================================= wrong n_features
@pytest.mark.parametrize("n_features", [1, 2, 4, 10])
@pytest.mark.parametrize("method", X_METHODS)
def test_wrong_n_features_after_fit(fitted, method, n_features):
    Xw = np.random.RandomState(0).randn(5, n_features)
    msg = rf"X has {n_features} features, but GaussianMixture is expecting {N_FEATURES} features"
    with pytest.raises(ValueError, match=msg):
        _call(fitted, method, Xw)


@pytest.mark.parametrize("n_features", [2, 4])
def test_warm_start_refit_with_different_n_features(X, n_features):
    gm = GaussianMixture(N_COMPONENTS, warm_start=True, random_state=0).fit(X)
    Xw = np.random.RandomState(0).randn(30, n_features)
    msg = rf"X has {n_features} features, but GaussianMixture is expecting {N_FEATURES} features"
    with pytest.raises(ValueError, match=msg):
        gm.fit(Xw)


@pytest.mark.parametrize("param, new_value", [
    ("n_components", 3),
    ("covariance_type", "diag"),
    ("covariance_type", "spherical"),
])
def test_warm_start_after_changing_model_shape(X, param, new_value):
    """warm_start from parameters of another shape must either start afresh or
    say which hyper-parameter no longer matches -- not fail deep inside the
    kernels with a broadcasting / 'kernel argument mismatch' error."""
    gm = GaussianMixture(N_COMPONENTS, warm_start=True, random_state=0).fit(X)
    gm.set_params(**{param: new_value})
    outcome = fit_is_finite_or_clear_error(gm, X, re.escape(param))
    if outcome == "fitted":
        assert gm.means_.shape[0] == gm.n_components


# ================================================= invalid hyper-parameters
INVALID_PARAMS = [
    ("n_components", 0), ("n_components", -1), ("n_components", 1.5),
    ("n_components", "3"), ("n_components", True), ("n_components", None),
    ("n_components", np.nan),
    ("covariance_type", "foo"), ("covariance_type", "FULL"), ("covariance_type", None),
    ("tol", -1), ("tol", -1e-9), ("tol", np.nan), ("tol", "1e-3"), ("tol", None),
    ("reg_covar", -1), ("reg_covar", -1e-12), ("reg_covar", np.nan), ("reg_covar", "0"),
    ("max_iter", -1), ("max_iter", 1.5), ("max_iter", None),
    ("n_init", 0), ("n_init", -3), ("n_init", 2.0),
    ("init_params", "bad"), ("init_params", "k-means"), ("init_params", None),
    ("random_state", "x"), ("random_state", -1), ("random_state", 2**32),
    ("random_state", 1.5),
    ("warm_start", "yes"), ("warm_start", 1), ("warm_start", None),
    ("verbose", -1), ("verbose", 1.5), ("verbose", "1"),
    ("verbose_interval", 0), ("verbose_interval", -5),
    ("n_threads", 0), ("n_threads", -2), ("n_threads", 1.5), ("n_threads", "2"),
    ("weights_init", 3.0), ("precisions_init", 5),
]


@pytest.mark.parametrize("method", ["fit", "fit_predict"])
@pytest.mark.parametrize("name, value", INVALID_PARAMS,
                         ids=[f"{n}={v!r}" for n, v in INVALID_PARAMS])
def test_invalid_hyper_parameter(X, name, value, method):
    gm = GaussianMixture(**{name: value})  # the constructor only stores
    assert gm.get_params()[name] is value
    msg = rf"'{name}' parameter of GaussianMixture must be(.|\n)*Got {re.escape(repr(value))}"
    with pytest.raises(ValueError, match=msg) as info:
        getattr(gm, method)(X)
    # scikit-learn's InvalidParameterError is both, so either except works
    assert isinstance(info.value, TypeError)
    assert not hasattr(gm, "means_")


def test_invalid_parameter_error_is_value_and_type_error():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


def test_set_params_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"Invalid parameter 'n_component'"):
        GaussianMixture().set_params(n_component=2)


@pytest.mark.parametrize("name, value", [
    ("n_components", np.int64(2)), ("max_iter", np.int32(5)), ("tol", np.float32(1e-3)),
    ("reg_covar", 0), ("reg_covar", 1), ("tol", np.inf), ("max_iter", 0),
    ("random_state", np.random.RandomState(0)), ("random_state", 2**32 - 1),
    ("warm_start", np.bool_(True)), ("n_threads", np.int64(2)), ("n_threads", 1),
])
def test_valid_edge_hyper_parameters_are_accepted(X, name, value):
    gm = GaussianMixture(**{"n_components": 2, **{name: value}}).fit(X)
    for attr in FITTED_PARAMS:
        assert np.all(np.isfinite(getattr(gm, attr)))


# =========================================================== bad init arrays
@pytest.mark.parametrize("weights, match", [
    pytest.param([1.0], r"'weights' should have the shape of \(2,\)", id="too-short"),
    pytest.param([0.5, 0.5, 0.0], r"'weights' should have the shape of \(2,\)", id="too-long"),
    pytest.param([[0.5, 0.5]], r"'weights' should have the shape of \(2,\)", id="2d"),
    pytest.param(0.5, r"weights_init|'weights'", id="scalar-array"),
    pytest.param([-0.5, 1.5], r"'weights' should be in the range \[0, 1\]", id="negative"),
    pytest.param([1.5, -0.5], r"'weights' should be in the range \[0, 1\]", id="above-one"),
    pytest.param([0.3, 0.3], r"'weights' should be normalized(.|\n)*0\.6", id="sum-below-one"),
    pytest.param([0.7, 0.7], r"'weights' should be normalized(.|\n)*1\.4", id="sum-above-one"),
    pytest.param([np.nan, 1.0], r"'weights'(.|\n)*([Nn]a[Nn]|finite)", id="nan"),
    pytest.param([np.inf, 0.0], r"'weights'(.|\n)*(inf|finite)", id="inf"),
    pytest.param(["a", "b"], r"weights", id="strings"),
])
def test_bad_weights_init(X, weights, match):
    if np.ndim(weights) == 0:
        weights = np.asarray(weights)  # passes the array-like check, wrong shape
    with pytest.raises(ValueError, match=match):
        GaussianMixture(N_COMPONENTS, weights_init=weights, random_state=0).fit(X)


@pytest.mark.parametrize("means, match", [
    pytest.param(np.zeros((3, 3)), r"'means' should have the shape of \(2, 3\)", id="k+1"),
    pytest.param(np.zeros((2, 2)), r"'means' should have the shape of \(2, 3\)", id="d-1"),
    pytest.param(np.zeros((2, 4)), r"'means' should have the shape of \(2, 3\)", id="d+1"),
    pytest.param(np.zeros(6), r"'means' should have the shape of \(2, 3\)", id="flat"),
    pytest.param(np.zeros((2, 3, 1)), r"'means' should have the shape of \(2, 3\)", id="3d"),
    pytest.param(np.array([[np.nan, 0, 0], [1, 1, 1]]), r"'means' contains NaN", id="nan"),
    pytest.param(np.array([[0, 0, 0], [1, -np.inf, 1]]), r"'means' contains NaN or infinity",
                 id="inf"),
    pytest.param([["a", "b", "c"], [1, 2, 3]], r"means", id="strings"),
])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_bad_means_init(X, covariance_type, means, match):
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, means_init=means,
                         random_state=0)
    with pytest.raises(ValueError, match=match):
        gm.fit(X)


def _wrong_precision_shapes():
    k, d = N_COMPONENTS, N_FEATURES
    for ct in COV_TYPES:
        good_shape = _good_precisions(ct).shape
        wrong = {_good_precisions(other).shape for other in COV_TYPES}
        wrong |= {(k + 1,) + good_shape[1:], good_shape[:-1] + (d + 1,), good_shape + (1,)}
        wrong.discard(good_shape)
        for shape in sorted(wrong):
            yield pytest.param(ct, shape, id=f"{ct}-{shape}")


@pytest.mark.parametrize("covariance_type, shape", list(_wrong_precision_shapes()))
def test_precisions_init_wrong_shape(X, covariance_type, shape):
    expected = re.escape(str(_good_precisions(covariance_type).shape))
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                         precisions_init=np.ones(shape), random_state=0)
    with pytest.raises(ValueError,
                       match=rf"'{covariance_type} precision' should have the shape of {expected}"):
        gm.fit(X)


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_precisions_init_non_finite(X, covariance_type, value):
    prec = _good_precisions(covariance_type).copy()
    prec.flat[0] = value
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                         precisions_init=prec, random_state=0)
    with pytest.raises(ValueError, match=rf"'{covariance_type} precision' contains NaN"):
        gm.fit(X)


def _matrix_precision_cases():
    d = N_FEATURES
    nonsym = np.eye(d)
    nonsym[0, 1] = 0.5
    negdef = -np.eye(d)
    singular = np.eye(d)
    singular[2, 2] = 0.0
    indefinite = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return [
        pytest.param(nonsym, r"symmetric", id="not-symmetric"),
        pytest.param(negdef, r"positive-definite", id="negative-definite"),
        pytest.param(singular, r"positive-definite", id="singular"),
        pytest.param(indefinite, r"positive-definite", id="indefinite"),
    ]


@pytest.mark.parametrize("bad, match", _matrix_precision_cases())
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_precisions_init_not_spd(X, covariance_type, bad, match):
    if covariance_type == "full":
        prec = np.stack([np.eye(N_FEATURES), bad])  # only the second one is bad
    else:
        prec = bad
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                         precisions_init=prec, random_state=0)
    with pytest.raises(ValueError, match=rf"'{covariance_type} precision' should be(.|\n)*{match}"):
        gm.fit(X)


@pytest.mark.parametrize("value", [0.0, -1.0, -1e-300])
@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_precisions_init_non_positive(X, covariance_type, value):
    prec = _good_precisions(covariance_type).copy()
    prec.flat[-1] = value
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                         precisions_init=prec, random_state=0)
    with pytest.raises(ValueError, match=rf"'{covariance_type} precision' should be positive"):
        gm.fit(X)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_good_init_arrays_fit(X, covariance_type):
    # the happy path of the checks above, so they are not rejecting everything
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                         weights_init=[0.5, 0.5], means_init=[[0, 0, 0], [6, 6, 6]],
                         precisions_init=_good_precisions(covariance_type),
                         random_state=0).fit(X)
    assert_finite_fit(gm)


# ============================================================ sample_weight
N = 60


@pytest.mark.parametrize("sw, exc, match", [
    pytest.param(np.r_[np.ones(N - 1), -1.0], ValueError, r"sample_weight must be non-negative",
                 id="one-negative"),
    pytest.param(-np.ones(N), ValueError, r"sample_weight must be non-negative", id="all-negative"),
    pytest.param(-1.0, ValueError, r"sample_weight must be non-negative", id="negative-scalar"),
    pytest.param(np.ones(N - 1), ValueError, rf"sample_weight has {N - 1} entries but X has {N}",
                 id="too-short"),
    pytest.param(np.ones(N + 1), ValueError, rf"sample_weight has {N + 1} entries but X has {N}",
                 id="too-long"),
    pytest.param(np.ones((N, 1)), ValueError, r"sample_weight must be 1D", id="2d-column"),
    pytest.param(np.ones((1, N)), ValueError, r"sample_weight must be 1D", id="2d-row"),
    pytest.param(np.ones((N, 2)), ValueError, r"sample_weight must be 1D", id="2d"),
    pytest.param(np.r_[np.ones(N - 1), np.nan], ValueError, r"sample_weight contains NaN",
                 id="nan"),
    pytest.param(np.r_[np.ones(N - 1), np.inf], ValueError, r"sample_weight contains infinity",
                 id="inf"),
    pytest.param(np.zeros(N), ValueError, r"sample_weight sums to zero", id="all-zero"),
    pytest.param(0.0, ValueError, r"sample_weight sums to zero", id="zero-scalar"),
    pytest.param(["a"] * N, ValueError, r"sample_weight must contain only numbers", id="strings"),
    pytest.param(np.ones(N, dtype=complex), ValueError, r"[Cc]omplex(.|\n)*sample_weight",
                 id="complex"),
])
@pytest.mark.parametrize("method", ["fit", "fit_predict"])
def test_bad_sample_weight(X, method, sw, exc, match):
    with pytest.raises(exc, match=match):
        getattr(GaussianMixture(N_COMPONENTS, random_state=0), method)(X, sample_weight=sw)


@pytest.mark.parametrize("sw", [
    pytest.param(2.0, id="positive-scalar"),
    pytest.param(np.r_[np.zeros(N - 10), np.ones(10)], id="mostly-zero"),
    pytest.param(np.arange(N) % 3, id="integers"),
])
def test_valid_sample_weight(X, sw):
    gm = GaussianMixture(1, random_state=0).fit(X, sample_weight=sw)
    assert_finite_fit(gm)


# ============================================================ use before fit
@pytest.mark.parametrize("method", X_METHODS + ("sample",))
def test_use_before_fit(X, method):
    gm = GaussianMixture(N_COMPONENTS)
    with pytest.raises(ValueError, match=r"not fitted") as info:
        if method == "sample":
            gm.sample(5)
        else:
            _call(gm, method, X)
    # scikit-learn's NotFittedError is also an AttributeError (hasattr-safe)
    assert isinstance(info.value, AttributeError)
    assert isinstance(info.value, NotFittedError)


def test_not_fitted_error_hierarchy():
    assert issubclass(NotFittedError, ValueError)
    assert issubclass(NotFittedError, AttributeError)


def test_use_before_fit_checked_before_X(X):
    # even garbage X gets the 'not fitted' message first
    with pytest.raises(ValueError, match=r"not fitted"):
        GaussianMixture().predict(X[:, :1])


@pytest.mark.parametrize("n_samples", [0, -1, 1.5, "2", None, True])
def test_sample_invalid_n_samples(fitted, n_samples):
    with pytest.raises(ValueError, match=r"n_samples(.|\n)*at least one sample"):
        fitted.sample(n_samples)


def test_sample_valid_n_samples(fitted):
    Xs, ys = fitted.sample(np.int64(4))
    assert Xs.shape == (4, N_FEATURES) and ys.shape == (4,)
    assert np.isfinite(Xs).all()


# =============================================== failed fit leaves no half-state
def test_failed_first_fit_leaves_estimator_unfitted(X):
    """A fit that raised must not leave a model that predict() accepts (the
    initial parameters of a failed EM are not a fitted model)."""
    X32 = X.astype(np.float32)
    prec = np.full((N_COMPONENTS, N_FEATURES), 1e80)  # float32 factor overflows
    gm = GaussianMixture(N_COMPONENTS, covariance_type="diag", precisions_init=prec,
                         random_state=0)
    try:
        gm.fit(X32)
    except ValueError:
        with pytest.raises(ValueError, match=r"not fitted"):
            gm.predict(X)
    else:  # a future fix may fit it in float64; then the fit must be sound
        assert_finite_fit(gm)


def test_failed_refit_with_other_n_features_keeps_a_consistent_state(X):
    """After a failed refit the estimator is either still the previous model or
    unfitted -- never n_features_in_ from the new data with means_ from the old."""
    gm = GaussianMixture(N_COMPONENTS, random_state=0).fit(X)
    before = gm.predict(X)
    gm.set_params(reg_covar=0.0)
    with pytest.raises(ValueError, match=r"reg_covar"):
        gm.fit(np.ones((10, N_FEATURES - 1)))  # degenerate and 2 features
    try:
        after = gm.predict(X)
    except ValueError as exc:
        assert re.search(r"not fitted", str(exc)), f"inconsistent state: {exc}"
    else:
        assert gm.n_features_in_ == N_FEATURES
        assert_array_equal(after, before)


# ============================================================ degenerate data
@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("n_components", [1, 2, 3])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_identical_points_without_regularisation(covariance_type, n_components, init_params):
    Xd = np.full((12, 2), 3.0)
    gm = GaussianMixture(n_components, covariance_type=covariance_type, reg_covar=0.0,
                         init_params=init_params, random_state=0)
    # scikit-learn's wording: "... Try to decrease the number of components,
    # increase reg_covar, or scale the input data."
    with pytest.raises(ValueError, match=r"ill-defined empirical covariance(.|\n)*increase reg_covar"):
        gm.fit(Xd)
    assert_no_nan_attributes(gm)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("n_components", [1, 2, 3])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_identical_points_with_default_reg_covar(covariance_type, n_components, init_params):
    Xd = np.full((12, 2), 3.0)
    gm = GaussianMixture(n_components, covariance_type=covariance_type,
                         init_params=init_params, random_state=0).fit(Xd)
    assert gm.reg_covar > 0
    assert_finite_fit(gm)
    assert_allclose(gm.means_, 3.0)
    assert np.isfinite(gm.score_samples(Xd)).all()
    proba = gm.predict_proba(Xd)
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_constant_feature_without_regularisation(X, covariance_type):
    Xc = X.copy()
    Xc[:, 1] = 5.0  # rank-deficient covariance
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, reg_covar=0.0,
                         random_state=0)
    with pytest.raises(ValueError, match=r"increase reg_covar"):
        gm.fit(Xc)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_constant_feature_with_default_reg_covar(X, covariance_type):
    Xc = X.copy()
    Xc[:, 1] = 5.0
    assert_finite_fit(GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                                      random_state=0).fit(Xc))


@pytest.mark.parametrize("scale", [1e160, 1e200, 1e300])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_huge_float64_data_is_finite_or_clear_error(X, covariance_type, scale):
    # squares of the data overflow float64: a clear ValueError, never NaN
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, random_state=0)
    fit_is_finite_or_clear_error(gm, X * scale, r"scale the input data|overflow|non-finite")


def test_sum_of_X_overflows_but_values_are_finite():
    # check_finite's fast path (a float64 sum) overflows: must not be reported
    # as infinity in X, and must not produce NaN parameters
    Xb = np.array([[1e308], [1e308], [-1e308], [1.7e308]])
    gm = GaussianMixture(1, random_state=0)
    try:
        gm.fit(Xb)
    except ValueError as exc:
        assert "contains infinity" not in str(exc)
        assert re.search(r"scale the input data|overflow|non-finite", str(exc)), str(exc)
        assert_no_nan_attributes(gm)
    else:
        assert_finite_fit(gm)


# ============================================ non-finite log-likelihood (C layer)
def _nonfinite_loglik_cases():
    X = _blobs()
    k, d = N_COMPONENTS, N_FEATURES
    for ct in COV_TYPES:
        # float32 data with huge values, a tight initial model: the squared
        # Mahalanobis distance overflows float32 inside the kernel
        yield pytest.param(
            ct, (X * 1e20).astype(np.float32),
            dict(weights_init=[0.5, 0.5], means_init=np.zeros((k, d)),
                 precisions_init=_good_precisions(ct) * 1e40),
            id=f"{ct}-f32-huge-data")
        # precision factor finite in float64 but not in float32
        yield pytest.param(ct, X.astype(np.float32),
                           dict(precisions_init=_good_precisions(ct) * 1e80),
                           id=f"{ct}-f32-huge-precision")
        # subnormal float32 data with no regularisation
        yield pytest.param(ct, (X * 1e-40).astype(np.float32), dict(reg_covar=0.0),
                           id=f"{ct}-f32-subnormal-reg0")
        # means far outside the float32 range
        yield pytest.param(ct, X.astype(np.float32), dict(means_init=np.full((k, d), 1e39)),
                           id=f"{ct}-f32-far-means")
        # float64: distances overflow double
        yield pytest.param(ct, X, dict(means_init=np.full((k, d), 1e200)),
                           id=f"{ct}-f64-far-means")


@pytest.mark.parametrize("covariance_type, Xn, kwargs", list(_nonfinite_loglik_cases()))
def test_non_finite_log_likelihood_is_a_clear_value_error(covariance_type, Xn, kwargs):
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, random_state=0,
                         **kwargs)
    # Either a correct fit or the kernel's defence, turned into a ValueError
    # that says what happened -- never NaN parameters, never a bare
    # FloatingPointError / NonFiniteLogLikelihoodError.
    fit_is_finite_or_clear_error(
        gm, Xn, r"non-finite log-likelihood|overflow|scale the input data")


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_non_finite_log_likelihood_defence_is_reachable(X, covariance_type):
    """Subnormal float32 data without regularisation has no finite float32
    answer (the precision factor 1/std ~ 1e40 is not a float32): the kernel's
    non-finite check must fire and surface as a ValueError carrying its
    message -- not as NaN statistics caught later as an 'ill-defined
    covariance', and not as a bare FloatingPointError."""
    Xn = (X * 1e-40).astype(np.float32)
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, reg_covar=0.0,
                         random_state=0)
    try:
        gm.fit(Xn)
    except ValueError as exc:
        assert not isinstance(exc, FloatingPointError)
        assert re.search(r"non-finite log-likelihood", str(exc)), str(exc)
        assert re.search(r"float64", str(exc)), str(exc)  # says how to fix it
        assert_no_nan_attributes(gm)
    else:  # computing in float64 would be a valid fix
        assert_finite_fit(gm)


# =================================================== fit does not mutate params
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("warm_start", [False, True])
def test_fit_does_not_mutate_hyper_parameters(X, covariance_type, warm_start):
    weights = np.array([0.4, 0.6])
    means = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 6.0]])
    prec = _good_precisions(covariance_type) * 2.0
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, weights_init=weights,
                         means_init=means, precisions_init=prec, random_state=0,
                         warm_start=warm_start, max_iter=50, n_threads=1)
    before = gm.get_params()
    snapshot = copy.deepcopy(before)
    X_copy = X.copy()
    sw = np.linspace(0.5, 1.5, X.shape[0])
    sw_copy = sw.copy()

    gm.fit(X, sample_weight=sw)
    gm.fit(X, sample_weight=sw)  # and again (warm start path)

    after = gm.get_params()
    assert after.keys() == before.keys()
    for name, value in after.items():
        assert value is before[name], f"fit replaced the {name!r} object"
        if isinstance(snapshot[name], np.ndarray):
            assert_array_equal(value, snapshot[name], err_msg=name)
        else:
            assert value == snapshot[name], name
    # the data is not modified in place either
    assert_array_equal(X, X_copy)
    assert_array_equal(sw, sw_copy)
    # and the fitted parameters do not alias the user's init arrays
    for attr in FITTED_PARAMS:
        for arr in (weights, means, prec):
            assert not np.shares_memory(getattr(gm, attr), arr), attr


@pytest.mark.parametrize("name, value", [
    ("weights_init", [0.4, 0.6]),
    ("means_init", [[0.0, 0.0, 0.0], [6.0, 6.0, 6.0]]),
    ("precisions_init", [1.0, 2.0]),
])
def test_list_init_params_are_not_converted(X, name, value):
    kwargs = {name: value}
    if name == "precisions_init":
        kwargs["covariance_type"] = "spherical"
    gm = GaussianMixture(N_COMPONENTS, random_state=0, **kwargs)
    gm.fit(X)
    assert gm.get_params()[name] is value


@pytest.mark.parametrize("name, value", INVALID_PARAMS[:6],
                         ids=[f"{n}={v!r}" for n, v in INVALID_PARAMS[:6]])
def test_failed_validation_does_not_mutate_params(X, name, value):
    gm = GaussianMixture(**{name: value})
    with pytest.raises(ValueError):
        gm.fit(X)
    assert gm.get_params()[name] is value
