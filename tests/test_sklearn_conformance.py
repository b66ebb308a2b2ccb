"""scikit-learn conformance.

GaussianMixture passes every check of ``sklearn.utils.estimator_checks``
(each check is its own test). The HMMs follow hmmlearn's API, whose ``fit``
takes ``lengths`` where scikit-learn's checks pass ``y``, so the checks that
fit cannot run on them; they get scikit-learn's API checks that do not fit
and the conventions those fitting checks test, written out here: clone,
get_params / set_params, no hyper-parameter changed by ``fit`` (array-valued
priors compared by value against deep copies), inference leaves the
estimator unchanged, refitting is idempotent, pickling keeps predictions,
repr, ``check_is_fitted``.
"""
import copy
import functools
import inspect
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

pytest.importorskip("sklearn", minversion="1.6")  # Tags, estimator_checks_generator

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError as SkNotFittedError  # noqa: E402
from sklearn.utils import estimator_checks  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

from gmscore import GMMHMM, ConvergenceWarning, GaussianHMM, GaussianMixture  # noqa: E402
from gmscore import BayesianGaussianMixture  # noqa: E402

COV_TYPES = ("full", "tied", "diag", "spherical")

# gmscore reproduces scikit-learn's estimator API without depending on it,
# so its estimators are not BaseEstimator subclasses; the checks say so
# with this warning while they are collected.
_NOT_BASE_ESTIMATOR = r".*does not inherit from `sklearn.base.BaseEstimator`"


# ============================================================== the mixtures
# GaussianMixture() is the estimator of the issue; the other covariance
# types, scikit-learn's own test configuration of its GaussianMixture
# (n_init=2, max_iter=5) and the component-repair policy run the same checks.
GMM_INSTANCES = [
    GaussianMixture(),
    *(GaussianMixture(covariance_type=ct) for ct in COV_TYPES[1:]),
    GaussianMixture(n_init=2, max_iter=5),
    *([GaussianMixture(on_degenerate="reseed")]
      if "on_degenerate" in GaussianMixture().get_params() else []),
]
# every covariance type, the finite Dirichlet prior, and several restarts
BGM_INSTANCES = [
    BayesianGaussianMixture(),
    *(BayesianGaussianMixture(covariance_type=ct) for ct in COV_TYPES[1:]),
    BayesianGaussianMixture(weight_concentration_prior_type="dirichlet_distribution"),
    BayesianGaussianMixture(n_init=2, max_iter=5),
]
MIXTURES = (GaussianMixture, BayesianGaussianMixture)


def _check_name(check):
    func = check.func if isinstance(check, functools.partial) else check
    name = getattr(func, "__name__", repr(func))
    # partials of partials: the keywords tell variants of one check apart
    kw = check.keywords if isinstance(check, functools.partial) else {}
    if isinstance(func, functools.partial):
        name = getattr(func.func, "__name__", name)
        kw = {**func.keywords, **kw}
    return name + ("" if not kw else "(" + ",".join(f"{k}={v}" for k, v in kw.items()) + ")")


def _sklearn_checks(estimators):
    # No expected failures: every check must pass.
    cases = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NOT_BASE_ESTIMATOR, category=UserWarning)
        for est in estimators:
            for estimator, check in estimator_checks.estimator_checks_generator(
                    est, legacy=True, expected_failed_checks=None, mark=None):
                cases.append(pytest.param(estimator, check,
                                          id=f"{estimator!r}-{_check_name(check)}"))
    return cases


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings(f"ignore:{_NOT_BASE_ESTIMATOR}:UserWarning")
@pytest.mark.parametrize("estimator, check", _sklearn_checks(GMM_INSTANCES + BGM_INSTANCES))
def test_mixture_passes_sklearn_check(estimator, check):
    # A check that cannot run here (pandas not installed, SCIPY_ARRAY_API
    # unset) raises SkipTest itself, which pytest reports as a skip.
    check(estimator)


@pytest.mark.parametrize("cls", MIXTURES)
def test_check_estimator_as_a_whole(cls):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NOT_BASE_ESTIMATOR, category=UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = estimator_checks.check_estimator(cls(), on_skip=None)
    assert len(results) > 40
    assert {r["status"] for r in results} <= {"passed", "skipped"}


@pytest.mark.parametrize("cls", MIXTURES)
def test_mixture_tags(cls):
    tags = get_tags(cls())
    assert tags.estimator_type == "density_estimator"
    assert tags.requires_fit and not tags.target_tags.required
    assert not tags.input_tags.sparse and tags.input_tags.two_d_array


def test_not_fitted_error_is_sklearns():
    X = np.zeros((3, 2))
    for est, call in [(GaussianMixture(), lambda e: e.predict(X)),
                      (GaussianHMM(), lambda e: e.predict(X)),
                      (GMMHMM(), lambda e: e.score(X))]:
        with pytest.raises(SkNotFittedError):
            call(est)
        with pytest.raises(SkNotFittedError):
            check_is_fitted(est)


def test_gaussian_mixture_fit_keeps_user_inits():
    # The array-valued hyper-parameters: fit reads them, never writes them.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(40, 2), rng.randn(40, 2) + 6])
    weights = [0.5, 0.5]  # a list stays a list
    means = np.array([[0.5, 0.0], [5.0, 5.0]])
    precisions = np.stack([np.eye(2), 2 * np.eye(2)])
    gm = GaussianMixture(2, weights_init=weights, means_init=means,
                         precisions_init=precisions)
    before = copy.deepcopy(gm.get_params())
    objects = gm.get_params()
    gm.fit(X)
    _assert_params_equal(gm.get_params(), before)
    assert all(gm.get_params()[k] is objects[k] for k in objects)


# ======================================================================== HMMs
def _hmm_data(seed=0, d=2, n=120):
    rng = np.random.RandomState(seed)
    z = (np.arange(n) // 10) % 3
    centres = np.array([[0.0] * d, [5.0] + [0.0] * (d - 1), [0.0] * (d - 1) + [5.0]])
    X = centres[z] + rng.randn(n, d)
    return X, [n // 3, n // 3, n - 2 * (n // 3)]


def _gaussian_priors(ct, k, d):
    """Array-valued priors of every GaussianHMM prior parameter."""
    covars_prior = {
        "full": np.tile(1e-2 * np.eye(d), (k, 1, 1)),
        "tied": 1e-2 * np.eye(d),
        "diag": np.full((k, d), 1e-2),
        "spherical": np.full(k, 1e-2),
    }[ct]
    return dict(startprob_prior=np.full(k, 1.5), transmat_prior=np.full((k, k), 1.5),
                means_prior=np.zeros((k, d)), means_weight=np.full(k, 0.1),
                covars_prior=covars_prior, covars_weight=np.ones(k) if ct == "full" else 1.0)


def _gmm_priors(ct, k, m, d):
    """Array-valued priors of every GMMHMM prior parameter (hmmlearn's
    per-type defaults, in full shape)."""
    prior, weight = {
        "full": (np.zeros((k, m, d, d)), np.full((k, m), -(1.0 + d + 1.0))),
        "tied": (np.zeros((k, d, d)), np.full(k, -(m + d + 1.0))),
        "diag": (np.full((k, m, d), -1.5), np.zeros((k, m, d))),
        "spherical": (np.full((k, m), -(m + 2.0) / 2.0), np.zeros((k, m))),
    }[ct]
    return dict(startprob_prior=np.full(k, 1.5), transmat_prior=np.full((k, k), 1.5),
                weights_prior=np.full((k, m), 1.5), means_prior=np.zeros((k, m, d)),
                means_weight=np.full((k, m), 0.1), covars_prior=prior, covars_weight=weight)


def _hmm_instances():
    d = 2
    cases = [pytest.param(GaussianHMM(), id="GaussianHMM()"),
             pytest.param(GMMHMM(), id="GMMHMM()")]
    for ct in COV_TYPES:
        cases.append(pytest.param(
            GaussianHMM(3, covariance_type=ct, n_iter=5, random_state=0,
                        **_gaussian_priors(ct, 3, d)),
            id=f"GaussianHMM-{ct}-array-priors"))
        cases.append(pytest.param(
            GMMHMM(3, n_mix=2, covariance_type=ct, n_iter=5, random_state=0,
                   **_gmm_priors(ct, 3, 2, d)),
            id=f"GMMHMM-{ct}-array-priors"))
    return cases


HMM_INSTANCES = _hmm_instances()


def _assert_params_equal(actual, expected):
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        got = actual[name]
        if isinstance(value, np.ndarray):
            assert isinstance(got, np.ndarray), name
            assert got.dtype == value.dtype and got.shape == value.shape, name
            assert_array_equal(got, value, err_msg=name)
        else:
            assert type(got) is type(value) and got == value, (name, got, value)


def _fitted(est, X=None, lengths=None):
    if X is None:
        X, lengths = _hmm_data(d=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and prior warnings
        return est.fit(X, lengths)


def _state(est):
    """Everything in __dict__, arrays copied."""
    return {k: (copy.deepcopy(v) if not hasattr(v, "history") else list(v.history))
            for k, v in vars(est).items()}


def _assert_state_equal(actual, expected):
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, np.ndarray):
            assert_array_equal(actual[name], value, err_msg=name)
            assert np.asarray(actual[name]).dtype == value.dtype, name
        else:
            assert actual[name] == value, name


# scikit-learn's API checks that do not call fit(X, y) apply to the HMMs as
# they are. Those that do fit are inapplicable: hmmlearn's (and so gmscore's)
# second positional argument of fit is ``lengths``, and y would be taken as
# sequence lengths. Their conventions are tested below.
HMM_SKLEARN_CHECKS = (
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_valid_tag_types",
    "check_estimator_tags_renamed",
    "check_mixin_order",
)


@pytest.mark.parametrize("check_name", HMM_SKLEARN_CHECKS)
@pytest.mark.parametrize("estimator", HMM_INSTANCES)
def test_hmm_passes_sklearn_api_check(estimator, check_name):
    getattr(estimator_checks, check_name)(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", HMM_INSTANCES)
def test_hmm_clone(estimator):
    fitted = _fitted(clone(estimator))
    for source in (estimator, fitted):
        new = clone(source)
        assert type(new) is type(source) and new is not source
        _assert_params_equal(new.get_params(), source.get_params())
        for name, value in source.get_params().items():
            if isinstance(value, np.ndarray):  # deep-copied, not shared
                assert new.get_params()[name] is not value, name
        # a clone is unfitted
        assert not [k for k in vars(new) if k.endswith("_")]
        with pytest.raises(SkNotFittedError):
            check_is_fitted(new)


@pytest.mark.parametrize("estimator", HMM_INSTANCES)
def test_hmm_get_set_params_round_trip(estimator):
    params = estimator.get_params()
    names = [p for p in inspect.signature(type(estimator).__init__).parameters if p != "self"]
    assert sorted(params) == sorted(names)
    assert estimator.get_params(deep=False).keys() == params.keys()
    other = type(estimator)()
    assert other.set_params(**params) is other
    _assert_params_equal(other.get_params(), params)
    # and back to the defaults
    defaults = type(estimator)().get_params()
    other.set_params(**defaults)
    _assert_params_equal(other.get_params(), defaults)
    with pytest.raises(ValueError, match="Invalid parameter 'no_such_param'"):
        other.set_params(no_such_param=1)


@pytest.mark.parametrize("estimator", HMM_INSTANCES)
def test_hmm_fit_does_not_mutate_hyperparameters(estimator):
    est = clone(estimator)
    objects = est.get_params()
    before = copy.deepcopy(objects)
    attrs_before = set(vars(est))
    _fitted(est)
    _fitted(est)  # and a refit from fitted parameters
    after = est.get_params()
    _assert_params_equal(after, before)
    assert all(after[k] is objects[k] for k in objects), "fit replaced a hyper-parameter"
    # fit adds only fitted ('_' suffix) or private attributes -- and
    # ``n_features``, hmmlearn's public attribute that gmscore keeps for
    # drop-in compatibility (it is not a hyper-parameter).
    added = set(vars(est)) - attrs_before
    public = {a for a in added if not a.startswith("_") and not a.endswith("_")}
    assert public <= {"n_features"}, public
    assert est.n_features_in_ == 2


@pytest.mark.parametrize("estimator", HMM_INSTANCES)
def test_hmm_inference_leaves_the_estimator_unchanged(estimator):
    X, lengths = _hmm_data(seed=1, d=2)
    est = _fitted(clone(estimator))
    state = _state(est)
    est.score(X, lengths)
    est.score_samples(X, lengths)
    est.predict(X, lengths)
    est.predict_proba(X, lengths)
    est.decode(X, lengths, algorithm="viterbi")
    est.decode(X, lengths, algorithm="map")
    est.aic(X, lengths)
    est.bic(X, lengths)
    est.sample(5, random_state=0)
    est.get_stationary_distribution()
    _assert_state_equal(_state(est), state)


@pytest.mark.parametrize("estimator", HMM_INSTANCES)
def test_hmm_fit_is_idempotent(estimator):
    X, lengths = _hmm_data(seed=2, d=2)
    est = clone(estimator).set_params(random_state=0)
    first = _state(_fitted(est, X, lengths))
    # refitting (init_params re-initialises everything) and a fresh clone
    # give the same model, bit for bit
    _assert_state_equal(_state(_fitted(est, X, lengths)), first)
    _assert_state_equal(_state(_fitted(clone(est), X, lengths)), first)


@pytest.mark.parametrize("estimator", HMM_INSTANCES)
def test_hmm_pickle_keeps_predictions(estimator):
    X, lengths = _hmm_data(seed=3, d=2)
    est = _fitted(clone(estimator))
    restored = pickle.loads(pickle.dumps(est))
    assert type(restored) is type(est)
    _assert_params_equal(restored.get_params(), est.get_params())
    _assert_state_equal(_state(restored), _state(est))
    assert restored.score(X, lengths) == est.score(X, lengths)
    assert_array_equal(restored.predict(X, lengths), est.predict(X, lengths))
    assert_array_equal(restored.predict_proba(X, lengths), est.predict_proba(X, lengths))
    assert_array_equal(restored.sample(7, random_state=1)[0], est.sample(7, random_state=1)[0])
    # an unfitted estimator round-trips too
    unfitted = pickle.loads(pickle.dumps(clone(estimator)))
    _assert_params_equal(unfitted.get_params(), estimator.get_params())
    assert not [k for k in vars(unfitted) if k.endswith("_")]


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_hmm_repr(cls):
    assert repr(cls()) == f"{cls.__name__}()"
    est = cls(n_components=3, covariance_type="full", n_iter=7, tol=0.5)
    text = repr(est)
    assert text.startswith(f"{cls.__name__}(") and "n_components=3" in text
    assert "covariance_type='full'" in text and "n_iter=7" in text and "tol=0.5" in text
    # scalar hyper-parameters: the repr rebuilds the estimator
    rebuilt = eval(text, {cls.__name__: cls})
    _assert_params_equal(rebuilt.get_params(), est.get_params())
    # array-valued ones show up, and repr never raises on them
    assert "transmat_prior=array(" in repr(cls(2, transmat_prior=np.full((2, 2), 2.0)))
    # the repr of a fitted model is the repr of its hyper-parameters
    assert repr(_fitted(cls(2, n_iter=2, random_state=0))) == (
        f"{cls.__name__}(n_components=2, n_iter=2, random_state=0)")


@pytest.mark.parametrize("estimator", HMM_INSTANCES)
def test_hmm_check_is_fitted_and_n_features_in(estimator):
    est = clone(estimator)
    with pytest.raises(SkNotFittedError):
        check_is_fitted(est)
    _fitted(est)
    check_is_fitted(est)
    assert est.n_features_in_ == 2
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 2"):
        est.predict(np.zeros((4, 3)))
