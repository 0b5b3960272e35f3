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

Metadata (``read_image(..., with_metadata=True)``): an RGB ICC profile and the EXIF block
(orientation reset to 1, as the pixels are returned in the displayed orientation) are kept
so that writers can carry them into the output JPEG (:func:`add_metadata`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from msroi import settings
from msroi.errors import InputError, MsroiError, OutputError

#: Default upper bound on width x height, above which an input is refused (see
#: :data:`msroi.settings.MAX_PIXELS` for how it was chosen).
DEFAULT_MAX_PIXELS = settings.MAX_PIXELS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")


@dataclass(frozen=True)
class ImageMetadata:
    """What an output JPEG keeps of its input: an RGB ICC profile and the EXIF block
    (TIFF bytes without the ``Exif\\0\\0`` prefix, orientation already reset to 1)."""

    icc_profile: bytes | None = None
    exif: bytes | None = None

    def stripped(self) -> "ImageMetadata":
        """The same metadata without EXIF (camera, date, GPS); the ICC profile stays, as
        it defines the colours."""
        return ImageMetadata(icc_profile=self.icc_profile)


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


def _exif_orientation_reset(raw: bytes | None) -> bytes | None:
    """EXIF TIFF bytes with IFD0's orientation tag set to 1; None for missing or malformed
    EXIF (which is then dropped rather than copied broken)."""
    if not raw:
        return None
    data = bytearray(raw[6:] if raw.startswith(b"Exif\0\0") else raw)
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        return None
    order = "little" if data[:2] == b"II" else "big"
    ifd = int.from_bytes(data[4:8], order)
    if ifd + 2 > len(data):
        return None
    count = int.from_bytes(data[ifd:ifd + 2], order)
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(data):
            return None
        if int.from_bytes(data[entry:entry + 2], order) == 0x0112:
            data[entry + 8:entry + 10] = (1).to_bytes(2, order)
    return bytes(data)


def _metadata(im: Image.Image) -> ImageMetadata:
    icc = im.info.get("icc_profile") or None
    if icc is not None and icc[16:20] != b"RGB ":
        icc = None  # a CMYK or grey profile does not describe the RGB pixels written
    return ImageMetadata(icc_profile=icc, exif=_exif_orientation_reset(im.info.get("exif")))


def _check_size(path, im: Image.Image, max_pixels: int) -> None:
    w, h = im.size
    if w * h > max_pixels:
        raise InputError(path, f"image is {w}x{h} = {w * h} pixels, above the limit of {max_pixels}")


def read_image(path, max_pixels: int = DEFAULT_MAX_PIXELS, with_metadata: bool = False):
    """Read any image Pillow reads as 8-bit RGB in its displayed orientation.

    Takes a path and a pixel limit; returns an ``(H, W, 3)`` uint8 array, or
    ``(array, ImageMetadata)`` when ``with_metadata``. Raises :class:`InputError` naming
    the file for missing, empty, non-image, truncated or oversized files.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            _check_size(path, im, max_pixels)
            im.load()
            meta = _metadata(im)
            im = ImageOps.exif_transpose(im)
            rgb = _to_rgb(im)
    except InputError:
        raise
    except MemoryError:
        raise InputError(path, "not enough memory to decode the image") from None
    except UnidentifiedImageError:
        raise InputError(path, "not an image Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise InputError(path, f"image too large ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(path, f"cannot decode image ({e})") from None
    rgb = np.asarray(rgb, dtype=np.uint8).copy()
    return (rgb, meta) if with_metadata else rgb


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


#: Largest payload of one ICC_PROFILE APP2 segment: 65535 - 2 (length) - 14 (signature, numbers).
ICC_CHUNK = 65519


def metadata_segments(meta: ImageMetadata | None) -> bytes:
    """The APP1 (EXIF) and APP2 (ICC_PROFILE, chunked as the ICC spec says) segments of
    ``meta``; EXIF too long for one segment is left out."""
    if meta is None:
        return b""
    out = b""
    if meta.exif and len(meta.exif) + 6 <= 65533:
        out += _segment(0xE1, b"Exif\0\0" + meta.exif)
    if meta.icc_profile:
        icc = meta.icc_profile
        chunks = [icc[i:i + ICC_CHUNK] for i in range(0, len(icc), ICC_CHUNK)]
        if len(chunks) <= 255:
            for n, chunk in enumerate(chunks, 1):
                out += _segment(0xE2, b"ICC_PROFILE\0" + bytes([n, len(chunks)]) + chunk)
    return out


def add_metadata(jpeg_bytes: bytes, meta: ImageMetadata | None) -> bytes:
    """Insert ``meta``'s segments into a JPEG after its APP0/JFIF segment (after SOI when it
    has none); the compressed data is unchanged. Returns the new file's bytes."""
    extra = metadata_segments(meta)
    if not extra:
        return jpeg_bytes
    if jpeg_bytes[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    at = 2
    if jpeg_bytes[2:4] == b"\xff\xe0":
        at = 4 + int.from_bytes(jpeg_bytes[4:6], "big")
    return jpeg_bytes[:at] + extra + jpeg_bytes[at:]


def list_images(directory) -> list[Path]:
    """Return the image files (by suffix) directly inside ``directory``, sorted by name."""
    used, _ = scan_directory(directory)
    return used


def scan_directory(directory) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Sort every entry directly inside ``directory`` into images to use and the rest.

    Returns ``(images, skipped)``: image files by suffix (:data:`IMAGE_SUFFIXES`, any case),
    sorted by name, and ``(path, reason)`` for every other entry (sub-directories, which are
    not searched; broken or looping symbolic links; other suffixes; hidden files).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a directory")
    used, skipped = [], []
    for p in sorted(directory.iterdir()):
        if p.name.startswith("."):
            skipped.append((p, "hidden file"))
        elif p.is_symlink() and not p.exists():
            skipped.append((p, "broken or looping symbolic link"))
        elif p.is_dir():
            skipped.append((p, "a directory (sub-directories are not searched)"))
        elif not p.is_file():
            skipped.append((p, "not a regular file"))
        elif p.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((p, f"not an image suffix ({', '.join(IMAGE_SUFFIXES)})"))
        else:
            used.append(p)
    return used, skipped


def _identity(path: Path):
    """(device, inode) of an existing file, else its resolved path."""
    try:
        st = path.stat()
        return (st.st_dev, st.st_ino)
    except OSError:
        return str(path.resolve())


def _check_writable(path: Path, checked: set) -> None:
    if path.is_dir():
        raise OutputError(path, "is a directory, not an output file")
    if path.parent in checked:
        return
    checked.add(path.parent)
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise OutputError(path, f"{parent} is a broken symbolic link")
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(path, f"cannot create the output: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(path, f"cannot write in {parent} (permission denied)")


def check_outputs(outputs, inputs=()) -> None:
    """Refuse, before any work, outputs that would overwrite an input or each other, or
    that cannot be created.

    Takes the output paths and the input paths (None entries are ignored). Paths are
    compared after resolving ``..`` and symbolic links (and by inode when both exist, so
    hard links count too). Raises :class:`OutputError` naming the output.
    """
    ins = {}
    for i in inputs:
        if i is not None:
            ins.setdefault(_identity(Path(i)), Path(i))
            ins.setdefault(str(Path(i).resolve()), Path(i))
    seen, checked = {}, set()
    for o in outputs:
        if o is None:
            continue
        o = Path(o)
        key = _identity(o)
        for k in (key, str(o.resolve())):
            if k in ins:
                raise OutputError(o, f"output would overwrite the input {ins[k]}")
        if key in seen:
            raise OutputError(o, f"two outputs would be written to one file ({seen[key]} and {o})")
        seen[key] = o
        _check_writable(o, checked)


#: errno values that mean "this output cannot be written" rather than a bug.
_WRITE_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG,
                 errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG}


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (other threads may
    create files meanwhile)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched, so a
    reader never sees a half-written output. The output gets the permissions ``open()``
    would give it (0666 minus the umask). A full or read-only disk, a missing permission or
    a path through a file raises :class:`OutputError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the name is cut so that the temporary name stays within NAME_MAX for any legal name
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:32]}.", suffix=".part" + path.suffix[:16], dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
    except OSError as e:
        raise OutputError(path, f"cannot write ({e.strerror or e})") from None
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in _WRITE_ERRORS:
            raise OutputError(path, f"cannot write ({e.strerror or e})") from None
        raise


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def save_png(path, array: np.ndarray, icc_profile: bytes | None = None) -> None:
    """Save a uint8 (grey or RGB) or uint16 (grey) array as PNG, atomically, with an
    optional ICC profile (iCCP chunk)."""
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG", **({"icc_profile": icc_profile} if icc_profile else {}))


def _read_npy(path: Path, max_pixels: int) -> np.ndarray:
    try:
        m = np.load(path, mmap_mode="r", allow_pickle=False)  # the header first: no allocation yet
    except (OSError, ValueError, EOFError) as e:
        raise InputError(path, f"cannot read map ({e})") from None
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise InputError(path, f"map must be 2-D, got shape {m.shape}")
    if m.size == 0:
        raise InputError(path, f"map is empty (shape {m.shape})")
    if m.size > max_pixels:
        raise InputError(path, f"map is {m.shape[1]}x{m.shape[0]} = {m.size} values, above the limit of {max_pixels}")
    if m.dtype.kind not in "biuf":
        raise InputError(path, f"map must hold numbers, not {m.dtype}")
    return np.array(m, dtype=np.float64)


def open_checked(path, max_pixels: int = DEFAULT_MAX_PIXELS, what: str = "image"):
    """Open an image file with Pillow, refusing headers over ``max_pixels`` before any pixel
    is decoded; returns the loaded image (use as a context manager)."""
    path = Path(path)
    try:
        im = Image.open(path)
        w, h = im.size
        if w * h > max_pixels:
            im.close()
            raise InputError(path, f"{what} is {w}x{h} = {w * h} pixels, above the limit of {max_pixels}")
        im.load()
        return im
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        raise InputError(path, f"{what} too large ({e})") from None
    except MemoryError:
        raise InputError(path, f"not enough memory to decode the {what}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(path, f"cannot read {what} ({e})") from None


def read_map(path, shape: tuple[int, int] | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a saliency map from an 8/16-bit PNG (or any greyscale image) or a float ``.npy``.

    Returns float64 in [0, 1]: PNG values divided by their type's maximum; ``.npy`` and float
    image values are used as given and must be finite numbers in [0, 1] (a map in another
    range, such as 0..255 floats or logits, is refused rather than clipped: scale it first).
    When ``shape`` (H, W) is given, the map is resized to it exactly (bilinear). Raises
    :class:`InputError` for unreadable, empty, oversized (more than ``max_pixels`` values),
    non-numeric, non-2-D or out-of-range maps and maps with NaN/inf.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such map file")
    if path.suffix.lower() == ".npy":
        m = _read_npy(path, max_pixels)
        if not np.all(np.isfinite(m)):
            raise InputError(path, "map contains NaN or infinite values")
    else:
        try:
            with open_checked(path, max_pixels, "map") as im:
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
    lo, hi = float(m.min()), float(m.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(path, f"map values must lie in [0, 1], found {lo:g}..{hi:g} (scale the map first)")
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


def save_map(path, m) -> None:
    """Save a [0, 1] map atomically: float32 ``.npy`` for that suffix, else a 16-bit grey PNG."""
    path = Path(path)
    m = np.clip(np.asarray(m, dtype=np.float32), 0.0, 1.0)
    if m.ndim != 2:
        raise MsroiError(f"a map must be 2-D, got shape {m.shape}")
    if path.suffix.lower() == ".npy":
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, m, allow_pickle=False)
    else:
        save_png(path, np.rint(m.astype(np.float64) * 65535.0).astype(np.uint16))


def find_by_stem(directory, stem: str, suffixes) -> Path | None:
    """The file ``{stem}{suffix}`` in ``directory`` for the first of ``suffixes`` that exists, else None."""
    for suffix in suffixes:
        p = Path(directory) / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None
