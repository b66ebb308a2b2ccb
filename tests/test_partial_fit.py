"""Online EM (partial_fit) on GaussianMixture, GaussianHMM and GMMHMM.

References: the batch MLE (fit to convergence) on the same data, the
blending formula applied by hand to ``accumulate`` statistics, the
truth of simulated drifting data, and snapshots of the model for the
"bad input leaves the model unchanged" guarantees.
"""
import copy
import io

import numpy as np
import pytest

import gmscore
from gmscore import GMMHMM, GaussianHMM, GaussianMixture


def mixture_data(n, seed=0, k=4, d=2):
    rs = np.random.RandomState(seed)
    # well separated, so that batch and online EM find the same optimum
    means = 8.0 * np.array([[0, 0], [1, 0], [0, 1], [1, 1], [2, 0]][:k], dtype=float)
    means = np.hstack([means, np.zeros((k, d - 2))]) + rs.uniform(-1, 1, size=(k, d))
    z = rs.randint(k, size=n)
    return means[z] + rs.randn(n, d) * rs.uniform(0.5, 1.5, size=(k, d))[z]


def hmm_truth(k=3, d=2, seed=0):
    model = GaussianHMM(k, covariance_type="diag", init_params="")
    rs = np.random.RandomState(seed)
    model.startprob_ = np.full(k, 1.0 / k)
    model.transmat_ = 0.8 * np.eye(k) + 0.2 / k
    model.means_ = 6.0 * np.array([[0, 0], [1, 0], [0, 1], [1, 1]][:k], dtype=float)[:, :d] \
        + rs.uniform(-1, 1, size=(k, d))
    model.covars_ = rs.uniform(0.5, 1.5, size=(k, d))
    return model


def order(means):
    return np.lexsort(means.T[::-1])


def snapshot(model):
    return copy.deepcopy(vars(model))


def assert_same_vars(a, b):
    assert a.keys() == b.keys()
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y), name
        elif isinstance(x, dict):
            assert_same_vars(x, y)
        elif name != "monitor_":
            assert type(x) is type(y) and (x == y or x is y or repr(x) == repr(y)), name


@pytest.mark.parametrize("cov_type", ["diag", "full", "spherical", "tied"])
def test_gmm_one_pass_close_to_batch_mle(cov_type):
    X = mixture_data(200_000, seed=1)
    batch = GaussianMixture(4, covariance_type=cov_type, random_state=0, max_iter=500,
                            tol=1e-8).fit(X)
    online = GaussianMixture(4, covariance_type=cov_type, random_state=0)
    for start in range(0, X.shape[0], 5_000):
        online.partial_fit(X[start:start + 5_000])
    o, r = order(online.means_), order(batch.means_)
    # stated tolerance: 0.05 on the means (data scale ~4), 0.1 relative on
    # the covariances, 0.01 on the weights; log-likelihood within 1%
    assert np.max(np.abs(online.means_[o] - batch.means_[r])) < 0.05
    cov_o = online.covariances_ if cov_type == "tied" else online.covariances_[o]
    cov_r = batch.covariances_ if cov_type == "tied" else batch.covariances_[r]
    assert np.max(np.abs(cov_o - cov_r) / np.abs(cov_r).max()) < 0.1
    assert np.max(np.abs(online.weights_[o] - batch.weights_[r])) < 0.01
    ll_o, ll_b = online.score(X), batch.score(X)
    assert abs(ll_o - ll_b) < 0.01 * abs(ll_b)


def test_hmm_one_pass_close_to_batch_mle():
    truth = hmm_truth()
    rs = np.random.RandomState(3)
    seqs = [truth.sample(200, random_state=rs)[0] for _ in range(300)]
    X = np.vstack(seqs)
    lengths = [200] * 300
    # restarts, so that both find the global optimum (k-means can merge
    # two clusters from one start)
    batch = GaussianHMM(3, covariance_type="diag", random_state=0, n_iter=300,
                        tol=1e-6, n_init=5).fit(X, lengths)
    online = GaussianHMM(3, covariance_type="diag", random_state=0, n_init=5)
    for i in range(0, 300, 10):
        online.partial_fit(np.vstack(seqs[i:i + 10]), [200] * 10)
    o, r = order(online.means_), order(batch.means_)
    assert np.max(np.abs(online.means_[o] - batch.means_[r])) < 0.05
    assert np.max(np.abs(online.covars_[o] - batch.covars_[r])) < 0.05
    assert np.max(np.abs(online.transmat_[np.ix_(o, o)] - batch.transmat_[np.ix_(r, r)])) < 0.02
    ll_o, ll_b = online.score(X, lengths), batch.score(X, lengths)
    assert abs(ll_o - ll_b) < 0.01 * abs(ll_b)


def test_gmmhmm_partial_fit_close_to_batch():
    truth = hmm_truth(k=2, seed=4)
    rs = np.random.RandomState(5)
    seqs = [truth.sample(150, random_state=rs)[0] for _ in range(200)]
    X = np.vstack(seqs)
    lengths = [150] * 200
    batch = GMMHMM(2, n_mix=2, covariance_type="diag", random_state=0, n_iter=200,
                   tol=1e-6, n_init=3).fit(X, lengths)
    online = GMMHMM(2, n_mix=2, covariance_type="diag", random_state=0, n_init=3)
    for i in range(0, 200, 10):
        online.partial_fit(np.vstack(seqs[i:i + 10]), [150] * 10)
    ll_o, ll_b = online.score(X, lengths), batch.score(X, lengths)
    assert abs(ll_o - ll_b) < 0.01 * abs(ll_b)


def test_blending_formula_by_hand():
    """With M-steps held back (burn_in), the running statistics are the
    schedule's weighted average of the batches' per-unit statistics."""
    X = mixture_data(4_000, seed=6)
    gm = GaussianMixture(4, covariance_type="full", random_state=0).fit(X[:1000])
    params = copy.deepcopy((gm.weights_, gm.means_, gm.covariances_))
    batches = np.array_split(X, 4)
    for alpha, eta in ((1.0, None), (0.6, None), (0.7, 0.25)):
        model = copy.deepcopy(gm)
        for b in batches:
            model.partial_fit(b, alpha=alpha, eta=eta, burn_in=10)
        # no M-step ran
        assert all(np.array_equal(p, q) for p, q in zip(
            params, (model.weights_, model.means_, model.covariances_)))
        per_unit = [gm.accumulate(b).scaled(1.0 / b.shape[0]) for b in batches]
        expected = per_unit[0]
        for k, s in enumerate(per_unit[1:]):
            rate = eta if eta is not None else (k + 2) ** -alpha
            expected = expected.scaled(1 - rate) + s.scaled(rate)
        state = model._online_state
        assert state["step"] == 4 and state["seen"] == X.shape[0]
        got = state["arrays"]
        for name, ref in (("e_nk", expected.nk), ("e_s1", expected.s1),
                          ("e_s2", expected.s2)):
            assert np.allclose(got[name], ref, rtol=1e-12, atol=1e-14), (alpha, eta, name)
        if alpha == 1.0:   # the plain average of the batches
            mean_nk = np.mean([s.nk for s in per_unit], axis=0)
            assert np.allclose(got["e_nk"], mean_nk, rtol=1e-12)


def test_sample_weight_equals_repeated_rows():
    X = mixture_data(3_000, seed=7)
    gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X[:500])
    w = np.random.RandomState(8).randint(1, 4, size=X.shape[0]).astype(float)
    a, b = copy.deepcopy(gm), copy.deepcopy(gm)
    for part in np.array_split(np.arange(X.shape[0]), 3):
        a.partial_fit(X[part], sample_weight=w[part])
        b.partial_fit(np.repeat(X[part], w[part].astype(int), axis=0))
    assert np.allclose(a.means_, b.means_, rtol=1e-10, atol=1e-12)
    assert np.allclose(a.covariances_, b.covariances_, rtol=1e-10)
    assert np.allclose(a.weights_, b.weights_, rtol=1e-10)


def test_gmm_tracks_a_drifting_mean_with_constant_eta():
    rs = np.random.RandomState(9)
    n_batches, size = 200, 500
    centre = lambda i: np.array([0.02 * i * 5, -0.01 * i * 5])  # noqa: E731
    const = GaussianMixture(1, covariance_type="diag", random_state=0)
    decay = GaussianMixture(1, covariance_type="diag", random_state=0)
    for i in range(n_batches):
        batch = centre(i) + rs.randn(size, 2)
        const.partial_fit(batch, eta=0.3)
        decay.partial_fit(batch, alpha=1.0)
    truth = centre(n_batches - 1)
    # constant eta lags by about drift / eta per batch: (0.1, 0.05) / 0.3
    assert np.max(np.abs(const.means_[0] - truth)) < 0.5
    # the running average sits near the middle of the path, far behind
    assert np.max(np.abs(decay.means_[0] - truth)) > 5.0


def test_hmm_tracks_a_drifting_mean_with_constant_eta():
    truth = hmm_truth(k=2, seed=10)
    rs = np.random.RandomState(11)
    model = GaussianHMM(2, covariance_type="diag", random_state=0)
    shift = np.zeros(2)
    for i in range(60):
        shift = np.array([0.1, 0.0]) * i
        seqs = [truth.sample(100, random_state=rs)[0] + shift for _ in range(5)]
        model.partial_fit(np.vstack(seqs), [100] * 5, eta=0.5)
    o, r = order(model.means_), order(truth.means_ + shift)
    assert np.max(np.abs(model.means_[o] - (truth.means_ + shift)[r])) < 0.6


def _make(kind):
    if kind == "gmm":
        X = mixture_data(2_000, seed=12)
        return GaussianMixture(3, covariance_type="full", random_state=0), X, {}
    truth = hmm_truth(seed=13)
    X = truth.sample(1_000, random_state=14)[0]
    cls = GaussianHMM if kind == "hmm" else (lambda *a, **k: GMMHMM(*a, n_mix=2, **k))
    return cls(3, covariance_type="diag", random_state=0), X, {"lengths": [500, 500]}


@pytest.mark.parametrize("kind", ["gmm", "hmm", "gmmhmm"])
def test_bad_batches_leave_the_model_unchanged(kind):
    model, X, kw = _make(kind)
    model.partial_fit(X, **kw)
    model.partial_fit(X[::-1].copy(), **kw)
    before = snapshot(model)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(np.hstack([X, X[:, :1]]), **kw)
    assert_same_vars(snapshot(model), before)
    bad = X.copy()
    bad[17, 1] = np.nan
    with pytest.raises(ValueError, match="NaN|nan|finite"):
        model.partial_fit(bad, **kw)
    assert_same_vars(snapshot(model), before)
    for args in ({"alpha": 0.5}, {"alpha": 1.5}, {"eta": 0.0}, {"eta": 2}, {"burn_in": -1}):
        with pytest.raises(ValueError):
            model.partial_fit(X, **kw, **args)
        assert_same_vars(snapshot(model), before)
    # a NaN batch as the first call: still unfitted afterwards
    fresh, _, _ = _make(kind)
    with pytest.raises(ValueError):
        fresh.partial_fit(bad, **kw)
    assert not hasattr(fresh, "means_")


@pytest.mark.parametrize("kind", ["gmm", "hmm", "gmmhmm"])
def test_save_load_continues_online_em(kind):
    model, X, kw = _make(kind)
    model.partial_fit(X, **kw)
    model.partial_fit(X[::-1].copy(), **kw)
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    loaded = gmscore.load(buf)
    model.partial_fit(X, **kw)
    loaded.partial_fit(X, **kw)
    assert np.array_equal(loaded.means_, model.means_)
    assert loaded._online_state["step"] == model._online_state["step"] == 3


def test_first_call_initialises_like_fit():
    X = mixture_data(3_000, seed=15)
    a = GaussianMixture(4, random_state=0).partial_fit(X)
    b = GaussianMixture(4, random_state=0).fit(X)
    assert np.array_equal(a.means_, b.means_)
    assert a._online_state["step"] == 1


def test_refit_restarts_online_em():
    """fit (or parameters set by hand) after partial_fit: the running
    statistics belonged to other parameters, so online EM starts afresh
    from the model as it is."""
    X = mixture_data(3_000, seed=16)
    gm = GaussianMixture(4, random_state=0)
    for part in np.array_split(X, 3):
        gm.partial_fit(part)
    assert gm._online_state["step"] == 3
    gm.fit(X[:1000])
    gm.partial_fit(X[1000:2000])
    assert gm._online_state["step"] == 1
    fresh = GaussianMixture(4, random_state=0).fit(X[:1000])
    fresh.partial_fit(X[1000:2000])
    assert np.array_equal(fresh.means_, gm.means_)
