"""Emission models for the HMMs: Gaussian states (GaussianHMM) and
Gaussian-mixture states (GMMHMM). Each mixin supplies the emission
log-likelihoods (through the GMM kernels), the sufficient statistics
(through the accumulation kernel, weighted by the state posteriors), the
M-step with hmmlearn's priors, initialisation, sampling and the parameter
count. The chain itself lives in _hmm_base.py.

``min_covar`` is applied at every M-step as a floor: variances (diag,
spherical) below it are raised to it, and a full/tied covariance whose
smallest eigenvalue falls below it gets the difference added to its
diagonal. On data whose variances are well above ``min_covar`` this changes
nothing, so fits agree with hmmlearn's; on collapsing states it keeps the
covariances positive definite.
"""
import numpy as np

from . import _kernels
from ._core.stats import GaussianStats
from ._core.covariance import COV_TYPES, COVARIANCE
from ._init import kmeans
from ._validation import interval, options

LOG_2PI = np.log(2.0 * np.pi)
# hmmlearn floors the covariance denominators at this value (diag); we use
# it for every type so that a state that is never visited stays finite.
MIN_DENOMINATOR = 1e-5


def _work_array(data, name, shape):
    """A fit's reusable work array (see Source.buffer), or a fresh one."""
    return np.empty(shape) if data is None else data.buffer(name, shape)


def _floor_covariances(cov, covariance_type, min_covar):
    """Apply the min_covar floor described in the module docstring."""
    if covariance_type in ("diag", "spherical"):
        return np.maximum(cov, min_covar)
    mats = cov if covariance_type == "full" else cov[None]
    mats = 0.5 * (mats + np.transpose(mats, (0, 2, 1)))
    d = mats.shape[-1]
    eye = np.eye(d)
    # Only a matrix with an eigenvalue below min_covar is lifted; whether it
    # has one is decided by a Cholesky of m - min_covar I (scale-robust, see
    # gmscore._core.covariance), so badly scaled but well floored matrices
    # are left exactly as they are.
    low_idx = np.flatnonzero(~COVARIANCE["full"].is_positive_definite(mats - min_covar * eye))
    if low_idx.size:
        low = np.linalg.eigvalsh(mats[low_idx])[:, 0]
        lift = np.where(low < min_covar, min_covar - low, 0.0)
        mats[low_idx] += lift[:, None, None] * eye
    return mats if covariance_type == "full" else mats[0]


def _data_covariance(data, min_covar):
    """np.cov(X.T) + min_covar * I, from the kernels (no N x D temporary)."""
    scatter, _ = data.scatter
    n = data.X.shape[0]
    cov = scatter / max(n - 1, 1)
    return cov + min_covar * np.eye(cov.shape[0])


def _check_covariance_type(covariance_type):
    """hmmlearn's ValueError for a covariance_type set after construction."""
    if not isinstance(covariance_type, str) or covariance_type not in COV_TYPES:
        raise ValueError(f"covariance_type must be one of {list(COV_TYPES)}, got "
                         f"{covariance_type!r}")


def _as_float(value, name):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None


def _broadcast(value, shape, name):
    """A prior given as a scalar, per state or in full shape -> `shape`."""
    arr = _as_float(value, name)
    if arr.ndim and arr.shape[0] == shape[0] and arr.ndim < len(shape):
        arr = arr.reshape(arr.shape + (1,) * (len(shape) - arr.ndim))
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(f"{name} has shape {arr.shape}, which does not broadcast to {shape}") from None


def _precision_factors(covariances, covariance_type):
    try:
        return COVARIANCE[covariance_type].precision_cholesky(covariances)
    except ValueError:
        raise ValueError(
            f"covars_ must be symmetric, positive-definite ({covariance_type}); "
            "increase min_covar or check the data scale"
        ) from None


def _validate_covariances(cov, covariance_type, shape, name="covars_"):
    cov = _as_float(cov, name)
    if cov.shape != shape:
        raise ValueError(f"{covariance_type!r} {name} must have shape {shape}, got {cov.shape}")
    if not np.isfinite(cov).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if covariance_type in ("diag", "spherical"):
        if not COVARIANCE[covariance_type].is_positive_definite(cov).all():
            raise ValueError(f"{covariance_type!r} {name} must be positive")
        return cov
    mats = cov.reshape((-1,) + cov.shape[-2:])
    if not (all(np.allclose(m, m.T) for m in mats)
            and COVARIANCE["full"].is_positive_definite(mats).all()):
        raise ValueError(f"{covariance_type!r} {name} must be symmetric, positive-definite")
    return cov


class GaussianEmissions:
    """State k emits N(means_[k], covariance k)."""

    # a NaN / infinite entry of X gives NaN or -inf under every state (the
    # compiled emission pass never fails on one): decode checks X only then
    _emissions_reveal_non_finite = True

    _emission_letters = "mc"
    _emission_param_names = ("means_", "_covars_")

    def _emission_constraints(self):
        return {
            "covariance_type": options(*COV_TYPES),
            "min_covar": interval(float, 0.0),
            "nan_policy": options("raise", "marginalize"),
        }

    def _covars_shape(self, n_features):
        return COVARIANCE[self.covariance_type].shape(self.n_components, n_features)

    def _n_features_of_emissions(self):
        return np.shape(self.means_)[1]

    def _init_emissions(self, data, rs):
        if self._needs_init("m", "means_"):
            _, centres = kmeans(data.X, self.n_components, rs, None, data.n_threads,
                                feature_variance=data.mean_variance)
            self.means_ = centres
        # covars_ is a property over _covars_ (hasattr is False when unset)
        if self._needs_init("c", "covars_"):
            cv = _data_covariance(data, self.min_covar)
            k = self.n_components
            self._covars_ = {
                "full": lambda: np.tile(cv, (k, 1, 1)),
                "tied": lambda: cv.copy(),
                "diag": lambda: np.tile(np.diag(cv), (k, 1)),
                "spherical": lambda: np.full(k, np.diag(cv).mean()),
            }[self.covariance_type]()

    def _check_emissions(self, n_features=None):
        _check_covariance_type(self.covariance_type)
        if not hasattr(self, "means_") or not hasattr(self, "_covars_"):
            raise ValueError("means_ and covars_ must be set (fit the model or assign them)")
        means = _as_float(self.means_, "means_")
        if means.ndim != 2 or means.shape[0] != self.n_components:
            raise ValueError(f"means_ must have shape (n_components, n_features), got {means.shape}")
        if n_features is not None and means.shape[1] != n_features:
            raise ValueError(
                f"means_ has {means.shape[1]} features but X has {n_features}")
        if not np.isfinite(means).all():
            raise ValueError("means_ contains NaN or infinity")
        self.means_ = means
        self.n_features = means.shape[1]
        cov = _as_float(self._covars_, "covars_")
        if self.covariance_type == "diag" and cov.shape == (self.n_components, 1):
            # hmmlearn broadcasts one variance per state over the features
            cov = np.repeat(cov, means.shape[1], axis=1)
        self._covars_ = _validate_covariances(cov, self.covariance_type,
                                              self._covars_shape(means.shape[1]))

    def _emission_arguments(self, dtype):
        """(means, precision factors, log normalisers) in the kernel's
        layout for inputs of ``dtype``, made once per parameter change."""
        ct = self.covariance_type

        def make():
            k, d = self.n_components, np.shape(self.means_)[1]
            prec = _precision_factors(self._covars_, ct)
            log_det = COVARIANCE[ct].log_det_cholesky(prec, d)
            log_norm = np.broadcast_to(log_det - 0.5 * d * LOG_2PI, (k,)).astype(np.float64)
            means, flat = COVARIANCE[ct].kernel_arguments(self.means_, prec, dtype)
            return means, flat, np.ascontiguousarray(log_norm)

        return self._derived(("emissions", np.dtype(dtype).str),
                             (ct, self.n_components, self.means_, self._covars_), make)

    def _frame_log_likelihood(self, X, n_threads, data=None):
        ct = self.covariance_type
        means, flat, log_norm = self._emission_arguments(X.dtype)
        out = _work_array(data, "framelogprob", (X.shape[0], self.n_components))
        _kernels.weighted_log_prob(COVARIANCE[ct].code, X, means, flat, log_norm, out,
                                   n_threads)
        return out, None

    def _emission_accumulator(self, source, centres=None):
        if not ("m" in self.params or "c" in self.params):
            return None
        code = COVARIANCE[self.covariance_type].code
        k, d = self.means_.shape
        centres = self.means_ if centres is None else centres
        return _kernels.stats_reducer(code, k, d), np.ascontiguousarray(centres,
                                                                         dtype=np.float64)

    def _better_emission_centres(self, em):
        # the M-step re-centres the scatter on the new means
        return None if em is None or "c" not in self.params else em.better_centres()

    def _accumulate_emissions(self, acc, chunk, posteriors, extra, n_threads):
        if acc is None:
            return
        red, centres = acc
        _kernels.accumulate_into(red, COVARIANCE[self.covariance_type].code, chunk.X, posteriors,
                                 None, None, centres, n_threads)

    def _emission_stats(self, acc, count):
        if acc is None:
            return None
        red, centres = acc
        return GaussianStats.from_leaf(self.covariance_type, centres, red.total(), count)

    def _check_emission_stats(self, em):
        if not ("m" in self.params or "c" in self.params):
            return
        if em is None or em.kind != self.covariance_type or em.centres.shape != np.shape(
                self.means_):
            raise ValueError(
                f"the statistics' emission part must be {self.covariance_type} statistics "
                f"of shape {np.shape(self.means_)} (from this model's accumulate)")

    def _do_emission_mstep(self, em):
        if not ("m" in self.params or "c" in self.params):
            return
        ct = self.covariance_type
        k, d = em.centres.shape
        post, s1, centres = em.nk, em.s1, em.centres
        lam = _broadcast(self.means_weight, (k, 1), "means_weight")
        mu0 = _broadcast(self.means_prior, (k, d), "means_prior")
        obs = s1 + post[:, None] * centres          # sum_t gamma_tk x_t
        means = self.means_
        if "m" in self.params:
            denom = lam + post[:, None]
            safe = np.where(denom > 0, denom, 1.0)
            means = np.where(denom > 0, (lam * mu0 + obs) / safe, self.means_)
            self.means_ = means
        if "c" not in self.params:
            return
        meandiff = means - mu0
        cw = _as_float(self.covars_weight, "covars_weight")
        if ct in ("diag", "spherical"):
            c_n = lam * meandiff**2 + em.recentred(means).s2
            c_d = np.maximum(cw - 1, 0) + post[:, None]
            prior = _broadcast(self.covars_prior, (k, d), "covars_prior")
            cov = (prior + c_n) / np.maximum(c_d, MIN_DENOMINATOR)
            if ct == "spherical":
                cov = cov.mean(axis=1)
        else:
            lam_k = lam[:, 0]
            outer = lam_k[:, None, None] * meandiff[:, :, None] * meandiff[:, None, :]
            cvweight = np.maximum(cw - d, 0)
            if ct == "full":
                c_n = outer + em.recentred(means).s2
                prior = _broadcast(self.covars_prior, (k, d, d), "covars_prior")
                den = np.broadcast_to(cvweight, (k,)) + post
                cov = (prior + c_n) / np.maximum(den, MIN_DENOMINATOR)[:, None, None]
            else:
                c_n = outer.sum(axis=0) + em.recentred(means).s2
                prior = _broadcast(self.covars_prior, (d, d), "covars_prior")
                cov = (prior + c_n) / max(float(np.max(cvweight)) + post.sum(), MIN_DENOMINATOR)
        self._covars_ = _floor_covariances(cov, ct, self.min_covar)

    def _sample_emissions(self, state, n, rs):
        cov = self.covars_[state]
        return rs.multivariate_normal(self.means_[state], cov, n)

    def _emission_fit_scalars(self, d=None):
        k, d = self.n_components, d or self._n_features_of_emissions()
        return {"m": k * d, "c": COVARIANCE[self.covariance_type].n_parameters(k, d)}

    def _emission_n_parameters(self):
        k, d = self.n_components, self._n_features_of_emissions()
        return k * d + COVARIANCE[self.covariance_type].n_parameters(k, d)


class GMMEmissions:
    """State k emits sum_m weights_[k, m] N(means_[k, m], covars_[k, m])."""

    # a NaN / infinite entry of X gives NaN or -inf under every state (the
    # compiled emission pass never fails on one): decode checks X only then
    _emissions_reveal_non_finite = True

    _emission_letters = "mcw"
    _emission_param_names = ("weights_", "means_", "covars_")

    # hmmlearn's defaults for covars_prior / covars_weight when None.
    def _covars_priors(self, d):
        k, m, ct = self.n_components, self.n_mix, self.covariance_type
        default_prior, default_weight = {
            "full": (0.0, -(1.0 + d + 1.0)),
            "tied": (0.0, -(m + d + 1.0)),
            "diag": (-1.5, 0.0),
            "spherical": (-(m + 2.0) / 2.0, 0.0),
        }[ct]
        prior = default_prior if self.covars_prior is None else self.covars_prior
        weight = default_weight if self.covars_weight is None else self.covars_weight
        prior_shape = {"full": (k, m, d, d), "tied": (k, d, d), "diag": (k, m, d),
                       "spherical": (k, m)}[ct]
        weight_shape = {"full": (k, m), "tied": (k,), "diag": (k, m, d), "spherical": (k, m)}[ct]
        return (_broadcast(prior, prior_shape, "covars_prior"),
                _broadcast(weight, weight_shape, "covars_weight"))

    def _emission_constraints(self):
        return {
            "covariance_type": options(*COV_TYPES),
            "min_covar": interval(float, 0.0),
            "n_mix": interval(int, 1),
            "nan_policy": options("raise", "marginalize"),
        }

    def _covars_shape(self, n_features):
        # per state, the covariances of an n_mix-component mixture
        return (self.n_components,) + COVARIANCE[self.covariance_type].shape(self.n_mix,
                                                                             n_features)

    def _n_features_of_emissions(self):
        return np.shape(self.means_)[2]

    def _init_emissions(self, data, rs):
        k, m, d = self.n_components, self.n_mix, data.n_features
        cv = None
        if self._needs_init("m", "means_"):
            X = data.X
            labels, centres = kmeans(X, k, rs, None, data.n_threads,
                                     feature_variance=data.mean_variance)
            main_centroid = centres.mean(axis=0)
            means = np.empty((k, m, d))
            for state in range(k):  # one small k-means per state
                cluster = np.ascontiguousarray(X[labels == state])
                if cluster.shape[0] >= m:
                    _, means[state] = kmeans(cluster, m, rs, None, data.n_threads)
                else:
                    cv = _data_covariance(data, self.min_covar)
                    means[state] = rs.multivariate_normal(main_centroid, cv, size=m)
            self.means_ = means
        if self._needs_init("w", "weights_"):
            self.weights_ = np.full((k, m), 1.0 / m)
        if self._needs_init("c", "covars_"):
            if cv is None:
                cv = _data_covariance(data, self.min_covar)
            self.covars_ = {
                "full": lambda: np.broadcast_to(cv, (k, m, d, d)).copy(),
                "tied": lambda: np.broadcast_to(cv, (k, d, d)).copy(),
                "diag": lambda: np.broadcast_to(np.diag(cv), (k, m, d)).copy(),
                "spherical": lambda: np.full((k, m), cv.mean()),
            }[self.covariance_type]()

    def _check_emissions(self, n_features=None):
        _check_covariance_type(self.covariance_type)
        for name in ("weights_", "means_", "covars_"):
            if not hasattr(self, name):
                raise ValueError(f"{name} must be set (fit the model or assign it)")
        k, m = self.n_components, self.n_mix
        means = _as_float(self.means_, "means_")
        if means.ndim != 3 or means.shape[:2] != (k, m):
            raise ValueError(
                f"means_ must have shape (n_components, n_mix, n_features) = ({k}, {m}, D), "
                f"got {means.shape}")
        if n_features is not None and means.shape[2] != n_features:
            raise ValueError(f"means_ has {means.shape[2]} features but X has {n_features}")
        if not np.isfinite(means).all():
            raise ValueError("means_ contains NaN or infinity")
        self.means_ = means
        self.n_features = means.shape[2]
        weights = _as_float(self.weights_, "weights_")
        if weights.shape != (k, m):
            raise ValueError(f"weights_ must have shape (n_components, n_mix) = ({k}, {m}), "
                             f"got {weights.shape}")
        if not np.isfinite(weights).all() or (weights < 0).any() or not np.allclose(
                weights.sum(axis=1), 1.0, rtol=0, atol=1e-8):
            raise ValueError("weights_ rows must be non-negative and sum to 1")
        self.weights_ = weights
        self.covars_ = _validate_covariances(self.covars_, self.covariance_type,
                                             self._covars_shape(means.shape[2]))

    def _component_factors(self):
        """Kernel type code, means (K*M, D) and precision factors per
        component; tied states share one factor across their mixtures."""
        ct = self.covariance_type
        k, m, d = self.means_.shape
        cov = self.covars_
        if ct == "tied":
            cov = np.repeat(cov, m, axis=0)  # (K*M, D, D)
            code_type = "full"
        else:
            cov = cov.reshape((k * m,) + cov.shape[2:])
            code_type = ct
        prec = _precision_factors(cov, code_type)
        log_det = COVARIANCE[code_type].log_det_cholesky(prec, d)
        return code_type, prec, log_det

    def _emission_arguments(self, dtype):
        """(kernel type code, means, precision factors, log normalisers) of
        the K * M components for inputs of ``dtype``, made once per
        parameter change."""
        def make():
            k, m, d = self.means_.shape
            code_type, prec, log_det = self._component_factors()
            with np.errstate(divide="ignore"):
                log_w = np.log(self.weights_).ravel()
            log_norm = np.ascontiguousarray(log_w + log_det - 0.5 * d * LOG_2PI)
            means, flat = COVARIANCE[code_type].kernel_arguments(
                self.means_.reshape(k * m, d), prec, dtype)
            return COVARIANCE[code_type].code, means, flat, log_norm

        return self._derived(("emissions", np.dtype(dtype).str),
                             (self.covariance_type, self.weights_, self.means_, self.covars_),
                             make)

    def _frame_log_likelihood(self, X, n_threads, data=None):
        k, m, d = self.means_.shape
        code, means, flat, log_norm = self._emission_arguments(X.dtype)
        comp = _work_array(data, "components", (X.shape[0], k * m))
        _kernels.weighted_log_prob(code, X, means, flat, log_norm, comp, n_threads)
        comp = comp.reshape(X.shape[0], k, m)
        framelogprob = _work_array(data, "framelogprob", (X.shape[0], k))
        # comp becomes the within-state mixture weights, from the same exps
        _kernels.group_logsumexp(comp, framelogprob, n_threads)
        return framelogprob, (comp, framelogprob)

    def _emission_kind(self):
        # tied states pool over their own mixtures only: full statistics
        return "full" if self.covariance_type in ("full", "tied") else "diag"

    def _better_emission_centres(self, em):
        # the M-step takes the scatter about the E-step's centres (as
        # hmmlearn does): nothing is re-centred, nothing to lose
        return None

    def _emission_accumulator(self, source, centres=None):
        k, m, d = self.means_.shape
        code = COVARIANCE[self._emission_kind()].code
        return (_kernels.stats_reducer(code, k * m, d),
                np.ascontiguousarray(self.means_.reshape(k * m, d), dtype=np.float64))

    def _accumulate_emissions(self, acc, chunk, posteriors, extra, n_threads):
        k, m, d = self.means_.shape
        comp, framelogprob = extra
        # responsibilities of every (state, mixture) pair, in place: gamma_tk
        # times the mixture posterior within state k (the weights that
        # _frame_log_likelihood left in comp)
        _kernels.mixture_responsibilities(comp, posteriors, n_threads)
        red, centres = acc
        _kernels.accumulate_into(red, COVARIANCE[self._emission_kind()].code, chunk.X,
                                 comp.reshape(comp.shape[0], k * m), None, None, centres,
                                 n_threads)

    def _emission_stats(self, acc, count):
        red, centres = acc
        return GaussianStats.from_leaf(self._emission_kind(), centres, red.total(), count)

    def _check_emission_stats(self, em):
        k, m, d = np.shape(self.means_)
        if em is None or em.kind != self._emission_kind() or em.centres.shape != (k * m, d):
            raise ValueError(
                f"the statistics' emission part must be {self._emission_kind()} statistics "
                f"of {k * m} components in {d} features (from this model's accumulate)")

    def _do_emission_mstep(self, em):
        ct = self.covariance_type
        k, m, d = self.means_.shape
        nk, s1, centres = em.nk, em.s1, em.centres
        post_mix = nk.reshape(k, m)
        w_prior = _broadcast(self.weights_prior, (k, m), "weights_prior")
        lam = _broadcast(self.means_weight, (k, m), "means_weight")
        mu0 = _broadcast(self.means_prior, (k, m, d), "means_prior")
        if "w" in self.params:
            w_n = np.maximum(post_mix + w_prior - 1, 0)
            w_d = w_n.sum(axis=1, keepdims=True)
            self.weights_ = np.where(w_d > 0, w_n / np.where(w_d > 0, w_d, 1.0), self.weights_)
        old_means = self.means_
        if "m" in self.params:
            m_n = lam[:, :, None] * mu0 + (s1 + nk[:, None] * centres).reshape(k, m, d)
            m_d = (post_mix + lam)[:, :, None]
            self.means_ = np.where(m_d > 0, m_n / np.where(m_d > 0, m_d, 1.0), old_means)
        if "c" not in self.params:
            return
        # As in hmmlearn, the scatter is taken about the means the E-step
        # used (the kernels' centres), plus the prior terms at the new means.
        c_prior, c_weight = self._covars_priors(d)
        centred = self.means_ - mu0
        if ct == "full":
            scatter = em.s2.reshape(k, m, d, d)
            c_n = (np.transpose(c_prior, (0, 1, 3, 2))
                   + lam[:, :, None, None] * centred[..., :, None] * centred[..., None, :]
                   + scatter)
            c_d = (post_mix + 1 + c_weight + d + 1)[:, :, None, None]
        elif ct == "tied":
            scatter = em.s2.reshape(k, m, d, d).sum(axis=1)
            c_n = (np.einsum("ij,ijk,ijl->ikl", lam, centred, centred)
                   + np.transpose(c_prior, (0, 2, 1)) + scatter)
            c_d = (post_mix.sum(axis=1) + m + c_weight + d + 1)[:, None, None]
        elif ct == "diag":
            scatter = em.s2.reshape(k, m, d)
            c_n = lam[:, :, None] * centred**2 + 2 * c_weight + scatter
            c_d = post_mix[:, :, None] + 1 + 2 * (c_prior + 1)
        else:
            scatter = em.s2.reshape(k, m, d).sum(axis=2)
            c_n = lam * (centred**2).sum(axis=2) + 2 * c_weight + scatter
            c_d = d * (post_mix + 1) + 2 * (c_prior + 1)
        cov = c_n / np.maximum(c_d, MIN_DENOMINATOR)
        if ct == "full":
            cov = _floor_covariances(cov.reshape(k * m, d, d), "full", self.min_covar).reshape(k, m, d, d)
        elif ct == "tied":
            cov = _floor_covariances(cov, "full", self.min_covar)
        else:
            cov = _floor_covariances(cov, ct, self.min_covar)
        self.covars_ = cov

    def _sample_emissions(self, state, n, rs):
        k, m, d = self.means_.shape
        mix = rs.choice(m, size=n, p=self.weights_[state])
        out = np.empty((n, d))
        for j in range(m):
            idx = np.flatnonzero(mix == j)
            if not idx.size:
                continue
            ct = self.covariance_type
            cov = {"full": lambda: self.covars_[state, j],
                   "tied": lambda: self.covars_[state],
                   "diag": lambda: np.diag(self.covars_[state, j]),
                   "spherical": lambda: self.covars_[state, j] * np.eye(d)}[ct]()
            out[idx] = rs.multivariate_normal(self.means_[state, j], cov, idx.size)
        return out

    def _emission_fit_scalars(self, d=None):
        k, m, d = self.n_components, self.n_mix, d or self._n_features_of_emissions()
        return {"m": k * m * d, "c": k * COVARIANCE[self.covariance_type].n_parameters(m, d),
                "w": k * (m - 1)}

    def _emission_n_parameters(self):
        k, m, d = self.n_components, self.n_mix, self._n_features_of_emissions()
        return k * m * d + (m - 1) + k * COVARIANCE[self.covariance_type].n_parameters(m, d)


# What each class's _check_emissions reads besides the fitted parameters
# (BaseHMM._check_reads): its result is reused while they are unchanged.
GaussianEmissions._CHECK_READS = (GaussianEmissions._check_emissions, ("covariance_type",))
GMMEmissions._CHECK_READS = (GMMEmissions._check_emissions, ("covariance_type", "n_mix"))
