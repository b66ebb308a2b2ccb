"""EM fit benchmarks: gmscore vs scikit-learn on the design workloads G1-G3.

Every fit runs exactly ``common.N_ITER`` EM iterations from the same starting
parameters (``tol=0``), so ``time_fit / N_ITER`` is the time per iteration.

Parameters:
  library    "gmscore" or "sklearn"
  dtype      dtype of the data ("float32" is computed in float32 by both)
  n_threads  gmscore's ``n_threads``; BLAS is also limited to this many threads
             (through threadpoolctl) for both libraries.  scikit-learn's EM has
             no threading of its own besides BLAS, so it runs only with
             n_threads=1 (the n_threads=2 combination is skipped).

Set GMSCORE_BENCH_PROFILE=fast for 1/10 of the sample counts.
"""
from threadpoolctl import threadpool_limits

from . import common


class _GMMFit:
    # Subclasses set ``workload``; the leading underscore keeps asv from
    # collecting this base class itself.
    workload = None

    params = [list(common.LIBRARIES), list(common.DTYPES), [1, 2]]
    param_names = ["library", "dtype", "n_threads"]

    # One fit is seconds long (scikit-learn on G3: ~3.5 s per iteration), so
    # time single calls, a few of them, without warm-up.
    number = 1
    repeat = (2, 10, 30.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, library, dtype, n_threads):
        if library == "sklearn" and n_threads != 1:
            raise NotImplementedError("scikit-learn runs with n_threads=1 only")
        self.X = common.get_data(self.workload, dtype)
        self.estimator = common.make_estimator(library, self.workload, n_threads=n_threads)
        self._blas_limit = threadpool_limits(limits=n_threads, user_api="blas")

    def teardown(self, library, dtype, n_threads):
        limit = getattr(self, "_blas_limit", None)
        if limit is not None:
            limit.restore_original_limits()

    def time_fit(self, library, dtype, n_threads):
        common.fit_quietly(self.estimator, self.X)

    def peakmem_fit(self, library, dtype, n_threads):
        common.fit_quietly(self.estimator, self.X)


class G1Full(_GMMFit):
    """full covariances, N=200_000, D=16, K=16"""
    workload = "G1"


class G2Diag(_GMMFit):
    """diag covariances, N=1_000_000, D=8, K=8"""
    workload = "G2"


class G3Full(_GMMFit):
    """full covariances, N=100_000, D=64, K=32"""
    workload = "G3"
