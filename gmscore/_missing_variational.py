"""Missing values (NaN) in the variational models: BayesianGaussianMixture
and VariationalGaussianHMM with ``nan_policy='marginalize'``.

Mean-field VB with q(z, x_m) q(theta). For every covariance type the
complete-data VB log-responsibility (or subnormalised emission) of
component k is a Gaussian log-density plus a constant in x,

    log rho_k(x) = log N(x; m_k, S_k) + a_k,   S_k = E[Lambda_k]^{-1},

so integrating the missing features out of exp E_theta[log p] gives

    log rho_k(x_o) = log N(x_o; m_ko, S_koo) + a_k          (same a_k)

and q(x_m | z=k) is the Gaussian conditional of N(m_k, S_k): exactly the
point-estimate formulas of gmscore._missing with means m_k, covariances
S_k and log weights a_k. The missing-value kernel (missing_pass) with
those arguments returns the VB responsibilities, their log-sum-exp and the
expected sufficient statistics the variational M-step takes.

Lower bounds. BayesianGaussianMixture reconstructs sum r log r from the
statistics (r log r = r (l - log Z), the quadratic term from the second
moments); from the expected statistics that gives sum r log r - sum r H_k
(H_k the entropy of q(x_m | z=k)), which is what the ELBO needs once the
entropies of q(x_m | z) are counted: the existing bound is the true ELBO.
For the HMM the forward log-normaliser of the marginal emissions is the
bound's data term as it is.

Here: the kernel arguments (m_k, S_k, a_k), with a_k the complete-data
constant minus the Gaussian normaliser of S_k, read off the model's own
complete-data E-step constants. gmscore._missing (the mixture's E-step,
predictions and impute) and gmscore._missing_hmm (the HMM's E-step) run
the kernel with them.
"""
import numpy as np

from ._core.covariance import COVARIANCE
from ._core.variational import EXPECTED_COVARIANCE, expected_log_norm
from ._validation import aligned

LOG_2PI = np.log(2.0 * np.pi)


def _f64(a):
    return aligned(np.asarray(a, dtype=np.float64), np.float64)


def _gaussian_log_norm(ct, covariances, k, d):
    """log N(m; m, S_k) = -(D log 2 pi + log det S_k) / 2 per component,
    from the precision factor of S_k (the one the complete-data kernels
    use)."""
    entry = COVARIANCE[ct]
    log_det_u = entry.log_det_cholesky(entry.precision_cholesky(covariances), d)
    return np.broadcast_to(log_det_u - 0.5 * d * LOG_2PI, (k,))


# ------------------------------------------------- BayesianGaussianMixture
def mixture_arguments(model):
    """(code, m, S, a) of a BayesianGaussianMixture for missing_pass:
    a_k = log_norm_k - log det U_k + D/2 log 2 pi, with log_norm the
    complete-data kernel constant (``_kernel_parameters``) and U_k the
    factor of E[Lambda_k] = S_k^{-1} (``precisions_cholesky_``)."""
    ct = model.covariance_type
    k, d = np.shape(model.means_)
    _, _, log_norm = model._kernel_parameters(np.dtype(np.float64))
    log_det_u = COVARIANCE[ct].log_det_cholesky(
        np.asarray(model.precisions_cholesky_, dtype=np.float64), d)
    a = log_norm - np.broadcast_to(log_det_u, (k,)) + 0.5 * d * LOG_2PI
    covs = COVARIANCE[ct].covariances_from_cholesky(
        np.asarray(model.precisions_cholesky_, dtype=np.float64))
    return COVARIANCE[ct].code, _f64(model.means_), _f64(covs), _f64(a)


def observed_means(source):
    """The (weighted) mean of each feature over the rows observing it."""
    X = source.X_nan
    seen = ~np.isnan(X)
    w = np.ones(X.shape[0]) if source.sample_weight is None else source.sample_weight
    mass = w @ seen
    return (w @ np.where(seen, X, 0.0)) / mass


# --------------------------------------------------- VariationalGaussianHMM
def emission_arguments(model):
    """(code, stats kind, m, S, a) of a VariationalGaussianHMM's states,
    as gmscore._missing_hmm's E-step takes them: S_k =
    scale_k / dof_k, a_k = the expected-log-norm constant of its emission
    (hmmlearn's, without 2 pi) minus the Gaussian normaliser of S_k."""
    ct, k = model.covariance_type, model.n_components
    d = np.shape(model.means_posterior_)[1]
    covs = EXPECTED_COVARIANCE[ct](np.asarray(model.scale_posterior_, dtype=np.float64),
                                   model.dof_posterior_)
    const = np.broadcast_to(expected_log_norm(ct, d, model.beta_posterior_,
                                              model.dof_posterior_, model.scale_posterior_),
                            (k,))
    a = const - _gaussian_log_norm(ct, covs, k, d)
    return COVARIANCE[ct].code, ct, _f64(model.means_posterior_), _f64(covs), _f64(a)
