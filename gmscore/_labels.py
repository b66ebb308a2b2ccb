"""Class labels for the classifiers: scikit-learn's checks on ``y``
(without importing scikit-learn), class priors, and the softmax over
classes that turns per-class log-likelihoods into probabilities."""
import warnings

import numpy as np

from ._validation import also_sklearn


class DataConversionWarning(UserWarning):
    """``y`` was given as a column vector and was flattened (also
    scikit-learn's DataConversionWarning once scikit-learn is imported)."""


def check_labels(y, n_samples, *, what="samples"):
    """Validate class labels; returns (classes, indices into classes).

    Any labels np.unique can sort are allowed (ints, strings, objects), as
    in scikit-learn; floats must be whole numbers (continuous targets are
    a regression problem). Raises ValueError naming the problem.
    """
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None; pass one "
                         f"class label per {what[:-1]}")
    if hasattr(y, "to_numpy"):  # pandas
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                      "change the shape of y to (n_samples,), for example using ravel().",
                      also_sklearn(DataConversionWarning, "DataConversionWarning"),
                      stacklevel=3)
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead "
                         "(one label per sample; multi-output targets are not supported)")
    if y.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {y.shape[0]}]; pass exactly one label per {what[:-1]}")
    if y.dtype.kind in "fc":
        if y.dtype.kind == "c" or not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity; every sample needs a "
                             "class label")
        if (y != np.round(y)).any():
            raise ValueError(
                "Unknown label type: continuous. y holds non-integer floats, which are a "
                "regression target; a classifier needs discrete class labels")
    elif y.dtype.kind == "O":
        for v in y:     # the labels themselves, not samples (object labels are rare)
            if v is None or (isinstance(v, float) and not np.isfinite(v)):
                raise ValueError("Input y contains None or NaN; every sample needs a "
                                 "class label")
    elif y.dtype.kind not in "biuUS":
        raise ValueError(f"Unknown label type: y has dtype {y.dtype}")
    small = _small_int_labels(y)
    if small is not None:
        classes, indices = small
    else:
        try:
            classes, indices = np.unique(y, return_inverse=True)
        except TypeError as exc:
            raise TypeError(f"the labels in y cannot be sorted ({exc}); use labels of "
                            "one type (all strings or all numbers)") from None
    if classes.shape[0] < 2:
        raise ValueError(
            f"y holds a single class ({label_repr(classes[0])}): a classifier needs samples of at "
            "least 2 classes")
    return classes, indices.ravel().astype(np.intp)


def _small_int_labels(y):
    """np.unique(y, return_inverse=True) for integer labels spanning a
    range no wider than y is long, by counting instead of sorting (same
    classes, same indices, several times faster); None otherwise."""
    if y.dtype.kind not in "iu" or y.size == 0:
        return None
    lo, hi = int(y.min()), int(y.max())
    if hi - lo >= y.size or hi > np.iinfo(np.intp).max:
        return None
    offset = y.astype(np.intp) - lo      # intp: no overflow of small types
    present = np.bincount(offset, minlength=hi - lo + 1) > 0
    classes = (np.flatnonzero(present) + lo).astype(y.dtype)
    rank = np.cumsum(present) - 1          # index of each present value
    return classes, rank[offset]


def label_repr(label):
    """A label as the user wrote it ('fox', 7), not numpy's np.str_('fox')."""
    return repr(label.item() if isinstance(label, np.generic) else label)


def check_priors(priors, class_weight_sums):
    """The class priors: 'frequency' (weighted class frequencies),
    'uniform', or an array of n_classes non-negative numbers summing to 1."""
    n_classes = class_weight_sums.shape[0]
    if isinstance(priors, str):
        if priors == "frequency":
            return class_weight_sums / class_weight_sums.sum()
        if priors == "uniform":
            return np.full(n_classes, 1.0 / n_classes)
        raise ValueError(f"priors must be 'frequency', 'uniform' or an array of "
                         f"{n_classes} probabilities, got {priors!r}")
    try:
        p = np.asarray(priors, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"priors must be 'frequency', 'uniform' or an array of "
                         f"{n_classes} probabilities, got {priors!r}") from None
    if p.shape != (n_classes,):
        raise ValueError(f"priors must have one entry per class ({n_classes}, in the "
                         f"order of classes_), got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("priors must be finite and non-negative")
    if abs(p.sum() - 1.0) > 1e-8:
        raise ValueError(f"priors must sum to 1, they sum to {p.sum():.10g}")
    return p / p.sum()


def log_posteriors(loglik, priors):
    """log P(class | x) from per-class log-likelihoods (n, C) and the
    priors: log prior + log-likelihood, normalised over classes with a
    max-shifted log-sum-exp (whole-array numpy, no loop over samples)."""
    with np.errstate(divide="ignore"):
        joint = loglik + np.log(priors)[None, :]
    top = joint.max(axis=1, keepdims=True)
    if not np.isfinite(top).all():
        bad = np.flatnonzero(~np.isfinite(top[:, 0]))[:5].tolist()
        raise ValueError(f"samples {bad} have no finite log-likelihood under any class "
                         "with a positive prior; scale the input data")
    with np.errstate(under="ignore"):
        norm = np.log(np.exp(joint - top).sum(axis=1, keepdims=True))
    return joint - top - norm


def weighted_accuracy(y_true, y_pred, sample_weight):
    """Mean accuracy (weighted, as scikit-learn's ClassifierMixin.score)."""
    hit = np.asarray(y_true == y_pred, dtype=np.float64)
    if sample_weight is None:
        return float(hit.mean())
    return float(np.average(hit, weights=sample_weight))
