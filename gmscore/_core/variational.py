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
- The variational HMMs keep hmmlearn 0.3's Normal-Wishart per state:
  mu | Lambda ~ N(m, (beta Lambda)^-1), Lambda ~ Wishart(dof, inv(S)), S
  the inverse scale, so E[Lambda] = dof inv(S). 'diag' and 'spherical'
  states are the same Wishart with S diagonal (K, D) or isotropic (K,);
  'tied' states share one S (D, D) and one dof. Per covariance type the
  three operations on S (log-determinant, tr(S_p inv(S_q)), the quadratic
  form diff^T inv(S) diff) come from the table SCALE_OPS.

Used by gmscore.bayesian_mixture (BayesianGaussianMixture, whose lower
bound follows scikit-learn's constant-free form) and by
gmscore.variational_hmm.

Sums over the D Wishart dimensions run in each peer's order (a leading
axis, in order, as scikit-learn; a trailing axis, pairwise, as hmmlearn:
``dims_last``), so that each estimator rounds as its peer does.
"""
import numpy as np
from scipy import linalg
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
    """KL(Dirichlet(q) || Dirichlet(p)) along the last axis (one value per
    row): log C(q) - log C(p) + sum_k (q_k - p_k)(digamma(q_k) - digamma(sum q)),
    summed in hmmlearn's order."""
    q = np.asarray(q, dtype=np.float64)
    p = np.broadcast_to(np.asarray(p, dtype=np.float64), q.shape)
    qs, ps = q.sum(axis=-1), p.sum(axis=-1)
    return (gammaln(qs) - gammaln(ps) - (gammaln(q) - gammaln(p)).sum(axis=-1)
            + ((q - p) * (digamma(q) - digamma(qs)[..., None])).sum(axis=-1))


# ------------------------------------------------------------ Wishart
def _half_dof_sum(fn, dof, d, dims_last):
    """sum_{j<d} fn((dof - j) / 2) per entry of ``dof``: over a trailing
    axis (pairwise sum) when ``dims_last``, else over a leading one (in
    order); see the module docstring."""
    dof = np.asarray(dof, dtype=np.float64)
    if dims_last:
        return fn(0.5 * (dof[..., None] - np.arange(d))).sum(axis=-1)
    j = np.arange(d).reshape((d,) + (1,) * dof.ndim)
    return fn(0.5 * (dof - j)).sum(axis=0)


def wishart_expected_log_det(dof, n_features, log_det_scale=0.0, dims_last=False):
    """E[log |Lambda|] under Wishart(nu, W):
    sum_{j<D} digamma((nu - j) / 2) + D log 2 + log |W|.
    ``dof`` may be an array (one nu per component); ``log_det_scale`` is
    log |W| (0 when the scale is folded in elsewhere, as scikit-learn's
    normalised precisions do; -log det S in hmmlearn's parametrisation)."""
    return (_half_dof_sum(digamma, dof, n_features, dims_last) + n_features * LOG_2
            + log_det_scale)


def log_wishart_norm(dof, log_det_chol, n_features):
    """log B(W, nu) of the Wishart normaliser without its log(pi) term
    (scikit-learn's form): -(nu log|U| + nu D/2 log 2 + sum_{j<D}
    log Gamma((nu - j) / 2)), with U U^T = W (``log_det_chol`` = log|U|
    = log|W| / 2)."""
    dof = np.asarray(dof, dtype=np.float64)
    return -(dof * log_det_chol + dof * n_features * 0.5 * LOG_2
             + _half_dof_sum(gammaln, dof, n_features, False))


def _log_det_spd(m):
    """log |M| of symmetric positive definite matrices (..., D, D), from
    the Cholesky factor (ValueError when one is not positive definite)."""
    try:
        chol = np.linalg.cholesky(np.asarray(m, dtype=np.float64))
    except np.linalg.LinAlgError:
        raise ValueError("a Wishart scale or covariance matrix is not positive "
                         "definite") from None
    return 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)


def _wishart_log_z(dof, log_det_inv_scale, d):
    # log Z from log det S = -log |W| (hmmlearn's logZ):
    # d(d-1)/4 log pi - dof/2 log det(S/2) + sum_j log Gamma((dof - j)/2)
    return (0.25 * d * (d - 1) * LOG_PI - 0.5 * dof * (log_det_inv_scale - d * LOG_2)
            + _half_dof_sum(gammaln, dof, d, True))


def wishart_log_partition(dof, scale):
    """log Z(nu, W) = nu D / 2 log 2 + D (D - 1) / 4 log pi
    + sum_{j<D} log Gamma((nu - j) / 2) + nu / 2 log |W|; the density is
    |Lambda|^((nu - D - 1) / 2) exp(-tr(W^-1 Lambda) / 2) / Z."""
    scale = np.asarray(scale, dtype=np.float64)
    dof = np.asarray(dof, dtype=np.float64)
    return _wishart_log_z(dof, -_log_det_spd(scale), scale.shape[-1])


def kl_wishart_terms(dof_q, log_det_q, dof_p, log_det_p, trace_pq, d):
    """KL(q || p) of Wisharts given by dof and the log-determinants of
    their inverse scales S, with trace_pq = tr(S_p inv(S_q)) (Ji,
    Krishnapuram & Carin 2006, as hmmlearn writes it), elementwise:
    (nu_q - nu_p)/2 E_q[log|Lambda|] - nu_q D / 2 + nu_q / 2 trace_pq
    + log Z_p - log Z_q."""
    e_q = wishart_expected_log_det(dof_q, d, -log_det_q, dims_last=True)
    return (0.5 * (dof_q - dof_p) * e_q - 0.5 * d * dof_q + 0.5 * dof_q * trace_pq
            + _wishart_log_z(dof_p, log_det_p, d) - _wishart_log_z(dof_q, log_det_q, d))


def kl_wishart(dof_q, scale_q, dof_p, scale_p):
    """KL(Wishart(nu_q, W_q) || Wishart(nu_p, W_p)) for one or a stack of
    D x D scales W (E[Lambda] = nu W; hmmlearn's kl_wishart_distribution
    takes the inverse scales W^-1 instead); see kl_wishart_terms."""
    scale_q = np.asarray(scale_q, dtype=np.float64)
    scale_p = np.broadcast_to(np.asarray(scale_p, dtype=np.float64), scale_q.shape)
    dof_q = np.asarray(dof_q, dtype=np.float64)
    dof_p = np.broadcast_to(np.asarray(dof_p, dtype=np.float64), dof_q.shape)
    trace = np.trace(np.linalg.solve(scale_p, scale_q), axis1=-2, axis2=-1)
    return kl_wishart_terms(dof_q, -_log_det_spd(scale_q), dof_p, -_log_det_spd(scale_p),
                            trace, scale_q.shape[-1])


# ------------------------------------ hmmlearn's inverse scale S by type
def _trace_matrices(s_p, s_q, d):
    # tr(S_p inv(S_q)) = tr(inv(S_q) S_p), S_q symmetric
    return np.trace(np.linalg.solve(s_q, s_p), axis1=-2, axis2=-1)


def _quad_full(diff, s, d):
    return np.einsum("ki,ki->k", diff, np.linalg.solve(s, diff[:, :, None])[:, :, 0])


def _quad_tied(diff, s, d):
    return np.einsum("ki,ik->k", diff, linalg.solve(s, diff.T, assume_a="pos"))


SCALE_OPS = {
    # type: (log det S, tr(S_p inv(S_q)), diff^T inv(S) diff per state)
    "full": (lambda s, d: _log_det_spd(s), _trace_matrices, _quad_full),
    "tied": (lambda s, d: float(_log_det_spd(s)),
             lambda sp, sq, d: float(_trace_matrices(sp, sq, d)), _quad_tied),
    "diag": (lambda s, d: np.log(s).sum(axis=-1), lambda sp, sq, d: (sp / sq).sum(axis=-1),
             lambda diff, s, d: (diff * diff / s).sum(axis=-1)),
    "spherical": (lambda s, d: d * np.log(s), lambda sp, sq, d: d * sp / sq,
                  lambda diff, s, d: (diff * diff).sum(axis=-1) / s),
}

EXPECTED_COVARIANCE = {
    # inv(E[Lambda]) = S / dof, in the type's own shape
    "full": lambda scale, dof: scale / np.asarray(dof)[:, None, None],
    "tied": lambda scale, dof: scale / dof,
    "diag": lambda scale, dof: scale / np.asarray(dof)[:, None],
    "spherical": lambda scale, dof: scale / dof,
}


def kl_normal_shared_precision(beta_q, beta_p, dof_q, quad, d):
    """KL(N(m_q, (beta_q L)^-1) || N(m_p, (beta_p L)^-1)) per state, with
    L = dof_q inv(S_q) and quad = (m_q - m_p)^T inv(S_q) (m_q - m_p):
    0.5 (d log(beta_q / beta_p) + d beta_p / beta_q + beta_p dof_q quad - d)."""
    return 0.5 * (d * np.log(beta_q / beta_p) + d * beta_p / beta_q + beta_p * dof_q * quad - d)


def normal_wishart_kl(covariance_type, d, means_q, beta_q, dof_q, scale_q, means_p, beta_p,
                      dof_p, scale_p):
    """Sum over states of the Normal and Wishart KL terms of a variational
    HMM's lower bound (a tied Wishart counted once); S as in SCALE_OPS."""
    logdet, trace, quad = SCALE_OPS[covariance_type]
    ld_q, ld_p = logdet(scale_q, d), logdet(scale_p, d)
    kl_n = kl_normal_shared_precision(beta_q, beta_p, dof_q, quad(means_q - means_p, scale_q, d), d)
    kl_w = kl_wishart_terms(dof_q, ld_q, dof_p, ld_p, trace(scale_p, scale_q, d), d)
    return float(np.sum(kl_n) + np.sum(kl_w))


def expected_log_norm(covariance_type, d, beta, dof, scale):
    """Per state, the constant of the expected emission log-likelihood
    E[log N(x | mu, Lambda)] + d/2 log(2 pi) (hmmlearn leaves 2 pi out):
    0.5 E[log det Lambda] - 0.5 d / beta; the rest is
    -0.5 (x - m)^T E[Lambda] (x - m), a Gaussian quadratic form with
    covariance S / dof (see EXPECTED_COVARIANCE)."""
    ld = SCALE_OPS[covariance_type][0](scale, d)
    return 0.5 * wishart_expected_log_det(dof, d, -ld, dims_last=True) - 0.5 * d / beta


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
