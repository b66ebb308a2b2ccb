"""Readers and writers of the command line's data files.

Inputs by extension: ``.npy`` (opened as a read-only memory map when it is
large, so that a fit streams it in chunks through the data-source layer),
``.csv`` / ``.tsv`` / ``.txt`` (numbers, with or without a header row),
``.parquet`` (pyarrow), ``.h5`` / ``.hdf5`` (h5py) and ``.zarr`` (zarr);
an HDF5 or zarr array is handed to the models as it is (a chunked
array-like, never read whole). Outputs: ``.npy``, ``.csv`` / ``.tsv``, or
CSV text on stdout. Every problem is a ``CliError`` whose one-line message
names the file and says how to fix it.
"""
import os
import numpy as np

# A .npy file larger than this is memory-mapped and streamed in chunks.
STREAM_BYTES = 256 << 20

_TEXT = {".csv": ",", ".tsv": "\t", ".txt": None}   # None: any whitespace
_HDF5 = (".h5", ".hdf5")


class CliError(Exception):
    """A user error: the command line prints its message on one line and
    exits with status 1."""


class UsageError(CliError):
    """Options that do not go together (or do not apply): exit status 2,
    as for argparse's own option errors."""


def _suffix(path):
    return os.path.splitext(os.fspath(path).rstrip("/\\"))[1].lower()


def _split_dataset(path):
    """``file.h5:name`` -> ("file.h5", "name"); the dataset part is only
    split off for HDF5 and zarr paths."""
    head, sep, tail = path.rpartition(":")
    if sep and _suffix(head) in _HDF5 + (".zarr",) and not os.path.exists(path):
        return head, tail
    return path, None


class Data:
    """What a data file gives the models: ``X`` (an array, or a chunked
    array-like that the models stream), ``lengths`` (sequences) and the
    column names when the file has them."""

    def __init__(self, X, lengths=None, names=None, streamed=False, n_rows=None):
        self.X, self.lengths, self.names, self.streamed = X, lengths, names, streamed
        self._n_rows = n_rows

    @property
    def n_rows(self):
        return int(self.X.shape[0]) if self._n_rows is None else self._n_rows


def read_data(path, stack, *, columns=None, dataset=None, sequence_column=None,
              lengths=None, stream=None, sequences=False):
    """Open ``path`` (a CliError when it cannot be read). Files that must
    stay open while the models stream them are registered on ``stack``
    (a contextlib.ExitStack). ``sequences``: the data is for an HMM (a
    large .parquet file is then read whole: its record batches would not
    end at sequence boundaries)."""
    path, in_path = _split_dataset(os.fspath(path))
    dataset = dataset or in_path
    if not os.path.exists(path):
        raise CliError(f"{path}: no such file or directory")
    suffix = _suffix(path)
    if sequence_column is not None and lengths is not None:
        raise UsageError("give either --lengths or --sequence-column, not both")
    if sequence_column is not None and suffix not in tuple(_TEXT) + (".parquet",):
        raise UsageError(f"{path}: --sequence-column needs a file with named columns "
                         "(.csv or .parquet); for arrays give --lengths FILE")
    try:
        if suffix == ".npy":
            data = _read_npy(path, stream)
        elif suffix in _TEXT:
            data = _read_text(path, _TEXT[suffix], columns, sequence_column)
            columns = None
        elif suffix == ".parquet":
            data = _read_parquet(path, columns, sequence_column, not sequences)
            columns = None
        elif suffix in _HDF5:
            data = _read_hdf5(path, dataset, stack)
        elif suffix == ".zarr":
            data = _read_zarr(path, dataset)
        else:
            raise CliError(f"{path}: unknown file type {suffix or '(no extension)'!r}; "
                           "use .npy, .csv, .tsv, .txt, .parquet, .h5 or .zarr")
    except CliError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise CliError(f"{path}: cannot read it: {_one_line(exc)}") from None
    if columns is not None:
        data = _select_columns(data, columns, path)
    if callable(data.X):   # chunks read on every pass
        pass
    elif data.X.ndim == 1:   # one value per row (symbols, counts)
        data.X = np.asarray(data.X).reshape(-1, 1)
    elif data.X.ndim != 2:
        raise CliError(f"{path}: holds an array of shape {tuple(data.X.shape)}; the data "
                       "must be 2-D (rows x features)")
    if lengths is not None:
        data.lengths = read_lengths(lengths, data.n_rows)
    return data


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _read_npy(path, stream):
    big = os.path.getsize(path) > STREAM_BYTES
    if stream is None:
        stream = big
    X = np.load(path, mmap_mode="r" if stream else None, allow_pickle=False)
    if X.dtype.names is not None or X.dtype.kind not in "biuf":
        raise CliError(f"{path}: holds a {X.dtype} array; the data must be numbers")
    if isinstance(X, np.memmap) and X.ndim == 1:
        X = X.reshape(-1, 1)
    return Data(X, streamed=isinstance(X, np.memmap))


def _header(path, delimiter):
    """The first line's fields, and whether they are a header (not all
    numbers)."""
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    fields = [f.strip().strip('"') for f in first.strip("\r\n").split(delimiter)]
    if not first.strip():
        raise CliError(f"{path}: the file is empty")
    try:
        [float(f) for f in fields]
        return fields, False
    except ValueError:
        return fields, True


def _column_index(names, col, path, what="column"):
    if names is not None and col in names:
        return names.index(col)
    if col.lstrip("-").isdigit():
        i = int(col)
        n = len(names) if names is not None else None
        if n is None or -n <= i < n:
            return i if n is None or i >= 0 else n + i
    known = f"; its columns are {names}" if names is not None else \
        " (the file has no header row: give column numbers, from 0)"
    raise CliError(f"{path}: no {what} {col!r}{known}")


def _read_text(path, delimiter, columns, sequence_column):
    fields, has_header = _header(path, delimiter)
    names = fields if has_header else None
    n = len(fields)
    seq = None if sequence_column is None else \
        _column_index(names, sequence_column, path, "sequence column")
    if columns is not None:
        use = [_column_index(names, c, path) for c in columns]
    else:
        use = [i for i in range(n) if i != seq]
    if seq in use:
        raise CliError(f"{path}: column {sequence_column!r} is the sequence column; it "
                       "cannot also be a feature")
    if not use:
        raise CliError(f"{path}: no feature column besides the sequence column")
    kw = dict(delimiter=delimiter, skiprows=int(has_header), ndmin=2, encoding="utf-8",
              comments="#")
    try:
        X = np.loadtxt(path, dtype=np.float64, usecols=use, **kw)
    except ValueError as exc:
        raise CliError(f"{path}: a feature column holds something that is not a number "
                       f"({_one_line(exc)}); choose numeric columns with --columns") from None
    lengths = None
    if seq is not None:
        ids = np.loadtxt(path, dtype=str, usecols=[seq], **kw)[:, 0]
        X, lengths = _group_sequences(X, ids)
    return Data(X, lengths, [names[i] for i in use] if names else None)


def _group_sequences(X, ids):
    """Rows grouped by sequence id, sequences in the order their ids first
    appear and rows in file order within each (as
    gmscore.sequences_from_frame with order=None)."""
    if len(ids) == 0:
        raise CliError("the file has no rows")
    uniq, first, codes = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    seq = rank[codes.ravel()]
    rows = np.argsort(seq, kind="stable")
    return np.ascontiguousarray(X[rows]), np.bincount(seq).astype(np.int64)


def _read_parquet(path, columns, sequence_column, may_stream):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise CliError(f"{path}: reading .parquet needs pyarrow: pip install pyarrow") from None
    from ._core.sources import chunk_rows
    from ._frames import frame_to_array, sequences_from_frame

    pf = pq.ParquetFile(path)
    names = list(pf.schema_arrow.names)
    for c in list(columns or []) + ([sequence_column] if sequence_column else []):
        if c not in names:
            raise CliError(f"{path}: no column {c!r}; its columns are {names}")
    if sequence_column is not None:
        X, lengths = sequences_from_frame(pf.read(), sequence_column, features=columns)
        feats = columns or [c for c in names if c != sequence_column]
        return Data(np.ascontiguousarray(X), lengths, list(feats))
    columns = list(columns or names)
    if os.path.getsize(path) <= STREAM_BYTES or not may_stream:
        return Data(frame_to_array(pf.read(columns=columns), "pyarrow"), None, columns)
    # large: record batches read on every pass, never the whole table
    first = frame_to_array(pa.Table.from_batches([next(pf.iter_batches(1, columns=columns))]),
                           "pyarrow")        # the column checks, on one row
    rows = chunk_rows(len(columns), first.dtype.itemsize)

    def chunks():
        for batch in pf.iter_batches(batch_size=rows, columns=columns):
            yield frame_to_array(pa.Table.from_batches([batch]), "pyarrow")

    return Data(chunks, None, columns, streamed=True, n_rows=pf.metadata.num_rows)


def _pick(names, dataset, path, kind):
    if dataset is None:
        if len(names) != 1:
            raise CliError(f"{path}: holds {len(names)} arrays {sorted(names)}; name one "
                           f"with --dataset NAME (or {path}:NAME)")
        return names[0]
    if dataset not in names:
        raise CliError(f"{path}: no {kind} {dataset!r}; it holds {sorted(names)}")
    return dataset


def _read_hdf5(path, dataset, stack):
    try:
        import h5py
    except ImportError:
        raise CliError(f"{path}: reading .h5 needs h5py: pip install h5py") from None
    fh = stack.enter_context(h5py.File(path, "r"))
    found = []
    fh.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset)
                  else None)
    X = fh[_pick(found, dataset, path, "dataset")]
    return Data(X, streamed=True)


def _read_zarr(path, dataset):
    try:
        import zarr
    except ImportError:
        raise CliError(f"{path}: reading .zarr needs zarr: pip install zarr") from None
    node = zarr.open(path, mode="r")
    if hasattr(node, "shape"):
        if dataset is not None:
            raise CliError(f"{path}: is a single array; drop --dataset")
        return Data(node, streamed=True)
    if hasattr(node, "members"):        # zarr 3
        found = [name for name, obj in node.members(max_depth=None) if hasattr(obj, "shape")]
    else:                               # zarr 2
        found = []
        node.visititems(lambda name, obj: found.append(name) if hasattr(obj, "shape")
                        else None)
    return Data(node[_pick(found, dataset, path, "array")], streamed=True)


class _ColumnView:
    """Some columns of a chunked array-like (a memory map, an HDF5 or zarr
    array), still read chunk by chunk: the data-source layer slices rows
    from it as from the array itself."""

    def __init__(self, base, idx):
        self.base, self.idx = base, np.asarray(idx, dtype=np.intp)
        self.shape = (int(base.shape[0]), len(idx))
        self.dtype = base.dtype
        self.ndim = 2

    def __getitem__(self, key):
        return np.asarray(self.base[key])[:, self.idx]


def _select_columns(data, columns, path):
    n = int(data.X.shape[1]) if data.X.ndim == 2 else 1
    idx = [_column_index(None, c, path) for c in columns]
    if any(not -n <= i < n for i in idx):
        raise CliError(f"{path}: has {n} columns (0 to {n - 1}); "
                       f"--columns {','.join(columns)} is out of range")
    idx = [i % n for i in idx]
    if data.streamed:
        return Data(_ColumnView(data.X, idx), data.lengths, streamed=True)
    return Data(np.ascontiguousarray(np.asarray(data.X)[:, idx]), data.lengths)


def read_lengths(path, n_rows):
    """Sequence lengths from a .npy file or a text file (one integer per
    line, or comma / whitespace separated)."""
    if not os.path.exists(path):
        raise CliError(f"{path}: no such file or directory (--lengths)")
    try:
        if _suffix(path) == ".npy":
            raw = np.load(path, allow_pickle=False)
        else:
            raw = np.loadtxt(path, delimiter="," if _suffix(path) == ".csv" else None,
                             ndmin=1, encoding="utf-8")
        raw = np.asarray(raw).ravel()
        lengths = raw.astype(np.int64)
    except (OSError, ValueError, TypeError) as exc:
        raise CliError(f"{path}: cannot read the lengths: {_one_line(exc)}") from None
    if lengths.size == 0 or (lengths != raw).any() or (lengths < 1).any():
        raise CliError(f"{path}: lengths must be positive whole numbers, one per sequence")
    if int(lengths.sum()) != n_rows:
        raise CliError(f"{path}: the lengths sum to {int(lengths.sum())}, but the data has "
                       f"{n_rows} rows; they must add up to the number of rows")
    return lengths


def _text_column(a):
    """Strings of one column, exact (shortest round-trip repr for floats),
    formatted by numpy in C."""
    a = np.asarray(a)
    if a.dtype.kind == "b":
        a = a.astype(np.int8)
    return a.astype(str)


def write_table(out, columns, stdout):
    """Write named 1-D columns (a dict) to ``out``: ``.npy`` (one 2-D array,
    or 1-D for a single column), ``.csv`` / ``.tsv`` with a header, or CSV
    text on ``stdout`` when ``out`` is None."""
    names = list(columns)
    arrays = [np.asarray(columns[n]) for n in names]
    if out is not None and _suffix(out) == ".npy":
        arr = arrays[0] if len(arrays) == 1 else np.column_stack(arrays)
        np.save(out, arr, allow_pickle=False)
        return
    if out is not None and _suffix(out) not in (".csv", ".tsv", ".txt"):
        raise CliError(f"{out}: unknown output type; use .npy, .csv or .tsv")
    sep = "\t" if out is not None and _suffix(out) == ".tsv" else ","
    text = _text_column(arrays[0])
    for a in arrays[1:]:
        text = np.char.add(np.char.add(text, sep), _text_column(a))
    body = sep.join(names) + "\n" + ("\n".join(text.tolist()) + "\n" if len(text) else "")
    if out is None:
        stdout.write(body)
    else:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(body)


def matrix_columns(prefix, M):
    """A 2-D array as named columns ``prefix0``, ``prefix1``, ..."""
    M = np.asarray(M)
    return {f"{prefix}{j}": M[:, j] for j in range(M.shape[1])}

