"""Prepared models: the parameters of a fitted mixture in the kernels'
layout (log normalisers with the log weights, means and precision factors
in the input's dtype), made once per parameter change and reused by every
prediction.

Users assign fitted attributes (``gm.means_ = ...``) and write into them
(``gm.means_[0] += 1``), so a cached preparation is only trusted while
private copies of the parameters it was made from still equal the model's
(a byte comparison, O(K D^2), cheaper than what it saves). The cache lives
in a slot of the estimator, outside ``__dict__``: pickles, ``save`` and the
attribute snapshots of the EM driver never see it, and scoring leaves the
model's ``__dict__`` untouched (scikit-learn's check_dict_unchanged).
"""
import numpy as np

# The parameters a mixture's predictions read (covariances_ and precisions_
# are derived values: scikit-learn predicts from precisions_cholesky_ too).
MIXTURE_PARAMETERS = ("weights_", "means_", "precisions_cholesky_")


def _parameter_names(model):
    """The parameters the model's predictions read: ``_PREPARED_FROM`` of
    its class where it has one (BayesianGaussianMixture's variational
    parameters), MIXTURE_PARAMETERS otherwise."""
    return getattr(type(model), "_PREPARED_FROM", MIXTURE_PARAMETERS)


def _signature(value):
    """What a parameter is, exactly: dtype, shape and bytes (C order)."""
    arr = np.asarray(value)
    return arr.dtype.str, arr.shape, arr.tobytes()


class PreparedMixture:
    """One mixture's prepared parameters, per input dtype.

    ``kernel(dtype)`` gives (means, flat precision factors, log_norm) for
    the prediction kernels; ``matches(model)`` says whether the model's
    parameters are still the ones this was made from.
    """

    __slots__ = ("covariance_type", "n_components", "signatures", "_make", "_by_dtype",
                 "n_features", "out_dtype", "names")

    def __init__(self, model, make):
        self.covariance_type = model.covariance_type
        self.n_components = model.n_components
        self.names = _parameter_names(model)
        self.signatures = tuple(_signature(getattr(model, n)) for n in self.names)
        self.n_features = np.shape(model.means_)[-1]
        self.out_dtype = np.asarray(model.means_).dtype
        self._make = make          # dtype -> kernel parameters (the model's)
        self._by_dtype = {}

    def matches(self, model):
        if model.covariance_type != self.covariance_type or \
                model.n_components != self.n_components:
            return False
        for name, (dtype, shape, raw) in zip(self.names, self.signatures):
            value = getattr(model, name)
            if type(value) is not np.ndarray:
                value = np.asarray(value)
            if value.shape != shape or value.dtype.str != dtype or value.tobytes() != raw:
                return False
        return True

    def kernel(self, dtype):
        entry = self._by_dtype.get(dtype)
        if entry is None:
            entry = self._by_dtype[dtype] = self._make(dtype)
        return entry


class _Unmatched:
    """A value whose bytes say nothing of it (an object array): it never
    equals another signature, so what depends on it is never reused."""

    def __eq__(self, other):
        return False

    __hash__ = object.__hash__


def signatures(values):
    """Exact signatures of parameter values (None where a value is absent)."""
    out = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        arr = value if type(value) is np.ndarray else np.asarray(value)
        out.append(_Unmatched() if arr.dtype.kind == "O" else
                   (arr.dtype.str, arr.shape, arr.tobytes()))
    return tuple(out)


class DerivedValues:
    """Values derived from a model's parameters (validated copies, kernel
    arguments), each kept under a key with the exact signatures of the
    values it was made from, and made again once they differ. For the
    HMMs, whose fitted parameters users assign and write into as they do
    a mixture's."""

    __slots__ = ("_entries",)

    def __init__(self):
        self._entries = {}

    def get(self, key, values, make):
        sig = signatures(values)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == sig:
            return entry[1]
        out = make()    # raises: nothing kept
        self._entries[key] = (sig, out)
        return out
