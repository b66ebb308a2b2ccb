"""Expectations and KL divergences of the conjugate posteriors that the
variational HMMs (gmscore.variational_hmm) keep, in the parametrisation of
hmmlearn 0.3's VariationalGaussianHMM / VariationalCategoricalHMM:

- Dirichlet(alpha) rows for startprob, transmat and emissionprob:
  E[log p_j] = digamma(alpha_j) - digamma(sum alpha);
- per state a Normal-Wishart: mu | Lambda ~ N(m, (beta Lambda)^-1),
  Lambda ~ Wishart(dof, inv(S)), S the "scale" (an inverse scale matrix),
  so E[Lambda] = dof inv(S). 'diag' and 'spherical' states are the same
  Wishart with S diagonal (K, D) or isotropic (K,) (as hmmlearn treats
  them); 'tied' states share one S (D, D) and one dof.

Everything works on K x D x D sized arrays; per covariance type the three
operations on S (log-determinant, trace of S_p inv(S_q), quadratic form
diff^T inv(S) diff) come from small functions in a table.

These duplicate parts of gmscore/_core/variational.py (the
BayesianGaussianMixture helper's Dirichlet / Wishart terms) and are meant
to be merged with them.
"""
import numpy as np
from scipy import linalg
from scipy.special import digamma, gammaln

LOG_2 = np.log(2.0)
LOG_PI = np.log(np.pi)


# ------------------------------------------------------------- Dirichlet
def dirichlet_log_mean(alpha):
    """E[log p] under Dirichlet(alpha) per row (last axis)."""
    alpha = np.asarray(alpha, dtype=np.float64)
    return digamma(alpha) - digamma(alpha.sum(axis=-1, keepdims=True))


def kl_dirichlet(q, p):
    """sum over rows of KL(Dir(q_row) || Dir(p_row)) (rows: last axis)."""
    q = np.asarray(q, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    qs, ps = q.sum(axis=-1), p.sum(axis=-1)
    per_row = (gammaln(qs) - gammaln(ps) - (gammaln(q) - gammaln(p)).sum(axis=-1)
               + ((q - p) * (digamma(q) - digamma(qs)[..., None])).sum(axis=-1))
    return float(np.sum(per_row))


# ----------------------------------------------- the scale matrix S by type
def _cho(s):
    return np.linalg.cholesky(s)


def _logdet_matrices(s, d):
    # log det S = 2 sum log diag(chol S); S is checked positive definite
    return 2.0 * np.log(np.diagonal(_cho(s), axis1=-2, axis2=-1)).sum(axis=-1)


def _trace_matrices(s_p, s_q, d):
    # tr(S_p inv(S_q)) = tr(inv(S_q) S_p), S_q symmetric
    return np.trace(np.linalg.solve(s_q, s_p), axis1=-2, axis2=-1)


def _quad_full(diff, s, d):
    return np.einsum("ki,ki->k", diff, np.linalg.solve(s, diff[:, :, None])[:, :, 0])


def _quad_tied(diff, s, d):
    return np.einsum("ki,ik->k", diff, linalg.solve(s, diff.T, assume_a="pos"))


SCALE_OPS = {
    # type: (log det S, tr(S_p inv(S_q)), diff^T inv(S) diff per state)
    "full": (_logdet_matrices, _trace_matrices, _quad_full),
    "tied": (lambda s, d: float(_logdet_matrices(s, d)),
             lambda sp, sq, d: float(_trace_matrices(sp, sq, d)), _quad_tied),
    "diag": (lambda s, d: np.log(s).sum(axis=-1), lambda sp, sq, d: (sp / sq).sum(axis=-1),
             lambda diff, s, d: (diff * diff / s).sum(axis=-1)),
    "spherical": (lambda s, d: d * np.log(s), lambda sp, sq, d: d * sp / sq,
                  lambda diff, s, d: (diff * diff).sum(axis=-1) / s),
}


def _digamma_sum(dof, d):
    """sum_{i<d} digamma((dof - i) / 2), per entry of dof."""
    dof = np.asarray(dof, dtype=np.float64)
    return digamma(0.5 * (dof[..., None] - np.arange(d))).sum(axis=-1)


def _gammaln_sum(dof, d):
    dof = np.asarray(dof, dtype=np.float64)
    return gammaln(0.5 * (dof[..., None] - np.arange(d))).sum(axis=-1)


def wishart_expected_logdet(dof, logdet_scale, d):
    """E[log det Lambda] = sum_i digamma((dof - i)/2) + d log 2 - log det S."""
    return _digamma_sum(dof, d) + d * LOG_2 - logdet_scale


def _wishart_log_norm(dof, logdet_scale, d):
    # hmmlearn's logZ: d(d-1)/4 log pi - dof/2 log det(S/2) + sum gammaln
    return (0.25 * d * (d - 1) * LOG_PI - 0.5 * dof * (logdet_scale - d * LOG_2)
            + _gammaln_sum(dof, d))


def kl_wishart(dof_q, logdet_q, dof_p, logdet_p, trace_pq, d):
    """KL(q || p) of Wisharts given by dof and the log-determinants of
    their S, with trace_pq = tr(S_p inv(S_q)) (Ji, Krishnapuram & Carin
    2006, as hmmlearn writes it); elementwise over states."""
    e_q = wishart_expected_logdet(dof_q, logdet_q, d)
    return (0.5 * (dof_q - dof_p) * e_q - 0.5 * d * dof_q + 0.5 * dof_q * trace_pq
            + _wishart_log_norm(dof_p, logdet_p, d) - _wishart_log_norm(dof_q, logdet_q, d))


def kl_normal_shared_precision(beta_q, beta_p, dof_q, quad, d):
    """KL(N(m_q, (beta_q L)^-1) || N(m_p, (beta_p L)^-1)) per state, with
    L = dof_q inv(S_q) and quad = (m_q - m_p)^T inv(S_q) (m_q - m_p):
    0.5 (d log(beta_q / beta_p) + d beta_p / beta_q + beta_p dof_q quad - d)."""
    return 0.5 * (d * np.log(beta_q / beta_p) + d * beta_p / beta_q + beta_p * dof_q * quad - d)


def normal_wishart_kl(covariance_type, d, means_q, beta_q, dof_q, scale_q, means_p, beta_p,
                      dof_p, scale_p):
    """Sum over states of the Normal and Wishart KL terms of the lower bound
    (a tied Wishart counted once)."""
    logdet, trace, quad = SCALE_OPS[covariance_type]
    ld_q, ld_p = logdet(scale_q, d), logdet(scale_p, d)
    kl_n = kl_normal_shared_precision(beta_q, beta_p, dof_q, quad(means_q - means_p, scale_q, d), d)
    kl_w = kl_wishart(dof_q, ld_q, dof_p, ld_p, trace(scale_p, scale_q, d), d)
    return float(np.sum(kl_n) + np.sum(kl_w))


def expected_log_norm(covariance_type, d, beta, dof, scale):
    """Per state, the constant of the expected emission log-likelihood
    E[log N(x | mu, Lambda)] + d/2 log(2 pi) (hmmlearn leaves 2 pi out):
    0.5 E[log det Lambda] - 0.5 d / beta; the rest is
    -0.5 (x - m)^T E[Lambda] (x - m), a Gaussian quadratic form with
    covariance S / dof (see expected_covariance)."""
    ld = SCALE_OPS[covariance_type][0](scale, d)
    return 0.5 * wishart_expected_logdet(dof, ld, d) - 0.5 * d / beta


EXPECTED_COVARIANCE = {
    # inv(E[Lambda]) = S / dof, in the type's own shape
    "full": lambda scale, dof: scale / np.asarray(dof)[:, None, None],
    "tied": lambda scale, dof: scale / dof,
    "diag": lambda scale, dof: scale / np.asarray(dof)[:, None],
    "spherical": lambda scale, dof: scale / dof,
}
