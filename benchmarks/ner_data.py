"""Rule-labelled NER data from real text, as CoNLL files for `lmlab finetune ner` (issue 19), and the held-out score.

Two sets, words split by lmlab.data.conll.split_words (spaces; brackets, quotes, , ; : ! ? and a final
full stop split off):

debian  the one-line descriptions of Debian 12's 63,697 packages (../shared/data/debian/packages.jsonl).
        RULE: a word is B-PKG when its lower-cased form is the name of a Debian package, unless the name
        is an ordinary word: one that occurs in WikiText-2 (valid + test, 0.5 M words of Wikipedia; this
        drops "and", "the", "less", "file", "time", "make" …), a number, or one of ORDINARY (English or
        generic computing words WikiText-2 happens to lack: "daemon", "buffer" …). Every other word is O.
        HELD OUT: a fifth of the names the rule finds (those whose sha1 is 0 mod 5) never occur in
        training: every description mentioning one goes to test.conll. train / val / test also get
        descriptions mentioning only other names (90 / 5 / 5 %) and as many descriptions mentioning no
        name, split alike. heldout_names.txt lists the held-out names.
mt      the English side of 11,041 software messages (../shared/data/mt/messages.en-zh.tsv, gettext
        catalogs of coreutils, tar, grep, apt, dpkg …). RULE, first match wins: OPT, a word starting with
        "-" or "--" and a letter (`--help`, `-f`, `--file=%s`); PATH, a word starting with "/", "~/", "./"
        or "../" longer than that prefix (`/etc/fstab`, `/dev/%s`); PH, a word that is one printf
        placeholder as lmlab.tools.translation_metrics finds them (`%s`, `%2$s`, `%lu`; not `%%`); else O.
        One file, messages.conll, split by `lmlab finetune ner` itself (seeded 80 / 10 / 10).

Usage:
  python benchmarks/ner_data.py build --out runs/ner-data
  python benchmarks/ner_data.py heldout runs/ner-debian runs/ner-data/debian/heldout_names.txt
(`heldout`: seqeval's scores of a finished `lmlab finetune ner` run on the held-out names' mentions only,
read from its test_predictions.conll: entities of any other name are set aside on both sides.)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lmlab.data.conll import read_conll, split_words, write_conll  # noqa: E402
from lmlab.tools.token_tagging import group_entities, only_unseen, seqeval_scores  # noqa: E402
from lmlab.tools.translation_metrics import PLACEHOLDER  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
ORDINARY = {"daemon", "buffer", "dict", "info", "filters", "lookup", "unicode", "ascii", "cpu", "im", "yi",
            "dialog", "pcs"}
OPTION = re.compile(r"--?[A-Za-z][\w-]*(=\S*)?")
PATH_START = ("/", "~/", "./", "../")


def ordinary_words() -> set[str]:
    words = Counter()
    for split in ("valid", "test"):
        for line in (DATA / "wikitext-2" / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            words.update(w.lower() for w, _, _ in split_words(line))
    return set(words) | ORDINARY


def debian_sentences() -> list[tuple[list[str], list[str], set[str]]]:
    """(words, labels, the names mentioned) of every package description, by the rule above."""
    rows = [json.loads(line) for line in (DATA / "debian" / "packages.jsonl").open(encoding="utf-8")]
    names = {r["name"] for r in rows}
    ordinary = ordinary_words()
    out = []
    for r in rows:
        words = [w for w, _, _ in split_words(r["description"])]
        is_name = [w.lower() in names and w.lower() not in ordinary and not w.isdigit() for w in words]
        out.append((words, ["B-PKG" if n else "O" for n in is_name], {w.lower() for w, n in zip(words, is_name) if n}))
    return out


def held_out(name: str) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 5 == 0


def build_debian(out: Path, seed: int = 0) -> dict:
    sents = debian_sentences()
    mentioned = sorted({n for _, _, ns in sents for n in ns})
    heldout = {n for n in mentioned if held_out(n)}
    rng = random.Random(seed)
    test = [s for s in sents if s[2] & heldout]
    seen = [s for s in sents if s[2] and not s[2] & heldout]
    none = rng.sample([s for s in sents if not s[2]], len(seen))
    sets = {"train": [], "val": [], "test": test}
    for group in (seen, none):
        rng.shuffle(group)
        n = len(group) // 20
        sets["val"] += group[:n]
        sets["test"] += group[n:2 * n]
        sets["train"] += group[2 * n:]
    out.mkdir(parents=True, exist_ok=True)
    for name, ss in sets.items():
        rng.shuffle(ss)
        write_conll(out / f"{name}.conll", [(w, lb) for w, lb, _ in ss])
    (out / "heldout_names.txt").write_text("\n".join(sorted(heldout)) + "\n", encoding="utf-8")
    return {"names_found": len(mentioned), "held_out_names": len(heldout),
            "descriptions_with_a_name": len([s for s in sents if s[2]]),
            **{f"{k}_sentences": len(v) for k, v in sets.items()},
            "held_out_mentions_in_test": sum(w.lower() in heldout for ws, lb, _ in test for w, t in zip(ws, lb)
                                             if t != "O")}


def mt_label(word: str) -> str:
    if OPTION.fullmatch(word):
        return "B-OPT"
    if any(word.startswith(p) and len(word) > len(p) for p in PATH_START):
        return "B-PATH"
    if word != "%%" and PLACEHOLDER.fullmatch(word):
        return "B-PH"
    return "O"


def build_mt(out: Path) -> dict:
    with (DATA / "mt" / "messages.en-zh.tsv").open(encoding="utf-8") as f:
        texts = [r["en"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    sents = []
    for text in texts:
        words = [w for w, _, _ in split_words(text.replace("\\n", " ").replace("\\t", " "))]
        if words:
            sents.append((words, [mt_label(w) for w in words]))
    out.mkdir(parents=True, exist_ok=True)
    write_conll(out / "messages.conll", sents)
    counts = Counter(t[2:] for _, lb in sents for t in lb if t != "O")
    return {"messages": len(sents), **{f"{k}_mentions": v for k, v in sorted(counts.items())}}


def heldout_scores(run: Path, names_file: Path) -> dict:
    """seqeval on the mentions of the held-out names alone: every other entity, gold or predicted, whose
    text is a name the rule knows is set aside (predicted spans that are no name still count as errors)."""
    heldout = set(names_file.read_text(encoding="utf-8").split())
    rows = [line.split("\t") for line in (run / "test_predictions.conll").read_text(encoding="utf-8").splitlines()]
    words, gold, pred, cur = [], [], [], ([], [], [])
    for r in rows + [[""]]:
        if r == [""]:
            if cur[0]:
                words.append(cur[0]), gold.append(cur[1]), pred.append(cur[2])
            cur = ([], [], [])
        else:
            for part, value in zip(cur, r):
                part.append(value)
    others = {" ".join(ws[a:b]).lower() for ws, ts in zip(words, gold) for _, a, b, _ in group_entities(ts)} - heldout
    return seqeval_scores(only_unseen(words, gold, others), only_unseen(words, pred, others))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", type=Path, required=True)
    h = sub.add_parser("heldout")
    h.add_argument("run", type=Path)
    h.add_argument("names", type=Path)
    args = p.parse_args()
    if args.cmd == "build":
        report = {"debian": build_debian(args.out / "debian"), "mt": build_mt(args.out / "mt")}
        for f in ("debian/train", "debian/val", "debian/test"):
            read_conll(args.out / f"{f}.conll")  # the files read back as valid CoNLL
        read_conll(args.out / "mt" / "messages.conll")
    else:
        report = heldout_scores(args.run, args.names)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
