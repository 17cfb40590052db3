"""Extractive question answering data: SQuAD-format files, question + context windows, answer spans.

Rajpurkar et al. 2016 (SQuAD v1.1) and 2018 (v2.0, unanswerable questions); BERT reads them as
`[CLS] question [SEP] context [SEP]` and points at the answer's first and last token (Devlin et al. 2019,
§4.2). A SQuAD file is {"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}; every answer must stand in its context at
answer_start (checked: a file whose offsets are off trains on the wrong spans without a word).

Long contexts (notes 5.一 "长文本处理", and BERT's run_squad): the context is read in sliding windows. A
window holds max_len tokens, so `budget = max_len − len(question) − 3` context tokens; windows start every
`stride` context tokens (default: half a budget) until one reaches the end, as `lmlab.data.classification`
slides a long text. A training window is labelled with the answer's token positions when the whole answer
lies inside it, else with position 0 ([CLS]: "not here"), so an answer cut by a window edge is learned from
the window that holds it whole. Character offsets come from the `tokenizers` encoding of the context, so
a predicted span maps back to the exact characters of the context.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab.data.classification import SequenceBatches, window_starts
from lmlab.data.rows import SKIP_HINT, BadRows
from lmlab.errors import LmlabError


@dataclass(frozen=True)
class QADataConfig:
    max_len: int = 192               # tokens per window: [CLS] question [SEP] context window [SEP]
    stride: int = 0                  # step between window starts, in context tokens (0: half a window's context)
    max_question_len: int = 64       # a longer question keeps its first tokens (BERT's max_query_length),
                                     # and never more than half a window's room
    max_answer_len: int = 30         # the longest span, in tokens, that prediction considers (BERT's run_squad)
    unanswerable: bool = False       # SQuAD v2: questions without an answer are data; [CLS] answers "none"
    val_fraction: float = 0.1        # articles of the training file held out for validation (seeded)
    split_seed: int = 0

    def __post_init__(self):
        if self.max_question_len < 1 or self.max_len < 16:
            raise ValueError(f"need max_question_len ≥ 1 and max_len ≥ 16, got {self.max_question_len}, "
                             f"{self.max_len}")
        if self.stride < 0 or self.max_answer_len < 1:
            raise ValueError(f"need stride ≥ 0 and max_answer_len ≥ 1, got {self.stride}, {self.max_answer_len}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


# ---- reading --------------------------------------------------------------------------------------
def _reject(bad: BadRows, where: str, why: str) -> None:
    """A bad record: refused as "FILE: question ID: why", or with --skip-bad counted (lmlab.data.rows' rule)."""
    if not bad.skip:
        raise LmlabError(f"{bad.path}: {where}: {why}; {SKIP_HINT}")
    bad.count += 1
    bad.first = bad.first or f"{bad.path}: {where}: {why}"


def _answers(qa: dict, context: str) -> tuple[list[dict] | None, str]:
    """([{"text", "start"}, …], "") or (None, why the answers are bad)."""
    answers = qa.get("answers")
    if not isinstance(answers, list):
        return None, "no 'answers' list"
    out = []
    for a in answers:
        text, start = (a.get("text"), a.get("answer_start")) if isinstance(a, dict) else (None, None)
        if not isinstance(text, str) or not text.strip() or not isinstance(start, int) or isinstance(start, bool):
            return None, f"an answer needs a non-empty 'text' and an integer 'answer_start', got {a!r}"
        if context[start:start + len(text)] != text:
            return None, (f"answer {text!r} is not at answer_start {start} of its context "
                          f"(there: {context[start:start + len(text)]!r})")
        out.append({"text": text, "start": start})
    return out, ""


def read_squad(path: str | Path, skip_bad: bool = False, unanswerable: bool = False) -> list[dict]:
    """[{"id", "title", "context", "question", "answers": [{"text", "start"}], "impossible"}, …] from a SQuAD
    v1.1 (or, with `unanswerable`, v2.0) JSON file. A bad question (no id, a repeated id, no question text,
    an answer not at its answer_start, no answer where one is needed) is refused naming the file and the
    question id, or with skip_bad skipped and counted."""
    path = Path(path)
    if not path.is_file():
        raise LmlabError(f"{path} does not exist; give a SQuAD-format .json file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8").lstrip("\ufeff"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LmlabError(f"{path} is not a JSON file ({e}); a SQuAD file is one JSON object with a 'data' list") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise LmlabError(f"{path} has no 'data' list; a SQuAD file is {{\"data\": [{{\"title\", \"paragraphs\": "
                         "[{\"context\", \"qas\": [{\"id\", \"question\", \"answers\"}]}]}]}")
    bad, seen, out = BadRows(path, skip_bad), set(), []
    for a, article in enumerate(doc["data"]):
        title = str(article.get("title", a)) if isinstance(article, dict) else str(a)
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        for p, para in enumerate(paragraphs if isinstance(paragraphs, list) else [None]):
            where = f"article {title!r} paragraph {p}"
            context = para.get("context") if isinstance(para, dict) else None
            qas = para.get("qas") if isinstance(para, dict) else None
            if not isinstance(context, str) or not context.strip() or not isinstance(qas, list):
                _reject(bad, where, "a paragraph needs a non-empty 'context' and a 'qas' list")
                continue
            for q, qa in enumerate(qas):
                qid = qa.get("id") if isinstance(qa, dict) else None
                if not isinstance(qid, str | int) or isinstance(qid, bool) or str(qid) in seen:
                    _reject(bad, f"{where} question {q}", "no 'id'" if qid is None else f"id {qid!r} repeated or "
                            "not a string")
                    continue
                seen.add(str(qid))
                question = qa.get("question")
                impossible = bool(qa.get("is_impossible", False))
                answers, why = _answers(qa, context)
                if not isinstance(question, str) or not question.strip():
                    why = "no 'question' text"
                elif impossible and not unanswerable:
                    why = "an unanswerable question (SQuAD v2's is_impossible); pass --unanswerable to keep them"
                elif answers is not None and not answers and not impossible:
                    why = "no answer (an answerable question needs at least one)"
                if why:
                    _reject(bad, f"question {qid}", why)
                    continue
                out.append({"id": str(qid), "title": title, "context": context, "question": question,
                            "answers": [] if impossible else answers, "impossible": impossible})
    bad.report(len(out), "questions")
    if not out:
        raise LmlabError(f"{path} holds no usable question")
    return out


def split_articles(examples: list[dict], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): whole articles (titles) held out, seeded, so no validation context is trained on."""
    titles = sorted({ex["title"] for ex in examples})
    if len(titles) < 2:
        raise LmlabError(f"one article ({titles[0]!r}) cannot be split into train and validation; give --eval")
    random.Random(seed).shuffle(titles)
    held = set(titles[:min(len(titles) - 1, max(1, round(len(titles) * val_fraction)))])  # both sides kept
    return [ex for ex in examples if ex["title"] not in held], [ex for ex in examples if ex["title"] in held]


# ---- windows --------------------------------------------------------------------------------------
@dataclass
class Context:
    """A context's tokens: ids, (start, end) character offsets, and the character span of each word
    (words as the tokenizer's pre-tokenizer splits them), to widen a predicted span to whole words."""
    text: str
    ids: list[int]
    offsets: list[tuple[int, int]]
    word_of: list[int]                          # token -> its word
    word_span: dict[int, tuple[int, int]]       # word -> (first char, end char)


def encode_context(tok, text: str) -> Context:
    enc = tok.tok.encode(text, add_special_tokens=False)
    spans: dict[int, tuple[int, int]] = {}
    words = [w if w is not None else -1 - i for i, w in enumerate(enc.word_ids)]
    for w, (a, b) in zip(words, enc.offsets):
        lo, hi = spans.get(w, (a, b))
        spans[w] = (min(lo, a), max(hi, b))
    return Context(text, list(enc.ids), [tuple(o) for o in enc.offsets], words, spans)


def answer_tokens(ctx: Context, start: int, text: str) -> tuple[int, int] | None:
    """(first, last) context token of the characters [start, start + len(text)), or None if no token covers them."""
    end = start + len(text)
    inside = [i for i, (a, b) in enumerate(ctx.offsets) if b > start and a < end]
    return (inside[0], inside[-1]) if inside else None


def qa_features(examples: list[dict], tok, cfg: QADataConfig, contexts: dict[str, Context] | None = None,
                labels: bool = True) -> tuple[list[dict], dict[str, Context]]:
    """The windows of every example: {"input_ids", "token_type_ids", "example" (its index), "offset" (the token
    position of the window's first context token), "first" (that token's index in the context), "n" (context
    tokens in the window)} and, with `labels`, "start"/"end": the first answer's token positions, or 0 ([CLS])
    when the window does not hold it whole. Returns the features and the contexts' encodings (by text)."""
    sp = tok.special_ids
    if "cls" not in sp or "sep" not in sp:
        raise LmlabError("question answering with BERT needs a wordpiece tokenizer with [CLS] and [SEP]")
    contexts = {} if contexts is None else contexts
    features = []
    for n, ex in enumerate(examples):
        ctx = contexts.get(ex["context"]) or contexts.setdefault(ex["context"], encode_context(tok, ex["context"]))
        question = tok.encode(ex["question"])[:min(cfg.max_question_len, (cfg.max_len - 3) // 2)]
        budget = cfg.max_len - len(question) - 3
        span = answer_tokens(ctx, ex["answers"][0]["start"], ex["answers"][0]["text"]) \
            if labels and ex["answers"] else None
        offset = len(question) + 2
        for first in window_starts(len(ctx.ids), budget, cfg.stride or max(1, budget // 2)):
            window = ctx.ids[first:first + budget]
            ids = [sp["cls"], *question, sp["sep"], *window, sp["sep"]]
            f = {"input_ids": ids, "token_type_ids": [0] * offset + [1] * (len(window) + 1), "example": n,
                 "offset": offset, "first": first, "n": len(window)}
            if labels:
                inside = span is not None and first <= span[0] and span[1] < first + len(window)
                f["start"], f["end"] = (offset + span[0] - first, offset + span[1] - first) if inside else (0, 0)
            features.append(f)
    return features, contexts


def collate(features: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad to the longest window; "start_positions"/"end_positions" when the features are labelled."""
    T = max(len(f["input_ids"]) for f in features)
    pad = lambda xs, v: xs + [v] * (T - len(xs))
    batch = {"input_ids": torch.tensor([pad(f["input_ids"], pad_id) for f in features]),
             "token_type_ids": torch.tensor([pad(f["token_type_ids"], 0) for f in features]),
             "attention_mask": torch.tensor([pad([1] * len(f["input_ids"]), 0) for f in features])}
    if "start" in features[0]:
        batch["start_positions"] = torch.tensor([f["start"] for f in features])
        batch["end_positions"] = torch.tensor([f["end"] for f in features])
    return batch


class QABatches(SequenceBatches):
    """Random training batches of windows (each window an example), resumable like SequenceBatches."""

    def next(self) -> dict[str, torch.Tensor]:
        return collate(self.rng.sample(self.seqs, min(self.batch_size, len(self.seqs))), self.pad_id)


def eval_batches(features: list[dict], batch_size: int, pad_id: int) -> list[dict[str, torch.Tensor]]:
    """Fixed batches in order (for validation loss and prediction)."""
    return [collate(features[i:i + batch_size], pad_id) for i in range(0, len(features), batch_size)]
