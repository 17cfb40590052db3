"""Every "bank"/"banks" in the English prose at hand, as sentences to label (issue 16: a larger labelled set for
`lmlab explain polysemy --set all`).

Sources (nothing is downloaded): WikiText-2 validation + test (/work/shared/data, CC BY-SA 3.0), the ~100
English Wikipedia articles gensim ships as test data (markup stripped as benchmarks/elmo_corpus.py does),
the Lee news corpus gensim ships (lee_background.cor and lee.cor), the 14,381 fortunes of /work/shared/data
(BSD fortune data) and Tiny Shakespeare (public domain). Each text is cut into sentences (at . ! ? before a
capital; WikiText at " . " only); a sentence longer than 60 words is cut to the 25 words on either side of its
occurrence (BERT reads 128 WordPieces). One row per occurrence: the rule's sense where it decides
(lmlab.tools.explain.polysemy.sense_of_bank), the sentence and the occurrence's character offset.

    python benchmarks/bank_senses.py --out candidates.tsv     # then label by hand (the guideline: bank_senses.tsv)
    python benchmarks/bank_senses.py --check src/lmlab/tools/explain/data/bank_senses.tsv   # every one labelled?
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from elmo_corpus import GENSIM_DATA, SHARED, enwiki  # noqa: E402

from lmlab.tools.explain.polysemy import BANK, read_senses, sense_of_bank  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
WIKITEXT_END = re.compile(r"(?<= [.!?]) (?=[A-Z\"'])")    # WikiText's tokens: "… end . Next", never "U.S. Bank"
MAX_WORDS, HALF = 60, 25


def sources() -> dict[str, list[str]]:
    """source name -> its paragraphs (each a unit that a sentence cannot cross)."""
    wikitext = [line for f in ("valid.txt", "test.txt")
                for line in (SHARED / "wikitext-2" / f).read_text(encoding="utf-8").splitlines()]
    fortunes = [json.loads(line)["text"] for line in (SHARED / "fortunes" / "fortunes.en.jsonl").open()]
    lee = [line for f, code in (("lee_background.cor", "utf-8"), ("lee.cor", "latin-1"))   # lee.cor's £ is Latin-1
           for line in (GENSIM_DATA / f).read_text(encoding=code).splitlines()]
    shakespeare = re.split(r"\n\s*\n", (SHARED / "tinyshakespeare.txt").read_text(encoding="utf-8"))
    return {"wikitext2": wikitext, "enwiki": enwiki().splitlines(), "lee": lee, "fortunes": fortunes,
            "shakespeare": shakespeare}


def window(sentence: str, start: int) -> tuple[str, int]:
    """The sentence, or the HALF words either side of the occurrence at `start` if it is long; new offset."""
    words = list(re.finditer(r"\S+", sentence))
    if len(words) <= MAX_WORDS:
        return sentence, start
    at = next(i for i, w in enumerate(words) if w.end() > start)
    first, last = words[max(0, at - HALF)], words[min(len(words), at + HALF + 1) - 1]
    return sentence[first.start():last.end()], start - first.start()


def candidates() -> list[tuple[str, str, int, str]]:
    """(rule's sense or '', source, offset, sentence) for every occurrence."""
    rows = []
    for source, paragraphs in sources().items():
        for para in paragraphs:
            para = " ".join(para.split())
            if source == "shakespeare":           # the speaker's name line: "ROMEO: …"
                para = re.sub(r"^[A-Z][A-Za-z ]*:\s*", "", para)
            for sentence in (WIKITEXT_END if source == "wikitext2" else SENTENCE_END).split(para):
                for m in BANK.finditer(sentence):
                    text, offset = window(sentence, m.start())
                    rows.append((sense_of_bank(text) or "", source, offset, text))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="write the candidates here: RULE_SENSE<TAB>source<TAB>offset<TAB>sentence")
    p.add_argument("--check", help="a labelled file: report the candidates it lacks and its counts")
    args = p.parse_args()
    rows = candidates()
    print(f"{len(rows)} occurrences: " + ", ".join(f"{s} {sum(r[1] == s for r in rows)}" for s in sources()))
    if args.out:
        Path(args.out).write_text("".join(f"{r[0] or '?'}\t{r[1]}\t{r[2]}\t{r[3]}\n" for r in rows), encoding="utf-8")
    if args.check:
        labelled = read_senses(args.check, keep_all=True)
        have = {(o.source, o.offset, o.sentence) for o in labelled}
        missing = [r for r in rows if (r[1], r[2], r[3]) not in have]
        print(f"{len(missing)} candidates not in {args.check}")
        for r in missing[:10]:
            print(f"  {r[1]} {r[2]}: {r[3][:100]}")
        for source in sources():
            n = {s: sum(o.source == source and o.sense == s for o in labelled) for s in ("river", "money")}
            rest = sum(o.source == source and o.sense not in n for o in labelled)
            print(f"  {source:<12} river {n['river']:>3}  money {n['money']:>3}  left out {rest:>3}")


if __name__ == "__main__":
    main()
