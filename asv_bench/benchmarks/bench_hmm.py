"""Baum-Welch fit benchmarks: gmscore vs hmmlearn on the design workloads H1-H3.

Every fit runs exactly ``common.HMM_N_ITER`` iterations from the same
starting parameters (``init_params=''``; gmscore ``tol=0``, hmmlearn
``tol=-inf``), so ``time_fit / HMM_N_ITER`` is the time per iteration.
Forward-backward in log space (``implementation='log'``, both defaults).
hmmlearn's GMMHMM is used without the k-means it runs at every fit even when
nothing is initialised (see ``common._hmmlearn_gmmhmm``).

Parameters:
  library    "gmscore" or "hmmlearn"
  dtype      dtype of the data
  n_threads  gmscore's ``n_threads``; BLAS is also limited to this many threads
             (through threadpoolctl) for both libraries.  hmmlearn has no
             threading of its own besides BLAS, so it runs only with
             n_threads=1 (the n_threads=2 combination is skipped).

Set GMSCORE_BENCH_PROFILE=fast for 1/10 of the sequences.
"""
from threadpoolctl import threadpool_limits

from . import common


class _HMMFit:
    # Subclasses set ``workload``; the leading underscore keeps asv from
    # collecting this base class itself.
    workload = None

    params = [list(common.HMM_LIBRARIES), list(common.DTYPES), [1, 2]]
    param_names = ["library", "dtype", "n_threads"]

    # hmmlearn's fits are long (full-size H2: ~4.6 s per iteration, ~14 s
    # per fit), so time single calls, a few of them, without warm-up.
    number = 1
    repeat = (2, 5, 30.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self, library, dtype, n_threads):
        if library == "hmmlearn" and n_threads != 1:
            raise NotImplementedError("hmmlearn runs with n_threads=1 only")
        self.X = common.get_data(self.workload, dtype)
        self.lengths = common.get_lengths(self.workload)
        self.estimator = common.make_estimator(library, self.workload, n_threads=n_threads)
        self._blas_limit = threadpool_limits(limits=n_threads, user_api="blas")

    def teardown(self, library, dtype, n_threads):
        limit = getattr(self, "_blas_limit", None)
        if limit is not None:
            limit.restore_original_limits()

    def time_fit(self, library, dtype, n_threads):
        common.fit_quietly(self.estimator, self.X, self.lengths)

    def peakmem_fit(self, library, dtype, n_threads):
        common.fit_quietly(self.estimator, self.X, self.lengths)


class H1GaussianDiag(_HMMFit):
    """GaussianHMM diag, 100 sequences x 1000 frames, D=10, K=8"""
    workload = "H1"


class H2GaussianFull(_HMMFit):
    """GaussianHMM full, 20 sequences x 5000 frames, D=8, K=16"""
    workload = "H2"


class H3GMMDiag(_HMMFit):
    """GMMHMM diag, 50 sequences x 2000 frames, D=13, K=5, n_mix=4"""
    workload = "H3"
