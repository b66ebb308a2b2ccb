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
attributes of the class (``FITTED_ATTRIBUTES``: the fitted arrays,
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
import hmac
import json
import os
import secrets

import numpy as np

from . import _model_file as mf
from ._model_checks import (FITTED_ATTRIBUTES, FITTED_MARKERS, check_fitted_name,
                            check_fitted_shapes, check_fitted_values)
from ._model_file import DIGEST_ENTRY, METADATA_ENTRY
from ._model_values import Decoder, Encoder, ModelFileError, check_name


def _model_classes():
    """The only estimator classes ``load`` instantiates."""
    from .bayesian_mixture import BayesianGaussianMixture
    from .discrete import CategoricalHMM, MultinomialHMM, PoissonHMM
    from .hmm import GMMHMM, GaussianHMM
    from .mixture import GaussianMixture
    from .variational_hmm import VariationalCategoricalHMM, VariationalGaussianHMM

    return {"GaussianMixture": GaussianMixture, "GaussianHMM": GaussianHMM, "GMMHMM": GMMHMM,
            "CategoricalHMM": CategoricalHMM, "PoissonHMM": PoissonHMM,
            "MultinomialHMM": MultinomialHMM, "VariationalGaussianHMM": VariationalGaussianHMM,
            "VariationalCategoricalHMM": VariationalCategoricalHMM,
            "BayesianGaussianMixture": BayesianGaussianMixture}


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
        check_fitted_shapes(model)
    except ModelFileError as exc:
        raise ValueError(
            f"cannot save this {name}: its fitted attributes do not match its "
            f"hyper-parameters ({exc}); refit it or restore the hyper-parameters it "
            "was fitted with"
        ) from None
    try:
        check_fitted_values(model)
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
            check_fitted_name(name, aname)
        except ModelFileError:
            raise TypeError(
                f"cannot save {name}: attribute {aname} is not a fitted attribute of {name}, "
                "and gmscore's model format stores the hyper-parameters and "
                f"{', '.join(sorted(FITTED_ATTRIBUTES[name]))} only; delete it "
                f"(del model.{aname}) or use pickle") from None
    metadata = {  # written in this order (the JSON keeps insertion order)
        "format": mf.FORMAT_NAME,
        "format_version": mf.FORMAT_VERSION,
        "gmscore_version": mf.gmscore_version(),
        "numpy_version": np.__version__,
        "class": name,
        "fitted": all(hasattr(model, a) for a in FITTED_MARKERS[name]),
        "params": meta_params,
        "attributes": attributes,
    }
    members = {METADATA_ENTRY: json.dumps(metadata, separators=(",", ":"),
                                          allow_nan=False).encode("utf-8")}
    if len(members[METADATA_ENTRY]) > mf.MAX_METADATA_BYTES:
        raise ValueError(
            f"cannot save this {name}: its metadata.json would be "
            f"{len(members[METADATA_ENTRY])} bytes, and gmscore.load reads at most "
            f"{mf.MAX_METADATA_BYTES} (long lists in the hyper-parameters? pass arrays instead)")
    n_entries = len(enc.arrays) + 2
    directory = sum(mf.DIRECTORY_RECORD_BYTES + len(e.encode("utf-8")) for e in enc.arrays)
    if n_entries > mf.MAX_ENTRIES or directory > mf.MAX_DIRECTORY_BYTES:
        raise ValueError(
            f"cannot save this {name}: its file would have {n_entries} entries "
            f"(one per array), and gmscore.load reads at most {mf.MAX_ENTRIES}; store "
            "list-of-array hyper-parameters as one stacked array")
    for entry, arr in enc.arrays.items():
        members[entry] = mf.npy_bytes(arr)
    members[DIGEST_ENTRY] = mf.digest(members).encode("ascii")
    return members


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
        mf.write_zip(path, members)
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
            mf.write_zip(fh, members)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _deserialise(members):
    meta = mf.parse_metadata(members[METADATA_ENTRY])
    stored = members[DIGEST_ENTRY]
    if not hmac.compare_digest(stored, mf.digest(members).encode("ascii")):
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
                f"({mf.gmscore_version()}); the file was written by gmscore "
                f"{meta['gmscore_version']}"
            )
        params[pname] = decoder.decode(node, f"params.{pname}")
    model = cls()
    model.set_params(**params)
    for aname, node in meta["attributes"].items():
        if aname in valid:
            raise ModelFileError(f"attribute {aname!r} is a hyper-parameter name")
        check_name(cls, aname, ("attributes", aname))
        check_fitted_name(cname, aname)
        vars(model)[aname] = decoder.decode(node, f"attributes.{aname}")
    unused = sorted(n for n in members
                    if n not in decoder.used and n not in (METADATA_ENTRY, DIGEST_ENTRY))
    if unused:
        raise ModelFileError(f"the archive has unexpected entries {unused}")
    check_fitted_shapes(model)
    check_fitted_values(model)
    fitted = all(hasattr(model, a) for a in FITTED_MARKERS[cname])
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
            members = mf.read_members(fh)
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
