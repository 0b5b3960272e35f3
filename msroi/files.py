"""Reading images and maps, and writing outputs atomically.

Colour rule for inputs (applied after EXIF orientation):
- 16-bit and 32-bit greyscale (I;16, I) are scaled to 8 bits by taking value * 255 / 65535
  (rounded), then treated as greyscale.
- greyscale (L, 1) is replicated to R = G = B.
- palette (P, PA) is expanded through its palette; any transparency follows the alpha rule.
- images with alpha (RGBA, LA, PA) are composited over white: out = a*c + (1-a)*255.
  JPEG has no alpha, and white is what a browser shows behind a transparent PNG by default.
- CMYK (including Adobe's inverted CMYK JPEGs, which Pillow normalises) goes through Pillow's
  CMYK -> RGB conversion (no ICC colour management).
- everything else goes through Pillow's convert("RGB").
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from msroi.errors import InputError

#: Default upper bound on width x height, above which an input is refused
#: (a decompression bomb guard; a 24-megapixel camera photo is well inside).
DEFAULT_MAX_PIXELS = 100_000_000

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(np.rint(a * 255.0 / 65535.0), 0, 255).astype(np.uint8), "L")
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    return im.convert("RGB")


def read_image(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read any image Pillow reads as 8-bit RGB in its displayed orientation.

    Takes a path and a pixel limit; returns an ``(H, W, 3)`` uint8 array. Raises
    :class:`InputError` naming the file for missing, empty, non-image, truncated or
    oversized files.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(path, f"image is {w}x{h} = {w * h} pixels, above the limit of {max_pixels}")
            im.load()
            im = ImageOps.exif_transpose(im)
            rgb = _to_rgb(im)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(path, "not an image Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise InputError(path, f"image too large ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(path, f"cannot decode image ({e})") from None
    return np.asarray(rgb, dtype=np.uint8).copy()


def list_images(directory) -> list[Path]:
    """Return the image files (by suffix) directly inside ``directory``, sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a directory")
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched, so a
    reader never sees a half-written output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def save_png(path, array: np.ndarray) -> None:
    """Save a uint8 (grey or RGB) or uint16 (grey) array as PNG, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def read_map(path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a saliency map from an 8/16-bit PNG (or any greyscale image) or a float ``.npy``.

    Returns float64 in [0, 1] (PNG values divided by their type's maximum; ``.npy`` values
    are used as given and must be finite). When ``shape`` (H, W) is given, the map is
    resized to it exactly (bilinear). Raises :class:`InputError` for unreadable maps,
    maps with NaN/inf, or non-2-D maps.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such map file")
    if path.suffix.lower() == ".npy":
        try:
            m = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise InputError(path, f"cannot read map ({e})") from None
        if m.ndim == 3 and m.shape[2] == 1:
            m = m[..., 0]
        if m.ndim != 2:
            raise InputError(path, f"map must be 2-D, got shape {m.shape}")
        m = m.astype(np.float64)
        if not np.all(np.isfinite(m)):
            raise InputError(path, "map contains NaN or infinite values")
    else:
        try:
            with Image.open(path) as im:
                im.load()
                if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                    m = np.asarray(im, dtype=np.float64) / 65535.0
                elif im.mode == "F":
                    m = np.asarray(im, dtype=np.float64)
                else:
                    m = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
        except (OSError, SyntaxError, ValueError) as e:
            raise InputError(path, f"cannot read map ({e})") from None
        if not np.all(np.isfinite(m)):
            raise InputError(path, "map contains NaN or infinite values")
    if shape is not None and m.shape != tuple(shape):
        m = resize_map(m, shape)
    return m


def resize_map(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D float map to exactly ``shape`` (H, W) with bilinear interpolation."""
    im = Image.fromarray(np.asarray(m, dtype=np.float32), mode="F")
    return np.asarray(im.resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.float64)


def write_csv(path, df) -> None:
    """Write a pandas DataFrame as CSV atomically (no index)."""
    write_text(path, df.to_csv(index=False))
