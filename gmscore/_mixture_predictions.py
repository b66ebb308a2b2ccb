"""GaussianMixture's prediction paths (predict, predict_proba,
score_samples, score, bic, aic): the prepared model cached on the
estimator (gmscore._core.prepared), a direct path for in-memory float
arrays (one kernel call writing into the returned arrays, no data layer,
no separate finiteness pass), and the data-layer path for every other
source (chunked arrays, callables, Dask)."""
import numpy as np

from . import _kernels
from ._core.covariance import COVARIANCE
from ._core.prepared import PreparedMixture
from ._core.sources import as_source
from ._threads import SMALL_WORK, effective_n_threads, fit_n_threads, single_threaded_blas
from ._validation import check_feature_names, check_finite, check_is_fitted

# input dtypes the direct path takes as they are
_DIRECT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


class MixturePredictions:
    """The prediction methods of GaussianMixture (a mixin: it needs
    covariance_type, n_components, n_threads, the fitted parameters,
    _kernel_parameters and _n_parameters)."""

    # the prepared model: a slot, so that pickles, save and __dict__ never
    # hold it
    __slots__ = ("_prepared_cache",)

    def _check_parameters(self):
        """Parameters a prediction can use (they may have been set by hand):
        finite, weights non-negative; else a clear error, never NaN."""
        k = self.n_components
        for name in ("weights_", "means_", "precisions_cholesky_"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if not np.isfinite(value).all():
                raise ValueError(f"{name} holds NaN or infinity; refit the model or set "
                                 f"finite values")
        if np.shape(self.weights_) != (k,) or (np.asarray(self.weights_) < 0).any():
            raise ValueError(f"weights_ must be {k} non-negative numbers")
        d = np.shape(self.means_)[-1]
        if np.shape(self.means_) != (k, d) or np.shape(self.precisions_cholesky_) != \
                COVARIANCE[self.covariance_type].shape(k, d):
            raise ValueError("means_ / precisions_cholesky_ do not have the shapes "
                             f"n_components={k} and covariance_type="
                             f"{self.covariance_type!r} imply")

    def _prepared(self):
        """The prepared model: validated parameters in the kernels' layout,
        made again only when a parameter or covariance_type/n_components
        changed (assigned or written into)."""
        check_is_fitted(self, ("means_", "precisions_cholesky_"))
        cache = getattr(self, "_prepared_cache", None)
        if cache is not None and cache.matches(self):
            return cache
        self._check_parameters()
        cache = PreparedMixture(self, self._kernel_parameters)
        self._prepared_cache = cache
        return cache

    def _fitted_source(self, X):
        self._prepared()
        source = as_source(X, multi_pass=False, n_threads=effective_n_threads(self.n_threads))
        check_feature_names(self, source.feature_names)
        self._size_threads(source)
        self._check_source_features(source)
        return source

    def _size_threads(self, source):
        """One thread for a small call when n_threads is None."""
        if source.n_samples and self.covariance_type in COVARIANCE:
            source.n_threads = fit_n_threads(self.n_threads, source.largest_chunk_rows(),
                                             self.n_components, self.means_.shape[1],
                                             self.covariance_type)

    def _check_source_features(self, source):
        if source.n_features is not None and hasattr(self, "n_features_in_") \
                and source.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {source.n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input.")

    def _kernel_rows(self, X, kernel, n_threads, proba, labels, start=0):
        """One kernel pass over the rows of X: (log-likelihoods, posterior
        probabilities or None, most probable components or None), written
        straight into the returned arrays. With labels and not proba, the
        first array holds each row's largest weighted log-density instead
        of its log-likelihood (predict needs neither)."""
        means, prec, log_norm = kernel
        n = X.shape[0]
        lse = np.empty(n)
        out = np.empty((n, self.n_components)) if proba else None
        lab = np.empty(n, dtype=np.int64) if labels else None
        code = COVARIANCE[self.covariance_type].code
        if labels and not proba:
            # predict: the argmax needs no log-sum-exp; lse gets each row's
            # largest weighted log-density (finite exactly when the
            # log-likelihood is, so the check below is the same)
            _kernels.log_prob_labels(code, X, means, prec, log_norm, lse, lab, n_threads)
        else:
            _kernels.log_prob_rows(code, X, means, prec, log_norm, lse, out, lab, n_threads)
        if not np.isfinite(lse).all():
            # NaN / infinity in X (the in-memory path leaves the finiteness
            # check to this pass: the data layer's error), or every
            # component's log-density overflowed (inf - inf would make NaN
            # probabilities): an error, never NaN
            check_finite(X, "X")
            bad = (np.flatnonzero(~np.isfinite(lse))[:5] + start).tolist()
            raise ValueError(
                f"samples {bad} of X have no finite log-likelihood under the model "
                "(their squared Mahalanobis distance to every component overflows "
                "float64); scale the input data")
        return lse, out, lab

    def _direct_rows(self, X, proba=False, labels=False, check_names=True):
        """The low-overhead path for an in-memory float array (one row or
        millions): the prepared model, one kernel call, no data layer and no
        separate finiteness pass over X. None when X needs the data layer.
        ``check_names=False``: the caller has checked X's feature names."""
        if type(X) is not np.ndarray or X.ndim != 2 or X.dtype not in _DIRECT_DTYPES \
                or X.shape[0] < 1 or X.shape[1] < 1 or not X.flags.c_contiguous \
                or not X.flags.aligned:
            return None
        prepared = self._prepared()
        if check_names and getattr(self, "feature_names_in_", None) is not None:
            check_feature_names(self, None)      # scikit-learn's warning
        n, d = X.shape
        if hasattr(self, "n_features_in_") and d != self.n_features_in_:
            raise ValueError(f"X has {d} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        ct, k = self.covariance_type, self.n_components
        work = n * k * (d * d if ct in ("full", "tied") else d)
        n_threads = 1 if self.n_threads is None and work < SMALL_WORK else \
            fit_n_threads(self.n_threads, n, k, d, ct)
        kernel = prepared.kernel(X.dtype)
        if ct in ("full", "tied") and not _kernels.blas_pins_itself():
            with single_threaded_blas():   # the kernel calls BLAS from its threads
                rows = self._kernel_rows(X, kernel, n_threads, proba, labels)
        else:                              # the kernel pins its BLAS itself
            rows = self._kernel_rows(X, kernel, n_threads, proba, labels)
        return rows, np.result_type(X.dtype, prepared.out_dtype)

    def _row_passes(self, source, proba=False, labels=False):
        """Per chunk of the source: the rows' log-likelihoods and, when
        asked, posterior probabilities and most probable components, in one
        kernel pass (no N x K array besides the probabilities)."""
        prepared = self._prepared()
        with single_threaded_blas():  # the kernel calls BLAS from its threads
            for chunk in source.chunks():
                self._check_source_features(source)
                yield self._kernel_rows(chunk.X, prepared.kernel(chunk.X.dtype),
                                        source.n_threads, proba, labels, chunk.start)

    def _rows(self, source, which, **kwargs):
        if getattr(source, "distributed", False):   # lazy, chunked as X's rows
            payload = (COVARIANCE[self.covariance_type].code,) + tuple(
                self._prepared().kernel(source.dtype)) + (self.n_components,)
            out = source.map_rows(payload, which, self.n_components)
            if which == 2:
                return out
            return out.astype(np.result_type(source.dtype, np.asarray(self.means_).dtype))
        parts = [p[which] for p in self._row_passes(source, **kwargs)]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if which == 2:
            return out
        # scikit-learn's dtype: float32 only when both X and the model are
        return out.astype(np.result_type(source.dtype, np.asarray(self.means_).dtype),
                          copy=False)

    def _predict_source(self, source):
        return self._rows(source, 2, labels=True)

    @staticmethod
    def _direct_result(direct, which):
        rows, dtype = direct
        return rows[which] if which == 2 else rows[which].astype(dtype, copy=False)

    # (each public method calls _direct_rows / _fitted_source itself, so
    # that a feature-name warning points at the caller's line)
    def _missing_rows(self, X, which):
        """Rows with NaN under nan_policy='marginalize' (gmscore._missing),
        else None."""
        if getattr(self, "nan_policy", "raise") != "marginalize":
            return None
        from ._missing import predictions

        return predictions(self, X, which)

    def score_samples(self, X):
        """Log-likelihood of each sample, shape (n_samples,). X may be any
        data source (see ``fit``); with nan_policy='marginalize', rows with
        NaN get the log-likelihood of their observed features."""
        missing = self._missing_rows(X, "lse")
        if missing is not None:
            return missing
        direct = self._direct_rows(X)
        if direct is None:
            return self._rows(self._fitted_source(X), 0)
        return self._direct_result(direct, 0)

    def _total_log_likelihood(self, X):
        missing = self._missing_rows(X, "lse")
        if missing is not None:
            return float(missing.sum(dtype=np.float64)), missing.shape[0]
        direct = self._direct_rows(X)
        if direct is not None:
            lse = direct[0][0]
            return float(lse.sum()), lse.shape[0]
        source = self._fitted_source(X)
        if getattr(source, "distributed", False):
            from .dask import compute

            total, = compute(self._rows(source, 0).sum(dtype=np.float64))
            return float(total), source.n_samples
        total, n = 0.0, 0
        for lse, _, _ in self._row_passes(source):
            total += float(lse.sum())
            n += lse.shape[0]
        return total, n

    def score(self, X, y=None):
        """Mean log-likelihood per sample."""
        total, n = self._total_log_likelihood(X)
        return total / n

    def predict(self, X):
        """Most probable component of each sample, shape (n_samples,)."""
        missing = self._missing_rows(X, "labels")
        if missing is not None:
            return missing
        direct = self._direct_rows(X, labels=True)
        if direct is None:
            return self._predict_source(self._fitted_source(X))
        return self._direct_result(direct, 2)

    def predict_proba(self, X):
        """Posterior probability of each component, shape (n_samples, n_components)."""
        missing = self._missing_rows(X, "proba")
        if missing is not None:
            return missing
        direct = self._direct_rows(X, proba=True)
        if direct is None:
            return self._rows(self._fitted_source(X), 1, proba=True)
        return self._direct_result(direct, 1)

    def bic(self, X):
        """Bayesian information criterion on X (lower is better)."""
        total, n = self._total_log_likelihood(X)
        return -2 * (total / n) * n + self._n_parameters() * np.log(n)

    def aic(self, X):
        """Akaike information criterion on X (lower is better)."""
        total, n = self._total_log_likelihood(X)
        return -2 * (total / n) * n + 2 * self._n_parameters()
