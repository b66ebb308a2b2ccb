"""Streaming HMM inference (gmscore.streaming) against independent references.

References: emission log-densities from scipy.stats.multivariate_normal
built from the model's parameters, a direct numpy forward pass in log space
(normalised forward variables = filtered probabilities), hmmlearn's
predict_proba / decode / score on prefixes (fixed-lag smoothing and
fixed-lag Viterbi), and the batch model methods.
"""
import copy
import io
import pickle

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GMMHMM, GaussianHMM
from gmscore.streaming import HMMFilter, ImpossibleObservationError

COV_TYPES = ("full", "tied", "diag", "spherical")
MODELS = ("GaussianHMM", "GMMHMM")


def _spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


def make_model(kind, cov_type, k=3, d=2, m=2, seed=0, cls_map=None):
    """A model with random parameters (no fitting) and the dense per-state
    (per-component) covariances for the scipy reference."""
    rng = np.random.default_rng(seed)
    cls_map = cls_map or {"GaussianHMM": GaussianHMM, "GMMHMM": GMMHMM}
    lead = (k,) if kind == "GaussianHMM" else (k, m)
    n = int(np.prod(lead))
    if cov_type == "spherical":
        compact = rng.uniform(0.4, 2.0, size=lead)
        dense = compact[..., None, None] * np.eye(d)
    elif cov_type == "diag":
        compact = rng.uniform(0.4, 2.0, size=lead + (d,))
        dense = compact[..., :, None] * np.eye(d)
    elif cov_type == "full":
        compact = np.stack([_spd(rng, d) for _ in range(n)]).reshape(lead + (d, d))
        dense = compact.copy()
    else:
        shared = lead[:-1]
        compact = np.stack([_spd(rng, d) for _ in range(int(np.prod(shared, dtype=int)))])
        compact = compact.reshape(shared + (d, d))
        dense = np.broadcast_to(compact[..., None, :, :] if kind == "GMMHMM" else compact,
                                lead + (d, d)).copy()
    kwargs = {"covariance_type": cov_type, "init_params": ""}
    if kind == "GMMHMM":
        kwargs["n_mix"] = m
    model = cls_map[kind](k, **kwargs)
    model.startprob_ = rng.dirichlet(np.full(k, 2.0))
    model.transmat_ = rng.dirichlet(np.full(k, 2.0), size=k)
    model.means_ = rng.normal(scale=1.5, size=lead + (d,))
    model.covars_ = compact
    weights = None
    if kind == "GMMHMM":
        weights = rng.dirichlet(np.full(m, 3.0), size=k)
        model.weights_ = weights
    return model, dense, weights


def frame_log_prob(model, dense, weights, X):
    k = model.n_components
    out = np.empty((X.shape[0], k))
    for s in range(k):
        if weights is None:
            out[:, s] = multivariate_normal(model.means_[s], dense[s]).logpdf(X).reshape(-1)
        else:
            comp = [np.log(weights[s, j])
                    + multivariate_normal(model.means_[s, j], dense[s, j]).logpdf(X).reshape(-1)
                    for j in range(weights.shape[1])]
            out[:, s] = logsumexp(np.array(comp), axis=0)
    return out


def numpy_forward(startprob, transmat, flp):
    """Filtered probabilities and per-frame log predictive densities, in
    log space (an independent formula)."""
    with np.errstate(divide="ignore"):
        la, ls = np.log(transmat), np.log(startprob)
    n, k = flp.shape
    filt, logpred = np.empty((n, k)), np.empty(n)
    prev = None
    for t in range(n):
        prior = ls if prev is None else logsumexp(prev[:, None] + la, axis=0)
        joint = prior + flp[t]
        logpred[t] = logsumexp(joint)
        prev = joint - logpred[t]
        filt[t] = np.exp(prev)
    return filt, logpred


def sample_X(model, n, seed):
    X, _ = model.sample(n, random_state=seed)
    return X


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_filter_matches_numpy_forward(kind, cov_type):
    model, dense, weights = make_model(kind, cov_type, seed=1)
    X = sample_X(model, 120, 3)
    ref, ref_lp = numpy_forward(model.startprob_, model.transmat_,
                                frame_log_prob(model, dense, weights, X))
    f = model.filter()
    p0 = f.update(X[0])
    rest, lp = f.update_many(X[1:], return_log_predictive=True)
    got = np.vstack([p0, rest])
    assert np.max(np.abs(got - ref)) < 1e-12
    assert np.max(np.abs(lp - ref_lp[1:])) < 1e-9 * np.max(np.abs(ref_lp))
    assert abs(f.log_likelihood - ref_lp.sum()) < 1e-10 * abs(ref_lp.sum())
    assert abs(f.log_predictive - ref_lp[-1]) < 1e-10 * abs(ref_lp[-1]) + 1e-12
    assert f.n_frames == 120
    # one frame at a time gives the same bits as the block
    g = model.filter()
    one = np.array([g.update(x) for x in X])
    assert np.array_equal(one, got)
    assert g.log_likelihood == f.log_likelihood


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_filter_vs_hmmlearn_prefixes(kind, cov_type):
    """Filtering = the batch posterior of the last frame of every prefix;
    fixed-lag smoothing = the batch posterior of frame t-lag of the prefix;
    log_likelihood = score of the prefix; fixed-lag Viterbi covering the
    stream = decode of the prefix."""
    hmm = pytest.importorskip("hmmlearn.hmm")
    cls_map = {"GaussianHMM": hmm.GaussianHMM, "GMMHMM": hmm.GMMHMM}
    model, _, _ = make_model(kind, cov_type, seed=2)
    ref, _, _ = make_model(kind, cov_type, seed=2, cls_map=cls_map)
    X = sample_X(model, 60, 4)
    f = model.filter(max_lag=59)
    for t in range(1, 61):
        probs = f.update(X[t - 1])
        post = ref.predict_proba(X[:t])
        assert np.max(np.abs(probs - post[-1])) < 1e-10
        for lag in sorted({0, 1, 5, t - 1}):
            if lag < t:
                assert np.max(np.abs(f.smoothed(lag) - post[t - 1 - lag])) < 1e-10
        assert abs(f.log_likelihood - ref.score(X[:t])) < 1e-9 * max(1.0, abs(f.log_likelihood))
        if t in (1, 2, 17, 60):
            _, path = ref.decode(X[:t], algorithm="viterbi")
            assert np.array_equal(f.viterbi_path(t - 1), path)
            assert f.viterbi_decision(t - 1) == path[0]


def test_fixed_lag_viterbi_with_short_lag_on_long_stream():
    """Decisions `lag` frames behind, the ring buffer wrapping many times:
    each equals the batch path of the prefix backtracked from its best end
    state (the numpy Viterbi of that prefix)."""
    model, dense, _ = make_model("GaussianHMM", "diag", k=4, d=2, seed=5)
    X = sample_X(model, 400, 6)
    flp = frame_log_prob(model, dense, None, X)
    f = model.filter(max_lag=8)
    with np.errstate(divide="ignore"):
        la, ls = np.log(model.transmat_), np.log(model.startprob_)
    delta, bps = ls + flp[0], []
    f.update(X[0])
    for t in range(1, 400):
        scores = delta[:, None] + la
        bps.append(scores.argmax(axis=0))
        delta = scores.max(axis=0) + flp[t]
        f.update(X[t])
        if t >= 8:
            path = [int(delta.argmax())]
            for bp in bps[::-1][:8]:
                path.append(int(bp[path[-1]]))
            assert np.array_equal(f.viterbi_path(8), path[::-1])
    assert f.n_frames == 400


@pytest.mark.parametrize("kind", MODELS)
def test_causal_predict_proba_every_sequence(kind):
    model, dense, weights = make_model(kind, "full", k=3, d=3, seed=7)
    lengths = [1, 50, 7, 120, 33]
    X = sample_X(model, sum(lengths), 8)
    flp = frame_log_prob(model, dense, weights, X)
    expected = np.vstack([numpy_forward(model.startprob_, model.transmat_, part)[0]
                          for part in np.split(flp, np.cumsum(lengths)[:-1])])
    for n_threads in (1, 2):
        model.n_threads = n_threads
        got = model.predict_proba(X, lengths, causal=True)
        assert got.shape == (X.shape[0], 3)
        assert np.max(np.abs(got - expected)) < 1e-12
        assert np.array_equal(model.predict(X, lengths, causal=True), got.argmax(axis=1))
    # causal differs from the smoothed posteriors except at each sequence's end
    smooth = model.predict_proba(X, lengths)
    ends = np.cumsum(lengths) - 1
    assert np.max(np.abs(smooth[ends] - got[ends])) < 1e-10
    assert np.max(np.abs(smooth - got)) > 1e-3
    # thread count does not change a bit
    model.n_threads = 1
    a = model.predict_proba(X, lengths, causal=True)
    model.n_threads = 2
    assert np.array_equal(a, model.predict_proba(X, lengths, causal=True))


def test_no_underflow_on_a_million_frames():
    model, _, _ = make_model("GaussianHMM", "diag", k=3, d=2, seed=9)
    X, _ = model.sample(1_000_000, random_state=10)
    X[::1000] += 40.0       # outliers: frames with tiny density under every state
    f = model.filter(max_lag=4)
    P = f.update_many(X)
    assert np.isfinite(P).all()
    assert np.max(np.abs(P.sum(axis=1) - 1.0)) < 1e-12
    total = model.score(X)
    assert np.isfinite(f.log_likelihood)
    assert abs(f.log_likelihood - total) < 1e-9 * abs(total)
    post = model.predict_proba(X[-2000:])      # the last frame's posterior is filtered
    tail = model.filter()
    tail.update_many(X[-2000:])
    assert np.max(np.abs(tail.probabilities - post[-1])) < 1e-12
    assert np.max(np.abs(model.predict_proba(X, causal=True)[-5:] - P[-5:])) < 1e-12


def test_impossible_observation_leaves_state_unchanged():
    model, _, _ = make_model("GaussianHMM", "diag", k=3, d=2, seed=11)
    X = sample_X(model, 30, 12)
    f = model.filter(max_lag=10)
    f.update_many(X[:20])
    before = f.get_state()
    huge = np.array([1e200, 0.0])   # density 0 under every state (overflow to -inf)
    with pytest.raises(ImpossibleObservationError, match="unchanged"):
        f.update(huge)
    with pytest.raises(ValueError, match="NaN"):
        f.update(np.array([np.nan, 0.0]))
    block = X[20:].copy()
    block[5] = huge
    with pytest.raises(ImpossibleObservationError, match="frame 5"):
        f.update_many(block)
    after = f.get_state()
    for name, value in before.items():
        assert np.array_equal(np.asarray(value), np.asarray(after[name]), equal_nan=True), name
    # and the stream goes on as if nothing happened
    g = model.filter(max_lag=10)
    g.update_many(X[:20])
    assert np.array_equal(f.update_many(X[20:]), g.update_many(X[20:]))


def test_structural_zeros_make_a_frame_impossible():
    """A chain with a state that can never be reached (zero start
    probability, no transitions into it): it never gets probability, and a
    frame only it could produce (density 0 under the reachable state: the
    quadratic form overflows) raises."""
    model = GaussianHMM(2, covariance_type="diag", init_params="")
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    model.means_ = np.array([[0.0], [1e160]])
    model.covars_ = np.array([[1.0], [1.0]])
    f = model.filter()
    p = f.update(np.array([0.5]))
    assert np.array_equal(p, [1.0, 0.0])
    state = f.get_state()
    # state 1 would explain it, but it has no mass: impossible
    with pytest.raises(ImpossibleObservationError):
        f.update(np.array([1e160]))
    assert np.array_equal(f.get_state()["alpha"], state["alpha"])
    with pytest.raises(ValueError, match="sequences \\[0\\]"):
        model.predict_proba(np.array([[0.5], [1e160]]), causal=True)


@pytest.mark.parametrize("kind", MODELS)
def test_checkpoint_restore_continuity(kind, tmp_path):
    model, _, _ = make_model(kind, "full", seed=13)
    X = sample_X(model, 200, 14)
    whole = model.filter(max_lag=16)
    P = whole.update_many(X)
    f = model.filter(max_lag=16)
    f.update_many(X[:90])
    path = tmp_path / "stream.npz"
    f.save(path)
    clones = [HMMFilter.load(path), pickle.loads(pickle.dumps(f)), copy.deepcopy(f),
              f.copy()]
    buf = io.BytesIO()
    f.save(buf)
    buf.seek(0)
    clones.append(HMMFilter.load(buf))
    for c in clones:
        assert c.n_frames == 90 and c.max_lag == 16
        assert np.array_equal(c.update_many(X[90:]), P[90:])
        assert c.log_likelihood == whole.log_likelihood
        assert np.array_equal(c.smoothed(16), whole.smoothed(16))
        assert np.array_equal(c.viterbi_path(16), whole.viterbi_path(16))
    assert f.n_frames == 90   # clones are independent
    f.reset()
    assert f.n_frames == 0 and f.log_likelihood == 0.0
    assert np.array_equal(f.update_many(X), P)


def test_load_rejects_tampered_state(tmp_path):
    model, _, _ = make_model("GaussianHMM", "diag", seed=15)
    f = model.filter(max_lag=4)
    f.update_many(sample_X(model, 10, 16))
    path = tmp_path / "f.npz"
    f.save(path)
    with np.load(path) as z:
        data = {n: z[n] for n in z.files}
    data["ring_bp"] = data["ring_bp"] + 7
    bad = tmp_path / "bad.npz"
    np.savez(bad, **data)
    with pytest.raises(ValueError, match="invalid values"):
        HMMFilter.load(bad)
    np.savez(bad, **{**data, "format": np.array("nope")})
    with pytest.raises(ValueError, match="not a gmscore filter file"):
        HMMFilter.load(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError):
        HMMFilter.load(tmp_path / "junk.npz")


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_predict_states_and_forecast(kind, cov_type):
    model, dense, weights = make_model(kind, cov_type, seed=17)
    X = sample_X(model, 40, 18)
    f = model.filter()
    assert np.allclose(f.predict_states(1), model.startprob_, atol=0, rtol=1e-15)
    f.update_many(X[:39])
    alpha = f.probabilities
    A = model.transmat_
    assert np.array_equal(f.predict_states(0), alpha)
    assert np.max(np.abs(f.predict_states(3) - alpha @ A @ A @ A)) < 1e-15
    gm = f.forecast(1)
    # p(x_{t+1} | x_1..t) from the mixture = the log predictive of the next update
    expected = logsumexp(np.log(alpha @ A) + frame_log_prob(model, dense, weights, X[39:]))
    assert abs(gm.score_samples(X[39:])[0] - expected) < 1e-10 * abs(expected)
    f.update(X[39])
    assert abs(f.log_predictive - expected) < 1e-10 * abs(expected)
    gm5 = f.forecast(5)
    assert gm5.sample(7)[0].shape == (7, X.shape[1])
    w = f.predict_states(5)
    if weights is not None:
        w = (w[:, None] * weights).ravel()
    assert np.max(np.abs(gm5.weights_ - w)) < 1e-14


def test_bad_arguments():
    model, _, _ = make_model("GaussianHMM", "diag", seed=19)
    f = model.filter(max_lag=3)
    with pytest.raises(ValueError, match="features"):
        f.update(np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        f.update_many(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="before the first frame"):
        f.smoothed(0)
    f.update_many(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="max_lag"):
        f.smoothed(4)
    with pytest.raises(ValueError, match="lag"):
        f.viterbi_path(-1)
    with pytest.raises(ValueError, match="h must"):
        f.forecast(0)
    with pytest.raises(ValueError, match="max_lag"):
        model.filter(max_lag=-1)
    with pytest.raises(ValueError, match="not fitted"):
        GaussianHMM(2).filter()
    # list input and (1, D) frames are accepted; the filter ignores later
    # changes to the model it was made from
    g = model.filter()
    p = g.update([0.1, 0.2])
    model.transmat_ = np.eye(3)
    assert np.array_equal(g.update(np.array([[0.1, 0.2]])), f.copy().reset().update_many(
        np.array([[0.1, 0.2], [0.1, 0.2]]))[1])
    assert p.shape == (3,)


def test_decode_false_skips_only_the_viterbi_recursion(tmp_path):
    model, _, _ = make_model("GMMHMM", "diag", seed=21)
    X = sample_X(model, 80, 22)
    a, b = model.filter(max_lag=8), model.filter(max_lag=8, decode=False)
    assert np.array_equal(a.update_many(X), b.update_many(X))
    assert np.array_equal(a.smoothed(8), b.smoothed(8))
    assert a.log_likelihood == b.log_likelihood
    with pytest.raises(ValueError, match="decode=False"):
        b.viterbi_path(3)
    b.save(tmp_path / "b.npz")
    for c in (HMMFilter.load(tmp_path / "b.npz"), pickle.loads(pickle.dumps(b)), b.copy()):
        assert c.decode is False and c.n_frames == 80
        assert np.array_equal(c.smoothed(8), b.smoothed(8))


def test_module_docstring_example_runs():
    import doctest

    import gmscore.streaming as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


class _PoissonHMM:
    """A minimal user-defined emission (hmmlearn's subclassing protocol)."""

    def _check(self):
        super()._check()
        self.lambdas_ = np.asarray(self.lambdas_, dtype=float)

    def _compute_log_likelihood(self, X):
        from scipy.stats import poisson

        return np.stack([poisson.logpmf(X, lam).sum(axis=1) for lam in self.lambdas_],
                        axis=1)


def test_causal_posteriors_of_a_custom_hmm():
    """predict_proba(causal=True) runs on any BaseHMM's frame
    log-likelihoods; the filter object and partial_fit need the Gaussian
    families and say so."""
    from scipy.stats import poisson

    import gmscore

    cls = type("PoissonHMM", (_PoissonHMM, gmscore.BaseHMM), {})
    rng = np.random.default_rng(23)
    model = cls(n_components=3, init_params="")
    model.startprob_ = rng.dirichlet(np.ones(3))
    model.transmat_ = rng.dirichlet(np.ones(3), size=3)
    model.lambdas_ = rng.uniform(1.0, 10.0, (3, 2))
    model.n_features = 2
    X = rng.poisson(4.0, size=(90, 2))
    lengths = [40, 50]
    flp = np.stack([poisson.logpmf(X, lam).sum(axis=1) for lam in model.lambdas_], axis=1)
    expected = np.vstack([numpy_forward(model.startprob_, model.transmat_, part)[0]
                          for part in (flp[:40], flp[40:])])
    got = model.predict_proba(X, lengths, causal=True)
    assert np.max(np.abs(got - expected)) < 1e-12
    with pytest.raises(TypeError, match="GaussianHMM and GMMHMM"):
        model.filter()
    with pytest.raises(TypeError, match="ChainStats"):
        model.partial_fit(X, lengths)
