"""Expectations, normalisers and KL divergences of the conjugate priors the
variational models use (Dirichlet, stick-breaking Beta, Gaussian, Gamma,
Wishart). Small arrays only (K, K x K, K x D x D): plain numpy/scipy.

Conventions
-----------
- Wishart(Lambda; nu, W) has E[Lambda] = nu W (W the *scale*, D x D);
  E[log |Lambda|] = sum_{j<D} digamma((nu - j) / 2) + D log 2 + log |W|.
- Dirichlet(alpha) along the last axis (a vector, or a matrix of rows such
  as an HMM's transition posterior).
- The stick-breaking (truncated Dirichlet process) posterior is one
  Beta(a_k, b_k) per stick: pi_k = v_k prod_{j<k} (1 - v_j).

Used by gmscore.bayesian_mixture (BayesianGaussianMixture, whose lower
bound follows scikit-learn's constant-free form) and by the variational
HMMs.
"""
import numpy as np
from scipy.special import betaln, digamma, gammaln

LOG_2 = np.log(2.0)
LOG_PI = np.log(np.pi)


# ------------------------------------------------------------ weights
def dirichlet_expected_log(alpha):
    """E[log pi] under Dirichlet(alpha), along the last axis:
    digamma(alpha_k) - digamma(sum_j alpha_j)."""
    alpha = np.asarray(alpha, dtype=np.float64)
    return digamma(alpha) - digamma(alpha.sum(axis=-1, keepdims=True))


def stick_breaking_expected_log(a, b):
    """E[log pi_k] of the stick-breaking weights with v_k ~ Beta(a_k, b_k):
    E[log v_k] + sum_{j<k} E[log(1 - v_j)], where
    E[log v] = digamma(a) - digamma(a + b) and
    E[log(1 - v)] = digamma(b) - digamma(a + b)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    total = digamma(a + b)
    rest = digamma(b) - total
    return digamma(a) - total + np.concatenate(([0.0], np.cumsum(rest)[:-1]))


def stick_breaking_mean_weights(a, b):
    """The weights pi_k = E[v_k] prod_{j<k} E[1 - v_j] of the Beta(a, b)
    sticks, renormalised to sum to one (the truncation leaves mass on the
    last stick's remainder; scikit-learn renormalises the same way)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    total = a + b
    w = a / total * np.concatenate(([1.0], np.cumprod(b / total)[:-1]))
    return w / w.sum()


def log_dirichlet_norm(alpha):
    """log C(alpha) = log Gamma(sum_k alpha_k) - sum_k log Gamma(alpha_k),
    the log normaliser of Dirichlet(alpha), along the last axis."""
    alpha = np.asarray(alpha, dtype=np.float64)
    return gammaln(alpha.sum(axis=-1)) - gammaln(alpha).sum(axis=-1)


def log_beta_norm(a, b):
    """sum_k -log B(a_k, b_k): the log normaliser of the product of the
    sticks' Beta distributions."""
    return -float(np.sum(betaln(a, b)))


def kl_dirichlet(q, p):
    """KL(Dirichlet(q) || Dirichlet(p)) along the last axis:
    log C(q) - log C(p) + sum_k (q_k - p_k)(digamma(q_k) - digamma(sum q))."""
    q = np.asarray(q, dtype=np.float64)
    p = np.broadcast_to(np.asarray(p, dtype=np.float64), q.shape)
    return (log_dirichlet_norm(q) - log_dirichlet_norm(p)
            + ((q - p) * dirichlet_expected_log(q)).sum(axis=-1))


# ------------------------------------------------------------ Wishart
def wishart_expected_log_det(dof, n_features, log_det_scale=0.0):
    """E[log |Lambda|] under Wishart(nu, W):
    sum_{j<D} digamma((nu - j) / 2) + D log 2 + log |W|.
    ``dof`` may be an array (one nu per component); ``log_det_scale`` is
    log |W| (0 when the scale is folded in elsewhere, as scikit-learn's
    normalised precisions do)."""
    dof = np.asarray(dof, dtype=np.float64)
    j = np.arange(n_features).reshape((n_features,) + (1,) * dof.ndim)
    return digamma(0.5 * (dof - j)).sum(axis=0) + n_features * LOG_2 + log_det_scale


def log_wishart_norm(dof, log_det_chol, n_features):
    """log B(W, nu) of the Wishart normaliser without its log(pi) term
    (scikit-learn's form): -(nu log|U| + nu D/2 log 2 + sum_{j<D}
    log Gamma((nu - j) / 2)), with U U^T = W (``log_det_chol`` = log|U|
    = log|W| / 2)."""
    dof = np.asarray(dof, dtype=np.float64)
    j = np.arange(n_features).reshape((n_features,) + (1,) * dof.ndim)
    return -(dof * log_det_chol + dof * n_features * 0.5 * LOG_2
             + gammaln(0.5 * (dof - j)).sum(axis=0))


def _log_det_spd(m):
    """log |M| of symmetric positive definite matrices (..., D, D), from
    the Cholesky factor (ValueError when one is not positive definite)."""
    try:
        chol = np.linalg.cholesky(np.asarray(m, dtype=np.float64))
    except np.linalg.LinAlgError:
        raise ValueError("a Wishart scale or covariance matrix is not positive "
                         "definite") from None
    return 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)


def wishart_log_partition(dof, scale):
    """log Z(nu, W) = nu D / 2 log 2 + D (D - 1) / 4 log pi
    + sum_{j<D} log Gamma((nu - j) / 2) + nu / 2 log |W|; the density is
    |Lambda|^((nu - D - 1) / 2) exp(-tr(W^-1 Lambda) / 2) / Z."""
    scale = np.asarray(scale, dtype=np.float64)
    d = scale.shape[-1]
    j = np.arange(d)
    dof = np.asarray(dof, dtype=np.float64)
    return (dof * d / 2 * LOG_2 + d * (d - 1) / 4 * LOG_PI
            + gammaln((dof[..., None] - j) / 2).sum(axis=-1)
            + dof / 2 * _log_det_spd(scale))


def kl_wishart(dof_q, scale_q, dof_p, scale_p):
    """KL(Wishart(nu_q, W_q) || Wishart(nu_p, W_p)) for one or a stack of
    D x D scales W (E[Lambda] = nu W; hmmlearn's kl_wishart_distribution
    takes the inverse scales W^-1 instead):
    (nu_q - nu_p)/2 E_q[log|Lambda|] - nu_q D / 2
    + nu_q / 2 tr(W_p^-1 W_q) + log Z_p - log Z_q."""
    scale_q = np.asarray(scale_q, dtype=np.float64)
    scale_p = np.broadcast_to(np.asarray(scale_p, dtype=np.float64), scale_q.shape)
    dof_q = np.asarray(dof_q, dtype=np.float64)
    dof_p = np.broadcast_to(np.asarray(dof_p, dtype=np.float64), dof_q.shape)
    d = scale_q.shape[-1]
    e_log_det = wishart_expected_log_det(dof_q, d, _log_det_spd(scale_q))
    trace = np.trace(np.linalg.solve(scale_p, scale_q), axis1=-2, axis2=-1)
    return ((dof_q - dof_p) / 2 * e_log_det - dof_q * d / 2 + dof_q / 2 * trace
            + wishart_log_partition(dof_p, scale_p) - wishart_log_partition(dof_q, scale_q))


# ------------------------------------------------- Gaussian and Gamma
def kl_normal(mean_q, var_q, mean_p, var_p):
    """KL(N(mean_q, var_q) || N(mean_p, var_p)), elementwise (variances):
    log(var_p / var_q) / 2 + ((mean_q - mean_p)^2 + var_q) / (2 var_p) - 1/2."""
    mean_q, var_q, mean_p, var_p = (np.asarray(a, dtype=np.float64)
                                    for a in (mean_q, var_q, mean_p, var_p))
    return (0.5 * np.log(var_p / var_q) + ((mean_q - mean_p) ** 2 + var_q) / (2 * var_p)
            - 0.5)


def kl_multivariate_normal(mean_q, cov_q, mean_p, cov_p):
    """KL(N(mean_q, cov_q) || N(mean_p, cov_p)) for (..., D) means and
    (..., D, D) covariances:
    (log|cov_p| - log|cov_q| + tr(cov_p^-1 cov_q) + d^T cov_p^-1 d - D) / 2."""
    mean_q, cov_q, mean_p, cov_p = (np.asarray(a, dtype=np.float64)
                                    for a in (mean_q, cov_q, mean_p, cov_p))
    cov_p = np.broadcast_to(cov_p, cov_q.shape)
    diff = np.broadcast_to(mean_q - mean_p, cov_q.shape[:-1])
    d = cov_q.shape[-1]
    trace = np.trace(np.linalg.solve(cov_p, cov_q), axis1=-2, axis2=-1)
    maha = (diff * np.linalg.solve(cov_p, diff[..., None])[..., 0]).sum(axis=-1)
    return 0.5 * (_log_det_spd(cov_p) - _log_det_spd(cov_q) + trace + maha - d)


def kl_gamma(shape_q, rate_q, shape_p, rate_p):
    """KL(Gamma(shape_q, rate_q) || Gamma(shape_p, rate_p)), elementwise
    (rate parametrisation, mean shape / rate):
    (b_q - b_p) digamma(b_q) - log Gamma(b_q) + log Gamma(b_p)
    + b_p (log c_q - log c_p) + b_q (c_p - c_q) / c_q."""
    b_q, c_q, b_p, c_p = (np.asarray(a, dtype=np.float64)
                          for a in (shape_q, rate_q, shape_p, rate_p))
    return ((b_q - b_p) * digamma(b_q) - gammaln(b_q) + gammaln(b_p)
            + b_p * (np.log(c_q) - np.log(c_p)) + b_q * (c_p - c_q) / c_q)
