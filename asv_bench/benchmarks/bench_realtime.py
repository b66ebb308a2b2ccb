"""Real-time benchmarks (issue 14; the script asv_bench/realtime.py runs the
same R1-R4 with latency percentiles and the comparisons):

  R1  HMMFilter.update latency, GaussianHMM K=8, D=10, diag and full
  R2  HMMFilter.update_many throughput, K=8 and K=32, D=10 diag, 1 thread,
      next to the batch causal forward pass over the same frames
  R3  hmmlearn's predict_proba on the growing window (t = 1,000, 10,000),
      per new frame
  R4  GaussianMixture.partial_fit in batches of 10,000 (diag, D=8, K=8;
      1M samples here, 10M in the script with --full)

Everything on one thread (n_threads=1, BLAS limited to 1).
"""
import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
import realtime  # noqa: E402  (asv_bench/realtime.py: shared model factories)


class _OneThread:
    def setup(self, *args):
        self._limits = threadpool_limits(1)

    def teardown(self, *args):
        self._limits.unregister()


class R1FilterUpdate(_OneThread):
    """One HMMFilter.update(x) call (time per call)."""
    params = [["diag", "full"]]
    param_names = ["covariance_type"]

    def setup(self, ct):
        super().setup()
        model = realtime.random_hmm(8, 10, ct)
        self.X, _ = model.sample(1000, random_state=1)
        self.f = model.filter()
        self.i = 0

    def time_update(self, ct):
        self.f.update(self.X[self.i % 1000])
        self.i += 1


class R2UpdateMany(_OneThread):
    """update_many over 100,000 frames vs the batch causal forward pass."""
    params = [[8, 32]]
    param_names = ["n_components"]
    timeout = 300

    def setup(self, k):
        super().setup()
        self.model = realtime.random_hmm(k, 10, "diag")
        self.X, _ = self.model.sample(100_000, random_state=2)
        self.f = self.model.filter(max_lag=0, decode=False)

    def time_update_many(self, k):
        self.f.reset().update_many(self.X)

    def time_batch_causal_forward(self, k):
        self.model.predict_proba(self.X, causal=True)


class R3GrowingWindow(_OneThread):
    """What users do today: hmmlearn predict_proba on the window so far,
    at every new frame (time per frame)."""
    params = [[1_000, 10_000]]
    param_names = ["t"]

    def setup(self, t):
        super().setup()
        try:
            self.h = realtime.hmmlearn_copy(realtime.random_hmm(8, 10, "diag"))
        except ImportError:
            raise NotImplementedError("hmmlearn is not installed")
        model = realtime.random_hmm(8, 10, "diag")
        self.X, _ = model.sample(t, random_state=3)

    def time_hmmlearn_window(self, t):
        self.h.predict_proba(self.X)


class R4PartialFit(_OneThread):
    """partial_fit over 1M samples in batches of 10,000; track the final
    mean log-likelihood."""
    timeout = 600
    number = 1
    repeat = (1, 3, 120.0)

    def setup(self):
        super().setup()
        truth = realtime._r4_truth()
        self.batches = [realtime._r4_batch(i, 10_000, truth) for i in range(100)]

    def _fit(self):
        from gmscore import GaussianMixture

        gm = GaussianMixture(8, covariance_type="diag", random_state=0, n_threads=1)
        for b in self.batches:
            gm.partial_fit(b)
        return gm

    def time_partial_fit(self):
        self._fit()

    def track_mean_loglik(self):
        gm = self._fit()
        return float(np.mean([gm.score(b) for b in self.batches]))
