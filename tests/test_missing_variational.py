"""Missing values (NaN) in the variational models (BayesianGaussianMixture,
VariationalGaussianHMM) with nan_policy='marginalize', against brute-force
numpy references: the marginal of the complete-data VB log-density over
each row's observed features (scipy on the observed block), whose
constant a_k is read off the peer's own complete-data VB log-density
(scikit-learn's for the mixture, hmmlearn's for the HMM), the expected
statistics written row by row, and a log-space forward-backward."""
import os
import sys
import warnings

import numpy as np
import pytest
from scipy.special import digamma, logsumexp
from scipy.stats import multivariate_normal

from gmscore import BayesianGaussianMixture, VariationalGaussianHMM

sys.path.insert(0, os.path.dirname(__file__))
from missing_reference import COV_TYPES, full_covariances, ref_row  # noqa: E402
from test_missing_hmm import emissions, hmm_data, ref_chain, ref_viterbi  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:Best performing initialization"),
              pytest.mark.filterwarnings("ignore:.*no observed feature:UserWarning")]


def data(n=80, d=3, k=2, frac=0.1, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.randn(k, d) * 4
    X = centres[rng.randint(k, size=n)] + rng.randn(n, d) @ rng.randn(d, d) * 0.5
    X[rng.rand(n, d) < frac] = np.nan
    return X


def bgm(ct, **kw):
    kw.setdefault("random_state", 0)
    return BayesianGaussianMixture(n_components=3, covariance_type=ct,
                                   nan_policy="marginalize", **kw)


# ------------------------------------------------------------ reference
def sklearn_constants(model):
    """a_k of the model: scikit-learn's VB log-density at x = m_k minus
    log N(m_k; m_k, S_k), S_k = covariances_ (scikit-learn's own code
    evaluates the complete-data log rho)."""
    from sklearn.mixture import BayesianGaussianMixture as SkBGM

    sk = SkBGM(n_components=model.n_components, covariance_type=model.covariance_type,
               weight_concentration_prior_type=model.weight_concentration_prior_type)
    for name in ("weight_concentration_", "mean_precision_", "means_", "degrees_of_freedom_",
                 "covariances_", "precisions_cholesky_"):
        setattr(sk, name, getattr(model, name))
    k, d = model.means_.shape
    S = full_covariances(model.covariance_type, model.covariances_, k, d)
    log_rho = sk._estimate_weighted_log_prob(np.asarray(model.means_))
    return np.array([log_rho[j, j] - multivariate_normal(model.means_[j], S[j]).logpdf(
        model.means_[j]) for j in range(k)]), S


def reference_estep(model, X, centres, sw=None):
    """Row by row: log Z_i, responsibilities, the expected statistics
    (nk, s1, full s2 about ``centres``) and sum_k r_ik H_ik (entropies of
    q(x_m | z=k)); rows with no observed feature left out."""
    a, S = sklearn_constants(model)
    mu = np.asarray(model.means_)
    k, d = mu.shape
    sw = np.ones(X.shape[0]) if sw is None else sw
    lse, resp, ent = [], [], []
    nk, s1, s2 = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))
    for i, x in enumerate(X):
        o = ~np.isnan(x)
        if not o.any():
            continue
        # the marginal log rho_k(x_o) = log N(x_o; m_ko, S_koo) + a_k
        logp = np.array([multivariate_normal(mu[j][o], S[j][np.ix_(o, o)]).logpdf(x[o])
                         for j in range(k)]) + a
        _, fill, cpad = ref_row(x, np.exp(a), mu, S)
        z = logsumexp(logp)
        r = np.exp(logp - z)
        lse.append(z)
        resp.append(r)
        h = 0.0
        for j in range(k):
            y = fill[j] - centres[j]
            nk[j] += sw[i] * r[j]
            s1[j] += sw[i] * r[j] * y
            s2[j] += sw[i] * r[j] * (np.outer(y, y) + cpad[j])
            if (~o).any():
                c = cpad[j][np.ix_(~o, ~o)]
                h += r[j] * 0.5 * np.linalg.slogdet(2 * np.pi * np.e * c)[1]
        ent.append(h)
    return np.array(lse), np.array(resp), nk, s1, s2, np.array(ent)


def kind_s2(ct, s2):
    if ct == "full":
        return s2
    if ct == "tied":
        return s2.sum(axis=0)
    return np.diagonal(s2, axis1=1, axis2=2)


def fitted_bgm(ct, seed=1, **kw):
    X = data(n=120, d=3, k=3, frac=0.15, seed=seed)
    return bgm(ct, max_iter=4, **kw).fit(X), X


# ------------------------------------------------------------ E-step
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("prior", ["dirichlet_process", "dirichlet_distribution"])
def test_variational_estep_matches_brute_force(ct, prior):
    model, _ = fitted_bgm(ct, weight_concentration_prior_type=prior)
    X = data(n=40, d=3, k=3, frac=0.3, seed=7)
    X[5] = np.nan
    sw = np.random.RandomState(3).rand(40) + 0.5
    stats = model.accumulate(X, sample_weight=sw)
    # (about the centres the E-step chose: the means, or better ones)
    lse, resp, nk, s1, s2, _ = reference_estep(model, X, stats.centres, sw)
    np.testing.assert_allclose(stats.nk, nk, rtol=1e-10)
    np.testing.assert_allclose(stats.s1, s1, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats.s2, kind_s2(ct, s2), rtol=1e-10, atol=1e-10)
    keep = ~np.isnan(X).all(axis=1)
    np.testing.assert_allclose(stats.loglik, sw[keep] @ lse, rtol=1e-10)
    # the predictions are the same marginals (a row of NaN: log sum_k e^a_k)
    a, _ = sklearn_constants(model)
    got = model.score_samples(X)
    np.testing.assert_allclose(got[keep], lse, rtol=1e-10)
    np.testing.assert_allclose(got[5], logsumexp(a), rtol=1e-10)
    np.testing.assert_allclose(model.predict_proba(X)[keep], resp, rtol=1e-9, atol=1e-13)
    assert np.array_equal(model.predict(X)[keep], resp.argmax(axis=1))
    np.testing.assert_allclose(model.score(X), got.mean(), rtol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_complete_rows_score_as_without_marginalisation(ct):
    model, _ = fitted_bgm(ct)
    full = data(n=30, d=3, k=3, frac=0.0, seed=8)
    X = np.vstack([full, data(n=10, d=3, k=3, frac=0.4, seed=9)])
    np.testing.assert_allclose(model.score_samples(X)[:30], model.score_samples(full),
                               rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X)[:30], model.predict_proba(full),
                               rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_lower_bound_counts_the_entropies_of_the_missing_entries(ct):
    # The bound reconstructs sum r log r from the statistics; from the
    # expected statistics that is the true sum r log r minus sum r H_k,
    # exactly the entropy term the ELBO gains with q(x_m | z)
    model, _ = fitted_bgm(ct)
    X = data(n=40, d=3, k=3, frac=0.35, seed=10)
    lse, resp, *_, ent = reference_estep(model, X, model.means_)
    stats = model.accumulate(X)
    log_norm = model._kernel_parameters(np.dtype(np.float64))[2]
    got = model._sum_r_log_r(stats, log_norm)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_log_r = np.nansum(resp * np.log(resp))
    assert ent.sum() > 1.0       # the identity is not trivially 0 = 0
    np.testing.assert_allclose(got, r_log_r - ent.sum(), rtol=1e-9)


def elbo_by_definition(q, e_model, X):
    """E_q[log p(X_o, X_m, Z, theta)] - E_q[log q(Z, X_m) q(theta)] of a full,
    finite-Dirichlet BayesianGaussianMixture (Bishop 10.70-10.77), with
    q(Z, X_m) the E-step under ``e_model``'s posterior (q(x_m | z=k) the
    Gaussian conditional, written out) and q(theta) that of ``q``."""
    from scipy.special import gammaln

    X = X[~np.isnan(X).all(axis=1)]
    k, d = q.means_.shape
    a, S = sklearn_constants(e_model)
    nu, beta, m, alpha = q.degrees_of_freedom_, q.mean_precision_, q.means_, \
        q.weight_concentration_
    W = q.precisions_ / nu[:, None, None]            # E[Lambda_k] = nu_k W_k
    nu0, beta0, m0, alpha0 = q.degrees_of_freedom_prior_, q.mean_precision_prior_, \
        q.mean_prior_, q.weight_concentration_prior_
    W0inv = q.covariance_prior_
    j = np.arange(1, d + 1)
    logdetW = np.linalg.slogdet(W)[1]
    e_logdet = digamma(0.5 * (nu[:, None] + 1 - j)).sum(axis=1) + d * np.log(2) + logdetW
    e_logpi = digamma(alpha) - digamma(alpha.sum())

    def log_b(logdet_w, v):          # the Wishart normaliser, log B(W, nu)
        return (-0.5 * v * logdet_w - 0.5 * v * d * np.log(2) - 0.25 * d * (d - 1) * np.log(np.pi)
                - gammaln(0.5 * (v + 1 - j)).sum())

    def log_c(al):
        return gammaln(al.sum()) - gammaln(al).sum()

    data = z_part = 0.0
    for x in X:
        logp, fill, cpad = ref_row(x, np.exp(a), e_model.means_, S)
        r = np.exp(logp - logsumexp(logp))
        o = ~np.isnan(x)
        for c in range(k):
            y = fill[c] - m[c]
            quad = y @ W[c] @ y + np.trace(W[c] @ cpad[c])
            data += r[c] * 0.5 * (e_logdet[c] - d / beta[c] - nu[c] * quad - d * np.log(2 * np.pi))
            z_part += r[c] * e_logpi[c]
            h = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cpad[c][np.ix_(~o, ~o)])[1] \
                if (~o).any() else 0.0
            z_part -= r[c] * (np.log(r[c]) - h)     # - E_q[log q(z, x_m)]
    p_pi = log_c(np.full(k, alpha0)) + (alpha0 - 1) * e_logpi.sum()
    q_pi = log_c(alpha) + ((alpha - 1) * e_logpi).sum()
    logdetW0 = -np.linalg.slogdet(W0inv)[1]
    p_theta = q_theta = 0.0
    for c in range(k):
        diff = m[c] - m0
        p_theta += (0.5 * (d * np.log(beta0 / (2 * np.pi)) + e_logdet[c] - d * beta0 / beta[c]
                           - beta0 * nu[c] * diff @ W[c] @ diff)
                    + log_b(logdetW0, nu0) + 0.5 * (nu0 - d - 1) * e_logdet[c]
                    - 0.5 * nu[c] * np.trace(W0inv @ W[c]))
        entropy_w = -log_b(logdetW[c], nu[c]) - 0.5 * (nu[c] - d - 1) * e_logdet[c] \
            + 0.5 * nu[c] * d
        q_theta += 0.5 * e_logdet[c] + 0.5 * d * np.log(beta[c] / (2 * np.pi)) - 0.5 * d \
            - entropy_w
    return data + z_part + p_pi + p_theta - q_pi - q_theta


def test_lower_bound_is_the_elbo_by_definition():
    # scikit-learn's bound drops constants: lower_bounds_[t] minus the ELBO
    # written out term by term (with the entropies of q(x_m | z)) must be
    # the same at every iteration. reg_covar=0 keeps each M-step the exact
    # optimum, which the constant-free form assumes.
    X = data(n=25, d=2, k=2, frac=0.3, seed=16)
    kw = dict(max_iter=0, tol=0, reg_covar=0.0,
              weight_concentration_prior_type="dirichlet_distribution")
    steps = [bgm("full", **{**kw, "max_iter": t}).fit(X) for t in range(5)]
    elbo = np.array([elbo_by_definition(steps[t], steps[t - 1], X) for t in range(1, 5)])
    gap = np.array(steps[4].lower_bounds_) - elbo
    assert np.ptp(elbo) > 1e-3                 # the iterations moved
    np.testing.assert_allclose(gap, gap[0], rtol=0, atol=1e-9 * np.abs(elbo).max())
    # without the entropies of q(x_m | z) the gap would not be constant


@pytest.mark.parametrize("ct", COV_TYPES)
def test_lower_bound_is_monotone(ct):
    X = data(n=600, d=4, k=3, frac=0.1, seed=13)
    model = bgm(ct, max_iter=40, tol=0, reg_covar=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    lb = np.array(model.lower_bounds_)
    assert len(lb) == 40
    assert np.all(np.diff(lb) >= -1e-12 * np.abs(lb[1:])), np.diff(lb).min()
    assert lb[-1] > lb[0]
    assert model.lower_bound_ == lb[-1]


# ------------------------------------------------------------ fitting
@pytest.mark.parametrize("ct", COV_TYPES)
def test_no_nan_gives_todays_fit(ct):
    X = np.nan_to_num(data(n=200, d=3, k=3, seed=4), nan=0.5)
    a = BayesianGaussianMixture(n_components=3, covariance_type=ct, random_state=0,
                                max_iter=15).fit(X)
    b = bgm(ct, max_iter=15).fit(X)
    for name in ("weight_concentration_", "mean_precision_", "means_", "degrees_of_freedom_",
                 "covariances_", "precisions_cholesky_", "weights_"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12, atol=0)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-12)
    assert np.array_equal(a.score_samples(X), b.score_samples(X))
    assert np.array_equal(a.fit_predict(X), b.fit_predict(X))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_one_iteration_is_the_mstep_of_the_expected_statistics(ct):
    # fit = initialisation, then (E-step with missing values, M-step): the
    # statistics of the brute-force E-step through maximize give the fit
    X = data(n=150, d=3, k=3, frac=0.2, seed=14)
    two = bgm(ct, max_iter=2, tol=0).fit(X)
    one = bgm(ct, max_iter=1, tol=0).fit(X)
    from gmscore import GaussianStats

    _, _, nk, s1, s2, _ = reference_estep(one, X, one.means_)
    stats = GaussianStats(ct, one.means_, nk, s1, kind_s2(ct, s2))
    one.maximize(stats)
    for name in ("means_", "covariances_", "weights_", "degrees_of_freedom_"):
        np.testing.assert_allclose(getattr(one, name), getattr(two, name), rtol=1e-9,
                                   atol=1e-12)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_fit_predict_equals_fit_then_predict(ct):
    X = data(n=300, d=4, k=3, frac=0.2, seed=24)
    model = bgm(ct, max_iter=10)
    labels = model.fit_predict(X)
    assert np.array_equal(labels, model.predict(X))


def test_rows_entirely_nan_are_ignored_with_a_warning():
    X = data(n=80, d=3, k=2, seed=8)
    Xe = np.vstack([X, np.full((3, 3), np.nan)])
    with pytest.warns(UserWarning, match="3 sample"):
        a = bgm("full", max_iter=5, tol=0).fit(Xe)
    assert np.isfinite(a.lower_bound_)
    assert a.predict(Xe).shape == (83,)
    # the empty rows carry no statistics
    stats = a.accumulate(Xe)
    np.testing.assert_allclose(stats.nk.sum(), 80, rtol=1e-12)


def test_feature_missing_everywhere_is_a_clear_error():
    X = data(n=60, d=3, k=2, seed=9)
    X[:, 1] = np.nan
    model = bgm("full")
    with pytest.raises(ValueError, match=r"feature\(s\) \[1\].*every sample"):
        model.fit(X)
    assert not hasattr(model, "means_")
    fitted, _ = fitted_bgm("diag")
    before = {k: np.copy(v) for k, v in vars(fitted).items() if isinstance(v, np.ndarray)}
    with pytest.raises(ValueError, match=r"\[1\]"):
        fitted.fit(X)
    for k, v in before.items():
        assert np.array_equal(getattr(fitted, k), v)


def test_bad_input_leaves_the_model_unchanged():
    fitted, X = fitted_bgm("full")
    before = {k: np.copy(v) for k, v in vars(fitted).items() if isinstance(v, np.ndarray)}
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        fitted.fit(bad)
    with pytest.raises(ValueError, match="every sample of X is entirely NaN"):
        fitted.fit(np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="features"):
        fitted.score_samples(X[:, :2])
    for k, v in before.items():
        assert np.array_equal(getattr(fitted, k), v)


def test_policy_validation_and_default():
    X = data(seed=1)
    assert BayesianGaussianMixture().get_params()["nan_policy"] == "raise"
    with pytest.raises(ValueError, match="NaN"):
        BayesianGaussianMixture(n_components=2).fit(X)
    with pytest.raises(ValueError, match="nan_policy"):
        BayesianGaussianMixture(n_components=2, nan_policy="ignore").fit(np.nan_to_num(X))
    fitted, _ = fitted_bgm("full")
    fitted.set_params(nan_policy="raise")
    with pytest.raises(ValueError, match="NaN"):
        fitted.score_samples(X)
    # streamed sources do not marginalise
    with pytest.raises(ValueError, match="NaN"):
        bgm("full").fit(lambda: iter([X[:40], X[40:]]))


def test_data_frames_and_float32():
    pd = pytest.importorskip("pandas")
    X = data(n=120, d=3, k=2, seed=13)
    a = bgm("full", max_iter=3, tol=0).fit(X)
    c = bgm("full", max_iter=3, tol=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    np.testing.assert_allclose(c.means_, a.means_, rtol=1e-14)
    assert list(c.feature_names_in_) == ["a", "b", "c"]
    b = bgm("full", max_iter=3, tol=0).fit(X.astype(np.float32))
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_impute_is_the_conditional_mean(ct):
    model, _ = fitted_bgm(ct)
    X = data(n=50, d=3, k=3, frac=0.3, seed=25)
    X[4] = np.nan
    a, S = sklearn_constants(model)
    want = np.empty_like(X)
    for i, x in enumerate(X):
        logp, fill, _ = ref_row(x, np.exp(a), model.means_, S)
        want[i] = np.exp(logp - logsumexp(logp)) @ fill
    got = model.impute(X)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    obs = ~np.isnan(X)
    assert np.array_equal(got[obs], X[obs])
    got2, std = model.impute(X, return_std=True)
    assert np.array_equal(got2, got)
    assert np.all(std[obs] == 0) and np.all(std[~obs] > 0)


def test_default_priors_use_the_observed_values():
    X = data(n=200, d=3, k=2, frac=0.2, seed=15)
    model = bgm("diag", max_iter=2, tol=0).fit(X)
    np.testing.assert_allclose(model.mean_prior_, np.nanmean(X, axis=0), rtol=1e-12)


# ------------------------------------------------ VariationalGaussianHMM
def vhmm(ct, **kw):
    kw.setdefault("random_state", 0)
    return VariationalGaussianHMM(3, covariance_type=ct, nan_policy="marginalize", **kw)


def hmmlearn_peer(model):
    """hmmlearn's VariationalGaussianHMM holding the model's priors and
    posteriors (its own code evaluates the VB emissions and the bound)."""
    hmmlearn = pytest.importorskip("hmmlearn.vhmm")
    peer = hmmlearn.VariationalGaussianHMM(model.n_components,
                                           covariance_type=model.covariance_type)
    peer.n_features = np.shape(model.means_posterior_)[1]
    for name in ("startprob_prior_", "startprob_posterior_", "transmat_prior_",
                 "transmat_posterior_", "means_prior_", "means_posterior_", "beta_prior_",
                 "beta_posterior_", "dof_prior_", "dof_posterior_", "scale_prior_",
                 "scale_posterior_"):
        setattr(peer, name, np.array(getattr(model, name), dtype=np.float64))
    return peer


def vb_emission_reference(model, X):
    """Per frame and state: log N(x_o; m_ko, S_koo) + a_k, with a_k read off
    hmmlearn's complete-data VB emission at x = m_k; and the fills and
    padded conditional covariances of q(x_m | z=k)."""
    peer = hmmlearn_peer(model)
    k, d = np.shape(model.means_posterior_)
    dof = np.broadcast_to(model.dof_posterior_, (k,))
    S = full_covariances(model.covariance_type, model.scale_posterior_, k, d) \
        / dof[:, None, None]
    sub = peer._compute_subnorm_log_likelihood(np.asarray(model.means_posterior_))
    a = np.array([sub[j, j] - multivariate_normal(model.means_posterior_[j], S[j]).logpdf(
        model.means_posterior_[j]) for j in range(k)])
    logB, fills, cpads = emissions(X, np.asarray(model.means_posterior_), S, a)
    return logB, fills, cpads, a


def expected_chain(model):
    def e(post):
        return np.exp(digamma(post) - digamma(post.sum(axis=-1, keepdims=True)))
    return e(model.startprob_posterior_), e(model.transmat_posterior_)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_vhmm_estep_matches_brute_force(ct):
    X, lengths = hmm_data(seed=2)
    model = vhmm(ct, n_iter=3, tol=-np.inf).fit(X, lengths)
    logB, fills, cpads, a = vb_emission_reference(model, X)
    np.testing.assert_allclose(logB[5], a, rtol=1e-12)   # the frame of NaN
    total, gamma, start, trans = ref_chain(logB, *expected_chain(model), lengths)
    stats = model.accumulate(X, lengths)
    np.testing.assert_allclose(stats.loglik, total, rtol=1e-11)
    np.testing.assert_allclose(stats.start, start, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.trans, trans, rtol=1e-9, atol=1e-12)
    em = stats.emissions
    y = fills - em.centres[None]
    nk = gamma.sum(axis=0)
    s1 = np.einsum("tk,tkd->kd", gamma, y)
    s2 = np.einsum("tk,tka,tkb->kab", gamma, y, y) + np.einsum("tk,tkab->kab", gamma, cpads)
    np.testing.assert_allclose(em.nk, nk, rtol=1e-9)
    np.testing.assert_allclose(em.s1, s1, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(em.s2, kind_s2(ct, s2), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_vhmm_lower_bound_is_hmmlearns_formula_of_the_marginals(ct):
    # the bound recorded at iteration 4 is that of the parameters after 3
    # iterations: hmmlearn's bound (forward log-normaliser minus the KL
    # terms) with the marginal VB emissions' log-normaliser
    X, lengths = hmm_data(seed=4)
    three = vhmm(ct, n_iter=3, tol=-np.inf).fit(X, lengths)
    four = vhmm(ct, n_iter=4, tol=-np.inf).fit(X, lengths)
    logB, *_ = vb_emission_reference(three, X)
    total, *_ = ref_chain(logB, *expected_chain(three), lengths)
    want = hmmlearn_peer(three)._compute_lower_bound(total)
    np.testing.assert_allclose(four.monitor_.history[3], want, rtol=1e-10)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_vhmm_inference_uses_the_marginals(ct):
    X, lengths = hmm_data(seed=3)
    model = vhmm(ct, n_iter=3).fit(X, lengths)
    k, d = model.means_.shape
    S = full_covariances(ct, model._covars_, k, d)
    logB, _, _ = emissions(X, model.means_, S)
    total, gamma, _, _ = ref_chain(logB, model.startprob_, model.transmat_, lengths)
    np.testing.assert_allclose(model.score(X, lengths), total, rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X, lengths), gamma, rtol=1e-9,
                               atol=1e-12)
    vtotal, path = ref_viterbi(logB, model.startprob_, model.transmat_, lengths)
    lp, states = model.decode(X, lengths)
    np.testing.assert_allclose(lp, vtotal, rtol=1e-12)
    assert np.array_equal(states, path)
    assert np.array_equal(model.predict(X, lengths), path)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_vhmm_lower_bound_is_monotone(ct):
    X, lengths = hmm_data(seed=6, frac=0.1, lengths=(200, 150))
    model = vhmm(ct, n_iter=30, tol=-np.inf).fit(X, lengths)
    h = np.array(model.monitor_.history)
    assert len(h) == 30
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[1:])), np.diff(h).min()
    assert h[-1] > h[0]


@pytest.mark.parametrize("ct", COV_TYPES)
def test_vhmm_no_nan_gives_todays_fit(ct):
    X, lengths = hmm_data(seed=5, frac=0.0)
    X = np.nan_to_num(X, nan=0.3)
    a = VariationalGaussianHMM(3, covariance_type=ct, random_state=0, n_iter=8).fit(X, lengths)
    b = vhmm(ct, n_iter=8).fit(X, lengths)
    for name in ("means_posterior_", "scale_posterior_", "dof_posterior_",
                 "transmat_posterior_", "startprob_posterior_"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12, atol=0)
    np.testing.assert_allclose(list(b.monitor_.history), list(a.monitor_.history),
                               rtol=1e-12)
    assert np.array_equal(a.predict(X, lengths), b.predict(X, lengths))


def test_vhmm_errors_and_bad_input_leave_the_model_unchanged():
    X, lengths = hmm_data(seed=7)
    assert VariationalGaussianHMM().get_params()["nan_policy"] == "raise"
    with pytest.raises(ValueError, match="NaN"):
        VariationalGaussianHMM(3, random_state=0).fit(X, lengths)
    with pytest.raises(ValueError, match="nan_policy"):
        VariationalGaussianHMM(3, nan_policy="drop").fit(np.nan_to_num(X), lengths)
    model = vhmm("diag", n_iter=3).fit(X, lengths)
    before = {k: np.copy(v) for k, v in vars(model).items() if isinstance(v, np.ndarray)}
    Xn = X.copy()
    Xn[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) \[2\].*every sample"):
        model.fit(Xn, lengths)
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.fit(bad, lengths)
    with pytest.raises(ValueError, match="features"):
        model.score(X[:, :2], lengths)
    for k, v in before.items():
        assert np.array_equal(getattr(model, k), v)
    model.set_params(nan_policy="raise")
    with pytest.raises(ValueError, match="NaN"):
        model.score(X, lengths)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_thread_count_does_not_change_bits(ct):
    X = data(n=2000, d=5, k=3, frac=0.2, seed=12)
    fits = [bgm(ct, max_iter=4, tol=0, n_threads=t).fit(X) for t in (1, 2, 3)]
    for model in fits[1:]:
        assert np.array_equal(model.means_, fits[0].means_)
        assert np.array_equal(model.covariances_, fits[0].covariances_)
        assert model.lower_bounds_ == fits[0].lower_bounds_


def test_clone_and_persistence(tmp_path):
    from sklearn.base import clone

    import gmscore

    # ('diag': a full covariance_prior_ with a negative entry is refused by
    # gmscore's model file checks, NaN or not)
    model, X = fitted_bgm("diag")
    assert clone(model).get_params()["nan_policy"] == "marginalize"
    model.save(tmp_path / "b.gms")
    back = gmscore.load(tmp_path / "b.gms")
    assert back.nan_policy == "marginalize"
    np.testing.assert_array_equal(back.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(back.impute(X), model.impute(X))
    Xh, lengths = hmm_data(seed=9)
    hmm = vhmm("diag", n_iter=3).fit(Xh, lengths)
    assert clone(hmm).get_params()["nan_policy"] == "marginalize"
    hmm.save(tmp_path / "h.gms")
    back = gmscore.load(tmp_path / "h.gms")
    assert back.nan_policy == "marginalize"
    np.testing.assert_array_equal(back.predict_proba(Xh, lengths),
                                  hmm.predict_proba(Xh, lengths))


def test_warm_start_and_accumulate_maximize_take_nan():
    X = data(n=200, d=3, k=3, frac=0.2, seed=17)
    cont = bgm("full", max_iter=3, tol=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cont.fit(X)
        cont.fit(X)
    six = bgm("full", max_iter=6, tol=0).fit(X)
    np.testing.assert_allclose(cont.means_, six.means_, rtol=1e-10)
    # one accumulate + maximize over all of X is one iteration of fit
    five = bgm("full", max_iter=5, tol=0).fit(X)
    five.maximize(five.accumulate(X[:90]) + five.accumulate(X[90:]))
    np.testing.assert_allclose(five.means_, six.means_, rtol=1e-9)
    np.testing.assert_allclose(five.covariances_, six.covariances_, rtol=1e-9)
