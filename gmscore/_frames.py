"""Data frames as X: pandas and polars DataFrames, pyarrow Tables and
RecordBatches. Their column names become ``feature_names_in_`` (with
scikit-learn's rules, see gmscore._validation), their values one numeric
array; a column that is not numeric is an error naming it. None of these
libraries is imported here: a frame is recognised by its type's module.
"""
import numpy as np


def frame_kind(X):
    """'pandas', 'polars', 'pyarrow' or None."""
    module = type(X).__module__.split(".")[0]
    name = type(X).__name__
    if module == "pandas" and hasattr(X, "iloc") and hasattr(X, "columns"):
        return "pandas"
    if module == "polars" and name == "DataFrame":
        return "polars"
    if module == "pyarrow" and name in ("Table", "RecordBatch"):
        return "pyarrow"
    return None


def column_names(X, kind):
    if kind == "pyarrow":
        return list(X.column_names)
    return list(X.columns)


def _column_dtypes(X, kind):
    if kind == "pyarrow":
        return list(X.schema.types)
    return list(X.dtypes)


def _is_numeric(dtype, kind):
    if kind == "pandas":
        kind_char = getattr(dtype, "kind", "O")
        return kind_char in "biuf" or kind_char == "O"   # object: converted, checked then
    if kind == "polars":
        return bool(dtype.is_numeric()) or str(dtype) == "Boolean"
    import pyarrow as pa   # only reached with a pyarrow object in hand

    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or \
        pa.types.is_boolean(dtype)


def _bad_column(name, dtype, name_of_x, detail=""):
    return TypeError(
        f"column {name!r} of {name_of_x} has dtype {dtype}, which is not numeric{detail}; "
        "gmscore models numbers only: encode it (e.g. one-hot or ordinal codes) or drop it")


_FLOAT32_NAMES = {"pandas": "float32", "polars": "Float32", "pyarrow": "float"}


def frame_to_array(X, kind, name="X"):
    """The frame's values as a 2-D numpy array: float32 when every column
    is float32, else float64; missing values (None / null / NA) become NaN
    (and then the usual error unless missing values are enabled)."""
    names, dtypes = column_names(X, kind), _column_dtypes(X, kind)
    for col, dtype in zip(names, dtypes):
        if not _is_numeric(dtype, kind):
            raise _bad_column(col, dtype, name)
    all_f32 = bool(dtypes) and all(str(t) == _FLOAT32_NAMES[kind] for t in dtypes)
    target = np.float32 if all_f32 else np.float64
    n_rows = X.num_rows if kind == "pyarrow" else X.shape[0]
    out = np.empty((n_rows, len(names)), dtype=target)
    for j, col in enumerate(names):   # per column, never per row
        try:
            out[:, j] = _column_as_float(X, kind, j, col, target)
        except (TypeError, ValueError) as exc:
            raise _bad_column(col, dtypes[j], name,
                              f" (a value cannot be read as a number: {exc})") from None
    return out


def _column_as_float(X, kind, j, col, target):
    """One column in ``target``, nulls (None / NA / null) as NaN, by the
    library's own vectorised conversion."""
    if kind == "pandas":
        return X[col].to_numpy(dtype=target, na_value=np.nan)
    if kind == "polars":
        import polars as pl   # only reached with a polars frame in hand

        return X.get_column(col).cast(pl.Float32 if target is np.float32 else pl.Float64) \
            .to_numpy()
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.cast(X.column(j), pa.float32() if target is np.float32 else pa.float64())
    return values.to_numpy(zero_copy_only=False)


def _select(X, kind, cols):
    if kind == "pandas":
        return X[list(cols)]
    return X.select(list(cols))


def _column_values(X, kind, col):
    if kind == "pandas":
        return X[col].to_numpy()
    if kind == "polars":
        return X.get_column(col).to_numpy()
    return X.column(col).to_numpy(zero_copy_only=False)


def sequences_from_frame(frame, sequence, order=None, features=None, *, return_ids=False):
    """A long-format data frame (one row per frame: a sequence id column, an
    optional order column, feature columns) as the HMMs' ``X, lengths``.

    Sequences come in the order their ids first appear; within a sequence
    rows are sorted by ``order`` (stable: ties keep their order), or kept as
    they are when ``order`` is None. ``features`` names the feature columns
    (default: every other column, in the frame's order); X's columns follow
    it, and ``feature_names_in_`` of a model fitted on the result is not
    set (X is an array): fit on ``frame[features]`` names instead if needed.
    Returns (X, lengths), and the ids in sequence order with
    ``return_ids=True``. pandas, polars and pyarrow frames are accepted.
    """
    kind = frame_kind(frame)
    if kind is None:
        raise TypeError(f"frame must be a pandas or polars DataFrame or a pyarrow Table, got "
                        f"{type(frame).__module__}.{type(frame).__name__}")
    names = column_names(frame, kind)
    for what, col in (("sequence", sequence), ("order", order)):
        if col is not None and col not in names:
            raise ValueError(f"{what} column {col!r} is not in the frame; its columns are "
                             f"{names}")
    if features is None:
        features = [c for c in names if c not in (sequence, order)]
    else:
        features = list(features)
        missing = [c for c in features if c not in names]
        if missing:
            raise ValueError(f"feature columns {missing} are not in the frame; its columns "
                             f"are {names}")
        clash = [c for c in features if c in (sequence, order)]
        if clash:
            raise ValueError(f"column {clash[0]!r} is the sequence or order column; it cannot "
                             "also be a feature")
    if not features:
        raise ValueError("the frame has no feature column besides the sequence and order "
                         "columns")
    X = frame_to_array(_select(frame, kind, features), kind, "frame")
    ids = _column_values(frame, kind, sequence)
    if len(ids) == 0:
        raise ValueError("the frame has no rows")
    # None, or NaN (the only value unequal to itself), as pandas stores gaps
    missing = np.asarray(np.equal(ids, None) | (ids != ids), dtype=bool) \
        if ids.dtype.kind in "Of" else np.zeros(len(ids), dtype=bool)
    if missing.any():
        raise ValueError(f"sequence column {sequence!r} holds a missing id (row "
                         f"{int(np.flatnonzero(missing)[0])}); give every row its sequence")
    uniq, first, codes = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))   # first appearance
    seq = rank[codes.ravel()]
    keys = [seq]
    if order is not None:
        o = _column_values(frame, kind, order)
        if o.dtype.kind not in "biufmM":
            raise TypeError(f"order column {order!r} has dtype {o.dtype}; it must hold "
                            "numbers or datetimes")
        keys.insert(0, o)   # lexsort: the last key is the primary one
    rows = np.lexsort(keys) if order is not None else np.argsort(seq, kind="stable")
    lengths = np.bincount(seq, minlength=len(uniq)).astype(np.int64)
    out = (np.ascontiguousarray(X[rows]), lengths)
    if return_ids:
        out += (uniq[np.argsort(first, kind="stable")],)
    return out
