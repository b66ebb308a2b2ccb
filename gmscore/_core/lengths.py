"""``lengths`` (hmmlearn's sequence lengths) to row offsets, validated in
exact arithmetic. The data layer and every HMM use it."""
import numpy as np


def lengths_to_offsets(lengths, n_samples):
    """Validate ``lengths`` and return the int64 row offsets (n_seq + 1).

    Checked in exact arithmetic: every entry is compared with n_samples in
    its own dtype before any conversion (so uint64 2**64 - 1 or float 1e19
    are reported as they are), and the sum is formed only once every entry
    is known to lie in [1, n_samples], in float64 first, so that no int64
    sum can wrap around."""
    if lengths is None:
        return np.array([0, n_samples], dtype=np.int64)
    arr = np.asarray(lengths)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            "lengths must be a 1-D sequence of positive integers, one per "
            f"sequence, got shape {arr.shape}"
        )
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"lengths must be integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~(np.isfinite(arr) & (arr == np.round(arr)))
        if bad.any():
            idx = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(f"lengths must be integers; entries {idx} are "
                             f"{arr[idx].tolist()}")
    low = arr <= 0
    if low.any():
        bad = np.flatnonzero(low)[:5].tolist()
        raise ValueError(
            f"lengths must be positive; sequences at positions {bad} have "
            f"length {arr[bad].tolist()}"
        )
    high = arr > n_samples   # in the entries' own dtype: nothing has wrapped yet
    if high.any():
        bad = np.flatnonzero(high)[:5].tolist()
        raise ValueError(
            f"lengths at positions {bad} are {arr[bad].tolist()}, more than the "
            f"{n_samples} samples of X; they must describe how the rows of X split "
            "into sequences")
    if arr.size > n_samples:
        raise ValueError(f"lengths has {arr.size} sequences but X only {n_samples} samples")
    approx = float(np.sum(arr, dtype=np.float64))
    if abs(approx - n_samples) > 1e-9 * n_samples + 0.5:
        raise ValueError(
            f"lengths sum to {approx:.17g} but X has {n_samples} samples; they must "
            "describe how the rows of X split into sequences"
        )
    offsets = np.zeros(arr.size + 1, dtype=np.int64)
    np.cumsum(arr.astype(np.int64), out=offsets[1:])  # every entry <= n_samples, sum ~ n
    if offsets[-1] != n_samples:
        raise ValueError(
            f"lengths sum to {int(offsets[-1])} but X has {n_samples} samples; they must "
            "describe how the rows of X split into sequences"
        )
    return offsets
