"""Where rows come from: one data-source layer for every model.

A source yields validated chunks of rows (C-contiguous float32 or float64,
with their sample weights and, for sequences, their offsets); nothing above
this layer knows whether the rows were in memory, in a file or produced by
a callable. Accepted as ``X``:

- an in-memory array (or anything ``np.asarray`` takes): one chunk, the
  whole array, validated as before;
- a chunked array-like with ``shape``, ``dtype`` and slicing
  (``np.memmap``, ``h5py.Dataset``, ``zarr.Array``): read in chunks of
  about ``CHUNK_BYTES`` whose row counts are multiples of the kernels'
  block, never copied whole and never written;
- a callable returning a fresh iterator of chunks on every call (one call
  per pass over the data); a chunk is a 2-D array, or ``(X, sample_weight)``
  for a mixture, or for a hidden Markov model one sequence (a 2-D array) or
  ``(X, lengths)`` holding whole sequences; empty chunks are skipped;
- for the hidden Markov models, a list of per-sequence arrays, and any of
  the above with ``lengths``. A chunk boundary never splits a sequence.

Every pass checks each chunk (2-D, the first chunk's width and dtype,
finite values on a first pass) and that the pass gives the same chunks as
the first one; errors name the chunk and say how to fix it. A one-shot
iterator is refused where several passes are needed.
"""
import inspect
from typing import NamedTuple, Optional

import numpy as np

from .. import _kernels
from .covariance import COVARIANCE
from .lengths import lengths_to_offsets
from .._validation import aligned, check_array, check_sample_weight, feature_names

# Target size of a chunk read from an array-like (bytes of X).
CHUNK_BYTES = 32 << 20
# Most rows an initialisation of a streamed source reads (a uniform sample).
INIT_SAMPLE_ROWS = 1 << 17
# Row counts of chunks are multiples of this (the kernels' block), so that
# a chunked pass reduces in exactly the same order as one over all rows.
BLOCK_ROWS = _kernels.BLOCK_ROWS


class Chunk(NamedTuple):
    index: int                      # chunk number within the pass
    start: int                      # first row, counted over the whole pass
    X: np.ndarray                   # (rows, n_features), float32 or float64
    sample_weight: Optional[np.ndarray]
    offsets: Optional[np.ndarray]   # sequences: int64 row offsets in the chunk


def chunk_rows(n_features, itemsize):
    """Rows per chunk read from an array-like: about CHUNK_BYTES, a
    multiple of the kernels' block."""
    rows = CHUNK_BYTES // max(1, n_features * itemsize)
    return max(BLOCK_ROWS, rows // BLOCK_ROWS * BLOCK_ROWS)


def _where(index, start, rows, unit="chunk"):
    return f"{unit} {index} (rows {start} to {start + rows - 1})" if rows else f"{unit} {index}"


def _compute_dtype(dtype, what):
    """The dtype the kernels read for input of ``dtype``."""
    dtype = np.dtype(dtype).newbyteorder("=")  # big-endian files read as native
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype.kind in "biu" or dtype == np.float16:
        return np.dtype(np.float64) if dtype != np.float16 else np.dtype(np.float32)
    raise TypeError(
        f"{what} has dtype {dtype}; gmscore needs real numbers: store or convert the "
        "data as float32 or float64")


def _is_array_like(X):
    """A chunked array-like: sliced, never converted whole."""
    if isinstance(X, np.memmap):
        return X.ndim == 2
    if isinstance(X, np.ndarray):
        return False
    shape = getattr(X, "shape", None)
    return (shape is not None and hasattr(X, "dtype") and hasattr(X, "__getitem__")
            and not hasattr(X, "iloc") and not hasattr(X, "nnz") and len(tuple(shape)) == 2)


def _is_chunk_tuple(item):
    return (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], np.ndarray)
            and item[0].ndim == 2)


def _is_reiterable(X):
    """A list of (X, weights-or-lengths) chunk tuples, or an object that is
    iterable again and again but is no array (a user's chunk collection)."""
    if isinstance(X, list):
        return bool(X) and all(_is_chunk_tuple(item) for item in X)
    if isinstance(X, (tuple, str, bytes, dict, set, frozenset, range, np.ndarray)):
        return False
    return (hasattr(X, "__iter__") and not hasattr(X, "__next__")
            and not any(hasattr(X, a) for a in ("__array__", "__array_interface__", "shape",
                                                 "dtype", "iloc", "__len__")))


def _is_one_shot(X):
    return inspect.isgenerator(X) or (hasattr(X, "__next__") and hasattr(X, "__iter__"))


class Source:
    """Base of every source: the pass signature and chunk checks."""

    in_memory = False
    unit = "chunk"   # what error messages call one item of the source

    def __init__(self, sequences, n_threads=1):
        self.sequences = sequences
        self.n_threads = n_threads
        self.n_features = None
        self.dtype = None
        self.n_samples = None       # known after a first pass (or from a shape)
        self.n_sequences = None
        self.total_weight = None
        self.feature_names = None   # a data frame's column names
        self._signature = None      # rows per non-empty chunk of the first pass
        self.passes = 0

    # -- checks
    def _check_chunk(self, raw, index, start, finite):
        def at(rows):
            return _where(index, start, rows, self.unit)

        try:
            X = np.asarray(raw)
        except Exception as exc:  # noqa: BLE001 - a source can raise anything
            raise ValueError(f"{at(0)} of X could not be read as an "
                             f"array: {exc}") from None
        if X.ndim != 2:
            raise ValueError(
                f"{at(0)} of X has shape {X.shape}; every chunk must be "
                "2-D (n_rows, n_features); reshape a 1-D chunk with chunk.reshape(-1, 1)")
        if X.shape[0] == 0:
            return X  # skipped by chunks(): an empty chunk fixes neither width nor dtype
        dtype = _compute_dtype(X.dtype, f"{at(X.shape[0])} of X")
        if X.shape[1] == 0:
            raise ValueError(f"{at(X.shape[0])} of X has no features")
        if self.n_features is None:
            self.n_features, self.dtype = X.shape[1], dtype
        changed = " (the source changed between passes)" if self.passes else ""
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"{at(X.shape[0])} of X has {X.shape[1]} features, but "
                f"the first {self.unit} had {self.n_features}{changed}; every {self.unit} must "
                "have the same width")
        if dtype != self.dtype:
            raise TypeError(
                f"{at(X.shape[0])} of X has dtype {X.dtype}, but the first "
                f"{self.unit} had {self.dtype}{changed}; every {self.unit} must have the same "
                "dtype")
        X = aligned(X, dtype)
        if finite and X.size and not np.isfinite(X).all():
            raise ValueError(
                f"{at(X.shape[0])} of X contains NaN or infinity; "
                "remove or impute those rows")
        return X

    def _check_weight(self, w, index, start, rows):
        if w is None:
            return None
        try:
            return check_sample_weight(w, rows, positive_sum=False)
        except ValueError as exc:
            raise ValueError(f"{_where(index, start, rows, self.unit)}: {exc}") from None

    def _begin_pass(self):
        self._rows_seen = []

    def _end_pass(self, total, n_sequences, total_weight):
        rows = self._rows_seen
        if self._signature is None:
            if total == 0:
                one_shot = getattr(self, "one_shot", False)
                raise ValueError(
                    "X gave no rows" + ("" if self.in_memory or one_shot else
                                        " (a callable source must return a fresh iterator "
                                        "on every call)"))
            self._signature = rows
            self.n_samples = total
            self.n_sequences = n_sequences
            self.total_weight = total_weight
        elif rows != self._signature:
            self._mismatch(rows)
        self.passes += 1

    def _mismatch(self, seen):
        first = self._signature
        fix = ("; the source must give the same rows every time it is read (a callable "
               "must return a fresh iterator over the same data on every call)")
        for i, (a, b) in enumerate(zip(seen, first)):
            if a != b:
                what = (f"{a[0]} rows in {a[1]} sequences" if self.sequences else
                        f"{a[0]} rows")
                was = f"{b[0]} rows in {b[1]} sequences" if self.sequences else f"{b[0]}"
                raise ValueError(
                    f"X changed between passes: its non-empty chunk {i} has {what} in "
                    f"pass {self.passes + 1} but had {was} in the first pass" + fix)
        raise ValueError(
            f"X changed between passes: pass {self.passes + 1} gave "
            f"{sum(a[0] for a in seen)} rows in {len(seen)} non-empty chunks, the first pass "
            f"{sum(b[0] for b in first)} rows in {len(first)}" + fix)

    def chunks(self):
        """One pass over the data: an iterator of Chunk."""
        first = self._signature is None
        self._begin_pass()
        total = n_seq = 0
        weight = 0.0
        for chunk in self._raw_chunks(first):
            rows = chunk.X.shape[0]
            if rows == 0:
                continue
            # rows and sequences of each chunk: a pass must repeat the first
            entry = (rows, 0 if chunk.offsets is None else len(chunk.offsets) - 1)
            if self._signature is not None:
                i = len(self._rows_seen)
                if i >= len(self._signature) or entry != self._signature[i]:
                    self._mismatch(self._rows_seen + [entry])
            self._rows_seen.append(entry)
            total += rows
            n_seq += 0 if chunk.offsets is None else len(chunk.offsets) - 1
            weight += rows if chunk.sample_weight is None else float(chunk.sample_weight.sum())
            yield chunk
        self._end_pass(total, n_seq, weight)
        if not weight > 0:
            raise ValueError("sample_weight sums to zero; at least one sample needs a "
                             "positive weight")

    # -- helpers built on passes
    def take(self, rows):
        """The rows at the sorted global indices ``rows`` (one pass over
        the source, or direct indexing where it allows it), in the source's
        dtype, with their sample weights (None when unweighted)."""
        rows = np.asarray(rows, dtype=np.int64)
        parts, weights = [], []
        for c in self.chunks():
            lo, hi = np.searchsorted(rows, [c.start, c.start + c.X.shape[0]])
            if hi > lo:
                local = rows[lo:hi] - c.start
                parts.append(c.X[local])
                if c.sample_weight is not None:
                    weights.append(c.sample_weight[local])
        X = np.concatenate(parts) if parts else np.empty((0, self.n_features), self.dtype)
        w = np.concatenate(weights) if weights else None
        return X, w

    # -- global moments (initialisation, repairs), one pass each, cached
    def _moments(self, cov_type, centre):
        d = self.n_features
        code = COVARIANCE[cov_type].code
        red = _kernels.stats_reducer(code, 1, d)
        c = np.zeros((1, d)) if centre is None else centre[None, :]
        for ch in self.chunks():
            _kernels.accumulate_into(red, code, ch.X, None, None, ch.sample_weight, c,
                                     self.n_threads)
        t = red.total()
        return t[0], t[1:1 + d], t[1 + d:-2]

    @property
    def centre(self):
        """Weighted mean of the rows (float64)."""
        if getattr(self, "_centre", None) is None:
            self.ensure_scanned()
            nk, s1, _ = self._moments("diag", None)
            self._centre = s1 / nk
        return self._centre

    @property
    def scatter(self):
        """(sum_i w_i (x_i - g)(x_i - g)^T, g) with g the weighted mean."""
        if getattr(self, "_scatter", None) is None:
            g = self.centre
            d = self.n_features
            _, _, s2 = self._moments("full", g)
            upper = np.triu(s2.reshape(d, d))
            self._scatter = (upper + np.triu(upper, 1).T, g)
        return self._scatter

    @property
    def mean_variance(self):
        """Mean over features of the weighted per-feature variance."""
        if getattr(self, "_variance", None) is None:
            X = getattr(self, "X", None) if self.in_memory else None
            if getattr(self, "_centre", None) is not None or not isinstance(X, np.ndarray):
                _, _, s2 = self._moments("diag", self.centre)
                self._variance = float(s2.mean() / self.total_weight)
            else:
                # in memory: one pass about a shift close to the mean (that
                # of an evenly strided sample of rows), so the correction
                # below cannot cancel
                shift = X[::max(1, X.shape[0] // 4096)].mean(axis=0, dtype=np.float64)
                nk, s1, s2 = self._moments("diag", shift)
                mean = s1 / nk
                self._variance = float(np.mean(s2 / nk - mean * mean))
        return self._variance

    def buffer(self, name, shape):
        """A float64 work array of ``shape`` kept between passes: arrays of
        rows x states come back every iteration, and fresh ones would cost
        their page faults every time."""
        size = int(np.prod(shape))
        bufs = self.__dict__.setdefault("_buffers", {})
        flat = bufs.get(name)
        if flat is None or flat.size < size:
            flat = bufs[name] = np.empty(size)
        return flat[:size].reshape(shape)

    def init_sample(self, random_state, max_rows=None):
        """The rows an initialisation runs on: all of an in-memory source;
        for a streamed one, a uniform sample without replacement of at most
        ``INIT_SAMPLE_ROWS`` rows (every row when there are fewer), drawn
        from ``random_state`` and read in one pass, as an ArraySource."""
        if self.in_memory:
            return self
        max_rows = INIT_SAMPLE_ROWS if max_rows is None else max_rows
        self.ensure_scanned()
        n = self.n_samples
        if n <= max_rows:
            rows = np.arange(n)
        else:
            rows = np.sort(random_state.choice(n, size=max_rows, replace=False))
        X, w = self.take(rows)
        return ArraySource(X, w, None, self.n_threads)

    def largest_chunk_rows(self):
        """Rows of the largest chunk a pass hands the kernels (known after
        a first pass; an upper bound before)."""
        if self._signature:
            return max(rows for rows, _ in self._signature)
        return self.n_samples or 0

    def ensure_scanned(self):
        """Make sure a first pass (the checks, the row count) has run."""
        if self._signature is None:
            for _ in self.chunks():
                pass


class ArraySource(Source):
    """An in-memory array: one chunk, the array itself."""

    in_memory = True

    def __init__(self, X, sample_weight=None, offsets=None, n_threads=1):
        super().__init__(offsets is not None, n_threads)
        self.X = X
        self.sample_weight = sample_weight
        self.offsets = offsets
        self.n_features, self.dtype = X.shape[1], X.dtype
        self.n_samples = X.shape[0]
        self.n_sequences = None if offsets is None else len(offsets) - 1
        self.total_weight = float(X.shape[0] if sample_weight is None else sample_weight.sum())
        self._signature = [(X.shape[0], self.n_sequences or 0)] if X.shape[0] else []

    def _raw_chunks(self, first):
        yield Chunk(0, 0, self.X, self.sample_weight, self.offsets)

    def take(self, rows):
        rows = np.asarray(rows, dtype=np.intp)
        return (self.X[rows],
                None if self.sample_weight is None else self.sample_weight[rows])


def _sequence_cuts(offsets, max_rows):
    """Chunk boundaries (indices into offsets) grouping whole sequences into
    chunks of at most max_rows rows (a longer sequence is a chunk alone)."""
    cuts = [0]
    n_seq = len(offsets) - 1
    while cuts[-1] < n_seq:
        i = cuts[-1]
        j = int(np.searchsorted(offsets, offsets[i] + max_rows, side="right")) - 1
        cuts.append(min(max(j, i + 1), n_seq))
    return cuts


class ArrayLikeSource(Source):
    """np.memmap, h5py.Dataset, zarr.Array, ...: sliced chunk by chunk."""

    def __init__(self, X, sample_weight=None, offsets=None, n_threads=1):
        super().__init__(offsets is not None, n_threads)
        shape = tuple(int(n) for n in X.shape)
        self.X = X
        self.n_samples = shape[0]
        self.n_features = shape[1]
        self.dtype = _compute_dtype(X.dtype, "X")
        if sample_weight is not None and not _is_array_like(sample_weight):
            sample_weight = check_sample_weight(sample_weight, shape[0])
        elif sample_weight is not None and tuple(sample_weight.shape) != (shape[0],):
            raise ValueError(f"sample_weight has shape {tuple(sample_weight.shape)}, "
                             f"expected ({shape[0]},)")
        self.sample_weight = sample_weight
        self.offsets = offsets
        self.n_sequences = None if offsets is None else len(offsets) - 1
        rows = chunk_rows(self.n_features, self.dtype.itemsize)
        if offsets is None:
            self._bounds = list(range(0, shape[0], rows)) + [shape[0]]
        else:
            self._bounds = [int(offsets[c]) for c in _sequence_cuts(offsets, rows)]
            self._cuts = _sequence_cuts(offsets, rows)

    def _raw_chunks(self, first):
        b = self._bounds
        for i in range(len(b) - 1):
            lo, hi = b[i], b[i + 1]
            X = self._check_chunk(self.X[lo:hi], i, lo, first)
            if X.shape[0] != hi - lo:
                raise ValueError(f"{_where(i, lo, hi - lo)} of X gave {X.shape[0]} rows")
            w = None if self.sample_weight is None else self._check_weight(
                np.asarray(self.sample_weight[lo:hi]), i, lo, hi - lo)
            off = None
            if self.offsets is not None:
                c0, c1 = self._cuts[i], self._cuts[i + 1]
                off = (self.offsets[c0:c1 + 1] - self.offsets[c0]).astype(np.int64)
            yield Chunk(i, lo, X, w, off)

    def take(self, rows):
        """Only the chosen rows are read: memmaps and h5py datasets take a
        sorted index array, zarr arrays an orthogonal selection."""
        rows = np.asarray(rows, dtype=np.intp)
        X = _select_rows(self.X, rows)
        if X is None:
            return super().take(rows)
        w = None
        if self.sample_weight is not None:
            w = _select_rows(self.sample_weight, rows)
            w = np.asarray(self.sample_weight)[rows] if w is None else np.asarray(w)
            w = self._check_weight(w, 0, 0, len(rows))
        if rows.size == 0:
            return np.empty((0, self.n_features), self.dtype), w
        return self._check_chunk(X, 0, 0, True), w


def _select_rows(arr, rows):
    """arr[rows] for sorted unique rows, or None when the array-like cannot
    index that way (then a pass over the chunks picks them)."""
    try:
        if hasattr(arr, "oindex"):          # zarr
            return np.asarray(arr.oindex[rows])
        return np.asarray(arr[rows])        # np.memmap, h5py (increasing indices)
    except Exception:  # noqa: BLE001 - any array-like's indexing error
        return None


class CallableSource(Source):
    """A callable returning a fresh iterator of chunks for every pass."""

    def __init__(self, make_iter, sequences=False, offsets=None, n_threads=1, one_shot=False):
        super().__init__(sequences, n_threads)
        self.make_iter = make_iter
        self.offsets = offsets      # global lengths given with the callable
        self.one_shot = one_shot
        self._used = False

    def _items(self):
        if self.one_shot:
            if self._used:
                raise ValueError(
                    "X is a one-shot iterator that has already been read; pass a callable "
                    "that returns a fresh iterator (e.g. lambda: read_chunks(path)) or a "
                    "list of arrays")
            self._used = True
            return self.make_iter
        it = self.make_iter()
        if _is_one_shot(it):
            return it
        try:
            return iter(it)
        except TypeError:
            raise TypeError(
                f"the callable given as X returned {type(it).__name__}, not an iterator "
                "of chunks") from None

    def _raw_chunks(self, first):
        if not self.sequences:
            yield from self._row_chunks(first)
        elif self.offsets is not None:
            yield from self._row_chunks(first, self.offsets)
        else:
            yield from self._sequence_chunks(first)

    def _split(self, item, index, start, what):
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError(f"{_where(index, start, 0)} is a tuple of {len(item)} items; "
                                 f"a chunk is an array or (X, {what})")
            return item
        return item, None

    def _row_chunks(self, first, offsets=None):
        start = 0
        for i, item in enumerate(self._items()):
            Xi, wi = self._split(item, i, start, "lengths" if self.sequences else "sample_weight")
            if self.sequences and wi is not None:
                raise ValueError(f"{_where(i, start, 0)}: give lengths once, with X, or "
                                 "per chunk, not both")
            X = self._check_chunk(Xi, i, start, first)
            rows = X.shape[0]
            w = self._check_weight(wi, i, start, rows)
            off = None
            if offsets is not None and rows:
                lo, hi = np.searchsorted(offsets, [start, start + rows])
                if lo >= len(offsets) or offsets[lo] != start or hi >= len(offsets) \
                        or offsets[hi] != start + rows:
                    raise ValueError(
                        f"{_where(i, start, rows)} of X does not end at a sequence boundary "
                        "of lengths; a chunk must hold whole sequences")
                off = (offsets[lo:hi + 1] - start).astype(np.int64)
            yield Chunk(i, start, X, w, off)
            start += rows
        if offsets is not None and start != offsets[-1]:
            raise ValueError(f"X gave {start} rows but lengths sum to {int(offsets[-1])}")

    def _sequence_chunks(self, first):
        """Items are sequences, or (X, lengths) groups; consecutive small
        items are joined into chunks of about CHUNK_BYTES."""

        start = 0
        pending, pending_off, pending_rows = [], [], 0
        target = None
        n_out = 0

        def flush():
            nonlocal pending, pending_off, pending_rows, n_out, start
            X = pending[0] if len(pending) == 1 else np.concatenate(pending)
            offs = [0]
            for o in pending_off:
                offs.extend((o[1:] + offs[-1]).tolist())
            chunk = Chunk(n_out, start, X, None, np.asarray(offs, dtype=np.int64))
            n_out += 1
            start += X.shape[0]
            pending, pending_off, pending_rows = [], [], 0
            return chunk

        for i, item in enumerate(self._items()):
            Xi, li = self._split(item, i, start + pending_rows, "lengths")
            X = self._check_chunk(Xi, i, start + pending_rows, first)
            if X.shape[0] == 0:
                continue
            try:
                off = lengths_to_offsets(li, X.shape[0])
            except ValueError as exc:
                raise ValueError(f"{_where(i, start + pending_rows, X.shape[0])}: {exc}") from None
            if target is None:
                target = chunk_rows(self.n_features, self.dtype.itemsize)
            if pending and pending_rows + X.shape[0] > target:
                yield flush()
            pending.append(X)
            pending_off.append(off)
            pending_rows += X.shape[0]
        if pending:
            yield flush()


def as_source(X, *, sample_weight=None, lengths=None, sequences=False, n_threads=1,
              multi_pass=True, min_samples=1, check_finite=True):
    """The Source for ``X`` (see the module docstring). ``multi_pass``:
    the caller reads the data more than once (fit). ``check_finite=False``:
    an in-memory X is not scanned for NaN / infinity (a caller whose kernel
    output reveals them checks X itself then)."""
    if isinstance(X, Source):
        return X
    from .._frames import frame_kind

    if frame_kind(X) is not None:   # a data frame: names, then one numeric array
        return _in_memory_source(X, sample_weight, lengths, sequences, n_threads, min_samples,
                                 check_finite)
    if sequences and isinstance(X, (list, tuple)) and X and \
            type(X[0]).__module__.split(".")[0] == "dask":
        from ..dask import is_sequence_collection, sequences_as_array

        if is_sequence_collection(X):   # delayed (or dask) arrays, one per sequence
            if lengths is not None:
                raise ValueError("X is a list of sequences; do not also give lengths")
            X, lengths = sequences_as_array(X)
    if type(X).__module__.split(".")[0] == "dask":
        from ..dask import DaskSource, is_sequence_collection, sequences_as_array

        if sequences and is_sequence_collection(X):   # a dask bag of sequences
            if lengths is not None:
                raise ValueError("X is a dask bag of sequences; do not also give lengths")
            X, lengths = sequences_as_array(X)
        if sequences:
            return DaskSource(X, None, n_threads, lengths_to_offsets(lengths, int(X.shape[0])),
                              persist=multi_pass)
        return DaskSource(X, sample_weight, n_threads, persist=multi_pass)
    offsets = None
    if _is_one_shot(X):
        if multi_pass:
            raise TypeError(
                "X is a one-shot iterator (e.g. a generator); fitting reads the data "
                "several times: pass a callable that returns a fresh iterator on every "
                "call (e.g. lambda: read_chunks(path)) or a re-iterable such as a list")
        return _with_lengths(CallableSource(X, sequences, None, n_threads, one_shot=True),
                             lengths, sequences, None)
    if callable(X) and not isinstance(X, np.ndarray) and not _is_array_like(X):
        if sample_weight is not None:
            raise ValueError("with a callable X, give sample weights in the chunks: yield "
                             "(X_chunk, sample_weight_chunk) tuples")
        return _with_lengths(CallableSource(X, sequences, None, n_threads), lengths,
                             sequences, None)
    if _is_reiterable(X):
        items = X
        return _with_lengths(CallableSource(lambda: iter(items), sequences, None, n_threads),
                             lengths, sequences, None)
    if sequences and isinstance(X, (list, tuple)) and X and all(
            np.ndim(x) == 2 for x in X[:1]) and all(
            isinstance(x, np.ndarray) or _is_array_like(x) for x in X):
        if lengths is not None:
            raise ValueError("X is a list of sequences; do not also give lengths")
        seqs = list(X)
        source = CallableSource(lambda: iter(seqs), True, None, n_threads)
        source.unit = "sequence"
        return source
    if not sequences and isinstance(X, (list, tuple)) and X and all(
            isinstance(x, np.ndarray) and x.ndim == 2 for x in X):
        chunks = list(X)
        if sample_weight is not None:
            raise ValueError("X is a list of chunks; give sample weights in (X, w) tuples")
        return CallableSource(lambda: iter(chunks), False, None, n_threads)
    if _is_array_like(X):
        if sequences:
            offsets = lengths_to_offsets(lengths, int(X.shape[0]))
        return ArrayLikeSource(X, sample_weight, offsets, n_threads)
    return _in_memory_source(X, sample_weight, lengths, sequences, n_threads, min_samples,
                             check_finite)


def _in_memory_source(X, sample_weight, lengths, sequences, n_threads, min_samples,
                      check_finite=True):
    """An array (or data frame) converted once and validated whole."""
    names = feature_names(X)
    X = check_array(X, min_samples=min_samples, finite=check_finite)
    offsets = None
    if sequences:
        offsets = lengths_to_offsets(lengths, X.shape[0])
    sw = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
    source = ArraySource(X, sw, offsets, n_threads)
    source.feature_names = names
    return source


def _with_lengths(src, lengths, sequences, _):
    if lengths is not None:
        if not sequences:
            raise ValueError("lengths is only for sequence models")
        # lengths with a streamed X: the sum is checked at the end of a pass
        arr = np.asarray(lengths)
        total = int(np.sum(arr, dtype=np.int64)) if arr.size else 0
        src.offsets = lengths_to_offsets(lengths, total)
    return src
