"""Standard JPEG encode/decode through Pillow (libjpeg-turbo).

Every file written is a standard JPEG of 3 components (YCbCr); baseline sequential
unless ``progressive`` is asked for.
"""

from __future__ import annotations

import io
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
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(
        buf,
        format="JPEG",
        quality=int(quality),
        subsampling=SUBSAMPLING[options.subsampling],
        optimize=options.optimize,
        progressive=options.progressive,
    )
    return buf.getvalue()


def encode_jpegli(rgb: np.ndarray, quality: int) -> bytes:
    """Encode with jpegli (pyjpegli: 4:2:0, its default adaptive quantisation) at ``quality``."""
    import pyjpegli

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return pyjpegli.encode(rgb.tobytes(), rgb.shape[1], rgb.shape[0], int(quality))


def decode(data: bytes) -> np.ndarray:
    """Decode JPEG bytes to an ``(H, W, 3)`` uint8 RGB array."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def encode_standard(rgb: np.ndarray, quality: int, encoder: str = "jpeg", options: EncoderOptions = EncoderOptions(),
                    metadata=None):
    """The standard-JPEG driver: ``rgb`` at ``quality`` with ``encoder`` ("jpeg":
    libjpeg-turbo with ``options``; "jpegli": pyjpegli's own defaults), ``metadata`` carried
    into the file. Returns ``(jpeg_bytes, Record)``."""
    from msroi.codec.record import attach_metadata, make_record

    if encoder == "jpeg":
        data, optimize = encode(rgb, quality, options), options.optimize
    elif encoder == "jpegli":
        data, optimize = encode_jpegli(rgb, quality), None
    else:
        raise ValueError(f"unknown standard encoder {encoder!r}")
    record = make_record(data, method=encoder, base_quality=quality, final_quality=quality, width=rgb.shape[1],
                         height=rgb.shape[0], optimize=optimize)
    data, _, record = attach_metadata(data, None, record, metadata)
    return data, record
