import numpy as np

class NonFiniteConditioningError(ValueError): ...

def conditional_moments(
    cov_type: int, X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray,
    log_norm: np.ndarray, stacked: np.ndarray, offset: np.ndarray,
    cond_var: np.ndarray | None, mean: np.ndarray, var: np.ndarray | None,
    n_threads: int) -> None: ...
