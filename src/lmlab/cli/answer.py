"""`lmlab answer RUN --context … --question …`: the span of a context that answers a question (extractive QA)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lmlab.errors import LmlabError


def _context(value: str) -> str:
    """--context TEXT, or @FILE: the text of a UTF-8 file."""
    if not value.startswith("@"):
        return value
    path = Path(value[1:])
    if not path.is_file():
        raise LmlabError(f"--context {value}: {path} does not exist (write the text itself, or @FILE for a file)")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise LmlabError(f"--context {value}: {path} is not UTF-8 text ({e})") from None


def run(args) -> None:
    context = _context(args.context)
    questions = [q for q in args.question if q.strip()]
    if not context.strip() or not questions:
        raise LmlabError("give a non-empty --context and at least one non-empty --question")
    if args.top_k < 1 or (args.max_answer_len is not None and args.max_answer_len < 1):
        raise LmlabError("--top-k and --max-answer-len must be at least 1")
    import dataclasses
    import json

    from lmlab.tools.qa import answer_questions, load_qa

    model, tok, cfg = load_qa(args.run)
    if args.max_answer_len is not None:
        cfg = dataclasses.replace(cfg, max_answer_len=args.max_answer_len)
    examples = [{"question": q, "context": context, "answers": []} for q in questions]
    results = answer_questions(model, tok, examples, cfg, top_k=args.top_k)
    if args.json:
        print(json.dumps([{"question": q, "answers": a} for q, a in zip(questions, results)], ensure_ascii=False,
                         indent=1))
        return
    for q, answers in zip(questions, results):
        if len(questions) > 1:
            print(q)
        for a in answers:
            shown = a["answer"] if a["answer"] else "(no answer)"
            print(f"{shown}\tscore {a['score']:.4f}\tspan {a['start']}-{a['end']}")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    p = sub.add_parser(
        "answer", formatter_class=fmt, help="answer a question with a span of a context (a `finetune qa` run)",
        description="Read the context with the question as a fine-tuned QA BERT does ([CLS] question [SEP] "
                    "context [SEP], a long context in sliding windows) and print the best span: the answer, its "
                    "score (p_start · p_end, the softmaxes of a window's start and end logits over [CLS] and the "
                    "context tokens) and its characters [start, end) in the context, widened to whole words. The "
                    "same answers and scores as transformers' question-answering pipeline (4.x; 5.x removed it) "
                    "on the run exported with `lmlab hf export`.",
        epilog="examples:\n"
               '  lmlab answer runs/qa --context "curl 7.88: command line tool for transferring data. Section: web." '
               '--question "Which section is curl in?"\n'
               '  lmlab answer runs/qa --context @record.txt --question "What is curl?" --question "What does it '
               'depend on?" --top-k 3\n'
               "  lmlab answer runs/qa --context @long.txt --question \"…\" --json    # answers, scores, spans")
    p.add_argument("run", help="a run of `lmlab finetune qa`")
    p.add_argument("--context", required=True, help="the text that holds the answer, or @FILE to read it from a file")
    p.add_argument("--question", required=True, action="append", help="a question (repeat for several)")
    p.add_argument("--top-k", type=int, default=1, help="answers per question, best first (default 1)")
    p.add_argument("--max-answer-len", type=int, help="the longest answer in tokens (default: the run's)")
    p.add_argument("--json", action="store_true", help="print JSON: the answers with score, start and end")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
