"""GaussianMixture's M-step from a GaussianStats value, per covariance type
(no data argument: the statistics are all it needs).

With n_k' = n_k + 10 eps (scikit-learn's guard against empty components)
and the new means m_k = c_k + s1_k / n_k', the scatter about m_k follows
from the statistics about c_k exactly (GaussianStats.recentred):
    full:  S_k(m) / n_k' + reg I
    tied:  sum_k S_k(m) / sum_k n_k' + reg I     (pooled s2)
    diag:  diag S_k(m) / n_k' + reg
    spherical: the mean over features of the diag form.
"""
import numpy as np

# scikit-learn adds 10 * eps to every component's mass so that empty
# components do not divide by zero; the same convention keeps fits equal.
NK_EPS = 10 * np.finfo(np.float64).eps


def _means(stats):
    nk = stats.nk + NK_EPS
    return nk, stats.centres + stats.s1 / nk[:, None]


def _full(stats, reg_covar):
    nk, means = _means(stats)
    cov = stats.recentred(means).s2 / nk[:, None, None]
    d = means.shape[1]
    cov[:, np.arange(d), np.arange(d)] += reg_covar
    return nk, means, cov


def _tied(stats, reg_covar):
    nk, means = _means(stats)
    cov = stats.recentred(means).s2 / nk.sum()
    cov.flat[:: means.shape[1] + 1] += reg_covar
    return nk, means, cov


def _diag(stats, reg_covar):
    nk, means = _means(stats)
    return nk, means, stats.recentred(means).s2 / nk[:, None] + reg_covar


def _spherical(stats, reg_covar):
    nk, means, cov = _diag(stats, reg_covar)
    return nk, means, cov.mean(axis=1)


PARAMETERS_FROM_STATS = {"full": _full, "tied": _tied, "diag": _diag, "spherical": _spherical}


def parameters_from_stats(stats, covariance_type, reg_covar):
    """(n_k with the guard, means, covariances) of the M-step."""
    return PARAMETERS_FROM_STATS[covariance_type](stats, reg_covar)
