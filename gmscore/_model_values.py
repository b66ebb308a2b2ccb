"""The values of a saved model as typed JSON nodes, and back (see
``gmscore._persistence`` for the file format they live in).

Encoding turns every hyper-parameter and attribute into a node and collects
numpy arrays as separate ``.npy`` entries; decoding checks every node's
shape and type and creates only numbers, strings, containers, numeric
arrays and scalars, ``RandomState`` and whitelisted classes, never calling
code named by the file.
"""
import io
import math
import re
from collections import deque

import numpy as np

ARRAY_PREFIX = "arrays/"
_MAX_DEPTH = 64                 # nesting of values in the metadata
_ARRAY_KINDS = "biufc"          # bool, int, uint, float, complex
_SCALAR_KINDS = "biuf"          # numpy scalars kept in the JSON (exactly)
MAX_INT_DIGITS = 100            # of an integer in the metadata (uint64 needs 20)


class ModelFileError(ValueError):
    """Internal: a problem with the file's content (re-raised with the path)."""


def _object_classes():
    """The only other classes ``load`` instantiates (without calling __init__)."""
    from ._monitor import ConvergenceMonitor

    return {"ConvergenceMonitor": ConvergenceMonitor}


def _object_attributes(cls):
    """The instance attributes an object of a whitelisted class may have:
    those its constructor sets (a crafted file must not set class-level
    names such as ``_template`` on the instance)."""
    return frozenset(vars(cls(tol=0.01, n_iter=10, verbose=False)))


def _check_object_attribute(cls, name, where):
    if name not in _object_attributes(cls):
        raise ModelFileError(
            f"{name!r} is not an attribute of a saved {cls.__name__} (at {where}); "
            f"it has {', '.join(sorted(_object_attributes(cls)))} only")


def int_digits(value):
    """Decimal digits of a Python int, without converting a huge one."""
    if value.bit_length() > 14000:  # over 4200 digits: Python refuses str() at 4300
        return None
    return len(str(abs(value)))


class Encoder:
    """Turns Python values into JSON nodes, collecting arrays as entries."""

    def __init__(self):
        self.arrays = {}  # entry name -> ndarray

    def _entry_name(self, path):
        parts = [p if re.fullmatch(r"[A-Za-z0-9_]+", p) else "x" for p in path]
        base = ARRAY_PREFIX + "/".join(parts)
        name, n = base + ".npy", 1
        while name in self.arrays:
            name, n = f"{base}.{n}.npy", n + 1
        return name

    def _array(self, arr, path):
        dt = arr.dtype
        if dt.kind not in _ARRAY_KINDS or dt.fields is not None or dt.subdtype is not None:
            raise TypeError(
                f"{_where(path)} is an array of dtype {dt}, which gmscore's model "
                "format does not store (only bool, integer, float and complex arrays)"
            )
        entry = self._entry_name(path)
        self.arrays[entry] = arr
        return {"type": "ndarray", "entry": entry, "dtype": dt.str, "shape": list(arr.shape)}

    def encode(self, value, path):
        if len(path) - 1 > _MAX_DEPTH:
            raise TypeError(f"{_where(path)} is nested more than {_MAX_DEPTH} deep, which "
                            "gmscore's model format does not store")
        t = type(value)
        if value is None:
            return {"type": "none"}
        if t is bool:
            return {"type": "bool", "value": value}
        if t is int:
            digits = int_digits(value)
            if digits is None or digits > MAX_INT_DIGITS:
                size = f"{digits}" if digits is not None else f"more than {MAX_INT_DIGITS}"
                raise TypeError(f"{_where(path)} is an integer of {size} digits; gmscore's "
                                f"model format stores integers of at most {MAX_INT_DIGITS}")
            return {"type": "int", "value": value}
        if t is float:
            return {"type": "float", "value": _float_to_json(value)}
        if t is str:
            return {"type": "str", "value": value}
        if t is np.ndarray and value.dtype == object and value.ndim == 1 and all(
                type(v) is str for v in value):
            # feature_names_in_: scikit-learn's object array of strings
            return {"type": "str_array", "items": list(value)}
        if t is np.ndarray:
            return self._array(value, path)
        if isinstance(value, np.generic) and t is value.dtype.type:
            dt = value.dtype
            if dt.kind in _SCALAR_KINDS and dt.itemsize <= 8:
                py = value.item()
                if dt.kind == "f":
                    py = _float_to_json(py)
                return {"type": "numpy_scalar", "dtype": dt.str, "value": py}
        if t in (list, tuple):
            return {"type": t.__name__,
                    "items": [self.encode(v, path + (str(i),)) for i, v in enumerate(value)]}
        if t is deque:
            return {"type": "deque", "maxlen": value.maxlen,
                    "items": [self.encode(v, path + (str(i),)) for i, v in enumerate(value)]}
        if t is dict:
            items = []
            for k, v in value.items():
                if type(k) is not str:
                    raise TypeError(f"{_where(path)} is a dict with a non-string key {k!r}, "
                                    "which gmscore's model format does not store")
                items.append([k, self.encode(v, path + (k,))])
            return {"type": "dict", "items": items}
        if t is np.random.RandomState:
            name, key, pos, has_gauss, cached = value.get_state(legacy=True)
            return {"type": "random_state", "bit_generator": name,
                    "key": self._array(np.asarray(key), path + ("key",)),
                    "pos": int(pos), "has_gauss": int(has_gauss),
                    "cached_gaussian": _float_to_json(float(cached))}
        for cname, cls in _object_classes().items():
            if t is cls:
                state = {}
                for k, v in vars(value).items():
                    try:
                        check_name(cls, k, path + (k,))
                        _check_object_attribute(cls, k, _where(path))
                    except ModelFileError as exc:
                        raise TypeError(f"cannot save: {exc}") from None
                    state[k] = self.encode(v, path + (k,))
                return {"type": "object", "class": cname, "state": state}
        raise TypeError(
            f"{_where(path)} has type {t.__module__}.{t.__qualname__}, which gmscore's "
            "model format cannot store exactly; the model was not saved (use pickle "
            "for models carrying arbitrary objects)"
        )


def _where(path):
    kind, name = path[0], path[1]
    what = "hyper-parameter" if kind == "params" else "attribute"
    rest = "".join(f"[{p!r}]" for p in path[2:])
    return f"{what} {name}{rest}"


def _float_to_json(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def check_name(cls, name, path):
    """Attribute names that may be stored / restored in an instance dict:
    identifiers, not dunders, and not shadowing a method or property."""
    if type(name) is not str or not name.isidentifier() or name.startswith("__"):
        raise ModelFileError(f"invalid attribute name {name!r} at {_where(path)}")
    attr = getattr(cls, name, None)
    # a class default made on first use (HMM monitor_) is meant to be
    # overridden by the instance's value
    if attr is not None and not getattr(attr, "instance_value", False) and (
            callable(attr) or hasattr(attr, "__set__") or hasattr(attr, "__get__")):
        raise ModelFileError(f"attribute name {name!r} at {_where(path)} would shadow "
                         f"{cls.__name__}.{name}")


def _read_npy(raw, node, where):
    """An array entry, after checking its header against the node."""
    fp = io.BytesIO(raw)
    try:
        major, _ = np.lib.format.read_magic(fp)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif major == 2:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy version {major}")
    except Exception as exc:  # the header is parsed (ast.literal_eval), never run
        raise ModelFileError(f"{where} is not a valid .npy array ({exc})") from None
    if dtype.hasobject or dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
        raise ModelFileError(f"{where} has dtype {dtype}; only bool, integer, float and complex "
                         "arrays are allowed (object arrays would need pickle)")
    if dtype.str != node["dtype"] or list(shape) != node["shape"]:
        raise ModelFileError(f"{where} has dtype {dtype.str} and shape {list(shape)}, but the "
                         f"metadata says {node['dtype']} and {node['shape']}")
    nbytes = dtype.itemsize * math.prod(shape)
    if len(raw) - fp.tell() != nbytes:
        raise ModelFileError(f"{where} holds {len(raw) - fp.tell()} data bytes, expected {nbytes}")
    try:
        arr = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        raise ModelFileError(f"{where} cannot be read ({exc})") from None
    return arr


class Decoder:
    def __init__(self, members):
        self.members = members
        self.used = set()
        self.depth = 0

    def _fields(self, node, where, *names):
        expected = {"type", *names}
        if set(node) != expected:
            raise ModelFileError(f"malformed value at {where}: expected keys {sorted(expected)}, "
                             f"got {sorted(node)}")

    def _number(self, value, where, kinds=(int, float)):
        if type(value) is str and value in ("nan", "inf", "-inf") and float in kinds:
            return float(value)
        if type(value) not in kinds:
            raise ModelFileError(f"malformed number {value!r} at {where}")
        return value

    def _array(self, node, where):
        self._fields(node, where, "entry", "dtype", "shape")
        entry, dtype, shape = node["entry"], node["dtype"], node["shape"]
        if (type(entry) is not str or not entry.startswith(ARRAY_PREFIX)
                or type(dtype) is not str or type(shape) is not list
                or not all(type(s) is int and s >= 0 for s in shape)):
            raise ModelFileError(f"malformed array reference at {where}")
        if entry not in self.members:
            raise ModelFileError(f"the array entry {entry!r} for {where} is missing")
        if entry in self.used:
            raise ModelFileError(f"the array entry {entry!r} is referenced twice")
        self.used.add(entry)
        return _read_npy(self.members[entry], node, f"array entry {entry!r} ({where})")

    def decode(self, node, where):
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise ModelFileError(f"values nested more than {_MAX_DEPTH} deep at {where}")
            return self._decode(node, where)
        finally:
            self.depth -= 1

    def _decode(self, node, where):
        if type(node) is not dict or type(node.get("type")) is not str:
            raise ModelFileError(f"malformed value at {where}")
        t = node["type"]
        if t == "none":
            self._fields(node, where)
            return None
        if t in ("bool", "int", "str"):
            self._fields(node, where, "value")
            value = node["value"]
            if type(value) is not {"bool": bool, "int": int, "str": str}[t]:
                raise ModelFileError(f"malformed {t} {value!r} at {where}")
            return value
        if t == "str_array":
            self._fields(node, where, "items")
            items = node["items"]
            if type(items) is not list or not all(type(v) is str for v in items):
                raise ModelFileError(f"malformed string array at {where}")
            return np.array(items, dtype=object)
        if t == "float":
            self._fields(node, where, "value")
            return float(self._number(node["value"], where))
        if t == "numpy_scalar":
            self._fields(node, where, "dtype", "value")
            dt = _scalar_dtype(node["dtype"], where)
            kinds = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float)}[dt.kind]
            value = self._number(node["value"], where, kinds)
            try:
                with np.errstate(over="raise"):
                    out = dt.type(value)
            except (OverflowError, FloatingPointError, ValueError):
                raise ModelFileError(f"{value!r} does not fit {dt} at {where}") from None
            if dt.kind in "iu" and int(out) != value:
                raise ModelFileError(f"{value!r} does not fit {dt} at {where}")
            return out
        if t == "ndarray":
            return self._array(node, where)
        if t in ("list", "tuple"):
            self._fields(node, where, "items")
            items = self._items(node["items"], where)
            return items if t == "list" else tuple(items)
        if t == "deque":
            self._fields(node, where, "items", "maxlen")
            maxlen = node["maxlen"]
            if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
                raise ModelFileError(f"malformed deque maxlen at {where}")
            items = self._items(node["items"], where)
            if maxlen is not None and len(items) > maxlen:
                raise ModelFileError(f"deque at {where} holds more than its maxlen")
            return deque(items, maxlen)
        if t == "dict":
            self._fields(node, where, "items")
            if type(node["items"]) is not list:
                raise ModelFileError(f"malformed dict at {where}")
            out = {}
            for pair in node["items"]:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str \
                        or pair[0] in out:
                    raise ModelFileError(f"malformed dict item at {where}")
                out[pair[0]] = self.decode(pair[1], f"{where}[{pair[0]!r}]")
            return out
        if t == "random_state":
            return self._random_state(node, where)
        if t == "object":
            self._fields(node, where, "class", "state")
            cls = _object_classes().get(node["class"]) if type(node["class"]) is str else None
            if cls is None:
                raise ModelFileError(f"unknown object class {node['class']!r} at {where}; "
                                 f"allowed: {sorted(_object_classes())}")
            if type(node["state"]) is not dict:
                raise ModelFileError(f"malformed object state at {where}")
            obj = cls.__new__(cls)
            for k, v in node["state"].items():
                check_name(cls, k, ("attributes", where, k))
                _check_object_attribute(cls, k, where)
                vars(obj)[k] = self.decode(v, f"{where}.{k}")
            return obj
        raise ModelFileError(f"unknown value type {t!r} at {where}")

    def _items(self, items, where):
        if type(items) is not list:
            raise ModelFileError(f"malformed sequence at {where}")
        return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(items)]

    def _random_state(self, node, where):
        self._fields(node, where, "bit_generator", "key", "pos", "has_gauss", "cached_gaussian")
        if node["bit_generator"] != "MT19937":
            raise ModelFileError(f"unsupported bit generator {node['bit_generator']!r} at {where}")
        key = self.decode(node["key"], f"{where}.key")
        if type(key) is not np.ndarray or key.dtype != np.uint32 or key.shape != (624,):
            raise ModelFileError(f"malformed RandomState key at {where}")
        pos = self._number(node["pos"], where, (int,))
        has_gauss = self._number(node["has_gauss"], where, (int,))
        cached = float(self._number(node["cached_gaussian"], where))
        rs = np.random.RandomState()
        try:
            rs.set_state(("MT19937", key, pos, has_gauss, cached))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ModelFileError(f"malformed RandomState at {where} ({exc})") from None
        return rs


def _scalar_dtype(spec, where):
    try:
        dt = np.dtype(spec) if type(spec) is str else None
    except Exception:  # numpy parses the string; nothing is evaluated
        dt = None
    if dt is None or dt.kind not in _SCALAR_KINDS or dt.itemsize > 8 or dt.fields is not None \
            or dt.subdtype is not None:
        raise ModelFileError(f"unsupported numpy scalar dtype {spec!r} at {where}")
    return dt
