"""Read a joblib file holding a list of NumPy arrays (as the ``mtcnn`` wheel ships its weights), without joblib.

``joblib.dump`` writes a pickle in which each array is a ``NumpyArrayWrapper`` object (its
dtype, shape and memory order); right after the pickle opcode that sets the wrapper's state,
the array's raw bytes follow in the stream, preceded by one byte giving the length of the
alignment padding that comes next. The whole stream may be lz4-frame compressed.

Unpickling runs code named by the file. This reader admits only three globals: the wrapper
(mapped to a local stand-in that reads the bytes), ``numpy.dtype`` and ``numpy.ndarray``; any
other global, an object dtype, or a result other than a list of arrays is refused with an
:class:`InputError` naming the file.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from msroi.errors import InputError

_LZ4_MAGIC = b"\x04\x22\x4d\x18"


class _ArrayStandIn:
    """Stand-in for joblib's ``NumpyArrayWrapper``; its state setter reads the array's bytes."""

    _stream: io.BytesIO

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("array wrapper state is not a dict")
        dtype, shape, order = state.get("dtype"), state.get("shape"), state.get("order", "C")
        if state.get("subclass", np.ndarray) is not np.ndarray or not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise pickle.UnpicklingError("only plain numeric arrays are supported")
        if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)) or order not in ("C", "F"):
            raise pickle.UnpicklingError("malformed array shape or order")
        f = self._stream
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = f.read(1)
            if len(pad) != 1 or len(f.read(pad[0])) != pad[0]:
                raise pickle.UnpicklingError("truncated array padding")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise pickle.UnpicklingError("truncated array data")
        flat = np.frombuffer(data, dtype=dtype)
        self.array = flat.reshape(shape[::-1]).T.copy() if order == "F" else flat.reshape(shape).copy()


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream: io.BytesIO, path: str):
        super().__init__(stream)
        # one stand-in class per file, so it reads from this stream
        self._wrapper = type("NumpyArrayWrapper", (_ArrayStandIn,), {"_stream": stream})
        self._path = path

    def find_class(self, module, name):
        if (module, name) == ("joblib.numpy_pickle", "NumpyArrayWrapper"):
            return self._wrapper
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        raise InputError(self._path, f"refused global '{module}.{name}' in pickle (only joblib array wrappers are allowed)")


def load_arrays(path) -> list[np.ndarray]:
    """The list of arrays in the joblib file at ``path`` (plain or lz4-compressed).

    Raises :class:`InputError` naming the file if it is missing, malformed, or names any
    global other than the array wrapper, ``numpy.dtype`` and ``numpy.ndarray``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    raw = path.read_bytes()
    try:
        if raw[:4] == _LZ4_MAGIC:
            import lz4.frame  # a dependency of the mtcnn wheel, whose weights this reads

            raw = lz4.frame.decompress(raw)
        stream = io.BytesIO(raw)
        result = _RestrictedUnpickler(stream, str(path)).load()
    except InputError:
        raise
    except Exception as e:  # a malformed file: report it as one line
        raise InputError(path, f"not a readable joblib array file ({type(e).__name__}: {e})") from None
    if not (isinstance(result, list) and all(isinstance(a, _ArrayStandIn) for a in result)):
        raise InputError(path, "joblib file does not hold a list of arrays")
    return [a.array for a in result]
