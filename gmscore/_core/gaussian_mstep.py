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


def _full(stats, reg_covar, floor=True):
    nk, means = _means(stats)
    cov = stats.recentred(means).s2 / nk[:, None, None]
    d = means.shape[1]
    cov[:, np.arange(d), np.arange(d)] += reg_covar
    return nk, means, cov


def _resolution_floor(raw_nk, means, var):
    """Per component and feature, eps m^2 where the data vary at all and
    the component holds data (an empty one has no resolution: it keeps its
    exact 0, as scikit-learn's does; see _diag)."""
    grand = (raw_nk[:, None] * means).sum(axis=0) / max(raw_nk.sum(), NK_EPS)
    spread = (raw_nk[:, None] * (var + (means - grand) ** 2)).sum(axis=0)
    held = (raw_nk > 0)[:, None] & (spread > 0)[None, :]
    return np.where(held, np.finfo(np.float64).eps * means * means, 0.0)


def _tied(stats, reg_covar, floor=True):
    nk, means = _means(stats)
    cov = stats.recentred(means).s2 / nk.sum()
    # the diagonal floored at the values' resolution, as for diag (every
    # component on its own point leaves an exact zero where scikit-learn's
    # uncentred form keeps rounding noise and fits)
    d = means.shape[1]
    diag = np.diagonal(cov).copy()
    if floor:
        low = _resolution_floor(stats.nk, means, np.broadcast_to(diag, means.shape))
        diag = np.maximum(diag, (stats.nk[:, None] * low).sum(axis=0)
                          / max(stats.nk.sum(), NK_EPS))
    cov.flat[:: d + 1] = diag + reg_covar
    return nk, means, cov


def _diag(stats, reg_covar, floor=True):
    nk, means = _means(stats)
    var = stats.recentred(means).s2 / nk[:, None]
    # A component's variance below the resolution of its values (eps m^2)
    # is rounding, not information: scikit-learn's uncentred form
    # E[x^2] - m^2 leaves about that much where the exact value is 0 (a
    # component on a single point) and fits; so do we, deterministically,
    # in the features where the data vary at all (data without variance
    # keeps 0, and the fit raises as scikit-learn's does).
    if floor:
        var = np.maximum(var, _resolution_floor(stats.nk, means, var))
    return nk, means, var + reg_covar


def _spherical(stats, reg_covar, floor=True):
    nk, means, cov = _diag(stats, reg_covar, floor)
    return nk, means, cov.mean(axis=1)


PARAMETERS_FROM_STATS = {"full": _full, "tied": _tied, "diag": _diag, "spherical": _spherical}


def parameters_from_stats(stats, covariance_type, reg_covar, floor=True):
    """(n_k with the guard, means, covariances) of the M-step. ``floor``:
    diag/spherical/tied variances below the values' resolution are raised
    to it (scikit-learn's behaviour, see _diag); without it they stay
    exact (on_degenerate='reseed' repairs such components instead)."""
    return PARAMETERS_FROM_STATS[covariance_type](stats, reg_covar, floor)
