"""Fitting and predicting on Dask arrays: the only module that imports dask.

A ``dask.array.Array`` given to ``GaussianMixture.fit`` (and ``score``,
``score_samples``, ``predict``, ``predict_proba``, ``bic``, ``aic``,
``accumulate``) becomes a DaskSource:

- X is rechunked along rows only, to equal chunks of 2048 * 2^j rows (the
  largest such size not above its own chunks; 2048 rows are 8 of the
  kernels' 256-row blocks, one leaf of their statistics tree) and a single
  chunk of columns, and persisted once before the EM loop;
- each E-step sends the current parameters to the workers once (scattered
  to every worker, which every chunk's task then reads), runs the compiled E-step
  kernel on every chunk where it lives (one kernel thread per task: the
  worker's own threads are the parallelism), brings back only the chunks'
  statistics (K + K D + K D^2 numbers each) in one ``compute``, and adds
  them on the client in the kernels' own tree (a binary counter over the
  chunk index). With such chunks every chunk's statistics are one complete
  subtree of the single-process tree, so the fit equals the single-process
  fit bit for bit, whatever the number of workers;
- prediction methods return lazy dask arrays, chunked as X's rows.

Initialisation reads a uniform sample of at most 131,072 rows (or only the
rows 'random_from_data' picks), as for any streamed source. Scheduling,
retries and recomputing lost tasks are Dask's: a worker lost during a fit
has its tasks recomputed from the persisted chunks' lineage.
"""
import copy

import numpy as np

import dask
import dask.array as da

from . import _kernels
from ._core.sources import ArraySource, Chunk, Source, _compute_dtype, _sequence_cuts
from ._core.stats import ChainStats, GaussianStats
from ._threads import single_threaded_blas
from ._validation import aligned, check_sample_weight

LEAF_ROWS = _kernels.BLOCK_ROWS * _kernels.LEAF_BLOCKS


def is_dask_array(X):
    return isinstance(X, da.Array)


def exact_chunk_rows(rows):
    """2048 * 2^j, the largest not above ``rows`` (2048 at least)."""
    size = LEAF_ROWS
    while size * 2 <= rows:
        size *= 2
    return size


def tree_sum(vectors):
    """The kernels' reduction tree (src_c/gms_reduce.c) over whole
    vectors: a binary counter, the older sum absorbing the newer one of
    equal level, then the stack folded newest to oldest."""
    stack = []
    for v in vectors:
        node, level = np.array(v, dtype=np.float64, copy=True), 0
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            left += node
            node, level = left, level + 1
        stack.append((level, node))
    if not stack:
        return None
    out = stack[-1][1].copy()
    for _, node in reversed(stack[:-1]):
        out = node + out
    return out


SPLIT_EVERY_KEY = "gmscore.split_every"


def split_every():
    """The fan-in of the statistics' reduction tree on the workers: dask
    config ``gmscore.split_every`` (default 32). A power of two, so that
    every group of chunks is a complete subtree of the kernels' tree and
    the fit stays bit-identical to the single-process fit."""
    value = dask.config.get(SPLIT_EVERY_KEY, 32)
    try:
        s = int(value)
    except (TypeError, ValueError):
        s = 0
    if s < 2 or s & (s - 1) or s != value:
        raise ValueError(f"dask config {SPLIT_EVERY_KEY!r} must be a power of two >= 2 (it "
                         f"keeps the fit bit-identical to the single-process fit), got "
                         f"{value!r}; e.g. dask.config.set({{{SPLIT_EVERY_KEY!r}: 16}})")
    return s


def _sum_group(*vectors):
    """One node of the reduction tree, on a worker."""
    return tree_sum(vectors)


def reduction_tree(tasks, combine, fan_in):
    """Delayed: ``tasks`` combined ``fan_in`` consecutive at a time, level
    by level, on the workers; one delayed result. With a power-of-two
    fan-in and the kernels' binary counter in each node this adds in the
    same order as one ``tree_sum`` over all tasks (older + newer at every
    step; only the last group of a level can be partial)."""
    level = list(tasks)
    while len(level) > 1:
        level = [dask.delayed(combine, pure=True)(*level[i:i + fan_in])
                 for i in range(0, len(level), fan_in)]
    return level[0]


def shared_payload(payload):
    """The parameters of one eager pass, for every task of it: scattered to
    every worker once (``client.scatter(..., broadcast=True)``) when a
    distributed client is running, else one key of the graph. Lazy results
    keep the payload in their graph instead: a scattered value has no
    lineage, and a lazy graph may be computed long after."""
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        return dask.delayed(payload, traverse=False)
    try:
        return client.scatter([payload], broadcast=True, hash=False)[0]
    except Exception:  # noqa: BLE001 - a worker lost mid-scatter (CommClosedError, ...)
        # the graph carries it instead: recomputable, so the pass survives
        return dask.delayed(payload, traverse=False)


# Errors a task raises about the data reach the client as themselves; any
# other failure of a compute is the cluster's.
_DATA_ERRORS = (ValueError, TypeError, ArithmeticError)


def compute(*args):
    """dask.compute, with a clear error when the cluster cannot finish
    (workers lost beyond Dask's retries, cluster closed, ...). The callers
    run inside fit's restore-on-failure, so the model is left as it was."""
    try:
        return dask.compute(*args)
    except _DATA_ERRORS:
        raise
    except Exception as exc:
        raise RuntimeError(
            f"the Dask cluster could not finish this pass over X ({type(exc).__name__}: "
            f"{exc}); the model is left as it was. Check the workers (their logs, memory "
            "limits, 'distributed.scheduler.allowed-failures') and call again") from exc


def _aligned_payload(payload):
    """The parameters as a worker received them (unpickled arrays may sit
    at any byte offset of the message), aligned for the kernels."""
    return tuple(aligned(p) if isinstance(p, np.ndarray) else p for p in payload)


def _chunk_estep(X, w, payload, index):
    """One chunk's E-step statistics (the total of its own reducer)."""
    code, means, prec, log_norm, centres = _aligned_payload(payload)
    k, d = centres.shape
    # chunks arriving over the wire can sit at any byte offset
    X = aligned(X)
    w = None if w is None else aligned(w, np.float64)
    red = _kernels.stats_reducer(code, k, d)
    if X.shape[0]:
        try:
            _kernels.estep_into(red, code, X, means, prec, log_norm, w, centres, 1)
        except _kernels.NonFiniteLogLikelihoodError:
            raise ValueError(
                f"EM failed in chunk {index} of X: a sample has a non-finite log-likelihood "
                "under the current parameters (its squared Mahalanobis distance "
                "overflows); scale the input data") from None
    return red.total()


def _chunk_moments(X, w, payload, index):
    """One chunk's weighted moments about a centre (a reducer's total over
    one component with every responsibility 1, as Source._moments forms
    them): BayesianGaussianMixture's default priors, where the chunks live."""
    code, centre = _aligned_payload(payload)
    X = aligned(X)
    w = None if w is None else aligned(w, np.float64)
    red = _kernels.stats_reducer(code, 1, centre.shape[1])
    if X.shape[0]:
        _kernels.accumulate_into(red, code, X, None, None, w, centre, 1)
    return red.total()


def _check_finite_chunk(X, index):
    """On a worker, for the single-pass methods (fit checks once, up front)."""
    if not np.isfinite(X).all():
        raise ValueError(f"chunk {index} of X contains NaN or infinity; remove or impute "
                         "those rows")


def _chunk_rows(X, payload, which, block_id=None):
    """log_prob_rows on one chunk: 0 the log-likelihoods, 1 the
    probabilities, 2 the labels."""
    code, means, prec, log_norm, k = _aligned_payload(payload)
    _check_finite_chunk(X, block_id[0])
    X = aligned(X)
    n = X.shape[0]
    lse = np.empty(n)
    out = np.empty((n, k)) if which == 1 else None
    lab = np.empty(n, dtype=np.int64) if which == 2 else None
    if n:
        if which == 2:   # labels: no log-sum-exp (lse gets the row maxima)
            _kernels.log_prob_labels(code, X, means, prec, log_norm, lse, lab, 1)
        else:
            _kernels.log_prob_rows(code, X, means, prec, log_norm, lse, out, lab, 1)
        if not np.isfinite(lse).all():
            raise ValueError(
                f"some samples in chunk {block_id[0]} of X have no finite log-likelihood "
                "under the model (their squared Mahalanobis distance overflows float64); "
                "scale the input data")
    return (lse, out, lab)[which]


def _finite_rows(X):
    return np.array([np.isfinite(X).all()])


def _hmm_chunk(X, offsets, payload, index):
    """One chunk of whole sequences on a worker: the model's own local
    E-step (ChainStats) or inference ('score', 'posteriors', 'viterbi')."""
    model, what, arg = _aligned_payload(payload)
    if what != "estep":
        _check_finite_chunk(X, index)
    for name, value in list(vars(model).items()):   # its parameters, unpickled
        if isinstance(value, np.ndarray):
            vars(model)[name] = aligned(value)
    source = ArraySource(aligned(X), None, aligned(offsets, np.int64), 1)
    with single_threaded_blas():
        if what == "estep":
            return model._estep_about(source, arg)
        if what == "viterbi":
            return model.decode(source, algorithm="viterbi")
        return model._score(source, None, what == "posteriors")[:2]


def _vector(stats):
    em = stats.emissions
    parts = [stats.start, stats.trans.ravel(), [stats.loglik]]
    if em is not None:
        parts += [em.nk, em.s1.ravel(), em.s2.ravel(), [em.loglik, em.weight_sum, em.count]]
    return np.concatenate(parts)


def _chain_part(stats):
    """A chunk's ChainStats as (summed vector, per-sequence log-likelihoods,
    the layout needed to rebuild it)."""
    em = stats.emissions
    layout = (stats.n_components, None if em is None else (em.kind, em.centres, em.s2.shape))
    return _vector(stats), stats.seq_loglik, layout


def _sum_chain_group(*parts):
    """One node of the ChainStats' reduction tree, on a worker."""
    return (tree_sum([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            parts[0][2])


def chain_stats_from_part(part):
    """The ChainStats of a (reduced) part."""
    total, seq_ll, (k, em_layout) = part
    start, trans, ll = total[:k], total[k:k + k * k].reshape(k, k), total[k + k * k]
    em = None
    if em_layout is not None:
        kind, centres, s2_shape = em_layout
        kk, d = centres.shape
        rest = total[k + k * k + 1:]
        nk, s1 = rest[:kk], rest[kk:kk + kk * d].reshape(kk, d)
        s2 = rest[kk + kk * d:-3].reshape(s2_shape)
        em = GaussianStats(kind, centres, nk, s1, s2, *rest[-3:])
    return ChainStats(start, trans, seq_ll, em, ll)


def combine_chain_stats(parts):
    """The chunks' ChainStats added in the kernels' tree (the sequences'
    log-likelihoods in order)."""
    return chain_stats_from_part(_sum_chain_group(*[_chain_part(p) for p in parts]))


def _hmm_chunk_stats(X, offsets, payload, index):
    return _chain_part(_hmm_chunk(X, offsets, payload, index))


def _total_as_array(result):
    return np.asarray(result[0], dtype=np.float64)


def _second(result):
    return result[1]


def is_sequence_collection(X):
    """A dask bag of per-sequence arrays, or a list / tuple of delayed (or
    dask) per-sequence arrays."""
    import dask.bag as db

    if isinstance(X, db.Bag):
        return True
    return (isinstance(X, (list, tuple)) and len(X) > 0
            and all(dask.is_dask_collection(x) for x in X))


def _sequence_piece(item, index, bag):
    """On a worker: one list item (a sequence) or one bag partition (a list
    of sequences) as (rows stacked, lengths)."""
    seqs = list(item) if bag else [item]
    arrays = []
    for j, x in enumerate(seqs):
        x = np.asarray(x)
        if x.ndim != 2:
            where = f"sequence {j} of bag partition {index}" if bag else f"sequence {index}"
            raise ValueError(f"{where} has {x.ndim} dimensions; every sequence must be a 2-D "
                             "array (n_frames, n_features)")
        arrays.append(x)
    if not arrays:
        return np.empty((0, 0)), np.zeros(0, dtype=np.int64)
    widths = {a.shape[1] for a in arrays}
    if len(widths) > 1:
        raise ValueError(f"the sequences of {'bag partition ' if bag else 'item '}{index} "
                         f"have different numbers of features {sorted(widths)}")
    return np.concatenate(arrays), np.array([a.shape[0] for a in arrays], dtype=np.int64)


def _piece_layout(piece):
    X, lengths = piece
    return lengths, X.shape[1], X.dtype.str


def _piece_rows(piece):
    return piece[0]


def sequences_as_array(X):
    """(dask array of all frames, lengths) for a bag or list of per-sequence
    arrays; one pass on the workers learns the sequences' shapes."""
    import dask.bag as db

    bag = isinstance(X, db.Bag)
    items = X.to_delayed() if bag else list(X)
    pieces = [dask.delayed(_sequence_piece)(item, i, bag) for i, item in enumerate(items)]
    layouts = compute(*[dask.delayed(_piece_layout)(p) for p in pieces])
    widths = {d for lengths, d, _ in layouts if len(lengths)}
    if not widths:
        raise ValueError("X holds no sequence; give at least one 2-D array")
    if len(widths) > 1:
        first = next(i for i, (lengths, d, _) in enumerate(layouts)
                     if len(lengths) and d != min(widths))
        raise ValueError(f"the sequences have different numbers of features {sorted(widths)} "
                         f"({'bag partition' if bag else 'item'} {first} differs); every "
                         "sequence needs the same features")
    d = widths.pop()
    dtype = np.result_type(*[np.dtype(t) for lengths, _, t in layouts if len(lengths)])
    arrays = [da.from_delayed(dask.delayed(_piece_rows)(p), shape=(int(lengths.sum()), d),
                              dtype=np.dtype(t))
              for p, (lengths, _, t) in zip(pieces, layouts) if len(lengths)]
    lengths = np.concatenate([lengths for lengths, _, _ in layouts])
    return da.concatenate(arrays).astype(dtype), lengths


class DaskSource(Source):
    """A dask array; see the module docstring."""

    distributed = True

    def __init__(self, X, sample_weight=None, n_threads=1, offsets=None, persist=True):
        super().__init__(offsets is not None, n_threads)
        if not isinstance(X, da.Array):
            raise TypeError(f"X is a {type(X).__module__}.{type(X).__name__}; give a "
                            "dask.array.Array (the HMMs also take a dask bag or a list of "
                            "delayed arrays, one per sequence)")
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D dask array (n_samples, n_features), got "
                             f"{X.ndim} dimensions")
        if any(np.isnan(c) for c in X.shape):
            raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first")
        self.dtype = _compute_dtype(X.dtype, "X")
        n, d = (int(s) for s in X.shape)
        rows = exact_chunk_rows(int(max(X.chunks[0])))
        self.offsets = offsets
        if offsets is not None:
            # whole sequences per chunk, at most as many rows as the largest
            # given chunk (not rounded to 2048 x 2^j: a chain's statistics
            # are one leaf per sequence, whatever the chunking)
            cuts = _sequence_cuts(offsets, max(int(max(X.chunks[0])), 1))
            sizes = tuple(int(offsets[b] - offsets[a]) for a, b in zip(cuts, cuts[1:]))
            self._local_offsets = [offsets[a:b + 1] - offsets[a]
                                   for a, b in zip(cuts, cuts[1:])]
            X = X.astype(self.dtype).rechunk((sizes, d))
        else:
            # rows only, equal chunks of whole statistics leaves: bit for
            # bit the single-process fit
            X = X.astype(self.dtype).rechunk((rows, d))
        self.n_samples, self.n_features = n, d
        if sample_weight is not None:
            if is_dask_array(sample_weight):
                sw = sample_weight.astype(np.float64).rechunk((rows,))
            else:
                sw = da.from_array(check_sample_weight(sample_weight, n), chunks=(rows,))
            if sw.shape != (n,):
                raise ValueError(f"sample_weight has shape {sw.shape}, expected ({n},)")
            self.sample_weight = sw.persist() if persist else sw
        else:
            self.sample_weight = None
        # fit reads X many times: persisted once; a single-pass method builds
        # a lazy graph on the user's X and checks the values in its tasks
        self.X = X.persist() if persist else X
        self._single_pass = not persist
        self.total_weight = None
        self._signature = [(int(c), 0) for c in X.chunks[0] if c]
        self._checked = False

    # the statistics of every chunk, on the workers, tree-reduced there
    def reduce_stats(self, func, payload):
        """``func(X_chunk, w_chunk, payload, chunk_index)`` on every chunk
        where it lives, the results added on the workers in a tree of
        fan-in ``split_every()``; one compute, one vector to the client."""
        fan_in = split_every()
        self.check_values()
        params = shared_payload(payload)   # sent to the workers once
        xs = self.X.to_delayed().ravel()
        ws = (self.sample_weight.to_delayed().ravel() if self.sample_weight is not None
              else [None] * len(xs))
        tasks = [dask.delayed(func)(x, w, params, i) for i, (x, w) in enumerate(zip(xs, ws))]
        return compute(reduction_tree(tasks, _sum_group, fan_in))[0]

    def check_values(self):
        """NaN/inf anywhere: an error naming the first chunk (one pass)."""
        if self._checked:
            return
        ok, = compute(self.X.map_blocks(_finite_rows, dtype=bool,
                                        chunks=((1,) * self.X.numblocks[0],), drop_axis=1))
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            start = sum(self.X.chunks[0][:i])
            raise ValueError(f"chunk {i} (rows {start} to {start + self.X.chunks[0][i] - 1}) "
                             "of X contains NaN or infinity; remove or impute those rows")
        self.total_weight = float(self.n_samples)
        if self.sample_weight is not None:
            w = self.sample_weight
            ok, total = compute(((w >= 0) & da.isfinite(w)).all(), w.sum())
            if not ok:
                raise ValueError("sample_weight must be finite and non-negative")
            if not total > 0:
                raise ValueError("sample_weight sums to zero; at least one sample needs a "
                                 "positive weight")
            self.total_weight = float(total)
        self._checked = True

    def _sequence_tasks(self, func, payload, eager=True):
        # eager passes: scattered once; lazy graphs: one key of their own
        params = shared_payload(payload) if eager else dask.delayed(payload, traverse=False)
        xs = self.X.to_delayed().ravel()
        return [dask.delayed(func)(x, off, params, i)
                for i, (x, off) in enumerate(zip(xs, self._local_offsets))]

    def map_sequences(self, payload):
        """A function of each chunk of whole sequences, on the workers,
        the model sent once; one compute, the chunks' results in order."""
        if not self._single_pass:
            self.check_values()
        return compute(*self._sequence_tasks(_hmm_chunk, payload))

    def reduce_chain_stats(self, payload):
        """The HMM E-step: every chunk's ChainStats where it lives, added on
        the workers in a tree of fan-in ``split_every()``; one compute."""
        fan_in = split_every()
        self.check_values()
        tasks = self._sequence_tasks(_hmm_chunk_stats, payload)
        return chain_stats_from_part(compute(reduction_tree(tasks, _sum_chain_group,
                                                            fan_in))[0])

    def lazy_sequences(self, payload, k):
        """Lazy inference per chunk of whole sequences ('posteriors' or
        'viterbi'): (total as a 0-d dask array, per-frame dask array
        chunked as the realigned X). The model is copied now, so later
        changes to it do not change these results."""
        payload = copy.deepcopy(payload)
        what = payload[1]
        parts = self._sequence_tasks(_hmm_chunk, payload, eager=False)
        rows = self.X.chunks[0]
        if what == "posteriors":
            frames = [da.from_delayed(dask.delayed(_second)(p), shape=(n, k), dtype=np.float64)
                      for p, n in zip(parts, rows)]
        else:
            frames = [da.from_delayed(dask.delayed(_second)(p), shape=(n,), dtype=np.int64)
                      for p, n in zip(parts, rows)]
        totals = [da.from_delayed(dask.delayed(_total_as_array)(p), shape=(), dtype=np.float64)
                  for p in parts]
        return da.stack(totals).sum(), da.concatenate(frames)

    def map_rows(self, payload, which, k):
        # a copy: later changes to the model do not change these lazy results
        params = dask.delayed(copy.deepcopy(payload), traverse=False)
        chunks = self.X.chunks[0]
        if which == 1:
            return self.X.map_blocks(_chunk_rows, params, which, dtype=np.float64,
                                     chunks=(chunks, (k,)))
        dtype = np.int64 if which == 2 else np.float64
        return self.X.map_blocks(_chunk_rows, params, which, dtype=dtype, chunks=(chunks,),
                                 drop_axis=1)

    def ensure_scanned(self):
        """The first pass of a fit: the values' checks, on the workers."""
        self.check_values()

    # the local paths (initialisation samples, re-seeding): chunk by chunk
    def _raw_chunks(self, first):
        start = 0
        xs = self.X.to_delayed().ravel()
        ws = (self.sample_weight.to_delayed().ravel() if self.sample_weight is not None
              else [None] * len(xs))
        for i, (x, w) in enumerate(zip(xs, ws)):
            X, W = compute(x, w)
            X = self._check_chunk(X, i, start, first)
            off = None if self.offsets is None else self._local_offsets[i]
            yield Chunk(i, start, X, None if W is None else aligned(W, np.float64), off)
            start += X.shape[0]

    def take(self, rows):
        rows = np.asarray(rows, dtype=np.intp)
        # results arrive over the wire at any byte offset: aligned copies
        X, w = compute(self.X[rows], None if self.sample_weight is None
                       else self.sample_weight[rows])
        X = aligned(X, self.dtype)
        w = None if w is None else aligned(w, np.float64)
        return X, w
