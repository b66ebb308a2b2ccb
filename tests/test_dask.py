"""GaussianMixture on Dask arrays, on a 2-process LocalCluster the tests
start and close themselves: fits equal the single-process fits bit for
bit (equal chunks of 2048 * 2^j rows after gmscore's rechunk), predictions
are lazy dask arrays, bad chunks are named."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from gmscore import GaussianMixture  # noqa: E402
from gmscore._core.covariance import COV_TYPES  # noqa: E402
from gmscore.dask import exact_chunk_rows, tree_sum  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)
        with distributed.Client(cluster) as c:
            yield c
        cluster.close()


def data(n=9000, seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(n // 2, 3), rng.randn(n - n // 2, 3) + 5])
    return X[rng.permutation(n)]


def params(gm):
    return (gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_,
            np.array(gm.lower_bounds_))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_cluster_fit_equals_the_single_process_fit(client, ct):
    X = data()
    w = np.random.RandomState(1).uniform(0.5, 1.5, len(X))
    kw = dict(covariance_type=ct, max_iter=4, tol=0, random_state=0)
    warnings.simplefilter("ignore")   # 4 iterations do not converge; that is the point
    ref = GaussianMixture(2, **kw).fit(X, sample_weight=w)
    # uneven chunks, a zero-row chunk among them: rechunked to equal ones
    dx = da.concatenate([da.from_array(X[:3000], chunks=1300), da.zeros((0, 3)),
                         da.from_array(X[3000:], chunks=2500)])
    got = GaussianMixture(2, **kw).fit(dx, sample_weight=w)
    for a, b in zip(params(got), params(ref)):
        assert_array_equal(a, b)
    proba = got.predict_proba(dx)
    assert isinstance(proba, da.Array) and proba.shape == (len(X), 2)
    assert_array_equal(proba.compute(), ref.predict_proba(X))
    labels = got.predict(dx)
    assert isinstance(labels, da.Array) and labels.dtype == np.int64
    assert_array_equal(labels.compute(), ref.predict(X))
    assert_array_equal(got.score_samples(dx).compute(), ref.score_samples(X))
    assert got.score(dx) == pytest.approx(ref.score(X), rel=1e-13)
    assert got.bic(dx) == pytest.approx(ref.bic(X), rel=1e-13)


def test_column_chunks_and_default_init(client):
    X = data(seed=2)
    ref = GaussianMixture(2, random_state=3).fit(X)
    got = GaussianMixture(2, random_state=3).fit(da.from_array(X, chunks=(4096, 1)))
    for a, b in zip(params(got), params(ref)):
        assert_array_equal(a, b)


def test_rows_fetched_from_workers_are_aligned(client):
    """Arrays received over the wire can start at any byte offset; what the
    kernels read is aligned (UBSan reported misaligned loads here)."""
    from gmscore.dask import DaskSource

    X = data(seed=7)
    src = DaskSource(da.from_array(X, chunks=2048), sample_weight=np.ones(len(X)))
    rows, w = src.take(np.arange(0, len(X), 7))
    assert rows.flags.aligned and rows.flags.c_contiguous and w.flags.aligned
    assert_array_equal(rows, X[::7])
    for chunk in src.chunks():
        assert chunk.X.flags.aligned and chunk.sample_weight.flags.aligned
    # parameters unpickled on a worker, at an odd offset, are aligned first
    from gmscore.dask import _aligned_payload

    odd = np.frombuffer(bytearray(8 * 6 + 1), dtype=np.float64, offset=1, count=6)
    assert not odd.flags.aligned
    assert all(a.flags.aligned for a in _aligned_payload((0, odd, odd.reshape(2, 3)))[1:])


def test_bad_dask_input_names_the_chunk(client):
    X = data(seed=4)
    bad = X.copy()
    bad[5000, 1] = np.nan
    gm = GaussianMixture(2, random_state=0)
    with pytest.raises(ValueError, match="chunk 2 .*NaN"):
        gm.fit(da.from_array(bad, chunks=2048))
    assert not hasattr(gm, "means_")
    gm.fit(X)
    with pytest.raises(ValueError, match="2 features, but GaussianMixture is expecting 3"):
        gm.predict(da.from_array(X[:, :2], chunks=2048))


def test_tree_sum_is_the_kernels_tree():
    """Chunks of 2^j leaves are complete subtrees: adding chunk totals in
    the same binary counter gives the one-pass bits."""
    from gmscore import _kernels

    rng = np.random.RandomState(5)
    X = rng.randn(5 * 4096 + 700, 2)
    c = np.zeros((1, 2))
    one = _kernels.stats_reducer(2, 1, 2)
    _kernels.accumulate_into(one, 2, X, None, None, None, c, 1)
    rows = exact_chunk_rows(4096)
    parts = []
    for start in range(0, len(X), rows):
        red = _kernels.stats_reducer(2, 1, 2)
        _kernels.accumulate_into(red, 2, X[start:start + rows], None, None, None, c, 1)
        parts.append(red.total())
    assert_array_equal(tree_sum(parts), one.total())


@pytest.mark.parametrize("cls,ct", [("GaussianHMM", "full"), ("GaussianHMM", "diag"),
                                    ("GMMHMM", "diag"), ("GMMHMM", "tied")])
def test_cluster_hmm_fit_equals_the_single_process_fit(client, cls, ct):
    import gmscore

    rng = np.random.RandomState(6)
    lengths = rng.randint(50, 400, size=30)
    X = rng.randn(lengths.sum(), 2) + np.repeat(rng.randint(0, 3, size=30), lengths)[:, None]
    kw = dict(covariance_type=ct, n_iter=4, tol=0, random_state=0)
    if cls == "GMMHMM":
        kw["n_mix"] = 2
    ref = getattr(gmscore, cls)(3, **kw).fit(X, lengths)
    dx = da.from_array(X, chunks=1500)          # chunks realigned to whole sequences
    got = getattr(gmscore, cls)(3, **kw).fit(dx, lengths)
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-11,
                                   atol=1e-12)
    np.testing.assert_allclose(got.monitor_.history, ref.monitor_.history, rtol=1e-13)
    assert got.score(dx, lengths) == pytest.approx(ref.score(X, lengths), rel=1e-12)
    assert_array_equal(got.predict(dx, lengths), got.predict(X, lengths))
    np.testing.assert_allclose(got.predict_proba(dx, lengths), got.predict_proba(X, lengths),
                               rtol=0, atol=1e-13)
