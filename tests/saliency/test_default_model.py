"""The default ImageNet EfficientNet-Lite0: restricted torch-pickle reader, conversion, top-1.

Reference scores (the network on the whole photo resized to 224 x 224):
chelsea Egyptian cat 0.79, coffee espresso 0.91. Checked to within SCORE_TOLERANCE
(absolute), which covers resize-filter differences between implementations.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from msroi.errors import InputError
from msroi.saliency.torch_pickle import load_state_dict

SCORE_TOLERANCE = 0.03
CAT_CLASSES = {"Egyptian cat", "tabby, tabby cat", "tiger cat"}


@pytest.fixture(scope="module")
def model_dir(model_cache):
    from msroi.saliency.networks.efficientnet_lite0 import default_model_path

    return default_model_path(model_cache).parent


# --- the restricted unpickler -------------------------------------------------------------


def _legacy_header() -> bytes:
    return (
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, protocol=2)
    )


class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Eval:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def _assert_refused(path: Path, global_name: str):
    with pytest.raises(InputError) as err:
        load_state_dict(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message and global_name in message and "refused" in message


@pytest.mark.parametrize("where", ["state dict", "first pickle"])
def test_os_system_pickle_refused_and_never_runs(tmp_path, where):
    marker = tmp_path / "side_effect"
    payload = pickle.dumps({"w": _System(f"touch {marker}")}, protocol=2)
    path = tmp_path / "hostile.pth"
    path.write_bytes(_legacy_header() + payload if where == "state dict" else payload)
    _assert_refused(path, f"{os.system.__module__}.system")
    assert not marker.exists()


@pytest.mark.parametrize("protocol, name", [(2, "__builtin__.eval"), (4, "builtins.eval")])
def test_builtins_eval_refused_and_never_runs(tmp_path, protocol, name):
    marker = tmp_path / "side_effect"
    code = f"open({str(marker)!r}, 'w').close()"
    path = tmp_path / "eval.pth"
    path.write_bytes(_legacy_header() + pickle.dumps(_Eval(code), protocol=protocol))
    _assert_refused(path, name)
    assert not marker.exists()


@pytest.mark.parametrize(
    "opcodes, name",
    [
        (b"\x80\x02ctorch._utils\n_rebuild_parameter\n)R.", "torch._utils._rebuild_parameter"),
        (b"\x80\x02ctorch.nn.modules.conv\nConv2d\n)R.", "torch.nn.modules.conv.Conv2d"),
        (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n)R.", "numpy.core.multiarray._reconstruct"),
        (b"\x80\x02ccollections\nCounter\n)R.", "collections.Counter"),
        (b"\x80\x02ctorch\nTensor\n.", "torch.Tensor"),
    ],
)
def test_other_globals_refused(tmp_path, opcodes, name):
    path = tmp_path / "other.pth"
    path.write_bytes(_legacy_header() + opcodes)
    _assert_refused(path, name)


def test_zip_truncated_and_garbage_files_refused(tmp_path):
    zipped = tmp_path / "modern.pth"
    zipped.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(InputError, match="zip-format"):
        load_state_dict(zipped)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a pickle at all")
    with pytest.raises(InputError, match="garbage.pth"):
        load_state_dict(garbage)


def _tiny_legacy_file(path: Path, truncate: int = 0):
    """A legacy file with a 2x3 float tensor (offset 1, transposed strides) and an int64 scalar."""
    # protocol-2 opcodes: c GLOBAL, X BINUNICODE, K BININT1, ( MARK, t TUPLE, ) empty tuple,
    # Q BINPERSID (storage id tuple), \x89 False, R REDUCE, u SETITEMS, . STOP
    state = (
        b"\x80\x02ccollections\nOrderedDict\n)R("
        b"X\x01\x00\x00\x00a"
        b"ctorch._utils\n_rebuild_tensor_v2\n("
        b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x001X\x03\x00\x00\x00cpuK\x07Nt"
        b"Q"
        b"K\x01(K\x02K\x03t(K\x01K\x02t\x89ccollections\nOrderedDict\n)Rt"
        b"R"
        b"X\x01\x00\x00\x00n"
        b"ctorch._utils\n_rebuild_tensor_v2\n("
        b"(X\x07\x00\x00\x00storagectorch\nLongStorage\nX\x01\x00\x00\x002X\x03\x00\x00\x00cpuK\x01Nt"
        b"Q"
        b"K\x00))\x89ccollections\nOrderedDict\n)Rt"
        b"R"
        b"u."
    )
    floats = np.arange(7, dtype="<f4")
    body = (
        _legacy_header()
        + state
        + pickle.dumps(["1", "2"], protocol=2)
        + struct.pack("<q", 7)
        + floats.tobytes()
        + struct.pack("<q", 1)
        + np.array([42], "<i8").tobytes()
    )
    path.write_bytes(body[: len(body) - truncate])


def test_reads_hand_made_legacy_file_with_views(tmp_path):
    path = tmp_path / "tiny.pth"
    _tiny_legacy_file(path)
    state = load_state_dict(path)
    assert list(state) == ["a", "n"]
    # storage 0..6, offset 1, size (2, 3), stride (1, 2): a[i, j] = 1 + i + 2 j
    np.testing.assert_array_equal(state["a"], np.array([[1, 3, 5], [2, 4, 6]], np.float32))
    assert state["n"].shape == () and int(state["n"]) == 42 and state["n"].dtype == np.int64
    truncated = tmp_path / "truncated.pth"
    _tiny_legacy_file(truncated, truncate=3)
    with pytest.raises(InputError, match="truncated"):
        load_state_dict(truncated)


def test_reads_the_packaged_weights():
    from msroi.saliency.networks.efficientnet_lite0 import source_weights_path

    state = load_state_dict(source_weights_path())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert all(np.all(np.isfinite(v)) for v in state.values())


# --- conversion and the model contract -----------------------------------------------------


def test_conversion_is_deterministic(model_dir, tmp_path):
    """A conversion in another process gives the same bytes (no timestamps, no memory ids)."""
    from msroi.saliency.networks.efficientnet_lite0 import DEFAULT_NAME

    code = f"from msroi.saliency.networks.efficientnet_lite0 import convert; convert(out_dir={str(tmp_path)!r})"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    for suffix in (".keras", ".json"):
        assert (tmp_path / f"{DEFAULT_NAME}{suffix}").read_bytes() == (
            model_dir / f"{DEFAULT_NAME}{suffix}"
        ).read_bytes()


def test_cached_model_is_reused(model_dir):
    from msroi.saliency.networks.efficientnet_lite0 import DEFAULT_NAME, default_model_path

    before = (model_dir / f"{DEFAULT_NAME}.keras").stat().st_mtime_ns
    assert default_model_path(model_dir) == model_dir / f"{DEFAULT_NAME}.keras"
    assert (model_dir / f"{DEFAULT_NAME}.keras").stat().st_mtime_ns == before


def test_model_follows_the_contract(keras_classifier):
    from keras import layers

    model, meta = keras_classifier
    assert tuple(model.inputs[0].shape) == (None, None, None, 3)
    assert len(model.outputs) == 2
    gap_w = model.get_layer("gap_w")
    assert not gap_w.use_bias and gap_w.kernel.shape == (1280, 1000)
    assert not any(isinstance(l, (layers.Lambda, layers.Dropout)) for l in model.layers)
    features, logits = model(np.zeros((1, 96, 160, 3), np.float32), training=False)
    assert features.shape == (1, 3, 5, 1280) and logits.shape == (1, 1000)
    assert len(meta["classes"]) == 1000 and meta["classes"][285] == "Egyptian cat"
    assert len(meta["logit_bias"]) == 1000 and meta["input_size"] == 224


@pytest.mark.parametrize(
    "name, expected, reference",
    [("chelsea", CAT_CLASSES, ("Egyptian cat", 0.79)), ("coffee", {"espresso", "cup"}, ("espresso", 0.91))],
)
def test_top1_on_sample_photos(classifier, name, expected, reference):
    from msroi.saliency.maps import msroi_map

    _, top = msroi_map(classifier, getattr(data, name)())
    index, label, score = top[0]
    assert label in expected
    if label == reference[0]:
        assert abs(score - reference[1]) <= SCORE_TOLERANCE, (label, score)
    assert [s for _, _, s in top] == sorted((s for _, _, s in top), reverse=True)


def test_metadata_json_is_plain(model_dir):
    from msroi.saliency.networks.efficientnet_lite0 import DEFAULT_NAME

    meta = json.loads((model_dir / f"{DEFAULT_NAME}.json").read_text())
    assert meta["backbone"] == "efficientnet_lite0" and meta["classes"][0].startswith("tench")
