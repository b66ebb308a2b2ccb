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
from . import common


class _HMMFit(common._FitBenchmark):
    params = [list(common.HMM_LIBRARIES), list(common.DTYPES), [1, 2]]
    # hmmlearn's fits are long (full-size H2: ~4.6 s per iteration, ~14 s
    # per fit), so time single calls, a few of them, without warm-up.
    repeat = (2, 5, 30.0)
    timeout = 900


class H1GaussianDiag(_HMMFit):
    """GaussianHMM diag, 100 sequences x 1000 frames, D=10, K=8"""
    workload = "H1"


class H2GaussianFull(_HMMFit):
    """GaussianHMM full, 20 sequences x 5000 frames, D=8, K=16"""
    workload = "H2"


class H3GMMDiag(_HMMFit):
    """GMMHMM diag, 50 sequences x 2000 frames, D=13, K=5, n_mix=4"""
    workload = "H3"
