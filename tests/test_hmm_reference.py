"""GaussianHMM / GMMHMM against independent references.

1. Brute force: on tiny models every one of the K**T state paths is
   enumerated with numpy, with emission log-densities from
   scipy.stats.multivariate_normal built from the model's parameters (no
   gmscore code), giving the exact log-likelihood, per-frame posteriors,
   expected start/transition counts and the Viterbi path. These are compared
   with the public API (score, score_samples, predict_proba, decode, one
   Baum-Welch step of fit) and with the kernels in gmscore._hmmc directly.
2. A published known answer: the two-state weather HMM of Wikipedia's
   "Forward algorithm" / "Viterbi algorithm" articles, driven through the
   kernels with discrete emission log-probabilities.
3. hmmlearn from identical starting parameters: per-iteration
   log-likelihoods, fitted parameters, Viterbi paths, scores and posteriors.
"""
import itertools
import logging
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from threadpoolctl import threadpool_limits

from gmscore import GMMHMM, GaussianHMM, LikelihoodDecreaseWarning, _hmmc

COV_TYPES = ("full", "tied", "diag", "spherical")
IMPLEMENTATIONS = ("log", "scaling")
MODELS = ("GaussianHMM", "GMMHMM")
N_MIX = 2


@pytest.fixture(autouse=True)
def _quiet_single_blas():
    # hmmlearn reports through `logging` (e.g. "Model is not converging");
    # it is noise for these comparisons. Multi-threaded BLAS on these tiny
    # matrices only costs time (hmmlearn's per-state linear algebra).
    logging.disable(logging.WARNING)
    with threadpool_limits(1, user_api="blas"):
        yield
    logging.disable(logging.NOTSET)


def rel_err(actual, expected):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300)))


# ------------------------------------------------------ parameter factories
def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


def random_covars(rng, cov_type, lead, d):
    """(compact covars, dense (lead..., D, D)) for GaussianHMM-style types.

    `lead` is the shape of the per-component prefix, e.g. (K,) or (K, M).
    """
    if cov_type == "spherical":
        compact = rng.uniform(0.4, 2.0, size=lead)
        dense = compact[..., None, None] * np.eye(d)
    elif cov_type == "diag":
        compact = rng.uniform(0.4, 2.0, size=lead + (d,))
        dense = compact[..., :, None] * np.eye(d)
    elif cov_type == "full":
        compact = np.stack([random_spd(rng, d) for _ in range(int(np.prod(lead)))])
        compact = compact.reshape(lead + (d, d))
        dense = compact.copy()
    else:  # tied: one matrix shared by the last axis of `lead`
        shared = lead[:-1]
        compact = np.stack([random_spd(rng, d) for _ in range(int(np.prod(shared, dtype=int)))])
        compact = compact.reshape(shared + (d, d))
        dense = np.broadcast_to(compact[..., None, :, :], lead + (d, d)).copy()
    return compact, dense


def left_right_chain():
    startprob = np.array([1.0, 0.0, 0.0])
    transmat = np.array([[0.6, 0.4, 0.0],
                         [0.0, 0.7, 0.3],
                         [0.0, 0.0, 1.0]])
    return startprob, transmat


def dense_chain(rng, k):
    return rng.dirichlet(np.full(k, 2.0)), rng.dirichlet(np.full(k, 2.0), size=k)


class Spec:
    """A model's parameters in gmscore/hmmlearn's compact form plus dense
    per-component covariances for the scipy reference."""

    def __init__(self, model, cov_type, startprob, transmat, means, covars, dense,
                 weights=None):
        self.model, self.cov_type = model, cov_type
        self.startprob, self.transmat = startprob, transmat
        self.means, self.covars, self.dense, self.weights = means, covars, dense, weights

    def frame_log_prob(self, X):
        """log p(x_t | state k) with scipy, shape (T, K)."""
        n = X.shape[0]
        k = self.startprob.shape[0]
        out = np.empty((n, k))
        for s in range(k):
            if self.model == "GaussianHMM":
                out[:, s] = np.reshape(
                    multivariate_normal(self.means[s], self.dense[s]).logpdf(X), n)
            else:
                comp = [np.log(self.weights[s, j]) + np.reshape(
                    multivariate_normal(self.means[s, j], self.dense[s, j]).logpdf(X), n)
                    for j in range(self.weights.shape[1])]
                out[:, s] = logsumexp(np.array(comp), axis=0)
        return out

    def build(self, cls, **kwargs):
        """A gmscore or hmmlearn model set to these parameters."""
        kwargs.setdefault("init_params", "")
        kwargs["covariance_type"] = self.cov_type
        if self.model == "GMMHMM":
            kwargs["n_mix"] = self.weights.shape[1]
        m = cls(self.startprob.shape[0], **kwargs)
        m.startprob_ = self.startprob.copy()
        m.transmat_ = self.transmat.copy()
        m.means_ = self.means.copy()
        m.covars_ = self.covars.copy()
        if self.model == "GMMHMM":
            m.weights_ = self.weights.copy()
        return m


def random_spec(rng, model, cov_type, k, d, chain="dense"):
    startprob, transmat = left_right_chain() if chain == "left-right" else dense_chain(rng, k)
    if model == "GaussianHMM":
        means = rng.normal(scale=1.5, size=(k, d))
        if cov_type == "tied":
            compact = random_spd(rng, d)
            dense = np.broadcast_to(compact, (k, d, d)).copy()
        else:
            compact, dense = random_covars(rng, cov_type, (k,), d)
        return Spec(model, cov_type, startprob, transmat, means, compact, dense)
    weights = rng.dirichlet(np.full(N_MIX, 3.0), size=k)
    means = rng.normal(scale=1.5, size=(k, N_MIX, d))
    compact, dense = random_covars(rng, cov_type, (k, N_MIX), d)
    return Spec(model, cov_type, startprob, transmat, means, compact, dense, weights)


def model_class(name):
    return {"GaussianHMM": GaussianHMM, "GMMHMM": GMMHMM}[name]


# -------------------------------------------------------------- brute force
def brute_force(log_start, log_trans, flp):
    """Enumerate all K**T paths of one sequence.

    Returns dict(loglik, posteriors (T, K), start (K,), trans (K, K),
    viterbi_path (T,), viterbi_logprob, path_logprobs).
    """
    t_len, k = flp.shape
    paths = np.array(list(itertools.product(range(k), repeat=t_len)), dtype=np.int64)
    lp = log_start[paths[:, 0]] + flp[np.arange(t_len), paths].sum(axis=1)
    if t_len > 1:
        lp = lp + log_trans[paths[:, :-1], paths[:, 1:]].sum(axis=1)
    loglik = logsumexp(lp)
    w = np.exp(lp - loglik)
    post = np.zeros((t_len, k))
    for t in range(t_len):
        np.add.at(post[t], paths[:, t], w)
    trans = np.zeros((k, k))
    for t in range(t_len - 1):
        np.add.at(trans, (paths[:, t], paths[:, t + 1]), w)
    order = np.argsort(lp)[::-1]
    best = order[0]
    if len(order) > 1 and np.isfinite(lp[order[1]]):
        # the reference path must be unique for the comparison to be exact
        assert lp[best] - lp[order[1]] > 1e-8
    return dict(loglik=loglik, posteriors=post, start=post[0].copy(), trans=trans,
                viterbi_path=paths[best], viterbi_logprob=lp[best], path_logprobs=lp)


def brute_force_all(spec, X, lengths):
    with np.errstate(divide="ignore"):
        log_start = np.log(spec.startprob)
        log_trans = np.log(spec.transmat)
    flp = spec.frame_log_prob(X)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    refs = [brute_force(log_start, log_trans, flp[a:b])
            for a, b in zip(bounds[:-1], bounds[1:])]
    return refs, flp


BF_LENGTHS = (4, 1, 6, 3, 2)


def bf_case(model, cov_type, d, chain, seed):
    rng = np.random.RandomState(seed)
    spec = random_spec(rng, model, cov_type, 3, d, chain)
    X = rng.normal(scale=2.0, size=(sum(BF_LENGTHS), d))
    refs, flp = brute_force_all(spec, X, BF_LENGTHS)
    return spec, X, refs, flp


def _case_seed(*parts):
    return sum(ord(c) * (i + 1) for i, c in enumerate("/".join(map(str, parts)))) % 10_000


@pytest.mark.parametrize("chain", ["dense", "left-right"])
@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_brute_force_inference(implementation, model, cov_type, d, chain):
    spec, X, refs, _ = bf_case(model, cov_type, d, chain, _case_seed(model, cov_type, d, chain))
    m = spec.build(model_class(model), implementation=implementation, n_threads=1)
    lengths = list(BF_LENGTHS)
    total = sum(r["loglik"] for r in refs)
    ref_post = np.concatenate([r["posteriors"] for r in refs])
    ref_path = np.concatenate([r["viterbi_path"] for r in refs])
    ref_vit = sum(r["viterbi_logprob"] for r in refs)

    if chain == "left-right":
        # the reference really does enumerate impossible (-inf) paths
        assert any(np.isneginf(r["path_logprobs"]).any() for r in refs)
        assert all(np.isfinite(r["loglik"]) for r in refs)

    assert rel_err(m.score(X, lengths), total) < 1e-12
    logprob, post = m.score_samples(X, lengths)
    assert rel_err(logprob, total) < 1e-12
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.predict_proba(X, lengths), ref_post, rtol=0, atol=1e-12)
    # exact zeros of the reference (ruled-out states) are exact zeros here
    assert (post[ref_post == 0] == 0).all()

    vit_logprob, path = m.decode(X, lengths, algorithm="viterbi")
    np.testing.assert_array_equal(path, ref_path)
    assert rel_err(vit_logprob, ref_vit) < 1e-12
    np.testing.assert_array_equal(m.predict(X, lengths), ref_path)
    map_logprob, map_path = m.decode(X, lengths, algorithm="map")
    np.testing.assert_array_equal(map_path, ref_post.argmax(axis=1))
    assert rel_err(map_logprob, ref_post.max(axis=1).sum()) < 1e-12

    # each sequence on its own (lengths=None path)
    start = 0
    for n, r in zip(BF_LENGTHS, refs):
        xs = X[start:start + n]
        start += n
        assert rel_err(m.score(xs), r["loglik"]) < 1e-12
        lp, p = m.decode(xs)
        np.testing.assert_array_equal(p, r["viterbi_path"])
        assert rel_err(lp, r["viterbi_logprob"]) < 1e-12
        if chain == "left-right":
            assert (np.diff(p) >= 0).all() and p[0] == 0


@pytest.mark.parametrize("chain", ["dense", "left-right"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_brute_force_baum_welch_step(implementation, model, cov_type, chain):
    """One Baum-Welch step updating only s and t (Dirichlet priors = 1) sets
    startprob_ and transmat_ to the normalised expected counts."""
    d = 2 if cov_type in ("full", "tied") else 1
    spec, X, refs, _ = bf_case(model, cov_type, d, chain, _case_seed("bw", model, cov_type, chain))
    m = spec.build(model_class(model), implementation=implementation, params="st",
                   n_iter=1, tol=0, startprob_prior=1.0, transmat_prior=1.0, n_threads=1)
    m.fit(X, list(BF_LENGTHS))
    ref_start = sum(r["start"] for r in refs)
    ref_trans = sum(r["trans"] for r in refs)
    assert list(m.monitor_.history) == pytest.approx([sum(r["loglik"] for r in refs)],
                                                     rel=1e-12)
    np.testing.assert_allclose(m.startprob_, ref_start / len(BF_LENGTHS), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(m.transmat_, ref_trans / ref_trans.sum(axis=1, keepdims=True),
                               rtol=1e-11, atol=1e-14)
    # emissions were not updated
    np.testing.assert_array_equal(m.means_, spec.means)
    if chain == "left-right":
        zero = spec.transmat == 0
        assert (m.transmat_[zero] == 0).all() and (m.transmat_[~zero] > 0).all()
        assert (m.startprob_[spec.startprob == 0] == 0).all()


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("chain", ["dense", "left-right"])
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_brute_force_kernels(implementation, chain, n_threads):
    """gmscore._hmmc on scipy-computed frame log-probabilities."""
    for model, cov_type in (("GaussianHMM", "full"), ("GMMHMM", "diag")):
        spec, X, refs, flp = bf_case(model, cov_type, 2, chain,
                                     _case_seed("k", model, cov_type, chain))
        offsets = np.concatenate([[0], np.cumsum(BF_LENGTHS)]).astype(np.int64)
        k = spec.startprob.shape[0]
        post = np.full((X.shape[0], k), np.nan)
        start_c = np.full(k, np.nan)
        trans_c = np.full((k, k), np.nan)
        seq_ll = np.full(len(BF_LENGTHS), np.nan)
        _hmmc.forward_backward(implementation, np.ascontiguousarray(flp), offsets,
                               spec.startprob, spec.transmat, post, start_c, trans_c,
                               seq_ll, n_threads)
        np.testing.assert_allclose(seq_ll, [r["loglik"] for r in refs], rtol=1e-12)
        ref_post = np.concatenate([r["posteriors"] for r in refs])
        np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-12)
        np.testing.assert_allclose(start_c, sum(r["start"] for r in refs), rtol=1e-11, atol=1e-14)
        ref_trans = sum(r["trans"] for r in refs)
        np.testing.assert_allclose(trans_c, ref_trans, rtol=1e-11, atol=1e-14)
        assert (trans_c[ref_trans == 0] == 0).all()
        # scoring only
        seq_ll2 = np.full(len(BF_LENGTHS), np.nan)
        _hmmc.forward_backward(implementation, np.ascontiguousarray(flp), offsets,
                               spec.startprob, spec.transmat, None, None, None,
                               seq_ll2, n_threads)
        np.testing.assert_allclose(seq_ll2, seq_ll, rtol=1e-13)

        states = np.full(X.shape[0], -1, dtype=np.int64)
        seq_lp = np.full(len(BF_LENGTHS), np.nan)
        _hmmc.viterbi(np.ascontiguousarray(flp), offsets, spec.startprob, spec.transmat,
                      states, seq_lp, n_threads)
        np.testing.assert_array_equal(states, np.concatenate([r["viterbi_path"] for r in refs]))
        np.testing.assert_allclose(seq_lp, [r["viterbi_logprob"] for r in refs], rtol=1e-13)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_brute_force_kernels_extreme_range(implementation):
    """Frame log-probabilities spanning ~1500 nats (far beyond exp's range),
    with and without structural zeros: the log kernels must stay exact; the
    scaling kernels must be exact or report an underflow."""
    lengths = (5, 1, 6, 2)
    k, n = 3, sum(lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n_checked = 0
    for seed in range(20):
        rng = np.random.RandomState(seed)
        flp = (rng.uniform(-1500, 0, size=(n, k)) * (rng.rand(n, k) < 0.6)
               - rng.uniform(0, 3, size=(n, k)))
        startprob, transmat = left_right_chain() if seed % 2 else dense_chain(rng, k)
        with np.errstate(divide="ignore"):
            log_start, log_trans = np.log(startprob), np.log(transmat)
        refs = [brute_force(log_start, log_trans, flp[a:b])
                for a, b in zip(offsets[:-1], offsets[1:])]
        post, start_c = np.empty((n, k)), np.empty(k)
        trans_c, seq_ll = np.empty((k, k)), np.empty(len(lengths))
        try:
            _hmmc.forward_backward(implementation, flp, offsets, startprob, transmat, post,
                                   start_c, trans_c, seq_ll, 1)
        except _hmmc.UnderflowError:
            assert implementation == "scaling"
            continue
        n_checked += 1
        ref_ll = np.array([r["loglik"] for r in refs])
        # the brute-force path sums carry ~|log p| * eps absolute error
        np.testing.assert_allclose(seq_ll, ref_ll, rtol=1e-13, atol=1e-12, err_msg=f"seed {seed}")
        np.testing.assert_allclose(post, np.concatenate([r["posteriors"] for r in refs]),
                                   rtol=0, atol=1e-11, err_msg=f"seed {seed}")
        ref_trans = sum(r["trans"] for r in refs)
        np.testing.assert_allclose(trans_c, ref_trans, rtol=0, atol=1e-11 * ref_trans.max(),
                                   err_msg=f"seed {seed}")
        assert (trans_c[ref_trans == 0] == 0).all()
        states, seq_lp = np.empty(n, dtype=np.int64), np.empty(len(lengths))
        _hmmc.viterbi(flp, offsets, startprob, transmat, states, seq_lp, 1)
        np.testing.assert_array_equal(states, np.concatenate([r["viterbi_path"] for r in refs]))
        np.testing.assert_allclose(seq_lp, [r["viterbi_logprob"] for r in refs], rtol=1e-13)
    assert n_checked >= 10


def fb_one_sequence(implementation, flp, startprob, transmat):
    """The kernels on one sequence: (posteriors, start counts, transition
    counts, log-likelihood), or None where 'scaling' reports an underflow."""
    T, k = flp.shape
    post, start_c = np.empty((T, k)), np.empty(k)
    trans_c, seq_ll = np.empty((k, k)), np.empty(1)
    try:
        _hmmc.forward_backward(implementation, flp, np.array([0, T], dtype=np.int64),
                               startprob, transmat, post, start_c, trans_c, seq_ll, 1)
    except _hmmc.UnderflowError:
        assert implementation == "scaling"
        return None
    return post, start_c, trans_c, seq_ll[0]


def check_two_constant_paths(implementation, flp, startprob):
    """Two states that never switch (transmat = I): only the two constant
    paths have probability, so the answer has a closed form; it must be
    exact, or (scaling only) the underflow error."""
    T, k = flp.shape
    transmat = np.eye(k)
    path_ll = np.log(startprob) + flp.sum(axis=0)
    ref_ll = logsumexp(path_ll)
    ref_gamma = np.exp(path_ll - ref_ll)
    got = fb_one_sequence(implementation, flp, startprob, transmat)
    if got is None:
        return
    post, start_c, trans_c, ll = got
    assert rel_err(ll, ref_ll) < 1e-13
    np.testing.assert_allclose(post, np.tile(ref_gamma, (T, 1)), rtol=0, atol=1e-13)
    np.testing.assert_allclose(start_c, ref_gamma, rtol=0, atol=1e-13)
    np.testing.assert_allclose(trans_c, np.diag(ref_gamma) * (T - 1), rtol=1e-12, atol=1e-13)
    score_ll = np.empty(1)
    _hmmc.forward_backward(implementation, flp, np.array([0, T], dtype=np.int64), startprob,
                           transmat, None, None, None, score_ll, 1)
    assert rel_err(score_ll[0], ref_ll) < 1e-13


@pytest.mark.parametrize("n_after", [5, 20, 40, 120])
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_flushed_lineage_that_later_dominates(implementation, n_after):
    """Frame 0 favours state 0 by 800 nats, so relative to the frame's best
    emission state 1's mass is exp(-800): zero in linear space. Every later
    frame favours state 1 by 10 nats, so after 80 of them state 1's path is
    the likelier one, while no single step loses much mass. A linear-space
    pass would silently lose state 1."""
    flp = np.zeros((1 + n_after, 2))
    flp[0] = [0.0, -800.0]
    flp[1:] = [-10.0, 0.0]
    check_two_constant_paths(implementation, flp, np.array([0.3, 0.7]))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_lineage_flushed_in_both_passes(implementation):
    """As above, but the second chain also falls 710 nats behind late in the
    sequence, where a linear backward pass would flush it too: the check on
    the backward values must still see that its future dominates."""
    rows = [[0.0, 0.0], [0.0, -710.0]] + [[-100.0, 0.0]] * 20 + [[0.0, -710.0]]
    rows += [[-100.0, 0.0]] * 2
    check_two_constant_paths(implementation, np.array(rows), np.array([0.5, 0.5]))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_impossible_sequence_is_reported_as_such(implementation):
    """A sequence no state path can produce (a left-right chain asked to go
    back): both implementations score it -inf and refuse it for fitting
    with the 'zero probability' error, never the scaled pass's underflow."""
    startprob, transmat = left_right_chain()
    k = startprob.shape[0]
    flp = np.full((3, k), -np.inf)
    flp[0, 1], flp[1, 2], flp[2, 0] = 0.0, 0.0, 0.0  # needs 1 -> 2 -> 0
    flp[0, 0] = -5.0
    offsets = np.array([0, 3], dtype=np.int64)
    seq_ll = np.empty(1)
    with pytest.raises(_hmmc.ImpossibleSequenceError):
        _hmmc.forward_backward(implementation, flp, offsets, startprob, transmat,
                               np.empty((3, k)), np.empty(k), np.empty((k, k)), seq_ll, 1)
    with pytest.raises(_hmmc.ImpossibleSequenceError):
        _hmmc.forward_backward(implementation, flp, offsets, startprob, transmat, None, None,
                               None, seq_ll, 1)
    assert seq_ll[0] == -np.inf


# Cases where the log-space code's own linear sums used to drop an exp term
# flushed below e^-708 that was as large as what they kept (the forward sum,
# and the expected transitions); the scaled pass sends both to that code.
LOG_SPACE_EDGE_CASES = {
    "forward-sum": ([1 / 3, 1 / 3, 1 / 3],
                    [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]],
                    [[0.0, -707.0, -708.5], [-2000.0, -2000.0, 0.0]]),
    "transition-counts": ([0.5, 0.5, 0.0],
                          [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]],
                          [[0.0, -709.0, 0.0], [-699.0, -1000.0, 0.0]]),
}


@pytest.mark.parametrize("case", sorted(LOG_SPACE_EDGE_CASES))
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_log_space_sums_keep_flushed_terms(implementation, case):
    startprob, transmat, flp = (np.array(a, dtype=float) for a in LOG_SPACE_EDGE_CASES[case])
    with np.errstate(divide="ignore"):
        ref = brute_force(np.log(startprob), np.log(transmat), flp)
    got = fb_one_sequence(implementation, flp, startprob, transmat)
    if got is None:
        return
    post, _, trans_c, ll = got
    assert rel_err(ll, ref["loglik"]) < 1e-13
    np.testing.assert_allclose(post, ref["posteriors"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(trans_c, ref["trans"], rtol=0, atol=1e-12)
    assert trans_c.sum() == pytest.approx(flp.shape[0] - 1, rel=1e-12)


@pytest.mark.parametrize("x0", [38.0, 38.4, 38.55, 38.6])
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_brute_force_reachable_mass_below_dbl_min(implementation, x0):
    """A left-right GaussianHMM (start state 0, unit variances, means 0, 40,
    80) whose first frame x0 is 720-744 nats more likely under state 1, which
    the chain cannot start in, than under state 0. Relative to the frame's
    best emission the reachable mass is exp(-720..-744), below DBL_MIN.
    The answer must be exact, or (scaling only) a ValueError pointing to
    'log' as for any other underflow; hmmlearn's scaling raises here."""
    startprob, transmat = left_right_chain()
    means, covars = np.array([[0.0], [40.0], [80.0]]), np.ones((3, 1))
    spec = Spec("GaussianHMM", "diag", startprob, transmat, means, covars,
                covars[:, :, None].copy())
    X = np.array([[x0], [40.0], [41.0], [80.0], [0.5], [39.0]])
    lengths = [4, 2]
    refs, _ = brute_force_all(spec, X, lengths)
    m = spec.build(GaussianHMM, implementation=implementation)
    try:
        logprob, post = m.score_samples(X, lengths)
    except ValueError as exc:
        assert implementation == "scaling" and "'log'" in str(exc)
        return
    expected = sum(r["loglik"] for r in refs)
    assert logprob == pytest.approx(expected, rel=1e-12), (
        f"implementation={implementation!r} x0={x0}: score {logprob!r}, "
        f"brute force {expected!r} (error {logprob - expected:.3g})")
    assert m.score(X, lengths) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(post, np.concatenate([r["posteriors"] for r in refs]),
                               rtol=0, atol=1e-12)
    vit, path = m.decode(X, lengths)
    np.testing.assert_array_equal(path, np.concatenate([r["viterbi_path"] for r in refs]))
    assert vit == pytest.approx(sum(r["viterbi_logprob"] for r in refs), rel=1e-12)


def left_right_data(rng, d, lengths):
    startprob, transmat = left_right_chain()
    centres = np.array([[0.0] * d, [4.0] * d, [8.0] * d])[:, :d]
    xs = []
    for n in lengths:
        s = rng.choice(3, p=startprob)
        for _ in range(n):
            xs.append(centres[s] + rng.standard_normal(d))
            s = rng.choice(3, p=transmat[s])
    return np.array(xs)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_structural_zeros_stay_zero(implementation, model, cov_type):
    rng = np.random.RandomState(_case_seed("z", model, cov_type))
    lengths = [30, 1, 20, 12, 2]
    X = left_right_data(rng, 2, lengths)
    spec = random_spec(rng, model, cov_type, 3, 2, chain="left-right")
    spec.means = spec.means + (np.array([0.0, 4.0, 8.0])[:, None] if model == "GaussianHMM"
                               else np.array([0.0, 4.0, 8.0])[:, None, None])
    m = spec.build(model_class(model), implementation=implementation, n_iter=6, tol=0)
    m.fit(X, lengths)
    assert m.monitor_.iter == 6
    zero_t = spec.transmat == 0
    zero_s = spec.startprob == 0
    assert (m.transmat_[zero_t] == 0).all(), m.transmat_
    assert (m.startprob_[zero_s] == 0).all(), m.startprob_
    assert (m.transmat_[~zero_t] > 0).all() and (m.startprob_[~zero_s] > 0).all()
    np.testing.assert_allclose(m.transmat_.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # decoding respects the structure
    _, path = m.decode(X, lengths)
    bounds = np.cumsum([0] + lengths)
    for a, b in zip(bounds[:-1], bounds[1:]):
        assert path[a] == 0 and (np.diff(path[a:b]) >= 0).all()
    post = m.predict_proba(X, lengths)
    assert (post[bounds[:-1], 1:] == 0).all()


# ------------------------------------------------ published known answer
# Wikipedia, "Viterbi algorithm" / "Forward algorithm": states Rainy, Sunny;
# observations walk, shop, clean.
RAINY, SUNNY = 0, 1
WALK, SHOP, CLEAN = 0, 1, 2
W_START = ("0.6", "0.4")
W_TRANS = (("0.7", "0.3"), ("0.4", "0.6"))
W_EMIT = (("0.1", "0.4", "0.5"), ("0.6", "0.3", "0.1"))
W_OBS = (WALK, SHOP, CLEAN)


def weather_exact():
    """Forward probability, Viterbi path/probability and posteriors in exact
    rational arithmetic."""
    pi = [Fraction(p) for p in W_START]
    a = [[Fraction(p) for p in row] for row in W_TRANS]
    b = [[Fraction(p) for p in row] for row in W_EMIT]
    n, k = len(W_OBS), 2
    alpha = [[pi[j] * b[j][W_OBS[0]] for j in range(k)]]
    for t in range(1, n):
        alpha.append([sum(alpha[-1][i] * a[i][j] for i in range(k)) * b[j][W_OBS[t]]
                      for j in range(k)])
    beta = [[Fraction(1)] * k]
    for t in range(n - 2, -1, -1):
        beta.insert(0, [sum(a[i][j] * b[j][W_OBS[t + 1]] * beta[0][j] for j in range(k))
                        for i in range(k)])
    total = sum(alpha[-1])
    post = [[alpha[t][j] * beta[t][j] / total for j in range(k)] for t in range(n)]
    best = max(itertools.product(range(k), repeat=n),
               key=lambda p: pi[p[0]] * b[p[0]][W_OBS[0]] * math.prod(
                   a[p[t - 1]][p[t]] * b[p[t]][W_OBS[t]] for t in range(1, n)))
    vit = pi[best[0]] * b[best[0]][W_OBS[0]]
    for t in range(1, n):
        vit *= a[best[t - 1]][best[t]] * b[best[t]][W_OBS[t]]
    return total, list(best), vit, post


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_weather_example(implementation, n_threads):
    total, best, vit, post_exact = weather_exact()
    # the published numbers, and the hand computation agree exactly
    assert total == Fraction("0.033612")
    assert vit == Fraction("0.01344")
    assert best == [SUNNY, RAINY, RAINY]
    # by hand: alpha_1 = (0.06, 0.24); alpha_2 = (0.138*0.4, 0.162*0.3)
    # = (0.0552, 0.0486); alpha_3 = (0.05808*0.5, 0.04572*0.1)
    assert (0.05808 * 0.5 + 0.04572 * 0.1) == pytest.approx(0.033612, rel=1e-15)
    assert (0.4 * 0.6) * (0.4 * 0.4) * (0.7 * 0.5) == pytest.approx(0.01344, rel=1e-15)

    startprob = np.array([float(p) for p in W_START])
    transmat = np.array([[float(p) for p in row] for row in W_TRANS])
    emit = np.array([[float(p) for p in row] for row in W_EMIT])
    flp = np.ascontiguousarray(np.log(emit[:, list(W_OBS)].T))
    offsets = np.array([0, len(W_OBS)], dtype=np.int64)

    post = np.empty((3, 2))
    start_c, trans_c, seq_ll = np.empty(2), np.empty((2, 2)), np.empty(1)
    _hmmc.forward_backward(implementation, flp, offsets, startprob, transmat, post,
                           start_c, trans_c, seq_ll, n_threads)
    assert np.exp(seq_ll[0]) == pytest.approx(0.033612, rel=1e-12, abs=0)
    assert seq_ll[0] == pytest.approx(np.log(0.033612), rel=1e-12, abs=0)
    np.testing.assert_allclose(post, [[float(p) for p in row] for row in post_exact],
                               rtol=1e-12)
    np.testing.assert_allclose(start_c, post[0], rtol=1e-12)
    seq_ll2 = np.empty(1)
    _hmmc.forward_backward(implementation, flp, offsets, startprob, transmat, None, None,
                           None, seq_ll2, n_threads)
    assert np.exp(seq_ll2[0]) == pytest.approx(0.033612, rel=1e-12, abs=0)

    states = np.empty(3, dtype=np.int64)
    seq_lp = np.empty(1)
    _hmmc.viterbi(flp, offsets, startprob, transmat, states, seq_lp, n_threads)
    assert states.tolist() == [SUNNY, RAINY, RAINY]
    assert np.exp(seq_lp[0]) == pytest.approx(0.01344, rel=1e-12, abs=0)

    # the same sequence three times with a length-1 one in between
    flp3 = np.ascontiguousarray(np.concatenate([flp, flp[:1], flp, flp]))
    offsets3 = np.array([0, 3, 4, 7, 10], dtype=np.int64)
    seq_ll3 = np.empty(4)
    _hmmc.forward_backward(implementation, flp3, offsets3, startprob, transmat, None, None,
                           None, seq_ll3, n_threads)
    np.testing.assert_allclose(np.exp(seq_ll3), [0.033612, 0.06 + 0.24, 0.033612, 0.033612],
                               rtol=1e-12)
    states3 = np.empty(10, dtype=np.int64)
    seq_lp3 = np.empty(4)
    _hmmc.viterbi(flp3, offsets3, startprob, transmat, states3, seq_lp3, n_threads)
    assert states3.tolist() == [1, 0, 0, 1, 1, 0, 0, 1, 0, 0]
    np.testing.assert_allclose(np.exp(seq_lp3), [0.01344, 0.24, 0.01344, 0.01344], rtol=1e-12)


# ------------------------------------------------------- hmmlearn agreement
HL_K, HL_D = 3, 2
HL_LENGTHS = [40, 1, 25, 7, 1, 12]
HL_ITER = 12
HL_CENTRES = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])


def hmmlearn_data():
    rng = np.random.RandomState(0)
    xs = []
    for n in HL_LENGTHS:
        s = rng.randint(HL_K)
        for _ in range(n):
            xs.append(HL_CENTRES[s] + rng.randn(HL_D))
            if rng.rand() < 0.2:
                s = rng.randint(HL_K)
    return np.array(xs)


def hmmlearn_spec(model, cov_type):
    k, d, m = HL_K, HL_D, N_MIX
    startprob = np.array([0.5, 0.3, 0.2])
    transmat = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    base = np.array([[1.5, 0.2], [0.2, 1.2]])
    if model == "GaussianHMM":
        means = HL_CENTRES + 0.3
        covars = {"diag": np.array([[1.5, 1.2], [1.0, 1.4], [1.3, 0.9]]),
                  "spherical": np.array([1.5, 1.1, 1.3]),
                  "full": np.stack([base, base * 1.1, base * 0.9]),
                  "tied": base}[cov_type]
        return Spec(model, cov_type, startprob, transmat, means, covars, None)
    means = np.stack([HL_CENTRES + 0.3, HL_CENTRES - 0.3], axis=1)
    weights = np.array([[0.6, 0.4], [0.5, 0.5], [0.3, 0.7]])
    covars = {"diag": np.ones((k, m, d)) * 1.5 + np.arange(m)[None, :, None] * 0.2,
              "spherical": np.ones((k, m)) * 1.5 + np.arange(m)[None, :] * 0.2,
              "full": np.stack([np.stack([base, base * 1.2])] * k),
              "tied": np.stack([base, base * 1.1, base * 0.9])}[cov_type]
    return Spec(model, cov_type, startprob, transmat, means, covars, None, weights)


def hmmlearn_priors(model, cov_type):
    k, d, m = HL_K, HL_D, N_MIX
    common = dict(startprob_prior=np.array([2.0, 3.0, 1.5]),
                  transmat_prior=np.array([[3.0, 1.5, 2.0], [1.2, 2.5, 1.8], [2.0, 2.0, 4.0]]))
    if model == "GaussianHMM":
        covars_prior = {"full": np.stack([0.4 * np.eye(d) + 0.1] * k),
                        "tied": 0.5 * np.eye(d) + 0.1,
                        "diag": np.array([[0.3, 0.5], [0.4, 0.2], [0.6, 0.3]]),
                        "spherical": np.array([[0.3, 0.5], [0.4, 0.2], [0.6, 0.3]])}[cov_type]
        return dict(common, means_prior=np.array([[0.5, -0.5], [3.0, 0.5], [0.0, 3.5]]),
                    means_weight=0.7, covars_prior=covars_prior, covars_weight=3.0)
    covars_prior, covars_weight = {
        "full": (np.broadcast_to(0.3 * np.eye(d), (k, m, d, d)).copy(),
                 np.array([[1.0, 2.0], [0.5, 1.5], [1.0, 1.0]])),
        "tied": (np.stack([0.4 * np.eye(d), 0.3 * np.eye(d) + 0.05, 0.5 * np.eye(d)]),
                 np.array([1.0, 2.0, 0.5])),
        "diag": (np.full((k, m, d), 0.5), np.full((k, m, d), 0.2)),
        "spherical": (np.array([[0.5, 1.0], [0.2, 0.8], [0.5, 0.5]]), np.full((k, m), 0.3)),
    }[cov_type]
    return dict(common, weights_prior=np.array([[2.0, 3.0], [1.5, 1.5], [4.0, 2.0]]),
                means_prior=np.stack([HL_CENTRES, HL_CENTRES + 0.5], axis=1),
                means_weight=np.array([[0.5, 1.0], [0.2, 0.3], [1.0, 0.1]]),
                covars_prior=covars_prior, covars_weight=covars_weight)


def hmmlearn_dense_covars(h, model, cov_type):
    """hmmlearn's fitted covariances in gmscore's covars_ layout."""
    if model == "GMMHMM":
        return np.asarray(h.covars_)
    cov = np.asarray(h._covars_)
    if cov_type == "spherical":
        # hmmlearn stores (K, D) after fitting and its covars_ getter then
        # returns K*D matrices; the first column is the variance.
        cov = cov[:, 0] if cov.ndim == 2 else cov
        return cov[:, None, None] * np.eye(HL_D)
    if cov_type == "diag":
        return cov[:, :, None] * np.eye(HL_D)
    if cov_type == "tied":
        return np.broadcast_to(cov, (HL_K, HL_D, HL_D))
    return cov


def fit_pair(model, cov_type, implementation, priors):
    hmm = pytest.importorskip("hmmlearn.hmm")
    X = hmmlearn_data()
    spec = hmmlearn_spec(model, cov_type)
    kwargs = dict(n_iter=HL_ITER, implementation=implementation)
    if priors:
        kwargs.update(hmmlearn_priors(model, cov_type))
    h = spec.build(getattr(hmm, model), tol=-np.inf, **kwargs)
    g = spec.build(model_class(model), tol=0, n_threads=2, **kwargs)
    h.fit(X, HL_LENGTHS)
    with warnings.catch_warnings():
        if priors:  # with priors a lower log-likelihood is legitimate
            warnings.simplefilter("ignore", LikelihoodDecreaseWarning)
        else:
            warnings.simplefilter("error", LikelihoodDecreaseWarning)
        g.fit(X, HL_LENGTHS)
    return X, spec, h, g


def assert_agree(X, model, cov_type, h, g, tol):
    assert len(g.monitor_.history) == len(h.monitor_.history) == HL_ITER
    assert rel_err(list(g.monitor_.history), list(h.monitor_.history)) < tol
    assert rel_err(g.startprob_, h.startprob_) < tol
    assert rel_err(g.transmat_, h.transmat_) < tol
    assert rel_err(g.means_, h.means_) < tol
    assert rel_err(g.covars_, hmmlearn_dense_covars(h, model, cov_type)) < tol
    if model == "GMMHMM":
        assert rel_err(g.weights_, h.weights_) < tol
    assert rel_err(g.score(X, HL_LENGTHS), h.score(X, HL_LENGTHS)) < tol
    g_ll, g_post = g.score_samples(X, HL_LENGTHS)
    h_ll, h_post = h.score_samples(X, HL_LENGTHS)
    assert rel_err(g_ll, h_ll) < tol
    np.testing.assert_allclose(g_post, h_post, rtol=0, atol=tol)
    g_vit, g_path = g.decode(X, HL_LENGTHS, algorithm="viterbi")
    h_vit, h_path = h.decode(X, HL_LENGTHS, algorithm="viterbi")
    np.testing.assert_array_equal(g_path, h_path)
    assert rel_err(g_vit, h_vit) < tol
    g_map, g_mpath = g.decode(X, HL_LENGTHS, algorithm="map")
    h_map, h_mpath = h.decode(X, HL_LENGTHS, algorithm="map")
    np.testing.assert_array_equal(g_mpath, h_mpath)
    assert rel_err(g_map, h_map) < tol


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_hmmlearn_agreement(implementation, model, cov_type):
    X, spec, h, g = fit_pair(model, cov_type, implementation, priors=False)
    # the fit moved the parameters, so the comparison is not vacuous
    assert rel_err(g.means_, spec.means) > 1e-3
    assert h.monitor_.history[-1] > h.monitor_.history[0]
    assert_agree(X, model, cov_type, h, g, 1e-9)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_hmmlearn_agreement_priors(implementation, model, cov_type):
    X, spec, h, g = fit_pair(model, cov_type, implementation, priors=True)
    # the priors matter: the result differs from the default-prior fit
    _, _, _, g0 = fit_pair(model, cov_type, implementation, priors=False)
    assert rel_err(g.transmat_, g0.transmat_) > 1e-3
    assert rel_err(g.covars_, g0.covars_) > 1e-3
    assert_agree(X, model, cov_type, h, g, 1e-9)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("model", MODELS)
def test_float32_input_matches_float64(model, cov_type):
    X = hmmlearn_data()
    spec = hmmlearn_spec(model, cov_type)
    fits = []
    for dtype in (np.float64, np.float32):
        g = spec.build(model_class(model), n_iter=HL_ITER, tol=0)
        with warnings.catch_warnings():
            if dtype == np.float32:
                # Past convergence (tol=0 keeps iterating) float32 emission
                # densities make the log-likelihood jitter by ~5e-6 here,
                # above the monitor's float64-based rounding allowance
                # (sqrt(eps) * |log L| ~ 4e-6), so a spurious
                # LikelihoodDecreaseWarning can appear. Not what this test checks.
                warnings.simplefilter("ignore", LikelihoodDecreaseWarning)
            else:
                warnings.simplefilter("error", LikelihoodDecreaseWarning)
            g.fit(X.astype(dtype), HL_LENGTHS)
        fits.append(g)
    g64, g32 = fits
    assert rel_err(list(g32.monitor_.history), list(g64.monitor_.history)) < 1e-4
    for name in ("startprob_", "transmat_", "means_", "covars_") + (
            ("weights_",) if model == "GMMHMM" else ()):
        np.testing.assert_allclose(getattr(g32, name), getattr(g64, name), rtol=1e-4,
                                   atol=1e-5, err_msg=name)
    X32 = X.astype(np.float32)
    assert rel_err(g32.score(X32, HL_LENGTHS), g64.score(X, HL_LENGTHS)) < 1e-4
    np.testing.assert_allclose(g32.predict_proba(X32, HL_LENGTHS),
                               g64.predict_proba(X, HL_LENGTHS), rtol=0, atol=1e-4)
    np.testing.assert_array_equal(g32.predict(X32, HL_LENGTHS), g64.predict(X, HL_LENGTHS))
