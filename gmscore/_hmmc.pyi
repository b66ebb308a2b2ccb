# Type stubs for the compiled HMM kernels (gmscore/_hmmc.pyx).
from typing import Dict, Optional

import numpy as np
from numpy.typing import NDArray

IMPLEMENTATIONS: Dict[str, int]

class UnderflowError(FloatingPointError): ...
class ImpossibleSequenceError(FloatingPointError): ...
class BadSymbolError(ValueError):
    row: int
    def __init__(self, row: int) -> None: ...

def forward_backward(implementation: str, framelogprob: NDArray[np.float64],
                     offsets: NDArray[np.int64], startprob: NDArray[np.float64],
                     transmat: NDArray[np.float64], posteriors: Optional[NDArray[np.float64]],
                     start_counts: Optional[NDArray[np.float64]],
                     trans_counts: Optional[NDArray[np.float64]],
                     seq_loglik: NDArray[np.float64], n_threads: int) -> None: ...
def categorical_fb_into(red: object, implementation: str, X: NDArray[np.float64],
                        log_bt: NDArray[np.float64], offsets: NDArray[np.int64],
                        startprob: NDArray[np.float64], transmat: NDArray[np.float64],
                        posteriors: NDArray[np.float64], seq_loglik: NDArray[np.float64],
                        n_threads: int) -> None: ...
def viterbi(framelogprob: NDArray[np.float64], offsets: NDArray[np.int64],
            startprob: NDArray[np.float64], transmat: NDArray[np.float64],
            states: NDArray[np.int64], seq_logprob: NDArray[np.float64], n_threads: int) -> None: ...
def sample_states(start_cdf: NDArray[np.float64], trans_cdf: NDArray[np.float64],
                  uniforms: NDArray[np.float64], first: int, states: NDArray[np.int64]) -> None: ...
def multi_chain_loglik(framelogprob: NDArray[np.float64], cols: NDArray[np.int64],
                       offsets: NDArray[np.int64], startprob: NDArray[np.float64],
                       transmat: NDArray[np.float64], seq_loglik: NDArray[np.float64],
                       n_threads: int) -> None: ...
