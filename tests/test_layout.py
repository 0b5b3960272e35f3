"""The package's layout: only the map and training code loads TensorFlow."""

import pkgutil
import subprocess
import sys

import msroi

TF_PACKAGES = ("msroi.saliency", "msroi.training")


def _modules():
    for info in pkgutil.walk_packages(msroi.__path__, "msroi."):
        if not info.name.startswith(TF_PACKAGES):
            yield info.name


def test_everything_but_maps_and_training_imports_without_tensorflow():
    names = sorted(_modules())
    assert {"msroi.cli", "msroi.codec.semantic", "msroi.quality.metrics", "msroi.pipeline.score"} <= set(names)
    code = f"import sys; import {', '.join(names)}; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
