"""Read a legacy (pre-zip) PyTorch ``state_dict`` file into NumPy arrays, without torch.

A legacy ``.pth`` file is five pickles in a row followed by raw storage bytes: a magic
number, a protocol version, system info, the state dict itself (tensors point at storages
through persistent ids), and the list of storage keys; then, for each key, an 8-byte
little-endian element count and the storage's bytes.

Unpickling runs code named by the file. This reader admits only the globals a plain state
dict needs (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the typed
``torch.*Storage`` classes), each mapped to a local NumPy stand-in; any other global is
refused with an :class:`InputError` naming the file and the global, before anything runs.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from pathlib import Path

import numpy as np

from msroi.errors import InputError

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001

#: torch storage class name -> NumPy dtype (little-endian, as the file says ``little_endian``).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _StorageType:
    """Stand-in for a ``torch.*Storage`` class: only carries the dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A storage named in the pickle; its bytes are read after the pickles."""

    def __init__(self, stype: _StorageType, key: str, numel: int):
        self.stype, self.key, self.numel = stype, key, numel
        self.array: np.ndarray | None = None


class _TensorRef:
    """A tensor view (storage, offset, size, stride), materialised once storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor without a storage")
    return _TensorRef(storage, int(storage_offset), size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path):
        super().__init__(file)
        self._path = path
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise InputError(
            self._path,
            f"refused global '{module}.{name}' in pickle (only OrderedDict, tensor-rebuild and storage classes are allowed)",
        )

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, element count, view metadata or None)
        ok = isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage" and pid[5] is None
        if not (ok and isinstance(pid[1], _StorageType) and isinstance(pid[4], int)):
            raise InputError(self._path, f"unsupported persistent id in pickle: {str(pid)[:80]}")
        _, stype, key, _location, numel, _view = pid
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(stype, key, int(numel))
        return self.storages[key]


def _load_pickle(f, path, unpickler=None):
    u = unpickler or _RestrictedUnpickler(f, path)
    try:
        return u.load()
    except InputError:
        raise
    except Exception as e:  # a malformed pickle: report it as one line
        raise InputError(path, f"not a readable legacy torch file ({type(e).__name__}: {e})") from None


def _read_exact(f, n, path):
    data = f.read(n)
    if len(data) != n:
        raise InputError(path, "truncated legacy torch file (storage data missing)")
    return data


def _valid_view(ref) -> bool:
    def ints(t):
        return isinstance(t, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in t)

    return isinstance(ref.offset, int) and ints(ref.size) and ints(ref.stride) and len(ref.size) == len(ref.stride)


def load_state_dict(path) -> "collections.OrderedDict[str, np.ndarray]":
    """Read a legacy PyTorch state dict file.

    Takes a path; returns an ordered ``{name: ndarray}`` (copies in the tensors' logical
    shapes; 0-d tensors as 0-d arrays). Raises :class:`InputError` naming the file for a
    refused global, a zip-format (modern) torch file, or a malformed/truncated file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    raw = path.read_bytes()
    if raw[:2] == b"PK":
        raise InputError(path, "zip-format torch file; only the legacy (pre-1.6) format is supported")
    f = io.BytesIO(raw)
    if _load_pickle(f, path) != _MAGIC:
        raise InputError(path, "not a legacy torch file (bad magic number)")
    if _load_pickle(f, path) != _PROTOCOL:
        raise InputError(path, "unsupported legacy torch protocol version")
    sys_info = _load_pickle(f, path)
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian", False)):
        raise InputError(path, "only little-endian legacy torch files are supported")
    unpickler = _RestrictedUnpickler(f, path)
    state = _load_pickle(f, path, unpickler)
    keys = _load_pickle(f, path)
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise InputError(path, "legacy torch file does not hold a state dict")
    storages = unpickler.storages
    for key in keys:
        key = str(key)
        (numel,) = struct.unpack("<q", _read_exact(f, 8, path))
        if key not in storages:
            raise InputError(path, f"storage {key} is not referenced by the state dict")
        st = storages[key]
        if numel != st.numel or numel < 0:
            raise InputError(path, f"storage {key} has {numel} elements, the pickle says {st.numel}")
        st.array = np.frombuffer(_read_exact(f, numel * st.stype.dtype.itemsize, path), dtype=st.stype.dtype)
    out = collections.OrderedDict()
    for name, ref in state.items():
        if not (isinstance(ref, _TensorRef) and isinstance(ref.storage, _Storage)):
            raise InputError(path, f"entry {name!r} is not a tensor")
        arr = ref.storage.array
        if not isinstance(arr, np.ndarray) or not _valid_view(ref):
            raise InputError(path, f"tensor {name!r} has no data or a malformed view")
        need = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride)) + 1 if all(ref.size) else 0
        if ref.offset < 0 or any(s < 0 for s in ref.stride) or need > arr.size:
            raise InputError(path, f"tensor {name!r} lies outside its storage")
        item = arr.itemsize
        view = np.lib.stride_tricks.as_strided(
            arr[ref.offset :], shape=ref.size, strides=tuple(s * item for s in ref.stride), writeable=False
        )
        out[str(name)] = np.array(view, copy=True)
    return out
