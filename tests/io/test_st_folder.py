"""lmlab.io.st_folder: a sentence-transformers folder's pooling, normalisation and length, in both formats of
the Pooling config, and the modules lmlab refuses (the vectors themselves: tests/parity/test_sentence_transformers.py)."""

import json

import pytest

from lmlab.errors import LmlabError
from lmlab.io.st_folder import copy_st_settings, read_st_settings

TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}


def folder(path, modules, pooling, st=None):
    (path / "1_Pooling").mkdir(parents=True)
    (path / "modules.json").write_text(json.dumps(modules))
    (path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    if st is not None:
        (path / "sentence_bert_config.json").write_text(json.dumps(st))
    return path


def test_new_and_legacy_formats(tmp_path):
    new = folder(tmp_path / "new", [TRANSFORMER, POOLING, NORMALIZE], {"pooling_mode": "mean"})
    assert read_st_settings(new) == {"pooling": "mean", "normalize": True, "max_len": None, "lowercase": False}
    old = folder(tmp_path / "old", [TRANSFORMER, POOLING],
                 {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False},
                 {"max_seq_length": 128, "do_lower_case": True})
    assert read_st_settings(old) == {"pooling": "cls", "normalize": False, "max_len": 128, "lowercase": True}
    assert read_st_settings(tmp_path) is None                                 # not a sentence-transformers folder
    (tmp_path / "run").mkdir()
    copy_st_settings(old, tmp_path / "run", max_len=64)                      # what `lmlab hf import` keeps
    assert read_st_settings(tmp_path / "run") == {**read_st_settings(old), "max_len": 64}


@pytest.mark.parametrize("modules, pooling, needle", [
    ([TRANSFORMER, POOLING], {"pooling_mode": "max"}, "pools by max"),
    ([TRANSFORMER, POOLING], {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}, r"mean \+ max"),
    ([TRANSFORMER, POOLING, {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}],
     {"pooling_mode": "mean"}, "has Dense after"),
    ([POOLING], {"pooling_mode": "mean"}, "Transformer followed by Pooling"),
])
def test_what_lmlab_does_not_compute_is_refused(tmp_path, modules, pooling, needle):
    with pytest.raises(LmlabError, match=needle):
        read_st_settings(folder(tmp_path, modules, pooling))


def test_a_damaged_modules_json_is_named(tmp_path):
    (tmp_path / "modules.json").write_text("{not json")
    with pytest.raises(LmlabError, match="modules.json is not valid JSON"):
        read_st_settings(tmp_path)
