"""Standard JPEG encode/decode through Pillow (libjpeg-turbo), and the reference encoders
jpegli (pyjpegli) and mozjpeg 4.0.3 (bundled by jpeglib).

Every file written is a standard JPEG of 3 components (YCbCr); baseline sequential
unless ``progressive`` is asked for.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from msroi import settings

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


@dataclass(frozen=True)
class EncoderOptions:
    """Options of the JPEG writer: chroma subsampling, Huffman optimisation, progressive scans."""

    subsampling: str = "4:2:0"
    optimize: bool = settings.OPTIMIZE
    progressive: bool = False

    def __post_init__(self):
        if self.subsampling not in SUBSAMPLING:
            raise ValueError(f"subsampling must be one of {sorted(SUBSAMPLING)}, got {self.subsampling!r}")

    def as_dict(self) -> dict:
        return asdict(self)


def encode(rgb: np.ndarray, quality: int, options: EncoderOptions = EncoderOptions()) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 RGB array as JPEG at ``quality`` (1..100); returns the bytes."""
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    image = Image.fromarray(rgb, "RGB")
    if not (options.optimize or options.progressive):
        return _pillow_jpeg(image, quality, options)
    # Optimising or progressive, libjpeg writes the whole file at the end into the buffer
    # Pillow gives it, which cannot be refilled there: 1 byte per pixel below quality 95,
    # 2 from 95. A larger file fails with "broken data stream" (noise at quality 94 takes
    # 1.1 bytes per pixel; at 100 with 4:4:4, about 3). From quality 80, and after any such
    # failure, the buffer can hold 6 bytes per pixel (not resident until written).
    if quality < 80:
        try:
            return _pillow_jpeg(image, quality, options)
        except OSError:
            pass
    from PIL import ImageFile

    with _BUFFER_LOCK:
        default = ImageFile.MAXBLOCK
        ImageFile.MAXBLOCK = max(default, 6 * rgb.shape[0] * rgb.shape[1] + 65536)
        try:
            return _pillow_jpeg(image, quality, options)
        finally:
            ImageFile.MAXBLOCK = default


_BUFFER_LOCK = threading.Lock()


def _pillow_jpeg(image, quality: int, options: EncoderOptions) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=int(quality), subsampling=SUBSAMPLING[options.subsampling],
               optimize=options.optimize, progressive=options.progressive)
    return buf.getvalue()


def encode_jpegli(rgb: np.ndarray, quality: int) -> bytes:
    """Encode with jpegli (pyjpegli: 4:2:0, its default adaptive quantisation) at ``quality``."""
    import pyjpegli

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return pyjpegli.encode(rgb.tobytes(), rgb.shape[1], rgb.shape[0], int(quality))


#: The mozjpeg that :func:`encode_mozjpeg` runs (jpeglib's bundled build).
MOZJPEG_VERSION = "mozjpeg403"


def encode_mozjpeg(rgb: np.ndarray, quality: int, progressive: bool = True) -> bytes:
    """Encode with mozjpeg 4.0.3 at ``quality`` (1..100) at its defaults; returns the bytes.

    mozjpeg's defaults: its quantisation tables (the same for luma and chroma), trellis
    quantisation of AC and DC, optimised Huffman codes, 4:2:0, progressive scans; its tables
    are limited to 8 bits (libjpeg's ``force_baseline``, clamping entries above 255, which
    mozjpeg needs at Q <= 60) so that the same coefficients can also be written as a
    baseline file. ``progressive=False`` gives that sequential form: the progressive file's
    coefficients and tables rewritten losslessly as one baseline sequential scan with
    optimised Huffman codes (same pixels, a few bytes more or less).
    """
    import jpeglib

    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.shape}")
    with tempfile.TemporaryDirectory(prefix="msroi-mozjpeg-") as tmp:
        path = os.path.join(tmp, "out.jpg")
        with jpeglib.version(MOZJPEG_VERSION):
            jpeglib.from_spatial(rgb).write_spatial(path, qt=int(quality), flags=["+FORCE_BASELINE"])
        if not progressive:
            path = _sequential(path, os.path.join(tmp, "seq.jpg"))
        with open(path, "rb") as f:
            return f.read()


def _sequential(src: str, dst: str) -> str:
    """Rewrite the JPEG at ``src`` as baseline sequential at ``dst`` (same coefficients); returns ``dst``."""
    import jpeglib

    with jpeglib.version("turbo210"):
        coefficients = jpeglib.read_dct(src)
        coefficients.progressive_mode = False
        coefficients.write_dct(dst, flags=["+OPTIMIZE_CODING"])
    return dst


def decode(data: bytes) -> np.ndarray:
    """Decode JPEG bytes to an ``(H, W, 3)`` uint8 RGB array."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def encode_standard(rgb: np.ndarray, quality: int, encoder: str = "jpeg", options: EncoderOptions = EncoderOptions(),
                    metadata=None):
    """The standard-JPEG driver: ``rgb`` at ``quality`` with ``encoder`` ("jpeg":
    libjpeg-turbo with ``options``; "mozjpeg": its defaults, progressive or its sequential
    form as ``options.progressive``; "jpegli": pyjpegli's own defaults), ``metadata``
    carried into the file. Returns ``(jpeg_bytes, Record)``."""
    from msroi.codec.record import attach_metadata, make_record

    if encoder == "jpeg":
        data, optimize = encode(rgb, quality, options), options.optimize
    elif encoder == "mozjpeg":
        data, optimize = encode_mozjpeg(rgb, quality, options.progressive), True
    elif encoder == "jpegli":
        data, optimize = encode_jpegli(rgb, quality), None
    else:
        raise ValueError(f"unknown standard encoder {encoder!r}")
    record = make_record(data, method=encoder, base_quality=quality, final_quality=quality, width=rgb.shape[1],
                         height=rgb.shape[0], optimize=optimize)
    data, _, record = attach_metadata(data, None, record, metadata)
    return data, record
