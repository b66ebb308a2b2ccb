"""Input and hyper-parameter validation shared by the estimators.

Every failure is a ValueError or TypeError whose message says what is wrong
and how to fix it.
"""
import numbers
import sys

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """A hyper-parameter has an invalid type or value."""


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit`` (a ValueError and an
    AttributeError; what is raised is also scikit-learn's NotFittedError
    once scikit-learn is imported, see ``also_sklearn``)."""


_DUAL = {}


def also_sklearn(ours, name):
    """``ours``, or, when the program has imported scikit-learn, a subclass
    of both ``ours`` and ``sklearn.exceptions.<name>``: code written for
    scikit-learn catches or filters it, and gmscore does not import
    scikit-learn itself (``import gmscore`` stays light)."""
    sk = sys.modules.get("sklearn.exceptions")
    theirs = getattr(sk, name, None) if sk is not None else None
    if theirs is None:
        return ours
    if (ours, theirs) not in _DUAL:
        _DUAL[ours, theirs] = type(ours.__name__, (ours, theirs), {
            "__module__": ours.__module__, "__doc__": ours.__doc__})
    return _DUAL[ours, theirs]


# ---------------------------------------------------------------- hyper-params
def interval(kind, low, high=None, *, low_open=False, none_ok=False):
    """Constraint: an int/real number in [low, high] (``low_open``: (low, ...)."""
    lo_br = "(" if low_open else "["
    hi = "inf)" if high is None else f"{high}]"
    desc = f"{'an int' if kind is int else 'a float'} in the range {lo_br}{low}, {hi}"
    if none_ok:
        desc += " or None"

    def check(v):
        if v is None:
            return none_ok
        if isinstance(v, bool):
            return False
        if kind is int and not isinstance(v, numbers.Integral):
            return False
        if kind is float and not isinstance(v, numbers.Real):
            return False
        if not np.isfinite(v) and not (high is None and v == np.inf and kind is float):
            return False
        if v < low or (low_open and v == low):
            return False
        return high is None or v <= high

    return check, desc


def real_number():
    """Constraint: any real number but NaN (hmmlearn's tol: -inf never stops)."""
    def check(v):
        return (isinstance(v, numbers.Real) and not isinstance(v, bool)
                and not np.isnan(v))

    return check, "a real number (not NaN)"


def options(*values):
    """Constraint: one of the given strings."""
    desc = "a str among {" + ", ".join(repr(v) for v in values) + "}"
    return (lambda v: isinstance(v, str) and v in values), desc


def boolean():
    return (lambda v: isinstance(v, (bool, np.bool_))), "a bool"


def random_state_like():
    def check(v):
        return (
            v is None
            or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v < 2**32)
            or isinstance(v, np.random.RandomState)
        )

    return check, "None, an int in [0, 2**32) or a numpy.random.RandomState"


def array_like_or_none():
    return (lambda v: v is None or hasattr(v, "__len__") or hasattr(v, "__array__")), "an array-like or None"


def validate_params(estimator, constraints):
    """Raise InvalidParameterError for the first hyper-parameter that breaks
    its constraint. ``constraints`` maps parameter names to (check, desc)."""
    for name, (check, desc) in constraints.items():
        value = getattr(estimator, name)
        try:
            ok = check(value)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(estimator).__name__} must be "
                f"{desc}. Got {value!r} instead."
            )


# ----------------------------------------------------------------------- data
def aligned(arr, dtype=None):
    """C-contiguous and aligned (the kernels read doubles and floats at
    their natural alignment; a buffer unpickled from a byte stream, or a
    memmap at an odd offset, may not be): a copy only when needed."""
    return np.require(arr, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


# ------------------------------------------------------------ feature names
def feature_names(X):
    """Column names of a data frame (pandas, polars, pyarrow; scikit-learn's
    rule: all strings, or none are names), as an object array, else None."""
    from ._frames import column_names, frame_kind

    kind = frame_kind(X)
    if kind is None:
        return None
    names = np.asarray(column_names(X, kind), dtype=object)
    is_str = np.array([isinstance(c, str) for c in names], dtype=bool)
    if is_str.all() and names.size:
        return names
    if is_str.any():
        types = sorted({type(c).__name__ for c in names})
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. Convert "
            "them all to strings, e.g. X.columns = X.columns.astype(str)")
    return None


def set_feature_names(estimator, names):
    """fit: record X's names (scikit-learn's ``feature_names_in_``), or
    forget those of an earlier fit."""
    if names is None:
        vars(estimator).pop("feature_names_in_", None)
    else:
        estimator.feature_names_in_ = names


def check_feature_names(estimator, names):
    """After fit: scikit-learn's semantics, an error when the names differ
    (or are reordered), a warning when only one side has names."""
    import warnings

    fitted = getattr(estimator, "feature_names_in_", None)
    cls = type(estimator).__name__
    if fitted is None and names is None:
        return
    if names is not None and fitted is None:
        warnings.warn(f"X has feature names, but {cls} was fitted without feature names",
                      UserWarning, stacklevel=4)
        return
    if names is None:
        warnings.warn(f"X does not have valid feature names, but {cls} was fitted with "
                      "feature names", UserWarning, stacklevel=4)
        return
    if len(fitted) == len(names) and (fitted == names).all():
        return
    unseen = [n for n in names if n not in set(fitted)]
    missing = [n for n in fitted if n not in set(names)]
    if not unseen and not missing:
        raise ValueError("The feature names should match those that were passed during "
                         "fit.\nFeature names must be in the same order as they were in fit.")
    msg = "The feature names should match those that were passed during fit.\n"
    if unseen:
        msg += "Feature names unseen at fit time:\n- " + "\n- ".join(map(str, unseen[:5])) + "\n"
    if missing:
        msg += ("Feature names seen at fit time, yet now missing:\n- "
                + "\n- ".join(map(str, missing[:5])) + "\n")
    raise ValueError(msg)


def check_array(X, *, name="X", dtypes=(np.float64, np.float32), ensure_2d=True,
                min_samples=1, min_features=1, copy=False, allow_nan=False, finite=True):
    """Validate a dense numeric array and return it C-contiguous.

    float64 and float32 are kept, any other real dtype becomes float64.
    ``allow_nan``: NaN entries pass (missing values, gmscore._missing);
    infinity is still refused. ``finite=False``: no finiteness pass (the
    caller's kernel detects NaN / infinity and then calls check_finite).
    """
    if X is None:
        raise TypeError(f"{name} is None; pass an array-like of numbers")
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(
            f"{name} is a sparse matrix, which gmscore does not support; "
            f"convert it with {name}.toarray()"
        )
    from ._frames import frame_kind, frame_to_array

    kind = frame_kind(X)
    if kind is not None:   # pandas / polars / pyarrow: column by column, named errors
        X = frame_to_array(X, kind, name)
    arr = np.asarray(X)
    if arr.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} has dtype {arr.dtype}; pass the "
            "real part (or real and imaginary parts as separate features)"
        )
    if arr.dtype.kind in "Mm":
        raise TypeError(
            f"{name} has dtype {arr.dtype}; datetimes and timedeltas are not "
            "numbers to model. Convert them to numeric features first."
        )
    if arr.dtype.kind in "OUSV":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            # Keep numpy's class: a value of the wrong type (a dict, a list)
            # is a TypeError, a string that is not a number a ValueError.
            raise (TypeError if isinstance(exc, TypeError) else ValueError)(
                f"{name} must contain only numbers, but it has dtype {arr.dtype} "
                f"with values that cannot be converted to float ({exc})"
            ) from None
    if arr.dtype not in dtypes:
        arr = arr.astype(dtypes[0])
    if ensure_2d:
        if arr.ndim == 0:
            raise ValueError(
                f"Expected 2D array, got scalar array instead: {name}={arr!r}. "
                "Pass an array of shape (n_samples, n_features)."
            )
        if arr.ndim == 1:
            raise ValueError(
                f"Expected 2D array, got 1D array instead: {name} has shape "
                f"{arr.shape}. Reshape your data either using array.reshape(-1, 1) "
                "if your data has a single feature or array.reshape(1, -1) if it "
                "contains a single sample."
            )
        if arr.ndim > 2:
            raise ValueError(
                f"Expected 2D array, got {arr.ndim}D array instead: {name} has "
                f"shape {arr.shape}; pass an array of shape (n_samples, n_features)."
            )
        if arr.shape[0] < min_samples:
            raise ValueError(
                f"Found array with {arr.shape[0]} sample(s) (shape={arr.shape}) "
                f"while a minimum of {min_samples} is required."
            )
        if arr.shape[1] < min_features:
            raise ValueError(
                f"Found array with {arr.shape[1]} feature(s) (shape={arr.shape}) "
                f"while a minimum of {min_features} is required."
            )
    if finite:
        check_finite(arr, name, allow_nan)
    if copy:
        return np.array(arr, order="C", copy=True)
    return aligned(arr)


def check_finite(arr, name, allow_nan=False):
    """Reject NaN and infinity without an n_samples x n_features temporary:
    a finite float64 sum proves every entry finite; otherwise look closer.
    ``allow_nan``: only infinity is refused."""
    if arr.dtype.kind != "f" or arr.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow: look closer
        if np.isfinite(arr.sum(dtype=np.float64)):
            return
    if allow_nan:
        if np.isinf(arr).any():
            raise ValueError(
                f"Input {name} contains infinity or a value too large for "
                f"dtype({str(arr.dtype)!r}); only NaN marks a missing value.")
        return
    if np.isnan(arr).any():
        raise ValueError(
            f"Input {name} contains NaN. Remove or impute the missing values, or, "
            "with a Gaussian model (mixtures, HMMs and the estimators built on them), "
            "pass nan_policy='marginalize' to treat NaN as missing at random."
        )
    if not np.isfinite(arr).all():
        raise ValueError(
            f"Input {name} contains infinity or a value too large for "
            f"dtype({str(arr.dtype)!r})."
        )


def check_sample_weight(sample_weight, n_samples, positive_sum=True):
    """Validate ``sample_weight``: None, a scalar or n_samples non-negative
    finite numbers (with a positive sum, unless ``positive_sum`` is False:
    one chunk of a stream may weigh nothing). Returns float64 or None."""
    if sample_weight is None:
        return None
    if np.isscalar(sample_weight) and not isinstance(sample_weight, str):
        sample_weight = np.full(n_samples, float(sample_weight))
    sw = check_array(sample_weight, name="sample_weight", dtypes=(np.float64,),
                     ensure_2d=False)
    if sw.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1D with one weight per sample, got shape {sw.shape}"
        )
    if sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {sw.shape[0]} entries but X has {n_samples} "
            "samples; pass one weight per sample"
        )
    if (sw < 0).any():
        raise ValueError(
            "sample_weight must be non-negative; found negative weights "
            f"(min {sw.min():g})"
        )
    with np.errstate(over="ignore"):
        total = sw.sum()
    if not np.isfinite(total):
        raise ValueError(
            f"sample_weight sums to infinity in float64 (largest weight {sw.max():g}); "
            "rescale the weights, e.g. sample_weight / sample_weight.max()")
    if positive_sum and not total > 0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a positive weight")
    return sw


def check_random_state(seed):
    """None, an int or a RandomState -> a RandomState."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(int(seed))
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState, got {seed!r}"
    )


def check_is_fitted(estimator, attributes):
    if not all(hasattr(estimator, a) for a in attributes):
        raise also_sklearn(NotFittedError, "NotFittedError")(
            f"This {type(estimator).__name__} instance is not fitted yet. Call "
            "'fit' with appropriate arguments before using this estimator."
        )


def check_n_features(estimator, X):
    expected = estimator.n_features_in_
    if X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {expected} features as input."
        )
