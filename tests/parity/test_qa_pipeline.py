"""`lmlab answer` = Hugging Face's question-answering pipeline on the run exported with `lmlab hf export`.

transformers 5 removed `pipeline("question-answering")`; its steps are rebuilt here from what transformers
still ships, as the 4.x pipeline ran them: the exported folder read by AutoTokenizer and
AutoModelForQuestionAnswering, windows made by the fast tokenizer (truncation "only_second" with overflowing
tokens and an overlap of `stride`), each window's spans chosen by transformers' `select_starts_ends` (softmax
over [CLS] + context, [CLS] zeroed, max_answer_len), spans widened to whole words by the encoding's
token_to_word / word_to_chars, and the best over the windows kept. A context of several windows is used, so
the windows must match too. lmlab's answers must be the same text and characters, scores within TOL = 1e-5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lmlab.cli import main

transformers = pytest.importorskip("transformers")
from transformers.pipelines.document_question_answering import select_starts_ends  # noqa: E402

DATA = Path(__file__).parents[1] / "data" / "qa_debian_templated.json"
TOL = 1e-5
MAX_LEN, STEP, TOP_K, MAX_ANSWER = 48, 12, 20, 8


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # on a CPU shared by many processes two OpenMP threads wait on each other
    folder = tmp_path_factory.mktemp("qa_pipeline")
    contexts = [p["context"] for a in json.loads(DATA.read_text())["data"] for p in a["paragraphs"]]
    (folder / "corpus.txt").write_text("\n\n".join(contexts), encoding="utf-8")
    assert main(["train", "bert", "--data", str(folder / "corpus.txt"), "--d_model", "32", "--n_layers", "2",
                 "--max_seq_len", "64", "--tokenizer_vocab_size", "400", "--max_len", "48", "--sentence_task", "none",
                 "--dropout", "0", "--max_steps", "2", "--eval_every", "2", "--eval_batches", "1", "--quiet",
                 "--out", str(folder / "bert")]) == 0
    assert main(["finetune", "qa", "--model", str(folder / "bert"), "--data", str(DATA), "--max-len", str(MAX_LEN),
                 "--stride", str(STEP), "--max-answer-len", str(MAX_ANSWER), "--max_steps", "8", "--lr", "3e-3",
                 "--eval_every", "8", "--eval_batches", "1", "--quiet", "--out", str(folder / "qa")]) == 0
    assert main(["hf", "export", str(folder / "qa"), "--out", str(folder / "hf")]) == 0
    yield folder / "qa", folder / "hf", sorted(contexts, key=len)[-4:]
    torch.set_num_threads(n)


def pipeline_answers(folder: Path, question: str, context: str) -> list[dict]:
    """The transformers 4.x question-answering pipeline's answers (top_k, align_to_words), from 5.x's pieces."""
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(folder, attn_implementation="eager").eval()
    n_question = len(tok(question, add_special_tokens=False)["input_ids"])
    budget = MAX_LEN - n_question - 3
    enc = tok(question, context, truncation="only_second", max_length=MAX_LEN, stride=budget - STEP,
              return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"],
                    attention_mask=enc["attention_mask"])
    answers = []
    for w in range(enc["input_ids"].shape[0]):
        seq = np.array([s if s is not None else -1 for s in enc.sequence_ids(w)])
        p_mask = (seq != 1).astype(np.int64)
        p_mask[0] = 0                                                           # [CLS] (the pipeline's cls_index)
        starts, ends, scores, _ = select_starts_ends(out.start_logits[w].numpy()[None], out.end_logits[w].numpy()[None],
                                                     p_mask[None], enc["attention_mask"][w].numpy()[None],
                                                     top_k=TOP_K, max_answer_len=MAX_ANSWER)
        for s, e, score in zip(starts, ends, scores):
            a = enc.word_to_chars(w, enc.token_to_word(w, int(s)), sequence_index=1).start
            b = enc.word_to_chars(w, enc.token_to_word(w, int(e)), sequence_index=1).end
            answers.append({"score": float(score), "start": a, "end": b, "answer": context[a:b]})
    best = {}
    for a in sorted(answers, key=lambda x: -x["score"]):
        best.setdefault((a["start"], a["end"]), a)
    return list(best.values())[:TOP_K], enc["input_ids"].shape[0]


@pytest.mark.parametrize("question", ["Which section is it in?", "What does it depend on?"])
def test_answers_equal_the_pipelines(exported, capsys, question):
    run, hf, contexts = exported
    for context in contexts:                                                    # the four longest: several windows
        theirs, n_windows = pipeline_answers(hf, question, context)
        assert n_windows >= 2
        capsys.readouterr()
        assert main(["answer", str(run), "--context", context, "--question", question, "--top-k", str(TOP_K),
                     "--json"]) == 0
        ours = json.loads(capsys.readouterr().out)[0]["answers"]
        assert len(ours) == len(theirs) == TOP_K
        assert [(a["answer"], a["start"], a["end"]) for a in ours] == \
            [(a["answer"], a["start"], a["end"]) for a in theirs]
        assert max(abs(a["score"] - b["score"]) for a, b in zip(ours, theirs)) <= TOL
