"""Each document's top TF-IDF terms: `lmlab keywords DATA`."""

from __future__ import annotations

import argparse

EPILOG = """\
A document is one row of a .jsonl file (its --text-column field), or one paragraph (lines up to a blank
line; --per line: one line) of a text file, a folder of text files or a bundled corpus. TF-IDF is fitted
on all the documents; the defaults are scikit-learn's TfidfVectorizer defaults (raw counts, smooth idf,
l2 norm). A df bound that is an integer counts documents, one with a decimal point is a fraction.

examples:
  lmlab keywords fortunes.en.jsonl --top 5 --limit 10
  lmlab keywords fortunes.en.jsonl --tf sublinear --max-df 0.5 --min-df 2
  lmlab keywords tinyshakespeare --tf notes --idf notes --norm none     # the notes' formulas
  lmlab keywords notes.txt --per line --token-pattern '(?u)\\w'        # Chinese: one character a term
  lmlab explain tf-idf                                                  # the formulas worked by hand
"""


def _df(value: str) -> int | float:
    """'2' -> 2 documents; '0.5' -> half of them."""
    try:
        return float(value) if any(c in value for c in ".eE") else int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is neither a count (2) nor a fraction (0.5)") from None


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `keywords` command's parser."""
    p = sub.add_parser(
        "keywords", formatter_class=fmt, help="each document's top TF-IDF terms",
        description="Fit TF-IDF on a corpus and print each document's highest-weighted terms: the words it\n"
                    "uses often that the other documents rarely use (notes 002 III.1).",
        epilog=EPILOG)
    p.add_argument("data", help="a .jsonl file, a text file or folder, or a bundled corpus (lmlab data list)")
    p.add_argument("--top", type=int, default=5, metavar="K", help="terms shown per document (default 5)")
    p.add_argument("--limit", type=int, default=10, metavar="N",
                   help="documents shown, from the first (default 10; 0: all)")
    p.add_argument("--per", choices=("paragraph", "line"), default="paragraph",
                   help="what one document of a text file is (default paragraph)")
    p.add_argument("--text-column", default="text", help="the .jsonl field holding the text (default text)")
    p.add_argument("--skip-bad", action="store_true", help="skip .jsonl rows without text (counted) instead "
                                                           "of stopping at the first")
    p.add_argument("--tf", choices=("raw", "binary", "sublinear", "notes"), default="raw",
                   help="term frequency: count, 0/1, 1 + ln(count), or count / document length (default raw)")
    p.add_argument("--idf", choices=("smooth", "sklearn-raw", "notes", "none"), default="smooth",
                   help="smooth ln((1+N)/(1+df))+1 (default), sklearn-raw ln(N/df)+1, notes ln(N/(df+1)), none")
    p.add_argument("--norm", choices=("l2", "l1", "none"), default="l2", help="row normalisation (default l2)")
    p.add_argument("--min-df", type=_df, default=1, metavar="N|F", help="drop terms in fewer documents "
                                                                        "(default 1)")
    p.add_argument("--max-df", type=_df, default=1.0, metavar="N|F", help="drop terms in more documents "
                                                                          "(default 1.0: none dropped)")
    p.add_argument("--max-features", type=int, default=0, metavar="V",
                   help="keep only the V most frequent terms (default 0: all)")
    p.add_argument("--token-pattern", default=r"(?u)\b\w\w+\b",
                   help=r"regex of a token (default scikit-learn's (?u)\b\w\w+\b: 2+ word characters)")
    p.add_argument("--no-lowercase", action="store_true", help="keep case (default: lower-case first)")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    from lmlab.data.documents import read_documents
    from lmlab.data.tfidf import Tfidf, TfidfConfig, top_terms
    from lmlab.errors import LmlabError

    if args.top < 1 or args.limit < 0:
        raise LmlabError("--top must be at least 1 and --limit at least 0")
    cfg = TfidfConfig(tf=args.tf, idf=args.idf, norm=args.norm, min_df=args.min_df, max_df=args.max_df,
                      max_features=args.max_features, lowercase=not args.no_lowercase,
                      token_pattern=args.token_pattern)
    docs, where, skipped = read_documents(args.data, per=args.per, text_column=args.text_column,
                                          skip_bad=args.skip_bad)
    model = Tfidf(cfg)
    try:
        x = model.fit_transform(docs)
    except LmlabError as e:
        raise LmlabError(f"{args.data}: {e}") from None
    shown = range(len(docs) if args.limit == 0 else min(args.limit, len(docs)))
    print(f"{len(docs):,} documents{f' ({skipped} bad rows skipped)' if skipped else ''}, "
          f"{len(model.vocab):,} terms; tf {cfg.tf}, idf {cfg.idf}, norm {cfg.norm}")
    for i, terms in zip(shown, top_terms(x, model.vocab.terms, args.top, shown)):
        first = " ".join(docs[i].split())
        print(f"\n{where[i]}  {first[:70] + '…' if len(first) > 70 else first}")
        print("   " + ("  ".join(f"{t} {w:.3f}" for t, w in terms) if terms else "(no term of the vocabulary)"))
