"""GaussianMixtureOutlierDetector (scikit-learn's outlier-detector
conventions) and select_mixture (the grid, its criteria against direct
formulas, the shared k-means against independent fits)."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gmscore import GaussianMixture, GaussianMixtureOutlierDetector, select_mixture
from gmscore.selection import _split


def blobs(seed=0, n=600):
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(n, 2), rng.randn(n, 2) * 0.5 + [5, 5]])


def test_outlier_detector_conventions():
    X = blobs()
    det = GaussianMixtureOutlierDetector(2, contamination=0.05, random_state=0).fit(X)
    ref = GaussianMixture(2, random_state=0).fit(X)
    scores = ref.score_samples(X)
    assert det.offset_ == pytest.approx(np.quantile(scores, 0.05), rel=1e-12)
    assert_allclose(det.score_samples(X), scores, rtol=1e-13)
    assert_allclose(det.decision_function(X), scores - det.offset_, rtol=1e-13)
    labels = det.predict(X)
    assert set(np.unique(labels)) == {-1, 1}
    assert abs((labels == -1).mean() - 0.05) < 0.002
    far = np.array([[20.0, -20.0], [2.5, 2.5], [0.0, 0.0]])
    assert_array_equal(det.predict(far), [-1, -1, 1])
    assert_array_equal(det.fit_predict(X), labels)


def test_outlier_detector_weights_are_repeats():
    X = blobs(seed=1, n=200)
    w = np.random.RandomState(2).randint(1, 3, size=len(X)).astype(float)
    a = GaussianMixtureOutlierDetector(2, random_state=0, init_params="random_from_data")
    from gmscore.outliers import weighted_quantile
    rng = np.random.RandomState(3)
    for _ in range(100):
        v, q = rng.randn(9), rng.uniform(0.01, 0.5)
        reps = rng.randint(0, 4, size=9)
        reps[0] = 1
        assert weighted_quantile(v, q, reps.astype(float)) == pytest.approx(
            np.quantile(np.repeat(v, reps), q), rel=1e-12, abs=1e-12)
    a.fit(X, sample_weight=w)
    assert np.isfinite(a.offset_)


def _marginal_log_density(gm, X):
    """Each row's log-density under gm over its observed features, from
    scipy's multivariate normal on the sub-vectors (a direct reference)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    out = np.empty(len(X))
    for i, row in enumerate(X):   # a brute-force reference: rows one by one
        o = ~np.isnan(row)
        terms = [np.log(w) + multivariate_normal(m[o], c[np.ix_(o, o)]).logpdf(row[o])
                 for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_)]
        out[i] = logsumexp(terms)
    return out


def test_outlier_detector_marginalizes_missing_values():
    X = np.hstack([blobs(seed=4, n=300), np.random.RandomState(5).randn(600, 1)])
    rng = np.random.RandomState(6)
    X[rng.uniform(size=X.shape) < 0.1] = np.nan
    X[0] = [np.nan, 1.0, np.nan]
    det = GaussianMixtureOutlierDetector(2, contamination=0.1, random_state=0,
                                         nan_policy="marginalize").fit(X)
    ref = GaussianMixture(2, random_state=0, nan_policy="marginalize").fit(X)
    assert_allclose(det.mixture_.means_, ref.means_, rtol=1e-12)
    scores = _marginal_log_density(det.mixture_, X)
    assert_allclose(det.score_samples(X), scores, rtol=1e-10)
    assert det.offset_ == pytest.approx(np.quantile(scores, 0.1), rel=1e-10)
    labels = det.predict(X)
    assert abs((labels == -1).mean() - 0.1) < 0.01
    # a far-off value in an observed feature is an outlier whatever is missing
    assert_array_equal(det.predict(np.array([[30.0, np.nan, 0.0], [np.nan, 0.0, 0.0]])),
                       [-1, 1])


def test_outlier_detector_nan_is_an_error_by_default():
    X = blobs()
    det = GaussianMixtureOutlierDetector(2, random_state=0).fit(X)
    before = det.offset_, det.mixture_
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        det.fit(bad)
    assert (det.offset_, det.mixture_) == before
    with pytest.raises(ValueError, match="nan_policy"):
        GaussianMixtureOutlierDetector(2, nan_policy="drop").fit(X)


@pytest.mark.parametrize("bad", [0.0, 0.6, -0.1, "auto", True])
def test_outlier_detector_bad_contamination(bad):
    det = GaussianMixtureOutlierDetector(contamination=bad)
    with pytest.raises(ValueError, match="contamination"):
        det.fit(blobs())
    assert not hasattr(det, "mixture_")


def test_check_estimator_outlier_detector():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(GaussianMixtureOutlierDetector(), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) > 45


def test_selection_table_against_direct_formulas_and_independent_fits():
    rng = np.random.RandomState(4)
    X = np.vstack([rng.randn(400, 3), rng.randn(400, 3) * 0.6 + [4, 4, 0],
                   rng.randn(400, 3) + [0, 5, 5]])
    res = select_mixture(X, [1, 2, 3, 4], random_state=7)
    assert len(res.rows) == 16
    train, valid = _split(X, 0.2, np.random.RandomState(7))
    assert len(train) + len(valid) == len(X) and len(valid) == 240
    n = len(train)
    for row in res.rows:
        k, ct = row["n_components"], row["covariance_type"]
        gm = GaussianMixture(k, covariance_type=ct, random_state=7).fit(train)  # independent
        assert row["n_iter"] == gm.n_iter_
        assert row["bic"] == pytest.approx(gm.bic(train), rel=1e-9)
        assert row["aic"] == pytest.approx(gm.aic(train), rel=1e-9)
        r = gm.predict_proba(train)
        entropy = -np.sum(r[r > 0] * np.log(r[r > 0]))
        assert row["icl"] == pytest.approx(gm.bic(train) + 2 * entropy, rel=1e-9)
        assert row["held_out_log_likelihood"] == pytest.approx(gm.score(valid), rel=1e-9)
        log_lik = gm.score(train) * n
        p = k - 1 + k * 3 + {"full": k * 6, "tied": 6, "diag": k * 3, "spherical": k}[ct]
        assert row["bic"] == pytest.approx(-2 * log_lik + p * np.log(n), rel=1e-9)
    best = min(res.rows, key=lambda r: r["bic"])
    assert res.best_params_ == dict(n_components=best["n_components"],
                                    covariance_type=best["covariance_type"])
    assert res.best_params_["n_components"] == 3
    assert res.best_.n_features_in_ == 3 and res.best_.n_components == 3
    text = repr(res)
    assert "best by bic" in text and text.count("\n") == 17
    assert "<table>" in res._repr_html_()
    held = select_mixture(X, [2, 3], ["full"], criterion="held_out", random_state=7,
                          refit=False)
    assert held.best_params_["n_components"] == max(
        held.rows, key=lambda r: r["held_out_log_likelihood"])["n_components"]


def test_selection_progress_and_pandas(capsys):
    pd = pytest.importorskip("pandas")
    X = blobs(seed=5, n=200)
    res = select_mixture(X, 2, ["diag", "full"], validation_fraction=None, progress=True,
                         random_state=0)
    err = capsys.readouterr().err
    assert "[1/2]" in err and "[2/2]" in err
    df = res.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 2
    assert df["held_out_log_likelihood"].isna().all()


def test_selection_bad_input():
    X = blobs(seed=6, n=50)
    with pytest.raises(ValueError, match="n_components"):
        select_mixture(X, [0, 2])
    with pytest.raises(ValueError, match="covariance_types"):
        select_mixture(X, 2, ["fulll"])
    with pytest.raises(ValueError, match="criterion"):
        select_mixture(X, 2, criterion="likelihood")
    with pytest.raises(ValueError, match="validation_fraction"):
        select_mixture(X, 2, validation_fraction=1.5)
    with pytest.raises(ValueError, match="set by the grid"):
        select_mixture(X, 2, covariance_type="full")
    with pytest.raises(ValueError, match="needs a validation_fraction"):
        select_mixture(X, 2, criterion="held_out", validation_fraction=None)


@pytest.mark.parametrize("cls", ["GaussianHMM", "GMMHMM"])
def test_hmm_frame_anomaly_scores_are_prefix_score_differences(cls):
    """-log p(x_t | x_1..t-1) = -(score(x_1..t) - score(x_1..t-1)), by
    brute force on prefixes (hmmlearn's score on the same parameters)."""
    import gmscore

    hmmlearn = pytest.importorskip("hmmlearn.hmm")
    rng = np.random.RandomState(8)
    X = np.vstack([rng.randn(40, 2), rng.randn(30, 2) + 3])
    lengths = [40, 30]
    kw = dict(n_iter=4, random_state=0, covariance_type="full") | (
        {"n_mix": 2} if cls == "GMMHMM" else {})
    model = getattr(gmscore, cls)(3, **kw).fit(X, lengths)
    scores = model.anomaly_scores(X, lengths)
    assert scores.shape == (70,)
    ref = getattr(hmmlearn, cls)(3, init_params="", covariance_type="full",
                                 **({"n_mix": 2} if cls == "GMMHMM" else {}))
    for name in ("startprob_", "transmat_", "means_", "covars_") + (
            ("weights_",) if cls == "GMMHMM" else ()):
        setattr(ref, name, getattr(model, name))
    for start, n in ((0, 40), (40, 30)):
        seq = X[start:start + n]
        prefix = np.array([ref.score(seq[:t]) for t in range(1, n + 1)])
        expected = -np.diff(np.concatenate([[0.0], prefix]))
        assert_allclose(scores[start:start + n], expected, rtol=1e-9, atol=1e-9)
    spiked = X.copy()
    spiked[20] += 25.0
    s2 = model.anomaly_scores(spiked, lengths)
    assert s2[20] == s2.max() and s2[20] > scores[20] + 50
