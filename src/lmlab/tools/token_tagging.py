"""Running a token classifier (NER) on words and texts, and scoring it at the entity level with seqeval.

Prediction reads each word's first WordPiece (lmlab.data.conll), as training labels it. Entities are
grouped from the word tags as Hugging Face's `pipeline("token-classification", aggregation_strategy=
"first")` groups them: a B-X word begins an entity, an I-X word continues the entity before it when that
is of type X (otherwise it begins one), an O word ends it; an entity's score is the mean of its words'
probabilities. Scores are seqeval's (Nakayama 2018), the CoNLL evaluation script's rules (an entity counts
only when its type and both ends are right), overall (micro) and per type.
"""

from __future__ import annotations

import torch

from lmlab.data.conll import encode_sentence, split_words, token_batches


@torch.no_grad()
def predict_words(model, chunks: list[dict], n_sentences: int, batch_size: int, pad_id: int,
                  device: torch.device | str = "cpu") -> list[list[tuple[int, float]]]:
    """(label id, probability) of every word of every sentence, from chunks that carry "sentence"."""
    model.eval()
    out: list[list[tuple[int, float]]] = [[] for _ in range(n_sentences)]
    for i, batch in enumerate(token_batches(chunks, batch_size, pad_id)):
        batch = {k: v.to(device) for k, v in batch.items()}
        probs = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]).float().softmax(-1)
        best, ids = probs.max(-1)                                                   # (B, T)
        for row, chunk in enumerate(chunks[i * batch_size:(i + 1) * batch_size]):
            out[chunk["sentence"]] += [(int(ids[row, p]), float(best[row, p])) for p in chunk["first"]]
    return out


def group_entities(tags: list[str], scores: list[float] | None = None) -> list[tuple[str, int, int, float]]:
    """(type, first word, last word + 1, mean score) of each entity of a BIO tag sequence (see the docstring)."""
    scores = scores or [1.0] * len(tags)
    spans: list[list] = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        bi, kind = tag[0], tag[2:]
        if bi == "I" and spans and spans[-1][0] == kind and spans[-1][2] == i:
            spans[-1][2] = i + 1
            spans[-1][3].append(scores[i])
        else:
            spans.append([kind, i, i + 1, [scores[i]]])
    return [(k, a, b, sum(s) / len(s)) for k, a, b, s in spans]


def tag_texts(model, tok, labels: list[str], texts: list[str], max_len: int, batch_size: int = 32,
              device: torch.device | str = "cpu") -> list[list[dict]]:
    """The entities of each raw text: {"type", "text", "start", "end", "score"} with character offsets;
    the text is split into words by lmlab.data.conll.split_words."""
    splits = [split_words(t) for t in texts]
    chunks = [{**c, "sentence": k} for k, words in enumerate(splits)
              for c in encode_sentence([w for w, _, _ in words], tok, max_len)]
    preds = predict_words(model, chunks, len(texts), batch_size, tok.special_ids["pad"], device)
    out = []
    for text, words, pred in zip(texts, splits, preds):
        ents = group_entities([labels[i] for i, _ in pred], [p for _, p in pred])
        out.append([{"type": k, "text": text[words[a][1]:words[b - 1][2]], "start": words[a][1],
                     "end": words[b - 1][2], "score": s} for k, a, b, s in ents])
    return out


def seqeval_scores(y_true: list[list[str]], y_pred: list[list[str]]) -> dict:
    """Entity-level precision, recall, F1 (micro over all entities) and the same per type, with supports."""
    from seqeval.metrics import classification_report
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    per_type = {k: {m: float(v[m]) for m in ("precision", "recall", "f1-score")} | {"support": int(v["support"])}
                for k, v in report.items() if not k.endswith(" avg")}
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
    return {"precision": float(micro["precision"]), "recall": float(micro["recall"]),
            "f1": float(micro["f1-score"]), "support": int(micro["support"]), "per_type": per_type}


def only_unseen(words: list[list[str]], tags: list[list[str]], seen: set[str]) -> list[list[str]]:
    """The tags with every entity whose text is in `seen` turned to O: scoring gold and predictions both so
    restricted gives the scores on mentions of names never seen in training (a predicted entity whose text
    is a training name counts neither way)."""
    out = []
    for ws, ts in zip(words, tags):
        ts = list(ts)
        for _, a, b, _ in group_entities(ts):
            if " ".join(ws[a:b]).lower() in seen:
                ts[a:b] = ["O"] * (b - a)
        out.append(ts)
    return out


def gazetteer_tags(words: list[list[str]], names: dict[tuple[str, ...], str]) -> list[list[str]]:
    """The memorising baseline: tag every occurrence of an entity text of the training data with its type
    (longest match first, lower-cased). It scores what a list of the training names alone would."""
    longest = max((len(k) for k in names), default=0)
    out = []
    for ws in words:
        low, tags, i = [w.lower() for w in ws], ["O"] * len(ws), 0
        while i < len(ws):
            for n in range(min(longest, len(ws) - i), 0, -1):
                kind = names.get(tuple(low[i:i + n]))
                if kind:
                    tags[i:i + n] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
                    i += n
                    break
            else:
                i += 1
        out.append(tags)
    return out


def entity_names(words: list[list[str]], tags: list[list[str]]) -> dict[tuple[str, ...], str]:
    """{lower-cased words of an entity: its type} over a labelled set (the last type seen wins)."""
    return {tuple(w.lower() for w in ws[a:b]): k for ws, ts in zip(words, tags) for k, a, b, _ in group_entities(ts)}
