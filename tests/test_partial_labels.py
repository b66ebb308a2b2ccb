"""Partial labels (semi-supervised EM): GaussianMixture(partial_labels=True)
.fit(X, y) and HMM fit(X, lengths, states=...), against brute-force numpy
EM with clamped responsibilities / posteriors on small cases."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GaussianHMM, GaussianMixture
from gmscore._core.covariance import COV_TYPES, COVARIANCE


def data(seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(60, 2), rng.randn(50, 2) * 0.7 + [2.5, 1.0],
                   rng.randn(40, 2) + [0, 4]])
    y = np.full(len(X), -1)
    y[rng.choice(60, 8, replace=False)] = 2
    y[60 + rng.choice(50, 6, replace=False)] = 0
    return X, y


def brute_em(X, y, weights, means, covs, ct, n_iter, reg=1e-6):
    """The textbook EM with known rows' responsibilities one-hot."""
    n, d = X.shape
    k = len(weights)
    lls = []
    for _ in range(n_iter):
        full = COVARIANCE[ct].as_full(covs, k, d)
        logp = np.column_stack([np.log(weights[j]) + multivariate_normal(
            means[j], full[j]).logpdf(X) for j in range(k)])
        resp = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
        known = y >= 0
        resp[known] = np.eye(k)[y[known]]
        ll = logsumexp(logp[~known], axis=1).sum() + logp[known, y[known]].sum()
        lls.append(ll / n)
        nk = resp.sum(0)
        means = resp.T @ X / nk[:, None]
        cov_full = np.stack([(resp[:, j, None] * (X - means[j])).T @ (X - means[j]) / nk[j]
                             for j in range(k)])
        if ct == "full":
            covs = cov_full + reg * np.eye(d)
        elif ct == "tied":
            covs = (cov_full * nk[:, None, None]).sum(0) / n + reg * np.eye(d)
        elif ct == "diag":
            covs = np.stack([np.diag(c) for c in cov_full]) + reg
        else:
            covs = np.array([np.diag(c).mean() for c in cov_full]) + reg
        weights = nk / n
    return weights, means, covs, lls


def start(ct, d=2, k=3):
    means = np.array([[0.5, 0.5], [2.0, 1.5], [0.0, 3.0]])
    covs = {"full": np.array([np.eye(d)] * k), "tied": np.eye(d),
            "diag": np.ones((k, d)), "spherical": np.ones(k)}[ct]
    return np.full(k, 1 / k), means, covs


@pytest.mark.parametrize("ct", COV_TYPES)
def test_clamped_em_equals_brute_force(ct):
    X, y = data()
    w0, m0, c0 = start(ct)
    prec = COVARIANCE[ct].precisions_from_cholesky(COVARIANCE[ct].precision_cholesky(c0))
    warnings.simplefilter("ignore")
    gm = GaussianMixture(3, covariance_type=ct, partial_labels=True, weights_init=w0,
                         means_init=m0, precisions_init=prec, max_iter=8, tol=0).fit(X, y)
    w, m, c, lls = brute_em(X, y, w0, m0, c0, ct, 8)
    assert_allclose(gm.weights_, w, rtol=1e-10)
    assert_allclose(gm.means_, m, rtol=1e-10, atol=1e-12)
    assert_allclose(gm.covariances_, c, rtol=1e-10, atol=1e-12)
    assert_allclose(gm.lower_bounds_, lls, rtol=1e-10)
    assert np.all(np.diff(gm.lower_bounds_) >= -1e-12)   # EM: monotone


def test_all_rows_known_is_the_supervised_estimate():
    X, y = data(seed=1)
    y = np.repeat([0, 1, 2], [60, 50, 40])
    gm = GaussianMixture(3, partial_labels=True, max_iter=3, tol=0,
                         random_state=0).fit(X, y)
    for j in range(3):
        assert_allclose(gm.means_[j], X[y == j].mean(0), rtol=1e-12)


def test_weights_and_fit_predict():
    X, y = data(seed=2)
    w = np.random.RandomState(3).randint(1, 3, size=len(X)).astype(float)
    kw = dict(partial_labels=True, max_iter=20, tol=0, random_state=0,
              init_params="random_from_data")
    a = GaussianMixture(3, **kw).fit(X, y, sample_weight=w)
    rep = np.repeat(np.arange(len(X)), w.astype(int))
    b = GaussianMixture(3, **kw | {"weights_init": a.weights_, "means_init": a.means_,
                                   "precisions_init": a.precisions_, "max_iter": 1})
    c = GaussianMixture(3, **kw | {"weights_init": a.weights_, "means_init": a.means_,
                                   "precisions_init": a.precisions_, "max_iter": 1})
    b.fit(X, y, sample_weight=w)
    c.fit(X[rep], y[rep])
    assert_allclose(b.means_, c.means_, rtol=1e-10)
    labels = GaussianMixture(3, **kw).fit_predict(X, y)
    assert labels.shape == (len(X),)


def test_y_ignored_by_default_and_bad_labels():
    X, y = data(seed=4)
    with pytest.warns(UserWarning, match="partial_labels=True"):
        a = GaussianMixture(3, random_state=0).fit(X, y)
    b = GaussianMixture(3, random_state=0).fit(X)
    assert_allclose(a.means_, b.means_, rtol=0)
    gm = GaussianMixture(3, partial_labels=True, random_state=0).fit(X, y)
    before = gm.means_.copy()
    for bad, err, match in [(np.append(y, 0), ValueError, "one entry per row"),
                            (np.where(y == 2, 3, y), ValueError, r"outside \[-1, 3\)"),
                            (np.where(y == 2, -2, y), ValueError, "outside"),
                            (y.astype(str), TypeError, "integer component"),
                            (y + 0.5, TypeError, "integer component")]:
        with pytest.raises(err, match=match):
            gm.fit(X, bad)
        assert_allclose(gm.means_, before, rtol=0)
    with pytest.raises(ValueError, match="in memory"):
        GaussianMixture(3, partial_labels=True).fit(lambda: iter([X]), y)


def brute_baum_welch_clamped(X, lengths, states, start, trans, means, covs, n_iter):
    """Baum-Welch with known frames' other states ruled out, in log space."""
    k = len(start)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    hist = []
    for _ in range(n_iter):
        flp = np.column_stack([multivariate_normal(means[j], np.diag(covs[j])).logpdf(X)
                               for j in range(k)])
        known = states >= 0
        mask = np.full_like(flp, -np.inf)
        mask[np.arange(len(X)), np.where(known, states, 0)] = 0
        flp = np.where(known[:, None], flp + mask, flp)
        gam_all, xi_sum, s_sum, total = np.zeros_like(flp), np.zeros((k, k)), np.zeros(k), 0
        for a, b in zip(offsets[:-1], offsets[1:]):
            f = flp[a:b]
            la = np.empty_like(f)
            lb = np.zeros_like(f)
            la[0] = np.log(start) + f[0]
            for t in range(1, len(f)):
                la[t] = logsumexp(la[t - 1][:, None] + np.log(trans), axis=0) + f[t]
            for t in range(len(f) - 2, -1, -1):
                lb[t] = logsumexp(np.log(trans) + f[t + 1] + lb[t + 1], axis=1)
            ll = logsumexp(la[-1])
            total += ll
            gam = np.exp(la + lb - ll)
            gam_all[a:b] = gam
            s_sum += gam[0]
            for t in range(len(f) - 1):
                xi_sum += np.exp(la[t][:, None] + np.log(trans) + f[t + 1] + lb[t + 1] - ll)
        hist.append(total)
        start = s_sum / s_sum.sum()
        trans = xi_sum / xi_sum.sum(1, keepdims=True)
        nk = gam_all.sum(0)
        means = gam_all.T @ X / nk[:, None]
        # hmmlearn's diag M-step with its default covars_prior=1e-2, weight 1
        s1, s2 = gam_all.T @ X, gam_all.T @ X ** 2
        covs = (1e-2 + s2 - 2 * means * s1 + means ** 2 * nk[:, None]) / nk[:, None]
    return start, trans, means, covs, hist


def test_hmm_known_states_equal_brute_force():
    rng = np.random.RandomState(5)
    lengths = [30, 25]
    X = rng.randn(55, 2) + np.repeat([[0, 0], [3, 3], [0, 0], [3, 3]], [15, 15, 12, 13], 0)
    states = np.full(55, -1)
    states[[2, 5, 20, 40]] = [0, 0, 1, 0]
    start0 = np.array([0.5, 0.5])
    trans0 = np.array([[0.8, 0.2], [0.3, 0.7]])
    means0 = np.array([[0.5, 0.5], [2.0, 2.0]])
    covs0 = np.ones((2, 2))
    m = GaussianHMM(2, covariance_type="diag", n_iter=5, tol=0, init_params="")
    m.startprob_, m.transmat_, m.means_, m.covars_ = start0, trans0, means0, covs0
    warnings.simplefilter("ignore")
    m.fit(X, lengths, states=states)
    s, t, mu, cv, hist = brute_baum_welch_clamped(X, lengths, states, start0, trans0,
                                                  means0, covs0, 5)
    assert_allclose(m.monitor_.history, hist[-len(m.monitor_.history):], rtol=1e-9)
    assert_allclose(m.startprob_, s, rtol=1e-9, atol=1e-12)
    assert_allclose(m.transmat_, t, rtol=1e-9, atol=1e-12)
    assert_allclose(m.means_, mu, rtol=1e-9)


def test_hmm_bad_states():
    X = np.random.RandomState(6).randn(30, 2)
    m = GaussianHMM(2, n_iter=2, random_state=0).fit(X)
    before = m.means_.copy()
    with pytest.raises(ValueError, match=r"outside \[-1, 2\)"):
        m.fit(X, states=np.full(30, 2))
    with pytest.raises(ValueError, match="one entry per row"):
        m.fit(X, states=np.zeros(29, dtype=int))
    assert_allclose(m.means_, before, rtol=0)
