"""BayesianGaussianMixture's priors (defaults from the data, domain checks)
and the Normal-Wishart posterior's covariance update per covariance type.

scikit-learn's conventions: ``covariances_`` are the posterior Wishart's
inverse scale divided by the degrees of freedom (so that
``precisions_cholesky_`` factors E[Lambda] = nu W), and the tied model
shares one Wishart whose degrees of freedom grow by the mean component
mass.
"""
import numpy as np

from ._core.covariance import COVARIANCE


def _float_array(value, name):
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must contain only numbers ({exc})") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _own_dtype(value, arr):
    """scikit-learn keeps a float32 prior float32 (check_array with
    dtype=[float64, float32])."""
    return arr.astype(np.float32) if np.asarray(value).dtype == np.float32 else arr


def _moments(source, kind, centre):
    """(total weight, first, second moments) of all rows about ``centre``,
    in one pass; on a cluster where the chunks live (gmscore.dask)."""
    if not getattr(source, "distributed", False):
        return source._moments(kind, centre)
    from .dask import _chunk_moments

    d = source.n_features
    c = np.zeros((1, d)) if centre is None else np.asarray(centre, dtype=np.float64)[None, :]
    t = source.reduce_stats(_chunk_moments, (COVARIANCE[kind].code, c))
    return t[0], t[1:1 + d], t[1 + d:-2]


def data_mean(source):
    """The (weighted) mean of the rows, float64, cached on the source."""
    if getattr(source, "_prior_mean", None) is None:
        if not getattr(source, "distributed", False):
            source._prior_mean = source.centre
        else:
            nk, s1, _ = _moments(source, "diag", None)
            source._prior_mean = s1 / nk
    return source._prior_mean


def _data_covariance(source, kind):
    """The (weighted) covariance of the rows with ddof=1, as np.cov /
    np.var(ddof=1) give it for unweighted rows (integer weights count as
    repeated rows): the full matrix or its diagonal."""
    total = float(source.total_weight)
    if not total > 1.0:
        raise ValueError(
            f"the default covariance_prior is the data's covariance (ddof=1), which needs "
            f"a total sample weight above 1, but it is {total:g}; scale sample_weight or "
            "give covariance_prior")
    d = source.n_features
    _, _, s2 = _moments(source, kind, data_mean(source))
    if kind == "full":
        upper = np.triu(s2.reshape(d, d))
        s2 = upper + np.triu(upper, 1).T
    return s2 / (total - 1.0)


def _covariance_prior(model, source):
    ct, d, value = model.covariance_type, source.n_features, model.covariance_prior
    low = source.dtype == np.float32     # np.var keeps float32, np.cov does not
    if value is None:
        if ct in ("full", "tied"):
            return np.atleast_2d(_data_covariance(source, "full"))
        var = _data_covariance(source, "diag")
        var = var.astype(np.float32) if low else var
        return var if ct == "diag" else var.mean()
    name = f"{ct} covariance_prior"
    if ct == "spherical":
        if np.ndim(value) != 0:
            raise ValueError(f"{name} must be a positive float (one variance), got an array "
                             f"of shape {np.shape(value)}")
        v = float(_float_array(value, name))
        if not v > 0:
            raise ValueError(f"{name} must be positive, got {v!r}")
        return value
    arr = _float_array(value, name)
    shape = (d, d) if ct in ("full", "tied") else (d,)
    if arr.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, but got "
                         f"{arr.shape}")
    if ct == "diag":
        if not (arr > 0).all():
            raise ValueError(f"'{name}' should be positive")
    elif not (np.allclose(arr, arr.T) and COVARIANCE["full"].is_positive_definite(arr)):
        raise ValueError(f"'{name}' should be symmetric, positive-definite")
    return _own_dtype(value, arr)


def set_priors(model, source):
    """The fitted prior attributes (``*_prior_``) from the hyper-parameters
    and, for the defaults, the data (one or two passes over the source;
    ValueError naming the parameter when one is outside its domain)."""
    d = source.n_features
    k = model.n_components
    wcp = model.weight_concentration_prior
    mpp = model.mean_precision_prior
    if model.mean_prior is None:
        # scikit-learn: X.mean(axis=0), in X's dtype
        mean_prior = np.asarray(data_mean(source), dtype=source.dtype)
    else:
        arr = _float_array(model.mean_prior, "mean_prior")
        if arr.shape != (d,):
            raise ValueError(f"The parameter 'means' should have the shape of ({d},), but "
                             f"got {arr.shape} (mean_prior needs one value per feature)")
        mean_prior = _own_dtype(model.mean_prior, arr)
    dofp = model.degrees_of_freedom_prior
    if dofp is None:
        dof_prior = d
    elif dofp > d - 1.0:
        dof_prior = dofp
    else:
        raise ValueError(
            f"The parameter 'degrees_of_freedom_prior' should be greater than {d - 1}, but "
            f"got {dofp:.3f}.")
    cov_prior = _covariance_prior(model, source)
    model.weight_concentration_prior_ = 1.0 / k if wcp is None else wcp
    model.mean_precision_prior_ = 1.0 if mpp is None else mpp
    model.mean_prior_ = mean_prior
    model.degrees_of_freedom_prior_ = dof_prior
    model.covariance_prior_ = cov_prior


# ------------------------------------------- the Wishart posterior update
# (dof, covariances) from n_k, the components' data means x_k and
# covariances S_k (reg_covar included) and the posterior mean precisions
# beta_k = beta_0 + n_k:
#   W_k^-1 = W_0^-1 + n_k S_k + n_k beta_0 / beta_k (x_k - m_0)(x_k - m_0)^T,
#   covariances_k = W_k^-1 / nu_k, nu_k = nu_0 + n_k.
def _full(model, nk, xk, sk, beta):
    dof = model.degrees_of_freedom_prior_ + nk
    diff = xk - model.mean_prior_
    shrink = nk * model.mean_precision_prior_ / beta
    cov = (model.covariance_prior_ + nk[:, None, None] * sk
           + shrink[:, None, None] * diff[:, :, None] * diff[:, None, :])
    return dof, cov / dof[:, None, None]


def _tied(model, nk, xk, sk, beta):
    k = model.n_components
    dof = model.degrees_of_freedom_prior_ + nk.sum() / k
    diff = xk - model.mean_prior_
    cov = (model.covariance_prior_ + sk * nk.sum() / k
           + model.mean_precision_prior_ / k * np.dot((nk / beta) * diff.T, diff))
    return dof, cov / dof


def _diag(model, nk, xk, sk, beta):
    dof = model.degrees_of_freedom_prior_ + nk
    diff = xk - model.mean_prior_
    cov = model.covariance_prior_ + nk[:, None] * (
        sk + (model.mean_precision_prior_ / beta)[:, None] * np.square(diff))
    return dof, cov / dof[:, None]


def _spherical(model, nk, xk, sk, beta):
    dof = model.degrees_of_freedom_prior_ + nk
    diff = xk - model.mean_prior_
    cov = model.covariance_prior_ + nk * (
        sk + model.mean_precision_prior_ / beta * np.mean(np.square(diff), axis=1))
    return dof, cov / dof


WISHART_UPDATE = {"full": _full, "tied": _tied, "diag": _diag, "spherical": _spherical}
