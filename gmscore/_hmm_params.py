"""The HMM estimators' constructor and parameter-check chores, in one
place: storing the constructor's arguments (scikit-learn's rule: __init__
stores each argument under its own name and does nothing else), checking
that fitted or assigned attributes exist, and turning hyper-parameters
into positive or broadcast float64 arrays.
"""
import numpy as np

from ._emissions import _as_float


def store_init_args(estimator, args):
    """Set each constructor argument as an attribute of the same name.

    ``args`` is ``locals()`` taken as the first statement of ``__init__``
    (so it holds the parameters and ``self`` only); the names come from it,
    not from ``type(estimator)``, so a subclass whose own ``__init__``
    calls ``super().__init__(...)`` stores what it passes."""
    for name, value in args.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def require_attributes(model, names, shown=None):
    """ValueError naming the first of ``names`` that ``model`` lacks;
    ``shown(name)`` is how the message spells it (default: as it is)."""
    for name in names:
        if not hasattr(model, name):
            label = name if shown is None else shown(name)
            raise ValueError(f"{label} must be set (fit the model or assign it)")


def positive_array(value, name, shape):
    """A finite, positive float64 array of exactly ``shape``."""
    arr = _as_float(value, name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ValueError(f"{name} must hold finite, positive values")
    return arr


def broadcast_prior(value, shape, name):
    """A hyper-parameter broadcast (numpy's rules) to ``shape``, copied."""
    arr = _as_float(value, name)
    try:
        return np.array(np.broadcast_to(arr, shape), dtype=np.float64)
    except ValueError:
        raise ValueError(f"{name} has shape {arr.shape}, which does not broadcast to "
                         f"{shape}") from None
