"""Sentence embeddings from a BERT encoder: the vectors sentence-transformers computes; word vectors in context.

Each text becomes `[CLS] text [SEP]` (cut to `max_len` tokens, [SEP] kept); texts go through the
encoder in batches, padded on the right to the longest text of the batch, with an attention mask
so that padding changes nothing; the token vectors are pooled (mean over real tokens, or [CLS],
see `lmlab.nn.pooling`) and optionally scaled to unit length. The model is an lmlab BERT run or a
Hugging Face BERT folder (`load_bert_encoder`); a sentence-transformers folder (or a run imported from
one) brings its own pooling, normalisation and max_seq_length as the defaults. Output: a float32 array (N, C), saved as `.npy`
or as JSON (a list of {text, embedding}).

`embed_tokens` gives one vector per word instead (`lmlab embed --tokens`), from any family that registers
`token_vectors` (ELMo, BERT; lmlab.tools.token_vectors), as JSON: a list of {text, words, vectors}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from lmlab.data.rows import read_text
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import LmlabError
from lmlab.io.atomic import atomic_write, atomic_write_text
from lmlab.io.checkpoint import CONFIG_FILE, load_config
from lmlab.models.bert.model import BertModel
from lmlab.nn.pooling import POOLINGS, l2_normalize, pool
from lmlab.runs import families
from lmlab.runs.hf import embedding_defaults, family_of, load_bert_encoder
from lmlab.train.trainer import resolve_device


def read_texts(path: str | Path, skip_bad: bool = False) -> list[str]:
    """The texts of a UTF-8 file, one per line; blank lines are skipped, lines that are not UTF-8 are bad rows
    (lmlab.data.rows: refused naming FILE:LINE, or with skip_bad skipped and counted)."""
    path = Path(path)
    if not path.is_file():
        raise LmlabError(f"input file {path} not found")
    text, bad = read_text(path, skip_bad)
    texts = [line for line in text.splitlines() if line.strip()]
    bad.report(len(texts), "texts")
    return texts


@torch.inference_mode()
def embed_texts(encoder: BertModel, tok: TextTokenizer, texts: list[str], pooling: str = "mean",
                normalize: bool = False, max_len: int | None = None, batch_size: int = 32) -> torch.Tensor:
    """texts -> (N, C) float32 sentence embeddings, on the CPU, in the order of `texts`."""
    if not texts:
        raise LmlabError("no texts to embed; give some text (or a non-empty --input file)")
    if pooling not in POOLINGS:
        raise LmlabError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
    if batch_size <= 0:
        raise LmlabError(f"--batch-size must be positive, got {batch_size}")
    limit = encoder.cfg.max_seq_len
    max_len = limit if max_len is None else max_len
    if not 2 <= max_len <= limit:
        raise LmlabError(f"--max-len must be between 2 ([CLS] and [SEP]) and the model's max_seq_len "
                         f"({limit}), got {max_len}")
    encoder.eval()  # no dropout
    device = next(encoder.parameters()).device
    pad_id = tok.special_ids.get("pad", 0)  # any id will do: padding is masked out
    ids = [tok.encode_pair(t, max_len=max_len)["input_ids"] for t in texts]
    # longest first, so that each batch holds texts of similar length and little padding
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = torch.empty(len(ids), encoder.cfg.d_model, dtype=torch.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        T = max(len(ids[i]) for i in rows)
        input_ids = torch.tensor([ids[i] + [pad_id] * (T - len(ids[i])) for i in rows], device=device)
        mask = torch.tensor([[1] * len(ids[i]) + [0] * (T - len(ids[i])) for i in rows], device=device)
        hidden = encoder(input_ids, torch.zeros_like(input_ids), mask).hidden  # (B, T, C)
        vectors = pool(hidden.float(), mask, pooling)                          # (B, C)
        if normalize:
            vectors = l2_normalize(vectors)
        out[rows] = vectors.cpu()
    return out


def check_out(path: str | Path) -> Path:
    """The output path, if it can be written: a .npy or .json name in an existing folder."""
    path = Path(path)
    if path.suffix not in (".npy", ".json"):
        raise LmlabError(f"--out {path}: the file name must end in .npy or .json")
    if not path.parent.is_dir():
        raise LmlabError(f"--out {path}: folder {path.parent} does not exist")
    return path


def save_embeddings(texts: list[str], vectors: torch.Tensor, path: str | Path) -> None:
    """Write `.npy` (float32 array (N, C)) or `.json` (a list of {text, embedding}), atomically."""
    path = check_out(path)
    if path.suffix == ".npy":
        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to a name
                np.save(f, vectors.numpy().astype(np.float32))
        atomic_write(path, write)
    else:
        atomic_write_text(path, to_json(texts, vectors) + "\n")


def to_json(texts: list[str], vectors: torch.Tensor) -> str:
    """A JSON list of {"text": …, "embedding": [floats]} (float32 values, printed exactly)."""
    return json.dumps([{"text": t, "embedding": v.tolist()} for t, v in zip(texts, vectors)], ensure_ascii=False)


def embed(model: str | Path, texts: list[str], pooling: str | None = None, normalize: bool | None = None,
          max_len: int | None = None, batch_size: int = 32, device: str = "cpu",
          out: str | Path | None = None) -> torch.Tensor:
    """Load the model, embed `texts`, write them to `out` if given; returns the (N, C) vectors. Settings left
    None are the folder's own (a sentence-transformers folder's pooling, normalisation and max_seq_length;
    else mean pooling, no normalisation, the model's max_seq_len)."""
    if not texts:
        raise LmlabError("no texts to embed; give some text (or a non-empty --input file)")
    if pooling is not None and pooling not in POOLINGS:  # checked before the (slow) load too
        raise LmlabError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
    if not Path(model).is_dir():
        raise LmlabError(f"model {model} not found: give an lmlab BERT run directory or a Hugging Face "
                         "BERT folder")
    if out is not None:
        check_out(out)
    try:
        target = resolve_device(device)
    except RuntimeError:  # torch's own message for a name like "gpu"
        raise LmlabError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    encoder, tok = load_bert_encoder(model)
    own = embedding_defaults(model, encoder.cfg.max_seq_len)
    pooling = own["pooling"] if pooling is None else pooling
    normalize = own["normalize"] if normalize is None else normalize
    inputs = [t.lower() for t in texts] if own["lowercase"] else texts  # sentence-transformers' do_lower_case
    vectors = embed_texts(encoder.to(target), tok, inputs, pooling, normalize,
                          own["max_len"] if max_len is None else max_len, batch_size)
    if out is not None:
        save_embeddings(texts, vectors, out)
    return vectors


def token_family(model: str | Path) -> families.Family:
    """The family whose registered `token_vectors` serves this folder: an lmlab run's, or the family a Hugging
    Face folder's model_type imports as."""
    path = Path(model)
    if not (path / CONFIG_FILE).is_file():
        raise LmlabError(f"model {model} not found: give an lmlab run directory or a Hugging Face BERT folder")
    meta = load_config(path, required=())
    if "family" in meta:
        family = families.get(meta["family"], "embed")
    elif "model_type" in meta:
        family = families.get(family_of(meta["model_type"]), "embed")
    else:
        raise LmlabError(f"{path / CONFIG_FILE} names neither an lmlab family nor a Hugging Face model_type")
    if family.token_vectors is None:
        able = [f.name for f in families.FAMILIES.values() if f.token_vectors]
        raise LmlabError(f"`lmlab embed --tokens` takes {' and '.join(able)} runs, not a '{family.name}' run")
    return family


def embed_tokens(model: str | Path, texts: list[str], normalize: bool = False, max_len: int | None = None,
                 batch_size: int = 32, device: str = "cpu", out: str | Path | None = None,
                 layer: int | None = None) -> list[dict]:
    """One contextual vector per word of each text (lmlab.tools.token_vectors): a list of {text, words, vectors},
    written to `out` (.json) if given."""
    if not texts:
        raise LmlabError("no texts to embed; give some text (or a non-empty --input file)")
    if out is not None and check_out(out).suffix != ".json":
        raise LmlabError(f"--out {out}: --tokens gives a list of vectors per text; write it as .json")
    family = token_family(model)
    try:
        target = resolve_device(device)
    except RuntimeError:
        raise LmlabError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    rows = families.resolve(family.token_vectors)(model, texts, device=target, batch_size=batch_size,
                                                  max_len=max_len, layer=layer)
    result = [{"text": t, "words": r.words, "vectors": (l2_normalize(r.vectors) if normalize else r.vectors).tolist()}
              for t, r in zip(texts, rows)]
    if out is not None:
        atomic_write_text(out, json.dumps(result, ensure_ascii=False) + "\n")
    return result
