"""Extractive QA on real records with *templated* questions: Debian packages rendered as text.

No real QA set (SQuAD and the like) is reachable offline, so this builds one from real records: each
package of `../shared/data/debian/packages.jsonl` (Debian 12, real metadata written by the packages'
maintainers) is rendered as a short paragraph, and questions are made from fixed templates whose answers
are spans of that paragraph (its section, its dependencies, its summary, …). The questions are templated,
not written by people: a model learns where each field sits more than it learns to read, and every figure
made with it must say "templated".

    python benchmarks/qa_debian.py make --out runs/qa-debian               # corpus.txt, train.json, test.json
    lmlab train bert --data runs/qa-debian/corpus.txt --preset bert-mini --max_seq_len 256 \
        --time-budget 240 --out runs/qa-debian/bert                        # MLM on the train packages' records
    lmlab finetune qa --model runs/qa-debian/bert --data runs/qa-debian/train.json \
        --eval runs/qa-debian/test.json --max-len 128 --lr 5e-4 --time_budget 300 --out runs/qa-debian/qa
    python benchmarks/qa_debian.py score runs/qa-debian/qa runs/qa-debian/test.json   # EM / F1 per question type

The split is by package, and stricter: all binary packages built from one source package fall on the same
side (0ad-data and 0ad-data-common both train or both test), so no test paragraph or near-copy of one is
ever seen, in pretraining or in fine-tuning. Each record's fields are in one order, with the dependency list
before the section, so a package with many dependencies has its later fields beyond the first window of
max_len tokens: the sliding windows are needed on real data. The question ids are "TYPE/PACKAGE".
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "debian" / "packages.jsonl"

# question type -> its phrasings (one is drawn per question, seeded)
TEMPLATES = {
    "section": ["Which section is {name} in?", "What section does {name} belong to?"],
    "summary": ["What is {name}?", "What does the package {name} provide?"],
    "depends": ["What does {name} depend on?", "Which packages does {name} need?"],
    "source": ["Which source package builds {name}?", "What is the source of {name}?"],
    "version": ["What version of {name} is this?", "Which version is {name}?"],
    "size": ["How much disk space does {name} take when installed?", "What is the installed size of {name}?"],
}
MAX_DEPENDS = 3  # "depends" questions only for packages with 1 … 3 dependency groups (a short answer span)


def relations(groups: list[list[str]]) -> str:
    """Debian's own syntax: groups separated by ", ", alternatives within a group by " | "."""
    return ", ".join(" | ".join(g) for g in groups)


def render(pkg: dict) -> tuple[str, dict[str, str]]:
    """(the record as a paragraph, {question type: the answer's text, as it appears in the paragraph});
    each answer's start in the paragraph is recorded as the text is built, so it is exact."""
    parts, spans = [], {}

    def add(text: str, field: str | None = None, value: str | None = None) -> None:
        if field is not None:
            offset = sum(len(p) for p in parts) + text.index(value)
            spans[field] = (value, offset)
        parts.append(text)

    summary = pkg["description"].strip().rstrip(".")
    add(f"{pkg['name']} {pkg['version']}: ")
    add(f"{summary}. ", "summary", summary)
    deps = relations(pkg["depends"])
    if deps:
        add(f"Depends: {deps}. ", "depends" if len(pkg["depends"]) <= MAX_DEPENDS else None, deps)
    for key in ("recommends", "suggests"):
        if pkg[key]:
            add(f"{key.capitalize()}: {relations(pkg[key])}. ")
    add(f"Section: {pkg['section']}; ", "section", pkg["section"])
    add(f"priority {pkg['priority']}. ")
    add(f"Built from the source package {pkg['source']}. ", "source", pkg["source"])
    add(f"Version {pkg['version']}. ", "version", pkg["version"])
    size = f"{pkg['installed_size_kb']} kB"
    add(f"Installed size: {size}.", "size", size)
    return "".join(parts), spans


def squad(packages: list[dict], rng: random.Random) -> dict:
    """A SQuAD v1.1 file: one article per package (title = its name), one paragraph, one question per type."""
    articles = []
    for pkg in packages:
        context, spans = render(pkg)
        qas = []
        for kind, (text, start) in spans.items():
            assert context[start:start + len(text)] == text
            qas.append({"id": f"{kind}/{pkg['name']}", "question": rng.choice(TEMPLATES[kind]).format(name=pkg["name"]),
                        "answers": [{"text": text, "answer_start": start}]})
        articles.append({"title": pkg["name"], "paragraphs": [{"context": context, "qas": qas}]})
    return {"version": "1.1", "templated": True, "source": "Debian 12 package index (packages.jsonl)",
            "data": articles}


def make(args) -> None:
    rows = [json.loads(line) for line in open(args.data, encoding="utf-8")]
    rows = [r for r in rows if r.get("description") and r.get("version") and r.get("section")]
    sources = sorted({r["source"] for r in rows})
    rng = random.Random(args.seed)
    rng.shuffle(sources)
    test_sources = set(sources[:round(len(sources) * args.test_fraction)])
    by_side = defaultdict(list)
    for r in rows:
        by_side["test" if r["source"] in test_sources else "train"].append(r)
    for side in by_side.values():
        rng.shuffle(side)
    train, test = by_side["train"][:args.train_packages], by_side["test"][:args.test_packages]
    corpus = by_side["train"][:args.corpus_packages]  # pretraining text: train-side packages only
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.txt").write_text("".join(render(p)[0] + "\n\n" for p in corpus), encoding="utf-8")
    for name, pkgs in (("train", train), ("test", test)):
        (out / f"{name}.json").write_text(json.dumps(squad(pkgs, rng), ensure_ascii=False, indent=1) + "\n",
                                          encoding="utf-8")
    n_q = lambda pkgs: sum(len(render(p)[1]) for p in pkgs)
    print(f"{out}: corpus.txt ({len(corpus)} records), train.json ({len(train)} packages, {n_q(train)} questions), "
          f"test.json ({len(test)} packages, {n_q(test)} questions); templated questions, split by source package")


def later_window(run_dir: Path, examples: list[dict]) -> set[str]:
    """Ids of the questions whose answer is not whole in the first window of the run's max_len: only the
    sliding windows can answer them."""
    from lmlab.data.qa import qa_features
    from lmlab.runs.run import Run

    run = Run.open(run_dir, family="bert-qa")
    feats, _ = qa_features(examples, run.tokenizer(), run.config("data"))
    first = {}
    for f in feats:
        first.setdefault(f["example"], f)
    return {examples[k]["id"] for k, f in first.items() if f["start"] == 0}


def score(args) -> None:
    from lmlab.data.qa import read_squad
    from lmlab.tools.qa_metrics import squad_scores

    predictions = json.loads((Path(args.run) / "predictions.json").read_text(encoding="utf-8"))
    examples = read_squad(args.gold)
    answers = {ex["id"]: [a["text"] for a in ex["answers"]] for ex in examples}
    later = later_window(Path(args.run), examples)
    groups: dict[str, list[str]] = defaultdict(list)
    for qid in answers:
        groups[qid.split("/")[0]].append(qid)
    groups = {kind: groups[kind] for kind in TEMPLATES if groups[kind]}
    groups["all"] = list(answers)
    groups["answer beyond the first window"] = [q for q in answers if q in later]
    table = {kind: {"n": len(ids), **squad_scores(predictions, {q: answers[q] for q in ids})}
             for kind, ids in groups.items() if ids}
    print("| question type (templated) | questions | EM | F1 |\n| --- | --- | --- | --- |")
    for kind, s in table.items():
        print(f"| {kind} | {s['n']} | {s['exact_match']:.1f} | {s['f1']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"templated": True, "scores": table}, indent=2) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write corpus.txt, train.json and test.json")
    m.add_argument("--data", default=str(DATA))
    m.add_argument("--out", required=True)
    m.add_argument("--train-packages", type=int, default=3000)
    m.add_argument("--test-packages", type=int, default=300)
    m.add_argument("--corpus-packages", type=int, default=20000)
    m.add_argument("--test-fraction", type=float, default=0.1, help="of the source packages")
    m.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("score", help="EM and F1 per question type of a run's predictions.json")
    s.add_argument("run")
    s.add_argument("gold")
    s.add_argument("--json")
    args = p.parse_args()
    make(args) if args.cmd == "make" else score(args)


if __name__ == "__main__":
    main()
