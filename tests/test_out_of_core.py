"""Out-of-core fitting and the statistics seam: every model on every data
source gives the in-memory results (bit for bit for chunks of whole
blocks), statistics merge and re-centre exactly, maximize(accumulate(X))
is one EM step, and bad streamed input is refused with the model left as
it was."""
import hashlib
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import gmscore
from gmscore import GMMHMM, ChainStats, GaussianHMM, GaussianMixture, GaussianStats
from gmscore._core import sources
from gmscore._gaussian import COV_TYPES

h5py = pytest.importorskip("h5py")
zarr = pytest.importorskip("zarr")

BLOCK = sources.BLOCK_ROWS


def mixture_data(n=3000, d=3, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    centres = np.array([[0.0] * d, [6.0] * d, [0.0] * (d - 1) + [-7.0]])
    X = centres[rng.randint(3, size=n)] + rng.randn(n, d)
    return X.astype(dtype)


def fitted_state(model):
    """Everything a fit may change, copied."""
    out = {}
    for k, v in vars(model).items():
        out[k] = np.array(v, copy=True) if isinstance(v, np.ndarray) else pickle.dumps(v)
    return out


def assert_same_state(model, state):
    now = fitted_state(model)
    assert now.keys() == state.keys()
    for k in state:
        if isinstance(state[k], np.ndarray):
            assert_array_equal(now[k], state[k], err_msg=k)
        else:
            assert now[k] == state[k], k


def chunked(X, sizes, w=None):
    """A callable source giving X in chunks of the given sizes (cycled)."""
    cuts, at, i = [0], 0, 0
    while at < len(X):
        at = min(len(X), at + sizes[i % len(sizes)])
        cuts.append(at)
        i += 1
    if w is None:
        return lambda: (X[a:b] for a, b in zip(cuts, cuts[1:]))
    return lambda: ((X[a:b], w[a:b]) for a, b in zip(cuts, cuts[1:]))


def memmap_of(tmp_path, X, name="X.dat"):
    path = tmp_path / name
    mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    del mm
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape), path


def h5_of(tmp_path, X):
    f = h5py.File(tmp_path / "X.h5", "w")
    return f.create_dataset("X", data=X, chunks=(500, X.shape[1]))


def zarr_of(tmp_path, X):
    z = zarr.create_array(store=str(tmp_path / "X.zarr"), shape=X.shape, dtype=X.dtype,
                          chunks=(700, X.shape[1]))
    z[:] = X
    return z


def mixture_params(gm):
    return (gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_,
            np.array(gm.lower_bounds_), np.array([gm.n_iter_]))


def quiet_fit(model, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*args, **kw)


# --------------------------------------------------------------- mixtures
@pytest.fixture
def small_chunks(monkeypatch):
    """Array-likes read in chunks of 2 blocks, so small data has many."""
    monkeypatch.setattr(sources, "CHUNK_BYTES", 2 * BLOCK * 3 * 8)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("kind", ["memmap", "h5py", "zarr", "callable"])
def test_mixture_chunked_fit_is_bitwise_in_memory(ct, kind, tmp_path, small_chunks):
    X = mixture_data()
    kw = dict(covariance_type=ct, max_iter=8, tol=0, random_state=0, n_threads=2)
    ref = quiet_fit(GaussianMixture(3, **kw), X)
    src = {"memmap": lambda: memmap_of(tmp_path, X)[0], "h5py": lambda: h5_of(tmp_path, X),
           "zarr": lambda: zarr_of(tmp_path, X),
           "callable": lambda: chunked(X, [BLOCK, 3 * BLOCK, 2 * BLOCK])}[kind]()
    got = quiet_fit(GaussianMixture(3, **kw), src)
    for a, b in zip(mixture_params(got), mixture_params(ref)):
        assert_array_equal(a, b)
    assert_array_equal(got.predict(src), ref.predict(X))
    assert_array_equal(got.predict_proba(src), ref.predict_proba(X))
    assert_array_equal(got.score_samples(src), ref.score_samples(X))
    assert got.bic(src) == pytest.approx(ref.bic(X), rel=1e-13)
    assert got.aic(src) == pytest.approx(ref.aic(X), rel=1e-13)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_mixture_unaligned_chunks_agree_to_rounding(ct, init):
    X = mixture_data(seed=1)
    w = np.random.RandomState(2).uniform(0.2, 2.0, len(X))
    kw = dict(covariance_type=ct, max_iter=6, tol=0, random_state=0, init_params=init)
    ref = quiet_fit(GaussianMixture(3, **kw), X, sample_weight=w)
    got = quiet_fit(GaussianMixture(3, **kw), chunked(X, [1000, 77, 300], w))
    for a, b in zip(mixture_params(got), mixture_params(ref)):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())


def test_mixture_float32_memmap_and_threads(tmp_path, small_chunks):
    X = mixture_data(dtype=np.float32)
    mm, path = memmap_of(tmp_path, X)
    ref = quiet_fit(GaussianMixture(3, max_iter=5, tol=0, random_state=0, n_threads=1), X)
    got = quiet_fit(GaussianMixture(3, max_iter=5, tol=0, random_state=0, n_threads=2), mm)
    for a, b in zip(mixture_params(got), mixture_params(ref)):
        assert_array_equal(a, b)


def test_streamed_file_is_never_written(tmp_path, small_chunks):
    X = mixture_data()
    _, path = memmap_of(tmp_path, X)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    rw = np.memmap(path, dtype=X.dtype, mode="r+", shape=X.shape)
    gm = quiet_fit(GaussianMixture(3, max_iter=3, random_state=0, on_degenerate="reseed"), rw)
    gm.predict_proba(rw)
    del rw
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert path.stat().st_mtime_ns == mtime


def test_streamed_init_uses_a_bounded_uniform_sample(monkeypatch):
    X = mixture_data(n=5000)
    monkeypatch.setattr(sources, "INIT_SAMPLE_ROWS", 1000)
    taken = []
    real_take = sources.Source.take

    def spy(self, rows):
        taken.append(len(rows))
        return real_take(self, rows)

    monkeypatch.setattr(sources.Source, "take", spy)
    gm = quiet_fit(GaussianMixture(3, random_state=0), chunked(X, [700]))
    assert taken == [1000]
    # a good model anyway: the three centres are found
    assert_allclose(np.sort(gm.means_[:, -1]), [-7, 0, 6], atol=0.2)


# ------------------------------------------------------------ statistics
@pytest.mark.parametrize("ct", COV_TYPES)
def test_accumulate_parts_add_up_and_maximize_is_one_em_step(ct):
    X = mixture_data(seed=3)
    gm = quiet_fit(GaussianMixture(3, covariance_type=ct, max_iter=2, random_state=0), X)
    whole = gm.accumulate(X)
    parts = gm.accumulate(X[:1111]) + gm.accumulate(X[1111:2000]) + gm.accumulate(X[2000:])
    for name in ("nk", "s1", "s2"):
        assert_allclose(getattr(parts, name), getattr(whole, name), rtol=1e-12, atol=1e-9)
    assert parts.loglik == pytest.approx(whole.loglik, rel=1e-13)
    assert parts.weight_sum == whole.weight_sum == len(X)
    # direct formulas (responsibilities from the model's own predict_proba)
    r = gm.predict_proba(X)
    diff = X[:, None, :] - gm.means_[None]
    assert_allclose(whole.nk, r.sum(0), rtol=1e-12)
    assert_allclose(whole.s1, np.einsum("nk,nkd->kd", r, diff), atol=1e-8)
    full = np.einsum("nk,nka,nkb->kab", r, diff, diff)
    expected = {"full": full, "tied": full.sum(0),
                "diag": np.einsum("nk,nkd->kd", r, diff**2),
                "spherical": np.einsum("nk,nkd->kd", r, diff**2)}[ct]
    assert_allclose(whole.s2, expected, rtol=1e-10, atol=1e-8)
    assert whole.loglik == pytest.approx(gm.score_samples(X).sum(), rel=1e-12)
    # maximize(accumulate(X)) == one EM step of fit, bit for bit
    start = dict(weights_init=gm.weights_, means_init=gm.means_,
                 precisions_init=gm.precisions_)
    one = quiet_fit(GaussianMixture(3, covariance_type=ct, max_iter=1, tol=0, **start), X)
    two = quiet_fit(GaussianMixture(3, covariance_type=ct, max_iter=0, **start), X)
    two.maximize(two.accumulate(X))
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        assert_array_equal(getattr(two, name), getattr(one, name), err_msg=name)


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_stats_recentre_scale_merge_save(kind, tmp_path):
    rng = np.random.RandomState(4)
    k, d, n = 3, 4, 200
    X = rng.randn(n, d) * 3 + 100.0
    r = rng.dirichlet(np.ones(k), n)
    c1 = rng.randn(k, d) + 100.0
    c2 = rng.randn(k, d) + 101.0

    def direct(c, rows=slice(None)):
        diff = X[rows, None, :] - c[None]
        rr = r[rows]
        full = np.einsum("nk,nka,nkb->kab", rr, diff, diff)
        s2 = {"full": full, "tied": full.sum(0)}.get(kind, np.einsum("nk,nkd->kd", rr, diff**2))
        return GaussianStats(kind, c, rr.sum(0), np.einsum("nk,nkd->kd", rr, diff), s2,
                             0.0, rr.sum(), len(rr))

    a, b = direct(c1, slice(0, 120)), direct(c2, slice(120, None))
    re = direct(c1).recentred(c2)
    want = direct(c2)
    for name in ("nk", "s1", "s2"):
        assert_allclose(getattr(re, name), getattr(want, name), rtol=1e-9, atol=1e-7)
    merged = a + b                         # b is re-centred onto a's centres
    assert_array_equal(merged.centres, c1)
    for name in ("nk", "s1", "s2"):
        assert_allclose(getattr(merged, name), getattr(direct(c1), name), rtol=1e-9, atol=1e-7)
    assert merged.count == n and merged.weight_sum == pytest.approx(n)
    half = merged.scaled(0.5)
    assert_allclose(half.s2, 0.5 * merged.s2)
    assert half.count == n / 2
    merged.save(tmp_path / "s.npz")
    assert gmscore.load_stats(tmp_path / "s.npz") == merged
    assert pickle.loads(pickle.dumps(merged)) == merged
    with pytest.raises(ValueError, match="cannot add"):
        merged + GaussianStats("full" if kind != "full" else "diag", c1, merged.nk,
                               merged.s1, np.zeros((k, d, d) if kind != "full" else (k, d)))
    with pytest.raises(TypeError):
        merged + 1
    with pytest.raises(ValueError, match="factor"):
        merged.scaled(-1)


def test_stats_files_are_checked(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, format=np.array("gmscore-stats-1:gaussian:full"), e_centres=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="missing entry"):
        gmscore.load_stats(bad)
    np.savez(bad, format=np.array("something-else"))
    with pytest.raises(ValueError, match="not a gmscore statistics file"):
        gmscore.load_stats(bad)
    np.savez(bad, format=np.array("gmscore-stats-1:gaussian:diag"), e_centres=np.zeros((1, 2)),
             e_nk=np.array([np.nan]), e_s1=np.zeros((1, 2)), e_s2=np.zeros((1, 2)),
             e_scalars=np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        gmscore.load_stats(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError):
        gmscore.load_stats(tmp_path / "junk.npz")


def test_maximize_refuses_mismatched_statistics_and_keeps_the_model():
    X = mixture_data()
    gm = quiet_fit(GaussianMixture(3, covariance_type="diag", max_iter=3, random_state=0), X)
    state = fitted_state(gm)
    stats = gm.accumulate(X)
    with pytest.raises(TypeError):
        gm.maximize(stats.s1)
    other = quiet_fit(GaussianMixture(2, covariance_type="diag", max_iter=1), X)
    with pytest.raises(ValueError, match="statistics of 2 components"):
        gm.maximize(other.accumulate(X))
    empty = stats.scaled(0.0)
    with pytest.raises(ValueError, match="no sample weight"):
        gm.maximize(empty)
    assert_same_state(gm, state)


# ------------------------------------------------------------------ HMMs
def hmm_data(n_seq=12, length=128, d=2, seed=5):
    rng = np.random.RandomState(seed)
    model = GaussianHMM(3, covariance_type="full")
    model.startprob_ = np.array([0.6, 0.3, 0.1])
    model.transmat_ = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    model.means_ = np.array([[0.0] * d, [4.0] * d, [-4.0] * d])
    model.covars_ = np.tile(np.eye(d), (3, 1, 1))
    seqs = [model.sample(length, random_state=rng)[0] for _ in range(n_seq)]
    return seqs


def hmm_params(model):
    names = ["startprob_", "transmat_", "means_", "covars_"] + (
        ["weights_"] if isinstance(model, GMMHMM) else [])
    return [np.asarray(getattr(model, n)) for n in names] + [np.array(model.monitor_.history)]


HMM_CASES = [(GaussianHMM, ct) for ct in COV_TYPES] + [(GMMHMM, ct) for ct in COV_TYPES]


@pytest.mark.parametrize("cls,ct", HMM_CASES)
@pytest.mark.parametrize("kind", ["list", "callable", "memmap", "h5py", "zarr"])
def test_hmm_chunked_fit_is_bitwise_in_memory(cls, ct, kind, tmp_path, monkeypatch):
    seqs = hmm_data()                        # 12 sequences of 128 frames
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    kw = dict(covariance_type=ct, n_iter=5, tol=0, random_state=0)
    if cls is GMMHMM:
        kw["n_mix"] = 2
    ref = quiet_fit(cls(3, **kw), X, lengths)
    # chunks of 2, 4 or 6 sequences of 128 frames: whole blocks of 256 rows
    monkeypatch.setattr(sources, "CHUNK_BYTES", 4 * 128 * X.shape[1] * 8)
    pairs = [(np.concatenate(seqs[a:b]), lengths[a:b]) for a, b in
             [(0, 2), (2, 6), (6, 12)]]
    src = {"list": lambda: seqs, "callable": lambda: (lambda: iter(pairs)),
           "memmap": lambda: memmap_of(tmp_path, X)[0], "h5py": lambda: h5_of(tmp_path, X),
           "zarr": lambda: zarr_of(tmp_path, X)}[kind]()
    src_lengths = lengths if kind in ("memmap", "h5py", "zarr") else None
    got = quiet_fit(cls(3, **kw), src, src_lengths)
    for a, b in zip(hmm_params(got), hmm_params(ref)):
        assert_array_equal(a, b)
    assert got.score(src, src_lengths) == pytest.approx(ref.score(X, lengths), rel=1e-13)
    assert_array_equal(got.predict(src, src_lengths), ref.predict(X, lengths))
    assert_allclose(got.predict_proba(src, src_lengths), ref.predict_proba(X, lengths),
                    rtol=0, atol=1e-14)


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_hmm_unaligned_sequences_agree_to_rounding(cls):
    rng = np.random.RandomState(6)
    seqs = [s[: rng.randint(20, 128)] for s in hmm_data(n_seq=15)]
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    kw = dict(covariance_type="diag", n_iter=5, tol=0, random_state=0)
    ref = quiet_fit(cls(3, **kw), X, lengths)
    got = quiet_fit(cls(3, **kw), lambda: iter(seqs))
    for a, b in zip(hmm_params(got), hmm_params(ref)):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [GaussianHMM, GMMHMM])
def test_hmm_accumulate_maximize_is_one_baum_welch_step(cls):
    seqs = hmm_data(n_seq=6)
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    kw = dict(covariance_type="full", random_state=0)
    if cls is GMMHMM:
        kw["n_mix"] = 2
    fitted = quiet_fit(cls(3, n_iter=2, **kw), X, lengths)
    stats = fitted.accumulate(X, lengths)
    parts = fitted.accumulate(seqs[:2]) + fitted.accumulate(np.concatenate(seqs[2:]), lengths[2:])
    assert_allclose(parts.trans, stats.trans, rtol=1e-12)
    assert_allclose(parts.start, stats.start, rtol=1e-12)
    assert_allclose(parts.emissions.s2, stats.emissions.s2, rtol=1e-11, atol=1e-10)
    assert_allclose(parts.seq_loglik, stats.seq_loglik, rtol=1e-13)
    assert stats.loglik == pytest.approx(fitted.score(X, lengths), rel=1e-12)
    # the start counts are the first frames' posteriors
    post = fitted.predict_proba(X, lengths)
    assert_allclose(stats.start, post[np.cumsum([0] + lengths[:-1])].sum(0), rtol=1e-12)
    # maximize(accumulate) == one Baum-Welch iteration from the same start
    one = cls(3, n_iter=1, tol=0, init_params="", **kw)
    for name in ("startprob_", "transmat_", "means_", "covars_") + (
            ("weights_",) if cls is GMMHMM else ()):
        setattr(one, name, np.array(getattr(fitted, name)))
    quiet_fit(one, X, lengths)
    fitted.maximize(stats)
    for a, b in zip(hmm_params(fitted)[:-1], hmm_params(one)[:-1]):
        assert_array_equal(a, b)
    state = fitted_state(fitted)
    with pytest.raises(TypeError):
        fitted.maximize(stats.emissions)
    with pytest.raises(ValueError, match="states"):
        fitted.maximize(ChainStats(np.ones(2), np.ones((2, 2)), [0.0], stats.emissions))
    assert_same_state(fitted, state)


# ------------------------------------------------------------- bad input
def test_one_shot_generator_is_refused_for_fit_but_scores():
    X = mixture_data()
    gm = GaussianMixture(3, random_state=0)
    with pytest.raises(TypeError, match="pass a callable"):
        gm.fit(x for x in (X[:1000], X[1000:]))
    assert not hasattr(gm, "means_")
    quiet_fit(gm, X)
    assert_array_equal(gm.predict(x for x in (X[:1000], X[1000:])), gm.predict(X))


def test_callable_returning_an_exhausted_iterator():
    X = mixture_data()
    gen = iter([X[:1500], X[1500:]])
    gm = GaussianMixture(3, max_iter=3, random_state=0)
    with pytest.raises(ValueError, match="fresh iterator"):
        gm.fit(lambda: gen)
    assert not hasattr(gm, "means_")


@pytest.mark.parametrize("case", ["width", "dtype", "nan", "inf", "changed", "one_d",
                                  "complex", "weights"])
def test_bad_chunks_name_the_chunk_and_keep_the_model(case):
    X = mixture_data()
    parts = [X[:1000], X[1000:2000], X[2000:]]
    calls = []
    if case == "width":
        parts[1] = parts[1][:, :2]
    elif case == "dtype":
        parts[1] = parts[1].astype(np.float32)
    elif case == "nan":
        parts[2] = parts[2].copy()
        parts[2][7, 1] = np.nan
    elif case == "inf":
        parts[2] = parts[2].copy()
        parts[2][0, 0] = np.inf
    elif case == "one_d":
        parts[1] = parts[1][:, 0]
    elif case == "complex":
        parts[0] = parts[0].astype(np.complex128)
    elif case == "weights":
        parts = [(p, np.ones(len(p))) for p in parts]
        parts[1] = (parts[1][0], np.ones(3))

    def source():
        calls.append(1)
        if case == "changed" and len(calls) > 2:
            return iter([X[:1000], X[1000:2900]])
        return iter(parts)

    gm = quiet_fit(GaussianMixture(3, max_iter=2, random_state=0), X)
    state = fitted_state(gm)
    expected = {"width": (ValueError, "chunk 1 .*features"),
                "dtype": (TypeError, "chunk 1 .*dtype"),
                "nan": (ValueError, "chunk 2 .*NaN"), "inf": (ValueError, "chunk 2 .*NaN"),
                "changed": (ValueError, "changed between passes.*chunk 1"),
                "one_d": (ValueError, "chunk 1 .*2-D"),
                "complex": (TypeError, "chunk 0 .*float32 or float64"),
                "weights": (ValueError, "chunk 1")}[case]
    with pytest.raises(expected[0], match=expected[1]):
        gm.fit(source)
    assert_same_state(gm, state)


def test_nan_at_predict_names_the_chunk():
    X = mixture_data()
    gm = quiet_fit(GaussianMixture(3, max_iter=2, random_state=0), X)
    bad = X[1000:].copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="chunk 1 .*NaN"):
        gm.predict_proba(lambda: iter([X[:1000], bad]))


def test_empty_chunks_are_allowed():
    X = mixture_data()
    empty = np.empty((0, 3))
    ref = quiet_fit(GaussianMixture(3, max_iter=4, tol=0, random_state=0), X)
    got = quiet_fit(GaussianMixture(3, max_iter=4, tol=0, random_state=0),
                    lambda: iter([empty, X[:BLOCK * 4], empty, empty, X[BLOCK * 4:], empty]))
    for a, b in zip(mixture_params(got), mixture_params(ref)):
        assert_array_equal(a, b)


def test_memmap_of_a_non_numeric_dtype(tmp_path):
    X = mixture_data().astype(np.complex64)
    mm, _ = memmap_of(tmp_path, X)
    gm = GaussianMixture(3)
    with pytest.raises(TypeError, match="float32 or float64"):
        gm.fit(mm)
    assert vars(gm) == vars(GaussianMixture(3))


def test_hmm_bad_sequence_chunks():
    seqs = hmm_data(n_seq=4)
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    model = quiet_fit(GaussianHMM(3, n_iter=2, random_state=0), X, lengths)
    state = fitted_state(model)
    # row chunks that straddle a sequence boundary
    with pytest.raises(ValueError, match="chunk 0 .*sequence boundary"):
        model.fit(lambda: iter([X[:200], X[200:]]), lengths)
    with pytest.raises(ValueError, match="lengths sum to"):
        model.fit(lambda: iter([X[:256], X[256:384]]), lengths)
    with pytest.raises(ValueError, match="chunk 1 .*lengths"):
        model.fit(lambda: iter([(X[:256], [128, 128]), (X[256:], [100, 100])]))
    with pytest.raises(ValueError, match="sequence 1 .*features.*the first sequence"):
        model.fit([seqs[0], seqs[1][:, :1]])
    with pytest.raises(TypeError, match="pass a callable"):
        model.fit(s for s in seqs)
    assert_same_state(model, state)


def test_failed_hmm_refit_restores_the_model():
    """The HMMs did not restore before the EM driver: a failed refit left
    means_ changed."""
    seqs = hmm_data(n_seq=4)
    X = np.concatenate(seqs)
    model = quiet_fit(GaussianHMM(3, n_iter=2, random_state=0), X)
    state = fitted_state(model)
    bad = X.copy()
    bad[-3:] = 1e200      # overflows the emission log-likelihoods on the last pass
    with pytest.raises(ValueError):
        quiet_fit(model, bad)
    assert_same_state(model, state)


# ---------------------------------------------------------------- memory
def test_fit_memory_does_not_grow_with_the_data(monkeypatch):
    """A generated source of 32 MiB of float64 rows per pass: the fit
    allocates O(chunk + K D^2) (a chunk is 1 MiB; generating one takes about
    three), far less than the data (tracemalloc sees numpy's allocations)."""
    d, k, rows, n_chunks = 8, 4, 1 << 14, 32        # 16384 x 8 x 8 B = 1 MiB a chunk
    centres = np.random.RandomState(7).randn(k, d) * 5

    def generate():
        for i in range(n_chunks):
            rng = np.random.RandomState(i)
            yield centres[rng.randint(k, size=rows)] + rng.randn(rows, d)

    data_bytes = n_chunks * rows * d * 8
    monkeypatch.setattr(sources, "INIT_SAMPLE_ROWS", 4096)   # the init reads 256 KiB
    gm = GaussianMixture(k, covariance_type="full", max_iter=3, tol=0, random_state=0)
    tracemalloc.start()
    try:
        quiet_fit(gm, generate)
        proba = gm.score(generate)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isfinite(proba)
    assert peak < data_bytes / 6, (peak, data_bytes)


# ------------------------------------------- regressions from attack tests
@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_every_init_on_a_stream_equals_in_memory(init):
    X = mixture_data(n=2048, seed=8)
    kw = dict(max_iter=3, tol=0, random_state=3, init_params=init)
    ref = quiet_fit(GaussianMixture(3, **kw), X)
    got = quiet_fit(GaussianMixture(3, **kw), chunked(X, [512]))
    for a, b in zip(mixture_params(got), mixture_params(ref)):
        assert_array_equal(a, b)


def test_a_chunk_may_weigh_nothing_but_not_the_whole_stream():
    X = mixture_data(n=1024)
    w = np.r_[np.ones(512), np.zeros(512)]
    ref = quiet_fit(GaussianMixture(2, max_iter=3, tol=0, random_state=0), X, sample_weight=w)
    got = quiet_fit(GaussianMixture(2, max_iter=3, tol=0, random_state=0), chunked(X, [512], w))
    for a, b in zip(mixture_params(got), mixture_params(ref)):
        assert_array_equal(a, b)
    with pytest.raises(ValueError, match="sums to zero"):
        GaussianMixture(2).fit(chunked(X, [512], np.zeros(1024)))


def test_leading_empty_chunks_fix_nothing_and_float32_streams_accumulate():
    X = mixture_data(n=1024, dtype=np.float32)
    gm = quiet_fit(GaussianMixture(2, max_iter=2, random_state=0), X)
    stream = lambda: iter([np.empty((0, 0)), np.empty((0, 3), np.float64), X])  # noqa: E731
    assert_array_equal(gm.predict(stream), gm.predict(X))
    assert gm.accumulate(stream) == gm.accumulate(X)
    with pytest.raises(ValueError, match="2 features, but GaussianMixture is expecting 3"):
        gm.accumulate(lambda: iter([X[:, :2]]))
    with pytest.raises(ValueError, match="no features"):
        GaussianMixture(2).fit(lambda: iter([np.empty((4, 0))]))


def test_odd_memmaps(tmp_path):
    X = mixture_data(n=1024)
    flat, _ = memmap_of(tmp_path, X.ravel(), "flat.dat")
    with pytest.raises(ValueError, match="2D array"):
        GaussianMixture(2).fit(flat)
    big, _ = memmap_of(tmp_path, X.astype(">f8"), "big.dat")
    ref = quiet_fit(GaussianMixture(2, max_iter=3, tol=0, random_state=0), X)
    got = quiet_fit(GaussianMixture(2, max_iter=3, tol=0, random_state=0), big)
    for a, b in zip(mixture_params(got), mixture_params(ref)):
        assert_array_equal(a, b)


def test_lists_of_chunk_tuples_and_user_reiterables():
    X = mixture_data(n=1024)
    w = np.random.RandomState(9).uniform(0.5, 1.5, 1024)
    ref = quiet_fit(GaussianMixture(2, max_iter=3, tol=0, random_state=0), X, sample_weight=w)

    class Chunks:
        def __iter__(self):
            return iter([(X[:512], w[:512]), (X[512:], w[512:])])

    for src in ([(X[:512], w[:512]), (X[512:], w[512:])], Chunks()):
        got = quiet_fit(GaussianMixture(2, max_iter=3, tol=0, random_state=0), src)
        for a, b in zip(mixture_params(got), mixture_params(ref)):
            assert_array_equal(a, b)
    seqs = hmm_data(n_seq=4)
    pairs = [(np.concatenate(seqs[:2]), [128, 128]), (np.concatenate(seqs[2:]), [128, 128])]
    kw = dict(n_iter=2, tol=0, random_state=0)
    ref = quiet_fit(GaussianHMM(3, **kw), np.concatenate(seqs), [128] * 4)
    got = quiet_fit(GaussianHMM(3, **kw), pairs)
    for a, b in zip(hmm_params(got), hmm_params(ref)):
        assert_array_equal(a, b)


def test_changed_sequences_and_later_nan_are_named():
    seqs = hmm_data(n_seq=4)
    X = np.concatenate(seqs)
    calls = []

    def source():
        calls.append(1)
        if len(calls) > 2:
            return iter([(X, [512])])
        return iter([(X, [128] * 4)])

    model = GaussianHMM(3, n_iter=3, random_state=0, init_params="")
    model.startprob_, model.transmat_ = np.full(3, 1 / 3), np.full((3, 3), 1 / 3)
    model.means_, model.covars_ = np.array([[0.0, 0], [4, 4], [-4, -4]]), np.ones((3, 2))
    state = fitted_state(model)
    with pytest.raises(ValueError, match="changed between passes.*1 sequences"):
        model.fit(source)
    assert_same_state(model, state)
    Y = mixture_data(n=1024)
    bad = Y.copy()
    bad[600] = np.nan
    passes = []

    def turns_nan():  # finite on the first passes, NaN in chunk 1 from the third
        passes.append(1)
        return iter([Y[:512], (bad if len(passes) > 2 else Y)[512:]])

    gm = GaussianMixture(2, max_iter=3, random_state=0)
    with pytest.raises(ValueError, match="chunk 1 .*NaN.*changed between passes"):
        gm.fit(turns_nan)


def test_hmm_maximize_refuses_invalid_statistics():
    seqs = hmm_data(n_seq=3)
    model = quiet_fit(GaussianHMM(3, n_iter=2, random_state=0), seqs)
    stats = model.accumulate(seqs)
    state = fitted_state(model)
    e = stats.emissions
    nan_em = GaussianStats(e.kind, e.centres, e.nk * np.nan, e.s1, e.s2)
    for bad in (ChainStats(stats.start, stats.trans, stats.seq_loglik, nan_em),
                ChainStats(-stats.start, stats.trans, stats.seq_loglik, e),
                ChainStats(stats.start, stats.trans * np.nan, stats.seq_loglik, e)):
        with pytest.raises(ValueError, match="NaN|negative"):
            model.maximize(bad)
        assert_same_state(model, state)
    assert sum([stats, stats]).trans.sum() == pytest.approx(2 * stats.trans.sum())


def test_load_stats_refuses_broken_files(tmp_path):
    X = mixture_data(n=512)
    gm = quiet_fit(GaussianMixture(2, max_iter=1, random_state=0), X)
    stats = gm.accumulate(X)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="not a gmscore statistics file"):
        gmscore.load_stats(tmp_path / "empty.npz")
    neg = GaussianStats(stats.kind, stats.centres, -stats.nk, stats.s1, stats.s2)
    neg.save(tmp_path / "neg.npz")
    with pytest.raises(ValueError, match="negative"):
        gmscore.load_stats(tmp_path / "neg.npz")
    with pytest.raises(FileNotFoundError):
        gmscore.load_stats(tmp_path / "missing.npz")


@pytest.mark.parametrize("kind", ["memmap", "h5py", "zarr"])
def test_random_from_data_reads_only_the_chosen_rows(kind, tmp_path, monkeypatch):
    X = mixture_data(n=2048)
    src = {"memmap": lambda: memmap_of(tmp_path, X)[0], "h5py": lambda: h5_of(tmp_path, X),
           "zarr": lambda: zarr_of(tmp_path, X)}[kind]()
    kw = dict(init_params="random_from_data", max_iter=2, tol=0, random_state=4)
    ref = quiet_fit(GaussianMixture(3, **kw), X)
    passes = []
    real = sources.ArrayLikeSource._raw_chunks
    monkeypatch.setattr(sources.ArrayLikeSource, "_raw_chunks",
                        lambda self, first: passes.append(1) or real(self, first))
    got = quiet_fit(GaussianMixture(3, **kw), src)
    # the check pass and two E-steps: the initialisation read no chunk
    assert len(passes) == 3
    for a, b in zip(mixture_params(got), mixture_params(ref)):
        assert_array_equal(a, b)
