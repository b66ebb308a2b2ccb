"""The prediction paths: GaussianMixture predict / predict_proba /
score_samples / score on one row, a few rows and many rows against direct
scipy formulas and scikit-learn from the same parameters, for every
covariance type and dtype; the prepared model's cache (invalidated by
assignment, in-place writes, set_params, refit and load; never pickled or
saved); thread-count invariance; errors. HMM decode / score_samples /
predict_proba against brute-force numpy recursions and hmmlearn."""
import io
import pickle
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import gmscore
from gmscore import GaussianMixture, GaussianHMM, GMMHMM

COV_TYPES = ["full", "tied", "diag", "spherical"]
ROWS = [1, 3, 1000]   # one row, a few, several 256-row blocks


def blobs(n, d, seed=0, dtype=np.float64):
    # the same clusters for every seed: test rows come from the fitted ones
    shape = np.random.RandomState(100 + d)
    centres, mix = 4 * shape.randn(3, d), 0.3 * shape.randn(d, d) + np.eye(d)
    rng = np.random.RandomState(seed)
    X = centres[rng.randint(3, size=n)] + rng.randn(n, d) @ mix
    return X.astype(dtype)


def fitted(covariance_type, d=4, k=3, seed=0, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(k, covariance_type=covariance_type, max_iter=5,
                               random_state=seed, **kw).fit(blobs(2000, d, seed))


def full_covariances(gm):
    k, d = gm.means_.shape
    cov = np.asarray(gm.covariances_, dtype=np.float64)
    if gm.covariance_type == "full":
        return cov
    if gm.covariance_type == "tied":
        return np.repeat(cov[None], k, axis=0)
    if gm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(d)[None]


def reference(gm, X):
    """(score_samples, predict_proba, predict) from scipy's logpdf."""
    X = np.asarray(X, dtype=np.float64)
    cov = full_covariances(gm)
    wlp = np.column_stack([
        np.log(gm.weights_[c]) + stats.multivariate_normal(gm.means_[c], cov[c]).logpdf(X)
        for c in range(gm.n_components)]).reshape(len(X), -1)
    lse = logsumexp(wlp, axis=1)
    return lse, np.exp(wlp - lse[:, None]), wlp.argmax(axis=1)


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# ------------------------------------------------------------ GMM values
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [3, 20])   # 20 > 16: the banded GEMM path for full
def test_gmm_methods_match_scipy(covariance_type, rows, dtype, d):
    gm = fitted(covariance_type, d=d)
    X = blobs(rows, d, seed=5).astype(dtype)
    lse, proba, labels = reference(gm, X)
    # scipy factorises covariances_, the model predicts from
    # precisions_cholesky_: they differ by cond(covariance) x eps
    tol = 1e-10 if dtype == np.float64 else 1e-4   # float32: products in float32
    assert rel(gm.score_samples(X), lse) < tol
    assert np.max(np.abs(gm.predict_proba(X) - proba)) < (1e-10 if dtype == np.float64 else 1e-3)
    if dtype == np.float64:
        np.testing.assert_array_equal(gm.predict(X), labels)
    else:   # float32 rounding may swap near-ties only
        assert np.mean(gm.predict(X) == labels) > 0.99
    assert abs(gm.score(X) - lse.mean()) <= tol * abs(lse.mean())
    n = rows
    p = gm._n_parameters()
    assert abs(gm.bic(X) - (-2 * lse.sum() + p * np.log(n))) <= tol * abs(2 * lse.sum())


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("rows", ROWS)
def test_gmm_methods_match_sklearn(covariance_type, rows):
    sk_mixture = pytest.importorskip("sklearn.mixture")
    gm = fitted(covariance_type)
    sk = sk_mixture.GaussianMixture(gm.n_components, covariance_type=covariance_type)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        setattr(sk, name, np.array(getattr(gm, name)))
    X = blobs(rows, 4, seed=7)
    assert rel(gm.score_samples(X), sk.score_samples(X)) < 1e-12
    assert np.max(np.abs(gm.predict_proba(X) - sk.predict_proba(X))) < 1e-12
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))
    assert abs(gm.score(X) - sk.score(X)) < 1e-12 * abs(sk.score(X))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_output_dtypes_and_shapes(covariance_type):
    gm = fitted(covariance_type)
    X = blobs(5, 4, seed=1)
    assert gm.score_samples(X).dtype == np.float64
    assert gm.predict_proba(X).shape == (5, 3)
    assert gm.predict(X).dtype == np.int64
    assert gm.predict_proba(X.astype(np.float32)).dtype == np.float64   # float64 model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g32 = GaussianMixture(3, covariance_type=covariance_type, max_iter=3,
                              random_state=0).fit(blobs(500, 4).astype(np.float32))
    X32 = X.astype(np.float32)
    assert g32.predict_proba(X32).dtype == np.float32
    assert g32.score_samples(X32).dtype == np.float32
    assert g32.score_samples(X).dtype == np.float64


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_one_row_has_the_bits_of_the_batch(covariance_type):
    # each row's sums run in the same order alone or in a batch (full up to
    # 16 features and diag/spherical compute row by row, without a GEMM)
    gm = fitted(covariance_type, d=6)
    X = blobs(300, 6, seed=2)
    batch = gm.score_samples(X)
    proba = gm.predict_proba(X)
    for i in (0, 1, 2, 3, 4, 31, 32, 33, 299):
        np.testing.assert_array_equal(gm.score_samples(X[i:i + 1]), batch[i:i + 1])
        np.testing.assert_array_equal(gm.predict_proba(X[i:i + 1]), proba[i:i + 1])
    for lo, hi in ((0, 3), (5, 9), (250, 300)):
        np.testing.assert_array_equal(gm.score_samples(X[lo:hi]), batch[lo:hi])


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_direct_path_equals_data_layer_path(covariance_type):
    # a non-contiguous view, a list and a memmap-like go through the data
    # layer; an in-memory C array takes the direct path: the same bits
    gm = fitted(covariance_type)
    X = blobs(700, 4, seed=3)
    wide = np.asfortranarray(X)
    for method in ("score_samples", "predict_proba", "predict"):
        direct = getattr(gm, method)(X)
        np.testing.assert_array_equal(getattr(gm, method)(wide), direct)
        np.testing.assert_array_equal(getattr(gm, method)(X.tolist()), direct)
        np.testing.assert_array_equal(getattr(gm, method)(lambda: iter([X[:300], X[300:]])),
                                      direct)
    assert gm.score(X) == gm.score(wide)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_thread_count_invariance(covariance_type):
    X = blobs(5000, 20, seed=4)
    one = fitted(covariance_type, d=20, n_threads=1)
    two = fitted(covariance_type, d=20, n_threads=2)
    for method in ("score_samples", "predict_proba", "predict"):
        np.testing.assert_array_equal(getattr(one, method)(X), getattr(two, method)(X))


# ------------------------------------------------------------ the cache
def answers(gm, X):
    return gm.score_samples(X), gm.predict_proba(X), gm.predict(X)


def assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def fresh_like(gm):
    """A model built from gm's current parameters (no cache history)."""
    new = GaussianMixture(gm.n_components, covariance_type=gm.covariance_type)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
                 "n_features_in_"):
        setattr(new, name, np.array(getattr(gm, name)) if name != "n_features_in_"
                else gm.n_features_in_)
    return new


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_cache_follows_assigned_and_mutated_parameters(covariance_type):
    gm = fitted(covariance_type)
    X = blobs(50, 4, seed=9)
    before = answers(gm, X)
    # a new means_ array
    gm.means_ = gm.means_ + 0.5
    moved = answers(gm, X)
    assert not np.array_equal(moved[0], before[0])
    assert_same(moved, answers(fresh_like(gm), X))
    # written into in place
    gm.means_[0] -= 3.0
    assert_same(answers(gm, X), answers(fresh_like(gm), X))
    gm.weights_[:] = np.array([0.2, 0.3, 0.5])
    assert_same(answers(gm, X), answers(fresh_like(gm), X))
    gm.precisions_cholesky_ *= 1.1
    assert_same(answers(gm, X), answers(fresh_like(gm), X))
    # and the reference formulas agree with what the model now holds
    d = gm.means_.shape[1]
    from gmscore._core.covariance import COVARIANCE
    gm.covariances_ = COVARIANCE[covariance_type].covariances_from_cholesky(
        gm.precisions_cholesky_)
    assert rel(gm.score_samples(X), reference(gm, X)[0]) < 1e-12
    assert d == 4


def test_cache_follows_set_params_refit_and_load(tmp_path):
    gm = fitted("full")
    X = blobs(40, 4, seed=10)
    first = answers(gm, X)
    # a hyper-parameter the parameters no longer fit: the error, as before
    gm.set_params(covariance_type="diag")
    with pytest.raises(ValueError, match="shapes"):
        gm.predict(X)
    gm.set_params(covariance_type="full")
    assert_same(answers(gm, X), first)
    # refit on other data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(blobs(2000, 4, seed=11) * 2.0)
    refit = answers(gm, X)
    assert not np.array_equal(refit[0], first[0])
    assert_same(refit, answers(fresh_like(gm), X))
    # save / load: same predictions, no cache in the file
    path = tmp_path / "model.gms"
    gm.save(path)
    loaded = gmscore.load(path)
    assert_same(answers(loaded, X), refit)
    assert "_prepared_cache" not in vars(loaded)


def test_cache_is_not_in_dict_pickle_or_snapshots():
    gm = fitted("tied")
    X = blobs(10, 4)
    before = dict(vars(gm))
    gm.predict_proba(X)
    assert vars(gm).keys() == before.keys()          # check_dict_unchanged
    assert gm._prepared_cache is not None
    state = gm.__getstate__()
    assert "_prepared_cache" not in state
    clone = pickle.loads(pickle.dumps(gm))
    assert getattr(clone, "_prepared_cache", None) is None
    assert_same(answers(clone, X), answers(gm, X))
    buf = io.BytesIO()
    gm.save(buf)
    assert b"_prepared_cache" not in buf.getvalue()


def test_hand_built_model_and_not_fitted():
    gm = GaussianMixture(2, covariance_type="diag")
    with pytest.raises(Exception, match="not fitted"):
        gm.predict(np.zeros((1, 2)))
    gm.weights_ = np.array([0.5, 0.5])
    gm.means_ = np.array([[0.0, 0.0], [3.0, 3.0]])
    gm.precisions_cholesky_ = np.ones((2, 2))
    gm.covariances_ = np.ones((2, 2))
    X = np.array([[0.1, 0.2], [2.9, 3.1], [1.5, 1.5]])
    lse, proba, labels = reference(gm, X)
    assert rel(gm.score_samples(X), lse) < 1e-12
    np.testing.assert_array_equal(gm.predict(X), labels)
    gm.means_[1] = [-3.0, -3.0]          # in place, no n_features_in_
    gm.covariances_ = np.ones((2, 2))
    assert rel(gm.score_samples(X), reference(gm, X)[0]) < 1e-12


# ------------------------------------------------------------ GMM errors
@pytest.mark.parametrize("rows", [1, 500])
def test_errors_unchanged(rows):
    gm = fitted("full")
    X = blobs(rows, 4)
    snapshot = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in vars(gm).items()}
    bad = X.copy()
    bad[-1, 2] = np.nan
    for method in ("predict", "predict_proba", "score_samples", "score"):
        with pytest.raises(ValueError, match="contains NaN"):
            getattr(gm, method)(bad)
    bad[-1, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        gm.predict_proba(bad)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 4"):
        gm.predict(X[:, :3].copy())
    with pytest.raises(ValueError, match="Expected 2D array"):
        gm.predict(X[0])
    for method in ("score_samples", "predict"):   # predict: its own, exp-free kernel pass
        with pytest.raises(ValueError, match="no finite log-likelihood"):
            getattr(gm, method)(np.full((rows, 4), 1e300))
    gm.means_ = gm.means_.copy()
    gm.means_[0, 0] = np.nan
    with pytest.raises(ValueError, match="means_ holds NaN"):
        gm.predict(X)
    gm.means_ = snapshot["means_"]
    for k, v in snapshot.items():     # nothing else changed
        np.testing.assert_array_equal(vars(gm)[k], v)
    assert rel(gm.score_samples(X), reference(gm, X)[0]) < 1e-12


def test_feature_name_warning_on_the_direct_path():
    pd = pytest.importorskip("pandas")
    X = blobs(300, 3)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(2, max_iter=3, random_state=0).fit(df)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        gm.predict(X[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        np.testing.assert_array_equal(gm.predict(df.iloc[:2]), gm.predict(X[:2]))


def test_other_dtypes_go_through_the_data_layer():
    gm = fitted("diag")
    X = blobs(20, 4)
    np.testing.assert_array_equal(gm.score_samples(X.astype(np.float16)),
                                  gm.score_samples(X.astype(np.float16).astype(np.float64)))
    Xi = np.round(X).astype(np.int64)
    np.testing.assert_array_equal(gm.predict(Xi), gm.predict(Xi.astype(np.float64)))


# ------------------------------------------------------------ HMM paths
def hmm_params(k, d, seed, cov_type="diag"):
    rng = np.random.RandomState(seed)
    start = rng.dirichlet(np.ones(k))
    trans = rng.dirichlet(np.ones(k), size=k) + 2 * np.eye(k)
    trans /= trans.sum(axis=1, keepdims=True)
    means = 3 * rng.randn(k, d)
    if cov_type == "diag":
        covars = 0.5 + rng.rand(k, d)
    else:
        a = rng.randn(k, d, d)
        covars = a @ a.transpose(0, 2, 1) / d + np.eye(d)
    return start, trans, means, covars


def make_hmm(cls, k, d, seed, cov_type="diag", **kw):
    start, trans, means, covars = hmm_params(k, d, seed, cov_type)
    model = cls(k, covariance_type=cov_type, init_params="", **kw)
    model.startprob_, model.transmat_, model.means_, model.covars_ = start, trans, means, covars
    return model


def hmm_frame_log_prob(model, X):
    cov = model.covars_      # full (K, D, D) from either covariance type
    return np.column_stack([stats.multivariate_normal(model.means_[c], cov[c]).logpdf(X)
                            for c in range(model.n_components)]).reshape(len(X), -1)


def numpy_viterbi(log_start, log_trans, flp):
    """Log-space Viterbi, first maximum on ties (numpy's argmax)."""
    T, k = flp.shape
    delta = log_start + flp[0]
    back = np.zeros((T, k), dtype=np.int64)
    for t in range(1, T):
        scores = delta[:, None] + log_trans
        back[t] = scores.argmax(axis=0)
        delta = scores.max(axis=0) + flp[t]
    path = np.empty(T, dtype=np.int64)
    path[-1] = delta.argmax()
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return delta.max(), path


def numpy_posteriors(log_start, log_trans, flp):
    T, k = flp.shape
    alpha = np.empty((T, k))
    beta = np.zeros((T, k))
    alpha[0] = log_start + flp[0]
    for t in range(1, T):
        alpha[t] = logsumexp(alpha[t - 1][:, None] + log_trans, axis=0) + flp[t]
    for t in range(T - 2, -1, -1):
        beta[t] = logsumexp(log_trans + flp[t + 1] + beta[t + 1], axis=1)
    ll = logsumexp(alpha[-1])
    return ll, np.exp(alpha + beta - ll)


def split(X, lengths):
    return np.split(X, np.cumsum(lengths)[:-1])


# the tile boundaries of the Viterbi step (8 states per register tile)
@pytest.mark.parametrize("k", [1, 2, 5, 7, 8, 9, 15, 16, 17])
def test_viterbi_matches_numpy_and_hmmlearn(k):
    model = make_hmm(GaussianHMM, k, 3, seed=k)
    X, _ = model.sample(400, random_state=k)
    lengths = [1, 2, 150, 247]
    logp, states = model.decode(X, lengths)
    with np.errstate(divide="ignore"):
        ls, lt = np.log(model.startprob_), np.log(model.transmat_)
    flp = hmm_frame_log_prob(model, X)
    ref = [numpy_viterbi(ls, lt, f) for f in split(flp, lengths)]
    np.testing.assert_array_equal(states, np.concatenate([r[1] for r in ref]))
    assert abs(logp - sum(r[0] for r in ref)) < 1e-11 * abs(logp)
    hmm = pytest.importorskip("hmmlearn.hmm")
    h = hmm.GaussianHMM(k, covariance_type="diag", init_params="")
    h.startprob_, h.transmat_, h.means_ = model.startprob_, model.transmat_, model.means_
    h.covars_ = np.array([np.diag(c) for c in model.covars_])
    h_logp, h_states = h.decode(X, lengths, algorithm="viterbi")
    np.testing.assert_array_equal(states, h_states)
    assert abs(logp - h_logp) < 1e-11 * abs(logp)


@pytest.mark.parametrize("k", [3, 8, 11])
def test_viterbi_ties_take_the_first_maximum(k):
    # identical states and a uniform chain: every path ties, the first
    # maximum (numpy's argmax) picks state 0 throughout, and structural
    # zeros stay excluded
    model = GaussianHMM(k, covariance_type="diag", init_params="")
    model.startprob_ = np.full(k, 1.0 / k)
    trans = np.full((k, k), 1.0 / k)
    model.transmat_ = trans
    model.means_ = np.zeros((k, 2))
    model.covars_ = np.ones((k, 2))
    X = np.random.RandomState(0).randn(60, 2)
    _, states = model.decode(X)
    np.testing.assert_array_equal(states, np.zeros(60, dtype=np.int64))
    trans = np.full((k, k), 1.0 / (k - 1))
    np.fill_diagonal(trans, 0.0)   # no self-transitions: states must alternate
    model.transmat_ = trans
    _, states = model.decode(X)
    assert (np.diff(states) != 0).all()
    with np.errstate(divide="ignore"):
        ref = numpy_viterbi(np.log(model.startprob_), np.log(trans), hmm_frame_log_prob(model, X))
    np.testing.assert_array_equal(states, ref[1])


@pytest.mark.parametrize("cov_type", ["diag", "full"])
@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_hmm_score_samples_and_predict_proba_match_numpy(cov_type, implementation):
    model = make_hmm(GaussianHMM, 4, 3, seed=3, cov_type=cov_type,
                     implementation=implementation)
    X, _ = model.sample(300, random_state=1)
    lengths = [1, 99, 200]
    ll, post = model.score_samples(X, lengths)
    flp = hmm_frame_log_prob(model, X)
    ref = [numpy_posteriors(np.log(model.startprob_), np.log(model.transmat_), f)
           for f in split(flp, lengths)]
    assert abs(ll - sum(r[0] for r in ref)) < 1e-11 * abs(ll)
    np.testing.assert_allclose(post, np.vstack([r[1] for r in ref]), rtol=0, atol=1e-11)
    np.testing.assert_array_equal(model.predict_proba(X, lengths), post)
    assert model.score(X, lengths) == ll
    _, map_states = model.decode(X, lengths, algorithm="map")
    np.testing.assert_array_equal(map_states, post.argmax(axis=1))


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_hmm_prediction_thread_invariance(cls):
    kw = {"n_mix": 3} if cls is GMMHMM else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rng = np.random.RandomState(0)
        X = np.vstack([rng.randn(500, 3) + 4 * rng.randn(3) for _ in range(40)])
        lengths = [500] * 40
        one = cls(9, n_iter=2, random_state=0, n_threads=1, **kw).fit(X, lengths)
        two = cls(9, n_iter=2, random_state=0, n_threads=2, **kw).fit(X, lengths)
    a, b = one.decode(X, lengths), two.decode(X, lengths)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    sa, sb = one.score_samples(X, lengths), two.score_samples(X, lengths)
    assert sa[0] == sb[0]
    np.testing.assert_array_equal(sa[1], sb[1])


# ------------------------------------------------ HMM derived-value cache
def hmm_answers(model, X, lengths):
    logp, states = model.decode(X, lengths)
    ll, post = model.score_samples(X, lengths)
    return logp, states, ll, post, model.score(X, lengths)


def assert_hmm_same(a, b):
    assert a[0] == b[0] and a[2] == b[2] and a[4] == b[4]
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[3], b[3])


def hmm_fresh_like(model):
    """A new model of the same class and hyper-parameters holding copies
    of the parameters: nothing derived is carried over."""
    new = type(model)(**model.get_params())
    for name in ("startprob_", "transmat_", "weights_", "means_"):
        if hasattr(model, name):
            setattr(new, name, np.array(getattr(model, name), copy=True))
    new.covars_ = np.array(stored_covars(model), copy=True)
    return new


def stored_covars(model):
    """covars_ in the shape its setter takes (GaussianHMM's getter gives
    full matrices for every covariance type, as hmmlearn's does)."""
    return model._covars_ if type(model) is GaussianHMM else model.covars_


HMM_CASES = [(GaussianHMM, ct) for ct in ("diag", "full", "spherical", "tied")] + \
    [(GMMHMM, "diag"), (GMMHMM, "full")]


def fitted_hmm(cls, cov_type, seed=0):
    kw = {"n_mix": 2} if cls is GMMHMM else {}
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(120, 3) + 3 * rng.randn(3) for _ in range(6)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls(3, covariance_type=cov_type, n_iter=4, random_state=seed, **kw)
        model.fit(X, [120] * 6)
    return model, X, [120] * 6


@pytest.mark.parametrize("cls,cov_type", HMM_CASES)
def test_hmm_cache_follows_assigned_and_mutated_parameters(cls, cov_type):
    model, X, lengths = fitted_hmm(cls, cov_type)
    first = hmm_answers(model, X, lengths)
    assert_hmm_same(first, hmm_answers(hmm_fresh_like(model), X, lengths))
    # a new means_ array
    model.means_ = model.means_ + 0.7
    moved = hmm_answers(model, X, lengths)
    assert moved[2] != first[2]
    assert_hmm_same(moved, hmm_answers(hmm_fresh_like(model), X, lengths))
    # written into in place, one parameter at a time
    model.means_[0] -= 2.0
    assert_hmm_same(hmm_answers(model, X, lengths), hmm_answers(hmm_fresh_like(model), X, lengths))
    model.transmat_[:] = np.full((3, 3), 1.0 / 3)
    assert_hmm_same(hmm_answers(model, X, lengths), hmm_answers(hmm_fresh_like(model), X, lengths))
    model.startprob_[:] = [0.1, 0.1, 0.8]
    assert_hmm_same(hmm_answers(model, X, lengths), hmm_answers(hmm_fresh_like(model), X, lengths))
    model.covars_ = stored_covars(model) * 1.5      # through the public setter
    scaled = hmm_answers(model, X, lengths)
    assert_hmm_same(scaled, hmm_answers(hmm_fresh_like(model), X, lengths))
    if cls is GMMHMM:
        model.weights_[:] = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
        assert_hmm_same(hmm_answers(model, X, lengths),
                        hmm_answers(hmm_fresh_like(model), X, lengths))
    # float32 input: its own kernel arguments, and float64 ones still right
    model.decode(X.astype(np.float32), lengths)
    assert_hmm_same(hmm_answers(model, X, lengths), hmm_answers(hmm_fresh_like(model), X, lengths))


@pytest.mark.parametrize("cls,cov_type", [(GaussianHMM, "full"), (GMMHMM, "diag")])
def test_hmm_cache_bad_parameters_still_raise_and_leave_model(cls, cov_type):
    model, X, lengths = fitted_hmm(cls, cov_type, seed=1)
    good = hmm_answers(model, X, lengths)
    snap = {n: np.array(getattr(model, n), copy=True)
            for n in ("startprob_", "transmat_", "means_", "covars_")}
    model.transmat_[0, 0] += 0.5          # rows no longer sum to 1
    with pytest.raises(ValueError, match="transmat_"):
        model.decode(X, lengths)
    model.transmat_[0, 0] -= 0.5
    model.means_[1, 0] = np.nan
    with pytest.raises(ValueError, match="means_"):
        model.score(X, lengths)
    model.means_[1, 0] = snap["means_"][1, 0]
    for n, v in snap.items():
        np.testing.assert_array_equal(getattr(model, n), v)
    assert_hmm_same(hmm_answers(model, X, lengths), good)
    # a hyper-parameter the parameters no longer fit
    model.set_params(n_components=4)
    with pytest.raises(ValueError):
        model.decode(X, lengths)
    model.set_params(n_components=3)
    assert_hmm_same(hmm_answers(model, X, lengths), good)


def test_hmm_cache_is_not_in_dict_pickle_or_save():
    model, X, lengths = fitted_hmm(GaussianHMM, "diag")
    keys = set(vars(model))
    hmm_answers(model, X, lengths)
    assert set(vars(model)) == keys
    assert model._derived_cache is not None and model._scratch_pool
    blob = pickle.dumps(model)
    assert b"_derived_cache" not in blob and b"_scratch_pool" not in blob
    clone = pickle.loads(blob)
    assert getattr(clone, "_derived_cache", None) is None
    assert_hmm_same(hmm_answers(clone, X, lengths), hmm_answers(model, X, lengths))
    buf = io.BytesIO()
    model.save(buf)
    assert b"_derived_cache" not in buf.getvalue()


def test_hmm_subclass_with_its_own_check_is_checked_every_call():
    calls = []

    class Counted(GaussianHMM):
        def _check(self, n_features=None):
            calls.append(1)
            super()._check(n_features)

    model, X, lengths = fitted_hmm(GaussianHMM, "diag")
    other = Counted(**model.get_params())
    for n in ("startprob_", "transmat_", "means_"):
        setattr(other, n, np.array(getattr(model, n)))
    other.covars_ = np.array(stored_covars(model))
    for _ in range(3):
        other.decode(X, lengths)
    assert len(calls) == 3
    assert_hmm_same(hmm_answers(other, X, lengths), hmm_answers(model, X, lengths))


def test_hmm_concurrent_calls_agree():
    from concurrent.futures import ThreadPoolExecutor
    model, X, lengths = fitted_hmm(GMMHMM, "full")
    want = hmm_answers(hmm_fresh_like(model), X, lengths)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: hmm_answers(model, X, lengths), range(16)))
    for g in got:
        assert_hmm_same(g, want)
