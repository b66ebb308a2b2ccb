import numpy as np

def utterance_log_likelihoods(
    cov_type: int, X: np.ndarray, ubm_means: np.ndarray, ubm_prec: np.ndarray,
    ubm_log_norm: np.ndarray, means: np.ndarray, prec: np.ndarray, log_norm: np.ndarray,
    offsets: np.ndarray, top_c: int, ubm_sum: np.ndarray, model_sum: np.ndarray,
    n_threads: int) -> None: ...

def estep_groups(
    cov_type: int, X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray,
    log_norm: np.ndarray, sample_weight: np.ndarray | None, centres: np.ndarray,
    offsets: np.ndarray, out: np.ndarray, n_threads: int) -> None: ...
