"""VariationalGaussianHMM and VariationalCategoricalHMM: against hmmlearn 0.3
from identical starts (lower-bound history, every fitted attribute, paths,
scores), against Monte Carlo and brute-force references, and on bad input
and persistence."""
import io
import itertools
import logging
import warnings

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import logsumexp

from gmscore import (ChainStats, LikelihoodDecreaseWarning, VariationalCategoricalHMM,
                     VariationalGaussianHMM, load)
from gmscore._core.variational import SCALE_OPS, kl_dirichlet, kl_wishart_terms

vhmm = pytest.importorskip("hmmlearn.vhmm")

K = 3
LENGTHS = [60, 110, 35, 95]
COV_TYPES = ("full", "tied", "diag", "spherical")
GAUSSIAN_NAMES = ("startprob_prior_", "startprob_posterior_", "transmat_prior_",
                  "transmat_posterior_", "means_prior_", "means_posterior_", "beta_prior_",
                  "beta_posterior_", "dof_prior_", "dof_posterior_", "scale_prior_",
                  "scale_posterior_")
CATEGORICAL_NAMES = ("startprob_prior_", "startprob_posterior_", "transmat_prior_",
                     "transmat_posterior_", "emissionprob_prior_", "emissionprob_posterior_")


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)   # hmmlearn's notices
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield
    logging.disable(logging.NOTSET)


def _markov_states(rs, n, startprob, transmat):
    states = np.empty(n, dtype=int)
    states[0] = rs.choice(len(startprob), p=startprob)
    for t in range(1, n):
        states[t] = rs.choice(len(startprob), p=transmat[states[t - 1]])
    return states


def _gaussian_data(seed=0, d=3, lengths=LENGTHS):
    """Sequences from a 3-state chain with well separated, correlated states."""
    rs = np.random.RandomState(seed)
    sp = np.array([0.6, 0.3, 0.1])
    tm = np.array([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]])
    centres = rs.randn(K, d) * 4
    chol = [np.tril(rs.randn(d, d)) * 0.5 + np.eye(d) for _ in range(K)]
    parts = []
    for n in lengths:
        s = _markov_states(rs, n, sp, tm)
        z = rs.randn(n, d)
        parts.append(centres[s] + np.einsum("nij,nj->ni", np.array(chol)[s], z))
    return np.concatenate(parts), list(lengths)


def _categorical_data(seed=0, f=5, lengths=LENGTHS):
    rs = np.random.RandomState(seed)
    sp = np.array([0.5, 0.3, 0.2])
    tm = np.array([[0.85, 0.1, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
    B = rs.dirichlet(np.full(f, 0.4), K)
    X = []
    for n in lengths:
        s = _markov_states(rs, n, sp, tm)
        X.append([rs.choice(f, p=B[i]) for i in s])
    return np.concatenate(X)[:, None], list(lengths)


def _point_estimates_of_chain(ref):
    # hmmlearn sets startprob_ / transmat_ in its M-step only (and fails
    # without them when 's' / 't' are not in params); ours start from the
    # normalised posteriors
    ref.startprob_ = ref.startprob_posterior_ / ref.startprob_posterior_.sum()
    ref.transmat_ = ref.transmat_posterior_ / ref.transmat_posterior_.sum(axis=1)[:, None]


def _gaussian_pair(ct, implementation="log", n_iter=12, params="stmc", seed=0, **priors):
    """Ours and hmmlearn's model from hmmlearn's initialisation (copied)."""
    X, lengths = _gaussian_data(seed)
    ref = vhmm.VariationalGaussianHMM(K, covariance_type=ct, n_iter=n_iter, tol=-np.inf,
                                      random_state=seed, implementation=implementation,
                                      params=params, **priors)
    ref._init(X, lengths)
    ref.init_params = ""
    _point_estimates_of_chain(ref)
    ours = VariationalGaussianHMM(K, covariance_type=ct, n_iter=n_iter, tol=-np.inf,
                                  init_params="", implementation=implementation,
                                  params=params, **priors)
    for name in GAUSSIAN_NAMES:
        setattr(ours, name, np.array(getattr(ref, name), dtype=float, copy=True))
    ours.covars_ = ref._covars_
    return ours, ref, X, lengths


def _categorical_pair(implementation="log", n_iter=15, params="ste", seed=0, **priors):
    X, lengths = _categorical_data(seed)
    ref = vhmm.VariationalCategoricalHMM(K, n_iter=n_iter, tol=-np.inf, random_state=seed,
                                         implementation=implementation, params=params,
                                         **priors)
    ref._init(X, lengths)
    ref.init_params = ""
    _point_estimates_of_chain(ref)
    ours = VariationalCategoricalHMM(K, n_iter=n_iter, tol=-np.inf, init_params="",
                                     implementation=implementation, params=params, **priors)
    for name in CATEGORICAL_NAMES:
        setattr(ours, name, np.array(getattr(ref, name), dtype=float, copy=True))
    return ours, ref, X, lengths


def _assert_close(ours, ref, names, rtol=1e-7):
    for name in names:
        a = np.asarray(getattr(ours, name), dtype=float)
        b = np.asarray(getattr(ref, name), dtype=float)
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max()),
                                   err_msg=name)


def _assert_history(ours, ref):
    h_ours, h_ref = np.array(ours.monitor_.history), np.array(ref.monitor_.history)
    assert h_ours.shape == h_ref.shape and h_ours.size == ref.n_iter
    np.testing.assert_allclose(h_ours, h_ref, rtol=1e-9, atol=0)


def _path_log_prob(model, X, lengths, path, emission_log):
    """log p(path, X) under the point estimates, by the textbook sum."""
    total, start = 0.0, 0
    for n in lengths:
        s = path[start:start + n]
        total += (np.log(model.startprob_[s[0]]) + np.log(model.transmat_[s[:-1], s[1:]]).sum()
                  + emission_log[start + np.arange(n), s].sum())
        start += n
    return total


# ------------------------------------------------ Gaussian vs hmmlearn
@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_fit_matches_hmmlearn(ct, implementation):
    ours, ref, X, lengths = _gaussian_pair(ct, implementation)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    _assert_history(ours, ref)
    _assert_close(ours, ref, GAUSSIAN_NAMES + ("startprob_", "transmat_", "means_", "covars_"))
    # scoring and decoding with the point estimates
    np.testing.assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-10)
    _, post_ours = ours.score_samples(X, lengths)
    _, post_ref = ref.score_samples(X, lengths)
    np.testing.assert_allclose(post_ours, post_ref, atol=1e-9)
    for algorithm in ("viterbi", "map"):
        lp_ours, path_ours = ours.decode(X, lengths, algorithm=algorithm)
        lp_ref, path_ref = ref.decode(X, lengths, algorithm=algorithm)
        np.testing.assert_allclose(lp_ours, lp_ref, rtol=1e-10)
        np.testing.assert_array_equal(path_ours, path_ref)


@pytest.mark.parametrize("ct, params", [("full", "stc"), ("full", "mc"), ("diag", "stm"),
                                        ("diag", "st"), ("tied", "stc"), ("spherical", "sc")])
def test_gaussian_partial_params_match_hmmlearn(ct, params):
    # 'c' without 'm' runs the M-step of S about stale posterior means:
    # from posteriors that a full fit brought near its fixed point (far from
    # it, hmmlearn's S about stale means can come out indefinite, and its
    # lower bound NaN; ours raises then)
    ours, ref, X, lengths = _gaussian_pair(ct, n_iter=30)
    for model in (ref, ours):
        model.fit(X, lengths)
        model.params = params
        with warnings.catch_warnings():
            # hmmlearn's S about stale means is no ascent step: the bound
            # may fall (for both models alike)
            warnings.simplefilter("ignore", LikelihoodDecreaseWarning)
            model.fit(X, lengths)
    _assert_history(ours, ref)
    names = GAUSSIAN_NAMES + tuple(n for n, letter in (("startprob_", "s"), ("transmat_", "t"))
                                   if letter in params)
    _assert_close(ours, ref, names)


def _priors(ct, d=3):
    rs = np.random.RandomState(5)
    scale = {"full": np.stack([np.eye(d) * v for v in (0.5, 1.0, 2.0)]),
             "tied": np.eye(d) * 0.7 + 0.1,
             "diag": rs.uniform(0.2, 2.0, size=(K, d)),
             "spherical": np.array([0.3, 1.0, 3.0])}[ct]
    return dict(startprob_prior=np.array([2.0, 1.0, 0.5]),
                transmat_prior=rs.uniform(0.5, 3.0, size=(K, K)),
                means_prior=rs.randn(K, d), beta_prior=np.array([0.5, 2.0, 4.0]),
                dof_prior=7.0 if ct == "tied" else np.array([4.0, 5.5, 9.0]),
                scale_prior=scale)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_priors_match_hmmlearn(ct):
    ours, ref, X, lengths = _gaussian_pair(ct, n_iter=8, **_priors(ct))
    # our initialisation takes the same priors from the constructor
    fresh = VariationalGaussianHMM(K, covariance_type=ct, random_state=0, n_iter=0,
                                   **_priors(ct)).fit(X, lengths)
    _assert_close(fresh, ref, ("startprob_prior_", "transmat_prior_", "means_prior_",
                               "beta_prior_", "dof_prior_", "scale_prior_"), rtol=1e-15)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    _assert_history(ours, ref)
    _assert_close(ours, ref, GAUSSIAN_NAMES + ("startprob_", "transmat_", "means_", "covars_"))


def test_gaussian_default_priors_match_hmmlearn():
    X, lengths = _gaussian_data(1)
    for ct in COV_TYPES:
        ref = vhmm.VariationalGaussianHMM(K, covariance_type=ct, random_state=0)
        ref._init(X, lengths)
        ours = VariationalGaussianHMM(K, covariance_type=ct, random_state=0, n_iter=0)
        ours.fit(X, lengths)
        _assert_close(ours, ref, ("startprob_prior_", "transmat_prior_", "means_prior_",
                                  "beta_prior_", "dof_prior_", "scale_prior_"), rtol=1e-12)


def test_gaussian_far_from_origin_keeps_digits():
    # hmmlearn forms S from uncentred moments; ours is centred: a shift of
    # the data by 1e6 moves the fit with it exactly (up to the shift's rounding)
    ours, _, X, lengths = _gaussian_pair("full", n_iter=8)
    shifted = VariationalGaussianHMM(K, covariance_type="full", n_iter=8, tol=-np.inf,
                                     init_params="")
    for name in GAUSSIAN_NAMES:
        setattr(shifted, name, np.array(getattr(ours, name), copy=True))
    shifted.covars_ = ours._covars_
    shifted.means_prior_ = shifted.means_prior_ + 1e6
    shifted.means_posterior_ = shifted.means_posterior_ + 1e6
    ours.fit(X, lengths)
    shifted.fit(X + 1e6, lengths)
    np.testing.assert_allclose(shifted.scale_posterior_, ours.scale_posterior_, rtol=1e-6)
    np.testing.assert_allclose(shifted.monitor_.history, ours.monitor_.history, rtol=1e-9)


# ---------------------------------------------- Categorical vs hmmlearn
@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_categorical_fit_matches_hmmlearn(implementation):
    ours, ref, X, lengths = _categorical_pair(implementation)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    _assert_history(ours, ref)
    _assert_close(ours, ref, CATEGORICAL_NAMES + ("startprob_", "transmat_", "emissionprob_"))
    np.testing.assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), ref.predict_proba(X, lengths),
                               atol=1e-9)
    emission_log = np.log(ref.emissionprob_[:, X[:, 0]].T)
    for algorithm in ("viterbi", "map"):
        lp_ours, path_ours = ours.decode(X, lengths, algorithm=algorithm)
        lp_ref, path_ref = ref.decode(X, lengths, algorithm=algorithm)
        np.testing.assert_allclose(lp_ours, lp_ref, rtol=1e-10)
        if algorithm == "map" or np.array_equal(path_ours, path_ref):
            np.testing.assert_array_equal(path_ours, path_ref)
        else:   # symbols can make exact ties: then both paths must be optimal
            np.testing.assert_allclose(_path_log_prob(ref, X, lengths, path_ours, emission_log),
                                       _path_log_prob(ref, X, lengths, path_ref, emission_log),
                                       rtol=1e-12)


@pytest.mark.parametrize("params", ["st", "se", "te", "e"])
def test_categorical_partial_params_match_hmmlearn(params):
    ours, ref, X, lengths = _categorical_pair(params=params, n_iter=6)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    _assert_history(ours, ref)
    _assert_close(ours, ref, CATEGORICAL_NAMES)


def test_categorical_priors_match_hmmlearn():
    priors = dict(startprob_prior=2.0, transmat_prior=0.7, emissionprob_prior=1.5)
    ours, ref, X, lengths = _categorical_pair(n_iter=10, **priors)
    fresh = VariationalCategoricalHMM(K, random_state=0, n_iter=0, **priors).fit(X, lengths)
    _assert_close(fresh, ref, ("startprob_prior_", "transmat_prior_", "emissionprob_prior_"),
                  rtol=1e-15)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    _assert_history(ours, ref)
    _assert_close(ours, ref, CATEGORICAL_NAMES + ("emissionprob_",))


def test_categorical_n_features_from_data_and_given():
    X, lengths = _categorical_data(2)
    model = VariationalCategoricalHMM(K, random_state=0, n_iter=3).fit(X, lengths)
    assert model.n_features == int(X.max()) + 1
    assert model.emissionprob_posterior_.shape == (K, model.n_features)
    wide = VariationalCategoricalHMM(K, n_features=8, random_state=0, n_iter=3).fit(X, lengths)
    assert wide.emissionprob_.shape == (K, 8)
    # symbols never seen keep only their prior mass
    unseen = np.setdiff1d(np.arange(8), X)
    np.testing.assert_allclose(wide.emissionprob_posterior_[:, unseen],
                               wide.emissionprob_prior_[:, unseen])


# ------------------------------------------- independent references
def _random_posteriors(ct, d, seed=3):
    rs = np.random.RandomState(seed)
    model = VariationalGaussianHMM(2, covariance_type=ct, init_params="")
    model.startprob_prior_ = np.array([0.5, 0.5])
    model.startprob_posterior_ = np.array([1.7, 0.6])
    model.transmat_prior_ = np.full((2, 2), 0.5)
    model.transmat_posterior_ = np.array([[3.0, 1.2], [0.8, 2.5]])
    model.means_prior_ = np.zeros((2, d))
    model.means_posterior_ = rs.randn(2, d)
    model.beta_prior_ = np.ones(2)
    model.beta_posterior_ = np.array([4.0, 9.0])
    dof = np.array([d + 2.5, d + 6.0])
    mats = []
    for _ in range(2):
        a = rs.randn(d, d)
        mats.append(a @ a.T + d * np.eye(d))
    mats = np.array(mats)
    scale = {"full": mats, "tied": mats[0], "diag": np.diagonal(mats, axis1=1, axis2=2).copy(),
             "spherical": np.array([2.0, 5.0])}[ct]
    model.dof_prior_ = float(d) if ct == "tied" else np.full(2, float(d))
    model.dof_posterior_ = float(dof[0]) if ct == "tied" else dof
    model.scale_prior_ = {"full": np.array([np.eye(d)] * 2), "tied": np.eye(d),
                          "diag": np.ones((2, d)), "spherical": np.ones(2)}[ct]
    model.scale_posterior_ = scale
    model.covars_ = scale / (dof[0] if ct == "tied" else
                             dof.reshape((2,) + (1,) * (np.ndim(scale) - 1)))
    model._check(d)
    return model


def _scale_matrix(model, k):
    s = np.asarray(model.scale_posterior_)
    d = model.n_features
    return {"full": lambda: s[k], "tied": lambda: s, "diag": lambda: np.diag(s[k]),
            "spherical": lambda: s[k] * np.eye(d)}[model.covariance_type]()


def _dof(model, k):
    return model.dof_posterior_ if model.covariance_type == "tied" else model.dof_posterior_[k]


@pytest.mark.parametrize("ct", COV_TYPES)
def test_expected_log_likelihood_matches_monte_carlo(ct):
    """E[log N(x | mu, Lambda)] + D/2 log(2 pi) under the Normal-Wishart,
    by sampling Lambda ~ Wishart(dof, inv(S)), mu ~ N(m, inv(beta Lambda))."""
    d = 3
    model = _random_posteriors(ct, d)
    X = np.random.RandomState(0).randn(4, d) * 2
    ours, _ = model._estep_log_likelihood(X, 1, None)
    rs = np.random.RandomState(1)
    n = 40000
    for k in range(2):
        lam = sps.wishart(df=_dof(model, k), scale=np.linalg.inv(_scale_matrix(model, k))).rvs(
            n, random_state=rs)
        chol = np.linalg.cholesky(np.linalg.inv(model.beta_posterior_[k] * lam))
        mu = model.means_posterior_[k] + np.einsum("nij,nj->ni", chol, rs.randn(n, d))
        logdet = np.linalg.slogdet(lam)[1]
        for i, x in enumerate(X):
            diff = x - mu
            draws = 0.5 * logdet - 0.5 * np.einsum("ni,nij,nj->n", diff, lam, diff)
            se = draws.std() / np.sqrt(n)
            assert abs(ours[i, k] - draws.mean()) < 5 * se + 1e-9, (k, i)


def test_kl_terms_match_monte_carlo():
    rs = np.random.RandomState(0)
    q, p = np.array([2.0, 3.5, 0.7]), np.array([1.0, 0.5, 2.0])
    n = 20000
    draws = sps.dirichlet(q).rvs(n, random_state=rs)
    log_ratio = sps.dirichlet(q).logpdf(draws.T) - sps.dirichlet(p).logpdf(draws.T)
    assert abs(kl_dirichlet(q, p) - log_ratio.mean()) < 5 * log_ratio.std() / np.sqrt(n)
    d = 3
    a, b = rs.randn(d, d), rs.randn(d, d)
    s_q, s_p = a @ a.T + d * np.eye(d), b @ b.T + np.eye(d)
    dof_q, dof_p = 8.0, 4.5
    logdet, trace, _ = SCALE_OPS["full"]
    kl = kl_wishart_terms(dof_q, logdet(s_q, d), dof_p, logdet(s_p, d), trace(s_p, s_q, d), d)
    wq = sps.wishart(df=dof_q, scale=np.linalg.inv(s_q))
    wp = sps.wishart(df=dof_p, scale=np.linalg.inv(s_p))
    draws = wq.rvs(n, random_state=rs).transpose(1, 2, 0)
    log_ratio = wq.logpdf(draws) - wp.logpdf(draws)
    assert abs(kl - log_ratio.mean()) < 5 * log_ratio.std() / np.sqrt(n)


@pytest.mark.parametrize("ct", ["full", "diag"])
def test_estep_matches_brute_force_over_paths(ct):
    """The E-step's normaliser and expected counts with the subnormalised
    chain exp(E[log pi]), exp(E[log A]), by enumerating every state path."""
    d, T = 2, 6
    model = _random_posteriors(ct, d)
    X = np.random.RandomState(2).randn(T, d)
    from scipy.special import digamma

    def e_log(a):
        return digamma(a) - digamma(a.sum(axis=-1, keepdims=True))

    log_pi, log_a = e_log(model.startprob_posterior_), e_log(model.transmat_posterior_)
    emis = np.empty((T, 2))
    for k in range(2):   # the direct formula (checked by Monte Carlo above)
        s, dof = _scale_matrix(model, k), _dof(model, k)
        diff = X - model.means_posterior_[k]
        elogdet = (digamma(0.5 * (dof - np.arange(d))).sum() + d * np.log(2)
                   - np.linalg.slogdet(s)[1])
        emis[:, k] = (0.5 * elogdet - 0.5 * d / model.beta_posterior_[k]
                      - 0.5 * dof * np.einsum("ti,ij,tj->t", diff, np.linalg.inv(s), diff))
    weights, start, trans, occupancy = [], np.zeros(2), np.zeros((2, 2)), np.zeros(2)
    paths = list(itertools.product(range(2), repeat=T))
    for path in paths:
        p = np.array(path)
        weights.append(log_pi[p[0]] + log_a[p[:-1], p[1:]].sum() + emis[np.arange(T), p].sum())
    weights = np.array(weights)
    log_z = logsumexp(weights)
    for w, path in zip(np.exp(weights - log_z), paths):
        p = np.array(path)
        start[p[0]] += w
        np.add.at(trans, (p[:-1], p[1:]), w)
        np.add.at(occupancy, p, w)
    stats = model.accumulate(X)
    assert isinstance(stats, ChainStats)
    np.testing.assert_allclose(stats.loglik, log_z, rtol=1e-12)
    np.testing.assert_allclose(stats.start, start, atol=1e-12)
    np.testing.assert_allclose(stats.trans, trans, atol=1e-12)
    np.testing.assert_allclose(stats.emissions.nk, occupancy, atol=1e-12)


def test_results_do_not_depend_on_thread_count():
    X, lengths = _gaussian_data(4)
    fits = [VariationalGaussianHMM(K, covariance_type="diag", random_state=0, n_iter=8,
                                   n_threads=t).fit(X, lengths) for t in (1, 2)]
    assert list(fits[0].monitor_.history) == list(fits[1].monitor_.history)
    for name in GAUSSIAN_NAMES:
        np.testing.assert_array_equal(getattr(fits[0], name), getattr(fits[1], name))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_default_fit_recovers_states_and_bound_rises(ct):
    X, lengths = _gaussian_data(6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LikelihoodDecreaseWarning)
        # restarts: one k-means start can land in a local optimum
        model = VariationalGaussianHMM(K, covariance_type=ct, random_state=0,
                                       n_init=4).fit(X, lengths)
    history = np.array(model.monitor_.history)
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    assert model.monitor_.converged
    # the states found are the generating ones (data from _gaussian_data(6))
    rs = np.random.RandomState(6)
    centres = rs.randn(K, 3) * 4
    found = model.means_[np.argsort(model.means_[:, 0])]
    np.testing.assert_allclose(found, centres[np.argsort(centres[:, 0])], atol=0.6)


def test_float32_input_fits_close_to_float64():
    X, lengths = _gaussian_data(7)
    a = VariationalGaussianHMM(K, covariance_type="full", random_state=0, n_iter=10,
                               tol=-np.inf).fit(X, lengths)
    b = VariationalGaussianHMM(K, covariance_type="full", random_state=0, n_iter=10,
                               tol=-np.inf).fit(X.astype(np.float32), lengths)
    np.testing.assert_allclose(b.monitor_.history, a.monitor_.history, rtol=1e-4)
    np.testing.assert_allclose(b.means_posterior_, a.means_posterior_, rtol=1e-3, atol=1e-3)


# ------------------------------------------------ bad input, letters
def _fitted_gaussian(ct="diag", **kw):
    X, lengths = _gaussian_data(8)
    return VariationalGaussianHMM(K, covariance_type=ct, random_state=0, n_iter=5,
                                  **kw).fit(X, lengths), X, lengths


def _state(model):
    return {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
            for k, v in vars(model).items() if k != "monitor_"}


def _assert_unchanged(model, before):
    after = _state(model)
    assert sorted(after) == sorted(before)
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[name], value, err_msg=name)
        else:
            assert after[name] == value or (after[name] is value), name


@pytest.mark.parametrize("change, match", [
    (dict(covariance_type="bogus"), "covariance_type"),
    (dict(params="stmx"), "unknown letters"),
    (dict(init_params="stme"), "unknown letters"),
    (dict(n_iter=-1), "n_iter"),
    (dict(startprob_prior=-1.0, init_params="s"), "startprob_prior_ must hold finite, positive"),
    (dict(scale_prior=np.ones((2, 2)), init_params="c"), "scale_prior"),
    (dict(dof_prior=1.0, covariance_type="full", init_params="c"), "dof_prior_ must exceed"),
    (dict(beta_prior=np.zeros(K), init_params="m"), "beta_prior_ must hold finite, positive"),
])
def test_bad_hyper_parameters_raise_and_leave_the_model(change, match):
    model, X, lengths = _fitted_gaussian()
    model.set_params(**change)
    before = _state(model)
    with pytest.raises(ValueError, match=match):
        model.fit(X, lengths)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("name, value, match", [
    ("dof_posterior_", np.full(K, 1.5), "dof_posterior_ must exceed n_features - 1"),
    ("beta_posterior_", np.array([1.0, -2.0, 1.0]), "beta_posterior_ must hold finite"),
    ("scale_posterior_", np.ones((K, 2)), "scale_posterior_ must have shape"),
    ("means_posterior_", np.full((K, 3), np.nan), "means_posterior_ must be a finite"),
    ("transmat_posterior_", np.ones((K, K + 1)), "transmat_posterior_ must have shape"),
])
def test_bad_assigned_posteriors_raise_and_leave_the_model(name, value, match):
    model, X, lengths = _fitted_gaussian()
    model.init_params = ""
    setattr(model, name, value)
    before = _state(model)
    with pytest.raises(ValueError, match=match):
        model.fit(X, lengths)
    _assert_unchanged(model, before)


def test_bad_data_raise_clear_errors():
    model, X, lengths = _fitted_gaussian()
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        VariationalGaussianHMM(K, n_iter=2).fit(bad, lengths)
    with pytest.raises(ValueError, match="features"):
        model.score(X[:, :2], lengths)
    with pytest.raises(ValueError, match="lengths"):
        model.fit(X, [len(X) + 1])
    with pytest.raises(TypeError, match="partial_fit"):
        model.partial_fit(X, lengths)
    with pytest.raises(ValueError, match="fit"):   # NotFittedError
        VariationalGaussianHMM(K).score(X)
    symbols, slen = _categorical_data(1)
    cat = VariationalCategoricalHMM(K, n_features=3, n_iter=2, random_state=0)
    with pytest.raises(ValueError, match="symbols"):
        cat.fit(symbols, slen)              # symbols up to 4 with n_features=3
    with pytest.raises(ValueError, match="columns"):
        VariationalCategoricalHMM(K, n_iter=2).fit(np.hstack([symbols, symbols]), slen)
    with pytest.raises(ValueError, match="symbols"):
        VariationalCategoricalHMM(K, n_iter=2).fit(symbols + 0.5, slen)


def test_params_letters_freeze_what_they_omit():
    model, X, lengths = _fitted_gaussian("full")
    frozen = {n: np.array(getattr(model, n), copy=True) for n in GAUSSIAN_NAMES}
    model.set_params(params="t", init_params="", n_iter=3)
    model.fit(X, lengths)
    for name in GAUSSIAN_NAMES:
        if name != "transmat_posterior_":
            np.testing.assert_array_equal(getattr(model, name), frozen[name], err_msg=name)
    assert not np.array_equal(model.transmat_posterior_, frozen["transmat_posterior_"])
    # init_params re-initialises only what it names
    model.set_params(params="stmc", init_params="s", n_iter=0)
    model.fit(X, lengths)
    np.testing.assert_array_equal(model.scale_posterior_, frozen["scale_posterior_"])
    assert not np.array_equal(model.startprob_posterior_, frozen["startprob_posterior_"])


def test_fit_scalars_as_hmmlearn():
    X, lengths = _gaussian_data(0)
    for ct in COV_TYPES:
        ref = vhmm.VariationalGaussianHMM(K, covariance_type=ct)
        ref.n_features = X.shape[1]
        ours = VariationalGaussianHMM(K, covariance_type=ct)
        assert ours._get_n_fit_scalars_per_param(X.shape[1]) == \
            ref._get_n_fit_scalars_per_param()


# ------------------------------------------------------- persistence
@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_save_load_round_trip(ct):
    model, X, lengths = _fitted_gaussian(ct)
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    loaded = load(buf)
    assert type(loaded) is VariationalGaussianHMM
    assert list(loaded.monitor_.history) == list(model.monitor_.history)
    for name in GAUSSIAN_NAMES + ("startprob_", "transmat_", "_covars_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    assert loaded.score(X, lengths) == model.score(X, lengths)
    np.testing.assert_array_equal(loaded.predict(X, lengths), model.predict(X, lengths))
    # training continues identically
    for m in (model, loaded):
        m.set_params(init_params="", n_iter=2)
        m.fit(X, lengths)
    assert list(loaded.monitor_.history) == list(model.monitor_.history)


def test_categorical_save_load_round_trip_and_unfitted():
    X, lengths = _categorical_data(3)
    model = VariationalCategoricalHMM(K, random_state=0, n_iter=5).fit(X, lengths)
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    loaded = load(buf)
    for name in CATEGORICAL_NAMES + ("emissionprob_", "startprob_", "transmat_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    assert loaded.score(X, lengths) == model.score(X, lengths)
    buf = io.BytesIO()
    VariationalCategoricalHMM(4, n_features=6).save(buf)
    buf.seek(0)
    fresh = load(buf)
    assert fresh.n_components == 4 and fresh.n_features == 6 and not hasattr(fresh, "startprob_")


def test_save_refuses_broken_posteriors():
    model, _, _ = _fitted_gaussian("full")
    model.scale_posterior_ = -model.scale_posterior_
    with pytest.raises(ValueError, match="scale_posterior_"):
        model.save(io.BytesIO())


def test_accumulate_and_maximize_are_one_iteration():
    ours, _, X, lengths = _gaussian_pair("tied", n_iter=1)
    stepped = VariationalGaussianHMM(K, covariance_type="tied", init_params="")
    for name in GAUSSIAN_NAMES:
        setattr(stepped, name, np.array(getattr(ours, name), copy=True))
    stepped.covars_ = ours._covars_
    stepped._check(X.shape[1])
    half = len(lengths) // 2
    cut = sum(lengths[:half])
    stats = stepped.accumulate(X[:cut], lengths[:half]) + stepped.accumulate(X[cut:],
                                                                             lengths[half:])
    bound = stepped._em_objective(stats)
    stepped.maximize(stats)
    ours.fit(X, lengths)
    np.testing.assert_allclose(bound, ours.monitor_.history[0], rtol=1e-12)
    _assert_close(stepped, ours, GAUSSIAN_NAMES, rtol=1e-10)


def test_docstring_examples_run():
    import doctest

    import gmscore.variational_hmm

    result = doctest.testmod(gmscore.variational_hmm, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_many_states_start_from_positive_posteriors():
    # numpy's Dirichlet draws exact zeros for alpha = 1 / 200; the fit must
    # still start (hmmlearn's first bound is NaN there) and rise afterwards
    rs = np.random.RandomState(0)
    X = rs.randint(0, 300, size=(3000, 1))
    m = VariationalCategoricalHMM(200, random_state=0, n_iter=3, tol=-np.inf).fit(X)
    history = np.array(m.monitor_.history)
    assert np.isfinite(history).all() and np.all(np.diff(history) > 0)
    assert (m.startprob_posterior_ > 0).all() and (m.transmat_posterior_ > 0).all()
