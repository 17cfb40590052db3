"""lmlab.io.checkpoint: the weights and the training state saved as one checkpoint named by checkpoint.json,
loaded from the last complete one; a file changed since is refused with a line that says so."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from lmlab.errors import LmlabError
from lmlab.io.checkpoint import (
    MANIFEST,
    MODEL_FILE,
    STATE_FILE,
    load_train_state,
    load_weights,
    recover,
    save_checkpoint,
    save_weights,
    saved_step,
)
from lmlab.models.gpt import GPT, preset


@pytest.fixture(scope="module")
def model():
    return GPT(preset("tiny", n_layers=1))


def test_a_checkpoint_is_named_by_its_manifest(tmp_path, model):
    save_checkpoint(tmp_path, model, 7, {"step": 7, "x": torch.arange(3)})
    meta = json.loads((tmp_path / MANIFEST).read_text())
    assert meta["step"] == 7 and set(meta["files"]) == {MODEL_FILE, STATE_FILE}
    assert saved_step(tmp_path) == 7
    assert load_weights(tmp_path, GPT(preset("tiny", n_layers=1))) == 7
    assert load_train_state(tmp_path)["step"] == 7


def test_weights_alone_make_a_checkpoint_of_one_file(tmp_path, model):
    save_weights(tmp_path, model, 3)
    assert set(json.loads((tmp_path / MANIFEST).read_text())["files"]) == {MODEL_FILE}
    assert load_weights(tmp_path, GPT(preset("tiny", n_layers=1))) == 3


def test_a_replaced_weights_file_is_refused(tmp_path, model):
    save_checkpoint(tmp_path, model, 7, {"step": 7})
    tensors = load_file(tmp_path / MODEL_FILE)
    tensors = {k: v + 1 for k, v in tensors.items()}   # well-formed, the right shapes, but not what was saved
    save_file(tensors, tmp_path / MODEL_FILE)
    with pytest.raises(LmlabError, match=f"is not the file {MANIFEST} names .*delete {MANIFEST}"):
        load_weights(tmp_path, GPT(preset("tiny", n_layers=1)))


def test_readers_find_the_previous_checkpoint_after_a_torn_save(tmp_path, model, run_in_child):
    """A kill right after the new weights were renamed in: the reader (generate, export) gets the previous
    weights, which match the previous training state; recover() puts them back at their names."""
    save_checkpoint(tmp_path, model, 1, {"step": 1})
    other = GPT(preset("tiny", n_layers=1))
    assert run_in_child(lambda: save_checkpoint(tmp_path, other, 2, {"step": 2}), {"LMLAB_FAULT": "kill:5"}) == 86
    assert (tmp_path / (MODEL_FILE + ".prev")).is_file()
    fresh = GPT(preset("tiny", n_layers=1))
    assert load_weights(tmp_path, fresh) == 1 == load_train_state(tmp_path)["step"]
    torch.testing.assert_close(fresh.state_dict(), model.state_dict(), rtol=0, atol=0)
    recover(tmp_path)
    assert not (tmp_path / (MODEL_FILE + ".prev")).exists() and saved_step(tmp_path) == 1
    assert load_weights(tmp_path, fresh) == 1
