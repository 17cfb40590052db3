"""Bundled recipes load by name; command-line keys override them."""

import json

from lmlab.cli import main
from lmlab.recipes.configs import bundled_config, bundled_names


def test_bundled_recipe_by_name(shakespeare_small, tmp_path):
    assert "shakespeare-char" in bundled_names()
    assert bundled_config("shakespeare-char").is_file()
    out = tmp_path / "run"
    assert main(["train", "gpt", "--data", str(shakespeare_small), "--config", "shakespeare-char",
                 "--max_steps", "2", "--eval_every", "2", "--eval_batches", "1", "--out", str(out), "--quiet"]) == 0
    meta = json.loads((out / "config.json").read_text())
    assert meta["train"]["lr"] == 3e-3 and meta["model"]["d_model"] == 128   # from the recipe
    assert meta["train"]["max_steps"] == 2                                   # the flag wins
