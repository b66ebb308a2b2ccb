"""The Viterbi kernel (gmscore._hmmc.viterbi, src_c/gms_hmm_viterbi.c)
against a plain numpy Viterbi, bit for bit.

The reference does, frame by frame, what the recursion's definition says:
every candidate sum delta_{t-1}(i) + log A(i, j) is one float addition, the
back-pointer is the first i reaching the maximum (np.argmax),
delta_t(j) = that maximum + f_t(j), and the path ends in the
first maximal state. log A and log pi are taken with math.log (libm, as the
kernel), -inf where the probability is 0. With the same additions in the
same order the kernel has to give exactly the same states and
log-probabilities: for ties, -inf entries, K = 1, T = 1, K not a multiple
of the vector width, K > 256 (16-bit back-pointers), sequences of different
lengths (two run in lockstep), long sequences and any thread count.
"""
import math

import numpy as np
import pytest

from gmscore import GMMHMM, GaussianHMM, _hmmc


def log_or_ninf(p):
    p = np.asarray(p, dtype=np.float64)
    return np.array([math.log(x) if x > 0 else -math.inf for x in p.ravel()]).reshape(p.shape)


def viterbi_reference(flp, offsets, startprob, transmat):
    """(states, per-sequence log-probabilities) by the textbook recursion."""
    log_pi, log_a = log_or_ninf(startprob), log_or_ninf(transmat)
    states = np.empty(len(flp), dtype=np.int64)
    seq_lp = np.empty(len(offsets) - 1)
    for s in range(len(offsets) - 1):
        f = flp[offsets[s]:offsets[s + 1]]
        n_frames, k = f.shape
        delta = log_pi + f[0]
        back = np.zeros((n_frames, k), dtype=np.int64)
        for t in range(1, n_frames):
            sums = delta[:, None] + log_a            # one addition per candidate
            back[t] = np.argmax(sums, axis=0)         # the first maximum
            delta = sums[back[t], np.arange(k)] + f[t]
        last = 0
        for j in range(1, k):                         # the first maximum
            if delta[j] > delta[last]:
                last = j
        seq_lp[s] = delta[last]
        path = [last]
        for t in range(n_frames - 1, 0, -1):
            path.append(back[t][path[-1]])
        states[offsets[s]:offsets[s + 1]] = path[::-1]
    return states, seq_lp


def run_kernel(flp, offsets, startprob, transmat, n_threads=1):
    states = np.empty(len(flp), dtype=np.int64)
    seq_lp = np.empty(len(offsets) - 1)
    _hmmc.viterbi(np.ascontiguousarray(flp, dtype=np.float64), np.asarray(offsets, np.int64),
                  np.ascontiguousarray(startprob, dtype=np.float64),
                  np.ascontiguousarray(transmat, dtype=np.float64), states, seq_lp, n_threads)
    return states, seq_lp


def assert_same(got, ref):
    np.testing.assert_array_equal(got[0], ref[0])
    # bit for bit, -inf included
    np.testing.assert_array_equal(got[1].view(np.int64), ref[1].view(np.int64))


def random_case(rng, k, lengths, kind="random"):
    n = int(np.sum(lengths))
    flp = rng.normal(scale=3.0, size=(n, k))
    startprob = rng.dirichlet(np.ones(k))
    transmat = rng.dirichlet(np.ones(k), size=k)
    if kind == "ties":            # whole numbers and uniform probabilities: many equal sums
        flp = np.round(flp)
        startprob = np.full(k, 1.0 / k)
        transmat = np.full((k, k), 1.0 / k)
    elif kind == "zeros":         # structural zeros and impossible emissions
        transmat[rng.random((k, k)) < 0.5] = 0.0
        transmat[np.arange(k), np.arange(k)] += 1e-3
        transmat /= transmat.sum(axis=1, keepdims=True)
        startprob[rng.random(k) < 0.5] = 0.0
        startprob[0] += 1e-3
        startprob /= startprob.sum()
        flp[rng.random(flp.shape) < 0.2] = -np.inf
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return flp, offsets, startprob, transmat


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 40])
@pytest.mark.parametrize("kind", ["random", "ties", "zeros"])
def test_kernel_matches_reference_bitwise(k, kind):
    rng = np.random.default_rng(1000 * k + len(kind))
    # lengths 1 (T = 1), unequal neighbours (lockstep pairs end apart), odd count
    lengths = [1, 37, 5, 1, 60, 2, 23]
    case = random_case(rng, k, lengths, kind)
    ref = viterbi_reference(*case)
    assert_same(run_kernel(*case), ref)


@pytest.mark.parametrize("k", [257, 300])
def test_wide_models_use_wide_back_pointers(k):
    # K > 256 needs 16-bit back-pointers: a path through states >= 256
    rng = np.random.default_rng(k)
    flp, offsets, startprob, transmat = random_case(rng, k, [6, 3])
    flp[:, 256:] += 10.0    # make the high states win
    ref = viterbi_reference(flp, offsets, startprob, transmat)
    assert ref[0].max() >= 256
    assert_same(run_kernel(flp, offsets, startprob, transmat), ref)


def test_ties_go_to_the_lowest_state():
    # every path has the same probability: all back-pointers and the end are state 0
    k = 5
    flp = np.zeros((7, k))
    states, seq_lp = run_kernel(flp, [0, 7], np.full(k, 1.0 / k), np.full((k, k), 1.0 / k))
    np.testing.assert_array_equal(states, np.zeros(7, dtype=np.int64))
    assert seq_lp[0] == pytest.approx(7 * math.log(1.0 / k), rel=1e-14)


def test_long_sequence_and_many_sequences():
    rng = np.random.default_rng(7)
    case = random_case(rng, 8, [5000])
    assert_same(run_kernel(*case), viterbi_reference(*case))
    lengths = rng.integers(1, 40, size=61)
    case = random_case(rng, 6, lengths)
    assert_same(run_kernel(*case), viterbi_reference(*case))


@pytest.mark.parametrize("k", [4, 8, 16, 20])
def test_thread_count_changes_nothing(k):
    rng = np.random.default_rng(k)
    case = random_case(rng, k, rng.integers(1, 200, size=15), "ties")
    one = run_kernel(*case, n_threads=1)
    for n_threads in (2, 3, 8):
        assert_same(run_kernel(*case, n_threads=n_threads), one)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("k", [3, 8, 16, 21])
@pytest.mark.parametrize("where", [(0, 0), (13, 1), (19, 2)])   # first, inner, last frame
def test_nan_or_inf_frame_is_an_error(bad, k, where):
    rng = np.random.default_rng(4)
    flp, offsets, startprob, transmat = random_case(rng, k, [10, 10])
    flp[where] = bad
    with pytest.raises(FloatingPointError, match="NaN or \\+inf"):
        run_kernel(flp, offsets, startprob, transmat)


def test_inf_probability_is_an_error():
    rng = np.random.default_rng(5)
    flp, offsets, startprob, transmat = random_case(rng, 3, [4])
    transmat[1, 2] = np.inf
    with pytest.raises(FloatingPointError, match="NaN or \\+inf"):
        run_kernel(flp, offsets, startprob, transmat)


def test_impossible_sequence_is_minus_inf():
    # state 1 is never entered and frame 2 only allows state 1: no path
    k = 2
    flp = np.zeros((4, k))
    flp[2, 0] = -np.inf
    transmat = np.array([[1.0, 0.0], [0.5, 0.5]])
    states, seq_lp = run_kernel(flp, [0, 4], np.array([1.0, 0.0]), transmat)
    assert seq_lp[0] == -np.inf
    assert states.min() >= 0 and states.max() < k


@pytest.mark.parametrize("model", ["GaussianHMM", "GMMHMM"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_decode_is_the_reference_on_the_models_log_likelihoods(model, covariance_type, dtype):
    rng = np.random.default_rng(11)
    lengths = [50, 1, 31, 18]
    X = np.concatenate([rng.normal(size=(n, 3)) + 3.0 * (np.arange(n) % 3 == 0)[:, None]
                        for n in lengths]).astype(dtype)
    kw = dict(n_components=3, covariance_type=covariance_type, n_iter=3, random_state=0)
    est = GaussianHMM(**kw) if model == "GaussianHMM" else GMMHMM(n_mix=2, **kw)
    est.fit(X, lengths)
    flp, _ = est._frame_log_likelihood(X, 1)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    states_ref, lp_ref = viterbi_reference(flp, offsets, est.startprob_, est.transmat_)
    for n_threads in (1, 2):
        est.set_params(n_threads=n_threads)
        log_prob, states = est.decode(X, lengths, algorithm="viterbi")
        np.testing.assert_array_equal(states, states_ref)
        assert log_prob == pytest.approx(float(lp_ref.sum()), rel=1e-13, abs=0)


# ------------------------------------------- decode without a finiteness pass
@pytest.mark.parametrize("ct", ["diag", "full", "tied", "spherical"])
@pytest.mark.parametrize("n_mix", [None, 2])
def test_decode_names_nan_and_infinity_in_X(ct, n_mix):
    """Gaussian decode skips the up-front scan of X: a NaN / infinite entry
    shows in the frame log-likelihoods, and X is checked then, so the error
    is the usual one, and the model is left as it was."""
    rng = np.random.RandomState(0)
    X, lengths = rng.randn(300, 3), [100, 200]
    model = (GaussianHMM(3, covariance_type=ct, n_iter=2, random_state=0) if n_mix is None
             else GMMHMM(2, n_mix=n_mix, covariance_type=ct, n_iter=2, random_state=0))
    model.fit(X, lengths)
    before = {k: np.copy(v) for k, v in vars(model).items() if isinstance(v, np.ndarray)}
    for bad, message in ((np.inf, "infinity"), (-np.inf, "infinity"), (np.nan, "NaN")):
        for row, col in ((0, 0), (150, 2), (299, 1)):
            Y = X.copy()
            Y[row, col] = bad
            with pytest.raises(ValueError, match=f"Input X contains {message}"):
                model.decode(Y, lengths)
    Y = X.copy()
    Y[5, :2] = [np.inf, -np.inf]
    with pytest.raises(ValueError, match="Input X contains"):
        model.decode(Y, lengths)
    for k, v in before.items():
        assert np.array_equal(getattr(model, k), v), k
    # an impossible path is no error: -inf, as before
    model.transmat_ = np.eye(model.n_components)
    model.startprob_ = np.eye(model.n_components)[0]
    huge = X.copy()
    huge[:, 0] = 1e200          # finite, but every state's log-density overflows to -inf
    log_prob, _ = model.decode(huge, lengths)
    assert log_prob == -np.inf
