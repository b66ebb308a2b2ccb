"""CategoricalHMM, PoissonHMM, MultinomialHMM against hmmlearn 0.3 from
identical starts, against direct scipy/numpy formulas and brute force, and
on bad input."""
import io
import logging

import numpy as np
import pytest
from scipy import stats as sps

from gmscore import CategoricalHMM, MultinomialHMM, PoissonHMM, load, load_stats
from gmscore import _discretec
from gmscore._core.stats import ChainStats, CountStats

hmm = pytest.importorskip("hmmlearn.hmm")

K = 3
LENGTHS = [120, 300, 80, 250]
N = sum(LENGTHS)


@pytest.fixture(autouse=True)
def _quiet_hmmlearn():
    # hmmlearn's MultinomialHMM logs a notice at construction
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def _chain(rs, k=K):
    return rs.dirichlet(np.ones(k)), rs.dirichlet(np.ones(k), k)


def _categorical_case(seed=0, f=6):
    rs = np.random.RandomState(seed)
    sp, tm = _chain(rs)
    B = rs.dirichlet(np.full(f, 0.5), K)
    # data from a different model than the start, so EM moves
    truth = CategoricalHMM(K, init_params="")
    truth.startprob_, truth.transmat_ = _chain(rs)
    truth.emissionprob_ = rs.dirichlet(np.full(f, 0.3), K)
    X = np.concatenate([truth.sample(n, random_state=rs)[0] for n in LENGTHS])
    return dict(startprob_=sp, transmat_=tm, emissionprob_=B), X


def _poisson_case(seed=0, d=4):
    rs = np.random.RandomState(seed)
    sp, tm = _chain(rs)
    lam = rs.gamma(3.0, 1.0, size=(K, d))
    rates = rs.gamma(2.0, 2.0, size=(K, d))
    states = rs.randint(0, K, size=N)
    X = rs.poisson(rates[states])
    return dict(startprob_=sp, transmat_=tm, lambdas_=lam), X


def _multinomial_case(seed=0, d=5, n_trials=12):
    rs = np.random.RandomState(seed)
    sp, tm = _chain(rs)
    P = rs.dirichlet(np.ones(d), K)
    truth = rs.dirichlet(np.full(d, 0.5), K)
    states = rs.randint(0, K, size=N)
    X = np.array([rs.multinomial(n_trials, truth[s]) for s in states])
    return dict(startprob_=sp, transmat_=tm, emissionprob_=P), X


CASES = {
    "categorical": (CategoricalHMM, hmm.CategoricalHMM, _categorical_case, {}),
    "poisson": (PoissonHMM, hmm.PoissonHMM, _poisson_case, {}),
    "multinomial": (MultinomialHMM, hmm.MultinomialHMM, _multinomial_case, {"n_trials": 12}),
}


def _pair(name, n_iter=6, implementation="log", **kw):
    ours_cls, ref_cls, case, extra = CASES[name]
    params, X = case()
    models = []
    for cls in (ours_cls, ref_cls):
        m = cls(K, n_iter=n_iter, tol=-np.inf, init_params="", implementation=implementation,
                **extra, **kw)
        for attr, value in params.items():
            setattr(m, attr, value.copy())
        models.append(m)
    return models, X


def _path_log_prob(model, X, path, lengths):
    """Brute-force log P(path, X) from the frame log-likelihoods of scipy."""
    flp = _reference_frame_log_prob(model, X)
    total, start = 0.0, 0
    with np.errstate(divide="ignore"):
        ls, lt = np.log(model.startprob_), np.log(model.transmat_)
    for n in lengths:
        p = path[start:start + n]
        total += ls[p[0]] + flp[start + np.arange(n), p].sum() + lt[p[:-1], p[1:]].sum()
        start += n
    return total


def _reference_frame_log_prob(model, X):
    if isinstance(model, CategoricalHMM):
        with np.errstate(divide="ignore"):
            return np.log(model.emissionprob_[:, X[:, 0]].T)
    if isinstance(model, PoissonHMM):
        return np.stack([sps.poisson.logpmf(X, lam).sum(axis=1) for lam in model.lambdas_],
                        axis=1)
    return np.stack([sps.multinomial.logpmf(X, X.sum(axis=1), p)
                     for p in model.emissionprob_], axis=1)


# ------------------------------------------------------------- vs hmmlearn
@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("name", list(CASES))
def test_fit_matches_hmmlearn(name, implementation):
    (ours, ref), X = _pair(name, implementation=implementation)
    ours.fit(X, LENGTHS)
    ref.fit(X, LENGTHS)
    assert len(ours.monitor_.history) == len(ref.monitor_.history) == 6
    np.testing.assert_allclose(ours.monitor_.history, ref.monitor_.history, rtol=1e-10,
                               atol=1e-8)
    for attr in ("startprob_", "transmat_", ours._emission_param_names[0]):
        np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-8,
                                   atol=1e-10, err_msg=attr)
    assert ours.monitor_.history[-1] > ours.monitor_.history[0]   # EM moved


@pytest.mark.parametrize("name", list(CASES))
def test_inference_matches_hmmlearn(name):
    (ours, ref), X = _pair(name)
    ours.fit(X, LENGTHS)
    for attr in ("startprob_", "transmat_", ours._emission_param_names[0]):
        setattr(ref, attr, getattr(ours, attr).copy())
    np.testing.assert_allclose(ours.score(X, LENGTHS), ref.score(X, LENGTHS), rtol=1e-12)
    ll, post = ours.score_samples(X, LENGTHS)
    ll_ref, post_ref = ref.score_samples(X, LENGTHS)
    np.testing.assert_allclose(ll, ll_ref, rtol=1e-12)
    np.testing.assert_allclose(post, post_ref, atol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X, LENGTHS), post_ref, atol=1e-8)
    np.testing.assert_array_equal(ours.decode(X, LENGTHS, algorithm="map")[1],
                                  ref.decode(X, LENGTHS, algorithm="map")[1])
    lp, path = ours.decode(X, LENGTHS)
    lp_ref, path_ref = ref.decode(X, LENGTHS)
    np.testing.assert_allclose(lp, lp_ref, rtol=1e-12)
    # Discrete emissions make exact ties (paths that permute the same
    # transitions over repeated symbols); where the paths differ, both
    # must be maximisers, by brute force.
    if not np.array_equal(path, path_ref):
        np.testing.assert_allclose(_path_log_prob(ours, X, path, LENGTHS),
                                   _path_log_prob(ours, X, path_ref, LENGTHS), rtol=1e-12)
    assert np.mean(path == path_ref) > 0.9
    np.testing.assert_allclose(_path_log_prob(ours, X, path, LENGTHS), lp, rtol=1e-12)
    np.testing.assert_array_equal(ours.predict(X, LENGTHS), path)
    assert ours.aic(X, LENGTHS) == pytest.approx(ref.aic(X, LENGTHS), rel=1e-12)
    assert ours.bic(X, LENGTHS) == pytest.approx(ref.bic(X, LENGTHS), rel=1e-12)


def test_viterbi_paths_equal_hmmlearn_without_ties():
    # well separated emissions and no repeated-symbol permutations: unique path
    rs = np.random.RandomState(3)
    B = np.array([[0.7, 0.2, 0.1, 0.0], [0.05, 0.15, 0.5, 0.3], [0.2, 0.6, 0.1, 0.1]])
    sp = np.array([0.5, 0.3, 0.2])
    tm = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.25, 0.05, 0.7]])
    models = []
    for cls in (CategoricalHMM, hmm.CategoricalHMM):
        m = cls(K, init_params="")
        m.startprob_, m.transmat_, m.emissionprob_ = sp, tm, B
        models.append(m)
    X, _ = models[0].sample(400, random_state=rs)
    lengths = [150, 250]
    lp, path = models[0].decode(X, lengths)
    lp_ref, path_ref = models[1].decode(X, lengths)
    assert lp == pytest.approx(lp_ref, rel=1e-12)
    np.testing.assert_array_equal(path, path_ref)


@pytest.mark.parametrize("name", list(CASES))
def test_partial_params_match_hmmlearn(name):
    # only the emission parameter is trained; the chain stays
    letter = CASES[name][0]._emission_letters
    (ours, ref), X = _pair(name, n_iter=4, params=letter)
    sp = ours.startprob_.copy()
    ours.fit(X, LENGTHS)
    ref.fit(X, LENGTHS)
    np.testing.assert_array_equal(ours.startprob_, sp)
    np.testing.assert_allclose(ours.monitor_.history, ref.monitor_.history, rtol=1e-10)
    attr = ours._emission_param_names[0]
    np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name,prior", [
    ("categorical", {"emissionprob_prior": 2.5, "startprob_prior": 1.5, "transmat_prior": 3.0}),
    ("categorical", {"emissionprob_prior": 0.7}),
    ("poisson", {"lambdas_prior": 2.0, "lambdas_weight": 0.5}),
    ("poisson", {"lambdas_prior": np.full((K, 4), 1.5), "lambdas_weight": 3.0}),
])
def test_priors_match_hmmlearn(name, prior):
    (ours, ref), X = _pair(name, n_iter=5, **prior)
    ours.fit(X, LENGTHS)
    ref.fit(X, LENGTHS)
    np.testing.assert_allclose(ours.monitor_.history, ref.monitor_.history, rtol=1e-10)
    attr = ours._emission_param_names[0]
    np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.transmat_, ref.transmat_, rtol=1e-8, atol=1e-12)


def test_categorical_n_features_inferred_and_random_init_valid():
    _, X = _categorical_case()
    m = CategoricalHMM(K, random_state=0, n_iter=3).fit(X, LENGTHS)
    assert m.n_features == X.max() + 1
    assert m.emissionprob_.shape == (K, X.max() + 1)
    np.testing.assert_allclose(m.emissionprob_.sum(axis=1), 1.0)
    assert m.n_features_in_ == 1


def test_multinomial_n_trials_from_data():
    _, X = _multinomial_case()
    m = MultinomialHMM(K, random_state=0, n_iter=2).fit(X, LENGTHS)
    assert m.n_trials == 12
    ref = hmm.MultinomialHMM(K, n_trials=12, init_params="", n_iter=2)
    ours = MultinomialHMM(K, n_trials=None, init_params="", n_iter=2)
    params, _ = _multinomial_case()
    for model in (ours, ref):
        for attr, value in params.items():
            setattr(model, attr, value.copy())
        model.fit(X, LENGTHS)
    np.testing.assert_allclose(ours.emissionprob_, ref.emissionprob_, rtol=1e-8)


# -------------------------------------------------- kernels vs references
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("n_threads", [1, 2])
def test_frame_log_likelihood_vs_scipy(name, n_threads):
    (ours, _), X = _pair(name)
    ours._check()
    flp, _ = ours._frame_log_likelihood(np.ascontiguousarray(X, dtype=np.float64), n_threads)
    np.testing.assert_allclose(flp, _reference_frame_log_prob(ours, X), rtol=1e-12, atol=1e-12)


def test_zero_rates_and_probabilities_are_impossible_not_nan():
    m = PoissonHMM(2, init_params="")
    m.startprob_, m.transmat_ = np.array([0.5, 0.5]), np.full((2, 2), 0.5)
    m.lambdas_ = np.array([[0.0, 1.0], [2.0, 3.0]])
    X = np.array([[0, 1], [1, 2], [0, 0]])
    flp, _ = m._frame_log_likelihood(X.astype(float), 1)
    np.testing.assert_allclose(flp, _reference_frame_log_prob(m, X))
    assert flp[1, 0] == -np.inf and np.isfinite(flp[[0, 2], 0]).all()
    assert np.isfinite(m.score(X))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_statistics_kernels_vs_numpy(n_threads):
    rs = np.random.RandomState(1)
    n, k, f, d = 30011, 4, 7, 3     # several statistics blocks
    X = rs.randint(0, f, size=(n, 1)).astype(np.float64)
    post = rs.dirichlet(np.ones(k), n)
    counts, nk0 = np.zeros((k, f)), np.zeros(k)
    _discretec.categorical_counts(X, post, nk0, counts, n_threads)
    np.testing.assert_allclose(nk0, post.sum(axis=0), rtol=1e-12)
    ref = np.zeros((k, f))
    np.add.at(ref.T, X[:, 0].astype(int), post)
    np.testing.assert_allclose(counts, ref, rtol=1e-12)
    C = rs.poisson(3, size=(n, d)).astype(np.float64)
    nk, s1 = np.zeros(k), np.zeros((k, d))
    _discretec.weighted_sums(C, post, nk, s1, n_threads)
    np.testing.assert_allclose(nk, post.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(s1, post.T @ C, rtol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_thread_count_invariant(name):
    ours_cls, _, case, extra = CASES[name]
    params, X = case(seed=5)
    X = np.concatenate([X] * 30)     # > one statistics block
    lengths = LENGTHS * 30
    fits = []
    for n_threads in (1, 2):
        m = ours_cls(K, n_iter=3, tol=-np.inf, init_params="", n_threads=n_threads, **extra)
        for attr, value in params.items():
            setattr(m, attr, value.copy())
        fits.append(m.fit(X, lengths))
    a, b = fits
    assert list(a.monitor_.history) == list(b.monitor_.history)
    for attr in ("startprob_", "transmat_", a._emission_param_names[0]):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    np.testing.assert_array_equal(a.predict(X, lengths), b.predict(X, lengths))


@pytest.mark.parametrize("name", list(CASES))
def test_accumulate_maximize_equals_fit(name):
    (ours, _), X = _pair(name, n_iter=1)
    twin = CASES[name][0](K, init_params="", **CASES[name][3])
    for attr in ("startprob_", "transmat_", ours._emission_param_names[0]):
        setattr(twin, attr, getattr(ours, attr).copy())
    cut = LENGTHS[0] + LENGTHS[1]
    stats = twin.accumulate(X[:cut], LENGTHS[:2]) + twin.accumulate(X[cut:], LENGTHS[2:])
    assert isinstance(stats, ChainStats) and isinstance(stats.emissions, CountStats)
    buf = io.BytesIO()
    stats.save(buf)
    buf.seek(0)
    assert load_stats(buf) == stats
    twin.maximize(stats)
    ours.fit(X, LENGTHS)
    attr = ours._emission_param_names[0]
    np.testing.assert_allclose(getattr(twin, attr), getattr(ours, attr), rtol=1e-12)


# ---------------------------------------------------------------- sampling
def test_sample_frequencies_and_dtype():
    m = CategoricalHMM(2, init_params="")
    m.startprob_ = np.array([1.0, 0.0])
    m.transmat_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    m.emissionprob_ = np.array([[0.1, 0.6, 0.3], [1 / 3, 1 / 3, 1 / 3]])
    X, states = m.sample(20000, random_state=0)
    assert X.shape == (20000, 1) and X.dtype.kind == "i" and (states == 0).all()
    freq = np.bincount(X[:, 0], minlength=3) / X.shape[0]
    np.testing.assert_allclose(freq, m.emissionprob_[0], atol=0.015)
    p = PoissonHMM(1, init_params="")
    p.startprob_, p.transmat_, p.lambdas_ = np.ones(1), np.ones((1, 1)), np.array([[0.5, 7.0]])
    Xp, _ = p.sample(20000, random_state=1)
    np.testing.assert_allclose(Xp.mean(axis=0), [0.5, 7.0], rtol=0.05)
    mn = MultinomialHMM(1, n_trials=9, init_params="")
    mn.startprob_, mn.transmat_ = np.ones(1), np.ones((1, 1))
    mn.emissionprob_ = np.array([[0.2, 0.5, 0.3]])
    Xm, _ = mn.sample(5000, random_state=2)
    assert (Xm.sum(axis=1) == 9).all()
    np.testing.assert_allclose(Xm.mean(axis=0) / 9, [0.2, 0.5, 0.3], atol=0.02)
    ref = hmm.MultinomialHMM(1, n_trials=np.array([9, 8]))
    ref.startprob_, ref.transmat_, ref.emissionprob_ = mn.startprob_, mn.transmat_, \
        mn.emissionprob_
    mn.n_trials = np.array([9, 8])
    with pytest.raises(ValueError, match="single n_trials"):
        mn.sample(3)
    with pytest.raises(ValueError, match="single n_trials"):
        ref.sample(3)


# --------------------------------------------------------------- bad input
def _state(model):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()
            if k != "monitor_"}


def _assert_same_state(before, model):
    after = _state(model)
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, after[key])
        else:
            assert value == after[key], key


def _fitted(name):
    (ours, _), X = _pair(name, n_iter=2)
    return ours.fit(X, LENGTHS), X


@pytest.mark.parametrize("name,mutate,match", [
    ("categorical", lambda X: X.__setitem__((130, 0), 6), r"\[6\] at row 130 \(sequence 1"),
    ("categorical", lambda X: X.__setitem__((5, 0), -1), r"at row 5 \(sequence 0"),
    ("poisson", lambda X: X.__setitem__((450, 2), -3), r"at row 450 \(sequence 2"),
    ("multinomial", lambda X: X.__setitem__((121, 0), X[121, 0] + 1),
     r"row 121 \(sequence 1, its row 1\) sum to 13, but n_trials is 12"),
    ("multinomial", lambda X: X.__setitem__((3, 1), -1), r"at row 3"),
])
@pytest.mark.parametrize("method", ["fit", "score", "predict", "predict_proba"])
def test_bad_values_name_the_row(name, mutate, match, method):
    model, X = _fitted(name)
    bad = X.copy()
    mutate(bad)
    before = _state(model)
    with pytest.raises(ValueError, match=match):
        getattr(model, method)(bad, LENGTHS)
    _assert_same_state(before, model)


@pytest.mark.parametrize("name", ["categorical", "poisson", "multinomial"])
def test_non_integer_counts(name):
    model, X = _fitted(name)
    bad = X.astype(np.float64)
    bad[200, 0] += 0.5
    before = _state(model)
    with pytest.raises(ValueError, match="at row 200 .*whole numbers"):
        model.fit(bad, LENGTHS)
    _assert_same_state(before, model)
    # initialising from bad data is refused too (n_features / moments / n_trials)
    fresh = CASES[name][0](K, **({"n_trials": None} if name == "multinomial" else {}))
    with pytest.raises(ValueError, match="at row 200"):
        fresh.fit(bad, LENGTHS)
    assert not hasattr(fresh, "startprob_")


def test_symbols_beyond_n_features_and_wrong_width():
    _, X = _categorical_case()
    m = CategoricalHMM(K, n_features=3)
    with pytest.raises(ValueError, match=r"n_features=3"):
        m.fit(X, LENGTHS)
    assert not hasattr(m, "emissionprob_") and m.n_features == 3
    with pytest.raises(ValueError, match=r"shape \(n_samples, 1\)"):
        CategoricalHMM(K).fit(np.hstack([X, X]), LENGTHS)


def test_ragged_list_names_the_sequence():
    _, X = _poisson_case()
    seqs = [X[:100], X[100:300, :3], X[300:]]
    with pytest.raises(ValueError, match=r"sequence 1 .*of X has 3 features, but .* had 4"):
        PoissonHMM(K).fit(seqs)
    model, _ = _fitted("poisson")
    before = _state(model)
    with pytest.raises(ValueError, match=r"sequence 1 .*of X has 3 features"):
        model.score(seqs)
    _assert_same_state(before, model)


def test_multinomial_n_trials_length_and_emission_checks():
    model, X = _fitted("multinomial")
    model.n_trials = np.full(7, 12)
    with pytest.raises(ValueError, match="n_trials has 7 entries but X has"):
        model.score(X, LENGTHS)
    model.n_trials = 12
    model.emissionprob_ = model.emissionprob_ * 2
    with pytest.raises(ValueError, match="emissionprob_ rows must sum to 1"):
        model.score(X, LENGTHS)
    p = PoissonHMM(2, init_params="")
    p.startprob_, p.transmat_ = np.array([0.5, 0.5]), np.full((2, 2), 0.5)
    p.lambdas_ = np.array([[1.0, -1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="non-negative rates"):
        p.score(np.ones((3, 2)))


# ------------------------------------------------------------- persistence
@pytest.mark.parametrize("name", list(CASES))
def test_save_load_round_trip(name, tmp_path):
    model, X = _fitted(name)
    path = tmp_path / "model.gms"
    model.save(path)
    loaded = load(path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X, LENGTHS),
                                  model.predict_proba(X, LENGTHS))
    assert loaded.score(X, LENGTHS) == model.score(X, LENGTHS)


def test_save_load_multinomial_n_trials_array(tmp_path):
    model, X = _fitted("multinomial")
    model.n_trials = X.sum(axis=1)
    model.save(tmp_path / "m.gms")
    loaded = load(tmp_path / "m.gms")
    np.testing.assert_array_equal(loaded.n_trials, model.n_trials)
    assert loaded.score(X, LENGTHS) == model.score(X, LENGTHS)


def test_save_refuses_bad_values():
    model, _ = _fitted("poisson")
    model.lambdas_ = -model.lambdas_
    with pytest.raises(ValueError, match="lambdas_ has negative entries"):
        model.save(io.BytesIO())
    model, _ = _fitted("categorical")
    model.emissionprob_ = model.emissionprob_[:, :-1]
    with pytest.raises(ValueError, match="n_features"):
        model.save(io.BytesIO())


# ------------------------------------------------------------ text example
def test_text_example_runs(capsys):
    from gmscore.examples import text_hmm

    result = text_hmm.main()
    out = capsys.readouterr().out
    assert "holds the vowels" in out and result["text"][:20] in out
    B, alphabet = result["emissionprob"], result["alphabet"]
    v = result["vowel_state"]
    # unsupervised, two states over letters: vowels in one, consonants in the other
    for ch in "aeiou":
        assert B[v, alphabet.index(ch)] > B[1 - v, alphabet.index(ch)], ch
    for ch in "tsrdcbpm":
        assert B[1 - v, alphabet.index(ch)] > B[v, alphabet.index(ch)], ch
    assert result["decoded"].shape == (len(result["text"]),)
    X, lengths = text_hmm.encode(text_hmm.load_text())
    assert X.shape == (sum(lengths), 1) and X.max() < len(alphabet)


def test_docstring_examples_run():
    import doctest

    import gmscore.discrete

    result = doctest.testmod(gmscore.discrete, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_partial_labels_and_unsupported_online_methods():
    params, X = _categorical_case()
    # every frame labelled: one M-step is counting symbols per state
    states = np.random.RandomState(2).randint(0, K, size=N)
    m = CategoricalHMM(K, random_state=0, n_iter=1, init_params="")
    for attr, value in params.items():
        setattr(m, attr, value)
    m.fit(X, LENGTHS, states=states)
    f = params["emissionprob_"].shape[1]
    counts = np.zeros((K, f))
    np.add.at(counts, (states, X[:, 0]), 1.0)
    np.testing.assert_allclose(m.emissionprob_, counts / counts.sum(axis=1, keepdims=True),
                               rtol=1e-12)
    with pytest.raises(TypeError, match="partial_fit supports GaussianHMM"):
        CategoricalHMM(K).partial_fit(X, LENGTHS)
    with pytest.raises(TypeError, match="filter"):
        m.filter()


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32, np.float64])
def test_integer_and_float_dtypes_give_the_same_fit(name, dtype):
    (a, _), X = _pair(name, n_iter=2)
    (b, _), _ = _pair(name, n_iter=2)
    a.fit(X, LENGTHS)
    b.fit(X.astype(dtype), LENGTHS)
    attr = a._emission_param_names[0]
    np.testing.assert_allclose(getattr(b, attr), getattr(a, attr), rtol=1e-12)
    np.testing.assert_allclose(b.monitor_.history, a.monitor_.history, rtol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_read_only_and_non_contiguous_input(name):
    model, X = _fitted(name)
    expected = model.score_samples(X, LENGTHS)[1]
    ro = np.asfortranarray(X)
    ro.setflags(write=False)
    np.testing.assert_array_equal(model.score_samples(ro, LENGTHS)[1], expected)
    wide = np.repeat(X, 2, axis=0)[::2]          # a strided view
    np.testing.assert_array_equal(model.score_samples(wide, LENGTHS)[1], expected)
