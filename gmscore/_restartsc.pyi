# Type stubs for the lockstep restarts' kernel (gmscore/_restartsc.pyx).
from typing import Optional

import numpy as np
from numpy.typing import NDArray

class NonFiniteRestartError(FloatingPointError): ...

class Reducer:
    stride: int
    units: int
    def total(self) -> NDArray[np.float64]: ...

def stats_reducer(cov_type: int, n_components: int, n_features: int) -> Reducer: ...
def estep_restarts_into(reds: list, cov_type: int, X: NDArray, models: list,
                        sample_weight: Optional[NDArray[np.float64]],
                        centres: list, n_threads: int) -> None: ...
