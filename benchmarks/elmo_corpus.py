"""All the English prose at hand, as one folder for `lmlab train elmo` (issue 16: a better-trained ELMo).

WikiText-2 has only its validation and test splits here (~450k words). Beside them this gathers the other
English prose on the machine (nothing is downloaded):
  - enwiki: the first ~100 articles of an English Wikipedia dump that gensim ships as test data
    (`enwiki-latest-pages-articles1…-shortened.bz2`, CC BY-SA), markup stripped by gensim's `filter_wiki`,
    lines of fewer than 8 words (tables, lists, headings) left out;
  - lee: the Lee news corpus gensim ships (`lee_background.cor`, Australian news);
  - fortunes: the 14,381 English fortune texts of /work/shared/data/fortunes (BSD fortune data);
  - tinyshakespeare (public domain).
Software messages and package descriptions (also English, also at hand) are left out: fragments, not prose.
The files are named so that WikiText comes last: `lmlab train elmo` keeps the last `val_fraction` of the
words for validation, and the fraction printed here makes that split exactly the one a run on WikiText-2
alone (val_fraction 0.1) validates on, the end of WikiText's validation split (its folder reads test.txt
then valid.txt). The "bank" sentences of
`lmlab explain polysemy` come from WikiText-2, so they are in the training text (as the paper's evaluation
text could be in its 1B-word training set); an LM learns from them no labels, only the text.

    python benchmarks/elmo_corpus.py --out runs/english   # prints the --val_fraction to train with
"""

from __future__ import annotations

import argparse
import bz2
import json
import re
from pathlib import Path

import gensim
from gensim.corpora.wikicorpus import extract_pages, filter_wiki

from lmlab.data.word_chars import corpus_words

SHARED = Path("/work/shared/data")
GENSIM_DATA = Path(gensim.__file__).parent / "test" / "test_data"
ENWIKI = GENSIM_DATA / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def enwiki() -> str:
    lines = []
    for _title, text, _id in extract_pages(bz2.BZ2File(ENWIKI), filter_namespaces=("0",)):
        if text.lower().startswith("#redirect"):
            continue
        for line in filter_wiki(text).splitlines():
            line = re.sub(r"'{2,}", "", line).strip()           # ''italic'' and '''bold''' marks
            if len(line.split()) >= 8 and not line.startswith(("|", "!", "{", "*", "=", "[")):
                lines.append(line)
    return "\n".join(lines) + "\n"


def fortunes() -> str:
    rows = [json.loads(line) for line in (SHARED / "fortunes" / "fortunes.en.jsonl").open(encoding="utf-8")]
    return "\n\n".join(r["text"] for r in rows) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="the folder to write (must not exist)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True)
    wikitext = "\n".join((SHARED / "wikitext-2" / f).read_text(encoding="utf-8") for f in ("test.txt", "valid.txt"))
    parts = {"0_fortunes.txt": fortunes(), "1_lee.txt": (GENSIM_DATA / "lee_background.cor").read_text("utf-8"),
             "2_tinyshakespeare.txt": (SHARED / "tinyshakespeare.txt").read_text(encoding="utf-8"),
             "3_enwiki.txt": enwiki(), "9_wikitext2_test_valid.txt": wikitext}
    total = 0
    for name, text in parts.items():
        (out / name).write_text(text, encoding="utf-8")
        n = len(corpus_words(text))
        total += n
        print(f"{name:<28} {n:>9,} words")
    # `lmlab train elmo --data …/wikitext-2` validates on its last int(0.1 · n) words; keep exactly those
    n_val = int(len(corpus_words(wikitext)) * 0.1)
    fraction = (n_val + 0.5) / total
    assert int(total * fraction) == n_val
    print(f"{'all':<28} {total:>9,} words; --val_fraction {fraction!r} keeps WikiText's last {n_val:,} words "
          "for validation")


if __name__ == "__main__":
    main()
