"""Training data: a manifest CSV from a class-folder tree, and a tf.data pipeline over it.

Folder layout: one sub-directory per class, either Caltech-256 style ``NNN.name/``
(label name ``name``) or plain ``name/``. Labels are 0..K-1 in sorted folder order.
Manifest columns: ``path`` (relative to the manifest's directory when possible, else
absolute), ``label``, ``label_name``, ``split`` (``train`` or ``test``).

Images are decoded with :func:`msroi.files.read_image` (the project's colour rules), so every
format Pillow reads works, not only the ones TensorFlow decodes.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np

from msroi.errors import InputError, MsroiError
from msroi.files import IMAGE_SUFFIXES, read_image, write_text

MANIFEST_COLUMNS = ("path", "label", "label_name", "split")


def parse_holdout(holdout: str) -> tuple[str, float]:
    """Parse ``"last:N"`` or ``"fraction:F"``; returns ``(kind, value)``."""
    m = re.fullmatch(r"(last|fraction):([0-9.]+)", str(holdout).strip())
    if not m:
        raise MsroiError(f"holdout must be 'last:N' or 'fraction:F', got {holdout!r}")
    kind, value = m.group(1), float(m.group(2))
    if kind == "last" and (value != int(value) or value < 0):
        raise MsroiError(f"holdout last:N needs a whole N >= 0, got {holdout!r}")
    if kind == "fraction" and not 0.0 <= value < 1.0:
        raise MsroiError(f"holdout fraction:F needs 0 <= F < 1, got {holdout!r}")
    return kind, value


def class_folders(root) -> list[tuple[Path, str]]:
    """Class folders under ``root`` in label order, as ``(folder, label name)``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a directory")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        raise InputError(root, f"need at least 2 class folders, found {len(folders)}")
    return [(p, re.sub(r"^\d+\.", "", p.name)) for p in folders]


def _check_image(path: Path, verify: str):
    if verify == "decode":
        read_image(path)
    elif verify == "header":
        from PIL import Image

        try:
            with Image.open(path) as im:
                im.verify()
        except Exception as e:  # Pillow raises many types for broken headers
            raise InputError(path, f"not a readable image ({e})") from None


def prepare_manifest(root, out_csv, holdout: str = "last:10", seed: int = 0,
                     verify: str = "decode") -> dict:
    """Write the manifest CSV of a class-folder tree.

    Takes the dataset root, the output CSV path, the holdout rule (``last:N``: the last N
    files of each class by name are ``test``, as in the paper; ``fraction:F``: a seeded
    random fraction of each class), a seed and how to check files (``decode``: full decode,
    ``header``: Pillow verify, ``none``). Unreadable files are skipped and listed in
    ``<out_csv stem>.skipped.csv`` beside the manifest. Returns ``{"classes", "n_train",
    "n_test", "skipped": [(path, problem)], "manifest"}``.
    """
    kind, value = parse_holdout(holdout)
    if verify not in ("decode", "header", "none"):
        raise MsroiError(f"verify must be decode, header or none, got {verify!r}")
    out_csv = Path(out_csv)
    base = out_csv.resolve().parent
    rng = np.random.default_rng(seed)
    rows, skipped, classes = [], [], []
    for label, (folder, name) in enumerate(class_folders(root)):
        classes.append(name)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        good = []
        for p in files:
            try:
                _check_image(p, verify)
                good.append(p)
            except InputError as e:
                skipped.append((str(p), e.problem))
        n_test = int(value) if kind == "last" else int(round(value * len(good)))
        n_test = min(n_test, max(len(good) - 1, 0))  # keep at least one training image
        test = set(range(len(good) - n_test, len(good))) if kind == "last" else \
            set(rng.choice(len(good), size=n_test, replace=False).tolist())
        for i, p in enumerate(good):
            rows.append((_rel(p, base), label, name, "test" if i in test else "train"))
    if not rows:
        raise InputError(root, "no readable images in the class folders")
    _write_csv(out_csv, MANIFEST_COLUMNS, rows)
    _write_csv(skipped_path(out_csv), ("path", "problem"), skipped)
    n_test = sum(r[3] == "test" for r in rows)
    return {"classes": classes, "n_train": len(rows) - n_test, "n_test": n_test,
            "skipped": skipped, "manifest": str(out_csv)}


def skipped_path(out_csv) -> Path:
    """Where :func:`prepare_manifest` lists the files it skipped: ``<stem>.skipped.csv`` beside the manifest."""
    out_csv = Path(out_csv)
    return out_csv.with_name(out_csv.stem + ".skipped.csv")


def _rel(p: Path, base: Path) -> str:
    p = p.resolve()
    try:
        return os.path.relpath(p, base) if p.is_relative_to(base) else str(p)
    except ValueError:
        return str(p)


def _write_csv(path: Path, header, rows) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    write_text(path, buf.getvalue())


def read_manifest(manifest) -> dict:
    """Read a manifest CSV; returns ``{"paths", "labels", "splits", "classes"}`` (absolute paths)."""
    import pandas as pd

    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputError(manifest, "no such manifest")
    df = pd.read_csv(manifest, dtype={"path": str, "label_name": str, "split": str})
    missing = set(MANIFEST_COLUMNS) - set(df.columns)
    if missing:
        raise InputError(manifest, f"manifest lacks columns {sorted(missing)}")
    base = manifest.resolve().parent
    paths = [str(p if os.path.isabs(p) else base / p) for p in df["path"]]
    names = df.drop_duplicates("label").sort_values("label")
    classes = [""] * (int(df["label"].max()) + 1)
    for lab, name in zip(names["label"], names["label_name"]):
        classes[int(lab)] = name
    return {"paths": paths, "labels": df["label"].to_numpy(np.int32),
            "splits": df["split"].to_numpy(str), "classes": classes}


def load_square(path: str, size: int) -> np.ndarray:
    """Read an image, resize its short side to ``size`` and centre-crop it to a square (uint8)."""
    from PIL import Image

    a = read_image(path)
    h, w = a.shape[:2]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    im = Image.fromarray(a).resize((nw, nh), Image.BILINEAR)
    y, x = (nh - size) // 2, (nw - size) // 2
    return np.asarray(im, dtype=np.uint8)[y:y + size, x:x + size]


class _ImageStore:
    """Random access to decoded, square-cropped uint8 images, optionally kept in memory."""

    def __init__(self, paths, size: int, cache: bool):
        self.paths, self.size = paths, size
        self.images = np.zeros((len(paths), size, size, 3), np.uint8) if cache else None
        self.loaded = np.zeros(len(paths), bool)

    def __call__(self, i) -> np.ndarray:
        i = int(i)
        if self.images is None:
            return load_square(self.paths[i], self.size)
        if not self.loaded[i]:
            self.images[i] = load_square(self.paths[i], self.size)
            self.loaded[i] = True
        return self.images[i]


def make_tf_dataset(manifest, split: str, input_size: int, batch_size: int, augment: bool = False,
                    seed: int = 0, first_epoch: int = 0, n_epochs: int = 1, cache: bool | None = None,
                    scale: float = 1.15):
    """A ``tf.data.Dataset`` of ``(images float32 [0,1] (B,S,S,3), labels int32 (B,))``.

    Takes a manifest CSV (or the dict of :func:`read_manifest`), the split, the model input
    size, batch size, whether to augment, a seed, and the epochs to cover (``n_epochs``
    passes starting at epoch ``first_epoch``; batches never straddle two epochs). Each image
    is decoded, its short side resized and centre-cropped to a square: ``input_size``, or
    ``round(input_size * scale)`` when augmenting. ``cache`` keeps the decoded squares in
    memory (default: when they take under 2 GB). With ``augment``, every epoch visits the
    images in a shuffled order and each image gets a random ``input_size`` crop, a random
    horizontal flip and a random brightness shift; all of it stateless in
    ``(seed, epoch, index)``, so an epoch gives the same batches whether training runs
    straight through or resumes. Without ``augment``: file order, no randomness.
    """
    import tensorflow as tf

    m = manifest if isinstance(manifest, dict) else read_manifest(manifest)
    sel = np.flatnonzero(m["splits"] == split)
    if sel.size == 0:
        raise MsroiError(f"manifest has no '{split}' images")
    n = int(sel.size)
    labels = tf.constant(m["labels"][sel], tf.int32)
    load_size = max(input_size, int(round(input_size * scale))) if augment else input_size
    if cache is None:
        cache = n * load_size * load_size * 3 < 2 * 1024**3
    store = _ImageStore([m["paths"][i] for i in sel], load_size, cache)

    def load(i):
        img = tf.numpy_function(store, [i], tf.uint8, stateful=False)
        return tf.ensure_shape(img, (load_size, load_size, 3)), tf.gather(labels, i), i

    def augment_one(img, label, i, epoch):
        s = tf.stack([tf.cast(seed, tf.int64) * 7919 + epoch, i])
        img = tf.image.stateless_random_crop(img, (input_size, input_size, 3), seed=s)
        img = tf.image.stateless_random_flip_left_right(img, seed=s + 1)
        img = tf.image.convert_image_dtype(img, tf.float32)
        img = tf.image.stateless_random_brightness(img, 0.1, seed=s + 2)
        return tf.clip_by_value(img, 0.0, 1.0), label

    def one_epoch(epoch):
        idx = tf.range(n, dtype=tf.int64)
        if augment:
            idx = tf.random.experimental.stateless_shuffle(idx, seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        ds = tf.data.Dataset.from_tensor_slices(idx).map(load, num_parallel_calls=tf.data.AUTOTUNE,
                                                         deterministic=True)
        if augment:
            ds = ds.map(lambda img, label, i: augment_one(img, label, i, epoch),
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        else:
            ds = ds.map(lambda img, label, i: (tf.image.convert_image_dtype(img, tf.float32), label))
        return ds.batch(batch_size)

    if n_epochs == 1:  # keeps the cardinality known (Keras then needs no step count)
        return one_epoch(tf.constant(first_epoch, tf.int64)).prefetch(tf.data.AUTOTUNE)
    epochs = tf.data.Dataset.range(first_epoch, first_epoch + n_epochs)
    return epochs.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)
