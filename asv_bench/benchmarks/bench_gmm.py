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
from . import common


class _GMMFit(common._FitBenchmark):
    params = [list(common.LIBRARIES), list(common.DTYPES), [1, 2]]
    # One fit is seconds long (scikit-learn on G3: ~3.5 s per iteration), so
    # time single calls, a few of them, without warm-up.
    repeat = (2, 10, 30.0)
    timeout = 600


class G1Full(_GMMFit):
    """full covariances, N=200_000, D=16, K=16"""
    workload = "G1"


class G2Diag(_GMMFit):
    """diag covariances, N=1_000_000, D=8, K=8"""
    workload = "G2"


class G3Full(_GMMFit):
    """full covariances, N=100_000, D=64, K=32"""
    workload = "G3"
