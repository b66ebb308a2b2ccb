"""Missing values (NaN) in GaussianHMM / GMMHMM with nan_policy='marginalize',
against a brute-force numpy forward-backward whose emissions are the
marginals over each frame's observed features (no hmmlearn)."""
import os
import sys

import numpy as np
import pytest
from scipy.special import logsumexp

from gmscore import GMMHMM, GaussianHMM

sys.path.insert(0, os.path.dirname(__file__))
from missing_reference import COV_TYPES, full_covariances, ref_row  # noqa: E402


def ref_chain(logB, startprob, transmat, lengths):
    """Per sequence, log-space forward-backward: (total log-likelihood,
    gamma (T x K), start counts, transition counts)."""
    K = logB.shape[1]
    with np.errstate(divide="ignore"):
        logA, logpi = np.log(transmat), np.log(startprob)
    total, gammas = 0.0, []
    start, trans = np.zeros(K), np.zeros((K, K))
    at = 0
    for n in lengths:
        B = logB[at:at + n]
        la, lb = np.empty((n, K)), np.zeros((n, K))
        la[0] = logpi + B[0]
        for t in range(1, n):
            la[t] = logsumexp(la[t - 1][:, None] + logA, axis=0) + B[t]
        for t in range(n - 2, -1, -1):
            lb[t] = logsumexp(logA + B[t + 1] + lb[t + 1], axis=1)
        ll = logsumexp(la[-1])
        g = np.exp(la + lb - ll)
        for t in range(n - 1):
            trans += np.exp(la[t][:, None] + logA + B[t + 1] + lb[t + 1] - ll)
        start += g[0]
        total += ll
        gammas.append(g)
        at += n
    return total, np.concatenate(gammas), start, trans


def ref_viterbi(logB, startprob, transmat, lengths):
    with np.errstate(divide="ignore"):
        logA, logpi = np.log(transmat), np.log(startprob)
    total, paths, at = 0.0, [], 0
    for n in lengths:
        B = logB[at:at + n]
        delta = logpi + B[0]
        back = np.zeros((n, B.shape[1]), dtype=int)
        for t in range(1, n):
            cand = delta[:, None] + logA
            back[t] = cand.argmax(axis=0)
            delta = cand.max(axis=0) + B[t]
        path = [int(delta.argmax())]
        for t in range(n - 1, 0, -1):
            path.append(back[t][path[-1]])
        total += delta.max()
        paths.append(path[::-1])
        at += n
    return total, np.concatenate(paths)


def emissions(X, means, S, log_w=None):
    """Per frame and component: log w N(x_o), fills and padded conditional
    covariances (test_missing.ref_row)."""
    k = means.shape[0]
    w = np.ones(k) if log_w is None else np.exp(log_w)
    out = [ref_row(x, w, means, S) for x in X]
    return (np.array([o[0] for o in out]), np.array([o[1] for o in out]),
            np.array([o[2] for o in out]))


def hmm_data(d=3, frac=0.25, seed=0, lengths=(40, 25, 35)):
    rng = np.random.RandomState(seed)
    T = sum(lengths)
    states = np.zeros(T, dtype=int)
    for t in range(1, T):
        states[t] = states[t - 1] if rng.rand() < 0.85 else rng.randint(3)
    X = rng.randn(d, d)[states % d] * 3 + rng.randn(T, d) @ rng.randn(d, d) * 0.4
    X[rng.rand(T, d) < frac] = np.nan
    X[5] = np.nan                        # a frame with nothing observed
    return X, list(lengths)


def gaussian_hmm(ct, X, lengths, **kw):
    k = 3
    d = X.shape[1]
    rng = np.random.RandomState(1)
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    base = np.cov(filled.T) + 0.2 * np.eye(d)
    m = GaussianHMM(k, covariance_type=ct, init_params="", nan_policy="marginalize",
                    n_iter=1, tol=-np.inf, min_covar=0.0, covars_prior=0.0,
                    covars_weight=1.0, **kw)
    m.startprob_ = np.array([0.5, 0.3, 0.2])
    m.transmat_ = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.15, 0.15, 0.7]])
    m.means_ = filled[rng.choice(len(X), k, replace=False)]
    m.covars_ = {"full": np.array([base * (1 + 0.3 * j) for j in range(k)]), "tied": base,
                 "diag": np.array([np.diag(base) * (1 + 0.2 * j) for j in range(k)]),
                 "spherical": np.array([np.diag(base).mean() * (1 + 0.2 * j)
                                        for j in range(k)])}[ct]
    return m


@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_hmm_inference_matches_brute_force(ct):
    X, lengths = hmm_data(seed=2)
    m = gaussian_hmm(ct, X, lengths)
    k, d = m.means_.shape
    S = full_covariances(ct, m._covars_, k, d)
    logB, _, _ = emissions(X, m.means_, S)
    assert np.all(logB[5] == 0.0)
    total, gamma, _, _ = ref_chain(logB, m.startprob_, m.transmat_, lengths)
    np.testing.assert_allclose(m.score(X, lengths), total, rtol=1e-12)
    ll, post = m.score_samples(X, lengths)
    np.testing.assert_allclose(ll, total, rtol=1e-12)
    np.testing.assert_allclose(post, gamma, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.predict_proba(X, lengths), gamma, rtol=1e-9, atol=1e-12)
    vtotal, path = ref_viterbi(logB, m.startprob_, m.transmat_, lengths)
    lp, states = m.decode(X, lengths)
    np.testing.assert_allclose(lp, vtotal, rtol=1e-12)
    assert np.array_equal(states, path)
    assert np.array_equal(m.predict(X, lengths), path)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_hmm_baum_welch_matches_brute_force(ct):
    X, lengths = hmm_data(seed=3)
    m = gaussian_hmm(ct, X, lengths)
    k, d = m.means_.shape
    S = full_covariances(ct, m._covars_, k, d)
    logB, fills, cpads = emissions(X, m.means_, S)
    total, gamma, start, trans = ref_chain(logB, m.startprob_, m.transmat_, lengths)
    post = gamma.sum(axis=0)
    means = np.einsum("tk,tkd->kd", gamma, fills) / post[:, None]
    scat = np.array([np.einsum("t,ta,tb->ab", gamma[:, j], fills[:, j] - means[j],
                               fills[:, j] - means[j])
                     + np.einsum("t,tab->ab", gamma[:, j], cpads[:, j]) for j in range(k)])
    cov = {"full": lambda: scat / post[:, None, None],
           "tied": lambda: scat.sum(axis=0) / post.sum(),
           "diag": lambda: np.diagonal(scat, axis1=1, axis2=2) / post[:, None],
           "spherical": lambda: (np.diagonal(scat, axis1=1, axis2=2)
                                 / post[:, None]).mean(axis=1)}[ct]()
    # the statistics themselves
    stats = m.accumulate(X, lengths)
    np.testing.assert_allclose(stats.start, start, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.trans, trans, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.emissions.nk, post, rtol=1e-10)
    m.fit(X, lengths)
    np.testing.assert_allclose(m.monitor_.history[-1], total, rtol=1e-12)
    np.testing.assert_allclose(m.startprob_, start / start.sum(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.transmat_, trans / trans.sum(axis=1, keepdims=True),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.means_, means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m._covars_, cov, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_gmmhmm_statistics_match_brute_force(ct):
    X, lengths = hmm_data(seed=4, frac=0.2)
    rng = np.random.RandomState(2)
    k, mix, d = 2, 2, X.shape[1]
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    base = np.cov(filled.T) + 0.2 * np.eye(d)
    m = GMMHMM(k, n_mix=mix, covariance_type=ct, init_params="", nan_policy="marginalize")
    m.startprob_ = np.array([0.6, 0.4])
    m.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    m.weights_ = np.array([[0.3, 0.7], [0.5, 0.5]])
    m.means_ = filled[rng.choice(len(X), k * mix, replace=False)].reshape(k, mix, d)
    m.covars_ = {"full": np.array([[base * (1 + 0.2 * (2 * s + j)) for j in range(mix)]
                                   for s in range(k)]),
                 "tied": np.array([base * (1 + 0.3 * s) for s in range(k)]),
                 "diag": np.array([[np.diag(base) * (1 + 0.1 * (2 * s + j))
                                    for j in range(mix)] for s in range(k)]),
                 "spherical": np.array([[np.diag(base).mean() * (1 + 0.1 * (2 * s + j))
                                         for j in range(mix)] for s in range(k)])}[ct]
    # components: (state, mixture) pairs, their covariances as full matrices
    if ct == "tied":
        S = np.repeat(m.covars_, mix, axis=0)
    else:
        S = np.concatenate([full_covariances(ct, m.covars_[s], mix, d) for s in range(k)])
    comp, fills, cpads = emissions(X, m.means_.reshape(k * mix, d), S,
                                   np.log(m.weights_).ravel())
    comp = comp.reshape(len(X), k, mix)
    logB = logsumexp(comp, axis=2)
    total, gamma, start, trans = ref_chain(logB, m.startprob_, m.transmat_, lengths)
    np.testing.assert_allclose(m.score(X, lengths), total, rtol=1e-12)
    resp = (gamma[:, :, None] * np.exp(comp - logB[:, :, None])).reshape(len(X), k * mix)
    stats = m.accumulate(X, lengths)
    em = stats.emissions
    c = em.centres
    np.testing.assert_allclose(stats.trans, trans, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(em.nk, resp.sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(em.s1, np.einsum("tc,tcd->cd", resp, fills - c), rtol=1e-9,
                               atol=1e-10)
    y = fills - c
    s2 = (np.einsum("tc,tca,tcb->cab", resp, y, y) + np.einsum("tc,tcab->cab", resp, cpads))
    want = s2 if em.kind == "full" else np.diagonal(s2, axis1=1, axis2=2)
    np.testing.assert_allclose(em.s2, want, rtol=1e-9, atol=1e-10)
    lp, states = m.decode(X, lengths)
    vtotal, path = ref_viterbi(logB, m.startprob_, m.transmat_, lengths)
    np.testing.assert_allclose(lp, vtotal, rtol=1e-12)
    assert np.array_equal(states, path)
    # and a fit runs, its likelihood rising
    m.set_params(n_iter=8, tol=-np.inf)
    m.fit(X, lengths)
    h = np.array(m.monitor_.history)
    assert np.isfinite(h).all() and h[-1] > total


@pytest.mark.parametrize("model", ["gaussian", "gmm"])
def test_hmm_no_nan_equals_today_and_errors(model):
    X, lengths = hmm_data(seed=5, frac=0.0)
    X = np.nan_to_num(X, nan=0.3)
    make = (lambda **kw: GaussianHMM(3, covariance_type="full", random_state=0, n_iter=5,
                                     **kw)) if model == "gaussian" else \
        (lambda **kw: GMMHMM(2, n_mix=2, covariance_type="diag", random_state=0, n_iter=5,
                             **kw))
    a = make().fit(X, lengths)
    b = make(nan_policy="marginalize").fit(X, lengths)
    assert np.array_equal(a.means_, b.means_) and np.array_equal(a.covars_, b.covars_)
    assert list(a.monitor_.history) == list(b.monitor_.history)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make().fit(Xn, lengths)
    Xn[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) \[2\]"):
        make(nan_policy="marginalize").fit(Xn, lengths)
    with pytest.raises(ValueError, match="nan_policy"):
        make(nan_policy="drop").fit(X, lengths)


def test_hmm_likelihood_is_monotone():
    X, lengths = hmm_data(seed=6, frac=0.3, lengths=(200, 150))
    m = GaussianHMM(3, covariance_type="full", random_state=0, n_iter=30, tol=-np.inf,
                    nan_policy="marginalize", min_covar=0.0, covars_prior=0.0)
    m.fit(X, lengths)
    h = np.array(m.monitor_.history)
    assert len(h) >= 2 and np.all(np.diff(h) >= -1e-9 * np.abs(h[1:]))


def test_hmm_partial_fit_takes_nan():
    X, lengths = hmm_data(seed=7)
    m = GaussianHMM(3, covariance_type="diag", random_state=0, nan_policy="marginalize")
    m.partial_fit(X, lengths)
    m.partial_fit(X[:40], [40])
    assert np.isfinite(m.means_).all() and np.isfinite(m._covars_).all()
    with pytest.raises(ValueError, match="NaN"):
        GaussianHMM(3).partial_fit(X, lengths)


def test_hmm_paths_without_marginalisation_still_refuse_nan_causal_marginalises():
    X, lengths = hmm_data(seed=8)
    m = GaussianHMM(3, covariance_type="diag", random_state=0, nan_policy="marginalize",
                    n_iter=3).fit(X, lengths)
    # causal posteriors marginalise too: at a sequence's last frame the
    # filtered and smoothed posteriors agree
    causal = m.predict_proba(X, lengths, causal=True)
    ends = np.cumsum(lengths) - 1
    np.testing.assert_allclose(causal[ends], m.predict_proba(X, lengths)[ends], rtol=1e-9,
                               atol=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        m.filter().update(X[5])                       # the streaming filter object
    with pytest.raises(ValueError, match="NaN"):
        m.fit([X[:40], X[40:65], X[65:]])             # a list of sequences
    with pytest.raises(ValueError, match="NaN"):
        m.fit(lambda: iter([X[:40]]))                 # a streamed source
    with pytest.raises(ValueError, match="states"):
        m.fit(X, lengths, states=np.full(len(X), -1))
