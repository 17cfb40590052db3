"""lmlab.io.hf_tokenizer: what an exported folder's tokenizer files say, and how a folder's files are read
(the parity with AutoTokenizer over many variants is tests/parity/test_hf_tokenizers.py)."""

import json

import pytest

from lmlab.data.tokenizers import train_tokenizer
from lmlab.errors import LmlabError
from lmlab.io.hf_tokenizer import load_hf_tokenizer, save_hf_tokenizer

TEXT = "To be, or not to be: that is the question.\nWhether 'tis nobler in the mind to suffer\n" * 20


@pytest.fixture(scope="module")
def wordpiece():
    return train_tokenizer("wordpiece", TEXT, vocab_size=120, lowercase=False)


def test_a_bert_export_names_its_tokens_and_flags(wordpiece, tmp_path):
    save_hf_tokenizer(wordpiece, tmp_path, model_max_length=64, causal=False)
    cfg = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert cfg["tokenizer_class"] == "PreTrainedTokenizerFast" and cfg["model_max_length"] == 64
    assert cfg["clean_up_tokenization_spaces"] is False and cfg["padding_side"] == "right"
    assert [cfg[k] for k in ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")] == \
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert cfg["do_lower_case"] is False and cfg["tokenize_chinese_chars"] is True
    assert "token_type_ids" in cfg["model_input_names"]
    assert (tmp_path / "vocab.txt").read_text().splitlines()[:2] == ["[PAD]", "[UNK]"]
    back = load_hf_tokenizer(tmp_path, "bert")
    assert back.encode_pair("To BE, [MASK] not") == wordpiece.encode_pair("To BE, [MASK] not")


def test_a_char_export_pads_left_and_has_no_segments(tmp_path):
    tok = train_tokenizer("char", TEXT)
    save_hf_tokenizer(tok, tmp_path, model_max_length=32, causal=True)
    cfg = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert cfg["padding_side"] == "left" and cfg["model_input_names"] == ["input_ids", "attention_mask"]
    assert "eos_token" not in cfg and not (tmp_path / "vocab.txt").exists()
    assert load_hf_tokenizer(tmp_path, "gpt2").encode("to be\n") == tok.encode("to be\n")


def test_reading_a_folder(wordpiece, tmp_path):
    assert load_hf_tokenizer(tmp_path, "bert") is None                       # no tokenizer files
    wordpiece.save_vocab_txt(tmp_path / "vocab.txt")                          # BertTokenizer, uncased by default
    assert load_hf_tokenizer(tmp_path, "bert").encode("To BE") == wordpiece.encode("to be")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer",
                                                                "do_lower_case": False}))
    assert load_hf_tokenizer(tmp_path, "bert").encode("To BE") == wordpiece.encode("To BE")
    with pytest.raises(LmlabError, match=r"has \d+ tokens but the model"):
        load_hf_tokenizer(tmp_path, "bert", model_vocab_size=10)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer",
                                                                "cls_token": "<s>"}))
    with pytest.raises(LmlabError, match=r"tokenizer_config.json names cls_token '<s>'"):
        load_hf_tokenizer(tmp_path, "bert")
