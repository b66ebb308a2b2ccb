"""Initial responsibilities for EM: k-means, k-means++, random and
random_from_data, turned straight into sufficient statistics so that no
n_samples x n_components array is held (the dense 'random' responsibilities
are drawn and folded in chunks)."""
import numpy as np

from . import _kernels

# Rows of random responsibilities drawn per chunk for init_params='random'.
_RANDOM_CHUNK = 65536


def kmeans_plusplus(X, n_clusters, random_state, sample_weight, n_threads):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, with 2 + log k local
    trials per centre). Returns (centers (k, d) float64, indices (k,))."""
    n = X.shape[0]
    n_trials = 2 + int(np.log(n_clusters))
    indices = np.empty(n_clusters, dtype=np.intp)
    # choice() with explicit probabilities (uniform when unweighted) consumes
    # the random stream like scikit-learn's seeding does.
    p = np.full(n, 1.0 / n) if sample_weight is None else sample_weight / sample_weight.sum()
    indices[0] = random_state.choice(n, p=p)
    del p
    closest = np.empty(n)
    potential = _kernels.sqdist_potential(
        X, X[indices[0]].astype(np.float64), None, sample_weight, closest, n_threads
    )
    for c in range(1, n_clusters):
        targets = random_state.uniform(size=n_trials) * potential
        cumulative = np.cumsum(closest if sample_weight is None else sample_weight * closest)
        candidates = np.minimum(np.searchsorted(cumulative, targets), n - 1)
        pots = [
            _kernels.sqdist_potential(
                X, X[i].astype(np.float64), closest, sample_weight, None, n_threads
            )
            for i in candidates
        ]
        best = int(np.argmin(pots))
        indices[c] = candidates[best]
        potential = _kernels.sqdist_potential(
            X, X[indices[c]].astype(np.float64), closest, sample_weight, closest, n_threads
        )
    return X[indices].astype(np.float64), indices


def kmeans(X, n_clusters, random_state, sample_weight, n_threads, *,
           max_iter=300, tol=1e-4, feature_variance=None):
    """Lloyd's k-means from k-means++ seeds. Returns (labels, centers).

    Stops when the labels no longer change or the centres move less than
    ``tol`` times the mean feature variance (as scikit-learn does). An empty
    cluster keeps its previous centre.
    """
    n, d = X.shape
    centers, _ = kmeans_plusplus(X, n_clusters, random_state, sample_weight, n_threads)
    tol_abs = tol * (feature_variance if feature_variance is not None else 0.0)
    labels = np.full(n, -1, dtype=np.int64)
    new_labels = np.empty(n, dtype=np.int64)
    sums = np.empty((n_clusters, d))
    counts = np.empty(n_clusters)
    for _ in range(max_iter):
        _kernels.kmeans_step(X, centers, sample_weight, new_labels, sums, counts, n_threads)
        filled = counts > 0
        new_centers = centers.copy()
        new_centers[filled] = sums[filled] / counts[filled, None]
        shift = float(((new_centers - centers) ** 2).sum())
        same = np.array_equal(labels, new_labels)
        labels, new_labels = new_labels, labels
        centers = new_centers
        if same or shift <= tol_abs:
            break
    # Labels consistent with the final centres.
    _kernels.kmeans_step(X, centers, sample_weight, labels, sums, counts, n_threads)
    return labels, centers


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
