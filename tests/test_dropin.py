"""Drop-in details a scikit-learn or hmmlearn user relies on (the 'Drop-in,
for real' issue); each test failed on the code before its fix."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.exceptions import NotFittedError as SkNotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import gmscore
from gmscore import GaussianMixture
from gmscore._core.covariance import COV_TYPES


# ------------------------------------------------------------ import
def test_import_gmscore_is_light():
    code = ("import sys, gmscore; heavy = [m for m in ('sklearn', 'scipy', 'gmscore._kernels') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/")
    assert out.stdout.strip() == "[]"
    assert set(gmscore.__all__) <= set(dir(gmscore))
    with pytest.raises(AttributeError):
        gmscore.NoSuchThing  # noqa: B018


def test_warnings_and_errors_are_also_sklearns():
    X = np.random.RandomState(0).randn(100, 2)
    with pytest.warns(SkConvergenceWarning) as record:
        GaussianMixture(2, max_iter=1).fit(X)
    assert issubclass(record[0].category, gmscore.ConvergenceWarning)
    with pytest.raises(SkNotFittedError):
        GaussianMixture().predict(X)


# ----------------------------------------------------------- float32
@pytest.mark.parametrize("ct", COV_TYPES)
def test_float32_fits_keep_float32_like_sklearn(ct):
    X = np.random.RandomState(1).randn(400, 3).astype(np.float32)
    ours = GaussianMixture(2, covariance_type=ct, random_state=0).fit(X)
    ref = SkGaussianMixture(2, covariance_type=ct, random_state=0).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(ours, name).dtype == getattr(ref, name).dtype == np.float32, name
    for method in ("predict_proba", "score_samples"):
        assert getattr(ours, method)(X).dtype == getattr(ref, method)(X).dtype
    assert ours.predict(X).dtype.kind == "i"


def test_float32_weights_init_normalised_in_float32():
    w = np.full(3, 1 / 3, dtype=np.float32)
    assert float(w.sum(dtype=np.float32)) == 1.0 and abs(float(w.astype(float).sum()) - 1) > 1e-8
    X = np.random.RandomState(2).randn(300, 2)
    SkGaussianMixture(3, weights_init=w).fit(X)
    gm = GaussianMixture(3, weights_init=w, random_state=0).fit(X)
    assert np.isfinite(gm.weights_).all()


@pytest.mark.parametrize("ct", ["spherical", "diag"])
def test_sklearn_issue_18216_start_fits(ct):
    """scikit-learn's regression test for its issue #18216: a start that
    diverges (two components on single points, reg_covar=0). scikit-learn
    fits (not converged, parameters set); so must gmscore. The variance of
    a one-point component is the values' resolution, not an error."""
    rng = np.random.RandomState(0)
    X = rng.rand(30, 3)
    k = 6
    means = X[rng.choice(30, k, replace=False)]
    prec = np.ones(k)
    prec[:2] = 1e6
    if ct == "diag":
        prec = np.repeat(prec[:, None], 3, axis=1)
    kw = dict(n_components=k, covariance_type=ct, reg_covar=0, max_iter=1,
              weights_init=np.full(k, 1 / k), means_init=means, precisions_init=prec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkGaussianMixture(**kw).fit(X)
        ours = GaussianMixture(**kw).fit(X)
    assert not ours.converged_ and not ref.converged_
    assert_allclose(ours.means_, ref.means_, rtol=1e-12, atol=1e-12)
    assert (ours.covariances_ > 0).all() and np.isfinite(ours.precisions_).all()
    # the collapsed components' variance is at the resolution of their values
    assert (np.ravel(ours.covariances_)[:2 if ct == "spherical" else 6]
            <= 4 * np.finfo(float).eps * np.max(means**2)).all()


# ------------------------------------------------------------- hmmlearn
from hmmlearn import hmm as hl  # noqa: E402
from gmscore import GMMHMM, ConvergenceMonitor, GaussianHMM  # noqa: E402


def _hmm_data(seed=0):
    rng = np.random.RandomState(seed)
    X = np.concatenate([rng.randn(60, 2), rng.randn(60, 2) + 5])
    return X, [60, 60]


def test_monitor_exists_from_construction_and_is_honoured():
    X, lengths = _hmm_data()
    for cls in (GaussianHMM, hl.GaussianHMM):
        model = cls(2, n_iter=50, tol=1e-2)
        assert model.monitor_.tol == 1e-2 and not model.monitor_.history
    # a hand-set tol on the monitor is what fit uses, as in hmmlearn
    ours, ref = GaussianHMM(2, n_iter=50, random_state=0), hl.GaussianHMM(2, n_iter=50)
    ours.monitor_.tol = ref.monitor_.tol = 1e3
    ours.fit(X, lengths)
    assert ours.monitor_.iter == 2 and ours.monitor_.converged

    class StopAtThree(ConvergenceMonitor):   # hmmlearn's documented extension
        @property
        def converged(self):
            return self.iter >= 3

    model = GaussianHMM(2, n_iter=50, tol=-np.inf, random_state=0)
    model.monitor_ = StopAtThree(model.tol, model.n_iter, model.verbose)
    model.fit(X, lengths)
    assert type(model.monitor_) is StopAtThree and model.monitor_.iter == 3
    # set_params keeps the monitor in step
    model = GaussianHMM(2).set_params(tol=0.5, n_iter=4)
    assert (model.monitor_.tol, model.monitor_.n_iter) == (0.5, 4)
    # scikit-learn's rules still hold: nothing set in __init__, unfitted
    assert "monitor_" not in vars(GaussianHMM(2))
    from sklearn.utils.validation import check_is_fitted

    with pytest.raises(SkNotFittedError):
        check_is_fitted(GaussianHMM(2))


def test_converged_has_hmmlearns_meaning_and_any_tol_is_accepted():
    X, lengths = _hmm_data(1)
    ours = GaussianHMM(2, n_iter=3, tol=1e-12, random_state=0).fit(X, lengths)
    ref = hl.GaussianHMM(2, n_iter=3, tol=1e-12, random_state=0).fit(X, lengths)
    assert ours.monitor_.converged == ref.monitor_.converged is True   # n_iter reached
    assert not ours.monitor_.converged_by_tol
    for tol in (-np.inf, -1.0, 0.0):
        assert GaussianHMM(2, n_iter=4, tol=tol, random_state=0).fit(X, lengths).monitor_.iter == 4


def test_overwrite_and_degenerate_notices_are_logged(caplog):
    X, lengths = _hmm_data(2)
    model = GaussianHMM(2, n_iter=2, random_state=0)
    model.startprob_ = np.array([0.5, 0.5])
    with caplog.at_level("WARNING"):
        model.fit(X, lengths)
    assert any("'startprob_' attribute is set, it will be overwritten" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING"):
        GaussianHMM(3, covariance_type="full", n_iter=1, random_state=0).fit(X[:10])
    assert any("degenerate solution" in r.getMessage() for r in caplog.records)


def test_bad_covariance_type_set_later_and_covariance_shapes():
    X, lengths = _hmm_data(3)
    model = GaussianHMM(2, random_state=0).fit(X, lengths)
    model.covariance_type = "bad_covariance_type"
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        model.score(X)
    model = GaussianHMM(2, covariance_type="diag", init_params="")
    model.startprob_, model.transmat_ = np.full(2, 0.5), np.full((2, 2), 0.5)
    model.means_ = np.zeros((2, 2))
    model.covars_ = np.array([[2.0], [3.0]])     # hmmlearn accepts one variance per state
    full = GaussianHMM(2, covariance_type="diag", init_params="")
    full.startprob_, full.transmat_, full.means_ = model.startprob_, model.transmat_, model.means_
    full.covars_ = np.array([[2.0, 2.0], [3.0, 3.0]])
    # broadcast over the features (hmmlearn's own density then counts the
    # normaliser of one feature only; ours is the density of these variances)
    assert model.score(X) == full.score(X)


def test_scoring_does_not_mutate_the_model():
    X, lengths = _hmm_data(4)
    model = GaussianHMM(2, init_params="")
    model.startprob_ = [0.5, 0.5]                        # a list, as a user may set it
    model.transmat_ = np.asfortranarray([[0.9, 0.1], [0.2, 0.8]])
    model.means_ = np.array([[0.0, 0.0], [5.0, 5.0]], dtype=np.float32)
    model.covars_ = np.ones((2, 2))
    before = {k: v for k, v in vars(model).items()}
    model.score(X, lengths)
    model.decode(X, lengths)
    model.predict_proba(X, lengths)
    model.sample(5, random_state=0)
    assert vars(model).keys() == before.keys()
    for k, v in before.items():
        assert vars(model)[k] is v, k


def test_hmmlearn_hooks_with_hmmlearns_signatures():
    X, lengths = _hmm_data(5)
    for cls in (GaussianHMM, GMMHMM):
        model = cls(2, random_state=0)
        model._init(X, lengths)      # hmmlearn: initialise from X
        model._check()
        assert model.means_.shape[0] == 2 and model.transmat_.shape == (2, 2)
        assert set(model._get_n_fit_scalars_per_param()) >= {"s", "t", "m", "c"}


def test_help_shows_the_hmm_parameters():
    for cls in (GaussianHMM, GMMHMM):
        assert cls.__doc__ and "n_components" in cls.__doc__ and "n_init" in cls.__doc__


# ------------------------------------------------------ feature names
pd = pytest.importorskip("pandas")


@pytest.mark.parametrize("make", [
    lambda: GaussianMixture(3, random_state=0),
    lambda: GaussianHMM(3, random_state=0),
    lambda: GMMHMM(2, n_mix=2, random_state=0)])
def test_feature_names_follow_sklearn(make):
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame.drop(columns="target")
    model = make().fit(iris)
    assert list(model.feature_names_in_) == list(iris.columns)
    reordered = iris[iris.columns[::-1]]
    with pytest.raises(ValueError, match="same order"):
        model.predict(reordered)
    renamed = iris.rename(columns={iris.columns[0]: "other"})
    with pytest.raises(ValueError, match="unseen at fit time:\n- other"):
        model.score(renamed)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(iris.to_numpy())
    unnamed = make().fit(iris.to_numpy())
    assert not hasattr(unnamed, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        unnamed.predict(iris)
    # a refit without names forgets them
    model.fit(iris.to_numpy())
    assert not hasattr(model, "feature_names_in_")
    with pytest.raises(TypeError, match="string names"):
        make().fit(pd.DataFrame(iris.to_numpy(), columns=["a", 1, "b", 2]))


def test_feature_names_survive_save_and_load(tmp_path):
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame.drop(columns="target")
    for model in (GaussianMixture(2, random_state=0), GaussianHMM(2, random_state=0)):
        model.fit(iris)
        model.save(tmp_path / "m.gmscore")
        loaded = gmscore.load(tmp_path / "m.gmscore")
        assert loaded.feature_names_in_.dtype == object
        assert list(loaded.feature_names_in_) == list(iris.columns)
        with pytest.raises(ValueError, match="same order"):
            loaded.predict(iris[iris.columns[::-1]])
