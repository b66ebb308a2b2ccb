"""Validated training data with lazily computed global moments (weighted
mean, pooled scatter, mean feature variance), shared by the estimators."""
import numpy as np

from . import _kernels
from ._gaussian import COV_CODE


class FitData:
    """Validated training data plus lazily computed global moments."""

    def __init__(self, X, sample_weight, n_threads):
        self.X = X
        self.sample_weight = sample_weight
        self.n_threads = n_threads
        self.total_weight = float(X.shape[0] if sample_weight is None else sample_weight.sum())
        self._centre = None
        self._scatter = None
        self._variance = None
        self._buffers = {}

    def buffer(self, name, shape):
        """A float64 work array kept for the whole fit: E-step arrays of
        N x K come back every iteration, and fresh ones would cost their
        page faults every time."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != tuple(shape):
            buf = self._buffers[name] = np.empty(shape)
        return buf

    def _moments(self, cov_code):
        d = self.X.shape[1]
        nk, s1 = np.empty(1), np.empty((1, d))
        s2 = np.empty(_kernels.s2_size(cov_code, 1, d))
        _kernels.accumulate(cov_code, self.X, None, None, self.sample_weight,
                            self.centre[None, :] if self._centre is not None else np.zeros((1, d)),
                            nk, s1, s2, self.n_threads)
        return nk, s1, s2

    @property
    def centre(self):
        """Weighted mean of the data (float64)."""
        if self._centre is None:
            nk, s1, _ = self._moments(COV_CODE["tied"])
            self._centre = s1[0] / nk[0]
        return self._centre

    @property
    def scatter(self):
        """(sum_i w_i (x_i - g)(x_i - g)^T, g) with g the weighted mean."""
        if self._scatter is None:
            d = self.X.shape[1]
            _ = self.centre
            _, _, s2 = self._moments(COV_CODE["full"])
            upper = np.triu(s2.reshape(d, d))
            self._scatter = (upper + np.triu(upper, 1).T, self._centre)
        return self._scatter

    @property
    def mean_variance(self):
        """Mean over features of the weighted per-feature variance."""
        if self._variance is None:
            _ = self.centre
            _, _, s2 = self._moments(COV_CODE["diag"])
            self._variance = float(s2.mean() / self.total_weight)
        return self._variance
