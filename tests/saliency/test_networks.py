"""The MSROI network (msroi.saliency.networks.paper): architecture, preprocessing, CAMs, VGG16 initialisation."""

import h5py
import keras
import numpy as np
import pytest

from msroi.saliency import cam
from msroi.errors import MsroiError
from msroi.saliency.networks.paper import (VGG16_CONVS, Preprocess, build_msroi_model, hed_weights_path, load_vgg16_weights,
                         model_cams, read_vgg16_convs)


def _vgg16_param_count(n_classes):
    total, c_in = 0, 3
    for _, c_out in VGG16_CONVS:
        total += 9 * c_in * c_out + c_out
        c_in = c_out
    head = (9 * 512 * 32 + 32) + (9 * 32 * 32 + 1024) + (9 * 1024 * 1024 + 1024) + 1024 * n_classes
    return total + head


@pytest.fixture(scope="module")
def paper_net():
    return build_msroi_model(257, "vgg16", input_size=224)


def test_paper_network_architecture(paper_net):
    m = paper_net
    assert m.count_params() == _vgg16_param_count(257)
    assert abs(m.count_params() - 24.6e6) < 0.05e6
    features, logits = m.outputs
    assert tuple(features.shape) == (None, 14, 14, 1024)
    assert tuple(logits.shape) == (None, 257)
    assert tuple(m.get_layer("block5_conv3").output.shape) == (None, 14, 14, 512)  # no pool5
    assert tuple(m.get_layer("conv6_1").output.shape) == (None, 14, 14, 32)
    assert tuple(m.get_layer("depth").output.shape) == (None, 14, 14, 1024)
    for name in ("conv6_1", "depth", "conv6"):
        assert m.get_layer(name).get_config()["activation"] == "linear"
    assert m.get_layer("gap_w").use_bias is False
    assert "block5_pool" not in [layer.name for layer in m.layers]


@pytest.mark.parametrize("backbone,stride", [("small", 8), ("mobilenetv2", 32)])
def test_small_backbones_take_any_size(backbone, stride):
    m = build_msroi_model(3, backbone, dropout=0.0)
    for h, w in ((64, 96), (96, 128)):
        f, lg = m(np.zeros((2, h, w, 3), np.float32))
        assert f.shape[:3] == (2, h // stride, w // stride)
        assert lg.shape == (2, 3)


def test_preprocess_modes():
    x = np.array([[[[1.0, 0.5, 0.0]]]], np.float32)
    caffe = np.asarray(Preprocess("caffe")(x))[0, 0, 0]
    np.testing.assert_allclose(caffe, [0 - 103.939, 127.5 - 116.779, 255 - 123.68], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(Preprocess("tf")(x))[0, 0, 0], [1.0, 0.0, -1.0])
    with pytest.raises(ValueError):
        Preprocess("torch")


def test_unknown_backbone_and_bad_head():
    with pytest.raises(MsroiError, match="backbone"):
        build_msroi_model(3, "resnet")
    with pytest.raises(MsroiError, match="multiple"):
        build_msroi_model(3, "small", head_width=100, bottleneck=32)


def test_save_load_round_trip_and_deterministic_inference(tmp_path):
    m = build_msroi_model(4, "small", dropout=0.5, seed=3)
    x = np.random.default_rng(0).random((2, 48, 64, 3)).astype(np.float32)
    a, b = m(x, training=False), m(x, training=False)
    np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
    m.save(tmp_path / "m.keras")
    m2 = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(m2(x)[0]), np.asarray(a[0]), rtol=1e-5, atol=1e-5)
    # dropout acts in training only
    assert not np.array_equal(np.asarray(m(x, training=True)[1]), np.asarray(a[1]))


def test_model_cams_are_features_dot_gap_weights():
    m = build_msroi_model(6, "small", dropout=0.0, seed=1)
    x = np.random.default_rng(1).random((2, 40, 48, 3)).astype(np.float32)
    cams, ids, logits = model_cams(m, x, k=3)
    assert cams.shape == (2, 3, 5, 6) and ids.shape == (2, 3) and logits.shape == (2, 6)
    f, _ = m(x)
    w = np.asarray(m.get_layer("gap_w").kernel)
    for i in range(2):
        np.testing.assert_array_equal(ids[i], cam.top_k_classes(logits[i], 3))
        want = np.einsum("hwc,ck->khw", np.asarray(f[i], np.float64), w.astype(np.float64)[:, ids[i]])
        np.testing.assert_allclose(cams[i], want, rtol=1e-6, atol=1e-6)
        # GAP of a CAM is the class logit
        np.testing.assert_allclose(cams[i].mean(axis=(1, 2)), logits[i][ids[i]], rtol=1e-4, atol=1e-4)
    again, _, _ = model_cams(m, x, k=3)
    np.testing.assert_array_equal(cams, again)


def test_load_hed_weights_by_name(paper_net):
    loaded = load_vgg16_weights(paper_net, hed_weights_path())
    assert loaded == [n for n, _ in VGG16_CONVS]
    with h5py.File(hed_weights_path(), "r") as f:
        np.testing.assert_array_equal(np.asarray(paper_net.get_layer("block3_conv2").kernel),
                                      f["block3/layers/conv2d_1/vars/0"][()])
        np.testing.assert_array_equal(np.asarray(paper_net.get_layer("block1_conv1").bias),
                                      f["block1/layers/conv2d/vars/1"][()])


def test_load_keras_vgg16_files_in_all_layouts(tmp_path, paper_net):
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    vgg.save_weights(tmp_path / "v.weights.h5")
    vgg.save(tmp_path / "v.keras")
    vgg.save(tmp_path / "v_legacy.h5")
    want = np.asarray(vgg.get_layer("block4_conv2").kernel)
    for name in ("v.weights.h5", "v.keras", "v_legacy.h5"):
        convs = read_vgg16_convs(tmp_path / name)
        np.testing.assert_array_equal(convs["block4_conv2"][0], want)
    load_vgg16_weights(paper_net, tmp_path / "v.keras")
    np.testing.assert_array_equal(np.asarray(paper_net.get_layer("block4_conv2").kernel), want)


def _legacy_file(path, shapes):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in shapes]
        for name, (k, b) in shapes.items():
            g = f.create_group(name)
            g.attrs["weight_names"] = [f"{name}/kernel".encode(), f"{name}/bias".encode()]
            g.create_dataset(f"{name}/kernel", data=np.zeros(k, np.float32))
            g.create_dataset(f"{name}/bias", data=np.zeros(b, np.float32))


def test_weight_mismatches_are_clear_errors(tmp_path, paper_net):
    shapes, c_in = {}, 3
    for name, c_out in VGG16_CONVS:
        shapes[name] = ((3, 3, c_in, c_out), (c_out,))
        c_in = c_out
    before = np.asarray(paper_net.get_layer("block1_conv1").kernel).copy()

    wrong = dict(shapes, block3_conv2=((3, 3, 128, 256), (256,)))
    _legacy_file(tmp_path / "wrong.h5", wrong)
    with pytest.raises(MsroiError, match="block3_conv2"):
        load_vgg16_weights(paper_net, tmp_path / "wrong.h5")

    missing = {k: v for k, v in shapes.items() if k != "block5_conv1"}
    _legacy_file(tmp_path / "missing.h5", missing)
    with pytest.raises(MsroiError, match="block5_conv1"):
        load_vgg16_weights(paper_net, tmp_path / "missing.h5")
    # nothing was loaded by the failed attempts
    np.testing.assert_array_equal(np.asarray(paper_net.get_layer("block1_conv1").kernel), before)

    with pytest.raises(MsroiError, match="not found"):
        load_vgg16_weights(paper_net, tmp_path / "nope.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(MsroiError, match="cannot read"):
        load_vgg16_weights(paper_net, tmp_path / "junk.h5")
    with pytest.raises(MsroiError, match="vgg16 backbone"):
        load_vgg16_weights(build_msroi_model(3, "small"), hed_weights_path())
