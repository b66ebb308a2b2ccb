"""Property-based tests (hypothesis) over small random shapes, float32 /
float64 input and every covariance type:

* fitted parameters are finite; responsibilities / state posteriors are
  probabilities that sum to one;
* EM / Baum-Welch never lower the log-likelihood (GaussianMixture with
  reg_covar=0, GaussianHMM with covars_prior=0 and means_weight=0: pure
  maximum likelihood, on data with enough spread);
* from fixed starting parameters the fit does not depend on the order of
  the samples (GaussianMixture) or of the sequences (HMMs), and float32 input
  agrees with float64 input.

Every test is derandomized and uses no example database, so a run sees the
same examples on every machine; sizes are small so the file runs in seconds.
"""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, reject, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from gmscore import (  # noqa: E402
    GMMHMM,
    ConvergenceWarning,
    GaussianHMM,
    GaussianMixture,
    LikelihoodDecreaseWarning,
)

COV_TYPES = ("full", "tied", "diag", "spherical")
DTYPES = (np.float32, np.float64)


def _settings(max_examples):
    return settings(max_examples=max_examples, deadline=None, derandomize=True,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------- strategies
@st.composite
def blobs(draw, max_k=3, max_d=3, min_per=None, max_per=20):
    """Well-scaled Gaussian clusters (unit-ish spread, centres a few units
    apart) with at least ``min_per`` (default 3 (d + 1)) points each: every
    covariance type has a non-singular maximum-likelihood estimate."""
    k = draw(st.integers(1, max_k), label="k")
    d = draw(st.integers(1, max_d), label="d")
    lo = 3 * (d + 1) if min_per is None else min_per
    n_per = draw(st.integers(lo, max(lo, max_per)), label="n_per")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.RandomState(seed)
    centres = 4.0 * rng.randn(k, d)
    parts = [c + rng.randn(n_per, d) @ (np.eye(d) + 0.3 * rng.randn(d, d)) for c in centres]
    X = np.vstack(parts)
    return X, centres, rng


def _fixed_gmm_start(centres, covariance_type, rng):
    """Starting parameters off the truth: fit(X) is then deterministic."""
    k, d = centres.shape
    means = centres + 0.5 * rng.randn(k, d)
    weights = rng.dirichlet(np.full(k, 5.0))
    prec = {"full": np.tile(np.eye(d), (k, 1, 1)) * 0.8,
            "tied": np.eye(d) * 0.8,
            "diag": np.full((k, d), 0.8),
            "spherical": np.full(k, 0.8)}[covariance_type]
    return dict(weights_init=weights, means_init=means, precisions_init=prec)


def _gmm_fitted_arrays(gm):
    return {name: np.asarray(getattr(gm, name)) for name in
            ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
             "lower_bounds_")}


def _assert_close(a, b, rtol, what=""):
    """Elementwise |a - b| <= rtol * (|b| + max|b|) per array: entries near
    zero (off-diagonals) are compared at the array's scale."""
    for name in b:
        x, y = np.asarray(a[name], dtype=np.float64), np.asarray(b[name], dtype=np.float64)
        assert x.shape == y.shape, name
        scale = np.max(np.abs(y)) if y.size else 0.0
        assert_allclose(x, y, rtol=rtol, atol=rtol * scale, err_msg=f"{what} {name}")


def _fit_quiet(model, X, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, *args)


# ============================================================ GaussianMixture
@_settings(100)
@given(problem=blobs(),
       covariance_type=st.sampled_from(COV_TYPES),
       dtype=st.sampled_from(DTYPES),
       init_params=st.sampled_from(["kmeans", "k-means++", "random", "random_from_data"]),
       n_components=st.integers(1, 4))
def test_gmm_fit_is_finite_and_posteriors_sum_to_one(problem, covariance_type, dtype,
                                                      init_params, n_components):
    X, _, _ = problem
    X = X.astype(dtype)
    n_components = min(n_components, X.shape[0])
    gm = _fit_quiet(GaussianMixture(n_components, covariance_type=covariance_type,
                                    init_params=init_params, max_iter=20, random_state=0), X)
    for name, value in _gmm_fitted_arrays(gm).items():
        # scikit-learn keeps the input's dtype in the parameters
        assert value.dtype == (np.float64 if name == "lower_bounds_" else dtype), name
        assert np.isfinite(value).all(), name
    assert np.isfinite(gm.lower_bound_)
    assert gm.weights_.sum() == pytest.approx(1.0, abs=1e-12 if dtype == np.float64 else 1e-6)
    proba = gm.predict_proba(X)
    assert proba.shape == (X.shape[0], n_components)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12 if dtype == np.float64 else 1e-6)
    assert np.isfinite(gm.score_samples(X)).all()
    labels = gm.predict(X)
    assert (proba[np.arange(len(labels)), labels] == proba.max(axis=1)).all()


@_settings(100)
@given(X=hnp.arrays(st.sampled_from(DTYPES),
                    st.tuples(st.integers(4, 30), st.integers(1, 3)),
                    elements=st.floats(-100, 100, allow_nan=False, width=32)),
       covariance_type=st.sampled_from(COV_TYPES),
       n_components=st.integers(1, 3))
def test_gmm_arbitrary_finite_data_never_gives_nan(X, covariance_type, n_components):
    # Duplicated rows, constant columns, collinear features: the default
    # reg_covar keeps every covariance positive definite, so fit succeeds
    # and nothing it returns is NaN or infinite.
    gm = _fit_quiet(GaussianMixture(n_components, covariance_type=covariance_type,
                                    max_iter=10, random_state=0), X)
    for name, value in _gmm_fitted_arrays(gm).items():
        assert np.isfinite(value).all(), name
    proba = gm.predict_proba(X)
    assert np.isfinite(proba).all()
    # float32 data give float32 probabilities (scikit-learn's dtype rule)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0,
                    atol=1e-12 if proba.dtype == np.float64 else 1e-6)


@_settings(100)
@given(problem=blobs(), covariance_type=st.sampled_from(COV_TYPES),
       dtype=st.sampled_from(DTYPES))
def test_gmm_log_likelihood_is_monotone(problem, covariance_type, dtype):
    X, centres, _ = problem
    X = X.astype(dtype)
    gm = GaussianMixture(len(centres), covariance_type=covariance_type, reg_covar=0.0,
                         max_iter=25, tol=0, random_state=0)
    try:
        _fit_quiet(gm, X)
    except ValueError as exc:
        # Without regularisation EM may legitimately shrink a component onto
        # a few points (a k-means start that splits one cluster), and fit
        # says so; the property is about the fits that run to max_iter.
        assert "ill-defined empirical covariance" in str(exc)
        reject()
    lb = np.asarray(gm.lower_bounds_)
    assert len(lb) == 25 and np.isfinite(lb).all()
    # exact EM never decreases it; float32 quadratic forms round at ~1e-7
    rounding = 1e-12 if dtype == np.float64 else 1e-6
    drops = np.diff(lb)
    assert (drops >= -rounding * np.maximum(1.0, np.abs(lb[1:]))).all(), drops.min()


@_settings(100)
@given(problem=blobs(), covariance_type=st.sampled_from(COV_TYPES),
       dtype=st.sampled_from(DTYPES), max_iter=st.integers(1, 15), data=st.data())
def test_gmm_fit_does_not_depend_on_sample_order(problem, covariance_type, dtype,
                                                 max_iter, data):
    X, centres, rng = problem
    X = X.astype(dtype)
    perm = data.draw(st.permutations(range(X.shape[0])), label="perm")
    start = _fixed_gmm_start(centres, covariance_type, rng)
    fit = lambda A: _gmm_fitted_arrays(_fit_quiet(GaussianMixture(  # noqa: E731
        len(centres), covariance_type=covariance_type, max_iter=max_iter, tol=0,
        **start), A))
    # Only the float64 summation order changes. float32 input is cast to
    # float32 means each iteration, where a last-bit difference in float64
    # can round to a neighbouring float32.
    _assert_close(fit(X[np.asarray(perm)]), fit(X),
                  rtol=1e-10 if dtype == np.float64 else 1e-5, what="permuted")


@_settings(100)
@given(problem=blobs(), covariance_type=st.sampled_from(COV_TYPES),
       max_iter=st.integers(1, 10))
def test_gmm_float32_agrees_with_float64(problem, covariance_type, max_iter):
    X, centres, rng = problem
    X32 = X.astype(np.float32)
    start = _fixed_gmm_start(centres, covariance_type, rng)
    fit = lambda A: _gmm_fitted_arrays(_fit_quiet(GaussianMixture(  # noqa: E731
        len(centres), covariance_type=covariance_type, max_iter=max_iter, tol=0,
        **start), A))
    # the same numbers (X32's values) in both dtypes
    _assert_close(fit(X32), fit(X32.astype(np.float64)), rtol=1e-4, what="float32")


# ======================================================================== HMMs
@st.composite
def hmm_problem(draw, max_k=3, max_d=3):
    """Sequences from a sticky k-state chain with well-scaled Gaussian
    emissions; returns X, lengths, the true means and a RandomState."""
    k = draw(st.integers(1, max_k), label="k")
    d = draw(st.integers(1, max_d), label="d")
    lengths = draw(st.lists(st.integers(4, 25), min_size=2, max_size=5), label="lengths")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.RandomState(seed)
    means = 4.0 * rng.randn(k, d)
    trans = 0.7 * np.eye(k) + 0.3 / k
    parts = []
    for T in lengths:
        z = np.empty(T, dtype=int)
        z[0] = rng.randint(k)
        for t in range(1, T):
            z[t] = rng.choice(k, p=trans[z[t - 1]])
        parts.append(means[z] + rng.randn(T, d))
    # every state needs a few frames for its covariance
    X = np.vstack(parts + [means[s] + rng.randn(3 * (d + 1), d) for s in range(k)])
    lengths = lengths + [3 * (d + 1)] * k
    return X, lengths, means, rng


def _fixed_hmm(kind, covariance_type, means, rng, **kw):
    """An HMM with fixed starting parameters (init_params='')."""
    k, d = means.shape
    start = rng.dirichlet(np.full(k, 5.0))
    trans = 0.6 * np.eye(k) + 0.4 * rng.dirichlet(np.full(k, 5.0), size=k)
    trans /= trans.sum(axis=1, keepdims=True)
    if kind == "gaussian":
        model = GaussianHMM(k, covariance_type=covariance_type, init_params="", **kw)
        model.means_ = means + 0.5 * rng.randn(k, d)
        model.covars_ = {"full": np.tile(1.3 * np.eye(d), (k, 1, 1)),
                         "tied": 1.3 * np.eye(d),
                         "diag": np.full((k, d), 1.3),
                         "spherical": np.full(k, 1.3)}[covariance_type]
    else:
        m = 2
        model = GMMHMM(k, n_mix=m, covariance_type=covariance_type, init_params="", **kw)
        model.weights_ = rng.dirichlet(np.full(m, 5.0), size=k)
        model.means_ = means[:, None, :] + 0.7 * rng.randn(k, m, d)
        model.covars_ = {"full": np.tile(1.3 * np.eye(d), (k, m, 1, 1)),
                         "tied": np.tile(1.3 * np.eye(d), (k, 1, 1)),
                         "diag": np.full((k, m, d), 1.3),
                         "spherical": np.full((k, m), 1.3)}[covariance_type]
    model.startprob_ = start
    model.transmat_ = trans
    return model


def _hmm_fitted_arrays(model):
    names = ["startprob_", "transmat_", "means_", "covars_"]
    if isinstance(model, GMMHMM):
        names.append("weights_")
    out = {name: np.asarray(getattr(model, name)) for name in names}
    out["history"] = np.asarray(model.monitor_.history)
    return out


def _fit_hmm(model, X, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LikelihoodDecreaseWarning)  # GMMHMM's priors
        return model.fit(X, lengths)


@_settings(50)
@given(problem=hmm_problem(), kind=st.sampled_from(["gaussian", "gmm"]),
       covariance_type=st.sampled_from(COV_TYPES), dtype=st.sampled_from(DTYPES),
       implementation=st.sampled_from(["log", "scaling"]))
def test_hmm_fit_is_finite_and_posteriors_sum_to_one(problem, kind, covariance_type,
                                                      dtype, implementation):
    X, lengths, means, _ = problem
    X = X.astype(dtype)
    cls = GaussianHMM if kind == "gaussian" else GMMHMM
    model = _fit_hmm(cls(len(means), covariance_type=covariance_type, n_iter=10,
                         implementation=implementation, random_state=0), X, lengths)
    for name, value in _hmm_fitted_arrays(model).items():
        assert np.isfinite(value).all(), name
    assert_allclose(model.startprob_.sum(), 1.0, rtol=0, atol=1e-10)
    assert_allclose(model.transmat_.sum(axis=1), 1.0, rtol=0, atol=1e-10)
    log_prob, posteriors = model.score_samples(X, lengths)
    assert np.isfinite(log_prob)
    assert posteriors.shape == (X.shape[0], len(means))
    assert ((posteriors >= 0) & (posteriors <= 1 + 1e-12)).all()
    assert_allclose(posteriors.sum(axis=1), 1.0, rtol=0, atol=1e-10)
    assert_allclose(model.predict_proba(X, lengths), posteriors, rtol=0, atol=0)


@_settings(50)
@given(problem=hmm_problem(), covariance_type=st.sampled_from(COV_TYPES),
       dtype=st.sampled_from(DTYPES), implementation=st.sampled_from(["log", "scaling"]))
def test_gaussian_hmm_log_likelihood_is_monotone(problem, covariance_type, dtype,
                                                  implementation):
    # startprob_prior = transmat_prior = 1, covars_prior = 0, means_weight = 0:
    # each M-step is the maximum-likelihood update.
    X, lengths, means, _ = problem
    X = X.astype(dtype)
    model = GaussianHMM(len(means), covariance_type=covariance_type, covars_prior=0.0,
                        means_weight=0.0, n_iter=15, tol=0, implementation=implementation,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LikelihoodDecreaseWarning)
        model.fit(X, lengths)
    history = np.asarray(model.monitor_.history)
    assert len(history) == 15 and np.isfinite(history).all()
    rounding = 1e-12 if dtype == np.float64 else 1e-6
    drops = np.diff(history)
    assert (drops >= -rounding * np.maximum(1.0, np.abs(history[1:]))).all(), drops.min()


@_settings(50)
@given(problem=hmm_problem(), kind=st.sampled_from(["gaussian", "gmm"]),
       covariance_type=st.sampled_from(COV_TYPES), dtype=st.sampled_from(DTYPES),
       n_iter=st.integers(1, 8), data=st.data())
def test_hmm_fit_does_not_depend_on_sequence_order(problem, kind, covariance_type, dtype,
                                                   n_iter, data):
    X, lengths, means, rng = problem
    X = X.astype(dtype)
    order = data.draw(st.permutations(range(len(lengths))), label="order")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    X_perm = np.vstack([X[offsets[i]:offsets[i + 1]] for i in order])
    lengths_perm = [lengths[i] for i in order]
    seed = rng.randint(2**31)
    fit = lambda A, L: _hmm_fitted_arrays(_fit_hmm(_fixed_hmm(  # noqa: E731
        kind, covariance_type, means, np.random.RandomState(seed), n_iter=n_iter, tol=0),
        A, L))
    _assert_close(fit(X_perm, lengths_perm), fit(X, lengths),
                  rtol=1e-10 if dtype == np.float64 else 1e-5, what="permuted")


@_settings(50)
@given(problem=hmm_problem(), kind=st.sampled_from(["gaussian", "gmm"]),
       covariance_type=st.sampled_from(COV_TYPES), n_iter=st.integers(1, 6))
def test_hmm_float32_agrees_with_float64(problem, kind, covariance_type, n_iter):
    X, lengths, means, rng = problem
    X32 = X.astype(np.float32)
    seed = rng.randint(2**31)
    fit = lambda A: _hmm_fitted_arrays(_fit_hmm(_fixed_hmm(  # noqa: E731
        kind, covariance_type, means, np.random.RandomState(seed), n_iter=n_iter, tol=0),
        A, lengths))
    _assert_close(fit(X32), fit(X32.astype(np.float64)), rtol=1e-4, what="float32")
