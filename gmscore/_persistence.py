"""Saving and loading fitted models without pickle.

``model.save(path)`` writes, and ``gmscore.load(path)`` reads, a
``GaussianMixture``, ``GaussianHMM`` or ``GMMHMM`` in gmscore's own
versioned format. Loading never unpickles and never executes code from the
file: the only objects it creates are numbers, strings, lists, tuples,
deques, dicts, numeric numpy arrays and scalars, ``numpy.random.RandomState``
and instances of a fixed whitelist of gmscore classes.

File format (``format_version`` 1)
-----------------------------------
An uncompressed ("stored") zip archive, readable with any zip tool, holding:

``metadata.json``
    UTF-8 JSON object::

        {"format": "gmscore-model", "format_version": 1,
         "gmscore_version": "...", "numpy_version": "...",
         "class": "GaussianMixture" | "GaussianHMM" | "GMMHMM",
         "fitted": true | false,
         "params": {name: node, ...},       # get_params()
         "attributes": {name: node, ...}}   # every other instance attribute

    Every value is a typed node, ``{"type": ..., ...}``: ``none``, ``bool``,
    ``int``, ``float`` (non-finite values as "nan", "inf", "-inf"), ``str``,
    ``numpy_scalar`` (numpy bool/int/uint/float scalar, with its dtype),
    ``list``/``tuple``/``deque``/``dict`` (nested nodes; dict keys are
    strings), ``ndarray`` (a reference to an array entry, with the dtype and
    shape it must have), ``random_state`` (a ``numpy.random.RandomState``'s
    full MT19937 state) and ``object`` (a whitelisted class, only
    ``ConvergenceMonitor``, rebuilt from its attribute nodes without
    calling any code of the file). Python floats are written with their
    shortest exact repr, so they round-trip bit for bit.

``arrays/<path>.npy``
    One ``.npy`` entry per numpy array (fitted parameters such as
    ``means_`` or GaussianHMM's compact ``_covars_``, and array-valued
    hyper-parameters such as ``weights_init`` or array priors), written
    with ``allow_pickle=False``: only bool, integer, unsigned, float and
    complex dtypes are accepted, never object, string or structured ones.

``digest.sha256``
    64 lowercase hex digits: SHA-256 over every other entry, in sorted
    name order, each as (length, name, length, bytes) with 8-byte
    little-endian lengths, after the tag ``b"gmscore-model digest v1\\0"``.

What is stored: the hyper-parameters from ``get_params()`` and the fitted
attributes of the class (``_FITTED_ATTRIBUTES``: the fitted arrays,
``converged_``, ``n_iter_``, ``lower_bound_``, ``lower_bounds_``,
``restart_histories_``, ``n_features_in_``, ``n_features``, ``monitor_``
with its history, iteration count, tol, n_iter, verbose flag and rounding
precision, ...).
Any other instance attribute, or a value that the format cannot represent
exactly, makes ``save`` raise a TypeError that names it: a model is never
saved with data silently dropped. A model whose fitted
arrays do not match its hyper-parameters (``n_components`` changed after
``fit``, say) is refused with a ValueError, since its file would not load.

A ``random_state`` given as a ``numpy.random.RandomState`` is saved with its
current state, so the loaded model continues the same random stream as the
saved model at the time it was saved.

Unfitted models can be saved: the file then holds the hyper-parameters
only (``"fitted": false``) and loads as an unfitted model.

Loading checks, in order, and raises a ValueError that says what is wrong
(a missing path raises FileNotFoundError): the archive's end record
announces at most ``MAX_ENTRIES`` entries and a central directory of at
most ``MAX_DIRECTORY_BYTES`` (read before the zip reader builds one object
per entry); the file is a zip archive that is not truncated or corrupt
(zip CRCs), its entries are stored and not duplicated, ``metadata.json``
is at most ``MAX_METADATA_BYTES`` and nests at most ``MAX_JSON_DEPTH``
deep (both checked before parsing), holds no integer over
``MAX_INT_DIGITS`` digits and no float that overflows, and is JSON with
``format`` "gmscore-model"; the
``format_version`` is one this gmscore reads; the digest matches; the class
is whitelisted; every node is well formed; every array entry exists, has
the dtype and shape its node declares and a permitted dtype; no entry is
left unused; hyper-parameter names are the class's and attribute names are
its fitted attributes (a file cannot set class-level names such as
``_parameter_constraints`` on the instance); the fitted arrays have the
shapes the hyper-parameters imply (so that a crafted file cannot make the
compiled kernels read out of bounds); and the fitted values are ones fit
produces: finite, weights, ``startprob_`` and ``transmat_`` rows on the
simplex, covariances and precisions symmetric positive definite (the
Cholesky test of ``COVARIANCE[ct].is_positive_definite``),
``precisions_cholesky_`` upper triangular with a positive diagonal and
consistent with ``precisions_`` and ``covariances_``. ``save`` applies
the same checks and caps, so every file it writes loads.

The digest detects corruption and edits by hand; it is not a signature (it
has no key). Safety against crafted files comes from the reader itself.
Files written by a newer gmscore with the same format version load; a
hyper-parameter missing from the file takes the constructor's default, and
one unknown to this gmscore is refused.
"""
import hashlib
import hmac
import io
import json
import math
import os
import re
import secrets
import struct
import zipfile
from collections import Counter

import numpy as np

from ._core.covariance import COV_TYPES, COVARIANCE
from ._model_values import (ARRAY_PREFIX, MAX_INT_DIGITS, Decoder, Encoder, ModelFileError,
                            check_name)

FORMAT_NAME = "gmscore-model"
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)

METADATA_ENTRY = "metadata.json"
DIGEST_ENTRY = "digest.sha256"
_DIGEST_TAG = b"gmscore-model digest v1\0"
# A fixed timestamp: saving the same model twice gives identical bytes.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

_METADATA_KEYS = frozenset({"format", "format_version", "gmscore_version", "numpy_version",
                            "class", "fitted", "params", "attributes"})
# Size caps, checked before anything is parsed (and by save, so that every
# file save writes loads). A model holds a handful of arrays; the metadata
# grows with lower_bounds_ (one float per EM iteration) and list-valued
# hyper-parameters.
MAX_ENTRIES = 4096
MAX_DIRECTORY_BYTES = 4 << 20   # the zip's central directory
MAX_METADATA_BYTES = 64 << 20
MAX_JSON_DEPTH = 256            # values nest 64 deep, at most 3 JSON levels each
_DIRECTORY_RECORD_BYTES = 46 + 32  # a central directory record, without its name

_FITTED_MARKERS = {             # attributes whose presence means "fitted"
    "GaussianMixture": ("means_", "precisions_cholesky_"),
    "GaussianHMM": ("startprob_", "transmat_"),
    "GMMHMM": ("startprob_", "transmat_"),
    "CategoricalHMM": ("startprob_", "transmat_"),
    "PoissonHMM": ("startprob_", "transmat_"),
    "MultinomialHMM": ("startprob_", "transmat_"),
}
# The discrete HMMs' emission parameter (rows of probabilities or rates).
_DISCRETE_EMISSIONS = {"CategoricalHMM": "emissionprob_", "PoissonHMM": "lambdas_",
                       "MultinomialHMM": "emissionprob_"}


# The instance attributes load restores besides the hyper-parameters: what
# fit leaves on each class (the verbose timers of a GaussianMixture fit
# included), and for the HMMs what hmmlearn-style code assigns by hand.
_FITTED_ATTRIBUTES = {
    "GaussianMixture": frozenset({
        "weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
        "converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_",
        "restart_histories_", "feature_names_in_", "_init_prev_time", "_iter_prev_time",
        "_online_state"}),
    "GaussianHMM": frozenset({
        "startprob_", "transmat_", "means_", "_covars_", "monitor_", "n_features_in_",
        "feature_names_in_", "n_features", "_online_state", "restart_histories_"}),
    "GMMHMM": frozenset({
        "startprob_", "transmat_", "weights_", "means_", "covars_", "monitor_",
        "n_features_in_", "feature_names_in_", "n_features", "_online_state",
        "restart_histories_"}),
    **{name: frozenset({"startprob_", "transmat_", attr, "monitor_", "n_features_in_",
                        "feature_names_in_", "n_features", "_online_state",
                        "restart_histories_"})
       for name, attr in _DISCRETE_EMISSIONS.items()},
}


def _check_fitted_name(cname, aname):
    if aname not in _FITTED_ATTRIBUTES[cname]:
        raise ModelFileError(
            f"attribute {aname!r} is not a fitted attribute of {cname}; a {cname} file "
            "holds the hyper-parameters and "
            f"{', '.join(sorted(_FITTED_ATTRIBUTES[cname]))} only")


def _model_classes():
    """The only estimator classes ``load`` instantiates."""
    from .discrete import CategoricalHMM, MultinomialHMM, PoissonHMM
    from .hmm import GMMHMM, GaussianHMM
    from .mixture import GaussianMixture

    return {"GaussianMixture": GaussianMixture, "GaussianHMM": GaussianHMM, "GMMHMM": GMMHMM,
            "CategoricalHMM": CategoricalHMM, "PoissonHMM": PoissonHMM,
            "MultinomialHMM": MultinomialHMM}


def _gmscore_version():
    from . import __version__

    return __version__


def _npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _digest(members):
    """SHA-256 hex digest over every entry except the digest itself."""
    h = hashlib.sha256(_DIGEST_TAG)
    for name in sorted(members):
        if name == DIGEST_ENTRY:
            continue
        raw_name = name.encode("utf-8")
        data = members[name]
        h.update(len(raw_name).to_bytes(8, "little"))
        h.update(raw_name)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _serialise(model):
    """The file's entries (name -> bytes) for ``model``."""
    classes = _model_classes()
    cls = type(model)
    name = cls.__name__
    if classes.get(name) is not cls:
        raise TypeError(
            f"gmscore's model format stores {', '.join(classes)} only, not "
            f"{cls.__module__}.{cls.__qualname__} (use pickle for subclasses)"
        )
    try:
        _check_fitted_shapes(model)
    except ModelFileError as exc:
        raise ValueError(
            f"cannot save this {name}: its fitted attributes do not match its "
            f"hyper-parameters ({exc}); refit it or restore the hyper-parameters it "
            "was fitted with"
        ) from None
    try:
        _check_fitted_values(model)
    except ModelFileError as exc:
        raise ValueError(
            f"cannot save this {name}: {exc}; gmscore.load would refuse the file, so "
            "nothing was written"
        ) from None
    enc = Encoder()
    params = model.get_params()
    meta_params = {}
    for pname in sorted(params):
        meta_params[pname] = enc.encode(params[pname], ("params", pname))
    attributes = {}
    for aname in vars(model):  # in their order: a round trip keeps it
        if aname in params:
            continue
        try:
            check_name(cls, aname, ("attributes", aname))
        except ModelFileError as exc:
            raise TypeError(f"cannot save {name}: {exc}") from None
        attributes[aname] = enc.encode(vars(model)[aname], ("attributes", aname))
        try:
            _check_fitted_name(name, aname)
        except ModelFileError:
            raise TypeError(
                f"cannot save {name}: attribute {aname} is not a fitted attribute of {name}, "
                "and gmscore's model format stores the hyper-parameters and "
                f"{', '.join(sorted(_FITTED_ATTRIBUTES[name]))} only; delete it "
                f"(del model.{aname}) or use pickle") from None
    metadata = {  # written in this order (the JSON keeps insertion order)
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "gmscore_version": _gmscore_version(),
        "numpy_version": np.__version__,
        "class": name,
        "fitted": all(hasattr(model, a) for a in _FITTED_MARKERS[name]),
        "params": meta_params,
        "attributes": attributes,
    }
    members = {METADATA_ENTRY: json.dumps(metadata, separators=(",", ":"),
                                          allow_nan=False).encode("utf-8")}
    if len(members[METADATA_ENTRY]) > MAX_METADATA_BYTES:
        raise ValueError(
            f"cannot save this {name}: its metadata.json would be "
            f"{len(members[METADATA_ENTRY])} bytes, and gmscore.load reads at most "
            f"{MAX_METADATA_BYTES} (long lists in the hyper-parameters? pass arrays instead)")
    n_entries = len(enc.arrays) + 2
    directory = sum(_DIRECTORY_RECORD_BYTES + len(e.encode("utf-8")) for e in enc.arrays)
    if n_entries > MAX_ENTRIES or directory > MAX_DIRECTORY_BYTES:
        raise ValueError(
            f"cannot save this {name}: its file would have {n_entries} entries "
            f"(one per array), and gmscore.load reads at most {MAX_ENTRIES}; store "
            "list-of-array hyper-parameters as one stacked array")
    for entry, arr in enc.arrays.items():
        members[entry] = _npy_bytes(arr)
    members[DIGEST_ENTRY] = _digest(members).encode("ascii")
    return members


def _write_zip(fileobj, members):
    order = [METADATA_ENTRY] + sorted(n for n in members if n.startswith(ARRAY_PREFIX))
    order.append(DIGEST_ENTRY)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])


def save(model, path):
    """Save a GaussianMixture, GaussianHMM or GMMHMM without pickle.

    Parameters
    ----------
    model : GaussianMixture, GaussianHMM or GMMHMM
        Fitted or not (an unfitted model saves its hyper-parameters only).
    path : str, os.PathLike or binary file object
        Written exactly as given (no extension is added). A path is written
        atomically: the data goes to a temporary file in the same directory
        that then replaces ``path``, so an interrupted save never leaves a
        truncated file in place of an existing one.

    Raises
    ------
    TypeError
        When the model holds a value the format cannot store exactly (the
        message names it); nothing is written then.
    ValueError
        When the fitted arrays do not match the hyper-parameters (e.g.
        ``n_components`` changed after ``fit``): such a file could not be
        loaded, so nothing is written.

    See the module docstring of ``gmscore._persistence`` for the format;
    ``gmscore.load`` reads it back.
    """
    members = _serialise(model)  # every check happens before writing
    if hasattr(path, "write"):
        _write_zip(path, members)
        return
    path = os.fspath(path)
    directory, base = os.path.split(path)
    if isinstance(base, bytes):
        base = os.fsdecode(base)
        directory = os.fsdecode(directory)
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never follow or clobber someone else's file; mode 0o666 lets
    # the umask decide the final permissions, as for any new file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_zip(fh, members)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ------------------------------------------------------------------ decoding
def _json_pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ModelFileError(f"metadata.json repeats the key {key!r}")
        out[key] = value
    return out


def _json_constant(name):
    raise ModelFileError(f"metadata.json contains {name}, which is not JSON")


def _json_int(text):
    # before int(): Python's own limit (4300 digits) raises a bare ValueError
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise ModelFileError(f"metadata.json has an integer of {digits} digits; at most "
                             f"{MAX_INT_DIGITS} are allowed")
    return int(text)


def _json_float(text):
    value = float(text)
    if not math.isfinite(value):  # save writes non-finite floats as strings
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ModelFileError(f"metadata.json has the number {shown}, which overflows a float")
    return value


# A JSON string: quote, then runs of plain characters and escapes, quote.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENERS = np.zeros(256, dtype=np.int8)
_OPENERS[[ord("["), ord("{")]] = 1
_OPENERS[[ord("]"), ord("}")]] = -1
_DEPTH_BLOCK = 1 << 20


def _json_depth(raw):
    """How deep arrays and objects nest in the JSON text ``raw``, in one
    linear pass that parses nothing (brackets inside strings do not count),
    in blocks so that memory stays small."""
    skeleton = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    depth = deepest = 0
    for start in range(0, skeleton.size, _DEPTH_BLOCK):
        steps = _OPENERS[skeleton[start:start + _DEPTH_BLOCK]]
        steps = steps[steps != 0].astype(np.int64)
        if steps.size:
            running = np.cumsum(steps) + depth
            deepest = max(deepest, int(running.max()))
            depth = int(running[-1])
    return deepest


def _parse_metadata(raw):
    if len(raw) > MAX_METADATA_BYTES:
        raise ModelFileError(f"metadata.json is {len(raw)} bytes; a gmscore model file's "
                             f"is at most {MAX_METADATA_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError("metadata.json is not UTF-8 text") from None
    if _json_depth(raw) > MAX_JSON_DEPTH:
        raise ModelFileError(f"metadata.json nests arrays and objects more than "
                             f"{MAX_JSON_DEPTH} deep; gmscore model files never do")
    try:
        meta = json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant,
                          parse_int=_json_int, parse_float=_json_float)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"metadata.json is not valid JSON ({exc})") from None
    if type(meta) is not dict or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"it is not a {FORMAT_NAME!r} file (metadata.json has no "
                         f"'format': {FORMAT_NAME!r})")
    version = meta.get("format_version")
    if type(version) is not int or version not in SUPPORTED_FORMAT_VERSIONS:
        writer = meta.get("gmscore_version")
        writer = f" by gmscore {writer}" if type(writer) is str else ""
        supported = ", ".join(str(v) for v in SUPPORTED_FORMAT_VERSIONS)
        raise ModelFileError(
            f"it was written{writer} in format version {version!r}, but this gmscore "
            f"({_gmscore_version()}) reads format version {supported} only; "
            "load it with the gmscore version that wrote it"
        )
    keys = set(meta)
    if keys != _METADATA_KEYS:
        missing, extra = sorted(_METADATA_KEYS - keys), sorted(keys - _METADATA_KEYS)
        raise ModelFileError(f"metadata.json has missing keys {missing} / unknown keys {extra}")
    return meta


_EOCD = struct.Struct("<4s4H2LH")           # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def _refuse_entries(count):
    raise ModelFileError(f"the archive has {count} entries; a gmscore model file has at "
                         f"most {MAX_ENTRIES}")


def _check_directory_size(fileobj):
    """Refuse an archive whose end record announces too many entries or too
    big a central directory, before the zip reader builds one object per
    entry. Anything unreadable here is left for the zip reader to report."""
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    tail_start = max(0, size - (_EOCD.size + 0xFFFF))
    fileobj.seek(tail_start)
    tail = fileobj.read()
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < _EOCD.size:
        return
    _, _, _, _, count, dir_size, _, _ = _EOCD.unpack_from(tail, pos)
    if count == 0xFFFF or dir_size == 0xFFFFFFFF:  # zip64: the counts are elsewhere
        if tail_start + pos < _ZIP64_LOCATOR.size:
            return
        fileobj.seek(tail_start + pos - _ZIP64_LOCATOR.size)
        locator = fileobj.read(_ZIP64_LOCATOR.size)
        if len(locator) < _ZIP64_LOCATOR.size or locator[:4] != b"PK\x06\x07":
            return
        offset = _ZIP64_LOCATOR.unpack(locator)[2]
        fileobj.seek(offset)
        record = fileobj.read(_ZIP64_EOCD.size)
        if len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
            return
        count, dir_size = _ZIP64_EOCD.unpack(record)[7:9]
    if count > MAX_ENTRIES:
        _refuse_entries(count)
    if dir_size > MAX_DIRECTORY_BYTES:
        raise ModelFileError(f"the archive has a central directory of {dir_size} bytes; a "
                             f"gmscore model file's is at most {MAX_DIRECTORY_BYTES}")


def _read_members(fileobj):
    """All entries of the zip archive, CRC-checked, as name -> bytes."""
    _check_directory_size(fileobj)
    with zipfile.ZipFile(fileobj, "r") as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:  # the end record undercounted them
            _refuse_entries(len(infos))
        counts = Counter(i.filename for i in infos)
        names = set(counts)
        if len(names) != len(infos):
            dup = sorted(n for n, c in counts.items() if c > 1)
            raise ModelFileError(f"the archive has duplicate entries {dup}")
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                raise ModelFileError(f"entry {info.filename!r} is compressed or encrypted; "
                                 "gmscore model files store entries uncompressed")
        for required in (METADATA_ENTRY, DIGEST_ENTRY):
            if required not in names:
                raise ModelFileError(f"the archive has no {required!r} entry")
        meta_size = zf.getinfo(METADATA_ENTRY).file_size
        if meta_size > MAX_METADATA_BYTES:  # before reading it
            raise ModelFileError(f"metadata.json is {meta_size} bytes; a gmscore model "
                                 f"file's is at most {MAX_METADATA_BYTES}")
        return {info.filename: zf.read(info) for info in infos}


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ModelFileError(f"{name}={value!r} is not a positive int")
    return int(value)


def _expected_shapes(model):
    """Shapes the fitted arrays must have, from the hyper-parameters."""
    name = type(model).__name__
    ct = model.covariance_type
    k = model.n_components
    d_source = getattr(model, "means_", None)
    k = _positive_int(k, "n_components")
    # a tuple test: ct comes from the file and may be unhashable
    if ct not in COV_TYPES:
        raise ModelFileError(f"covariance_type={ct!r} is not a covariance type")
    entry = COVARIANCE[ct]
    if name == "GMMHMM":
        m = _positive_int(model.n_mix, "n_mix")
        if d_source is not None and np.ndim(d_source) != 3:
            raise ModelFileError(f"means_ has shape {np.shape(d_source)}, expected 3 dimensions")
        d = np.shape(d_source)[2] if d_source is not None else None
        # each state holds an m-component mixture's covariances
        shapes = {"means_": (k, m, d), "weights_": (k, m), "covars_": (k,) + entry.shape(m, d)}
    else:
        if d_source is not None and np.ndim(d_source) != 2:
            raise ModelFileError(f"means_ has shape {np.shape(d_source)}, expected 2 dimensions")
        d = np.shape(d_source)[1] if d_source is not None else None
        cov = entry.shape(k, d)
        shapes = {"means_": (k, d)}
        if name == "GaussianMixture":
            shapes.update(weights_=(k,), covariances_=cov, precisions_=cov,
                          precisions_cholesky_=cov)
        else:
            shapes["_covars_"] = cov
    if name != "GaussianMixture":
        shapes.update(startprob_=(k,), transmat_=(k, k))
    return shapes, d


def _discrete_shapes(model):
    """_expected_shapes for the discrete HMMs: (K, D) emission rows, D from
    the stored emission array (or CategoricalHMM's n_features)."""
    name = type(model).__name__
    k = _positive_int(model.n_components, "n_components")
    em = vars(model).get(_DISCRETE_EMISSIONS[name])
    if em is not None and np.ndim(em) != 2:
        raise ModelFileError(f"{_DISCRETE_EMISSIONS[name]} has shape {np.shape(em)}, "
                             "expected 2 dimensions")
    d = np.shape(em)[1] if em is not None else None
    if name == "CategoricalHMM" and model.n_features is not None:
        d_param = _positive_int(model.n_features, "n_features")
        if d is not None and d != d_param:
            raise ModelFileError(f"emissionprob_ has {d} symbols but n_features={d_param}")
        d = d_param
    return {"startprob_": (k,), "transmat_": (k, k), _DISCRETE_EMISSIONS[name]: (k, d)}, d


def _check_fitted_shapes(model):
    """Refuse fitted arrays inconsistent with each other or with the
    hyper-parameters (the compiled kernels trust these shapes)."""
    if type(model).__name__ in _DISCRETE_EMISSIONS:
        shapes, d = _discrete_shapes(model)
    else:
        shapes, d = _expected_shapes(model)
    for attr, shape in shapes.items():
        if attr not in vars(model):
            continue
        value = vars(model)[attr]
        # arrays, or lists assigned by hand to an HMM before fitting
        try:
            arr = np.asarray(value) if type(value) in (np.ndarray, list, tuple) else None
        except ValueError:  # ragged
            arr = None
        wanted = tuple("D" if n is None else n for n in shape)
        if arr is None or arr.dtype.kind not in "biuf" or arr.ndim != len(shape) or any(
                n is not None and n != got for n, got in zip(shape, arr.shape)):
            got = (f"{type(value).__name__} of dtype {arr.dtype} and shape {arr.shape}"
                   if arr is not None else type(value).__name__)
            raise ModelFileError(f"{attr} is a {got}, but the hyper-parameters imply a numeric "
                             f"array of shape {wanted}")
    for attr in ("n_features_in_", "n_features"):
        value = vars(model).get(attr)
        # a CategoricalHMM reads one column of symbols
        want = 1 if attr == "n_features_in_" and type(model).__name__ == "CategoricalHMM" \
            else d
        if value is None or want is None:
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                or value != want:
            source = _DISCRETE_EMISSIONS.get(type(model).__name__, "means_")
            raise ModelFileError(f"{attr}={value!r} disagrees with {source} ({want} features)")


# ------------------------------------------------------ fitted values
# A relative tolerance for the arrays that describe the same Gaussians
# (fit computes precisions_ and covariances_ from precisions_cholesky_, or
# the other way round, in float64; rounding stays orders of magnitude
# below this even for badly conditioned covariances).
_CONSISTENCY_RTOL = 1e-6
_SIMPLEX_ATOL = 1e-8            # as scikit-learn checks weights_init
_INDEX_LABELS = {               # what the leading axes of a covariance array count
    ("GaussianMixture", "tied"): (), "GaussianMixture": ("component",),
    ("GaussianHMM", "tied"): (), "GaussianHMM": ("state",),
    ("GMMHMM", "tied"): ("state",), "GMMHMM": ("state", "component"),
}


def _values(model, attr):
    """The attribute as float64, refused unless finite (its shape is checked)."""
    arr = np.asarray(vars(model)[attr], dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ModelFileError(f"{attr} contains NaN or infinity")
    return arr


def _check_simplex(arr, attr):
    """Probabilities: non-negative, summing to one (per row of a matrix)."""
    if (arr < 0).any():
        raise ModelFileError(f"{attr} has negative entries; it holds probabilities")
    sums = arr.sum(axis=-1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _SIMPLEX_ATOL)
    if bad.size:
        if arr.ndim == 1:
            raise ModelFileError(f"{attr} must sum to 1 (it sums to {float(sums):.10g})")
        row = np.unravel_index(bad[0], sums.shape)
        row = row[0] if len(row) == 1 else row
        raise ModelFileError(f"{attr} rows must sum to 1 (row {row} sums to "
                             f"{float(sums.flat[bad[0]]):.10g})")


def _where_bad(ok, labels):
    bad = np.argwhere(~np.asarray(ok, dtype=bool))[0]
    if not labels:
        return "the shared matrix"
    return ", ".join(f"{label} {i}" for label, i in zip(labels, bad))


def _check_positive_definite(arr, attr, ct, labels, what="is not positive definite",
                             symmetric=True):
    entry = COVARIANCE[ct]
    ok = entry.is_positive_definite(arr)
    if not np.all(ok):
        raise ModelFileError(f"{attr} {what} ({_where_bad(ok, labels)})")
    if symmetric and ct in ("full", "tied"):
        # Cholesky reads the lower triangle only; the kernels read the
        # whole matrix. Off-diagonal gaps relative to sqrt(a_ii a_jj).
        if _relative_gap(arr, np.swapaxes(arr, -1, -2), ct) > _CONSISTENCY_RTOL:
            raise ModelFileError(f"{attr} is not symmetric")


def _relative_gap(a, b, ct):
    """max |a - b| relative to b's scale: b_ii for vectors of variances or
    precisions, sqrt(b_ii b_jj) for matrices (invariant to feature scales)."""
    if ct in ("full", "tied"):
        diag = np.abs(np.diagonal(b, axis1=-2, axis2=-1))
        scale = np.sqrt(diag[..., :, None] * diag[..., None, :])
    else:
        scale = np.abs(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(a - b) / scale
    return float(np.nanmax(np.where(a == b, 0.0, gap), initial=0.0))


def _check_factor(u, ct, labels):
    """precisions_cholesky_: U upper triangular with positive diagonal, so
    that U U^T is positive definite (for a triangular U the Cholesky test
    reads the diagonal only); 1 / sqrt(variance) > 0 for diag/spherical."""
    if ct in ("full", "tied") and np.tril(u, -1).any():
        raise ModelFileError("precisions_cholesky_ is not upper triangular (it holds U, "
                             "with precisions_ = U U^T, as scikit-learn does)")
    _check_positive_definite(np.triu(u) if ct in ("full", "tied") else u,
                             "precisions_cholesky_", ct, labels,
                             "is not the factor of positive definite precisions",
                             symmetric=False)


def _check_mixture_consistency(model, ct, u):
    entry = COVARIANCE[ct]
    if "precisions_" in vars(model):
        gap = _relative_gap(_values(model, "precisions_"), entry.precisions_from_cholesky(u), ct)
        if gap > _CONSISTENCY_RTOL:
            raise ModelFileError(
                f"precisions_cholesky_ and precisions_ disagree (relative gap {gap:.3g}; "
                "precisions_ must be U U^T for U = precisions_cholesky_)")
    if "covariances_" in vars(model):
        cov = _values(model, "covariances_")
        # U U^T = inv(cov)  <=>  U^T cov U = I: a residual free of the scales
        if ct == "full":
            gap = np.abs(np.einsum("kji,kjl,klm->kim", u, cov, u) - np.eye(u.shape[-1])).max()
        elif ct == "tied":
            gap = np.abs(u.T @ cov @ u - np.eye(u.shape[-1])).max()
        else:
            gap = np.abs(cov * u**2 - 1.0).max()
        if gap > _CONSISTENCY_RTOL:
            raise ModelFileError(
                f"precisions_cholesky_ and covariances_ disagree (relative gap {gap:.3g}; "
                "covariances_ must be the inverse of U U^T for U = precisions_cholesky_)")


def _check_fitted_values(model):
    """Refuse fitted values fit could not have produced (called after
    _check_fitted_shapes): every parameter finite, probabilities on the
    simplex, covariances and precisions positive definite, and a
    GaussianMixture's three descriptions of its covariances consistent."""
    name = type(model).__name__
    present = vars(model)
    for attr in ("weights_", "startprob_", "transmat_"):
        if attr in present:
            _check_simplex(_values(model, attr), attr)
    if name in _DISCRETE_EMISSIONS:
        attr = _DISCRETE_EMISSIONS[name]
        if attr in present:
            values = _values(model, attr)
            if attr == "emissionprob_":
                _check_simplex(values, attr)
            elif (values < 0).any():
                raise ModelFileError("lambdas_ has negative entries; it holds Poisson rates")
        return
    ct = model.covariance_type
    if "means_" in present:
        _values(model, "means_")
    labels = _INDEX_LABELS.get((name, ct), _INDEX_LABELS[name])
    for attr in ("covariances_", "precisions_", "_covars_", "covars_"):
        if attr in present and (attr != "covars_" or name == "GMMHMM"):
            _check_positive_definite(_values(model, attr), attr, ct, labels)
    if "precisions_cholesky_" in present:
        u = _values(model, "precisions_cholesky_")
        _check_factor(u, ct, labels)
        _check_mixture_consistency(model, ct, u)


def _deserialise(members):
    meta = _parse_metadata(members[METADATA_ENTRY])
    stored = members[DIGEST_ENTRY]
    if not hmac.compare_digest(stored, _digest(members).encode("ascii")):
        raise ModelFileError(
            "its SHA-256 digest does not match its content: the file was corrupted "
            "or edited after it was saved"
        )
    for key in ("gmscore_version", "numpy_version"):
        if type(meta[key]) is not str:
            raise ModelFileError(f"metadata.json {key!r} must be a string")
    classes = _model_classes()
    cname = meta["class"]
    if type(cname) is not str or cname not in classes:
        raise ModelFileError(f"unknown model class {cname!r}; gmscore.load creates only "
                         f"{', '.join(classes)}")
    cls = classes[cname]
    if type(meta["params"]) is not dict or type(meta["attributes"]) is not dict:
        raise ModelFileError("metadata.json 'params' and 'attributes' must be objects")
    decoder = Decoder(members)
    valid = cls._get_param_names()
    params = {}
    for pname, node in meta["params"].items():
        if pname not in valid:
            raise ModelFileError(
                f"{cname} has no hyper-parameter {pname!r} in this gmscore "
                f"({_gmscore_version()}); the file was written by gmscore "
                f"{meta['gmscore_version']}"
            )
        params[pname] = decoder.decode(node, f"params.{pname}")
    model = cls()
    model.set_params(**params)
    for aname, node in meta["attributes"].items():
        if aname in valid:
            raise ModelFileError(f"attribute {aname!r} is a hyper-parameter name")
        check_name(cls, aname, ("attributes", aname))
        _check_fitted_name(cname, aname)
        vars(model)[aname] = decoder.decode(node, f"attributes.{aname}")
    unused = sorted(n for n in members
                    if n not in decoder.used and n not in (METADATA_ENTRY, DIGEST_ENTRY))
    if unused:
        raise ModelFileError(f"the archive has unexpected entries {unused}")
    _check_fitted_shapes(model)
    _check_fitted_values(model)
    fitted = all(hasattr(model, a) for a in _FITTED_MARKERS[cname])
    if meta["fitted"] is not fitted:
        raise ModelFileError(f"metadata.json says fitted={meta['fitted']!r}, but the stored "
                         f"attributes make a {'fitted' if fitted else 'unfitted'} model")
    return model


def load(path):
    """Load a model saved with ``model.save(path)``.

    Parameters
    ----------
    path : str, os.PathLike or seekable binary file object

    Returns
    -------
    GaussianMixture, GaussianHMM or GMMHMM
        With the saved hyper-parameters and every saved attribute; its
        predictions are bitwise identical to the saved model's.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a gmscore model file, is truncated or corrupt, was
        edited (digest mismatch), has a format version this gmscore does not
        read, names a class other than GaussianMixture, GaussianHMM or
        GMMHMM, or holds a malformed or disallowed value (e.g. an object
        array). Nothing from the file is ever unpickled or executed.
    """
    label = repr(os.fspath(path)) if not hasattr(path, "read") else repr(path)
    try:
        fh = path if hasattr(path, "read") else open(path, "rb")  # OSError as is
        try:
            members = _read_members(fh)
        except ModelFileError:
            raise
        except Exception as exc:
            # whatever the zip reader trips over (bad magic, CRC mismatch,
            # truncated directory, bogus sizes or flags): a damaged archive
            raise ModelFileError(
                "it is not a readable gmscore model file (not a zip archive, or a "
                f"truncated or corrupt one: {type(exc).__name__}: {exc})"
            ) from None
        finally:
            if fh is not path:
                fh.close()
        return _deserialise(members)
    except ModelFileError as exc:
        raise ValueError(f"Cannot load a gmscore model from {label}: {exc}") from None
