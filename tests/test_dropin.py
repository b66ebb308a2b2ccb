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
