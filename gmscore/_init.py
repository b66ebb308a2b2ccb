"""Initial responsibilities for EM: k-means, k-means++, random and
random_from_data, turned straight into sufficient statistics so that no
n_samples x n_components array is held (the dense 'random' responsibilities
are drawn and folded in chunks)."""
import numpy as np

from . import _kernels

# Rows of random responsibilities drawn per chunk for init_params='random'.
_RANDOM_CHUNK = 65536
# Rows (about) whose mean is Lloyd's shift.
_SHIFT_ROWS = 4096


def kmeans_plusplus(X, n_clusters, random_state, sample_weight, n_threads):
    """Greedy k-means++ seeding as scikit-learn's ``kmeans_plusplus``
    (2 + int(log k) local trials per centre, the same random draws), one
    kernel pass over X per centre. Returns (centers (k, d) float64,
    indices (k,))."""
    n = X.shape[0]
    n_trials = 2 + int(np.log(n_clusters))
    # scikit-learn draws the first centre with choice(n, p=w / w.sum()),
    # one uniform, then n_trials uniforms per further centre.
    total = float(n) if sample_weight is None else float(np.sum(sample_weight))
    first = _kernels.kmeans_choice(sample_weight, n, total, random_state.random_sample())
    uniforms = random_state.uniform(size=(n_clusters - 1) * n_trials)
    indices = np.empty(n_clusters, dtype=np.int64)
    _kernels.kmeanspp(X, n_clusters, n_trials, sample_weight, first, uniforms, indices,
                      n_threads)
    indices = indices.astype(np.intp, copy=False)
    return X[indices].astype(np.float64), indices


def _relocate_empty(X, sample_weight, old_centers, labels, sums, counts, n_threads):
    """scikit-learn's empty-cluster relocation: each empty centre takes one
    of the rows farthest from their own centre (in argpartition's order),
    which leaves its old centre's sums. Labels are left as they are."""
    empty = np.flatnonzero(counts == 0)
    dist = np.empty(X.shape[0])
    _kernels.kmeans_label_dist(X, old_centers, labels, dist, n_threads)
    if dist.max() == 0:  # more centres than distinct rows: nothing to move
        return
    far = np.argpartition(dist, -empty.size)[:-empty.size - 1:-1]
    for new_id, row in zip(empty, far):
        w = 1.0 if sample_weight is None else float(sample_weight[row])
        old_id = labels[row]
        x = X[row].astype(np.float64) * w
        sums[old_id] -= x
        sums[new_id] = x
        counts[new_id] = w
        counts[old_id] -= w


# Status of _kernels.kmeans_bounded_run when a centre was left empty.
_EMPTY = 3


def _bounds_pay(k, d):
    """Whether Hamerly's bounds are expected to make Lloyd faster. A full
    pass streams X once and computes k x d products per row; a bounded pass
    streams X too (the sums are recomputed in full, for their bits) and
    8 bytes of bounds a row, but mostly skips the products. With few, short
    rows the products cost less than the extra traffic (measured: k = d = 8
    is slower bounded, k = 8, d = 16 and k = d = 16 faster). The results do
    not depend on this choice."""
    return k >= 4 and k * d >= 128


def lloyd(X, centers, sample_weight, n_threads, *, max_iter=300, tol_abs=0.0, bounded=None):
    """Lloyd iterations from ``centers`` as scikit-learn's
    ``_kmeans_single_lloyd``: stops when the labels no longer change or the
    squared centre shift is at most ``tol_abs``; empty clusters are
    relocated as scikit-learn does, and after a shift-based stop the labels
    are recomputed for the final centres. The iterations run in one kernel
    call; with ``bounded`` it skips, with Hamerly's bounds, the distance
    computations that provably cannot change a label, so the labels and
    centres are bitwise those of ``bounded=False`` (every distance
    computed); None picks the faster one for the shape. Returns (labels,
    centers)."""
    n, d = X.shape
    k = centers.shape[0]
    if bounded is None:
        bounded = _bounds_pay(k, d)
    centers = np.array(centers, dtype=np.float64, order="C")
    # Distances are formed on shifted data so that offset data keeps its
    # digits (scikit-learn centres X). The shift only moves rounding, so the
    # mean of an evenly strided sample of rows does, without the cost of a
    # full column-mean pass (numpy's axis-0 mean is slow on tall arrays).
    shift = X[::max(1, n // _SHIFT_ROWS)].mean(axis=0, dtype=np.float64)
    labels = np.full(n, -1, dtype=np.int64)
    bounds = np.empty((n, 2), dtype=np.float32)  # Hamerly's upper, lower bound per row
    sums = np.empty((k, d))
    counts = np.empty(k)
    info = np.zeros(4, dtype=np.int64)
    # The kernel returns only when a pass leaves a centre empty: relocate
    # (rare) and let it finish that iteration.
    while _kernels.kmeans_bounded_run(X, centers, shift, sample_weight, labels, bounds,
                                      sums, counts, max_iter, tol_abs, bounded, info,
                                      n_threads) == _EMPTY:
        _relocate_empty(X, sample_weight, centers, labels, sums, counts, n_threads)
    return labels, centers


def kmeans(X, n_clusters, random_state, sample_weight, n_threads, *,
           max_iter=300, tol=1e-4, feature_variance=None):
    """Lloyd's k-means from k-means++ seeds, as scikit-learn's KMeans with
    n_init=1 (its tolerance: ``tol`` times the mean feature variance; 0
    without one). Returns (labels, centers)."""
    centers, _ = kmeans_plusplus(X, n_clusters, random_state, sample_weight, n_threads)
    tol_abs = tol * (feature_variance if feature_variance is not None else 0.0)
    return lloyd(X, centers, sample_weight, n_threads, max_iter=max_iter, tol_abs=tol_abs)


def rows_statistics(rows, labels, sample_weight, cov_code, n_threads):
    """Statistics of one-hot responsibilities on the given rows (row i
    belongs to component labels[i]), centred at the rows themselves:
    (nk, s1, s2, centres, True)."""
    rows = np.ascontiguousarray(rows)
    k, d = rows.shape
    nk, s1 = np.empty(k), np.empty((k, d))
    s2 = np.empty(_kernels.s2_size(cov_code, k, d))
    w = None if sample_weight is None else np.ascontiguousarray(sample_weight)
    centres = rows.astype(np.float64)
    _kernels.accumulate(cov_code, rows, None, np.asarray(labels, dtype=np.int64), w,
                        centres, nk, s1, s2, n_threads)
    return nk, s1, s2, centres, True


def initial_statistics(X, init_params, n_components, random_state, sample_weight,
                       cov_code, global_centre, feature_variance, n_threads):
    """Sufficient statistics (nk, s1, s2, centres, one_row_each) of the
    initial responsibilities chosen by ``init_params``.

    ``one_row_each`` is True when the responsibilities cover one row per
    component (k-means++ and random_from_data): those statistics have no
    within-component scatter.
    """
    n, d = X.shape
    k = n_components
    nk = np.empty(k)
    s1 = np.empty((k, d))
    s2 = np.empty(_kernels.s2_size(cov_code, k, d))

    if init_params == "kmeans":
        labels, centres = kmeans(X, k, random_state, sample_weight, n_threads,
                                 feature_variance=feature_variance)
        _kernels.accumulate(cov_code, X, None, labels, sample_weight, centres,
                            nk, s1, s2, n_threads)
        return nk, s1, s2, centres, False

    if init_params in ("k-means++", "random_from_data"):
        if init_params == "k-means++":
            _, indices = kmeans_plusplus(X, k, random_state, sample_weight, n_threads)
        else:
            indices = random_state.choice(n, size=k, replace=False)
        w = None if sample_weight is None else sample_weight[indices]
        return rows_statistics(X[indices], np.arange(k), w, cov_code, n_threads)

    # 'random': uniform responsibilities, normalised per row, drawn in chunks
    # (same stream as one (n, k) draw) and folded in chunk order.
    centres = np.repeat(global_centre[None, :], k, axis=0)
    nk[:] = 0.0
    s1[:] = 0.0
    s2[:] = 0.0
    c_nk, c_s1, c_s2 = np.empty_like(nk), np.empty_like(s1), np.empty_like(s2)
    for start in range(0, n, _RANDOM_CHUNK):
        stop = min(start + _RANDOM_CHUNK, n)
        resp = random_state.uniform(size=(stop - start, k))
        resp /= resp.sum(axis=1, keepdims=True)
        w = None if sample_weight is None else sample_weight[start:stop]
        _kernels.accumulate(cov_code, X[start:stop], resp, None, w, centres,
                            c_nk, c_s1, c_s2, n_threads)
        nk += c_nk
        s1 += c_s1
        s2 += c_s2
    return nk, s1, s2, centres, False


def source_initial_statistics(source, init_params, n_components, cov_type, random_state):
    """The statistics of the initial responsibilities ``init_params``
    chooses on a data source, for the mixtures' initialisations:
    (GaussianStats, data, one_row_each), where ``data`` is the ArraySource
    they were computed on (``source.init_sample``: all rows of an
    in-memory source, a uniform sample of a streamed one; a streamed
    'random_from_data' reads just the rows it picks, and for 'tied' then
    also draws the sample, whose moments the caller may need)."""
    from ._core.covariance import COVARIANCE
    from ._core.sources import ArraySource
    from ._core.stats import GaussianStats

    code = COVARIANCE[cov_type].code
    if init_params == "random_from_data" and not source.in_memory:
        drawn = random_state.choice(source.n_samples, size=n_components, replace=False)
        order = np.argsort(drawn)          # take() reads sorted rows
        X, w = source.take(drawn[order])
        back = np.argsort(order)           # components in the order drawn
        X, w = X[back], None if w is None else w[back]
        data = ArraySource(X, w, None, source.n_threads)
        nk, s1, s2, centres, one_row_each = rows_statistics(
            X, np.arange(n_components), w, code, source.n_threads)
        data = source.init_sample(random_state) if cov_type == "tied" else data
    else:
        data = source.init_sample(random_state)
        nk, s1, s2, centres, one_row_each = initial_statistics(
            data.X, init_params, n_components, random_state, data.sample_weight, code,
            data.centre if init_params == "random" else None,
            data.mean_variance if init_params == "kmeans" else None,
            data.n_threads,
        )
    leaf = np.concatenate([nk, s1.ravel(), s2, [0.0, nk.sum()]])
    return GaussianStats.from_leaf(cov_type, centres, leaf, 0), data, one_row_each
