"""Statistics values on disk: an .npz of float64 arrays plus a small kind
tag, written and read without pickle."""
import os

import numpy as np

from .stats import COUNT_KINDS, STATS_KINDS, ChainStats, CountStats, GaussianStats

_FORMAT = "gmscore-stats-1"


def save_stats(stats, path):
    """Write GaussianStats or ChainStats to ``path`` (a path or binary file)."""
    if isinstance(stats, GaussianStats):
        arrays = stats._to_arrays("e_")
        tag = f"{_FORMAT}:gaussian:{stats.kind}"
    elif isinstance(stats, ChainStats):
        arrays = {"start": stats.start, "trans": stats.trans,
                  "seq_loglik": stats.seq_loglik, "loglik": np.array([stats.loglik])}
        kind = "none"
        if stats.emissions is not None:
            arrays.update(stats.emissions._to_arrays("e_"))
            kind = stats.emissions.kind
        tag = f"{_FORMAT}:chain:{kind}"
    else:
        raise TypeError(f"expected GaussianStats or ChainStats, got {type(stats).__name__}")
    arrays["format"] = np.array(tag)
    if isinstance(path, (str, os.PathLike)):
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    else:
        np.savez(path, **arrays)


def load_stats(path):
    """Read statistics written by ``stats.save`` (never unpickles)."""
    if isinstance(path, (str, os.PathLike)) and not os.path.exists(path):
        raise FileNotFoundError(f"no statistics file at {os.fspath(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("a single array, not an .npz archive")
            arrays = {name: z[name] for name in z.files}
    except (OSError, ValueError, EOFError, KeyError) as exc:
        raise ValueError(f"not a gmscore statistics file: {exc}") from None
    tag = str(arrays.pop("format", ""))
    parts = tag.split(":")
    if len(parts) != 3 or parts[0] != _FORMAT or parts[1] not in ("gaussian", "chain") \
            or parts[2] not in STATS_KINDS + COUNT_KINDS + ("none",):
        raise ValueError(f"not a gmscore statistics file (format tag {tag!r})")
    for name, arr in arrays.items():
        if arr.dtype != np.float64 or not np.isfinite(arr).all():
            raise ValueError(f"statistics file: entry {name!r} must hold finite float64 values")
    try:
        if parts[1] == "gaussian":
            if parts[2] not in STATS_KINDS:
                raise ValueError("Gaussian statistics need a Gaussian kind")
            stats = GaussianStats._from_arrays(parts[2], arrays, "e_")
        else:
            em = (None if parts[2] == "none"
                  else CountStats._from_arrays(parts[2], arrays, "e_")
                  if parts[2] in COUNT_KINDS
                  else GaussianStats._from_arrays(parts[2], arrays, "e_"))
            if arrays["loglik"].shape != (1,):
                raise ValueError("malformed loglik entry")
            stats = ChainStats(arrays["start"], arrays["trans"], arrays["seq_loglik"], em,
                               float(arrays["loglik"][0]))
    except KeyError as exc:
        raise ValueError(f"statistics file: missing entry {exc}") from None
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"statistics file: {exc}") from None
    return stats.check_valid("statistics in the file")
