"""Behaviour of GaussianHMM and GMMHMM: Baum-Welch is monotone, results do
not depend on the order of the sequences or on the thread count, params /
init_params really freeze / keep what they say, n_init keeps the best
restart, the log implementation survives what the scaled one cannot, the
convergence monitor, sampling, stationary distribution, aic/bic, input
validation and pickling / cloning.

Every data set is small and seeded; ``pytest.raises`` always matches a
distinctive part of the message.
"""
import pickle
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gmscore import GMMHMM, ConvergenceMonitor, GaussianHMM, LikelihoodDecreaseWarning

COV_TYPES = ("spherical", "diag", "full", "tied")
IMPLEMENTATIONS = ("log", "scaling")
MODELS = ("gaussian", "gmm")

# A 3-state chain with well separated 2-D Gaussian emissions.
START3 = np.array([0.6, 0.3, 0.1])
TRANS3 = np.array([[0.80, 0.10, 0.10],
                   [0.10, 0.80, 0.10],
                   [0.15, 0.15, 0.70]])
MEANS3 = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])


def _chain(rng, T, start, trans):
    """A state path of length T (vectorised over the uniforms)."""
    u = rng.random_sample(T)
    start_cdf, trans_cdf = np.cumsum(start), np.cumsum(trans, axis=1)
    z = np.empty(T, dtype=int)
    z[0] = min(np.searchsorted(start_cdf, u[0], side="right"), len(start) - 1)
    for t in range(1, T):
        z[t] = min(np.searchsorted(trans_cdf[z[t - 1]], u[t], side="right"), len(start) - 1)
    return z


def _hmm_data(lengths, seed=0, means=MEANS3, scale=1.0, start=START3, trans=TRANS3):
    """Concatenated sequences from the 3-state chain; returns X, lengths, states."""
    rng = np.random.RandomState(seed)
    lengths = np.asarray(lengths, dtype=int)
    z = np.concatenate([_chain(rng, T, start, trans) for T in lengths])
    X = means[z] + scale * rng.randn(len(z), means.shape[1])
    return X, lengths, z


def _varied_lengths(n_seq, seed=1, low=5, high=80):
    return np.random.RandomState(seed).randint(low, high, size=n_seq)


def _gaussian_covars(ct, k=3, d=2, var=1.5):
    return {"spherical": np.full(k, var),
            "diag": np.full((k, d), var),
            "full": np.tile(var * np.eye(d) + 0.2 * (1 - np.eye(d)), (k, 1, 1)),
            "tied": var * np.eye(d) + 0.2 * (1 - np.eye(d))}[ct]


def _gmm_covars(ct, k=3, m=2, d=2, var=1.5):
    return {"spherical": np.full((k, m), var),
            "diag": np.full((k, m, d), var),
            "full": np.tile(var * np.eye(d) + 0.2 * (1 - np.eye(d)), (k, m, 1, 1)),
            "tied": np.tile(var * np.eye(d) + 0.2 * (1 - np.eye(d)), (k, 1, 1))}[ct]


def _set_start(model, kind, ct, k=3, d=2, m=2):
    """Assign fixed, reasonable starting parameters (for init_params='')."""
    model.startprob_ = np.full(k, 1.0 / k)
    model.transmat_ = np.full((k, k), 0.2 / (k - 1)) + (0.8 - 0.2 / (k - 1)) * np.eye(k)
    base = MEANS3[:k] + np.array([0.5, -0.4])
    if kind == "gaussian":
        model.means_ = base
        model.covars_ = _gaussian_covars(ct, k, d)
    else:
        offs = np.array([[-0.7, 0.3], [0.6, -0.5]])[:m]
        model.means_ = base[:, None, :] + offs[None]
        model.weights_ = np.full((k, m), 1.0 / m)
        model.covars_ = _gmm_covars(ct, k, m, d)
    return model


def _make(kind, ct="diag", **kw):
    # One thread unless a test says otherwise: on a loaded 2-core machine
    # every OpenMP region of a tiny problem can wait milliseconds for a
    # descheduled thread. Thread independence has its own test.
    kw.setdefault("n_threads", 1)
    ct = kw.pop("covariance_type", ct)
    if kind == "gaussian":
        return GaussianHMM(n_components=kw.pop("n_components", 3), covariance_type=ct, **kw)
    return GMMHMM(n_components=kw.pop("n_components", 3), n_mix=kw.pop("n_mix", 2),
                  covariance_type=ct, **kw)


def _fitted_params(model):
    names = ["startprob_", "transmat_", "means_", "covars_"]
    if isinstance(model, GMMHMM):
        names.append("weights_")
    return {name: np.array(getattr(model, name)) for name in names}


def _assert_finite_model(model):
    for name, value in _fitted_params(model).items():
        assert np.isfinite(value).all(), f"{name} is not finite: {value}"
    assert np.isfinite(list(model.monitor_.history)).all(), list(model.monitor_.history)
    assert_allclose(model.startprob_.sum(), 1.0, atol=1e-12)
    assert_allclose(model.transmat_.sum(axis=1), 1.0, atol=1e-12)


def _is_non_decreasing(history, rel=1e-10):
    h = np.asarray(history)
    return np.all(np.diff(h) >= -rel * np.maximum(1.0, np.abs(h[1:])))


# --------------------------------------------------------------- monotonicity
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_hmm_log_likelihood_is_monotone(ct, implementation):
    # covars_prior=0, covars_weight=1 and means_weight=0 make hmmlearn's
    # priors vanish (and the Dirichlet priors default to 1): exact EM.
    X, lengths, _ = _hmm_data(_varied_lengths(20), seed=2, scale=2.0)
    model = GaussianHMM(3, n_threads=1, covariance_type=ct, covars_prior=0, covars_weight=1,
                        means_weight=0, n_iter=25, tol=0, random_state=0,
                        implementation=implementation)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LikelihoodDecreaseWarning)
        model.fit(X, lengths)
    history = list(model.monitor_.history)
    assert len(history) == 25
    assert _is_non_decreasing(history), np.diff(history)
    assert history[-1] > history[0]
    # the fitted parameters are at least as good as the last E-step's
    assert model.score(X, lengths) >= history[-1] - 1e-9 * abs(history[-1])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_gmm_hmm_log_likelihood_is_monotone_on_separated_data(ct, implementation):
    # hmmlearn's GMMHMM covariance update centres the scatter at the previous
    # means, so it is not exact EM; on well separated data it still climbs.
    X, lengths, _ = _hmm_data(_varied_lengths(20), seed=3)
    model = GMMHMM(3, n_threads=1, n_mix=2, covariance_type=ct, n_iter=20, tol=0, random_state=0,
                   implementation=implementation)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LikelihoodDecreaseWarning)
        model.fit(X, lengths)
    history = list(model.monitor_.history)
    assert len(history) == 20
    assert _is_non_decreasing(history), np.diff(history)


def test_log_and_scaling_agree():
    X, lengths, _ = _hmm_data(_varied_lengths(10), seed=4)
    fits = [_set_start(GaussianHMM(3, n_threads=1, covariance_type="full", init_params="", n_iter=5,
                                   tol=0, implementation=impl), "gaussian", "full").fit(X, lengths)
            for impl in IMPLEMENTATIONS]
    assert_allclose(list(fits[0].monitor_.history), list(fits[1].monitor_.history), rtol=1e-10)
    for name, value in _fitted_params(fits[0]).items():
        assert_allclose(value, getattr(fits[1], name), rtol=1e-8, atol=1e-10, err_msg=name)
    assert_allclose(fits[0].predict_proba(X, lengths), fits[1].predict_proba(X, lengths),
                    atol=1e-10)


# ---------------------------------------------------------- sequence ordering
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_sequence_order_does_not_matter(kind, ct, implementation):
    X, lengths, _ = _hmm_data(_varied_lengths(30, seed=5), seed=6)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    seqs = [X[offsets[i]:offsets[i + 1]] for i in range(len(lengths))]
    perm = np.random.RandomState(7).permutation(len(lengths))
    Xp = np.concatenate([seqs[i] for i in perm])
    lp = lengths[perm]

    def fit(data, lens):
        model = _make(kind, ct, init_params="", n_iter=8, tol=0,
                      implementation=implementation)
        return _set_start(model, kind, ct).fit(data, lens)

    a, b = fit(X, lengths), fit(Xp, lp)
    assert_allclose(list(a.monitor_.history), list(b.monitor_.history), rtol=1e-12)
    for name, value in _fitted_params(a).items():
        assert_allclose(getattr(b, name), value, rtol=1e-11, atol=1e-12, err_msg=name)
    assert_allclose(b.score(Xp, lp), a.score(X, lengths), rtol=1e-12)
    # posteriors and Viterbi paths follow their sequences
    post_a = a.predict_proba(X, lengths)
    post_b = b.predict_proba(Xp, lp)
    post_a_perm = np.concatenate([post_a[offsets[i]:offsets[i + 1]] for i in perm])
    assert_allclose(post_b, post_a_perm, atol=1e-10)
    path_a = a.predict(X, lengths)
    assert_array_equal(b.predict(Xp, lp),
                       np.concatenate([path_a[offsets[i]:offsets[i + 1]] for i in perm]))


def test_score_is_sum_over_sequences():
    X, lengths, _ = _hmm_data(_varied_lengths(6), seed=8)
    model = GaussianHMM(3, n_threads=1, random_state=0, n_iter=3).fit(X, lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    per_seq = [model.score(X[offsets[i]:offsets[i + 1]]) for i in range(len(lengths))]
    assert_allclose(model.score(X, lengths), sum(per_seq), rtol=1e-12)


# ----------------------------------------------------------------- threading
# n_threads=2 on a loaded 2-core machine makes every OpenMP region slow, so
# the Baum-Welch / inference comparison starts from fixed parameters (few
# regions) and the k-means initialisation has its own, smaller comparison.
def _thread_data(layout):
    if layout == "many_sequences":
        lengths = _varied_lengths(100, seed=9, low=1, high=80)
    else:
        lengths = np.array([5000])
    X, lengths, _ = _hmm_data(lengths, seed=10, scale=1.5)
    return X, lengths


def _thread_results(model, X, lengths):
    model.fit(X, lengths)
    out = _fitted_params(model)
    out["history"] = np.array(model.monitor_.history)
    out["score"] = np.array(model.score(X, lengths))
    ll, post = model.score_samples(X, lengths)
    out["ll"], out["posteriors"] = np.array(ll), post
    vit_lp, vit = model.decode(X, lengths, algorithm="viterbi")
    out["viterbi_lp"], out["viterbi"] = np.array(vit_lp), vit
    map_lp, map_path = model.decode(X, lengths, algorithm="map")
    out["map_lp"], out["map"] = np.array(map_lp), map_path
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["many_sequences", "one_long_sequence"])
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_thread_count_does_not_change_results(kind, ct, layout, dtype):
    X, lengths = _thread_data(layout)
    X = X.astype(dtype)
    implementation = "scaling" if ct in ("diag", "full") else "log"
    results = [
        _thread_results(_set_start(_make(kind, ct, init_params="", n_iter=3, tol=0,
                                         implementation=implementation,
                                         n_threads=n_threads), kind, ct), X, lengths)
        for n_threads in (1, 2)]
    for name in results[0]:
        assert_array_equal(results[1][name], results[0][name], err_msg=name)
    assert np.isfinite(results[0]["history"]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["many_sequences", "one_long_sequence"])
@pytest.mark.parametrize("kind,ct", [("gaussian", "full"), ("gmm", "diag")])
def test_thread_count_does_not_change_initialisation(kind, ct, layout, dtype):
    X, lengths = _thread_data(layout)
    X = X.astype(dtype)
    fits = [_make(kind, ct, n_iter=2, tol=0, random_state=0, n_threads=n_threads).fit(X, lengths)
            for n_threads in (1, 2)]
    assert_array_equal(list(fits[1].monitor_.history), list(fits[0].monitor_.history))
    for name, value in _fitted_params(fits[0]).items():
        assert_array_equal(getattr(fits[1], name), value, err_msg=name)
    assert_array_equal(fits[1].predict(X, lengths), fits[0].predict(X, lengths))


# ----------------------------------------------------------- params freezing
FREEZE_CASES = [
    ("gaussian", "tmc", "startprob_"),
    ("gaussian", "smc", "transmat_"),
    ("gaussian", "stc", "means_"),
    ("gaussian", "stm", "covars_"),
    ("gmm", "tmcw", "startprob_"),
    ("gmm", "smcw", "transmat_"),
    ("gmm", "stcw", "means_"),
    ("gmm", "stmw", "covars_"),
    ("gmm", "stmc", "weights_"),
]


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind,params,frozen", FREEZE_CASES)
def test_params_without_a_letter_freezes_it(kind, params, frozen, ct):
    X, lengths, _ = _hmm_data(_varied_lengths(10), seed=11)
    model = _set_start(_make(kind, ct, init_params="", params=params, n_iter=5, tol=0),
                       kind, ct)
    before = _fitted_params(model)
    model.fit(X, lengths)
    after = _fitted_params(model)
    assert_array_equal(after[frozen], before[frozen])
    # and the others did move
    for name in before:
        if name != frozen:
            assert not np.array_equal(after[name], before[name]), name


def test_empty_params_freezes_everything():
    X, lengths, _ = _hmm_data(_varied_lengths(5), seed=12)
    model = _set_start(GMMHMM(3, n_threads=1, n_mix=2, init_params="", params="", n_iter=3), "gmm", "diag")
    before = _fitted_params(model)
    model.fit(X, lengths)
    for name, value in _fitted_params(model).items():
        assert_array_equal(value, before[name], err_msg=name)


INIT_CASES = [
    ("gaussian", "s", "startprob_"),
    ("gaussian", "t", "transmat_"),
    ("gaussian", "m", "means_"),
    ("gaussian", "c", "covars_"),
    ("gmm", "s", "startprob_"),
    ("gmm", "t", "transmat_"),
    ("gmm", "m", "means_"),
    ("gmm", "c", "covars_"),
    ("gmm", "w", "weights_"),
]


@pytest.mark.parametrize("ct", ["diag", "full"])
@pytest.mark.parametrize("kind,letter,name", INIT_CASES)
def test_init_params_without_a_letter_uses_the_user_value(kind, letter, name, ct):
    X, lengths, _ = _hmm_data(_varied_lengths(10), seed=13)
    letters = "stmc" + ("w" if kind == "gmm" else "")
    init_params = letters.replace(letter, "")
    user = _fitted_params(_set_start(_make(kind, ct), kind, ct))[name]
    if name == "startprob_":
        user = np.array([0.2, 0.5, 0.3])
    elif name == "weights_":
        user = np.array([[0.3, 0.7], [0.6, 0.4], [0.5, 0.5]])

    def with_user_value(n_iter):
        model = _make(kind, ct, init_params=init_params, n_iter=n_iter, tol=0, random_state=0)
        setattr(model, name, user if name != "covars_" or kind == "gmm"
                else _gaussian_covars(ct))
        return model.fit(X, lengths)

    # n_iter=0 returns the initial parameters: the user's value is among them
    start = with_user_value(0)
    assert_array_equal(_fitted_params(start)[name], user)
    # fitting from it equals fitting from all of those values with init_params=''
    fitted = with_user_value(6)
    reference = _make(kind, ct, init_params="", n_iter=6, tol=0)
    for attr, value in _fitted_params(start).items():
        if attr == "covars_" and kind == "gaussian":
            value = start._covars_
        setattr(reference, attr, value)
    reference.fit(X, lengths)
    assert_array_equal(list(fitted.monitor_.history), list(reference.monitor_.history))
    for attr, value in _fitted_params(reference).items():
        assert_array_equal(_fitted_params(fitted)[attr], value, err_msg=attr)


# --------------------------------------------------------------------- n_init
@pytest.mark.parametrize("kind", MODELS)
def test_n_init_keeps_the_best_restart(kind):
    # 4 clusters, 5 states, few iterations: restarts end in different places
    means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    start = np.full(4, 0.25)
    trans = np.full((4, 4), 0.1) + 0.6 * np.eye(4)
    X, lengths, _ = _hmm_data(_varied_lengths(15, seed=14), seed=15, means=means,
                              start=start, trans=trans)
    kw = dict(n_components=5, n_iter=6, tol=0)
    if kind == "gmm":
        kw["n_mix"] = 2
    single = _make(kind, "diag", random_state=0, n_init=1, **kw).fit(X, lengths)
    multi = _make(kind, "diag", random_state=0, n_init=4, **kw).fit(X, lengths)
    assert multi.monitor_.history[-1] >= single.monitor_.history[-1]
    # the restarts are the consecutive fits drawing from one RandomState
    rs = np.random.RandomState(0)
    runs = [_make(kind, "diag", random_state=rs, n_init=1, **kw).fit(X, lengths)
            for _ in range(4)]
    finals = [r.monitor_.history[-1] for r in runs]
    assert len(set(np.round(finals, 6))) > 1, "restarts should differ for this test to bite"
    best = runs[int(np.argmax(finals))]
    assert multi.monitor_.history[-1] == max(finals)
    for name, value in _fitted_params(best).items():
        assert_array_equal(getattr(multi, name), value, err_msg=name)
    assert_array_equal(list(runs[0].monitor_.history), list(single.monitor_.history))


# ------------------------------------------------------- numerical robustness
def _underflow_model(implementation):
    # state 1 is unreachable (startprob 0, no incoming transitions); at
    # x = 40 its log-likelihood is ~800 nats above state 0's, so the scaled
    # pass (which subtracts the frame maximum) keeps no mass at that frame.
    model = GaussianHMM(2, n_threads=1, covariance_type="diag", init_params="", n_iter=3,
                        implementation=implementation)
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    model.means_ = np.array([[0.0], [40.0]])
    model.covars_ = np.array([[1.0], [1.0]])
    return model


UNDERFLOW_X = np.array([[0.1], [-0.3], [40.0], [0.2], [-0.5]])


def test_scaling_underflow_raises_and_points_to_log():
    model = _underflow_model("scaling")
    for call in (lambda: model.score(UNDERFLOW_X),
                 lambda: model.score_samples(UNDERFLOW_X),
                 lambda: model.predict_proba(UNDERFLOW_X),
                 lambda: model.fit(UNDERFLOW_X)):
        with pytest.raises(ValueError, match=re.escape("implementation='log'")):
            call()


def test_log_implementation_survives_the_underflow_case():
    model = _underflow_model("log")
    expected = sum(-0.5 * np.log(2 * np.pi) - 0.5 * x ** 2 for x in UNDERFLOW_X[:, 0])
    ll, post = model.score_samples(UNDERFLOW_X)
    assert_allclose(ll, expected, rtol=1e-12)
    assert_allclose(post, np.tile([1.0, 0.0], (5, 1)))
    assert_array_equal(model.predict(UNDERFLOW_X), np.zeros(5))
    model.fit(UNDERFLOW_X)
    _assert_finite_model(model)
    assert np.isfinite(model.score(UNDERFLOW_X))


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_log_handles_a_huge_outlier(kind, ct):
    rng = np.random.RandomState(16)
    X = rng.randn(400, 2)
    X[123] = 1e4
    model = _make(kind, ct, n_components=3, n_iter=10, random_state=0,
                  implementation="log").fit(X)
    _assert_finite_model(model)
    ll, post = model.score_samples(X)
    assert np.isfinite(ll)
    assert np.isfinite(post).all()
    assert_allclose(post.sum(axis=1), 1.0, atol=1e-10)
    assert np.all((model.predict(X) >= 0) & (model.predict(X) < 3))


def test_log_handles_a_million_frames():
    rng = np.random.RandomState(17)
    T = 10 ** 6
    labels = np.repeat(rng.randint(3, size=T // 200), 200)
    X = MEANS3[labels] + rng.randn(T, 2)
    # kmeans means and data covariance, but a sticky chain rather than a
    # random Dirichlet(1/3) transmat_ (from which 3 iterations on 10^6
    # frames wander far from the clusters, exactly as hmmlearn does)
    model = GaussianHMM(3, n_threads=1, covariance_type="diag", n_iter=3, tol=0,
                        random_state=0, implementation="log", init_params="mc")
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = np.full((3, 3), 0.005) + 0.985 * np.eye(3)
    model.fit(X)
    assert model.monitor_.iter == 3
    _assert_finite_model(model)
    assert _is_non_decreasing(model.monitor_.history)
    post = model.predict_proba(X)
    assert np.isfinite(post).all()
    assert_allclose(post.sum(axis=1), 1.0, atol=1e-10)
    assert np.isfinite(model.score(X))
    # the three clusters are found
    assert_allclose(np.sort(model.means_[:, 0] + 10 * model.means_[:, 1]),
                    np.sort(MEANS3[:, 0] + 10 * MEANS3[:, 1]), atol=0.05)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_unvisited_states_stay_finite(kind, ct, implementation):
    # two clusters, four states; states 2 and 3 can never be entered
    X, lengths, _ = _hmm_data(_varied_lengths(8), seed=18, means=MEANS3[:2],
                              start=np.array([0.5, 0.5]),
                              trans=np.array([[0.9, 0.1], [0.1, 0.9]]))
    model = _make(kind, ct, n_components=4, init_params="", n_iter=5,
                  implementation=implementation)
    _set_start(model, kind, ct, k=3)  # shapes for 3 states, extended below
    k = 4
    model.startprob_ = np.array([0.5, 0.5, 0.0, 0.0])
    model.transmat_ = np.array([[0.9, 0.1, 0.0, 0.0],
                                [0.1, 0.9, 0.0, 0.0],
                                [0.25, 0.25, 0.25, 0.25],
                                [0.25, 0.25, 0.25, 0.25]])
    extra_mean = np.array([[-8.0, 9.0]])
    if kind == "gaussian":
        model.means_ = np.vstack([model.means_, extra_mean])
        model.covars_ = _gaussian_covars(ct, k=k)
    else:
        model.means_ = np.concatenate([model.means_, model.means_[:1] + [-8.0, 9.0]])
        model.weights_ = np.full((k, 2), 0.5)
        model.covars_ = _gmm_covars(ct, k=k)
    model.fit(X, lengths)
    _assert_finite_model(model)
    post = model.predict_proba(X, lengths)
    assert np.isfinite(post).all()
    assert_array_equal(post[:, 2:], 0.0)
    assert_array_equal(model.startprob_[2:], 0.0)
    assert_array_equal(model.transmat_[:2, 2:], 0.0)
    assert np.isfinite(model.score(X, lengths))


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_too_many_states_with_random_init_stay_finite(kind, ct):
    X, lengths, _ = _hmm_data(_varied_lengths(8), seed=19, means=MEANS3[:2],
                              start=np.array([0.5, 0.5]),
                              trans=np.array([[0.9, 0.1], [0.1, 0.9]]))
    model = _make(kind, ct, n_components=4, n_iter=20, random_state=0).fit(X, lengths)
    _assert_finite_model(model)
    assert np.isfinite(model.predict_proba(X, lengths)).all()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("kind", MODELS)
def test_length_one_sequences_mixed_with_longer_ones(kind, implementation):
    lengths = np.array([1, 40, 1, 1, 25, 1, 60, 1])
    X, lengths, _ = _hmm_data(lengths, seed=20)
    model = _make(kind, "diag", n_iter=8, random_state=0,
                  implementation=implementation).fit(X, lengths)
    _assert_finite_model(model)
    ll, post = model.score_samples(X, lengths)
    assert np.isfinite(ll)
    assert_allclose(post.sum(axis=1), 1.0, atol=1e-10)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    per_seq = [model.score(X[offsets[i]:offsets[i + 1]]) for i in range(len(lengths))]
    assert_allclose(ll, sum(per_seq), rtol=1e-12)
    # a length-1 sequence's posterior is startprob_ times its emission, normalised
    single = model.predict_proba(X[:1])
    assert_allclose(single, post[:1], atol=1e-12)
    # all-singletons: only startprob_ and emissions are informative
    ones = _make(kind, "diag", n_iter=3, random_state=0, implementation=implementation)
    ones.fit(X, np.ones(len(X), dtype=int))
    _assert_finite_model(ones)


# -------------------------------------------------------------------- monitor
def test_verbose_prints_one_row_per_iteration(capsys):
    X, lengths, _ = _hmm_data(_varied_lengths(5), seed=21)
    model = GaussianHMM(3, n_threads=1, n_iter=6, tol=0, verbose=True, random_state=0).fit(X, lengths)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert "iteration" in lines[0] and "log-likelihood" in lines[0]
    rows = lines[1:]
    assert len(rows) == model.monitor_.iter == 6
    for i, row in enumerate(rows, start=1):
        fields = row.split()
        assert int(fields[0]) == i
        assert_allclose(float(fields[1]), model.monitor_.history[i - 1], rtol=1e-7)


def test_not_verbose_prints_nothing(capsys):
    X, lengths, _ = _hmm_data(_varied_lengths(5), seed=21)
    GaussianHMM(3, n_threads=1, n_iter=3, random_state=0).fit(X, lengths)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("kind", MODELS)
def test_converged_flag(kind):
    X, lengths, _ = _hmm_data(_varied_lengths(10), seed=22)
    model = _make(kind, "diag", n_iter=200, tol=1e-2, random_state=0).fit(X, lengths)
    assert model.monitor_.converged and model.monitor_.converged_by_tol
    assert model.monitor_.iter < 200
    assert len(model.monitor_.history) == model.monitor_.iter
    h = model.monitor_.history
    assert 0 <= h[-1] - h[-2] < 1e-2
    # tol=0: exactly n_iter iterations; hmmlearn's 'converged' (n_iter
    # reached) but not converged by tol
    model = _make(kind, "diag", n_iter=7, tol=0, random_state=0).fit(X, lengths)
    assert model.monitor_.iter == 7
    assert len(model.monitor_.history) == 7
    assert model.monitor_.converged and not model.monitor_.converged_by_tol
    # hitting n_iter with tol>0: the same
    model = _make(kind, "diag", n_iter=2, tol=1e-12, random_state=0).fit(X, lengths)
    assert model.monitor_.iter == 2
    assert model.monitor_.converged and not model.monitor_.converged_by_tol
    # tol=-inf (hmmlearn's way to run every iteration) is accepted
    model = _make(kind, "diag", n_iter=3, tol=-np.inf, random_state=0).fit(X, lengths)
    assert model.monitor_.iter == 3 and not model.monitor_.converged_by_tol


def test_monitor_drop_warns_and_is_not_convergence():
    monitor = ConvergenceMonitor(tol=10.0, n_iter=10, verbose=False)
    monitor.report(-100.0)
    assert not monitor.converged and not monitor.converged_by_tol
    monitor.report(-99.0)
    assert monitor.converged and monitor.converged_by_tol
    with pytest.warns(LikelihoodDecreaseWarning, match="lowered the log-likelihood"):
        monitor.report(-150.0)
    # hmmlearn counts a drop below tol as converged; the strict flag does not
    assert monitor.converged and not monitor.converged_by_tol
    assert list(monitor.history) == [-100.0, -99.0, -150.0]
    assert monitor.iter == 3
    # a drop within rounding is neither a warning nor a non-convergence
    monitor = ConvergenceMonitor(tol=1e-3, n_iter=10, verbose=False)
    monitor.report(-1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor.report(-1e6 - 1e-9)
    assert monitor.converged_by_tol


# --------------------------------------------------------------------- sample
@pytest.fixture(scope="module")
def gaussian_truth():
    model = GaussianHMM(3, covariance_type="full", init_params="")
    model.startprob_ = START3
    model.transmat_ = TRANS3
    model.means_ = MEANS3
    model.covars_ = np.tile(np.array([[1.0, 0.3], [0.3, 0.5]]), (3, 1, 1))
    return model


@pytest.fixture(scope="module")
def gmm_truth():
    model = GMMHMM(3, n_mix=2, covariance_type="diag", init_params="")
    model.startprob_ = START3
    model.transmat_ = TRANS3
    model.means_ = np.stack([MEANS3 - 1.0, MEANS3 + 2.0], axis=1)
    model.weights_ = np.array([[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]])
    model.covars_ = np.full((3, 2, 2), 0.5)
    return model


@pytest.mark.parametrize("kind", MODELS)
def test_sample_shapes_currstate_and_reproducibility(kind, gaussian_truth, gmm_truth):
    model = gaussian_truth if kind == "gaussian" else gmm_truth
    X, states = model.sample(50, random_state=0)
    assert X.shape == (50, 2) and states.shape == (50,)
    assert np.isfinite(X).all()
    assert set(np.unique(states)) <= {0, 1, 2}
    X1, states1 = model.sample(1, random_state=0)
    assert X1.shape == (1, 2) and states1.shape == (1,)
    X2, states2 = model.sample(50, random_state=0)
    assert_array_equal(X2, X)
    assert_array_equal(states2, states)
    X3, _ = model.sample(50, random_state=1)
    assert not np.array_equal(X3, X)
    rs_a, rs_b = np.random.RandomState(5), np.random.RandomState(5)
    assert_array_equal(model.sample(20, random_state=rs_a)[0],
                       model.sample(20, random_state=rs_b)[0])
    for cur in range(3):
        for seed in range(5):
            _, st = model.sample(10, random_state=seed, currstate=cur)
            assert st[0] == cur
    # startprob_ [0, 0, 1] always starts in 2 without currstate
    clone = pickle.loads(pickle.dumps(model))
    clone.startprob_ = np.array([0.0, 0.0, 1.0])
    assert all(clone.sample(3, random_state=s)[1][0] == 2 for s in range(10))


@pytest.mark.parametrize("kind", MODELS)
def test_long_sample_matches_the_model(kind, gaussian_truth, gmm_truth):
    model = gaussian_truth if kind == "gaussian" else gmm_truth
    X, states = model.sample(30000, random_state=0)
    counts = np.zeros((3, 3))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    assert_allclose(counts / counts.sum(axis=1, keepdims=True), model.transmat_, atol=0.02)
    assert_allclose(np.bincount(states, minlength=3) / len(states),
                    model.get_stationary_distribution(), atol=0.02)
    for k in range(3):
        if kind == "gaussian":
            expected_mean, expected_cov = model.means_[k], model.covars_[k]
        else:
            expected_mean = model.weights_[k] @ model.means_[k]
            diff = model.means_[k] - expected_mean
            expected_cov = sum(w * (np.diag(c) + np.outer(dm, dm))
                               for w, c, dm in zip(model.weights_[k], model.covars_[k], diff))
        assert_allclose(X[states == k].mean(axis=0), expected_mean, atol=0.1)
        assert_allclose(np.cov(X[states == k].T), expected_cov, atol=0.15)


# --------------------------------------------------- stationary and aic / bic
def test_stationary_distribution():
    rng = np.random.RandomState(23)
    for k in (1, 2, 3, 5):
        model = GaussianHMM(k)
        T = rng.dirichlet(np.ones(k), size=k)
        model.transmat_ = T
        pi = model.get_stationary_distribution()
        assert pi.shape == (k,)
        assert np.isrealobj(pi)
        assert_allclose(pi.sum(), 1.0, rtol=1e-12)
        assert (pi >= -1e-12).all()
        assert_allclose(pi @ T, pi, atol=1e-12)
        # numpy: solve pi (T - I) = 0 with sum(pi) = 1
        A = np.vstack([T.T - np.eye(k), np.ones(k)])
        b = np.zeros(k + 1)
        b[-1] = 1.0
        assert_allclose(pi, np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-10)
    model = GaussianHMM(3)
    model.transmat_ = TRANS3
    assert_allclose(model.get_stationary_distribution() @ TRANS3,
                    model.get_stationary_distribution(), atol=1e-14)


def _n_params(kind, ct, k, d, m=None):
    # as hmmlearn counts them (_get_n_fit_scalars_per_param)
    if kind == "gaussian":
        cov = {"spherical": k, "diag": k * d, "full": k * d * (d + 1) // 2,
               "tied": d * (d + 1) // 2}[ct]
        return (k - 1) + k * (k - 1) + k * d + cov
    cov = {"spherical": k * m, "diag": k * m * d, "full": k * m * d * (d + 1) // 2,
           "tied": k * d * (d + 1) // 2}[ct]
    return (k - 1) + k * (k - 1) + k * m * d + cov + (m - 1)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_aic_bic(kind, ct):
    X, lengths, _ = _hmm_data(_varied_lengths(6), seed=24)
    model = _make(kind, ct, n_iter=5, random_state=0).fit(X, lengths)
    ll = model.score(X, lengths)
    p = _n_params(kind, ct, 3, 2, 2)
    assert_allclose(model.aic(X, lengths), -2 * ll + 2 * p, rtol=1e-12)
    assert_allclose(model.bic(X, lengths), -2 * ll + p * np.log(len(X)), rtol=1e-12)

    hmm = pytest.importorskip("hmmlearn.hmm")
    if kind == "gaussian":
        ref = hmm.GaussianHMM(3, covariance_type=ct, init_params="")
        ref.means_ = model.means_
        ref.covars_ = model._covars_
    else:
        ref = hmm.GMMHMM(3, n_mix=2, covariance_type=ct, init_params="")
        ref.means_ = model.means_
        ref.covars_ = model.covars_
        ref.weights_ = model.weights_
    ref.startprob_ = model.startprob_
    ref.transmat_ = model.transmat_
    ref.n_features = 2
    assert_allclose(ref.score(X, lengths), ll, rtol=1e-9)
    assert_allclose(model.aic(X, lengths), ref.aic(X, lengths), rtol=1e-9)
    assert_allclose(model.bic(X, lengths), ref.bic(X, lengths), rtol=1e-9)


# ---------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def data():
    X, lengths, _ = _hmm_data(np.array([30, 20, 50]), seed=25)
    return X, lengths


@pytest.fixture(scope="module")
def fitted_gaussian(data):
    return GaussianHMM(3, n_threads=1, n_iter=3, random_state=0).fit(*data)


@pytest.fixture(scope="module")
def fitted_gmm(data):
    return GMMHMM(3, n_threads=1, n_mix=2, n_iter=3, random_state=0).fit(*data)


BAD_LENGTHS = [
    ([30, 20, 40], "lengths sum to 90"),
    ([30, 20, 60], "lengths sum to 110"),
    ([30, 0, 70], "positive"),
    ([30, -20, 90], "positive"),
    ([2.5, 97.5], "integers"),
    ([[50, 50]], "1-D"),
    ([[30], [20], [50]], "1-D"),
    ([], "1-D"),
    (["a", "b"], "integers"),
]


@pytest.mark.parametrize("lengths,match", BAD_LENGTHS)
@pytest.mark.parametrize("kind", MODELS)
def test_bad_lengths(kind, lengths, match, data, fitted_gaussian, fitted_gmm):
    X, _ = data
    with pytest.raises(ValueError, match=re.escape(match)):
        _make(kind, n_iter=2, random_state=0).fit(X, lengths)
    fitted = fitted_gaussian if kind == "gaussian" else fitted_gmm
    for method in ("score", "score_samples", "predict", "predict_proba", "decode"):
        with pytest.raises(ValueError, match=re.escape(match)):
            getattr(fitted, method)(X, lengths)


@pytest.mark.parametrize("bad,match", [(np.nan, "NaN"), (np.inf, "infinity"),
                                       (-np.inf, "infinity")])
@pytest.mark.parametrize("kind", MODELS)
def test_non_finite_X(kind, bad, match, data, fitted_gaussian, fitted_gmm):
    X = data[0].copy()
    X[17, 1] = bad
    with pytest.raises(ValueError, match=match):
        _make(kind, n_iter=2, random_state=0).fit(X)
    fitted = fitted_gaussian if kind == "gaussian" else fitted_gmm
    for method in ("score", "predict", "predict_proba", "aic"):
        with pytest.raises(ValueError, match=match):
            getattr(fitted, method)(X)


@pytest.mark.parametrize("kind", MODELS)
def test_wrong_n_features_at_predict_time(kind, data, fitted_gaussian, fitted_gmm):
    fitted = fitted_gaussian if kind == "gaussian" else fitted_gmm
    X3 = np.hstack([data[0], data[0][:, :1]])
    for method in ("score", "score_samples", "predict", "predict_proba", "decode", "bic"):
        with pytest.raises(ValueError, match="3 features.*expecting 2 features"):
            getattr(fitted, method)(X3)
    with pytest.raises(ValueError, match="Expected 2D array"):
        fitted.predict(data[0][:, 0])


@pytest.mark.parametrize("kind", MODELS)
def test_distributions_must_sum_to_one(kind, data):
    X, lengths = data
    model = _set_start(_make(kind, init_params="", n_iter=2), kind, "diag")
    model.startprob_ = np.array([0.5, 0.6, 0.1])
    with pytest.raises(ValueError, match="startprob_ must sum to 1"):
        model.fit(X, lengths)
    with pytest.raises(ValueError, match="startprob_ must sum to 1"):
        model.score(X, lengths)
    model.startprob_ = np.array([0.5, 0.5, 0.0])
    model.transmat_ = np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.2], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1"):
        model.fit(X, lengths)
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1"):
        model.predict(X, lengths)
    model.transmat_ = np.full((3, 3), 1 / 3)
    model.startprob_ = np.array([1.2, -0.2, 0.0])
    with pytest.raises(ValueError, match="non-negative"):
        model.fit(X, lengths)
    model.startprob_ = np.full(2, 0.5)
    with pytest.raises(ValueError, match=re.escape("startprob_ must have shape (3,)")):
        model.fit(X, lengths)
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=re.escape("transmat_ must have shape (3, 3)")):
        model.sample(5)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_wrong_emission_shapes(ct, data):
    X, lengths = data
    model = _set_start(GaussianHMM(3, n_threads=1, covariance_type=ct, init_params="", n_iter=2),
                       "gaussian", ct)
    model.means_ = np.zeros((2, 2))
    with pytest.raises(ValueError, match="means_ must have shape"):
        model.fit(X, lengths)
    model.means_ = np.zeros((3, 3))
    with pytest.raises(ValueError, match="means_ has 3 features but X has 2"):
        model.fit(X, lengths)
    model.means_ = MEANS3.copy()
    wrong = {"spherical": np.ones(2), "diag": np.ones((3, 3)), "full": np.ones((3, 2, 3)),
             "tied": np.eye(3)}[ct]
    model.covars_ = wrong
    with pytest.raises(ValueError, match="covars_ must have shape"):
        model.fit(X, lengths)
    with pytest.raises(ValueError, match="covars_ must have shape"):
        model.score(X, lengths)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_gmm_wrong_emission_shapes(ct, data):
    X, lengths = data
    model = _set_start(GMMHMM(3, n_threads=1, n_mix=2, covariance_type=ct, init_params="", n_iter=2),
                       "gmm", ct)
    good_means = model.means_.copy()
    model.means_ = np.zeros((3, 3, 2))
    with pytest.raises(ValueError, match="means_ must have shape"):
        model.fit(X, lengths)
    model.means_ = good_means
    model.weights_ = np.full((3, 3), 1 / 3)
    with pytest.raises(ValueError, match="weights_ must have shape"):
        model.fit(X, lengths)
    model.weights_ = np.array([[0.5, 0.6], [0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="weights_ rows must be non-negative and sum to 1"):
        model.fit(X, lengths)
    model.weights_ = np.full((3, 2), 0.5)
    wrong = {"spherical": np.ones((3, 3)), "diag": np.ones((3, 2)),
             "full": np.ones((3, 2, 2)), "tied": np.ones((3, 2, 2, 2))}[ct]
    model.covars_ = wrong
    with pytest.raises(ValueError, match="covars_ must have shape"):
        model.fit(X, lengths)


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_non_positive_definite_covars(kind, ct, data):
    X, lengths = data
    model = _set_start(_make(kind, ct, init_params="", n_iter=2), kind, ct)
    cov = np.array(model.covars_ if kind == "gmm" else model._covars_, dtype=float)
    if ct in ("full", "tied"):
        cov[..., :, :] = np.array([[1.0, 2.0], [2.0, 1.0]])  # indefinite
        match = "positive-definite"
    else:
        cov.flat[0] = -1.0
        match = "must be positive"
    model.covars_ = cov
    with pytest.raises(ValueError, match=match):
        model.fit(X, lengths)
    with pytest.raises(ValueError, match=match):
        model.score(X, lengths)
    if ct in ("full", "tied"):
        asym = np.array(cov)
        asym[..., :, :] = np.array([[1.0, 0.5], [0.0, 1.0]])
        model.covars_ = asym
        with pytest.raises(ValueError, match="symmetric"):
            model.fit(X, lengths)


BAD_HYPER = [
    ("both", dict(n_components=0), "n_components"),
    ("both", dict(n_components=2.5), "n_components"),
    ("both", dict(covariance_type="foo"), "covariance_type"),
    ("both", dict(n_iter=-1), "n_iter"),
    ("both", dict(tol=np.nan), "tol"),
    ("both", dict(tol="1e-3"), "tol"),
    ("both", dict(implementation="bad"), "implementation"),
    ("both", dict(algorithm="bad"), "algorithm"),
    ("both", dict(params="stz"), "unknown letters"),
    ("both", dict(init_params="x"), "unknown letters"),
    ("both", dict(params=None), "params must be a string"),
    ("gaussian", dict(params="stmcw"), "unknown letters"),
    ("gmm", dict(n_mix=0), "n_mix"),
    ("both", dict(min_covar=-1), "min_covar"),
    ("both", dict(n_init=0), "n_init"),
    ("both", dict(n_threads=0), "n_threads"),
    ("both", dict(verbose="yes"), "verbose"),
    ("both", dict(random_state="seed"), "random_state"),
]


@pytest.mark.parametrize("kind,kwargs,match", [
    (kind, kwargs, match) for which, kwargs, match in BAD_HYPER for kind in MODELS
    if which in ("both", kind)])
def test_invalid_hyper_parameters(kind, kwargs, match, data):
    model = _make(kind, **{"n_components": 3, **kwargs})
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(*data)


@pytest.mark.parametrize("kind", MODELS)
def test_decode_algorithm(kind, data, fitted_gaussian, fitted_gmm):
    fitted = fitted_gaussian if kind == "gaussian" else fitted_gmm
    X, lengths = data
    with pytest.raises(ValueError, match="Unknown decoder 'bad'"):
        fitted.decode(X, lengths, algorithm="bad")
    lp_v, path_v = fitted.decode(X, lengths, algorithm="viterbi")
    lp_m, path_m = fitted.decode(X, lengths, algorithm="map")
    post = fitted.predict_proba(X, lengths)
    assert_array_equal(path_m, post.argmax(axis=1))
    assert_allclose(lp_m, post.max(axis=1).sum())
    assert lp_v <= fitted.score(X, lengths) + 1e-9
    model = pickle.loads(pickle.dumps(fitted))
    model.algorithm = "map"
    assert_array_equal(model.predict(X, lengths), path_m)
    model.algorithm = "bad"
    with pytest.raises(ValueError, match="Unknown decoder 'bad'"):
        model.predict(X, lengths)


@pytest.mark.parametrize("kind", MODELS)
def test_unfitted_use(kind, data):
    X, lengths = data
    model = _make(kind)
    for call in (lambda: model.score(X, lengths), lambda: model.predict(X, lengths),
                 lambda: model.predict_proba(X), lambda: model.score_samples(X),
                 lambda: model.decode(X), lambda: model.sample(5),
                 lambda: model.aic(X), lambda: model.bic(X),
                 lambda: model.get_stationary_distribution()):
        with pytest.raises(ValueError, match="not fitted"):
            call()
        with pytest.raises(AttributeError, match="not fitted"):
            call()


@pytest.mark.parametrize("kind", MODELS)
def test_bad_sample_arguments(kind, fitted_gaussian, fitted_gmm):
    fitted = fitted_gaussian if kind == "gaussian" else fitted_gmm
    for n in (0, -3, 2.5, "10", True):
        with pytest.raises(ValueError, match="n_samples must be a positive integer"):
            fitted.sample(n_samples=n)
    for cur in (3, -1, 1.0, "0"):
        with pytest.raises(ValueError, match="currstate must be a state index"):
            fitted.sample(5, currstate=cur)


@pytest.mark.parametrize("kind", MODELS)
def test_too_few_samples_for_means_init(kind):
    with pytest.raises(ValueError, match="at least one sample per state"):
        _make(kind, n_components=3).fit(np.zeros((2, 2)))


# ---------------------------------------------------- pickle / clone / params
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind", MODELS)
def test_pickle_round_trip(kind, ct, data):
    X, lengths = data
    model = _make(kind, ct, n_iter=4, random_state=0).fit(X, lengths)
    loaded = pickle.loads(pickle.dumps(model))
    assert_array_equal(loaded.predict(X, lengths), model.predict(X, lengths))
    assert_array_equal(loaded.predict_proba(X, lengths), model.predict_proba(X, lengths))
    assert loaded.score(X, lengths) == model.score(X, lengths)
    for name, value in _fitted_params(model).items():
        assert_array_equal(getattr(loaded, name), value, err_msg=name)
    assert list(loaded.monitor_.history) == list(model.monitor_.history)
    assert loaded.get_params() == model.get_params()
    assert_array_equal(loaded.sample(10, random_state=3)[0], model.sample(10, random_state=3)[0])


@pytest.mark.parametrize("kind", MODELS)
def test_clone_and_params(kind, data):
    base = pytest.importorskip("sklearn.base")
    X, lengths = data
    model = _make(kind, "full", n_iter=3, random_state=0, n_init=2, n_threads=1,
                  implementation="scaling")
    params = model.get_params()
    for name in ("n_components", "covariance_type", "n_iter", "tol", "params",
                 "init_params", "implementation", "n_init", "n_threads", "algorithm",
                 "startprob_prior", "transmat_prior", "means_prior", "covars_prior",
                 "min_covar", "verbose", "random_state"):
        assert name in params, name
    if kind == "gmm":
        assert params["n_mix"] == 2 and "weights_prior" in params
    assert params["n_init"] == 2 and params["implementation"] == "scaling"
    model.fit(X, lengths)
    cloned = base.clone(model)
    assert type(cloned) is type(model)
    assert cloned.get_params() == model.get_params()
    # a fresh monitor (hmmlearn creates one at construction), no parameters
    assert not hasattr(cloned, "startprob_") and not cloned.monitor_.history
    cloned.fit(X, lengths)
    assert_array_equal(cloned.predict(X, lengths), model.predict(X, lengths))
    assert cloned.set_params(n_iter=7, tol=0.5) is cloned
    assert cloned.n_iter == 7 and cloned.get_params()["tol"] == 0.5
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        cloned.set_params(bogus=1)
    assert "n_components=3" in repr(model)
