"""gmscore.BayesianGaussianMixture against scikit-learn's from identical
starts (every covariance type, both weight priors, the four inits and a
start taken from scikit-learn's own fit), against direct formulas for the
its behaviour: sample weights, float32, threads,
warm start, n_init, no N x K array in fit."""
import tracemalloc
import warnings

import numpy as np
import pytest

from gmscore import BayesianGaussianMixture

sk_mixture = pytest.importorskip("sklearn.mixture")
SkBGM = sk_mixture.BayesianGaussianMixture
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning  # noqa: E402

COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
          "mean_precision_", "degrees_of_freedom_", "mean_prior_", "covariance_prior_",
          "weight_concentration_prior_", "mean_precision_prior_",
          "degrees_of_freedom_prior_")
RTOL = 1e-8


def make_blobs(n_per=150, d=3, k=3, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    parts = [rng.randn(n_per, d) @ rng.randn(d, d) + 6 * rng.randn(d) for _ in range(k)]
    return np.vstack(parts).astype(dtype)


def rel_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(b))), 1e-300)
    return float(np.max(np.abs(a - b))) / scale


def quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        return fit()


def assert_same_fit(ours, sk, rtol=RTOL):
    sk_bounds = np.array([float(np.ravel(v)[0]) for v in sk.lower_bounds_])
    assert len(ours.lower_bounds_) == len(sk_bounds) == sk.n_iter_ == ours.n_iter_
    assert rel_diff(ours.lower_bounds_, sk_bounds) < rtol
    assert abs(ours.lower_bound_ - float(np.ravel(sk.lower_bound_)[0])) <= \
        rtol * abs(float(np.ravel(sk.lower_bound_)[0]))
    for name in FITTED:
        assert rel_diff(getattr(ours, name), getattr(sk, name)) < rtol, name
    conc_o, conc_s = ours.weight_concentration_, sk.weight_concentration_
    if isinstance(conc_s, tuple):
        assert isinstance(conc_o, tuple) and len(conc_o) == 2
        for a, b in zip(conc_o, conc_s):
            assert rel_diff(a, b) < rtol
    else:
        assert rel_diff(conc_o, conc_s) < rtol
    assert ours.converged_ == sk.converged_


def both(X, **kw):
    ours = quiet(lambda: BayesianGaussianMixture(**kw).fit(X))
    sk = quiet(lambda: SkBGM(**{k: v for k, v in kw.items() if k != "n_threads"}).fit(X))
    return ours, sk


# ------------------------------------------------ agreement with sklearn
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_random_init_follows_sklearn(covariance_type, prior_type):
    """init_params='random' draws the same responsibilities in both, so
    the runs start identically; 40 iterations without stopping."""
    X = make_blobs()
    ours, sk = both(X, n_components=5, covariance_type=covariance_type,
                    weight_concentration_prior_type=prior_type, init_params="random",
                    random_state=3, max_iter=40, tol=0)
    assert_same_fit(ours, sk)
    Y = make_blobs(seed=5)
    assert rel_diff(ours.score_samples(Y), sk.score_samples(Y)) < RTOL
    assert rel_diff(ours.predict_proba(Y), sk.predict_proba(Y)) < 1e-7
    assert np.array_equal(ours.predict(Y), sk.predict(Y))
    assert abs(ours.score(Y) - sk.score(Y)) < RTOL * abs(sk.score(Y))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_given_priors_follow_sklearn(covariance_type, prior_type):
    X = make_blobs(d=2, seed=1)
    cov_prior = {"full": np.array([[2.0, 0.3], [0.3, 1.0]]),
                 "tied": np.array([[1.5, -0.2], [-0.2, 0.7]]),
                 "diag": np.array([0.5, 3.0]), "spherical": 0.8}[covariance_type]
    ours, sk = both(X, n_components=4, covariance_type=covariance_type,
                    weight_concentration_prior_type=prior_type,
                    weight_concentration_prior=2.5, mean_precision_prior=0.1,
                    mean_prior=np.array([1.0, -2.0]), degrees_of_freedom_prior=3.5,
                    covariance_prior=cov_prior, init_params="random", random_state=0,
                    max_iter=25, tol=0, reg_covar=1e-4)
    assert_same_fit(ours, sk)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_row_inits_follow_sklearn(covariance_type, init_params):
    """k-means++ and random_from_data pick the same rows with the same
    random draws (for 'tied' the start differs by design, see Notes)."""
    X = make_blobs(seed=2)
    ours, sk = both(X, n_components=4, covariance_type=covariance_type,
                    init_params=init_params, random_state=7, max_iter=30, tol=0)
    assert_same_fit(ours, sk)


def transplant(sk, **kw):
    """A gmscore model holding scikit-learn's fitted state, set to
    continue from it (warm start)."""
    ours = BayesianGaussianMixture(**kw)
    for name in ("weight_concentration_", "mean_precision_", "means_", "degrees_of_freedom_",
                 "covariances_", "precisions_cholesky_", "weights_", "precisions_",
                 "converged_", "lower_bound_", "n_features_in_"):
        value = getattr(sk, name)
        setattr(ours, name, value if np.ndim(value) or isinstance(value, tuple)
                else float(np.ravel(value)[0]) if name == "lower_bound_" else value)
    return ours


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_continues_sklearn_kmeans_start(covariance_type, prior_type):
    """From scikit-learn's own k-means initialisation (its max_iter=0
    fit) both continue by warm start: the same iterations."""
    X = make_blobs(seed=4)
    kw = dict(n_components=4, covariance_type=covariance_type,
              weight_concentration_prior_type=prior_type, random_state=0, tol=0)
    sk = quiet(lambda: SkBGM(max_iter=0, **kw).fit(X))
    ours = transplant(sk, max_iter=15, warm_start=True, **kw)
    sk.set_params(max_iter=15, warm_start=True)
    quiet(lambda: sk.fit(X))
    quiet(lambda: ours.fit(X))
    assert_same_fit(ours, sk)


def test_converges_like_sklearn():
    """The default tol: both stop at the same iteration."""
    X = make_blobs(seed=6)
    ours, sk = both(X, n_components=6, init_params="random", random_state=2, max_iter=500)
    assert sk.converged_
    assert_same_fit(ours, sk)


def test_n_init_keeps_the_best_as_sklearn():
    X = make_blobs(seed=8)
    ours, sk = both(X, n_components=5, init_params="random", random_state=1, n_init=3,
                    max_iter=20, tol=0)
    assert_same_fit(ours, sk)
    assert len(ours.restart_histories_) == 3
    assert ours.lower_bounds_ in ours.restart_histories_
    assert ours.lower_bound_ == max(h[-1] for h in ours.restart_histories_)


def test_warm_start_continues_as_sklearn():
    X = make_blobs(seed=9)
    kw = dict(n_components=4, init_params="random", random_state=0, max_iter=5, tol=0,
              warm_start=True)
    ours, sk = BayesianGaussianMixture(**kw), SkBGM(**kw)
    for _ in range(3):
        quiet(lambda: ours.fit(X))
        quiet(lambda: sk.fit(X))
        assert_same_fit(ours, sk)


def test_max_iter_zero_is_the_initialisation():
    X = make_blobs()
    ours, sk = both(X, n_components=3, init_params="random", random_state=0, max_iter=0)
    assert ours.n_iter_ == sk.n_iter_ == 0 and ours.lower_bounds_ == []
    assert ours.lower_bound_ == -np.inf and not ours.converged_
    for name in ("means_", "covariances_", "degrees_of_freedom_"):
        assert rel_diff(getattr(ours, name), getattr(sk, name)) < RTOL


# --------------------------------------------------------- behaviour
def test_float32_follows_sklearn_and_its_dtypes():
    X = make_blobs(dtype=np.float32)
    for ct in COV_TYPES:
        ours, sk = both(X, n_components=3, covariance_type=ct, init_params="random",
                        random_state=0, max_iter=10, tol=0)
        for name in FITTED:
            assert np.asarray(getattr(ours, name)).dtype == np.asarray(getattr(sk, name)).dtype
        # both compute densities in float32: agreement to float32's digits
        assert rel_diff(ours.lower_bounds_, [float(np.ravel(v)[0]) for v in sk.lower_bounds_]) \
            < 1e-4
        assert rel_diff(ours.means_, sk.means_) < 1e-3
        assert ours.score_samples(X).dtype == sk.score_samples(X).dtype


def test_integer_weights_are_repeated_rows():
    """Weighted fit == fit of repeated rows (scikit-learn on the repeated
    rows, both from the same start)."""
    X = make_blobs(n_per=60, seed=10)
    w = np.random.RandomState(0).randint(0, 4, size=X.shape[0])
    Xr = np.repeat(X, w, axis=0)
    kw = dict(n_components=3, random_state=0, tol=0)
    sk = quiet(lambda: SkBGM(max_iter=0, **kw).fit(Xr))
    ours = transplant(sk, max_iter=12, warm_start=True, **kw)
    sk.set_params(max_iter=12, warm_start=True)
    quiet(lambda: sk.fit(Xr))
    quiet(lambda: ours.fit(X, sample_weight=w.astype(float)))
    assert_same_fit(ours, sk, rtol=1e-7)


def test_threads_give_identical_bits():
    X = make_blobs(n_per=2000, d=4, seed=11)
    fits = [BayesianGaussianMixture(n_components=5, random_state=0, max_iter=8, tol=0,
                                    n_threads=t) for t in (1, 2)]
    for f in fits:
        quiet(lambda: f.fit(X))
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_
    assert np.array_equal(fits[0].precisions_cholesky_, fits[1].precisions_cholesky_)


def test_fit_predict_is_fit_then_predict():
    X = make_blobs(seed=12)
    a = BayesianGaussianMixture(n_components=4, random_state=0, max_iter=5)
    b = BayesianGaussianMixture(n_components=4, random_state=0, max_iter=5)
    labels = quiet(lambda: a.fit_predict(X))
    assert np.array_equal(labels, quiet(lambda: b.fit(X)).predict(X))


def test_dirichlet_process_switches_components_off():
    X = make_blobs(n_per=200, seed=13)
    bgm = quiet(lambda: BayesianGaussianMixture(n_components=10, random_state=0,
                                                max_iter=300).fit(X))
    assert int((bgm.weights_ > 0.05).sum()) == 3
    assert abs(bgm.weights_.sum() - 1.0) < 1e-12


def test_no_n_by_k_array_in_fit():
    """The E-step is the fused kernel: the fit's Python-side peak stays far
    below one n_samples x n_components float64 array."""
    X = make_blobs(n_per=15000, d=2, seed=14)
    k = 40
    nk_bytes = X.shape[0] * k * 8
    model = BayesianGaussianMixture(n_components=k, covariance_type="diag",
                                    init_params="k-means++", random_state=0, max_iter=3,
                                    tol=0)
    quiet(lambda: model.fit(X[:500]))       # warm imports and caches
    tracemalloc.start()
    try:
        quiet(lambda: model.fit(X))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < nk_bytes / 4


def test_verbose_prints_like_sklearn(capsys):
    X = make_blobs()
    quiet(lambda: BayesianGaussianMixture(n_components=2, verbose=2, verbose_interval=1,
                                          max_iter=3, tol=0, random_state=0).fit(X))
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 3" in out and "lower bound" in out


def test_no_bic_aic_as_sklearn():
    bgm = quiet(lambda: BayesianGaussianMixture(n_components=2, random_state=0).fit(
        make_blobs()))
    assert not hasattr(bgm, "bic") and not hasattr(bgm, "aic")
    assert not hasattr(SkBGM(), "bic")


def test_sample_draws_from_the_fitted_components():
    X = make_blobs(seed=15)
    bgm = quiet(lambda: BayesianGaussianMixture(n_components=3, random_state=0,
                                                max_iter=200).fit(X))
    Xs, ys = bgm.sample(20000)
    assert Xs.shape == (20000, 3) and ys.shape == (20000,)
    for k in np.unique(ys):
        assert np.allclose(Xs[ys == k].mean(axis=0), bgm.means_[k],
                           atol=6 * np.sqrt(bgm.covariances_[k].diagonal().max()
                                            / (ys == k).sum()))


# ------------------------------------------------------------ bad input
def _fitted_model():
    return quiet(lambda: BayesianGaussianMixture(n_components=3, random_state=0,
                                                 max_iter=20).fit(make_blobs()))


def _state(model):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()}


def _assert_unchanged(model, before):
    after = vars(model)
    assert set(after) == set(before)
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            assert np.array_equal(after[k], v, equal_nan=v.dtype.kind == "f"), k
        elif isinstance(v, tuple):
            assert all(np.array_equal(a, b) for a, b in zip(after[k], v)), k
        else:
            assert after[k] == v or (after[k] is v), k


PRIOR_DOMAIN = [
    (dict(weight_concentration_prior=0.0), "weight_concentration_prior"),
    (dict(weight_concentration_prior=-1), "weight_concentration_prior"),
    (dict(mean_precision_prior=0), "mean_precision_prior"),
    (dict(mean_precision_prior=np.nan), "mean_precision_prior"),
    (dict(degrees_of_freedom_prior=2.0),
     "degrees_of_freedom_prior' should be greater than 2"),
    (dict(degrees_of_freedom_prior=-3.0), "degrees_of_freedom_prior"),
    (dict(mean_prior=[0.0, 1.0]), r"should have the shape of \(3,\)"),
    (dict(mean_prior=[0.0, np.inf, 1.0]), "mean_prior contains NaN or infinity"),
    (dict(mean_prior=["a", "b", "c"]), "mean_prior must contain only numbers"),
    (dict(covariance_prior=-1.0), "covariance_prior"),
    (dict(covariance_prior=np.eye(2)),
     r"full covariance_prior' should have the shape of \(3, 3\)"),
    (dict(covariance_prior=-np.eye(3)), "symmetric, positive-definite"),
    (dict(covariance_prior=np.eye(3) + np.triu(np.ones((3, 3)), 1)),
     "symmetric, positive-definite"),
    (dict(covariance_prior=np.full((3, 3), np.nan)), "contains NaN or infinity"),
    (dict(covariance_type="tied", covariance_prior=np.zeros((3, 3))),
     "symmetric, positive-definite"),
    (dict(covariance_type="diag", covariance_prior=[1.0, 0.0, 2.0]), "should be positive"),
    (dict(covariance_type="diag", covariance_prior=2.0), r"shape of \(3,\)"),
    (dict(covariance_type="spherical", covariance_prior=[1.0, 2.0]), "one variance"),
    (dict(covariance_type="spherical", covariance_prior=0.0), "covariance_prior"),
    (dict(weight_concentration_prior_type="dirichlet"), "weight_concentration_prior_type"),
    (dict(covariance_type="fulll"), "covariance_type"),
    (dict(init_params="kmeans++"), "init_params"),
    (dict(n_components=0), "n_components"),
    (dict(tol=-1.0), "tol"),
    (dict(reg_covar=-1e-6), "reg_covar"),
    (dict(max_iter=-1), "max_iter"),
    (dict(n_init=0), "n_init"),
    (dict(n_threads=0), "n_threads"),
]


@pytest.mark.parametrize("params, match", PRIOR_DOMAIN)
def test_bad_hyper_parameters_raise_and_leave_the_model(params, match):
    model = _fitted_model()
    model.set_params(**params)
    before = _state(model)
    with pytest.raises((ValueError, TypeError), match=match):
        quiet(lambda: model.fit(make_blobs(seed=1)))
    _assert_unchanged(model, before)


BAD_DATA = [
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), {},
     "Input X contains NaN"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X), {},
     "Input X contains infinity"),
    (lambda X: X[:1], {}, "minimum of 2 is required"),
    (lambda X: X[:2], {}, "Expected n_samples >= n_components"),
    (lambda X: X[:, 0], {}, "2D array"),
    (lambda X: X.astype(complex), {}, "[Cc]omplex"),
    (lambda X: X, {"sample_weight": -np.ones(450)}, "non-negative"),
    (lambda X: X, {"sample_weight": np.ones(3)}, "pass one weight per sample"),
    (lambda X: X, {"sample_weight": np.zeros(450)}, "sums to zero"),
    (lambda X: X, {"sample_weight": np.full(450, 1e-3)}, "total sample weight above 1"),
    (lambda X: X * 1e200, {}, "reg_covar|scale the input"),
    (lambda X: X[:, :2], {}, "X has 2 features, but BayesianGaussianMixture is expecting 3"),
]


@pytest.mark.parametrize("make, kw, match", BAD_DATA)
def test_bad_data_raises_and_leaves_the_model(make, kw, match):
    model = _fitted_model()
    model.set_params(warm_start="X has 2" in match)
    before = _state(model)
    with pytest.raises((ValueError, TypeError), match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore")     # overflow warnings of X * 1e200
        model.fit(make(make_blobs(seed=1)), **kw)
    _assert_unchanged(model, before)


def test_predict_side_errors():
    model = _fitted_model()
    with pytest.raises(ValueError, match="X has 4 features, but BayesianGaussianMixture"):
        model.predict(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        model.score_samples(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="at least one sample"):
        model.sample(0)
    with pytest.raises(Exception, match="not fitted"):
        BayesianGaussianMixture().predict(np.zeros((3, 3)))


def test_warm_start_refuses_a_changed_prior_type():
    model = _fitted_model()
    model.set_params(warm_start=True, weight_concentration_prior_type="dirichlet_distribution")
    before = _state(model)
    with pytest.raises(ValueError, match="weight_concentration_prior_type changed"):
        model.fit(make_blobs())
    _assert_unchanged(model, before)


def test_predictions_follow_hand_set_parameters():
    """The prepared model is remade when a variational parameter changes."""
    model = _fitted_model()
    X = make_blobs(seed=3)
    first = model.score_samples(X)
    model.degrees_of_freedom_ = model.degrees_of_freedom_ * 2.0
    second = model.score_samples(X)
    assert not np.allclose(first, second)
    fresh = transplant(model, n_components=3)
    assert np.array_equal(second, fresh.score_samples(X))


# ---------------------------------------------------------- persistence
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_save_load_round_trip(tmp_path, covariance_type, prior_type):
    import gmscore

    for dtype in (np.float64, np.float32):
        X = make_blobs(dtype=dtype)
        model = quiet(lambda: BayesianGaussianMixture(
            n_components=3, covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type, random_state=0,
            max_iter=10).fit(X))
        path = tmp_path / f"bgm-{dtype.__name__}.gms"
        model.save(path)
        loaded = gmscore.load(path)
        assert type(loaded) is BayesianGaussianMixture
        assert loaded.get_params().keys() == model.get_params().keys()
        for name in ("lower_bounds_", "n_iter_", "converged_") + FITTED:
            assert np.array_equal(np.asarray(getattr(loaded, name)),
                                  np.asarray(getattr(model, name))), name
            assert np.asarray(getattr(loaded, name)).dtype == \
                np.asarray(getattr(model, name)).dtype, name
        assert type(loaded.weight_concentration_) is type(model.weight_concentration_)
        assert np.array_equal(loaded.score_samples(X), model.score_samples(X))
        assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_save_load_with_negatively_correlated_prior(tmp_path, covariance_type):
    """A full / tied covariance prior may have negative off-diagonal
    entries (negatively correlated features); only a matrix that is not
    symmetric positive definite is refused."""
    import gmscore

    rng = np.random.RandomState(4)
    a = rng.randn(300)
    X = np.column_stack([a, -a + 0.3 * rng.randn(300), rng.randn(300)])
    model = quiet(lambda: BayesianGaussianMixture(
        n_components=2, covariance_type=covariance_type, random_state=0, max_iter=5).fit(X))
    assert (model.covariance_prior_ < 0).any()
    model.save(tmp_path / "neg.gms")
    loaded = gmscore.load(tmp_path / "neg.gms")
    assert np.array_equal(loaded.covariance_prior_, model.covariance_prior_)
    assert np.array_equal(loaded.score_samples(X), model.score_samples(X))
    for bad in (model.covariance_prior_ + np.triu(np.ones((3, 3)), 1),     # not symmetric
                -model.covariance_prior_):                                   # not definite
        broken = quiet(lambda: BayesianGaussianMixture(
            n_components=2, covariance_type=covariance_type, random_state=0,
            max_iter=5).fit(X))
        broken.covariance_prior_ = bad
        with pytest.raises(ValueError, match="symmetric positive definite"):
            broken.save(tmp_path / "bad.gms")
        assert not (tmp_path / "bad.gms").exists()


def test_save_refuses_values_outside_the_domains(tmp_path):
    model = _fitted_model()
    model.degrees_of_freedom_ = np.full(3, 1.0)     # must exceed n_features - 1 = 2
    with pytest.raises(ValueError, match="degrees_of_freedom_ must be greater than 2"):
        model.save(tmp_path / "bad.gms")
    model = _fitted_model()
    model.weight_concentration_ = (model.weight_concentration_[0],
                                   -model.weight_concentration_[1])
    with pytest.raises(ValueError, match="weight_concentration_ must be greater than 0"):
        model.save(tmp_path / "bad.gms")
    assert not (tmp_path / "bad.gms").exists()


# ------------------------------------------------ out of core and Dask
BLOCK = 256      # the kernels' block (gmscore._core.sources.BLOCK_ROWS)


def _bgm_params(model):
    conc = model.weight_concentration_
    conc = np.concatenate(conc) if isinstance(conc, tuple) else conc
    return (conc, model.weights_, model.means_, model.covariances_, model.precisions_cholesky_,
            model.mean_precision_, model.degrees_of_freedom_, model.mean_prior_,
            model.covariance_prior_, np.array(model.lower_bounds_), np.array([model.n_iter_]))


def _chunks(X, sizes, w=None):
    cuts, at, i = [0], 0, 0
    while at < len(X):
        at = min(len(X), at + sizes[i % len(sizes)])
        cuts.append(at)
        i += 1
    if w is None:
        return lambda: (X[a:b] for a, b in zip(cuts, cuts[1:]))
    return lambda: ((X[a:b], w[a:b]) for a, b in zip(cuts, cuts[1:]))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("kind", ["memmap", "callable"])
def test_chunked_fit_is_bitwise_in_memory(covariance_type, kind, tmp_path, monkeypatch):
    from gmscore._core import sources

    monkeypatch.setattr(sources, "CHUNK_BYTES", 2 * BLOCK * 3 * 8)   # many chunks
    X = make_blobs(n_per=1000)
    kw = dict(n_components=4, covariance_type=covariance_type, max_iter=8, tol=0,
              random_state=0, n_threads=2)
    ref = quiet(lambda: BayesianGaussianMixture(**kw).fit(X))
    if kind == "memmap":
        path = tmp_path / "X.dat"
        mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
        mm[:] = X
        mm.flush()
        src = np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)
    else:
        src = _chunks(X, [BLOCK, 3 * BLOCK, 2 * BLOCK])
    got = quiet(lambda: BayesianGaussianMixture(**kw).fit(src))
    for a, b in zip(_bgm_params(got), _bgm_params(ref)):
        assert np.array_equal(a, b)
    assert np.array_equal(got.score_samples(src), ref.score_samples(X))
    assert np.array_equal(got.predict_proba(src), ref.predict_proba(X))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_unaligned_weighted_chunks_agree_to_rounding(covariance_type):
    X = make_blobs(n_per=700, seed=1)
    w = np.random.RandomState(2).uniform(0.2, 2.0, len(X))
    kw = dict(n_components=3, covariance_type=covariance_type, max_iter=6, tol=0,
              random_state=0, weight_concentration_prior_type="dirichlet_distribution")
    ref = quiet(lambda: BayesianGaussianMixture(**kw).fit(X, sample_weight=w))
    got = quiet(lambda: BayesianGaussianMixture(**kw).fit(_chunks(X, [1000, 77, 300], w)))
    for a, b in zip(_bgm_params(got), _bgm_params(ref)):
        assert np.allclose(a, b, rtol=1e-11, atol=1e-11 * np.abs(b).max())


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)
        with distributed.Client(cluster) as c:
            yield c
        cluster.close()


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_dask_fit_equals_the_single_process_fit(dask_client, covariance_type):
    import dask.array as da

    X = make_blobs(n_per=3000, seed=2)
    w = np.random.RandomState(1).uniform(0.5, 1.5, len(X))
    kw = dict(n_components=3, covariance_type=covariance_type, max_iter=5, tol=0,
              random_state=0)
    ref = quiet(lambda: BayesianGaussianMixture(**kw).fit(X, sample_weight=w))
    dx = da.concatenate([da.from_array(X[:3000], chunks=1300),
                         da.from_array(X[3000:], chunks=2500)])
    got = quiet(lambda: BayesianGaussianMixture(**kw).fit(dx, sample_weight=w))
    for a, b in zip(_bgm_params(got), _bgm_params(ref)):
        assert np.array_equal(a, b)
    proba = got.predict_proba(dx)
    assert isinstance(proba, da.Array)
    assert np.array_equal(proba.compute(), ref.predict_proba(X))
    assert np.array_equal(got.predict(dx).compute(), ref.predict(X))


def test_accumulate_parts_then_maximize_is_one_iteration():
    X = make_blobs(seed=16)
    model = quiet(lambda: BayesianGaussianMixture(n_components=3, random_state=0,
                                                  max_iter=3, tol=0).fit(X))
    step = transplant(model, n_components=3, max_iter=1, tol=0, warm_start=True)
    quiet(lambda: step.fit(X))
    stats = model.accumulate(X[:200]) + model.accumulate(X[200:])
    model.maximize(stats)
    for name in ("means_", "covariances_", "precisions_cholesky_", "weights_",
                 "degrees_of_freedom_", "mean_precision_"):
        assert np.allclose(getattr(model, name), getattr(step, name), rtol=1e-12, atol=0), name
    with pytest.raises(Exception, match="not fitted"):
        BayesianGaussianMixture(n_components=3).maximize(stats)


def test_docstring_examples_run():
    import doctest

    import gmscore.bayesian_mixture as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
