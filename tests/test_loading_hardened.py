"""``gmscore.load`` against crafted files that pass the integrity check.

The digest has no key, so a file can be edited and its digest recomputed.
Such a file must still be refused when:

* its fitted values are not ones ``fit`` could produce (NaN, infinity,
  weights off the simplex, covariances or precisions that are not positive
  definite, precision factors inconsistent with the covariances);
* it sets an instance attribute that is neither a hyper-parameter nor a
  fitted attribute of its class (class-level names such as
  ``_parameter_constraints`` included);
* it is built to make the reader slow or to trip the parser (many zip
  entries, a huge or deeply nested metadata.json, integers with thousands
  of digits), which is refused by size caps checked before any parsing.

Files are crafted as in ``test_persistence.py``: entries rewritten, the
digest recomputed from the documented format.
"""
import hashlib
import io
import json
import struct
import warnings
import zipfile

import numpy as np
import pytest

import gmscore
from gmscore import GMMHMM, GaussianHMM, GaussianMixture
from gmscore import _model_file

X = np.random.RandomState(0).randn(240, 3) @ np.array([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2],
                                                        [0.1, 0.0, 1.2]])
X[:80] += 5.0
LENGTHS = [100, 80, 60]


def _fit(kind, cov="full"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "gmm":
            return GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=20).fit(X)
        if kind == "ghmm":
            return GaussianHMM(3, covariance_type=cov, random_state=0, n_iter=5).fit(X, LENGTHS)
        return GMMHMM(2, n_mix=2, covariance_type=cov, random_state=0, n_iter=4).fit(X, LENGTHS)


def _spec_digest(members):
    h = hashlib.sha256(b"gmscore-model digest v1\0")
    for name in sorted(members):
        if name == "digest.sha256":
            continue
        h.update(len(name.encode()).to_bytes(8, "little") + name.encode())
        h.update(len(members[name]).to_bytes(8, "little") + members[name])
    return h.hexdigest().encode()


def _saved_members(model):
    buf = io.BytesIO()
    model.save(buf)
    with zipfile.ZipFile(buf) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _zip(members):
    """The members as a zip with a recomputed (valid) digest."""
    members = dict(members)
    members["digest.sha256"] = _spec_digest(members)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _array(members, attr):
    return np.load(io.BytesIO(members[f"arrays/attributes/{attr}.npy"]))


def _with_array(members, attr, arr):
    out = dict(members)
    out[f"arrays/attributes/{attr}.npy"] = _npy(arr)
    return out


def _with_meta(members, edit):
    meta = json.loads(members["metadata.json"])
    edit(meta)
    out = dict(members)
    out["metadata.json"] = json.dumps(meta).encode()
    return out


@pytest.fixture(scope="module")
def models():
    return {(kind, cov): _fit(kind, cov) for kind in ("gmm", "ghmm", "gmmhmm")
            for cov in ("full", "tied", "diag", "spherical")}


# --------------------------------------------------- 8: values are validated
def _nan_at_0(a):
    a = a.copy()
    a.flat[0] = np.nan
    return a


def _inf_at_0(a):
    a = a.copy()
    a.flat[0] = np.inf
    return a


def _negate(a):
    return -a


def _zeros(a):
    return np.zeros_like(a)


def _scale(a, factor=2.0):
    return a * factor


def _negative_weight(w):
    # sums to one, one weight below zero
    w = w.copy()
    w[0], w[1] = -0.25, w[1] + w[0] + 0.25
    return w


def _off_simplex(w):
    return w * 1.01


def _lower_entry(u):
    # a full factor with a non-zero entry below the diagonal: not a Cholesky factor
    u = u.copy()
    u[..., -1, 0] = 0.5
    return u


def _asymmetric(c):
    c = c.copy()
    c[..., 0, -1] += 0.5 * abs(c[..., 0, 0]).max()
    return c


GMM_CASES = [
    # (cov, attribute, edit, expected message)
    ("full", "weights_", _nan_at_0, r"weights_ contains NaN or infinity"),
    ("full", "weights_", _negative_weight, r"weights_ has negative entries"),
    ("full", "weights_", _off_simplex, r"weights_ must sum to 1 \(it sums to 1.01"),
    ("diag", "weights_", _zeros, r"weights_ must sum to 1 \(it sums to 0"),
    ("full", "means_", _inf_at_0, r"means_ contains NaN or infinity"),
    ("full", "covariances_", _nan_at_0, r"covariances_ contains NaN or infinity"),
    ("full", "covariances_", _negate, r"covariances_ is not positive definite \(component 0"),
    ("tied", "covariances_", _zeros, r"covariances_ is not positive definite"),
    ("diag", "covariances_", _negate, r"covariances_ is not positive definite"),
    ("spherical", "covariances_", _zeros, r"covariances_ is not positive definite"),
    ("full", "covariances_", _asymmetric, r"covariances_ is not symmetric"),
    ("full", "precisions_", _negate, r"precisions_ is not positive definite"),
    ("diag", "precisions_", _inf_at_0, r"precisions_ contains NaN or infinity"),
    ("full", "precisions_cholesky_", _zeros, r"precisions_cholesky_ is not .*positive"),
    ("full", "precisions_cholesky_", _lower_entry, r"precisions_cholesky_ is not upper "
                                                   r"triangular"),
    ("tied", "precisions_cholesky_", _negate, r"precisions_cholesky_ is not .*positive"),
    ("spherical", "precisions_cholesky_", _negate, r"precisions_cholesky_ is not .*positive"),
    ("diag", "precisions_cholesky_", _nan_at_0, r"precisions_cholesky_ contains NaN"),
    # each array valid on its own, but not the same Gaussians
    ("full", "covariances_", _scale, r"precisions_cholesky_ and covariances_ disagree"),
    ("tied", "covariances_", _scale, r"precisions_cholesky_ and covariances_ disagree"),
    ("diag", "precisions_", _scale, r"precisions_cholesky_ and precisions_ disagree"),
    ("spherical", "covariances_", _scale, r"precisions_cholesky_ and covariances_ disagree"),
    ("full", "precisions_", _scale, r"precisions_cholesky_ and precisions_ disagree"),
]


@pytest.mark.parametrize("cov,attr,edit,message", GMM_CASES)
def test_gaussian_mixture_values_are_validated(models, cov, attr, edit, message):
    model = models["gmm", cov]
    members = _saved_members(model)
    crafted = _with_array(members, attr, edit(_array(members, attr)))
    with pytest.raises(ValueError, match=r"Cannot load a gmscore model from .*" + message):
        gmscore.load(_zip(crafted))


def _row_negative(t):
    t = t.copy()
    t[-1, 0], t[-1, 1] = -0.5, t[-1, 1] + t[-1, 0] + 0.5
    return t


HMM_CASES = [
    ("ghmm", "full", "startprob_", _nan_at_0, r"startprob_ contains NaN or infinity"),
    ("ghmm", "full", "startprob_", _off_simplex, r"startprob_ must sum to 1"),
    ("ghmm", "diag", "startprob_", _negative_weight, r"startprob_ has negative entries"),
    ("ghmm", "full", "transmat_", _zeros, r"transmat_ rows must sum to 1 \(row 0 sums to 0"),
    ("ghmm", "full", "transmat_", _row_negative, r"transmat_ has negative entries"),
    ("ghmm", "tied", "transmat_", _inf_at_0, r"transmat_ contains NaN or infinity"),
    ("ghmm", "full", "means_", _nan_at_0, r"means_ contains NaN or infinity"),
    ("ghmm", "full", "_covars_", _negate, r"_covars_ is not positive definite"),
    ("ghmm", "tied", "_covars_", _zeros, r"_covars_ is not positive definite"),
    ("ghmm", "diag", "_covars_", _negate, r"_covars_ is not positive definite"),
    ("ghmm", "spherical", "_covars_", _nan_at_0, r"_covars_ contains NaN or infinity"),
    ("ghmm", "full", "_covars_", _asymmetric, r"_covars_ is not symmetric"),
    ("gmmhmm", "full", "weights_", _off_simplex, r"weights_ rows must sum to 1"),
    ("gmmhmm", "diag", "weights_", _row_negative, r"weights_ has negative entries"),
    ("gmmhmm", "full", "covars_", _negate, r"covars_ is not positive definite"),
    ("gmmhmm", "tied", "covars_", _zeros, r"covars_ is not positive definite"),
    ("gmmhmm", "spherical", "covars_", _negate, r"covars_ is not positive definite"),
    ("gmmhmm", "diag", "means_", _inf_at_0, r"means_ contains NaN or infinity"),
    ("gmmhmm", "full", "startprob_", _zeros, r"startprob_ must sum to 1"),
]


@pytest.mark.parametrize("kind,cov,attr,edit,message", HMM_CASES)
def test_hmm_values_are_validated(models, kind, cov, attr, edit, message):
    model = models[kind, cov]
    members = _saved_members(model)
    crafted = _with_array(members, attr, edit(_array(members, attr)))
    with pytest.raises(ValueError, match=r"Cannot load a gmscore model from .*" + message):
        gmscore.load(_zip(crafted))


def test_valid_models_of_every_kind_still_load(models):
    for (kind, cov), model in models.items():
        loaded = gmscore.load(_zip(_saved_members(model)))
        if kind == "gmm":
            assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
        else:
            assert loaded.score(X, LENGTHS) == model.score(X, LENGTHS)


def test_consistency_check_is_scale_invariant():
    """Features on scales 1e-4 .. 1e4 and strongly correlated components:
    a genuine fit passes the consistency test (it is relative per row and
    column, not absolute)."""
    rng = np.random.RandomState(3)
    scales = np.array([1e-4, 1.0, 1e4])
    A = np.array([[1.0, 0.999, 0.0], [0.0, 0.05, 0.3], [0.0, 0.0, 1.0]])
    data = (rng.randn(400, 3) @ A) * scales
    data[:200] += 3 * scales
    for cov in ("full", "tied", "diag", "spherical"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = GaussianMixture(2, covariance_type=cov, reg_covar=1e-12,
                                    random_state=0).fit(data)
        loaded = gmscore.load(_zip(_saved_members(model)))
        assert np.array_equal(loaded.predict(data), model.predict(data))


def test_hand_assigned_invalid_hmm_parameters_are_refused_at_save(tmp_path):
    """save refuses what load would refuse, and writes nothing."""
    model = GaussianHMM(2, covariance_type="diag", init_params="mc")
    model.startprob_ = [0.7, 0.7]
    with pytest.raises(ValueError, match=r"cannot save this GaussianHMM: .*startprob_ must "
                                         r"sum to 1"):
        model.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()
    model.startprob_ = [0.5, 0.5]  # valid values of a partly set-up model save and load
    loaded = gmscore.load(_zip(_saved_members(model)))
    assert loaded.startprob_ == [0.5, 0.5]


# ------------------------------------------- 9: only known attribute names
@pytest.mark.parametrize("kind,name,node", [
    ("gmm", "_parameter_constraints", {"type": "dict", "items": []}),
    ("gmm", "_estimator_type", {"type": "str", "value": "regressor"}),
    ("ghmm", "_base_constraints", {"type": "dict", "items": []}),
    ("ghmm", "_emission_letters", {"type": "str", "value": ""}),
    ("gmmhmm", "_emission_param_names", {"type": "tuple", "items": []}),
    ("ghmm", "_covars", {"type": "none"}),
    ("gmm", "startprob_", {"type": "none"}),     # an HMM attribute, not a mixture's
    ("ghmm", "precisions_", {"type": "none"}),   # and the other way round
    ("ghmm", "_covars_extra_", {"type": "int", "value": 1}),
    ("gmm", "note", {"type": "str", "value": "x"}),
])
def test_unknown_attribute_names_are_refused(models, kind, name, node):
    members = _saved_members(models[kind, "diag"])
    crafted = _with_meta(members, lambda meta: meta["attributes"].__setitem__(name, node))
    cname = type(models[kind, "diag"]).__name__
    with pytest.raises(ValueError, match=rf"attribute {name!r} is not a fitted attribute of "
                                         rf"{cname}"):
        gmscore.load(_zip(crafted))


def test_unknown_monitor_attributes_are_refused(models):
    members = _saved_members(models["ghmm", "diag"])

    def edit(meta):
        meta["attributes"]["monitor_"]["state"]["_header"] = {"type": "str", "value": "{}"}

    with pytest.raises(ValueError, match=r"'_header' is not an attribute of a saved "
                                         r"ConvergenceMonitor"):
        gmscore.load(_zip(_with_meta(members, edit)))


def test_save_refuses_attributes_load_would_refuse(tmp_path, models):
    model = _fit("gmm", "diag")
    model.note_ = "mine"
    with pytest.raises(TypeError, match=r"attribute note_ is not a fitted attribute of "
                                        r"GaussianMixture.*delete it"):
        model.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_verbose_fit_leftovers_still_round_trip(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(2, verbose=2, verbose_interval=100, max_iter=2,
                                random_state=0)
        import contextlib
        with contextlib.redirect_stdout(io.StringIO()):
            model.fit(X)
    assert "_iter_prev_time" in vars(model)
    model.save(tmp_path / "v")
    assert sorted(vars(gmscore.load(tmp_path / "v"))) == sorted(vars(model))


# --------------------------------------- 10: caps checked before parsing
def _zip_of_empty_entries(names):
    """A valid stored zip whose entries are all empty, written directly
    (zipfile would take seconds for 64k entries)."""
    local, central, offset = [], [], 0
    for name in names:
        raw = name.encode()
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 33, 0, 0, 0,
                             len(raw), 0) + raw
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 33,
                                   0, 0, 0, len(raw), 0, 0, 0, 0, 0, offset) + raw)
        local.append(header)
        offset += len(header)
    cd = b"".join(central)
    n = len(names)
    if n < 0xFFFF:
        end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(cd), offset, 0)
    else:  # zip64 end record and locator, as zipfile writes them
        end = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(cd),
                          offset)
        end += struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + len(cd), 1)
        end += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                           0xFFFFFFFF, 0)
    return io.BytesIO(b"".join(local) + cd + end)


def test_crafted_zip_writer_is_valid():
    with zipfile.ZipFile(_zip_of_empty_entries(["a", "b", "c"])) as zf:
        assert zf.namelist() == ["a", "b", "c"] and zf.testzip() is None
    names = [f"e{i}" for i in range(0x10005)]
    with zipfile.ZipFile(_zip_of_empty_entries(names)) as zf:  # the zip64 end record
        assert len(zf.infolist()) == len(names)


@pytest.mark.parametrize("same_name", [True, False])
def test_too_many_entries_are_refused_before_reading_them(same_name):
    n = 64_000
    names = ["arrays/x.npy"] * n if same_name else [f"arrays/{i}.npy" for i in range(n)]
    names[:2] = ["metadata.json", "digest.sha256"]
    with pytest.raises(ValueError, match=rf"the archive has {n} entries; a gmscore model "
                                         r"file has at most \d+"):
        gmscore.load(_zip_of_empty_entries(names))


def test_too_many_entries_with_zip64_end_record():
    names = ["metadata.json", "digest.sha256"] + ["x"] * 0x10000
    with pytest.raises(ValueError, match=rf"the archive has {len(names)} entries"):
        gmscore.load(_zip_of_empty_entries(names))


def test_a_lying_entry_count_is_caught(monkeypatch):
    """The end record claims 3 entries: the directory size, or the entries
    the zip reader then finds, still refuse the archive."""
    buf = _zip_of_empty_entries([f"e{i}" for i in range(5000)])
    data = bytearray(buf.getvalue())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = struct.pack("<2H", 3, 3)
    with pytest.raises(ValueError, match="the archive has 5000 entries; a gmscore model file "
                                         "has at most"):
        gmscore.load(io.BytesIO(bytes(data)))
    monkeypatch.setattr(_model_file, "MAX_DIRECTORY_BYTES", 1000)
    with pytest.raises(ValueError, match=r"the archive has a central directory of \d+ bytes; "
                                         r"a gmscore model file's is at most 1000"):
        gmscore.load(io.BytesIO(bytes(data)))


def test_duplicate_entries_below_the_cap_are_named():
    names = ["metadata.json", "digest.sha256"] + ["arrays/x.npy"] * 1000 + ["arrays/y.npy"] * 2
    with pytest.raises(ValueError, match=r"duplicate entries \['arrays/x.npy', "
                                         r"'arrays/y.npy'\]"):
        gmscore.load(_zip_of_empty_entries(names))


def _raw_metadata(models, transform):
    members = _saved_members(models["gmm", "diag"])
    members["metadata.json"] = transform(members["metadata.json"])
    return _zip(members)


def test_huge_integer_in_metadata(models):
    big = b"9" * 5000
    crafted = _raw_metadata(models, lambda raw: raw.replace(b'"max_iter":{"type":"int","value":20}',
                                                            b'"max_iter":{"type":"int","value":'
                                                            + big + b"}"))
    with pytest.raises(ValueError, match=r"Cannot load .*metadata.json has an integer of "
                                         r"5000 digits; at most 100"):
        gmscore.load(crafted)


def test_float_overflow_in_metadata(models):
    crafted = _raw_metadata(models, lambda raw: raw.replace(b'"tol":{"type":"float","value":0.001}',
                                                            b'"tol":{"type":"float","value":1e999}'))
    with pytest.raises(ValueError, match=r"metadata.json has the number 1e999, which overflows"):
        gmscore.load(crafted)


def test_deeply_nested_json_is_refused_before_parsing(models):
    deep = b"[" * 100_000 + b"]" * 100_000

    def transform(raw):
        return raw.replace(b'"attributes":{', b'"attributes":{"deep_":' + deep + b",", 1)

    with pytest.raises(ValueError, match=r"metadata.json nests arrays and objects more than "
                                         r"256 deep"):
        gmscore.load(_raw_metadata(models, transform))
    # brackets inside strings are not nesting
    crafted = _raw_metadata(models, lambda raw: raw.replace(
        b'"covariance_type":{"type":"str","value":"diag"}',
        b'"covariance_type":{"type":"str","value":"diag"},"x":{"type":"str","value":"'
        + b"[\\\"" * 1000 + b'"}'))
    with pytest.raises(ValueError, match="has no hyper-parameter 'x'"):
        gmscore.load(crafted)


def test_metadata_size_is_capped_before_parsing(models, monkeypatch):
    crafted = _raw_metadata(models, lambda raw: b"{" * 5000)
    monkeypatch.setattr(_model_file, "MAX_METADATA_BYTES", 1000)
    with pytest.raises(ValueError, match=r"metadata.json is 5000 bytes; a gmscore model file's "
                                         r"is at most 1000"):
        gmscore.load(crafted)


def test_save_refuses_what_the_caps_would_refuse(tmp_path, monkeypatch):
    model = GaussianMixture(2, means_init=[[float(i)] * 3 for i in range(2)])
    model.set_params(random_state=10**150)
    with pytest.raises(TypeError, match="hyper-parameter random_state is an integer of 151 "
                                        "digits"):
        model.save(tmp_path / "m")
    model.set_params(random_state=0)
    monkeypatch.setattr(_model_file, "MAX_METADATA_BYTES", 100)
    with pytest.raises(ValueError, match=r"metadata.json would be \d+ bytes"):
        model.save(tmp_path / "m")
    monkeypatch.setattr(_model_file, "MAX_METADATA_BYTES", 10**6)
    monkeypatch.setattr(_model_file, "MAX_ENTRIES", 3)
    model.set_params(weights_init=np.ones(2) / 2, precisions_init=np.ones(2))
    with pytest.raises(ValueError, match=r"would have 4 entries"):
        model.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()
