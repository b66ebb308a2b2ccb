"""Persistence: pickle round trips and gmscore's own pickle-free format
(``model.save(path)`` / ``gmscore.load(path)``).

Round trips must give back the same hyper-parameters, every fitted
attribute bit for bit, and bitwise identical predictions. Malformed files
(truncated, flipped bytes, edited metadata, wrong format version, unknown
class, object arrays, missing or extra entries, not a zip, missing path,
crafted pickle payloads) must be refused with a clear error, and nothing
in a file may ever be executed.

Files are crafted with the zip format as documented in
``gmscore._persistence`` (the digest is recomputed here from the spec, not
with gmscore's helper), so these tests also pin the format down.
"""
import hashlib
import io
import json
import os
import pickle
import warnings
import zipfile
from collections import deque

import numpy as np
import pytest

import gmscore
from gmscore import GMMHMM, ConvergenceMonitor, GaussianHMM, GaussianMixture

COV_TYPES = ("full", "tied", "diag", "spherical")
KINDS = ("gmm", "ghmm", "gmmhmm")


# ------------------------------------------------------------------ data
def _mixture_data(seed=0, n=240, d=3):
    rng = np.random.RandomState(seed)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, -2.0], [-3.0, 4.0, 2.0]])[:, :d]
    z = rng.randint(0, len(centres), size=n)
    A = np.array([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 1.2]])[:d, :d]
    return centres[z] + rng.randn(n, d) @ A


X64 = _mixture_data()
LENGTHS = [100, 80, 60]
X_TEST = _mixture_data(seed=7, n=90)
LENGTHS_TEST = [50, 40]


def _fit(kind, cov, dtype=np.float64, **kw):
    X = X64.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "gmm":
            return GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=20,
                                   **kw).fit(X)
        if kind == "ghmm":
            return GaussianHMM(3, covariance_type=cov, random_state=0, n_iter=8,
                               **kw).fit(X, LENGTHS)
        return GMMHMM(2, n_mix=2, covariance_type=cov, random_state=0, n_iter=6,
                      **kw).fit(X, LENGTHS)


# --------------------------------------------------------------- helpers
def _assert_same_value(a, b, where):
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), f"{where}: array bits differ"
    elif isinstance(a, (list, tuple, deque)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_value(x, y, f"{where}[{i}]")
        if isinstance(a, deque):
            assert a.maxlen == b.maxlen, where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_same_value(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, np.random.RandomState):
        sa, sb = a.get_state(), b.get_state()
        assert sa[0] == sb[0] and np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:], where
    elif isinstance(a, ConvergenceMonitor):
        _assert_same_value(vars(a), vars(b), f"{where}.__dict__")
        assert a.converged == b.converged, where
    elif isinstance(a, (float, np.floating)):
        assert np.array(a).tobytes() == np.array(b).tobytes(), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_model(a, b):
    """Same class, hyper-parameters and instance attributes, bit for bit."""
    assert type(a) is type(b)
    _assert_same_value(a.get_params(), b.get_params(), "get_params()")
    assert sorted(vars(a)) == sorted(vars(b))
    for name in vars(a):
        _assert_same_value(vars(a)[name], vars(b)[name], name)


def _bits(x):
    return np.asarray(x).dtype, np.asarray(x).tobytes()


def assert_same_predictions(a, b, X=X_TEST):
    if isinstance(a, GaussianMixture):
        for method in ("predict", "predict_proba", "score_samples", "score", "bic", "aic"):
            assert _bits(getattr(a, method)(X)) == _bits(getattr(b, method)(X)), method
        X32 = X.astype(np.float32)
        assert _bits(a.score_samples(X32)) == _bits(b.score_samples(X32))
        sa, sb = a.sample(25), b.sample(25)
        assert _bits(sa[0]) == _bits(sb[0]) and _bits(sa[1]) == _bits(sb[1])
        return
    lengths = LENGTHS_TEST
    for method in ("predict", "predict_proba", "score"):
        assert _bits(getattr(a, method)(X, lengths)) == _bits(getattr(b, method)(X, lengths))
    la, pa = a.score_samples(X, lengths)
    lb, pb = b.score_samples(X, lengths)
    assert _bits(la) == _bits(lb) and _bits(pa) == _bits(pb)
    for algorithm in ("viterbi", "map"):
        da, db = a.decode(X, lengths, algorithm=algorithm), b.decode(X, lengths, algorithm=algorithm)
        assert _bits(da[0]) == _bits(db[0]) and _bits(da[1]) == _bits(db[1])
    for rs in (3, None):
        sa, sb = a.sample(30, random_state=rs), b.sample(30, random_state=rs)
        assert _bits(sa[0]) == _bits(sb[0]) and _bits(sa[1]) == _bits(sb[1])
    assert _bits(a.get_stationary_distribution()) == _bits(b.get_stationary_distribution())


def _roundtrip(model, tmp_path, name="model.gmscore"):
    path = tmp_path / name
    model.save(path)
    return gmscore.load(path)


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _spec_digest(members):
    """The digest as documented: SHA-256 over every entry but the digest,
    sorted by name, each as (len, name, len, bytes), 8-byte LE lengths."""
    h = hashlib.sha256(b"gmscore-model digest v1\0")
    for name in sorted(members):
        if name == "digest.sha256":
            continue
        h.update(len(name.encode()).to_bytes(8, "little") + name.encode())
        h.update(len(members[name]).to_bytes(8, "little") + members[name])
    return h.hexdigest().encode()


def _write(path, members, redigest=True, compress=zipfile.ZIP_STORED):
    members = dict(members)
    if redigest:
        members["digest.sha256"] = _spec_digest(members)
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _meta(members):
    return json.loads(members["metadata.json"])


def _with_meta(members, meta):
    out = dict(members)
    out["metadata.json"] = json.dumps(meta).encode()
    return out


def _npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


@pytest.fixture(scope="module")
def fitted():
    return {kind: _fit(kind, "full") for kind in KINDS}


@pytest.fixture
def saved(tmp_path, fitted):
    """A saved fitted GaussianHMM (arrays, monitor, compact _covars_)."""
    path = tmp_path / "good.gmscore"
    fitted["ghmm"].save(path)
    return path


# ------------------------------------------------------------ round trips
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_round_trip(tmp_path, kind, cov, dtype):
    model = _fit(kind, cov, dtype)
    loaded = _roundtrip(model, tmp_path)
    assert_same_model(model, loaded)
    assert_same_predictions(model, loaded, X_TEST.astype(dtype))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pickle_round_trip(kind, cov, dtype):
    model = _fit(kind, cov, dtype)
    loaded = pickle.loads(pickle.dumps(model))
    assert "_gmscore_version" not in vars(loaded)
    assert_same_model(model, loaded)
    assert_same_predictions(model, loaded, X_TEST.astype(dtype))


@pytest.mark.parametrize("kind", KINDS)
def test_every_fitted_attribute_is_stored(tmp_path, kind, fitted):
    model = fitted[kind]
    loaded = _roundtrip(model, tmp_path)
    if kind == "gmm":
        expected = {"weights_", "means_", "covariances_", "precisions_",
                    "precisions_cholesky_", "converged_", "n_iter_", "lower_bound_",
                    "lower_bounds_", "n_features_in_"}
    else:
        expected = {"startprob_", "transmat_", "means_", "monitor_", "n_features",
                    "n_features_in_"} | ({"_covars_"} if kind == "ghmm" else
                                         {"weights_", "covars_"})
    assert expected <= set(vars(loaded))
    assert sorted(vars(loaded)) == sorted(vars(model))
    if kind != "gmm":
        m, lm = model.monitor_, loaded.monitor_
        assert isinstance(lm, ConvergenceMonitor) and isinstance(lm.history, deque)
        assert (list(lm.history), lm.iter, lm.converged, lm.tol, lm.n_iter, lm.verbose) == \
            (list(m.history), m.iter, m.converged, m.tol, m.n_iter, m.verbose)
        assert _bits(loaded.covars_) == _bits(model.covars_)


def test_loaded_model_keeps_training_identically(tmp_path):
    # warm_start continues from exactly the saved state
    model = _fit("gmm", "diag", warm_start=True)
    loaded = _roundtrip(model, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X64)
        loaded.fit(X64)
    assert_same_model(model, loaded)
    # an HMM fitted further with init_params='' as well
    hmm = _fit("ghmm", "full")
    hmm.set_params(init_params="")
    loaded = _roundtrip(hmm, tmp_path, "hmm.gmscore")
    hmm.fit(X64, LENGTHS)
    loaded.fit(X64, LENGTHS)
    assert_same_model(hmm, loaded)


def test_array_and_unusual_hyper_parameters_round_trip(tmp_path):
    weights = np.array([0.2, 0.3, 0.5])
    means = [[0.0, 0.0, 0.0], [5.0, 1.0, -2.0], [-3.0, 4.0, 2.0]]  # a list stays a list
    model = GaussianMixture(np.int64(3), tol=np.float32(1e-4), weights_init=weights,
                            means_init=means, precisions_init=(np.eye(3),) * 3,
                            random_state=np.random.RandomState(5), max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X64)
    loaded = _roundtrip(model, tmp_path)
    assert_same_model(model, loaded)
    params = loaded.get_params()
    assert type(params["n_components"]) is np.int64 and type(params["tol"]) is np.float32
    assert type(params["means_init"]) is list and type(params["means_init"][0][0]) is float
    assert type(params["precisions_init"]) is tuple
    # the array hyper-parameters are array entries, not JSON
    names = set(_members(tmp_path / "model.gmscore"))
    assert {"arrays/params/weights_init.npy", "arrays/params/random_state/key.npy",
            "arrays/params/precisions_init/0.npy"} <= names
    # the RandomState continues the same stream in both
    assert_same_predictions(model, loaded)
    assert_same_model(model, loaded)


def test_hmm_array_priors_round_trip(tmp_path):
    k, d = 3, 3
    model = GaussianHMM(k, covariance_type="diag", startprob_prior=np.array([2.0, 1.0, 1.5]),
                        transmat_prior=np.full((k, k), 1.2), means_prior=np.zeros((k, d)),
                        means_weight=np.float64(0.5), covars_prior=np.full((k, d), 0.01),
                        random_state=1, n_iter=5)
    model.fit(X64, LENGTHS)
    loaded = _roundtrip(model, tmp_path)
    assert_same_model(model, loaded)
    assert_same_predictions(model, loaded)
    gmmhmm = GMMHMM(2, n_mix=2, weights_prior=np.full((2, 2), 1.5), covars_prior=0.5,
                    covars_weight=np.ones((2, 2)), random_state=2, n_iter=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gmmhmm.fit(X64, LENGTHS)
    loaded = _roundtrip(gmmhmm, tmp_path, "g.gmscore")
    assert_same_model(gmmhmm, loaded)


def test_special_floats_and_unusual_values_round_trip(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(2, max_iter=0, random_state=0).fit(X64)
    assert model.lower_bound_ == -np.inf
    # values the format must keep exactly, whatever their type; set_params
    # takes any value, so a hyper-parameter carries them (only hyper-
    # parameters and the class's fitted attributes are stored)
    zoo = {"floats": [np.nan, -0.0, np.inf, 1e-310, 0.1],
           "numpy": (np.float32(0.1), np.int8(-3), np.uint64(2**64 - 1),
                     np.bool_(True), np.float16(0.5)),
           "misc": [None, True, 2**80, "ünïcode", deque([1.5], maxlen=3)],
           "arrays": [np.arange(6, dtype=">i4").reshape(2, 3),
                      np.asfortranarray(np.ones((2, 3))), np.array(1 + 2j),
                      np.zeros((0, 3)), np.array([True, False])]}
    model.set_params(means_init=zoo)
    loaded = _roundtrip(model, tmp_path)
    assert_same_model(model, loaded)
    assert loaded.means_init["arrays"][0].dtype.str == ">i4"
    assert loaded.means_init["arrays"][1].flags.writeable
    # other instance attributes are refused, by name, and nothing is written
    for name in ("extra_", "note"):
        setattr(model, name, 1.0)
        with pytest.raises(TypeError, match=rf"attribute {name} is not a fitted attribute"):
            model.save(tmp_path / "extra")
        delattr(model, name)
    assert not (tmp_path / "extra").exists()


def test_unfitted_models_save_their_hyper_parameters(tmp_path):
    for model in (GaussianMixture(4, covariance_type="tied", weights_init=np.full(4, 0.25)),
                  GaussianHMM(2, covariance_type="spherical", n_iter=3),
                  GMMHMM(2, n_mix=3)):
        loaded = _roundtrip(model, tmp_path)
        assert _meta(_members(tmp_path / "model.gmscore"))["fitted"] is False
        assert_same_model(model, loaded)
        # nothing fitted (an HMM's monitor exists from construction, as in hmmlearn)
        assert not any(name.endswith("_") and name != "monitor_" for name in vars(loaded))
        with pytest.raises(ValueError, match="fit"):
            loaded.predict(X_TEST)


def test_saving_is_deterministic_and_idempotent(tmp_path, fitted):
    for kind, model in fitted.items():
        model.save(tmp_path / "a")
        model.save(tmp_path / "b")
        gmscore.load(tmp_path / "a").save(tmp_path / "c")
        a, b, c = ((tmp_path / n).read_bytes() for n in "abc")
        assert a == b == c, kind


def test_format_layout_matches_the_spec(saved, fitted):
    with zipfile.ZipFile(saved) as zf:
        infos = zf.infolist()
    assert infos[0].filename == "metadata.json" and infos[-1].filename == "digest.sha256"
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    members = _members(saved)
    assert members["digest.sha256"] == _spec_digest(members)
    meta = _meta(members)
    assert (meta["format"], meta["format_version"], meta["class"], meta["fitted"]) == \
        ("gmscore-model", 1, "GaussianHMM", True)
    assert meta["gmscore_version"] == gmscore.__version__
    assert set(meta["params"]) == set(GaussianHMM().get_params())
    assert meta["attributes"]["_covars_"]["type"] == "ndarray"
    assert meta["attributes"]["monitor_"]["class"] == "ConvergenceMonitor"
    arr = np.load(io.BytesIO(members["arrays/attributes/means_.npy"]), allow_pickle=False)
    assert np.array_equal(arr, fitted["ghmm"].means_)


def test_save_accepts_paths_and_file_objects(tmp_path, fitted):
    model = fitted["gmmhmm"]
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    assert_same_model(model, gmscore.load(buf))
    model.save(str(tmp_path / "s"))
    assert_same_model(model, gmscore.load(str(tmp_path / "s")))
    model.save(os.fsencode(tmp_path / "b"))
    assert_same_model(model, gmscore.load(os.fsencode(tmp_path / "b")))
    # written exactly where asked, with umask-governed permissions, no temp left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "s"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_refuses_what_it_cannot_store_and_writes_nothing(tmp_path, fitted):
    path = tmp_path / "m.gmscore"
    fitted["gmm"].save(path)
    before = path.read_bytes()
    model = _fit("gmm", "diag")
    model.cache_ = object()
    with pytest.raises(TypeError, match="attribute cache_ has type builtins.object"):
        model.save(path)
    model.cache_ = np.array([1, "a"], dtype=object)
    with pytest.raises(TypeError, match=r"attribute cache_ is an array of dtype object"):
        model.save(path)
    model.cache_ = {1: 2}
    with pytest.raises(TypeError, match="non-string key"):
        model.save(path)
    del model.cache_
    model.set_params(random_state=np.random.default_rng(0))
    with pytest.raises(TypeError, match="hyper-parameter random_state has type"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.gmscore"]

    class MyMixture(GaussianMixture):
        pass

    with pytest.raises(TypeError, match="not .*MyMixture.*use pickle"):
        MyMixture(2).save(tmp_path / "x")
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------- malformed files
def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.gmscore"):
        gmscore.load(tmp_path / "nope.gmscore")
    with pytest.raises(IsADirectoryError):
        gmscore.load(tmp_path)


@pytest.mark.parametrize("content", [
    b"", b"hello, I am a text file\n", b"PK\x03\x04" + b"\0" * 40,
    _npy(np.arange(4.0)), pickle.dumps({"a": 1}),
], ids=["empty", "text", "zip-magic-only", "npy", "pickle"])
def test_not_a_zip_file(tmp_path, content):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a readable gmscore model file"):
        gmscore.load(path)


def test_a_pickled_model_is_refused(tmp_path, fitted):
    path = tmp_path / "pickled"
    path.write_bytes(pickle.dumps(fitted["gmm"]))
    with pytest.raises(ValueError, match="not a readable gmscore model file"):
        gmscore.load(path)


def test_truncated_file(tmp_path, saved):
    data = saved.read_bytes()
    path = tmp_path / "cut"
    for cut in list(range(0, len(data), max(1, len(data) // 200))) + [len(data) - 1]:
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="Cannot load a gmscore model"):
            gmscore.load(path)


def _data_regions(path):
    """Byte ranges of the entries' contents inside the archive."""
    data = path.read_bytes()
    regions = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            off = info.header_offset
            name_len = int.from_bytes(data[off + 26:off + 28], "little")
            extra_len = int.from_bytes(data[off + 28:off + 30], "little")
            start = off + 30 + name_len + extra_len
            regions.append((info.filename, start, start + info.compress_size))
    return regions


def test_flipped_bytes(tmp_path, saved, fitted):
    """Every single-byte corruption is refused or leaves the model intact;
    any corruption of an entry's content is refused. Every byte of the zip
    bookkeeping is flipped, and a sample of the entries' contents."""
    data = saved.read_bytes()
    regions = _data_regions(saved)
    in_content = np.zeros(len(data), dtype=bool)
    positions = set()
    for _, start, stop in regions:
        in_content[start:stop] = True
        positions.update(range(start, min(start + 12, stop)))
        positions.update(range(max(stop - 12, start), stop))
        positions.update(range(start, stop, 5))
    positions.update(np.flatnonzero(~in_content).tolist())
    refused = 0
    for pos in sorted(positions):
        corrupt = bytearray(data)
        corrupt[pos] ^= 0x5A
        try:
            loaded = gmscore.load(io.BytesIO(bytes(corrupt)))
        except ValueError as exc:
            assert "Cannot load a gmscore model" in str(exc)
            refused += 1
            continue
        assert not in_content[pos], f"corrupted content at byte {pos} was loaded"
        assert_same_model(fitted["ghmm"], loaded)  # zip bookkeeping only
    assert refused >= sum(in_content[p] for p in positions)
    path = tmp_path / "flipped"
    # corruption inside an array's data is caught by the zip CRC
    name, start, stop = next(r for r in regions if r[0].endswith("means_.npy"))
    corrupt = bytearray(data)
    corrupt[stop - 3] ^= 0x01
    path.write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match="CRC"):
        gmscore.load(path)


@pytest.mark.parametrize("edit", ["n_components", "history", "class", "extra_key"])
def test_edited_metadata_with_stale_digest(tmp_path, saved, edit):
    members = _members(saved)
    meta = _meta(members)
    if edit == "n_components":
        meta["params"]["n_components"]["value"] = 4
    elif edit == "history":
        meta["attributes"]["monitor_"]["state"]["history"]["items"][0]["value"] += 1.0
    elif edit == "class":
        meta["class"] = "GMMHMM"
    else:
        meta["attributes"]["n_features"]["value"] = 3  # same value, reserialised JSON
    path = _write(tmp_path / "edited", _with_meta(members, meta), redigest=False)
    with pytest.raises(ValueError, match="digest does not match its content"):
        gmscore.load(path)


def test_edited_array_with_stale_digest(tmp_path, saved):
    members = _members(saved)
    arr = np.load(io.BytesIO(members["arrays/attributes/means_.npy"]))
    arr[0, 0] = np.nextafter(arr[0, 0], np.inf)  # one ulp
    members["arrays/attributes/means_.npy"] = _npy(arr)
    with pytest.raises(ValueError, match="digest does not match"):
        gmscore.load(_write(tmp_path / "e", members, redigest=False))
    members = _members(saved)
    members["digest.sha256"] = b"0" * 64
    with pytest.raises(ValueError, match="digest does not match"):
        gmscore.load(_write(tmp_path / "d", members, redigest=False))


@pytest.mark.parametrize("version", [2, 0, "1", 1.0, None])
@pytest.mark.parametrize("redigest", [True, False])
def test_wrong_format_version(tmp_path, saved, version, redigest):
    members = _members(saved)
    meta = _meta(members)
    meta["format_version"] = version
    path = _write(tmp_path / "v", _with_meta(members, meta), redigest=redigest)
    with pytest.raises(ValueError, match=(
            rf"written by gmscore {gmscore.__version__} in format version "
            rf"{repr(version).replace('.', '[.]')}, but this gmscore .* reads format "
            r"version 1 only")):
        gmscore.load(path)


def test_not_a_gmscore_format(tmp_path, saved):
    members = _members(saved)
    meta = _meta(members)
    meta["format"] = "something-else"
    with pytest.raises(ValueError, match="not a 'gmscore-model' file"):
        gmscore.load(_write(tmp_path / "f", _with_meta(members, meta)))
    # a plain numpy .npz is a zip too
    np.savez(tmp_path / "plain.npz", a=np.arange(3))
    with pytest.raises(ValueError, match="no 'metadata.json' entry"):
        gmscore.load(tmp_path / "plain.npz")


@pytest.mark.parametrize("cls", ["LinearRegression", "ConvergenceMonitor", "object",
                                 "os.system", "builtins.eval", "ParamsMixin", "", 42])
def test_unknown_class(tmp_path, saved, cls):
    members = _members(saved)
    meta = _meta(members)
    meta["class"] = cls
    path = _write(tmp_path / "c", _with_meta(members, meta))  # a valid digest
    with pytest.raises(ValueError, match=r"unknown model class .*gmscore.load creates only "
                                         r"GaussianMixture, GaussianHMM, GMMHMM"):
        gmscore.load(path)


def test_object_dtype_array_injected(tmp_path, saved):
    members = _members(saved)
    entry = "arrays/attributes/means_.npy"
    members[entry] = _npy(np.array([1.0, "x", None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="dtype object; only bool, integer, float"):
        gmscore.load(_write(tmp_path / "o1", members))
    # also when the metadata is made to agree
    meta = _meta(members)
    meta["attributes"]["means_"].update(dtype="|O", shape=[3])
    with pytest.raises(ValueError, match="dtype object"):
        gmscore.load(_write(tmp_path / "o2", _with_meta(members, meta)))
    # a structured dtype hiding an object field
    members[entry] = _npy(np.zeros(2, dtype=[("a", "f8"), ("b", "O")]), allow_pickle=True)
    with pytest.raises(ValueError, match="only bool, integer, float"):
        gmscore.load(_write(tmp_path / "o3", members))
    # strings are not numbers either
    members[entry] = _npy(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="only bool, integer, float"):
        gmscore.load(_write(tmp_path / "o4", members))


class _Payload:
    """Pickles to a call that writes a marker file (it must never run)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('executed')",))


@pytest.mark.parametrize("where", ["array", "scalar-array", "random_state_key"])
def test_no_code_executes_on_load(tmp_path, saved, where):
    marker = tmp_path / "marker"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(marker)
    payload = _npy(evil, allow_pickle=True)
    # the payload is live: unpickling it does run the code
    np.load(io.BytesIO(payload), allow_pickle=True)
    assert marker.read_text() == "executed"
    marker.unlink()

    members = _members(saved)
    meta = _meta(members)
    if where == "array":
        members["arrays/attributes/means_.npy"] = payload
    elif where == "scalar-array":
        meta["attributes"]["n_features_in_"] = {"type": "ndarray", "entry": "arrays/h.npy",
                                                "dtype": "|O", "shape": [1]}
        members["arrays/h.npy"] = payload
    else:
        meta["params"]["random_state"] = {
            "type": "random_state", "bit_generator": "MT19937", "pos": 0, "has_gauss": 0,
            "cached_gaussian": 0.0,
            "key": {"type": "ndarray", "entry": "arrays/k.npy", "dtype": "<u4",
                    "shape": [624]}}
        members["arrays/k.npy"] = payload
    for redigest in (True, False):
        path = _write(tmp_path / "evil", _with_meta(members, meta), redigest=redigest)
        with pytest.raises(ValueError, match="Cannot load a gmscore model"):
            gmscore.load(path)
        assert not marker.exists()
    # and a whole pickle file with the payload is no zip at all
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError, match="not a readable"):
        gmscore.load(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_missing_array_entry(tmp_path, saved):
    members = _members(saved)
    del members["arrays/attributes/transmat_.npy"]
    with pytest.raises(ValueError, match="digest does not match"):
        gmscore.load(_write(tmp_path / "m1", members, redigest=False))
    with pytest.raises(ValueError, match=r"array entry 'arrays/attributes/transmat_.npy' "
                                         r"for attributes.transmat_ is missing"):
        gmscore.load(_write(tmp_path / "m2", members))
    members = _members(saved)
    del members["digest.sha256"]
    with pytest.raises(ValueError, match="no 'digest.sha256' entry"):
        gmscore.load(_write(tmp_path / "m3", members, redigest=False))
    members = _members(saved)
    del members["metadata.json"]
    with pytest.raises(ValueError, match="no 'metadata.json' entry"):
        gmscore.load(_write(tmp_path / "m4", members))


def test_archive_structure_is_checked(tmp_path, saved):
    members = _members(saved)
    with pytest.raises(ValueError, match=r"unexpected entries \['arrays/extra.npy'\]"):
        gmscore.load(_write(tmp_path / "x1", {**members, "arrays/extra.npy": _npy(np.ones(2))}))
    with pytest.raises(ValueError, match="compressed or encrypted"):
        gmscore.load(_write(tmp_path / "x2", members, compress=zipfile.ZIP_DEFLATED))
    path = _write(tmp_path / "x3", members)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("arrays/attributes/means_.npy", members["arrays/attributes/means_.npy"])
    with pytest.raises(ValueError, match="duplicate entries"):
        gmscore.load(path)


@pytest.mark.parametrize("case,message", [
    ("not-json", "metadata.json is not valid JSON"),
    ("nan-constant", "contains NaN, which is not JSON"),
    ("duplicate-key", "repeats the key"),
    ("not-utf8", "not UTF-8"),
    ("unknown-top-key", r"unknown keys \['comment'\]"),
    ("unknown-param", "has no hyper-parameter 'frobnicate'"),
    ("param-as-attribute", "is a hyper-parameter name"),
    ("dunder-attribute", "invalid attribute name '__class__'"),
    ("method-attribute", "would shadow GaussianHMM.predict"),
    ("property-attribute", "would shadow GaussianHMM.covars_"),
    ("unknown-node", "unknown value type 'pickle'"),
    ("bad-node", "malformed value at attributes.n_features"),
    ("bad-int", "malformed int"),
    ("unknown-object", r"unknown object class 'Popen'"),
    ("bad-scalar-dtype", "unsupported numpy scalar dtype 'O'"),
    ("scalar-overflow", "does not fit int8"),
    ("shape-mismatch", r"the metadata says <f8 and \[3, 4\]"),
    ("wrong-shape", r"means_ is a ndarray of dtype float64 and shape \(2, 3\), but the "
                    r"hyper-parameters imply a numeric array of shape \(3, 3\)"),
    ("wrong-transmat", r"transmat_ is a ndarray of dtype float64 and shape \(3,\)"),
    ("n-features-type", "n_features='3' disagrees"),
    ("too-deep", "nested more than 64 deep"),
    ("covariance-type", "_covars_ is a ndarray of dtype float64 and shape"),
    ("n-features", "n_features=5 disagrees with means_"),
    ("fitted-flag", "says fitted=False"),
    ("entry-twice", "referenced twice"),
])
def test_malformed_metadata(tmp_path, saved, case, message):
    members = _members(saved)
    meta = _meta(members)
    attrs = meta["attributes"]
    raw = None
    if case == "not-json":
        raw = b"{not json"
    elif case == "nan-constant":
        raw = members["metadata.json"].replace(b'"value":0.01', b'"value":NaN', 1)
        assert raw != members["metadata.json"]
    elif case == "duplicate-key":
        raw = members["metadata.json"].replace(b'{"format"', b'{"class":"GMMHMM","format"', 1)
        assert raw != members["metadata.json"]
    elif case == "not-utf8":
        raw = b"\xff\xfe" + members["metadata.json"]
    elif case == "unknown-top-key":
        meta["comment"] = "hello"
    elif case == "unknown-param":
        meta["params"]["frobnicate"] = {"type": "int", "value": 1}
    elif case == "param-as-attribute":
        attrs["n_iter"] = {"type": "int", "value": 1}
    elif case == "dunder-attribute":
        attrs["__class__"] = {"type": "str", "value": "x"}
    elif case == "method-attribute":
        attrs["predict"] = {"type": "none"}
    elif case == "property-attribute":
        attrs["covars_"] = {"type": "none"}
    elif case == "unknown-node":
        attrs["n_features"] = {"type": "pickle", "value": "gASVAAAA"}
    elif case == "bad-node":
        attrs["n_features"] = [3]
    elif case == "bad-int":
        attrs["n_features"] = {"type": "int", "value": 3.5}
    elif case == "unknown-object":
        attrs["monitor_"]["class"] = "Popen"
    elif case == "bad-scalar-dtype":
        attrs["n_features_in_"] = {"type": "numpy_scalar", "dtype": "O", "value": 1}
    elif case == "scalar-overflow":
        attrs["n_features_in_"] = {"type": "numpy_scalar", "dtype": "|i1", "value": 300}
    elif case == "shape-mismatch":
        attrs["means_"]["shape"] = [3, 4]
    elif case == "wrong-shape":
        members["arrays/attributes/means_.npy"] = _npy(np.zeros((2, 3)))
        attrs["means_"]["shape"] = [2, 3]
    elif case == "wrong-transmat":
        members["arrays/attributes/transmat_.npy"] = _npy(np.ones(3) / 3)
        attrs["transmat_"]["shape"] = [3]
    elif case == "n-features-type":
        attrs["n_features"] = {"type": "str", "value": "3"}
    elif case == "too-deep":
        node = {"type": "none"}
        for _ in range(70):
            node = {"type": "list", "items": [node]}
        meta["params"]["means_prior"] = node
    elif case == "covariance-type":
        meta["params"]["covariance_type"]["value"] = "diag"
    elif case == "n-features":
        attrs["n_features"]["value"] = 5
    elif case == "fitted-flag":
        meta["fitted"] = False
    elif case == "entry-twice":
        meta["params"]["means_prior"] = dict(attrs["means_"])  # decoded before means_
    if raw is None:
        raw = json.dumps(meta).encode()
    members["metadata.json"] = raw
    with pytest.raises(ValueError, match=message):
        gmscore.load(_write(tmp_path / "meta", members))


def test_gmm_inconsistent_arrays_are_refused(tmp_path, fitted):
    """A crafted GaussianMixture whose precision factors do not match its
    means would make the kernels read out of bounds: refused."""
    path = tmp_path / "gmm"
    fitted["gmm"].save(path)
    members = _members(path)
    meta = _meta(members)
    members["arrays/attributes/precisions_cholesky_.npy"] = _npy(np.ones((3, 2, 2)))
    meta["attributes"]["precisions_cholesky_"]["shape"] = [3, 2, 2]
    with pytest.raises(ValueError, match="precisions_cholesky_ is a ndarray"):
        gmscore.load(_write(tmp_path / "bad", _with_meta(members, meta)))


def test_inconsistent_models_are_refused_at_save_time(tmp_path):
    model = _fit("gmm", "full")
    model.set_params(n_components=4)  # not refitted
    with pytest.raises(ValueError, match=r"cannot save this GaussianMixture: its fitted "
                                         r"attributes do not match .*imply a numeric array "
                                         r"of shape \(4, 3\)"):
        model.save(tmp_path / "m")
    model.set_params(n_components=3, covariance_type="diag")
    with pytest.raises(ValueError, match="covariances_ is a ndarray"):
        model.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()
    deep = []
    for _ in range(70):
        deep = [deep]
    model = GaussianHMM(2)
    model.deep_ = deep
    with pytest.raises(TypeError, match="nested more than 64 deep"):
        model.save(tmp_path / "m")


def test_hand_assigned_hmm_parameters_round_trip(tmp_path):
    """hmmlearn-style models set up by hand (lists, some parameters only)."""
    model = GaussianHMM(2, covariance_type="diag", init_params="m", params="m",
                        random_state=0)
    model.startprob_ = [0.5, 0.5]
    model.transmat_ = [[0.9, 0.1], [0.2, 0.8]]
    model._covars_ = np.full((2, 3), 1.5)  # no means_ yet: D is unknown
    loaded = _roundtrip(model, tmp_path)
    assert_same_model(model, loaded)
    model.fit(X64, LENGTHS)
    loaded.fit(X64, LENGTHS)
    assert_same_model(model, loaded)
    spherical = GaussianHMM(2, covariance_type="spherical")
    spherical.covars_ = [1.0, 2.0]
    assert_same_model(spherical, _roundtrip(spherical, tmp_path, "s"))


def test_missing_hyper_parameters_take_defaults(tmp_path, saved, fitted):
    members = _members(saved)
    meta = _meta(members)
    del meta["params"]["n_threads"]  # as if written before n_threads existed
    loaded = gmscore.load(_write(tmp_path / "old", _with_meta(members, meta)))
    assert loaded.n_threads is None
    assert_same_predictions(fitted["ghmm"], loaded)
