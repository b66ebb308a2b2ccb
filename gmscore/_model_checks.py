"""What a model file may hold, per class, and the checks that its fitted
arrays have the shapes the hyper-parameters imply and values fit could
have produced (finite, probabilities on the simplex, covariances positive
definite, the three descriptions of a mixture's covariances consistent).

``save`` runs them before writing and ``load`` after reading: the compiled
kernels trust these shapes, so a crafted file must not get past them.
"""
import numpy as np

from ._core.covariance import COV_TYPES, COVARIANCE
from ._model_values import ModelFileError

FITTED_MARKERS = {             # attributes whose presence means "fitted"
    "GaussianMixture": ("means_", "precisions_cholesky_"),
    "BayesianGaussianMixture": ("means_", "precisions_cholesky_"),
    "GaussianHMM": ("startprob_", "transmat_"),
    "GMMHMM": ("startprob_", "transmat_"),
    "CategoricalHMM": ("startprob_", "transmat_"),
    "PoissonHMM": ("startprob_", "transmat_"),
    "MultinomialHMM": ("startprob_", "transmat_"),
    "VariationalGaussianHMM": ("startprob_", "transmat_"),
    "VariationalCategoricalHMM": ("startprob_", "transmat_"),
}
# The discrete HMMs' emission parameter (rows of probabilities or rates).
DISCRETE_EMISSIONS = {"CategoricalHMM": "emissionprob_", "PoissonHMM": "lambdas_",
                       "MultinomialHMM": "emissionprob_"}


_VARIATIONAL_CHAIN = ("startprob_prior_", "startprob_posterior_", "transmat_prior_",
                      "transmat_posterior_", "startprob_", "transmat_")


# The instance attributes load restores besides the hyper-parameters: what
# fit leaves on each class (the verbose timers of a GaussianMixture fit
# included), and for the HMMs what hmmlearn-style code assigns by hand.
FITTED_ATTRIBUTES = {
    "GaussianMixture": frozenset({
        "weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
        "converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_",
        "restart_histories_", "feature_names_in_", "_init_prev_time", "_iter_prev_time",
        "_online_state"}),
    "BayesianGaussianMixture": frozenset({
        "weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
        "converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_",
        "restart_histories_", "feature_names_in_", "_init_prev_time", "_iter_prev_time",
        "weight_concentration_prior_", "weight_concentration_", "mean_precision_prior_",
        "mean_precision_", "mean_prior_", "degrees_of_freedom_prior_", "degrees_of_freedom_",
        "covariance_prior_"}),
    "GaussianHMM": frozenset({
        "startprob_", "transmat_", "means_", "_covars_", "monitor_", "n_features_in_",
        "feature_names_in_", "n_features", "_online_state", "restart_histories_"}),
    "GMMHMM": frozenset({
        "startprob_", "transmat_", "weights_", "means_", "covars_", "monitor_",
        "n_features_in_", "feature_names_in_", "n_features", "_online_state",
        "restart_histories_"}),
    **{name: frozenset({"startprob_", "transmat_", attr, "monitor_", "n_features_in_",
                        "feature_names_in_", "n_features", "_online_state",
                        "restart_histories_"})
       for name, attr in DISCRETE_EMISSIONS.items()},
    # the variational HMMs: their priors, posteriors and point estimates
    **{name: frozenset(_VARIATIONAL_CHAIN + emissions + (
        "monitor_", "n_features_in_", "feature_names_in_", "n_features",
        "restart_histories_"))
       for name, emissions in (
           ("VariationalGaussianHMM", (
               "means_prior_", "means_posterior_", "beta_prior_", "beta_posterior_",
               "dof_prior_", "dof_posterior_", "scale_prior_", "scale_posterior_", "_covars_")),
           ("VariationalCategoricalHMM", (
               "emissionprob_prior_", "emissionprob_posterior_", "emissionprob_")))},
}


def check_fitted_name(cname, aname):
    if aname not in FITTED_ATTRIBUTES[cname]:
        raise ModelFileError(
            f"attribute {aname!r} is not a fitted attribute of {cname}; a {cname} file "
            "holds the hyper-parameters and "
            f"{', '.join(sorted(FITTED_ATTRIBUTES[cname]))} only")


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ModelFileError(f"{name}={value!r} is not a positive int")
    return int(value)


def _expected_shapes(model):
    """Shapes the fitted arrays must have, from the hyper-parameters."""
    name = type(model).__name__
    ct = model.covariance_type
    k = model.n_components
    d_source = getattr(model, "means_", None)
    k = _positive_int(k, "n_components")
    # a tuple test: ct comes from the file and may be unhashable
    if ct not in COV_TYPES:
        raise ModelFileError(f"covariance_type={ct!r} is not a covariance type")
    entry = COVARIANCE[ct]
    if name == "GMMHMM":
        m = _positive_int(model.n_mix, "n_mix")
        if d_source is not None and np.ndim(d_source) != 3:
            raise ModelFileError(f"means_ has shape {np.shape(d_source)}, expected 3 dimensions")
        d = np.shape(d_source)[2] if d_source is not None else None
        # each state holds an m-component mixture's covariances
        shapes = {"means_": (k, m, d), "weights_": (k, m), "covars_": (k,) + entry.shape(m, d)}
    else:
        if d_source is not None and np.ndim(d_source) != 2:
            raise ModelFileError(f"means_ has shape {np.shape(d_source)}, expected 2 dimensions")
        d = np.shape(d_source)[1] if d_source is not None else None
        cov = entry.shape(k, d)
        shapes = {"means_": (k, d)}
        if name in _MIXTURES:
            shapes.update(weights_=(k,), covariances_=cov, precisions_=cov,
                          precisions_cholesky_=cov)
        else:
            shapes["_covars_"] = cov
        if name == "BayesianGaussianMixture":
            shapes.update(_bayesian_mixture_shapes(model, ct, k, d))
    if name not in _MIXTURES:
        shapes.update(startprob_=(k,), transmat_=(k, k))
    return shapes, d


_MIXTURES = ("GaussianMixture", "BayesianGaussianMixture")


def _bayesian_mixture_shapes(model, ct, k, d):
    """BayesianGaussianMixture's posterior and prior arrays (the scalar ones,
    tied degrees of freedom and a spherical covariance prior, are checked
    with the values)."""
    dp = model.weight_concentration_prior_type == "dirichlet_process"
    shapes = {"weight_concentration_": (2, k) if dp else (k,), "mean_precision_": (k,),
              "mean_prior_": (d,)}
    if ct != "tied":
        shapes["degrees_of_freedom_"] = (k,)
    if ct != "spherical":
        shapes["covariance_prior_"] = (d, d) if ct in ("full", "tied") else (d,)
    return shapes


def _check_bayesian_mixture_values(model):
    """The posterior's concentrations, mean precisions and degrees of
    freedom are finite and in their domains (the predictions take their
    logs and digammas): > 0, and degrees of freedom > n_features - 1."""
    d = np.shape(vars(model).get("means_", np.empty((0, 0))))[-1]
    for attr in ("weight_concentration_", "mean_precision_", "degrees_of_freedom_",
                 "weight_concentration_prior_", "mean_precision_prior_",
                 "degrees_of_freedom_prior_", "covariance_prior_"):
        if attr not in vars(model):
            continue
        try:
            arr = np.asarray(vars(model)[attr], dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelFileError(f"{attr} is not numeric") from None
        if not np.isfinite(arr).all():
            raise ModelFileError(f"{attr} contains NaN or infinity")
        matrix_prior = attr == "covariance_prior_" and model.covariance_type in ("full", "tied")
        if matrix_prior:   # off-diagonal entries may be negative: definiteness is the test
            if arr.ndim != 2 or not np.allclose(arr, arr.T, rtol=1e-12, atol=0) \
                    or not COVARIANCE["full"].is_positive_definite(arr):
                raise ModelFileError("covariance_prior_ is not a symmetric positive definite "
                                     "matrix")
            continue
        low = d - 1.0 if attr.startswith("degrees_of_freedom") else 0.0
        if not (arr > low).all():
            raise ModelFileError(f"{attr} must be greater than {low:g}")
        if attr == "covariance_prior_" and model.covariance_type == "spherical" \
                and arr.ndim != 0:
            raise ModelFileError("a spherical covariance_prior_ is one number")
        if attr == "degrees_of_freedom_" and model.covariance_type == "tied" and arr.ndim != 0:
            raise ModelFileError("a tied model's degrees_of_freedom_ is one number")


def _discrete_shapes(model):
    """_expected_shapes for the discrete HMMs: (K, D) emission rows, D from
    the stored emission array (or CategoricalHMM's n_features)."""
    name = type(model).__name__
    k = _positive_int(model.n_components, "n_components")
    em = vars(model).get(DISCRETE_EMISSIONS[name])
    if em is not None and np.ndim(em) != 2:
        raise ModelFileError(f"{DISCRETE_EMISSIONS[name]} has shape {np.shape(em)}, "
                             "expected 2 dimensions")
    d = np.shape(em)[1] if em is not None else None
    if name == "CategoricalHMM" and model.n_features is not None:
        d_param = _positive_int(model.n_features, "n_features")
        if d is not None and d != d_param:
            raise ModelFileError(f"emissionprob_ has {d} symbols but n_features={d_param}")
        d = d_param
    return {"startprob_": (k,), "transmat_": (k, k), DISCRETE_EMISSIONS[name]: (k, d)}, d


def _variational_hmm_shapes(model):
    """_expected_shapes for the variational HMMs, D from the posterior
    means (Gaussian) or emission rows (categorical); a tied model's scalar
    dof is checked with the values."""
    k = _positive_int(model.n_components, "n_components")
    shapes = {"startprob_": (k,), "transmat_": (k, k), "startprob_prior_": (k,),
              "startprob_posterior_": (k,), "transmat_prior_": (k, k),
              "transmat_posterior_": (k, k)}
    if type(model).__name__ == "VariationalCategoricalHMM":
        em = vars(model).get("emissionprob_posterior_")
        d = np.shape(em)[1] if em is not None and np.ndim(em) == 2 else None
        if model.n_features is not None:
            d = _positive_int(model.n_features, "n_features")
        shapes.update({n: (k, d) for n in ("emissionprob_prior_", "emissionprob_posterior_",
                                            "emissionprob_")})
        return shapes, d
    ct = model.covariance_type
    if ct not in COV_TYPES:
        raise ModelFileError(f"covariance_type={ct!r} is not a covariance type")
    means = vars(model).get("means_posterior_")
    if means is not None and np.ndim(means) != 2:
        raise ModelFileError(f"means_posterior_ has shape {np.shape(means)}, expected 2 "
                             "dimensions")
    d = np.shape(means)[1] if means is not None else None
    cov = COVARIANCE[ct].shape(k, d)
    shapes.update(means_prior_=(k, d), means_posterior_=(k, d), beta_prior_=(k,),
                  beta_posterior_=(k,), scale_prior_=cov, scale_posterior_=cov, _covars_=cov)
    if ct != "tied":
        shapes.update(dof_prior_=(k,), dof_posterior_=(k,))
    return shapes, d


def _check_variational_hmm_values(model):
    """The variational HMMs validate their own parameters (_check): run it
    on the stored values (and put them back as they were)."""
    if not all(hasattr(model, a) for a in FITTED_MARKERS[type(model).__name__]):
        return
    try:
        with model._checked_parameters():
            pass
    except (TypeError, ValueError) as exc:
        raise ModelFileError(str(exc)) from None


def check_fitted_shapes(model):
    """Refuse fitted arrays inconsistent with each other or with the
    hyper-parameters (the compiled kernels trust these shapes)."""
    if type(model).__name__.startswith("Variational"):
        shapes, d = _variational_hmm_shapes(model)
    elif type(model).__name__ in DISCRETE_EMISSIONS:
        shapes, d = _discrete_shapes(model)
    else:
        shapes, d = _expected_shapes(model)
    for attr, shape in shapes.items():
        if attr not in vars(model):
            continue
        value = vars(model)[attr]
        # arrays, or lists assigned by hand to an HMM before fitting
        try:
            arr = np.asarray(value) if type(value) in (np.ndarray, list, tuple) else None
        except ValueError:  # ragged
            arr = None
        wanted = tuple("D" if n is None else n for n in shape)
        if arr is None or arr.dtype.kind not in "biuf" or arr.ndim != len(shape) or any(
                n is not None and n != got for n, got in zip(shape, arr.shape)):
            got = (f"{type(value).__name__} of dtype {arr.dtype} and shape {arr.shape}"
                   if arr is not None else type(value).__name__)
            raise ModelFileError(f"{attr} is a {got}, but the hyper-parameters imply a numeric "
                             f"array of shape {wanted}")
    for attr in ("n_features_in_", "n_features"):
        value = vars(model).get(attr)
        # a CategoricalHMM reads one column of symbols
        want = 1 if attr == "n_features_in_" and type(model).__name__ in (
            "CategoricalHMM", "VariationalCategoricalHMM") else d
        if value is None or want is None:
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                or value != want:
            source = DISCRETE_EMISSIONS.get(type(model).__name__, "means_")
            raise ModelFileError(f"{attr}={value!r} disagrees with {source} ({want} features)")


# ------------------------------------------------------ fitted values
# A relative tolerance for the arrays that describe the same Gaussians
# (fit computes precisions_ and covariances_ from precisions_cholesky_, or
# the other way round, in float64; rounding stays orders of magnitude
# below this even for badly conditioned covariances).
_CONSISTENCY_RTOL = 1e-6
_SIMPLEX_ATOL = 1e-8            # as scikit-learn checks weights_init
_INDEX_LABELS = {               # what the leading axes of a covariance array count
    ("GaussianMixture", "tied"): (), "GaussianMixture": ("component",),
    ("BayesianGaussianMixture", "tied"): (), "BayesianGaussianMixture": ("component",),
    ("GaussianHMM", "tied"): (), "GaussianHMM": ("state",),
    ("GMMHMM", "tied"): ("state",), "GMMHMM": ("state", "component"),
}


def _values(model, attr):
    """The attribute as float64, refused unless finite (its shape is checked)."""
    arr = np.asarray(vars(model)[attr], dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ModelFileError(f"{attr} contains NaN or infinity")
    return arr


def _check_simplex(arr, attr):
    """Probabilities: non-negative, summing to one (per row of a matrix)."""
    if (arr < 0).any():
        raise ModelFileError(f"{attr} has negative entries; it holds probabilities")
    sums = arr.sum(axis=-1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _SIMPLEX_ATOL)
    if bad.size:
        if arr.ndim == 1:
            raise ModelFileError(f"{attr} must sum to 1 (it sums to {float(sums):.10g})")
        row = np.unravel_index(bad[0], sums.shape)
        row = row[0] if len(row) == 1 else row
        raise ModelFileError(f"{attr} rows must sum to 1 (row {row} sums to "
                             f"{float(sums.flat[bad[0]]):.10g})")


def _where_bad(ok, labels):
    bad = np.argwhere(~np.asarray(ok, dtype=bool))[0]
    if not labels:
        return "the shared matrix"
    return ", ".join(f"{label} {i}" for label, i in zip(labels, bad))


def _check_positive_definite(arr, attr, ct, labels, what="is not positive definite",
                             symmetric=True):
    entry = COVARIANCE[ct]
    ok = entry.is_positive_definite(arr)
    if not np.all(ok):
        raise ModelFileError(f"{attr} {what} ({_where_bad(ok, labels)})")
    if symmetric and ct in ("full", "tied"):
        # Cholesky reads the lower triangle only; the kernels read the
        # whole matrix. Off-diagonal gaps relative to sqrt(a_ii a_jj).
        if _relative_gap(arr, np.swapaxes(arr, -1, -2), ct) > _CONSISTENCY_RTOL:
            raise ModelFileError(f"{attr} is not symmetric")


def _relative_gap(a, b, ct):
    """max |a - b| relative to b's scale: b_ii for vectors of variances or
    precisions, sqrt(b_ii b_jj) for matrices (invariant to feature scales)."""
    if ct in ("full", "tied"):
        diag = np.abs(np.diagonal(b, axis1=-2, axis2=-1))
        scale = np.sqrt(diag[..., :, None] * diag[..., None, :])
    else:
        scale = np.abs(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(a - b) / scale
    return float(np.nanmax(np.where(a == b, 0.0, gap), initial=0.0))


def _check_factor(u, ct, labels):
    """precisions_cholesky_: U upper triangular with positive diagonal, so
    that U U^T is positive definite (for a triangular U the Cholesky test
    reads the diagonal only); 1 / sqrt(variance) > 0 for diag/spherical."""
    if ct in ("full", "tied") and np.tril(u, -1).any():
        raise ModelFileError("precisions_cholesky_ is not upper triangular (it holds U, "
                             "with precisions_ = U U^T, as scikit-learn does)")
    _check_positive_definite(np.triu(u) if ct in ("full", "tied") else u,
                             "precisions_cholesky_", ct, labels,
                             "is not the factor of positive definite precisions",
                             symmetric=False)


def _check_mixture_consistency(model, ct, u):
    entry = COVARIANCE[ct]
    if "precisions_" in vars(model):
        gap = _relative_gap(_values(model, "precisions_"), entry.precisions_from_cholesky(u), ct)
        if gap > _CONSISTENCY_RTOL:
            raise ModelFileError(
                f"precisions_cholesky_ and precisions_ disagree (relative gap {gap:.3g}; "
                "precisions_ must be U U^T for U = precisions_cholesky_)")
    if "covariances_" in vars(model):
        cov = _values(model, "covariances_")
        # U U^T = inv(cov)  <=>  U^T cov U = I: a residual free of the scales
        if ct == "full":
            gap = np.abs(np.einsum("kji,kjl,klm->kim", u, cov, u) - np.eye(u.shape[-1])).max()
        elif ct == "tied":
            gap = np.abs(u.T @ cov @ u - np.eye(u.shape[-1])).max()
        else:
            gap = np.abs(cov * u**2 - 1.0).max()
        if gap > _CONSISTENCY_RTOL:
            raise ModelFileError(
                f"precisions_cholesky_ and covariances_ disagree (relative gap {gap:.3g}; "
                "covariances_ must be the inverse of U U^T for U = precisions_cholesky_)")


def check_fitted_values(model):
    """Refuse fitted values fit could not have produced (called after
    check_fitted_shapes): every parameter finite, probabilities on the
    simplex, covariances and precisions positive definite, and a
    GaussianMixture's three descriptions of its covariances consistent."""
    name = type(model).__name__
    present = vars(model)
    for attr in ("weights_", "startprob_", "transmat_"):
        if attr in present:
            _check_simplex(_values(model, attr), attr)
    if name.startswith("Variational"):
        _check_variational_hmm_values(model)
        return
    if name in DISCRETE_EMISSIONS:
        attr = DISCRETE_EMISSIONS[name]
        if attr in present:
            values = _values(model, attr)
            if attr == "emissionprob_":
                _check_simplex(values, attr)
            elif (values < 0).any():
                raise ModelFileError("lambdas_ has negative entries; it holds Poisson rates")
        return
    ct = model.covariance_type
    if name == "BayesianGaussianMixture":
        _check_bayesian_mixture_values(model)
    if "means_" in present:
        _values(model, "means_")
    labels = _INDEX_LABELS.get((name, ct), _INDEX_LABELS[name])
    for attr in ("covariances_", "precisions_", "_covars_", "covars_"):
        if attr in present and (attr != "covars_" or name == "GMMHMM"):
            _check_positive_definite(_values(model, attr), attr, ct, labels)
    if "precisions_cholesky_" in present:
        u = _values(model, "precisions_cholesky_")
        _check_factor(u, ct, labels)
        _check_mixture_consistency(model, ct, u)
