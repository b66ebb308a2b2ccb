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

What is stored: the hyper-parameters from ``get_params()`` and *every*
other attribute in the instance ``__dict__`` (fitted arrays, ``converged_``,
``n_iter_``, ``lower_bound_``, ``lower_bounds_``, ``n_features_in_``,
``n_features``, ``monitor_`` with its history, iteration count, tol,
n_iter, verbose flag and rounding precision, ...). A value that the format
cannot represent exactly makes ``save`` raise a TypeError that names it:
a model is never saved with data silently dropped. A model whose fitted
arrays do not match its hyper-parameters (``n_components`` changed after
``fit``, say) is refused with a ValueError, since its file would not load.

A ``random_state`` given as a ``numpy.random.RandomState`` is saved with its
current state, so the loaded model continues the same random stream as the
saved model at the time it was saved.

Unfitted models can be saved: the file then holds the hyper-parameters
only (``"fitted": false``) and loads as an unfitted model.

Loading checks, in order, and raises a ValueError that says what is wrong
(a missing path raises FileNotFoundError): the file is a zip archive that
is not truncated or corrupt (zip CRCs), its entries are stored and not
duplicated, ``metadata.json`` is JSON with ``format`` "gmscore-model"; the
``format_version`` is one this gmscore reads; the digest matches; the class
is whitelisted; every node is well formed; every array entry exists, has
the dtype and shape its node declares and a permitted dtype; no entry is
left unused; hyper-parameter and attribute names are valid; the fitted
arrays have the shapes the hyper-parameters imply (so that a crafted file
cannot make the compiled kernels read out of bounds).

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
import os
import secrets
import zipfile

import numpy as np

from ._core.covariance import COV_TYPES, COVARIANCE
from ._model_values import ARRAY_PREFIX, Decoder, Encoder, ModelFileError, check_name

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
_FITTED_MARKERS = {             # attributes whose presence means "fitted"
    "GaussianMixture": ("means_", "precisions_cholesky_"),
    "GaussianHMM": ("startprob_", "transmat_"),
    "GMMHMM": ("startprob_", "transmat_"),
}


def _model_classes():
    """The only estimator classes ``load`` instantiates."""
    from .hmm import GMMHMM, GaussianHMM
    from .mixture import GaussianMixture

    return {"GaussianMixture": GaussianMixture, "GaussianHMM": GaussianHMM, "GMMHMM": GMMHMM}


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


def _parse_metadata(raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError("metadata.json is not UTF-8 text") from None
    try:
        meta = json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant)
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


def _read_members(fileobj):
    """All entries of the zip archive, CRC-checked, as name -> bytes."""
    with zipfile.ZipFile(fileobj, "r") as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ModelFileError(f"the archive has duplicate entries {dup}")
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                raise ModelFileError(f"entry {info.filename!r} is compressed or encrypted; "
                                 "gmscore model files store entries uncompressed")
        for required in (METADATA_ENTRY, DIGEST_ENTRY):
            if required not in names:
                raise ModelFileError(f"the archive has no {required!r} entry")
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


def _check_fitted_shapes(model):
    """Refuse fitted arrays inconsistent with each other or with the
    hyper-parameters (the compiled kernels trust these shapes)."""
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
        if value is None or d is None:
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                or value != d:
            raise ModelFileError(f"{attr}={value!r} disagrees with means_ ({d} features)")


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
        vars(model)[aname] = decoder.decode(node, f"attributes.{aname}")
    unused = sorted(n for n in members
                    if n not in decoder.used and n not in (METADATA_ENTRY, DIGEST_ENTRY))
    if unused:
        raise ModelFileError(f"the archive has unexpected entries {unused}")
    _check_fitted_shapes(model)
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
