"""The categorical chain kernel (_hmmc.categorical_fb_into), which looks the
symbols up in a per-call emission table instead of reading an N x K
framelogprob: bit for bit the framelogprob kernel on the same rows, and a
direct log-space numpy forward-backward as the independent reference."""
import numpy as np
import pytest
from scipy.special import logsumexp

from gmscore import CategoricalHMM, _discretec, _hmmc


def _problem(k, n_symbols, n_seq, length, seed):
    rs = np.random.RandomState(seed)
    B = rs.dirichlet(np.full(n_symbols, 0.5), k)
    if k > 3:               # impossible emissions: -inf entries in the table
        B[1, :2] = 0.0
        B[1] /= B[1].sum()
    n = n_seq * length
    X = rs.randint(0, n_symbols, (n, 1)).astype(np.float64)
    with np.errstate(divide="ignore"):
        log_bt = np.ascontiguousarray(np.log(B).T)
    offsets = np.arange(0, n + 1, length, dtype=np.int64)
    pi = rs.dirichlet(np.ones(k))
    A = rs.dirichlet(np.ones(k), k)
    return X, log_bt, offsets, pi, A


def _both(X, log_bt, offsets, pi, A, implementation, n_threads):
    k = log_bt.shape[1]
    n, n_seq = X.shape[0], len(offsets) - 1
    flp = np.empty((n, k))
    _discretec.categorical_loglik(X, log_bt, flp, n_threads)
    out = []
    for fused in (False, True):
        red = _hmmc.chain_reducer(k)
        post, seq_ll = np.empty((n, k)), np.empty(n_seq)
        if fused:
            _hmmc.categorical_fb_into(red, implementation, X, log_bt, offsets, pi, A, post,
                                      seq_ll, n_threads)
        else:
            _hmmc.forward_backward_into(red, implementation, flp, offsets, pi, A, post,
                                        seq_ll, n_threads)
        out.append((post, seq_ll, red.total()))
    return out


def _reference(X, log_bt, offsets, pi, A):
    """Log-space forward-backward, one sequence at a time, in numpy."""
    k = log_bt.shape[1]
    with np.errstate(divide="ignore"):
        log_pi, log_A = np.log(pi), np.log(A)
    posts, lls, trans = [], [], np.zeros((k, k))
    start = np.zeros(k)
    for s in range(len(offsets) - 1):
        f = log_bt[X[offsets[s]:offsets[s + 1], 0].astype(int)]
        T = f.shape[0]
        la, lb = np.empty((T, k)), np.zeros((T, k))
        la[0] = log_pi + f[0]
        for t in range(1, T):
            la[t] = logsumexp(la[t - 1][:, None] + log_A, axis=0) + f[t]
        for t in range(T - 2, -1, -1):
            lb[t] = logsumexp(log_A + (f[t + 1] + lb[t + 1])[None, :], axis=1)
        ll = logsumexp(la[-1])
        posts.append(np.exp(la + lb - ll))
        lls.append(ll)
        start += posts[-1][0]
        for t in range(T - 1):
            trans += np.exp(la[t][:, None] + log_A + (f[t + 1] + lb[t + 1])[None, :] - ll)
    return np.concatenate(posts), np.array(lls), start, trans


@pytest.mark.parametrize("k,n_symbols", [(1, 3), (3, 2), (5, 4), (8, 6), (10, 30), (16, 7),
                                         (20, 50)])
@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_same_bits_as_the_framelogprob_kernel(k, n_symbols, implementation, n_threads):
    X, log_bt, offsets, pi, A = _problem(k, n_symbols, 7, 150, seed=k)
    (p0, l0, t0), (p1, l1, t1) = _both(X, log_bt, offsets, pi, A, implementation, n_threads)
    np.testing.assert_array_equal(p1, p0)
    np.testing.assert_array_equal(l1, l0)
    np.testing.assert_array_equal(t1, t0)


@pytest.mark.parametrize("k,n_symbols", [(3, 2), (10, 30), (16, 7)])
def test_matches_a_log_space_reference(k, n_symbols):
    X, log_bt, offsets, pi, A = _problem(k, n_symbols, 4, 60, seed=1)
    (_, _, _), (post, seq_ll, total) = _both(X, log_bt, offsets, pi, A, "log", 2)
    r_post, r_ll, r_start, r_trans = _reference(X, log_bt, offsets, pi, A)
    np.testing.assert_allclose(seq_ll, r_ll, rtol=1e-12)
    np.testing.assert_allclose(post, r_post, atol=1e-10)
    np.testing.assert_allclose(total[:k], r_start, atol=1e-10)
    np.testing.assert_allclose(total[k:k + k * k].reshape(k, k), r_trans, rtol=1e-9,
                               atol=1e-10)
    np.testing.assert_allclose(total[-1], r_ll.sum(), rtol=1e-12)


def test_log_space_redo_of_symbol_sequences():
    # two sticky states that each all but rule out the other's symbol: a
    # switch of symbol leaves a one-step mass of ~1e-250, outside the scaled
    # pass's exact range, so 'log' redoes those sequences in log space from
    # the symbols' rows (and 'scaling' reports the underflow)
    eps_b, eps_a = 1e-300, 1e-250
    B = np.array([[eps_b, 1.0 - eps_b], [1.0 - eps_b, eps_b]])
    A = np.array([[1.0 - eps_a, eps_a], [eps_a, 1.0 - eps_a]])
    pi = np.array([0.5, 0.5])
    rs = np.random.RandomState(2)
    X = np.ones((3 * 40, 1))
    X[rs.choice(120, 9, replace=False)] = 0.0
    log_bt = np.ascontiguousarray(np.log(B).T)
    offsets = np.array([0, 40, 80, 120], dtype=np.int64)
    (p0, l0, t0), (p1, l1, t1) = _both(X, log_bt, offsets, pi, A, "log", 2)
    np.testing.assert_array_equal(p1, p0)
    np.testing.assert_array_equal(l1, l0)
    np.testing.assert_array_equal(t1, t0)
    r_post, r_ll, _, r_trans = _reference(X, log_bt, offsets, pi, A)
    np.testing.assert_allclose(l1, r_ll, rtol=1e-12)
    np.testing.assert_allclose(p1, r_post, atol=1e-10)
    np.testing.assert_allclose(t1[2:6].reshape(2, 2), r_trans, rtol=1e-9, atol=1e-10)
    with pytest.raises(_hmmc.UnderflowError):
        _both(X, log_bt, offsets, pi, A, "scaling", 2)


@pytest.mark.parametrize("bad", [-1.0, 2.5, 5.0, np.nan, np.inf])
def test_bad_symbol_names_the_first_row(bad):
    X, log_bt, offsets, pi, A = _problem(4, 5, 3, 40, seed=3)
    X[[57, 90]] = bad
    red = _hmmc.chain_reducer(4)
    with pytest.raises(_hmmc.BadSymbolError) as info:
        _hmmc.categorical_fb_into(red, "log", X, log_bt, offsets, pi, A, np.empty((120, 4)),
                                  np.empty(3), 2)
    assert info.value.row == 57


def test_categorical_fit_equals_the_framelogprob_e_step():
    # the model's E-step runs the symbol kernel; with partial labels it
    # takes the framelogprob path: on labels that rule nothing out, the two
    # fits agree bit for bit
    X, log_bt, offsets, pi, A = _problem(5, 6, 6, 200, seed=4)
    lengths = np.diff(offsets)

    def fit(states):
        m = CategoricalHMM(5, n_iter=4, tol=0, init_params="", n_threads=2)
        m.startprob_, m.transmat_, m.emissionprob_ = pi.copy(), A.copy(), np.exp(log_bt.T)
        return m.fit(X.astype(np.int64), lengths, states=states)

    fused = fit(None)
    plain = fit(np.full(X.shape[0], -1))
    np.testing.assert_array_equal(fused.transmat_, plain.transmat_)
    np.testing.assert_array_equal(fused.emissionprob_, plain.emissionprob_)
    assert fused.monitor_.history == plain.monitor_.history
