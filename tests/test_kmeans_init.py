"""k-means initialisation kernels against scikit-learn and brute force.

Seeding (k-means++), Lloyd iterations and the default GaussianMixture
initialisation are compared with scikit-learn's ``kmeans_plusplus``,
``KMeans(n_init=1)`` and ``GaussianMixture`` from identical random states;
the kernels against direct numpy formulas; and every result for thread-count
invariance (bitwise).
"""
import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans, kmeans_plusplus as sk_kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gmscore import GaussianMixture, _init, _kernels


def _blobs(n, d, k, seed, spread=4.0, offset=0.0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-spread, spread, size=(k, d)) + offset
    labels = rng.randint(k, size=n)
    return (centres[labels] + rng.randn(n, d)).astype(dtype)


DATASETS = {
    # (n, d, k, spread, offset): separated, overlapping, offset, many centres
    "separated": (2000, 4, 5, 8.0, 0.0),
    "overlapping": (3000, 8, 8, 1.5, 0.0),
    "offset": (1500, 3, 4, 4.0, 1e4),
    "many_centres": (1200, 2, 30, 4.0, 0.0),
    "wide": (1000, 16, 16, 3.0, 0.0),
    "one_centre": (300, 3, 1, 1.0, 0.0),
}


def _data(name, dtype=np.float64, seed=0):
    n, d, k, spread, offset = DATASETS[name]
    return _blobs(n, d, k, seed, spread, offset, dtype), k


def _sk_tol(X, tol=1e-4):
    return float(np.mean(np.var(X, axis=0))) * tol


# ------------------------------------------------------------------ seeding
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("seed", [0, 7])
def test_kmeans_plusplus_matches_sklearn(name, dtype, weighted, seed):
    X, k = _data(name, dtype, seed)
    w = np.random.RandomState(seed + 1).uniform(0.1, 3.0, size=X.shape[0]) if weighted else None
    sk_centres, sk_idx = sk_kmeans_plusplus(X, k, sample_weight=w,
                                            random_state=np.random.RandomState(seed))
    rs = np.random.RandomState(seed)
    centres, idx = _init.kmeans_plusplus(X, k, rs, w, 2)
    np.testing.assert_array_equal(idx, sk_idx)
    np.testing.assert_array_equal(centres, sk_centres.astype(np.float64))
    # the same amount of the random stream is consumed
    sk_rs = np.random.RandomState(seed)
    sk_kmeans_plusplus(X, k, sample_weight=w, random_state=sk_rs)
    assert rs.random_sample() == sk_rs.random_sample()


def test_kmeans_plusplus_with_duplicate_rows_matches_sklearn():
    # more centres than distinct rows: the potential reaches 0
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 2.0], [5.0, -1.0]]), 40, axis=0)
    X = X[np.random.RandomState(3).permutation(X.shape[0])]
    sk_centres, sk_idx = sk_kmeans_plusplus(X, 5, random_state=np.random.RandomState(1))
    centres, idx = _init.kmeans_plusplus(X, 5, np.random.RandomState(1), None, 2)
    np.testing.assert_array_equal(idx, sk_idx)
    np.testing.assert_array_equal(centres, sk_centres)


def _brute_kmeans_plusplus(X, k, rs, w):
    """Greedy k-means++ in plain numpy (direct squared differences, the
    cumulative sum of the closest distances searched for each candidate's
    uniform), drawing from rs as scikit-learn does."""
    X = X.astype(np.float64)
    w = np.ones(X.shape[0]) if w is None else w
    n_trials = 2 + int(np.log(k))
    idx = [rs.choice(X.shape[0], p=w / w.sum())]
    closest = ((X - X[idx[0]]) ** 2).sum(axis=1)
    for _ in range(1, k):
        cand = np.searchsorted(np.cumsum(w * closest), rs.uniform(size=n_trials) *
                               (w * closest).sum())
        cand = np.minimum(cand, X.shape[0] - 1)
        dist = np.minimum(closest, ((X[None, :, :] - X[cand][:, None, :]) ** 2).sum(axis=2))
        best = int(np.argmin((dist * w).sum(axis=1)))
        idx.append(cand[best])
        closest = dist[best]
    return np.array(idx)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("case", ["tight_blobs", "duplicates", "wide_offset"])
def test_kmeans_plusplus_skipping_rows_matches_sklearn_and_brute_force(case, dtype, weighted):
    # Separated blobs let most seeding passes skip most rows (their nearest
    # centre is far from every candidate); the indices must stay those of a
    # direct numpy seeding (and scikit-learn's), whatever the thread count.
    rng = np.random.RandomState(5)
    if case == "tight_blobs":
        k, X = 40, _blobs(6000, 3, 40, 11, spread=60.0)
    elif case == "duplicates":
        k = 12
        X = np.repeat(rng.uniform(-30, 30, size=(10, 4)), 300, axis=0)
        X[::7] += rng.randn(X[::7].shape[0], 4) * 0.01
        X = X[rng.permutation(X.shape[0])]
    else:
        k, X = 20, _blobs(5000, 12, 20, 3, spread=40.0, offset=1e3)
    X = X.astype(dtype)
    w = rng.uniform(0.1, 3.0, size=X.shape[0]) if weighted else None
    brute = _brute_kmeans_plusplus(X, k, np.random.RandomState(2), w)
    if dtype == np.float64:
        # (scikit-learn computes float32 data's distances in float32)
        _, sk_idx = sk_kmeans_plusplus(X, k, sample_weight=w,
                                       random_state=np.random.RandomState(2))
        np.testing.assert_array_equal(brute, sk_idx)
    for n_threads in (1, 2):
        _, idx = _init.kmeans_plusplus(X, k, np.random.RandomState(2), w, n_threads)
        np.testing.assert_array_equal(idx, brute)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n, d, k", [
    (10, 3, 3),        # fewer rows than one 16-row tile
    (4099, 17, 60),    # 6 trials: a group of four candidates and two more; partial tiles
    (2000, 5, 450),    # 8 trials: two groups of four
    (700, 24, 9),      # a partial last block (700 = 2 * 256 + 188 rows)
])
def test_kmeans_plusplus_tile_edges_match_brute_force(n, d, k, dtype, weighted):
    # The seeding distances go through 16-row tiles and the candidates'
    # sums four at a time: shapes at and around those edges.
    X = _blobs(n, d, k, n + d, 3.0, offset=50.0, dtype=dtype)
    w = np.random.RandomState(d).uniform(0.1, 3.0, size=n) if weighted else None
    brute = _brute_kmeans_plusplus(X, k, np.random.RandomState(k), w)
    if dtype == np.float64:
        # (scikit-learn computes float32 data's distances in float32)
        _, sk_idx = sk_kmeans_plusplus(X, k, sample_weight=w,
                                       random_state=np.random.RandomState(k))
        np.testing.assert_array_equal(brute, sk_idx)
    for n_threads in (1, 2):
        centres, idx = _init.kmeans_plusplus(X, k, np.random.RandomState(k), w, n_threads)
        np.testing.assert_array_equal(idx, brute)
        np.testing.assert_array_equal(centres, X[brute].astype(np.float64))


def test_kmeans_plusplus_zero_weights_never_chosen():
    X, k = _data("separated")
    w = np.ones(X.shape[0])
    w[::2] = 0.0
    _, idx = _init.kmeans_plusplus(X, k, np.random.RandomState(0), w, 2)
    assert np.all(w[idx] > 0)
    _, sk_idx = sk_kmeans_plusplus(X, k, sample_weight=w, random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(idx, sk_idx)


@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_choice_is_randomstate_choice(weighted):
    rng = np.random.RandomState(5)
    for n in (1, 2, 7, 1000):
        w = rng.uniform(0.0, 2.0, size=n) if weighted else None
        if weighted:
            w[0] = 1.0  # never all zero
        p = np.full(n, 1.0 / n) if w is None else w / w.sum()
        total = float(n) if w is None else float(w.sum())
        for seed in range(20):
            expected = np.random.RandomState(seed).choice(n, p=p)
            u = np.random.RandomState(seed).random_sample()
            assert _kernels.kmeans_choice(w, n, total, u) == expected


# -------------------------------------------------------------------- Lloyd
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("seed", [0, 3])
def test_kmeans_matches_sklearn_kmeans_float64(name, weighted, seed):
    X, k = _data(name, np.float64, seed)
    w = np.random.RandomState(seed + 2).uniform(0.5, 2.0, size=X.shape[0]) if weighted else None
    sk = KMeans(k, n_init=1, random_state=np.random.RandomState(seed)).fit(X, sample_weight=w)
    labels, centres = _init.kmeans(X, k, np.random.RandomState(seed), w, 2,
                                   feature_variance=float(np.mean(np.var(X, axis=0))))
    np.testing.assert_array_equal(labels, sk.labels_)
    scale = max(1.0, float(np.abs(X).max()))
    np.testing.assert_allclose(centres, sk.cluster_centers_, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("name", ["separated", "offset", "wide"])
def test_kmeans_matches_sklearn_kmeans_float32(name):
    # float32 Lloyd: scikit-learn sums in float32, we in double; on
    # separated data the labels agree and the centres to float32 rounding
    X, k = _data(name, np.float32, 1)
    sk = KMeans(k, n_init=1, random_state=np.random.RandomState(1)).fit(X)
    labels, centres = _init.kmeans(X, k, np.random.RandomState(1), None, 2,
                                   feature_variance=float(np.mean(np.var(X, axis=0))))
    np.testing.assert_array_equal(labels, sk.labels_)
    scale = max(1.0, float(np.abs(X).max()))
    np.testing.assert_allclose(centres, sk.cluster_centers_, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_relocates_empty_clusters_like_sklearn(weighted):
    X, _ = _data("overlapping", np.float64, 4)
    w = np.random.RandomState(9).uniform(0.5, 2.0, size=X.shape[0]) if weighted else None
    init = X[[0, 10, 20, 30, 40]].copy()
    init[1] = 1e3          # no row is nearest: empty in the first step
    init[3] = -1e3
    sk = KMeans(5, init=init, n_init=1).fit(X, sample_weight=w)
    labels, centres = _init.lloyd(X, init, w, 2, tol_abs=_sk_tol(X))
    assert np.abs(centres).max() < 100  # relocated onto the data
    np.testing.assert_array_equal(labels, sk.labels_)
    np.testing.assert_allclose(centres, sk.cluster_centers_, rtol=0, atol=1e-12)


def test_lloyd_more_centres_than_distinct_rows_like_sklearn():
    # nothing to relocate (every distance 0): an empty centre copies the
    # heaviest one in centre order, as scikit-learn's _average_centers does
    # (centre 0, before it, gets the heaviest one's sums). The data mean is
    # 0 and every average exact, so scikit-learn's centring rounds nothing
    # (with rounding its distances would not all be 0).
    X = np.repeat(np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]), 20, axis=0)
    init = np.array([[9.0, 9.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [-9.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = KMeans(5, init=init, n_init=1).fit(X)
    labels, centres = _init.lloyd(X, init, None, 2, tol_abs=_sk_tol(X))
    np.testing.assert_array_equal(labels, sk.labels_)
    np.testing.assert_allclose(centres, sk.cluster_centers_, rtol=0, atol=1e-12)


def test_lloyd_stops_at_max_iter_like_sklearn():
    X, k = _data("overlapping", np.float64, 2)
    init = X[:k].copy()
    sk = KMeans(k, init=init, n_init=1, max_iter=2, tol=0.0).fit(X)
    labels, centres = _init.lloyd(X, init, None, 2, max_iter=2, tol_abs=0.0)
    np.testing.assert_array_equal(labels, sk.labels_)
    np.testing.assert_allclose(centres, sk.cluster_centers_, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_kernel_matches_numpy(dtype, weighted):
    rng = np.random.RandomState(11)
    n, d, k = 777, 5, 6           # several blocks and a partial one
    X = (rng.randn(n, d) * 3).astype(dtype)
    C = rng.randn(k, d) * 3
    w = rng.uniform(0.1, 2.0, size=n) if weighted else None
    labels = np.full(n, -1, dtype=np.int64)
    labels[:100] = 0
    sums, counts = np.empty((k, d)), np.empty(k)
    changed = _kernels.kmeans_lloyd(X, C, X.mean(axis=0, dtype=np.float64), w, labels,
                                    sums, counts, 2)
    dist = ((X.astype(np.float64)[:, None, :] - C[None]) ** 2).sum(axis=2)
    expected = dist.argmin(axis=1)
    np.testing.assert_array_equal(labels, expected)
    assert changed == n - np.count_nonzero(expected[:100] == 0)
    ww = np.ones(n) if w is None else w
    np.testing.assert_allclose(counts, np.bincount(expected, ww, minlength=k), rtol=1e-13)
    ref = np.zeros((k, d))
    np.add.at(ref, expected, ww[:, None] * X.astype(np.float64))
    np.testing.assert_allclose(sums, ref, rtol=1e-12, atol=1e-12)
    # labels only: sums untouched, nothing changes on a second call
    sums[:] = 7.0
    assert _kernels.kmeans_lloyd(X, C, np.zeros(d), w, labels, None, None, 2) == 0
    assert np.all(sums == 7.0)
    out = np.empty(n)
    _kernels.kmeans_label_dist(X, C, labels, out, 2)
    np.testing.assert_allclose(out, dist[np.arange(n), expected], rtol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 7, 8, 9, 31, 32, 33])
@pytest.mark.parametrize("k", [1, 2, 3, 9, 17])
def test_lloyd_products_over_feature_and_centre_counts(d, k):
    # rows up to 32 features take gmscore's own products (tiles of 32 rows,
    # centres in pairs), longer ones BLAS: every tail of both, against the
    # exact nearest centre, and the bounded pass (gathered rows) bit for bit
    rng = np.random.RandomState(d * 100 + k)
    n = 300                        # a block and a partial one, a partial tile
    C = rng.randn(k, d) * 4
    X = C[rng.randint(0, k, size=n)] + rng.randn(n, d)
    labels = np.full(n, -1, dtype=np.int64)
    sums, counts = np.empty((k, d)), np.empty(k)
    _kernels.kmeans_lloyd(X, C, X.mean(axis=0), None, labels, sums, counts, 2)
    dist = ((X[:, None, :] - C[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, dist.argmin(axis=1))
    start = X[rng.choice(n, k, replace=False)]
    full = _init.lloyd(X, start, None, 2, bounded=False)
    bounded = _init.lloyd(X, start, None, 2, bounded=True)
    np.testing.assert_array_equal(bounded[0], full[0])
    assert bounded[1].tobytes() == full[1].tobytes()


def test_label_dist_rejects_out_of_range_labels():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError):
        _kernels.kmeans_label_dist(X, np.zeros((2, 2)), np.array([0, 1, 2, 0]),
                                   np.empty(4), 1)


# ------------------------------------------------------- thread invariance
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_thread_count_invariant(dtype, weighted):
    X = _blobs(20000, 6, 7, 5, 2.0, dtype=dtype)   # many blocks and slots
    w = np.random.RandomState(1).uniform(0.2, 2.0, size=X.shape[0]) if weighted else None
    results = []
    for nt in (1, 2, 3):
        c, idx = _init.kmeans_plusplus(X, 7, np.random.RandomState(2), w, nt)
        labels, centres = _init.kmeans(X, 7, np.random.RandomState(2), w, nt,
                                       feature_variance=1.0)
        results.append((c, idx, labels, centres))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()


# ------------------------------------------------------- GaussianMixture
@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_default_gaussian_mixture_init_matches_sklearn(covariance_type, dtype):
    X = _blobs(3000, 4, 5, 8, 5.0, dtype=dtype)
    ours = GaussianMixture(5, covariance_type=covariance_type, max_iter=1, tol=0.0,
                           random_state=3, n_threads=2)
    theirs = SkGaussianMixture(5, covariance_type=covariance_type, max_iter=1, tol=0.0,
                               random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X)
        theirs.fit(X)
    atol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=0, atol=atol)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=0, atol=atol * 10)
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=atol * 10,
                               atol=atol)


# ---------------------------------------------------- bounded (Hamerly) Lloyd
def _full_lloyd_reference(X, centers, w, max_iter=300, tol_abs=0.0):
    """Lloyd with every distance computed: one full kernel pass per
    iteration, relocation, averaging and the stopping rule written out in
    Python (the shift summed in order, as the kernel does)."""
    n, d = X.shape
    k = centers.shape[0]
    centers = np.array(centers, dtype=np.float64)
    shift = X[::max(1, n // _init._SHIFT_ROWS)].mean(axis=0, dtype=np.float64)
    labels = np.full(n, -1, dtype=np.int64)
    sums, counts = np.empty((k, d)), np.empty(k)
    strict = False
    for _ in range(max_iter):
        changed = _kernels.kmeans_lloyd(X, centers, shift, w, labels, sums, counts, 1)
        if not counts.all():
            _init._relocate_empty(X, w, centers, labels, sums, counts, 1)
        new = sums.copy()
        heaviest = int(np.argmax(counts))
        for c in range(k):
            if counts[c] > 0:
                new[c] *= 1.0 / counts[c]
            else:
                new[c] = new[heaviest]
        total = 0.0
        for c in range(k):
            s = 0.0
            for j in range(d):
                s += (centers[c, j] - new[c, j]) ** 2
            total += float(np.sqrt(s)) ** 2
        centers = new
        if changed == 0:
            strict = True
            break
        if total <= tol_abs:
            break
    if not strict:
        _kernels.kmeans_lloyd(X, centers, shift, w, labels, None, None, 1)
    return labels, centers


def _bounded_cases():
    rng = np.random.RandomState(123)
    cases = []
    for i in range(40):
        n = int(rng.choice([1, 2, 5, 255, 256, 257, 700, 2000]))
        d = int(rng.randint(1, 10))
        k = int(rng.randint(1, min(n, 12) + 1))
        spread = float(rng.choice([0.5, 2.0, 6.0]))
        offset = float(rng.choice([0.0, 0.0, 1e4, -3e6]))
        cases.append((i, n, d, k, spread, offset))
    return cases


def _case_data(i, n, d, k, spread, offset):
    rng = np.random.RandomState(1000 + i)
    X = _blobs(n, d, k, i, spread, offset)
    if i % 3 == 0:                       # duplicate rows
        X = X[rng.randint(0, max(1, n // 4), size=n)]
    if i % 5 == 1:                       # a coarse grid: exact ties
        X = np.round(X)
    dtype = np.float32 if i % 4 == 1 else np.float64
    X = np.ascontiguousarray(X, dtype=dtype)
    w = rng.uniform(0.1, 3.0, size=n) if i % 2 else None
    start = X[rng.choice(n, k, replace=False)].astype(np.float64)
    tol = _sk_tol(X) if i % 3 != 2 else 0.0
    return X, w, start, tol


@pytest.mark.parametrize("case", _bounded_cases(), ids=lambda c: f"case{c[0]}")
def test_bounded_lloyd_is_full_lloyd_bitwise(case):
    X, w, start, tol = _case_data(*case)
    ref_labels, ref_centres = _full_lloyd_reference(X, start, w, tol_abs=tol)
    for bounded in (True, False):
        labels, centres = _init.lloyd(X, start, w, 2, tol_abs=tol, bounded=bounded)
        np.testing.assert_array_equal(labels, ref_labels)
        assert centres.tobytes() == ref_centres.tobytes()


@pytest.mark.parametrize("max_iter", [0, 1, 2, 5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bounded_lloyd_max_iter_is_full_lloyd(max_iter, dtype):
    X = _blobs(3000, 5, 9, 2, 1.5, dtype=dtype)   # overlapping: labels keep moving
    start = X[:9].astype(np.float64)
    ref = _full_lloyd_reference(X, start, None, max_iter=max_iter)
    got = _init.lloyd(X, start, None, 2, max_iter=max_iter, bounded=True)
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[1].tobytes() == ref[1].tobytes()


def test_bounded_lloyd_k_equals_n_and_k_one():
    X = _blobs(40, 3, 4, 6)
    for k, start in ((40, X.copy()), (1, X[:1].copy())):
        ref = _full_lloyd_reference(X, start, None)
        got = _init.lloyd(X, start, None, 2, bounded=True)
        np.testing.assert_array_equal(got[0], ref[0])
        assert got[1].tobytes() == ref[1].tobytes()
    # K = N with duplicate rows: every row of a pair is an exact tie
    Xd = np.repeat(X[:20], 2, axis=0)
    got = _init.lloyd(Xd, Xd.copy(), None, 2, bounded=True)
    ref = _full_lloyd_reference(Xd, Xd.copy(), None)
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[1].tobytes() == ref[1].tobytes()


@pytest.mark.parametrize("weighted", [False, True])
def test_bounded_lloyd_relocation_is_full_lloyd(weighted):
    X, _ = _data("overlapping", np.float64, 4)
    w = np.random.RandomState(9).uniform(0.5, 2.0, size=X.shape[0]) if weighted else None
    init = X[[0, 10, 20, 30, 40]].copy()
    init[1] = 1e3
    init[3] = -1e3
    ref = _full_lloyd_reference(X, init, w, tol_abs=_sk_tol(X))
    got = _init.lloyd(X, init, w, 2, tol_abs=_sk_tol(X), bounded=True)
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[1].tobytes() == ref[1].tobytes()


def test_bounded_lloyd_equidistant_rows():
    # rows exactly half-way between two centres (and centres that
    # coincide): decided as the full pass decides, lowest centre first
    X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.5, 0.0], [1.5, 0.0]] * 60)
    for start in (np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]),
                  np.array([[0.5, 0.0], [0.5, 0.0], [1.5, 0.0]])):
        ref = _full_lloyd_reference(X, start, None)
        got = _init.lloyd(X, start, None, 2, bounded=True)
        np.testing.assert_array_equal(got[0], ref[0])
        assert got[1].tobytes() == ref[1].tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bounded_run_bounds_hold(dtype):
    # after a max_iter stop the labels were recomputed for the final centres
    # and the bounds refer to them: u >= distance to the own centre, l <= the
    # distance to every other one (shifted metric, checked in float64 with a
    # margin far below the kernel's own)
    X = _blobs(5000, 4, 6, 3, 2.0, dtype=dtype)
    n, d = X.shape
    C = X[:6].astype(np.float64)
    shift = X.mean(axis=0, dtype=np.float64)
    labels = np.full(n, -1, dtype=np.int64)
    bounds = np.empty((n, 2), dtype=np.float32)
    sums, counts = np.empty((6, d)), np.empty(6)
    info = np.zeros(4, dtype=np.int64)
    status = _kernels.kmeans_bounded_run(X, C, shift, None, labels, bounds, sums, counts,
                                         4, 0.0, True, info, 2)
    assert status == 2 and info[0] == 4
    a = X.astype(np.float64) - shift
    b = C - shift
    dist = np.sqrt(((a[:, None, :] - b[None]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(labels, dist.argmin(axis=1))
    own = dist[np.arange(n), labels]
    dist[np.arange(n), labels] = np.inf
    assert np.all(bounds[:, 0] >= own * (1 - 1e-15))
    assert np.all(bounds[:, 1] <= dist.min(axis=1) * (1 + 1e-15))


def test_bounded_run_rejects_bad_arguments():
    X = np.zeros((4, 2))
    C = np.zeros((2, 2))
    args = lambda **kw: dict(dict(X=X, centers=C, shift=np.zeros(2), sample_weight=None,
                                  labels=np.zeros(4, dtype=np.int64), bounds=np.empty((4, 2), dtype=np.float32),
                                  sums=np.empty((2, 2)), counts=np.empty(2), max_iter=3,
                                  tol_abs=0.0, bounded=True,
                                  info=np.zeros(4, dtype=np.int64), n_threads=1), **kw)
    for bad in (dict(bounds=np.empty((3, 2), dtype=np.float32)), dict(info=np.zeros(3, dtype=np.int64)),
                dict(info=np.array([5, 0, 0, 0])), dict(shift=np.zeros(3)),
                dict(max_iter=-1), dict(sums=np.empty((3, 2)))):
        with pytest.raises(ValueError):
            _kernels.kmeans_bounded_run(**args(**bad))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bounded_lloyd_thread_count_invariant(dtype):
    X = _blobs(12000, 5, 10, 8, 1.5, dtype=dtype)   # 16 slots, many iterations
    w = np.random.RandomState(3).uniform(0.2, 2.0, size=X.shape[0])
    start = X[:10].astype(np.float64)
    results = [_init.lloyd(X, start, w, nt, tol_abs=0.0, bounded=True) for nt in (1, 2, 3)]
    ref = _full_lloyd_reference(X, start, w)
    for labels, centres in results:
        np.testing.assert_array_equal(labels, ref[0])
        assert centres.tobytes() == ref[1].tobytes()
