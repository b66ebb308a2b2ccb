"""Fitting and predicting on Dask arrays: the only module that imports dask.

A ``dask.array.Array`` given to ``GaussianMixture.fit`` (and ``score``,
``score_samples``, ``predict``, ``predict_proba``, ``bic``, ``aic``,
``accumulate``) becomes a DaskSource:

- X is rechunked along rows only, to equal chunks of 2048 * 2^j rows (the
  largest such size not above its own chunks; 2048 rows are 8 of the
  kernels' 256-row blocks, one leaf of their statistics tree) and a single
  chunk of columns, and persisted once before the EM loop;
- each E-step sends the current parameters to the workers once (one
  delayed object that every chunk's task shares), runs the compiled E-step
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


def _aligned_payload(payload):
    """The parameters as a worker received them (unpickled arrays may sit
    at any byte offset of the message), aligned for the kernels."""
    return tuple(aligned(p) if isinstance(p, np.ndarray) else p for p in payload)


def _chunk_estep(X, w, payload):
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
            return None
    return red.total()


def _chunk_rows(X, payload, which):
    """log_prob_rows on one chunk: 0 the log-likelihoods, 1 the
    probabilities, 2 the labels."""
    code, means, prec, log_norm, k = _aligned_payload(payload)
    X = aligned(X)
    n = X.shape[0]
    lse = np.empty(n)
    out = np.empty((n, k)) if which == 1 else None
    lab = np.empty(n, dtype=np.int64) if which == 2 else None
    if n:
        _kernels.log_prob_rows(code, X, means, prec, log_norm, lse, out, lab, 1)
        if not np.isfinite(lse).all():
            raise ValueError(
                "some samples of X have no finite log-likelihood under the model (their "
                "squared Mahalanobis distance overflows float64); scale the input data")
    return (lse, out, lab)[which]


def _finite_rows(X):
    return np.array([np.isfinite(X).all()])


def _hmm_chunk(X, offsets, payload):
    """One chunk of whole sequences on a worker: the model's own local
    E-step (ChainStats) or inference ('score', 'posteriors', 'viterbi')."""
    model, what, arg = _aligned_payload(payload)
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


def combine_chain_stats(parts):
    """The chunks' ChainStats added in the kernels' tree (the sequences'
    log-likelihoods in order)."""
    first = parts[0]
    k = first.n_components
    total = tree_sum([_vector(p) for p in parts])
    start, trans, ll = total[:k], total[k:k + k * k].reshape(k, k), total[k + k * k]
    em = None
    if first.emissions is not None:
        e = first.emissions
        kk, d = e.centres.shape
        rest = total[k + k * k + 1:]
        nk, s1 = rest[:kk], rest[kk:kk + kk * d].reshape(kk, d)
        s2 = rest[kk + kk * d:-3].reshape(e.s2.shape)
        em = GaussianStats(e.kind, e.centres, nk, s1, s2, *rest[-3:])
    return ChainStats(start, trans, np.concatenate([p.seq_loglik for p in parts]), em, ll)


class DaskSource(Source):
    """A dask array; see the module docstring."""

    distributed = True

    def __init__(self, X, sample_weight=None, n_threads=1, offsets=None):
        super().__init__(offsets is not None, n_threads)
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
            # whole sequences per chunk (about as many rows as before)
            cuts = _sequence_cuts(offsets, rows)
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
            self.sample_weight = sw.persist()
        else:
            self.sample_weight = None
        self.X = X.persist()
        self.total_weight = None
        self._signature = [(int(c), 0) for c in X.chunks[0] if c]
        self._checked = False

    # the statistics of every chunk, on the workers, in one compute
    def map_stats(self, func, payload):
        self.check_values()
        params = dask.delayed(payload, traverse=False)   # sent once
        xs = self.X.to_delayed().ravel()
        ws = (self.sample_weight.to_delayed().ravel() if self.sample_weight is not None
              else [None] * len(xs))
        tasks = [dask.delayed(func)(x, w, params) for x, w in zip(xs, ws)]
        return dask.compute(*tasks)

    def check_values(self):
        """NaN/inf anywhere: an error naming the first chunk (one pass)."""
        if self._checked:
            return
        ok = self.X.map_blocks(_finite_rows, dtype=bool, chunks=((1,) * self.X.numblocks[0],),
                               drop_axis=1).compute()
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            start = sum(self.X.chunks[0][:i])
            raise ValueError(f"chunk {i} (rows {start} to {start + self.X.chunks[0][i] - 1}) "
                             "of X contains NaN or infinity; remove or impute those rows")
        self.total_weight = float(self.n_samples)
        if self.sample_weight is not None:
            w = self.sample_weight
            ok, total = dask.compute(((w >= 0) & da.isfinite(w)).all(), w.sum())
            if not ok:
                raise ValueError("sample_weight must be finite and non-negative")
            if not total > 0:
                raise ValueError("sample_weight sums to zero; at least one sample needs a "
                                 "positive weight")
            self.total_weight = float(total)
        self._checked = True

    def map_sequences(self, payload):
        """A function of each chunk of whole sequences, on the workers,
        the model sent once; one compute."""
        self.check_values()
        params = dask.delayed(payload, traverse=False)
        xs = self.X.to_delayed().ravel()
        tasks = [dask.delayed(_hmm_chunk)(x, off, params)
                 for x, off in zip(xs, self._local_offsets)]
        return dask.compute(*tasks)

    def map_rows(self, payload, which, k):
        params = dask.delayed(payload, traverse=False)
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
            X, W = dask.compute(x, w)
            X = self._check_chunk(X, i, start, first)
            off = None if self.offsets is None else self._local_offsets[i]
            yield Chunk(i, start, X, None if W is None else aligned(W, np.float64), off)
            start += X.shape[0]

    def take(self, rows):
        rows = np.asarray(rows, dtype=np.intp)
        # results arrive over the wire at any byte offset: aligned copies
        X = aligned(self.X[rows].compute(), self.dtype)
        w = None if self.sample_weight is None else aligned(
            self.sample_weight[rows].compute(), np.float64)
        return X, w
