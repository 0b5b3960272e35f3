"""Image input rules and bad-input errors of msroi.files."""

import numpy as np
import pytest
from PIL import Image

from msroi import files
from msroi.errors import InputError


def save(path, array):
    Image.fromarray(array).save(path)
    return path


def test_rgb_png_roundtrip(tmp_path, small_photo):
    p = save(tmp_path / "a.png", small_photo)
    np.testing.assert_array_equal(files.read_image(p), small_photo)


def test_greyscale_is_replicated(tmp_path):
    g = np.arange(64, dtype=np.uint8).reshape(8, 8)
    rgb = files.read_image(save(tmp_path / "g.png", g))
    assert rgb.shape == (8, 8, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], g)


def test_16bit_greyscale_is_scaled_to_8bit(tmp_path):
    g = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(g).save(p)
    rgb = files.read_image(p)
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 1, 255, 128])


def test_rgba_is_composited_over_white(tmp_path):
    a = np.zeros((2, 2, 4), np.uint8)
    a[..., 0] = 200
    a[0, 0, 3] = 255  # opaque red-ish
    a[0, 1, 3] = 0  # fully transparent -> white
    a[1, :, 3] = 128
    p = tmp_path / "a.png"
    Image.fromarray(a, "RGBA").save(p)
    rgb = files.read_image(p)
    assert tuple(rgb[0, 0]) == (200, 0, 0)
    assert tuple(rgb[0, 1]) == (255, 255, 255)
    assert abs(int(rgb[1, 0, 1]) - 127) <= 1  # half of white over black channel


def test_palette_and_cmyk(tmp_path, small_photo):
    p = tmp_path / "p.png"
    Image.fromarray(small_photo).convert("P").save(p)
    assert files.read_image(p).shape == small_photo.shape
    c = tmp_path / "c.jpg"
    Image.fromarray(small_photo).convert("CMYK").save(c, quality=95)
    rgb = files.read_image(c)
    assert rgb.shape == small_photo.shape
    assert np.abs(rgb.astype(int) - small_photo.astype(int)).mean() < 12


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((10, 20, 3), np.uint8)
    a[:, :10] = 255  # left half white
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 CW to display
    p = tmp_path / "r.jpg"
    im.save(p, exif=exif, quality=95)
    rgb = files.read_image(p)
    assert rgb.shape == (20, 10, 3)
    assert rgb[:10].mean() > 200 and rgb[10:].mean() < 50  # the white half is now on top


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty file"),
        (b"hello, I am text\n", "not an image"),
    ],
)
def test_non_images_are_refused_naming_the_file(tmp_path, content, problem):
    p = tmp_path / "bad name.jpg"
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        files.read_image(p)
    msg = str(e.value)
    assert str(p) in msg and problem in msg and "\n" not in msg


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_refused(tmp_path, small_photo, fmt):
    p = tmp_path / f"t.{fmt.lower()}"
    Image.fromarray(small_photo).save(p, format=fmt)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot decode"):
        files.read_image(p)


def test_pixel_limit(tmp_path, small_photo):
    p = save(tmp_path / "a.png", small_photo)
    with pytest.raises(InputError, match="above the limit"):
        files.read_image(p, max_pixels=100)


def test_read_map_16bit_8bit_npy_and_resize(tmp_path):
    m16 = (np.linspace(0, 1, 12).reshape(3, 4) * 65535).astype(np.uint16)
    Image.fromarray(m16).save(tmp_path / "m16.png")
    np.testing.assert_allclose(files.read_map(tmp_path / "m16.png"), m16 / 65535.0)
    m8 = (np.linspace(0, 1, 12).reshape(3, 4) * 255).astype(np.uint8)
    Image.fromarray(m8).save(tmp_path / "m8.png")
    np.testing.assert_allclose(files.read_map(tmp_path / "m8.png"), m8 / 255.0)
    np.save(tmp_path / "m.npy", np.linspace(0, 1, 12).reshape(3, 4))
    assert files.read_map(tmp_path / "m.npy", (30, 7)).shape == (30, 7)


def test_map_with_nan_is_refused(tmp_path):
    m = np.ones((4, 4))
    m[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", m)
    with pytest.raises(InputError, match="NaN"):
        files.read_map(tmp_path / "nan.npy")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jpg"
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
