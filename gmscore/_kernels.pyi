# Type stubs for the compiled kernels (gmscore/_kernels.pyx).
from typing import Optional

import numpy as np
from numpy.typing import NDArray

BLOCK_ROWS: int
MAX_SLOTS: int

class NonFiniteLogLikelihoodError(FloatingPointError): ...

def has_openmp() -> bool: ...
def omp_max_threads() -> int: ...
def s2_size(cov_type: int, n_components: int, n_features: int) -> int: ...
def weighted_log_prob(cov_type: int, X: NDArray[np.floating], means: NDArray[np.floating],
                      prec_chol: NDArray[np.floating], log_norm: NDArray[np.float64],
                      out: NDArray[np.float64], n_threads: int) -> None: ...
def estep(cov_type: int, X: NDArray[np.floating], means: NDArray[np.floating],
          prec_chol: NDArray[np.floating], log_norm: NDArray[np.float64],
          sample_weight: Optional[NDArray[np.float64]], centres: NDArray[np.float64],
          nk: NDArray[np.float64], s1: NDArray[np.float64], s2: NDArray[np.float64],
          n_threads: int) -> float: ...
def accumulate(cov_type: int, X: NDArray[np.floating], resp: Optional[NDArray[np.float64]],
               labels: Optional[NDArray[np.int64]], sample_weight: Optional[NDArray[np.float64]],
               centres: NDArray[np.float64], nk: NDArray[np.float64], s1: NDArray[np.float64],
               s2: NDArray[np.float64], n_threads: int) -> None: ...
def kmeans_step(X: NDArray[np.floating], centers: NDArray[np.float64],
                sample_weight: Optional[NDArray[np.float64]], labels: NDArray[np.int64],
                sums: NDArray[np.float64], counts: NDArray[np.float64], n_threads: int) -> float: ...
def sqdist_potential(X: NDArray[np.floating], point: NDArray[np.float64],
                     closest: Optional[NDArray[np.float64]],
                     sample_weight: Optional[NDArray[np.float64]],
                     out_min: Optional[NDArray[np.float64]], n_threads: int) -> float: ...
