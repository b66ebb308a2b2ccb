"""Memory benchmarks: peak RSS (and time) of fits on large data.

    M1  GaussianMixture full, N=5_000_000, D=16, K=32, float32 (320 MB of data),
        gmscore vs scikit-learn; ceiling of the design: 0.6 GB process peak
    M2  GaussianHMM full, one sequence of T=1_000_000 frames, D=8, K=16,
        float64 and float32, gmscore vs hmmlearn; ceiling: 1 GB process peak

Every fit runs exactly ``common.MEM_N_ITER`` iterations (tol=0 / tol=-inf)
from the same starting parameters, derived from the generating model (for M1
user weights/means/precisions: no k-means).  The data is generated directly
in its dtype, in blocks, so that setup leaves little besides the data
resident.

asv's ``peakmem_`` is the peak RSS of the whole benchmark process: the
interpreter, the imported libraries, the data and setup's temporaries are
included, as in the ceilings (which bound the process's peak RSS).
``compare.py --peakmem`` reports the same fits with the RSS after the data
and the peak during the fit itself.

Parameters:
  library    "gmscore" or "sklearn" (M1), "gmscore" or "hmmlearn" (M2)
  dtype      (M2 only) dtype of the data; M1 is float32 by design

gmscore runs with its default ``n_threads``; BLAS is pinned to 1 thread for
scikit-learn and hmmlearn (their memory does not depend on it, and
multi-threaded OpenBLAS stalls badly on a loaded machine; gmscore pins BLAS
to 1 thread inside its fits itself).

scikit-learn on M1 allocates several (N, K) float64 arrays (1.28 GB each) and
takes minutes (~30 s per EM iteration on a 2-core machine); hmmlearn on M2
~8 s per iteration.  Set GMSCORE_BENCH_PROFILE=fast for N and T / 10.
"""
from threadpoolctl import threadpool_limits

from . import common


class _MemoryFit:
    # Subclasses set ``workload``; the leading underscore keeps asv from
    # collecting this base class itself.
    workload = None

    # Long single fits: one call per sample, few samples, one round, no
    # warm-up; a generous timeout for the peers' full-size fits.
    number = 1
    repeat = (1, 3, 120.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 3600

    def _setup(self, library, dtype):
        self.X = common.get_data(self.workload, dtype)
        self.lengths = (common.get_lengths(self.workload) if common.is_hmm(self.workload)
                        else None)
        self.estimator = common.make_estimator(library, self.workload)
        self._blas_limit = (threadpool_limits(limits=1, user_api="blas")
                            if library != "gmscore" else None)

    def teardown(self, *params):
        limit = getattr(self, "_blas_limit", None)
        if limit is not None:
            limit.restore_original_limits()

    def _fit(self):
        common.fit_quietly(self.estimator, self.X, self.lengths)


class M1GMMFull(_MemoryFit):
    """GaussianMixture full, N=5_000_000, D=16, K=32, float32"""
    workload = "M1"
    params = [["gmscore", "sklearn"]]
    param_names = ["library"]

    def setup(self, library):
        self._setup(library, "float32")

    def time_fit(self, library):
        self._fit()

    def peakmem_fit(self, library):
        self._fit()


class M2GaussianHMMFull(_MemoryFit):
    """GaussianHMM full, 1 sequence x 1_000_000 frames, D=8, K=16"""
    workload = "M2"
    params = [list(common.HMM_LIBRARIES), list(common.MEMORY_DTYPES["M2"])]
    param_names = ["library", "dtype"]

    def setup(self, library, dtype):
        self._setup(library, dtype)

    def time_fit(self, library, dtype):
        self._fit()

    def peakmem_fit(self, library, dtype):
        self._fit()
