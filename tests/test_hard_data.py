"""Hard data for all three models (GaussianMixture, GaussianHMM, GMMHMM).

Every case must end in a fit whose parameters are all finite and whose
predictions are usable -- or, where scikit-learn itself raises (no
regularisation on collapsed data), in the documented error that names
reg_covar. The second half tests GaussianMixture's policy for degenerate
components: on_degenerate='raise' (scikit-learn's error, today's behaviour)
and on_degenerate='reseed' (a DegenerateComponentWarning, and EM goes on).
"""
import re
import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gmscore import (
    GMMHMM,
    ConvergenceWarning,
    DegenerateComponentWarning,
    GaussianHMM,
    GaussianMixture,
)
from gmscore import _repair
from gmscore._core.sources import ArraySource, as_source

COV_TYPES = ("full", "tied", "diag", "spherical")
MODELS = ("gmm", "ghmm", "gmmhmm")
IMPLEMENTATIONS = ("log", "scaling")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
REG_COVAR_ERROR = r"ill-defined empirical covariance(.|\n)*increase reg_covar"
# The one error a scaled forward pass may end in (outliers far in the tails).
SCALING_UNDERFLOW = r"implementation='log'"

CENTRES = {
    1: np.array([[0.0], [6.0], [12.0]]),
    2: np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]]),
    4: np.array([[0.0, 0.0, 0.0, 0.0], [6.0, 0.0, 6.0, 0.0], [0.0, 6.0, 0.0, 6.0]]),
}
FAR = 500.0


def blobs(n=90, d=2, seed=0):
    """Three unit-variance clusters, each a contiguous run of rows (so that
    the HMM sequences have state structure)."""
    rng = np.random.RandomState(seed)
    labels = np.repeat(np.arange(3), -(-n // 3))[:n]
    return CENTRES[d][labels] + rng.randn(n, d)


def three_sequences(n):
    return np.array([n // 3, n // 3, n - 2 * (n // 3)])


# ---------------------------------------------------------------- the cases
# name -> builder returning dict(X, lengths, n_components, gmm=..., hmm=...,
# gmm_init=..., models=...). ``gmm``/``hmm`` are extra constructor arguments;
# ``hmm_setup(model)`` assigns starting parameters where a case needs them.
def _case_duplicated_points():
    X = np.repeat(blobs(30, seed=1), 3, axis=0)  # every row three times
    return dict(X=X)


def _case_collapsed_cluster():
    X = blobs(seed=2)
    X[30:60] = [6.0, 0.0]  # a whole cluster on one point
    return dict(X=X)


def _case_constant_feature():
    X = blobs(seed=3)
    X[:, 1] = 5.0
    return dict(X=X)


def _case_offset_1e6():
    return dict(X=blobs(seed=4) + 1e6)


def _case_feature_scales():
    # features on scales 1e-6, 1e-2, 1e2 and 1e6
    return dict(X=blobs(d=4, seed=5) * np.array([1e-6, 1e-2, 1e2, 1e6]))


def _case_feature_scales_tiny_floor():
    # the same, with a floor far below the smallest variance (1e-12), so
    # the 1e-6 feature is modelled rather than swamped by the floor
    case = _case_feature_scales()
    case.update(gmm=dict(reg_covar=1e-20), hmm=dict(min_covar=1e-20))
    return case


def _case_float32_offset_1e4():
    return dict(X=(blobs(seed=6) + 1e4).astype(np.float32))


def _case_n_components_equals_n_samples():
    X = blobs(12, seed=7)
    return dict(X=X, n_components=12, lengths=np.array([6, 6]))


def _case_one_feature():
    return dict(X=blobs(d=1, seed=8))


def _case_length_one_sequences():
    X = blobs(seed=9)
    return dict(X=X, lengths=np.ones(len(X), dtype=int), models=("ghmm", "gmmhmm"))


def _case_unvisited_state():
    # a fourth component/state far from all data: it never gets mass
    X = blobs(seed=10)
    means4 = np.vstack([CENTRES[2], [[FAR, FAR]]])

    def hmm_setup(model):
        if isinstance(model, GMMHMM):
            model.means_ = means4[:, None, :] + np.array([[-0.5, 0.0], [0.5, 0.0]])[None]
        else:
            model.means_ = means4

    return dict(X=X, n_components=4, gmm=dict(means_init=means4),
                hmm=dict(init_params="stcw"), hmm_setup=hmm_setup)


def _case_outlier_1e4():
    X = blobs(seed=11)
    X[17] = 1e4
    return dict(X=X)


CASES = {
    "duplicated_points": _case_duplicated_points,
    "collapsed_cluster": _case_collapsed_cluster,
    "constant_feature": _case_constant_feature,
    "offset_1e6": _case_offset_1e6,
    "feature_scales_1e-6_to_1e6": _case_feature_scales,
    "feature_scales_tiny_floor": _case_feature_scales_tiny_floor,
    "float32_offset_1e4": _case_float32_offset_1e4,
    "n_components_equals_n_samples": _case_n_components_equals_n_samples,
    "one_feature": _case_one_feature,
    "length_one_sequences": _case_length_one_sequences,
    "unvisited_state": _case_unvisited_state,
    "outlier_1e4": _case_outlier_1e4,
}


def _build(name):
    case = dict(n_components=3, gmm={}, hmm={}, hmm_setup=None, models=MODELS)
    case.update(CASES[name]())
    if case.get("lengths") is None:
        case["lengths"] = three_sequences(len(case["X"]))
    return case


def _matrix():
    for name in CASES:
        models = _build(name)["models"]
        for model in models:
            for ct in COV_TYPES:
                variants = INIT_PARAMS if model == "gmm" else IMPLEMENTATIONS
                for variant in variants:
                    yield pytest.param(name, model, ct, variant,
                                       id=f"{name}-{model}-{ct}-{variant}")


# ------------------------------------------------------------- assertions
def assert_finite_gmm(gm, X):
    for name in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_"):
        value = np.asarray(getattr(gm, name))
        assert np.isfinite(value).all(), f"{name} is not finite: {value!r}"
    assert np.isfinite(gm.lower_bound_)
    assert np.isfinite(gm.lower_bounds_).all()
    assert (gm.weights_ >= 0).all()
    # float32 data: float32 parameters and probabilities, as scikit-learn's
    tol = 1e-10 if gm.means_.dtype == np.float64 else 1e-6
    assert_allclose(gm.weights_.sum(), 1.0, rtol=tol)
    assert np.isfinite(gm.score_samples(X)).all()
    proba = gm.predict_proba(X)
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0, atol=tol)
    labels = gm.predict(X)
    assert ((labels >= 0) & (labels < gm.n_components)).all()


def assert_finite_hmm(model, X, lengths):
    names = ["startprob_", "transmat_", "means_", "covars_"]
    if isinstance(model, GMMHMM):
        names.append("weights_")
    for name in names:
        value = np.asarray(getattr(model, name))
        assert np.isfinite(value).all(), f"{name} is not finite: {value!r}"
    assert np.isfinite(list(model.monitor_.history)).all(), list(model.monitor_.history)
    assert_allclose(model.startprob_.sum(), 1.0, atol=1e-12)
    assert_allclose(model.transmat_.sum(axis=1), 1.0, atol=1e-12)
    # the fitted model is usable: its covariances pass the predict-time
    # validation and every frame gets a proper posterior
    ll, post = model.score_samples(X, lengths)
    assert np.isfinite(ll)
    assert np.isfinite(post).all()
    assert_allclose(post.sum(axis=1), 1.0, atol=1e-8)
    log_prob, states = model.decode(X, lengths)
    assert np.isfinite(log_prob)
    assert ((states >= 0) & (states < model.n_components)).all()


def _make_hmm(kind, ct, case, implementation):
    kw = dict(n_components=case["n_components"], covariance_type=ct, n_iter=10,
              random_state=0, implementation=implementation, n_threads=1)
    kw.update(case["hmm"])
    if kind == "ghmm":
        if "init_params" in kw:
            kw["init_params"] = kw["init_params"].replace("w", "")
        model = GaussianHMM(**kw)
    else:
        model = GMMHMM(n_mix=2, **kw)
    if case["hmm_setup"] is not None:
        case["hmm_setup"](model)
    return model


# ================================================================ the matrix
@pytest.mark.parametrize("name, model, ct, variant", list(_matrix()))
def test_hard_data_fits_are_finite(name, model, ct, variant):
    case = _build(name)
    X, lengths = case["X"], case["lengths"]
    with warnings.catch_warnings():
        # convergence and likelihood-drop reports are beside the point here
        warnings.simplefilter("ignore")
        if model == "gmm":
            gm = GaussianMixture(case["n_components"], covariance_type=ct,
                                 init_params=variant, random_state=0, n_threads=1,
                                 **case["gmm"])
            gm.fit(X)
            assert_finite_gmm(gm, X)
            return
        hmm = _make_hmm(model, ct, case, variant)
        try:
            hmm.fit(X, lengths)
        except ValueError as exc:
            # the only acceptable failure: a scaled pass that underflows
            # says so and points to implementation='log'
            assert variant == "scaling", str(exc)
            assert re.search(SCALING_UNDERFLOW, str(exc)), str(exc)
            return
        assert_finite_hmm(hmm, X, lengths)


def test_matrix_size():
    # 12 data cases; GaussianMixture x 4 initialisations, the HMMs x 2
    # forward-backward implementations, all x 4 covariance types
    cases = list(_matrix())
    assert len(cases) == 11 * 4 * 4 + 12 * 2 * 4 * 2
    assert len({c.id for c in cases}) == len(cases)


def test_unvisited_state_keeps_its_parameters_finite_and_gets_no_mass():
    case = _build("unvisited_state")
    X = case["X"]
    for ct in COV_TYPES:
        gm = GaussianMixture(4, covariance_type=ct, random_state=0, n_threads=1,
                             **case["gmm"]).fit(X)
        assert_finite_gmm(gm, X)
        assert gm.weights_[3] < 1e-12
        assert_allclose(gm.means_[3], [FAR, FAR])
        model = _make_hmm("ghmm", ct, case, "log").fit(X, case["lengths"])
        assert_finite_hmm(model, X, case["lengths"])
        assert (model.predict_proba(X, case["lengths"])[:, 3] < 1e-12).all()


def test_scales_with_a_tiny_floor_model_the_small_feature():
    """Root cause fixed in _emissions.py: covariances were checked for
    positive definiteness with eigvalsh, whose absolute error (about eps
    times the largest eigenvalue, ~1e-3 here) declared the (positive
    definite, Cholesky-factorisable) covariance of features on scales
    1e-6..1e6 indefinite, so fitting failed; the min_covar floor used the
    same noisy eigenvalue to lift matrices that needed no lift."""
    case = _build("feature_scales_tiny_floor")
    X, lengths = case["X"], case["lengths"]
    # (GaussianHMM's default covars_prior=1e-2 would dominate a 1e-12 variance)
    case["hmm"]["covars_prior"] = 0.0
    for kind in ("ghmm", "gmmhmm"):
        for ct in ("full", "tied"):
            if kind == "gmmhmm":
                case["hmm"].pop("covars_prior", None)  # hmmlearn's defaults are 0 here
            model = _make_hmm(kind, ct, case, "log").fit(X, lengths)
            assert_finite_hmm(model, X, lengths)
            cov = np.asarray(model.covars_).reshape(-1, 4, 4)
            # the 1e-6 feature keeps a variance of its own order (~1e-12 to
            # 1e-11), not one of the size of the eigvalsh error
            assert (cov[:, 0, 0] < 1e-9).all(), cov[:, 0, 0]
    # the floor leaves a badly scaled, well floored matrix exactly as it is
    from gmscore._emissions import _floor_covariances
    cov = np.cov(X.T)
    assert_array_equal(_floor_covariances(cov[None], "full", 1e-20)[0], 0.5 * (cov + cov.T))
    # and still lifts one that is below the floor
    lifted = _floor_covariances(np.diag([1e-6, 1.0])[None], "full", 1e-3)[0]
    assert_allclose(np.linalg.eigvalsh(lifted)[0], 1e-3)


def test_a_million_frames():
    rng = np.random.RandomState(12)
    T = 10 ** 6
    states = np.repeat(rng.randint(2, size=T // 500), 500)
    X = np.array([[0.0, 0.0], [5.0, 5.0]])[states] + rng.randn(T, 2)
    model = GaussianHMM(2, covariance_type="diag", n_iter=2, tol=0, random_state=0)
    model.fit(X)
    assert model.monitor_.iter == 2
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert np.isfinite(getattr(model, name)).all(), name
    history = list(model.monitor_.history)
    assert np.isfinite(history).all() and history[1] >= history[0]
    assert np.isfinite(model.score(X))
    assert_allclose(np.sort(model.means_[:, 0]), [0.0, 5.0], atol=0.05)


# ======================================= reg_covar=0: finite or sklearn's error
REG0_CASES = ("duplicated_points", "collapsed_cluster", "constant_feature",
              "n_components_equals_n_samples", "outlier_1e4")


def _min_variance(model):
    c = np.asarray(model.covariances_)
    if model.covariance_type == "full":
        return min(np.linalg.eigvalsh(m)[0] for m in c)
    if model.covariance_type == "tied":
        return np.linalg.eigvalsh(c)[0]
    return c.min()


@pytest.mark.parametrize("init_params", ["kmeans", "random"])
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("name", REG0_CASES)
def test_no_regularisation_is_finite_or_sklearns_error(name, ct, init_params):
    """reg_covar=0: a finite fit, or scikit-learn's error naming reg_covar.
    Where scikit-learn fits, so does gmscore (its 'fit' may hold a component
    collapsed onto one point whose variance is rounding noise of its
    uncentred moments; gmscore's diag/spherical M-step floors such a
    variance at the values' resolution, eps m^2, where the data vary).
    Where scikit-learn raises, gmscore raises too, or fits with such a
    floored component."""
    SkGaussianMixture = pytest.importorskip("sklearn.mixture").GaussianMixture
    case = _build(name)
    X, k = case["X"], case["n_components"]
    kw = dict(covariance_type=ct, reg_covar=0.0, init_params=init_params, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(k, n_threads=1, **kw)
        try:
            gm.fit(X)
            raised = None
        except ValueError as exc:
            raised = str(exc)
        try:
            sk = SkGaussianMixture(k, **kw).fit(X)
            sk_raised = False
        except ValueError as exc:
            assert re.search(REG_COVAR_ERROR, str(exc))
            sk_raised = True
    if raised is None:
        assert_finite_gmm(gm, X)
        if sk_raised:   # only through a component floored at the resolution
            assert ct in ("diag", "spherical")
            resolution = 4 * np.finfo(np.float64).eps * float(np.max(gm.means_ ** 2))
            assert _min_variance(gm) <= resolution, _min_variance(gm)
        return
    assert re.search(REG_COVAR_ERROR, raised), raised
    for attr in ("weights_", "means_", "covariances_"):
        assert not hasattr(gm, attr)  # a failed first fit leaves it unfitted
    assert sk_raised, "gmscore raises but scikit-learn fits"


# ============================================ on_degenerate: the policy
def _dead_component_data():
    """Three clusters; the third component starts far from all data, so the
    cluster at (0, 6) is the worst explained by the starting model."""
    X = blobs(150, seed=13)
    means_init = np.array([[0.0, 0.0], [6.0, 0.0], [FAR, FAR]])
    return X, means_init


def _reseed_messages(record):
    return [str(w.message) for w in record if issubclass(w.category, DegenerateComponentWarning)]


def test_default_policy_is_raise_and_unchanged():
    assert GaussianMixture().on_degenerate == "raise"
    assert "on_degenerate" in GaussianMixture().get_params()
    X = blobs(seed=14)
    a = GaussianMixture(3, random_state=0, n_threads=1).fit(X)
    b = GaussianMixture(3, random_state=0, n_threads=1, on_degenerate="raise").fit(X)
    c = GaussianMixture(3, random_state=0, n_threads=1, on_degenerate="reseed").fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert_array_equal(getattr(a, name), getattr(b, name))
        # nothing degenerates: 'reseed' changes nothing either
        assert_array_equal(getattr(a, name), getattr(c, name))
    assert a.lower_bounds_ == b.lower_bounds_ == c.lower_bounds_


def test_invalid_policy_is_rejected():
    with pytest.raises(ValueError, match="on_degenerate"):
        GaussianMixture(2, on_degenerate="ignore").fit(blobs())


def test_positional_parameter_order_is_unchanged():
    import inspect

    names = list(inspect.signature(GaussianMixture).parameters)
    # scikit-learn's parameters first, in its order; gmscore's own after them
    assert names[-4:] == ["n_threads", "on_degenerate", "partial_labels", "nan_policy"]


@pytest.mark.parametrize("ct", ["full", "diag", "spherical"])
def test_raise_names_reg_covar(ct):
    X, means_init = _dead_component_data()
    gm = GaussianMixture(3, covariance_type=ct, reg_covar=0.0, means_init=means_init,
                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        with pytest.raises(ValueError, match=REG_COVAR_ERROR):
            gm.fit(X)


@pytest.mark.parametrize("reg_covar", [0.0, 1e-6])
@pytest.mark.parametrize("ct", COV_TYPES)
def test_reseed_revives_the_component_on_badly_explained_data(ct, reg_covar):
    """reg_covar=0: the far component's covariance is 0 (not positive
    definite); reg_covar>0: its mass collapses. Either way it is re-seeded
    at the worst-explained sample -- in the cluster no component covered --
    and the fit converges to the three clusters."""
    X, means_init = _dead_component_data()
    gm = GaussianMixture(3, covariance_type=ct, reg_covar=reg_covar, means_init=means_init,
                         random_state=0, n_threads=1, on_degenerate="reseed")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gm.fit(X)
    messages = _reseed_messages(record)
    assert len(messages) == 1, messages
    assert re.search(r"component\(s\) 2 degenerated", messages[0]), messages[0]
    reason = ("covariance not positive definite" if reg_covar == 0 and ct != "tied"
              else "collapsed")
    assert reason in messages[0]
    row = int(re.search(r"worst-explained sample\(s\) (\d+)", messages[0]).group(1))
    # the chosen sample was badly explained by the starting model: it is in
    # the cluster at (0, 6), which neither of the other components covered
    assert np.linalg.norm(X[row] - [0.0, 6.0]) < 4.0
    # the warning points at the caller's fit()
    warned = [w for w in record if issubclass(w.category, DegenerateComponentWarning)]
    assert warned[0].filename == __file__
    assert_finite_gmm(gm, X)
    assert gm.converged_
    assert_allclose(gm.means_[2], [0.0, 6.0], atol=0.5)
    assert_allclose(np.sort(gm.weights_), [1 / 3] * 3, atol=0.05)
    # the three clusters are recovered, as from a good start
    good = GaussianMixture(3, covariance_type=ct, reg_covar=reg_covar, random_state=0,
                           means_init=CENTRES[2], n_threads=1).fit(X)
    assert_allclose(gm.lower_bound_, good.lower_bound_, rtol=1e-4)


def test_reseed_needs_two_clean_iterations_to_converge():
    """An iteration with a re-seed can lower the lower bound: neither it nor
    the next iteration counts as convergence, even with a huge tol."""
    X, means_init = _dead_component_data()
    kw = dict(n_components=3, reg_covar=1e-6, means_init=means_init, tol=1e9,
              random_state=0, n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        plain = GaussianMixture(**kw).fit(X)
        reseed = GaussianMixture(on_degenerate="reseed", **kw).fit(X)
    assert plain.converged_ and plain.n_iter_ == 2
    # step 1 re-seeds, step 2 compares against nothing, step 3 converges
    assert reseed.converged_ and reseed.n_iter_ == 3
    assert len(reseed.lower_bounds_) == 3


def test_reseed_is_deterministic_and_thread_independent():
    X, means_init = _dead_component_data()
    fits = []
    for n_threads in (1, 2, 1):
        gm = GaussianMixture(3, reg_covar=0.0, means_init=means_init, random_state=0,
                             n_threads=n_threads, on_degenerate="reseed")
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            gm.fit(X)
        fits.append((gm, _reseed_messages(record)))
    for gm, messages in fits[1:]:
        assert messages == fits[0][1]
        for name in ("weights_", "means_", "covariances_"):
            assert_array_equal(getattr(gm, name), getattr(fits[0][0], name))


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_tied_single_row_start_is_the_data_covariance(init_params):
    """Tied with one row per component starts from the data covariance, so
    reg_covar=0 fits clean data (the per-component types start at 0 there)."""
    X = blobs(seed=15)
    gm = GaussianMixture(3, covariance_type="tied", reg_covar=0.0, init_params=init_params,
                         random_state=0, max_iter=0).fit(X)
    assert_allclose(gm.covariances_, np.cov(X.T, bias=True), rtol=1e-10)
    gm = GaussianMixture(3, covariance_type="tied", reg_covar=0.0, init_params=init_params,
                         random_state=0).fit(X)
    assert_finite_gmm(gm, X)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
@pytest.mark.parametrize("ct", ["diag", "spherical", "tied"])
def test_one_row_initial_components_fit_where_sklearn_fits(ct, init_params):
    """k-means++ and random_from_data start each component on one row: with
    reg_covar=0 a diag/spherical/tied start has zero variance, which
    scikit-learn's uncentred moments leave as rounding noise, and it fits;
    gmscore floors it at the values' resolution and fits too."""
    SkGaussianMixture = pytest.importorskip("sklearn.mixture").GaussianMixture
    X = blobs(seed=15)
    kw = dict(n_components=3, covariance_type=ct, reg_covar=0.0, init_params=init_params,
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SkGaussianMixture(**kw).fit(X)
        gm = GaussianMixture(**kw).fit(X)
    assert_finite_gmm(gm, X)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
@pytest.mark.parametrize("ct", ["full"])
def test_reseed_repairs_degenerate_initial_covariances(ct, init_params):
    """k-means++ and random_from_data start each component on one row: with
    reg_covar=0 every initial full covariance is 0. 'raise' gives
    scikit-learn's error (its full covariances are centred too); 'reseed'
    replaces them (no healthy component: by the data covariance), warns,
    and fits."""
    X = blobs(seed=15)
    kw = dict(n_components=3, covariance_type=ct, reg_covar=0.0, init_params=init_params,
              random_state=0, n_threads=1)
    with pytest.raises(ValueError, match=REG_COVAR_ERROR):
        GaussianMixture(**kw).fit(X)
    gm = GaussianMixture(on_degenerate="reseed", **kw)
    with pytest.warns(DegenerateComponentWarning, match="[Ii]nitial"):
        gm.fit(X)
    assert_finite_gmm(gm, X)
    assert gm.converged_


@pytest.mark.parametrize("ct", COV_TYPES)
def test_reseed_cannot_repair_data_without_variance(ct):
    """Identical points and reg_covar=0: the replacement covariance is not
    positive definite either; the reg_covar error is raised, saying why."""
    X = np.full((20, 2), 3.0)
    gm = GaussianMixture(2, covariance_type=ct, reg_covar=0.0, random_state=0,
                         on_degenerate="reseed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        with pytest.raises(ValueError, match=REG_COVAR_ERROR) as info:
            gm.fit(X)
    assert "on_degenerate='reseed' could not repair" in str(info.value)
    assert not hasattr(gm, "means_")


@pytest.mark.parametrize("ct", ["full", "diag", "spherical"])
def test_reseed_gives_up_after_its_budget(ct):
    """A singleton far outlier and reg_covar=0: whatever component covers it
    alone collapses again and again. After MAX_RESEEDS re-seeds of one
    component the reg_covar error is raised (no endless re-seeding)."""
    case = _build("outlier_1e4")
    gm = GaussianMixture(3, covariance_type=ct, reg_covar=0.0, random_state=0,
                         on_degenerate="reseed", n_threads=1)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            gm.fit(case["X"])
        except ValueError as exc:
            assert re.search(REG_COVAR_ERROR, str(exc))
            assert f"re-seeded {_repair.MAX_RESEEDS} times" in str(exc)
        else:
            assert_finite_gmm(gm, case["X"])
    messages = _reseed_messages(record)
    assert messages
    counts = {}
    for m in messages:
        for c in re.findall(r"(\d+): (?:covariance|mass)", m):
            counts[c] = counts.get(c, 0) + 1
    assert max(counts.values()) <= _repair.MAX_RESEEDS


@pytest.mark.parametrize("ct", COV_TYPES)
def test_reseed_on_collapsed_data_with_regularisation_is_finite(ct):
    """The hard cases again under 'reseed' (reg_covar > 0): finite fits."""
    for name in ("duplicated_points", "collapsed_cluster", "n_components_equals_n_samples",
                 "unvisited_state", "outlier_1e4", "float32_offset_1e4"):
        case = _build(name)
        gm = GaussianMixture(case["n_components"], covariance_type=ct, random_state=0,
                             n_threads=1, on_degenerate="reseed", **case["gmm"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateComponentWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(case["X"])
        assert_finite_gmm(gm, case["X"])


def test_several_reseeds_in_one_step_go_to_different_points():
    """Two dead components at once, on data made of duplicated points: they
    are placed one at a time, so they do not land on the same point."""
    base = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
    rng = np.random.RandomState(16)
    X = np.repeat(base, 25, axis=0) + 0.3 * rng.randn(100, 2)
    X[25:50] = base[1]  # one cluster is 25 copies of one point
    means_init = np.vstack([base[:2], [[FAR, FAR], [-FAR, FAR]]])
    gm = GaussianMixture(4, means_init=means_init, random_state=0, n_threads=1,
                         on_degenerate="reseed")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gm.fit(X)
    first = _reseed_messages(record)[0]
    rows = [int(r) for r in re.search(r"sample\(s\) ([\d, ]+)", first).group(1).split(", ")]
    assert len(rows) == 2
    assert np.linalg.norm(X[rows[0]] - X[rows[1]]) > 1.0
    assert_finite_gmm(gm, X)
    assert_allclose(np.sort(gm.means_[2:, 1]), [6.0, 6.0], atol=0.5)


# ------------------------------------------------ worst-explained samples
def _brute_worst(vals, weights, count):
    vals = np.where(np.isnan(vals), -np.inf, vals)
    if weights is not None:
        vals = np.where(weights <= 0, np.inf, vals)
    order = np.lexsort((np.arange(len(vals)), vals))
    return order[:count]


@pytest.mark.parametrize("count", [1, 3, 7])
def test_worst_explained_matches_brute_force_with_ties(count, monkeypatch):
    rng = np.random.RandomState(17)
    n, k = 1000, 3
    X = np.arange(n, dtype=np.float64)[:, None]  # a row holds its own index
    table = np.round(rng.randn(n, k), 1)  # many ties
    table[[5, 400, 999]] = -50.0          # three-way tie for the lowest
    table[123] = np.nan                   # NaN counts as the lowest
    weights = rng.rand(n)
    weights[[5, 7]] = 0.0                 # zero weight: never picked

    def log_prob_rows(rows, out):
        start = int(rows[0, 0])
        out[:] = table[start:start + len(rows)]

    vals = _repair._logsumexp_rows_inplace(table.copy())
    for elements in (64, 300, 1 << 18):  # pieces of 64, 100, all rows
        monkeypatch.setattr(_repair, "_SCAN_ELEMENTS", elements)
        for w in (None, weights):
            expected = _brute_worst(vals, w, count)
            idx, got = _repair.worst_explained(ArraySource(X, w), log_prob_rows, k, count)
            assert_array_equal(idx, expected)
            # the same rows streamed in uneven chunks: global indices
            cuts = [0, 1, 250, 251, 700, n]
            parts = [(X[a:b], None if w is None else w[a:b]) for a, b in zip(cuts, cuts[1:])]
            streamed = as_source(lambda: iter(parts))
            idx, got = _repair.worst_explained(streamed, log_prob_rows, k, count)
            assert_array_equal(idx, expected)


def test_worst_explained_allocates_no_samples_by_components_array():
    rng = np.random.RandomState(18)
    n, k = 200_000, 16
    X = rng.randn(n, 2)
    gm = GaussianMixture(k, max_iter=1, random_state=0, n_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X[:5000])
    means, prec, log_norm = gm._kernel_parameters(X.dtype)
    from gmscore import _kernels
    from gmscore._gaussian import COV_CODE

    def log_prob_rows(rows, out):
        _kernels.weighted_log_prob(COV_CODE["full"], rows, means, prec, log_norm, out, 1)

    tracemalloc.start()
    try:
        idx, vals = _repair.worst_explained(ArraySource(X), log_prob_rows, k, 5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * k * 8 / 8, peak
    expected = np.argsort(gm.score_samples(X), kind="stable")[:5]
    assert_array_equal(idx, expected)


@pytest.mark.parametrize("weighted", [False, True])
def test_mean_feature_variance_of_offset_data(weighted):
    # the k-means tolerance's variance, one pass about a sampled shift,
    # keeps its digits on data far from the origin
    from gmscore._core.sources import as_source

    rng = np.random.RandomState(0)
    X = 1e6 + rng.standard_normal((5000, 3)) * [1.0, 2.0, 0.5]
    w = rng.uniform(0.5, 2.0, 5000) if weighted else None
    ref = np.average((X - np.average(X, axis=0, weights=w)) ** 2, axis=0, weights=w).mean()
    assert as_source(X, sample_weight=w).mean_variance == pytest.approx(ref, rel=1e-9)
