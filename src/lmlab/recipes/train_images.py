"""Train an image classifier of any registered image family (CNN, ViT) on digits or a folder of class folders.

Read and preprocess every image (lmlab.data.images), split train / validation / test (stratified, seeded),
build the family's model from its config through the registry, train it with cross-entropy in the shared
Trainer (augmented batches; checkpoints, resume, bf16), evaluate the whole validation split at each
evaluation and keep the best weights (the model and epoch chosen on validation), then score the test split
once: accuracy, macro-F1, a confusion matrix (results.json, confusion.png). A model with a first
convolution also gets filters.png and feature_maps.png, a ViT rollout.png (attention rollout). `init` starts from the weights of another run of the
family (one made by `lmlab hf import`, or an earlier training); a classifier of another number of classes
starts fresh.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import torch

from lmlab.config import to_dict
from lmlab.data.images import DIGITS, ImageBatches, ImageDataConfig, eval_batches, load_images, split_images
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write_text
from lmlab.io.checkpoint import save_weights
from lmlab.models.cnn.model import CNN
from lmlab.models.vit.model import ViTForImageClassification
from lmlab.runs import families
from lmlab.runs.directory import prepare_run_dir
from lmlab.runs.run import Run, write_run_config
from lmlab.tools.attention_rollout import save_vit_rollout
from lmlab.tools.classification import accuracy, confusion_matrix, macro_f1, plot_confusion
from lmlab.tools.image_classify import predict_logits
from lmlab.tools.image_plots import plot_feature_maps, plot_filters
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import image_classification
from lmlab.train.trainer import Trainer


def load_init(model, init: str | Path, family: str, quiet: bool) -> list[str]:
    """Copy the weights of run `init` into `model` wherever the shapes agree; returns the names left fresh."""
    source = Run.open(init, family=family).model().state_dict()
    if isinstance(model, ViTForImageClassification):  # another image size: the positions resized, not dropped
        source = model.fit_positions(source)
    own = model.state_dict()
    kept = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    fresh = sorted(set(own) - set(kept))
    model.load_state_dict(kept, strict=False)
    if fresh and not quiet:
        print(f"from {init}: {len(kept)} tensors loaded; {len(fresh)} start fresh ({', '.join(fresh[:4])}"
              f"{', …' if len(fresh) > 4 else ''})")
    return fresh


def best_keeper(model, val_batches: list[dict], device):
    """An on_eval callback: the whole validation split's accuracy (val_accuracy), keeping the best weights."""
    best = {"acc": -1.0, "step": 0, "state": None}
    labels = torch.cat([b["labels"] for b in val_batches]).tolist()

    def on_eval(step: int, _model) -> dict[str, float]:
        pred = predict_logits(model, val_batches, device).argmax(-1).tolist()
        model.train()
        acc = accuracy(labels, pred)
        if acc > best["acc"]:
            best.update(acc=acc, step=step, state={k: v.detach().clone() for k, v in model.state_dict().items()})
        return {"val_accuracy": acc}
    return on_eval, best


def train_images(data: str | None, model_cfg, train_cfg: TrainConfig, data_cfg: ImageDataConfig | None,
                 out: str | Path, *, resume: bool = False, overwrite: bool = False, quiet: bool = False,
                 init: str | None = None, on_step_end=None, skip_bad: bool = False) -> dict[str, float]:
    """Train the image family of `model_cfg` into run directory `out`; returns the final metrics with the test
    scores. On resume the run's own data, model and data settings are used; only `train_cfg` may differ."""
    run_dir = Path(out)
    if resume:
        run = Run.open(run_dir)
        family = run.family
        cfgs = run.configs("model", "data")
        model_cfg, data_cfg = cfgs["model"], cfgs["data"]
        data = DIGITS if run.source == DIGITS else run.corpus()
    else:
        family = families.of_model_config(model_cfg)
        if init:  # its shape; --input_size may change the image size (a CNN pools any size; a ViT's learned
            # positions are resized to its new patch grid by load_init)
            model_cfg = Run.open(init, family=family.name).config("model")
            if data_cfg.input_size:
                model_cfg = dataclasses.replace(model_cfg, image_size=data_cfg.input_size)
        data_cfg = data_cfg.for_model(model_cfg.image_size, model_cfg.in_channels)
    if data is None:
        raise LmlabError("no data: give --data digits or a folder of class folders")

    # Read and split before touching the run folder, so bad data costs nothing.
    prep = data_cfg.preprocessing()
    images = load_images(data, prep, data_cfg.skip_bad or skip_bad)
    train, val, test = split_images(images, data_cfg)
    if resume and run.meta.get("labels") != images.classes:
        raise LmlabError(f"cannot resume: the data's classes {images.classes} are not the run's {run.meta.get('labels')}")
    model_cfg = dataclasses.replace(model_cfg, n_classes=len(images.classes))

    run_dir = prepare_run_dir(run_dir, resume, overwrite)
    write_run_config(run_dir, family.name, {"model": model_cfg, "train": train_cfg, "data": data_cfg},
                     source=data, labels=images.classes, **({"init": str(init)} if init else {}))
    torch.manual_seed(train_cfg.seed)
    model = family.build({"model": model_cfg})
    if init and not resume:
        load_init(model, init, family.name, quiet)
    if not quiet:
        n = sum(p.numel() for p in model.parameters())
        print(f"{family.name} {getattr(model_cfg, 'arch', '')} {n / 1e6:.2f}M parameters | {len(images.classes)} "
              f"classes | {len(train.labels)} / {len(val.labels)} / {len(test.labels)} train / val / test images "
              f"of {prep.image_size}×{prep.image_size}×{prep.channels}"
              + (f" | {images.skipped} unreadable file(s) skipped" if images.skipped else ""))
        for line in family.facts(model_cfg):  # a ViT: the patches an image is cut into, as `lmlab info` says
            print(line)
    val_batches = eval_batches(val, prep)
    trainer = Trainer(model, functools.partial(image_classification, label_smoothing=train_cfg.label_smoothing),
                      ImageBatches(train, train_cfg.batch_size, prep, data_cfg, train_cfg.seed), train_cfg, run_dir,
                      eval_data=val_batches, eval_objective=image_classification, on_step_end=on_step_end,
                      quiet=quiet)
    on_eval, best = best_keeper(model, val_batches, trainer.device)
    trainer.on_eval = on_eval
    final = trainer.fit(resume=resume)

    if best["state"] is not None:  # the evaluation's best on validation is the run's model
        model.load_state_dict(best["state"])
        save_weights(run_dir, model, trainer.step)
    results = score(model, test, val, prep, images.classes, trainer.device, run_dir)
    results.update(best_step=best["step"], n_train=len(train.labels), skipped=images.skipped)
    atomic_write_text(run_dir / "results.json", json.dumps(results, indent=2) + "\n")
    if isinstance(model, CNN):  # the first layer's filters, and what they make of a test image
        conv = model.first_conv()
        plot_filters(conv.weight, run_dir / "filters.png")
        plot_feature_maps(conv, prep.normalize(test.pixels[0]), run_dir / "feature_maps.png",
                          label=images.classes[int(test.labels[0])])
    elif isinstance(model, ViTForImageClassification):  # which patches [CLS] draws on, through every layer
        save_vit_rollout(model, prep.normalize(test.pixels[0]), run_dir / "rollout.png",
                         title=f"test image 0, class {images.classes[int(test.labels[0])]}")
    if not quiet:
        print(f"best validation accuracy {best['acc']:.4f} at step {best['step']}; test accuracy "
              f"{results['test_accuracy']:.4f}, macro-F1 {results['test_macro_f1']:.4f} (results.json)")
    return {**final, "test_accuracy": results["test_accuracy"], "test_macro_f1": results["test_macro_f1"]}


def score(model, test, val, prep, classes: list[str], device, run_dir: Path) -> dict:
    """Test accuracy, macro-F1 and confusion matrix (confusion.png), validation accuracy, of the eval-mode model."""
    y_true = test.labels.tolist()
    y_pred = predict_logits(model, eval_batches(test, prep), device).argmax(-1).tolist()
    val_pred = predict_logits(model, eval_batches(val, prep), device).argmax(-1).tolist()
    matrix = confusion_matrix(y_true, y_pred, len(classes))
    results = {"labels": classes, "n_test": len(y_true), "n_val": len(val_pred),
               "test_accuracy": accuracy(y_true, y_pred), "test_macro_f1": macro_f1(y_true, y_pred),
               "val_accuracy": accuracy(val.labels.tolist(), val_pred), "confusion_matrix": matrix,
               "preprocessing": to_dict(prep)}
    plot_confusion(matrix, classes, run_dir / "confusion.png",
                   title=f"test accuracy {results['test_accuracy']:.4f}\nmacro-F1 {results['test_macro_f1']:.4f}")
    return results
