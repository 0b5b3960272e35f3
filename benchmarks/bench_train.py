"""Training throughput and peak memory of the MSROI backbones at batch 8.

Usage: python benchmarks/bench_train.py [--steps 5] [--backbones vgg16 mobilenetv2 small] [--size 224]
       python benchmarks/bench_train.py --synthetic

``--synthetic`` instead times the whole training of the small backbone on the synthetic
localisation set with the settings of the training acceptance test (target: <= 180 s).

Each backbone runs in a fresh subprocess (so peak RSS is its own): build the model, compile
it as msroi.training.train does (Adam lr 0.002, eps 0.1, sparse CE from logits), run two warm-up
steps, then time ``--steps`` train steps on random images. Prints one CSV row per backbone:
backbone, params, input size, batch, s/step, images/s, peak RSS in MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import keras, numpy as np
from msroi.saliency.networks.paper import build_msroi_model, logits_model
backbone, size, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
full = build_msroi_model(257, backbone)
m = logits_model(full)
m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.002, epsilon=0.1),
          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
rng = np.random.default_rng(0)
x = rng.random((batch, size, size, 3), dtype=np.float32)
y = rng.integers(0, 257, batch)
for _ in range(2):
    m.train_on_batch(x, y)
t = time.perf_counter()
for _ in range(steps):
    m.train_on_batch(x, y)
dt = (time.perf_counter() - t) / steps
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(backbone=backbone, params=full.count_params(), size=size, batch=batch,
                      s_per_step=round(dt, 3), images_per_s=round(batch / dt, 1), peak_rss_mb=round(peak))))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbones", nargs="+", default=["vgg16", "mobilenetv2", "small"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--synthetic", action="store_true", help="time the synthetic acceptance training instead")
    args = p.parse_args(argv)
    if args.synthetic:
        return synthetic_training()
    print("backbone,params,size,batch,s_per_step,images_per_s,peak_rss_mb")
    for b in args.backbones:
        out = subprocess.run([sys.executable, "-c", CHILD, b, str(args.size), str(args.batch), str(args.steps)],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(",".join(str(r[k]) for k in ("backbone", "params", "size", "batch", "s_per_step", "images_per_s",
                                           "peak_rss_mb")))


def synthetic_training(target_s: float = 180.0):
    """Train the small backbone on the synthetic set as the acceptance test does; print seconds."""
    import tempfile
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.training.test_train import ACCEPT, ACCEPT_TRAIN

    from msroi.training.synthetic import make_synthetic_dataset
    from msroi.training.train import train

    with tempfile.TemporaryDirectory() as d:
        make_synthetic_dataset(Path(d) / "data", seed=0, **ACCEPT)
        t = time.perf_counter()
        result = train(Path(d) / "data", Path(d) / "net.keras", input_size=ACCEPT["size"], verbose=0, **ACCEPT_TRAIN)
        seconds = time.perf_counter() - t
    print(f"synthetic training: {seconds:.0f} s (target <= {target_s:.0f} s), "
          f"held-out accuracy {result['metrics']['test_accuracy']:.3f}")


if __name__ == "__main__":
    main()
