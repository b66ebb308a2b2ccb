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


@pytest.mark.parametrize("cls", ["GaussianHMM", "GMMHMM"])
@pytest.mark.parametrize("ct", COV_TYPES)
def test_cluster_hmm_fit_equals_the_single_process_fit(client, cls, ct):
    """Every covariance type of both HMMs; lengths-aligned chunks."""
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
    # inference is lazy: dask arrays chunked as the realigned X (whole sequences)
    states = got.predict(dx, lengths)
    assert isinstance(states, da.Array) and states.dtype == np.int64
    assert sum(states.chunks[0]) == len(X) and states.numblocks[0] > 1
    assert_array_equal(states.compute(), got.predict(X, lengths))
    proba = got.predict_proba(dx, lengths)
    assert isinstance(proba, da.Array) and proba.chunks[1] == (3,)
    assert proba.chunks[0] == states.chunks[0]
    np.testing.assert_allclose(proba.compute(), got.predict_proba(X, lengths), rtol=0,
                               atol=1e-13)
    log_prob, post = got.score_samples(dx, lengths)
    ref_lp, ref_post = got.score_samples(X, lengths)
    assert float(log_prob) == pytest.approx(ref_lp, rel=1e-12)
    np.testing.assert_allclose(post.compute(), ref_post, rtol=0, atol=1e-13)
    for algorithm in ("viterbi", "map"):
        lp, st = got.decode(dx, lengths, algorithm=algorithm)
        ref_lp, ref_st = got.decode(X, lengths, algorithm=algorithm)
        assert isinstance(st, da.Array)
        assert float(lp) == pytest.approx(ref_lp, rel=1e-12)
        assert_array_equal(st.compute(), ref_st)


def test_lazy_results_do_not_follow_later_changes_to_the_model(client):
    X = data(seed=8)
    gm = GaussianMixture(2, random_state=0).fit(X)
    dx = da.from_array(X, chunks=2048)
    lazy = gm.score_samples(dx)
    expected = gm.score_samples(X)
    gm.means_[:] += 1.0                       # in place, after the graph was built
    assert_array_equal(lazy.compute(), expected)


def test_nan_in_a_chunk_at_prediction_names_it(client):
    X = data(seed=9)
    gm = GaussianMixture(2, random_state=0).fit(X)
    bad = X.copy()
    bad[4100, 0] = np.inf
    lazy = gm.predict(da.from_array(bad, chunks=2048))
    with pytest.raises(ValueError, match="chunk 2 of X contains NaN or infinity"):
        lazy.compute()


def test_reduction_tree_adds_as_the_flat_tree():
    """Groups of a power-of-two number of chunks, level by level, give the
    bits of one flat binary-counter sum (only the last group is partial)."""
    import dask

    from gmscore.dask import _sum_group, reduction_tree

    rng = np.random.RandomState(11)
    for n in (1, 2, 3, 7, 8, 9, 31, 33, 64, 100):
        vectors = [rng.standard_normal(5) * 10.0 ** rng.randint(-8, 8) for _ in range(n)]
        flat = tree_sum(vectors)
        for fan_in in (2, 4, 8):
            got = reduction_tree([dask.delayed(v) for v in vectors], _sum_group, fan_in)
            assert_array_equal(dask.compute(got, scheduler="sync")[0], flat)
    # a fan-in that is not a power of two can reorder the additions
    rng = np.random.RandomState(11)
    vectors = [rng.standard_normal(5) * 10.0 ** rng.randint(-8, 8) for _ in range(9)]
    assert (tree_sum(vectors) != tree_sum([tree_sum(vectors[i:i + 3])
                                           for i in range(0, 9, 3)])).any()


def test_split_every_config(client):
    import dask

    X = data(n=40000, seed=12)
    kw = dict(covariance_type="full", max_iter=3, tol=0, random_state=0)
    warnings.simplefilter("ignore")
    ref = GaussianMixture(2, **kw).fit(X)
    dx = da.from_array(X, chunks=2048)       # 20 chunks: a tree of depth 5 at fan-in 2
    with dask.config.set({"gmscore.split_every": 2}):
        got = GaussianMixture(2, **kw).fit(dx)
    for a, b in zip(params(got), params(ref)):
        assert_array_equal(a, b)
    gm = GaussianMixture(2, **kw)
    for bad in (3, 1, "x", 2.5):
        with dask.config.set({"gmscore.split_every": bad}):
            with pytest.raises(ValueError, match="power of two"):
                gm.fit(dx)
    assert not hasattr(gm, "means_")


def test_hmm_on_a_bag_or_a_list_of_delayed_sequences(client):
    import dask
    import dask.bag as db

    import gmscore

    rng = np.random.RandomState(13)
    lengths = rng.randint(40, 300, size=15)
    X = rng.randn(lengths.sum(), 2) + np.repeat(rng.randint(0, 3, size=15), lengths)[:, None]
    seqs = np.split(X, np.cumsum(lengths)[:-1])
    kw = dict(n_iter=3, tol=0, random_state=0)
    warnings.simplefilter("ignore")
    ref = gmscore.GaussianHMM(3, **kw).fit(X, lengths)
    for given in ([dask.delayed(s) for s in seqs], db.from_sequence(seqs, npartitions=4),
                  [da.from_array(s, chunks=100) for s in seqs]):
        got = gmscore.GaussianHMM(3, **kw).fit(given)
        for name in ("startprob_", "transmat_", "means_", "covars_"):
            np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-11,
                                       atol=1e-12)
        proba = got.predict_proba(given)
        assert isinstance(proba, da.Array)
        np.testing.assert_allclose(proba.compute(), ref.predict_proba(X, lengths), rtol=0,
                                   atol=1e-12)
    with pytest.raises(ValueError, match="do not also give lengths"):
        ref.score([dask.delayed(s) for s in seqs], lengths)
    odd = [dask.delayed(seqs[0]), dask.delayed(seqs[1][:, :1])]
    with pytest.raises(ValueError, match="different numbers of features"):
        gmscore.GaussianHMM(3, **kw).fit(odd)
    with pytest.raises(ValueError, match="sequence 1 has 1 dimensions"):
        gmscore.GaussianHMM(3, **kw).fit([dask.delayed(seqs[0]), dask.delayed(seqs[1][:, 0])])


def _kill_this_worker():
    import os

    os._exit(1)


def test_worker_killed_during_a_fit_gives_the_fault_free_fit(client, monkeypatch):
    """A worker process killed as iteration 3's E-step starts: Dask
    recomputes its tasks and lost chunks from their lineage, the nanny
    restarts it, and the fit equals the fault-free one bit for bit."""
    import os
    import signal

    from gmscore.dask import DaskSource

    X = data(n=30000, seed=14)
    kw = dict(covariance_type="diag", max_iter=6, tol=0, random_state=0)
    warnings.simplefilter("ignore")
    ref = GaussianMixture(2, **kw).fit(X)
    original = DaskSource.reduce_stats
    calls, killed = [], []

    def reduce_stats(self, func, payload):
        calls.append(1)
        if len(calls) == 3:
            pids = client.run(os.getpid)
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)
        return original(self, func, payload)

    monkeypatch.setattr(DaskSource, "reduce_stats", reduce_stats)
    got = GaussianMixture(2, **kw).fit(da.from_array(X, chunks=4096))
    assert killed and len(calls) >= 6
    for a, b in zip(params(got), params(ref)):
        assert_array_equal(a, b)
    client.wait_for_workers(2, timeout=60)


def test_a_cluster_that_cannot_finish_leaves_the_model_as_it_was():
    """A task that kills its worker, on a 1-worker cluster of this test's
    own that allows no retries: the fit raises the cluster error and the
    model is left as it was (the shared cluster is not touched, so no test
    waits for a nanny to restart a worker)."""
    import dask

    X = data(seed=15)
    gm = GaussianMixture(2, random_state=0).fit(X)
    before = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in vars(gm).items()}
    dying = da.concatenate([da.from_array(X, chunks=4096),
                            da.from_delayed(dask.delayed(_kill_this_worker)(), shape=(10, 3),
                                            dtype=np.float64)])
    with warnings.catch_warnings(), \
            dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
        try:
            with distributed.Client(cluster):
                with pytest.raises(RuntimeError,
                                   match="Dask cluster could not finish.*left as it was"):
                    gm.fit(dying)
        finally:
            cluster.close()
    after = vars(gm)
    assert before.keys() == after.keys()
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            assert_array_equal(after[k], v)
        else:
            assert after[k] == v or k == "monitor_"
