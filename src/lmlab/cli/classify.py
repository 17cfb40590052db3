"""`lmlab classify RUN IMAGE…`: the top classes of images, with probabilities, from a trained image run."""

from __future__ import annotations

import argparse

from lmlab.errors import LmlabError


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `classify` command's parser."""
    p = sub.add_parser(
        "classify", formatter_class=fmt, help="top-k classes of images from a trained image run (cnn, vit)",
        description="Classify image files with a run of `lmlab train cnn|vit`. Each image is converted and\n"
                    "resized exactly as the run's training images were (the preprocessing saved in its\n"
                    "config.json: size, grey or RGB, normalisation), then the model, in eval mode, gives\n"
                    "probabilities (softmax of the logits); the top --top-k classes are printed per image.",
        epilog="examples:\n  lmlab classify runs/digits-resnet seven.png\n"
               "  lmlab classify runs/photos cat1.jpg cat2.jpg --top-k 3\n"
               "  lmlab classify runs/digits-resnet *.png --json")
    p.add_argument("run", help="a run directory of an image family (`lmlab train cnn` or `lmlab train vit`)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (png, jpg, … anything Pillow reads)")
    p.add_argument("--top-k", type=int, default=5, help="classes to show per image (default: 5)")
    p.add_argument("--json", action="store_true", help="print JSON: [{\"image\", \"top\": [[class, p], …]}, …]")


def run(args) -> None:
    if args.top_k <= 0:
        raise LmlabError(f"--top-k must be positive, got {args.top_k}")
    import json

    from lmlab.tools.image_classify import classify_files
    results = classify_files(args.run, args.images, args.top_k)
    if args.json:
        print(json.dumps([{"image": str(i), "top": [[c, round(p, 6)] for c, p in top]}
                          for i, top in zip(args.images, results)], ensure_ascii=False))
        return
    for image, top in zip(args.images, results):
        print(f"{image}: " + ", ".join(f"{c} {p:.4f}" for c, p in top))
