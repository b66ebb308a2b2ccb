"""GaussianMixture's EM: the fit's checks and data source, the EM driver's
hooks (gmscore._core.em), initial parameters, the kernel E-step over any
source and the M-step. A mixin of GaussianMixture (BayesianGaussianMixture
borrows the fit and the E-step)."""
import warnings

import numpy as np

from . import _gaussian, _kernels, _missing, _repair
from ._core.covariance import COVARIANCE
from ._core.gaussian_mstep import parameters_from_stats
from ._core.sources import as_source
from ._core.stats import GaussianStats
from ._init import source_initial_statistics
from ._threads import effective_n_threads, fit_n_threads, reserve_fit_memory
from ._validation import (
    aligned,
    also_sklearn,
    check_random_state,
    set_feature_names,
    validate_params,
)
from ._core.em import fit_em

LOG_2PI = np.log(2.0 * np.pi)


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the lower bound converged (what is
    issued is also scikit-learn's ConvergenceWarning once scikit-learn is
    imported, so filters written for either catch it)."""



class _MixtureRun:
    """One initialisation's EM run: scikit-learn's convergence rule (change
    of the mean log-likelihood per sample below tol), re-armed after an
    iteration that re-seeded a component."""

    def __init__(self, tol, lower_bound):
        self.tol = tol
        self.score = lower_bound
        self.reference = lower_bound
        self.lower_bounds = []
        self.converged = False
        self.n_iter = 0
        self.reseeded = False

    def record(self, lower_bound):
        self.n_iter += 1
        self.lower_bounds.append(lower_bound)
        change = lower_bound - self.reference
        self.reference = self.score = lower_bound
        if self.reseeded:
            # on_degenerate='reseed' moved parameters off the EM path:
            # neither this change nor the next one (which may be a drop)
            # is a convergence signal.
            self.reference = -np.inf
        elif abs(change) < self.tol:
            self.converged = True




class GaussianMixtureEM:
    """The fit and EM hooks of GaussianMixture (see the module docstring)."""

    def _clamped_rows(self, source, y):
        """The known rows of partial labels y (None when y is not used)."""
        from ._partial_labels import ClampedRows, check_labels

        if y is None:
            return None
        if not self.partial_labels:
            arr = np.asarray(y)
            if arr.ndim == 1 and arr.dtype.kind == "i" and (arr == -1).any():
                warnings.warn("y is ignored, as by scikit-learn's GaussianMixture; it looks "
                              "like partial component labels (-1 = unknown): construct the "
                              "model with partial_labels=True to use them", UserWarning,
                              stacklevel=4)
            return None
        if not source.in_memory:
            raise ValueError("partial labels need X in memory (an array or data frame); "
                             "load the data, or fit without y")
        return ClampedRows(source, check_labels(y, source.n_samples, self.n_components))

    def _fit(self, X, sample_weight, y=None):
        validate_params(self, self._parameter_constraints)
        source = None
        if self.nan_policy == "marginalize":   # None: X is not in memory
            source = _missing.fit_source(self, X, sample_weight,
                                         effective_n_threads(self.n_threads), y=y)
        if source is None:
            source = as_source(X, sample_weight=sample_weight, min_samples=2,
                               n_threads=effective_n_threads(self.n_threads))
        if not source.in_memory:
            source.ensure_scanned()
        if source.n_samples < 2:
            raise ValueError(f"Found array with {source.n_samples} sample(s) (shape="
                             f"({source.n_samples}, {source.n_features})) while a minimum "
                             "of 2 is required.")
        if source.n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {self.n_components}, n_samples = {source.n_samples}"
            )
        # one thread for a small problem unless n_threads says otherwise;
        # the fit's work memory and threads, claimed before any kernel or
        # BLAS call (a MemoryError, or fewer threads, rather than a crash)
        source.n_threads = fit_n_threads(self.n_threads, source.largest_chunk_rows(),
                                         self.n_components, source.n_features,
                                         self.covariance_type)
        source.n_threads = reserve_fit_memory(self.covariance_type, self.n_components,
                                              source.n_features, source.n_threads,
                                              n_samples=source.largest_chunk_rows())
        warm = self.warm_start and hasattr(self, "converged_")
        if warm:
            self._check_warm_start_model(source.n_features)
        self._clamp = self._clamped_rows(source, y)
        try:
            run = fit_em(self, source, self.n_init if not warm else 1, self.max_iter,
                         check_random_state(self.random_state))
        finally:
            vars(self).pop("_clamp", None)
        set_feature_names(self, source.feature_names)
        if not run.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different "
                "init parameters, or increase max_iter, tol, or check for "
                "degenerate data.",
                also_sklearn(ConvergenceWarning, "ConvergenceWarning"),
            )
        return source

    # EM driver hooks (gmscore._core.em; _em_state / _em_restore from
    # RestoresOnFailure)
    def _em_start(self, source, random_state, index):
        if index == 0:
            self._inits = self._checked_inits(source.n_features)
        self._verbose_init_begin(index)
        warm = self.warm_start and hasattr(self, "converged_")
        self._repair_state = _repair.RepairState(self.n_components)
        if not warm:
            self._initialize(source, random_state, self._inits)
        self.n_features_in_ = source.n_features
        run = _MixtureRun(self.tol, self.lower_bound_ if warm else -np.inf)
        run.dtype = source.dtype
        return run

    def _em_iterate(self, source, run):
        kernel_model = self._kernel_parameters(source.dtype)
        stats = self._estep(source, kernel_model)
        self._mstep(stats, source, kernel_model)
        run.reseeded = self._repair_state.reseeded
        lower_bound = stats.loglik / stats.weight_sum
        self._verbose_iter_end(run.n_iter + 1, lower_bound - run.reference)
        return lower_bound

    def _em_end(self, run):
        if self.max_iter > 0:
            self._verbose_init_end(run.score, run.converged)

    def _em_params(self):
        return (self.weights_, self.means_, self.covariances_, self.precisions_cholesky_)

    def _em_adopt(self, params, run):
        self._set_parameters(params)
        if run.dtype == np.float32:
            # scikit-learn keeps float32 input's dtype in the fitted
            # parameters (every sum over samples was float64 all the same)
            for name in ("weights_", "means_", "covariances_", "precisions_",
                         "precisions_cholesky_"):
                setattr(self, name, np.asarray(getattr(self, name), dtype=np.float32))
        self.converged_ = run.converged
        self.n_iter_ = run.n_iter
        self.lower_bound_ = run.score
        self.lower_bounds_ = run.lower_bounds
        self.restart_histories_ = run.histories
        del self._repair_state, self._inits

    def _check_warm_start_model(self, n_features):
        """warm_start continues the previous model: its shape must not change."""
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        k, d = self.means_.shape
        if self.n_components != k:
            raise ValueError(
                f"warm_start=True continues the previous fit, which has {k} components, "
                f"but n_components is now {self.n_components}; set warm_start=False "
                "to fit a new model"
            )
        if np.shape(self.precisions_cholesky_) != COVARIANCE[self.covariance_type].shape(k, d):
            raise ValueError(
                "warm_start=True continues the previous fit, but covariance_type "
                f"changed to {self.covariance_type!r}; set warm_start=False to fit a new model"
            )

    def _checked_inits(self, n_features):
        k, ct = self.n_components, self.covariance_type
        return {
            "weights": None if self.weights_init is None
            else _gaussian.check_weights(self.weights_init, k),
            "means": None if self.means_init is None
            else _gaussian.check_means(self.means_init, k, n_features),
            "precisions": None if self.precisions_init is None
            else _gaussian.check_precisions(self.precisions_init, ct, k, n_features),
        }

    def _initialize(self, source, random_state, inits):
        """Initial parameters. A streamed source is initialised on
        ``source.init_sample`` (all rows of an in-memory one; see
        gmscore._core.sources), except that 'random_from_data' reads just
        the rows it picks."""
        ct = self.covariance_type
        if all(v is not None for v in inits.values()):
            weights, means, prec_chol = inits["weights"], inits["means"], None
            covariances = None
            data = source
        else:
            stats, data, one_row_each = source_initial_statistics(
                source, self.init_params, self.n_components, ct, random_state)
            nk, means, covariances = parameters_from_stats(
                stats, ct, self.reg_covar, floor=self.on_degenerate == "raise")
            if ct == "tied" and one_row_each:
                # One row per component has no within-component scatter: the
                # shared covariance starts as the data's covariance.
                d = stats.n_features
                covariances = data.scatter[0] / data.total_weight + self.reg_covar * np.eye(d)
            # Normalise by the responsibilities' own mass: k-means++ and
            # random_from_data cover only n_components rows (scikit-learn
            # divides by n_samples there and starts from weights that do
            # not sum to one).
            weights = nk / nk.sum()
            if inits["weights"] is not None:
                weights = inits["weights"]
            if inits["means"] is not None:
                means = inits["means"]
        if inits["precisions"] is not None:
            prec_chol = COVARIANCE[ct].precision_cholesky_from_precisions(inits["precisions"])
            covariances = COVARIANCE[ct].covariances_from_cholesky(prec_chol)
        else:
            if self.on_degenerate == "reseed":
                covariances = _repair.repair_initial_covariances(
                    covariances, ct, data, self.reg_covar)
            prec_chol = COVARIANCE[ct].precision_cholesky(covariances)
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.means_ = np.asarray(means, dtype=np.float64)
        self.covariances_ = covariances
        self.precisions_cholesky_ = prec_chol

    def _kernel_parameters(self, dtype):
        """Means and flattened precision factors in the input dtype, and the
        per-component log normaliser including the log weights."""
        ct = self.covariance_type
        d = self.means_.shape[1]
        log_det = COVARIANCE[ct].log_det_cholesky(
            np.asarray(self.precisions_cholesky_, dtype=np.float64), d)
        with np.errstate(divide="ignore"):
            log_w = np.log(np.asarray(self.weights_, dtype=np.float64))
        log_norm = np.ascontiguousarray(log_w + log_det - 0.5 * d * LOG_2PI, dtype=np.float64)
        if log_norm.shape == ():
            log_norm = np.full(self.n_components, float(log_norm))
        means, prec = COVARIANCE[ct].kernel_arguments(self.means_, self.precisions_cholesky_,
                                                      dtype)
        return means, prec, log_norm

    def _estep(self, source, kernel_model=None):
        """Statistics of every row of the source under the current
        parameters (one fused kernel pass per chunk, folded into one
        reducer: the same bits for any chunking in whole blocks), centred
        at the current means; when those are so far from the data that the
        M-step's re-centring would lose digits, the same E-step runs again
        centred at the components' new means (GaussianStats.better_centres).
        ``kernel_model``: the parameters in the kernels' layout for the
        source's dtype, made from the first chunk if None."""
        stats = self._estep_about(source, kernel_model, self.means_)
        for _ in range(GaussianStats.MAX_CENTRING_PASSES - 1):
            centres = stats.better_centres()
            if centres is None:
                break
            stats = self._estep_about(source, kernel_model, centres)
        return stats

    def _estep_about(self, source, kernel_model, centres):
        if getattr(source, "missing", None) is not None:     # nan_policy='marginalize'
            return _missing.estep(self, source, centres)
        clamp = vars(self).get("_clamp")
        if clamp is not None and source is not clamp.unknown:   # partial labels
            known = clamp.statistics(self, aligned(centres, np.float64))
            if clamp.unknown is None:
                return known
            return self._estep_about(clamp.unknown, kernel_model, centres) + known
        ct = self.covariance_type
        code = COVARIANCE[ct].code
        k, d = self.means_.shape
        centres = aligned(centres, np.float64)
        if getattr(source, "distributed", False):
            return self._estep_distributed(source, kernel_model, centres)
        red = _kernels.stats_reducer(code, k, d)
        count = 0
        for chunk in source.chunks():
            self._check_source_features(source)
            if kernel_model is None:
                kernel_model = self._kernel_parameters(chunk.X.dtype)
            estep_chunk(red, code, source, chunk, kernel_model, centres)
            count += chunk.X.shape[0]
        return GaussianStats.from_leaf(ct, centres, red.total(), count)

    def _estep_distributed(self, source, kernel_model, centres):
        """The E-step on a cluster (gmscore.dask): every chunk's statistics
        where it lives, added on the workers in the kernels' tree."""
        from .dask import _chunk_estep

        self._check_source_features(source)
        if kernel_model is None:
            kernel_model = self._kernel_parameters(source.dtype)
        code = COVARIANCE[self.covariance_type].code
        total = source.reduce_stats(_chunk_estep, (code,) + tuple(kernel_model) + (centres,))
        return GaussianStats.from_leaf(self.covariance_type, centres, total, source.n_samples)

    def _mstep(self, stats, source, kernel_model=None):
        """Parameters from statistics (and, under on_degenerate='reseed',
        re-seeded components, which need the source); assigned only once
        all are computed, so a failure leaves the model as it was."""
        ct = self.covariance_type
        nk, means, covariances = parameters_from_stats(
            stats, ct, self.reg_covar, floor=self.on_degenerate == "raise")
        weights = nk / nk.sum()
        if self.on_degenerate == "reseed" and source is not None:
            # Re-seeds go to the samples worst explained by the parameters
            # the E-step used.
            weights, means, covariances = _repair.reseed(
                self._repair_state, source, stats.nk, weights, means, covariances, ct,
                self.reg_covar, (COVARIANCE[ct].code,) + tuple(kernel_model))
        prec_chol = COVARIANCE[ct].precision_cholesky(covariances)
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = covariances
        self.precisions_cholesky_ = prec_chol

    def _set_parameters(self, params):
        self.weights_, self.means_, self.covariances_, self.precisions_cholesky_ = params
        if self.covariances_ is None:
            self.covariances_ = COVARIANCE[self.covariance_type].covariances_from_cholesky(
                self.precisions_cholesky_)
        self.precisions_ = COVARIANCE[self.covariance_type].precisions_from_cholesky(
            self.precisions_cholesky_)


def estep_chunk(red, code, source, chunk, kernel_model, centres):
    """One chunk's kernel E-step folded into ``red``; a non-finite
    log-likelihood becomes the fit's ValueError."""
    means, prec, log_norm = kernel_model
    try:
        _kernels.estep_into(red, code, chunk.X, means, prec, log_norm,
                            chunk.sample_weight, centres, source.n_threads)
    except _kernels.NonFiniteLogLikelihoodError as exc:
        if not np.isfinite(chunk.X).all():  # only a source that changed
            raise ValueError(
                f"chunk {chunk.index} of X contains NaN or infinity (it was finite "
                "when first read: the source changed between passes)") from None
        where = "" if source.in_memory else f" in chunk {chunk.index} of X"
        raise ValueError(f"EM failed{where}: {exc}") from None
