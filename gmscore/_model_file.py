"""The container of gmscore's model files: a stored zip archive with a
JSON metadata entry, one ``.npy`` entry per array and a SHA-256 digest
(the format is described in ``gmscore._persistence``).

Writing (``write_zip``, ``digest``) and reading (``read_members``,
``parse_metadata``) with the size caps checked before anything is parsed,
so that a crafted file cannot make the reader allocate or recurse without
bound. What the entries mean is the business of ``_persistence``.
"""
import hashlib
import io
import json
import math
import os
import re
import struct
import zipfile
from collections import Counter

import numpy as np

from ._model_values import ARRAY_PREFIX, MAX_INT_DIGITS, ModelFileError

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
DIRECTORY_RECORD_BYTES = 46 + 32  # a central directory record, without its name


def gmscore_version():
    from . import __version__

    return __version__


def npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def digest(members):
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


def write_zip(fileobj, members):
    order = [METADATA_ENTRY] + sorted(n for n in members if n.startswith(ARRAY_PREFIX))
    order.append(DIGEST_ENTRY)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])


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


def parse_metadata(raw):
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
            f"({gmscore_version()}) reads format version {supported} only; "
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


def read_members(fileobj):
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
