"""`lmlab vectors export|evaluate`: word vectors out to the word2vec formats, and their benchmark scores."""

from __future__ import annotations

import argparse
from pathlib import Path

from lmlab.cli.similar import VECTORS_HELP
from lmlab.errors import LmlabError

EPILOG = """\
examples:
  lmlab vectors export runs/w2v --out vectors.txt                 # gensim: KeyedVectors.load_word2vec_format
  lmlab vectors export runs/w2v --binary --out vectors.bin        #   (..., binary=True)
  lmlab vectors evaluate runs/w2v --pairs wordsim353.tsv --analogies questions-words.txt
  lmlab vectors evaluate vectors.bin --pairs wordsim353.tsv       # any word2vec file, e.g. gensim's
"""


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    p = sub.add_parser("vectors", formatter_class=fmt, help="export word vectors; score them on wordsim/analogies",
                       description="Word vectors in and out. `export` writes a run's vectors in the word2vec C "
                                   "tool's text or binary format (gensim reads both). `evaluate` scores vectors "
                                   "as gensim's evaluators do: Spearman's rho against human similarity judgements "
                                   "(a word<TAB>word<TAB>score file such as gensim's wordsim353.tsv) and 3CosAdd "
                                   "accuracy on analogy questions (questions-words.txt), case-insensitive, over "
                                   "the 300,000 most frequent words; the share of questions in the vocabulary is "
                                   "reported too.", epilog=EPILOG)
    vsub = p.add_subparsers(dest="action", metavar="ACTION")
    ex = vsub.add_parser("export", help="write a run's vectors as a word2vec text or binary file")
    ex.add_argument("vectors", help=VECTORS_HELP)
    ex.add_argument("--out", required=True, help="the file to write (refused if it exists, unless --overwrite)")
    ex.add_argument("--binary", action="store_true", help="the binary format (float32), else text")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    ev = vsub.add_parser("evaluate", help="wordsim Spearman and analogy accuracy, as gensim computes them")
    ev.add_argument("vectors", help=VECTORS_HELP)
    ev.add_argument("--pairs", metavar="FILE", help="word pairs with human scores (tab-separated)")
    ev.add_argument("--analogies", metavar="FILE", help="analogy questions, four words a line, ': section' lines")
    for q in (ex, ev):
        q.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    from lmlab.tools.word_vectors import open_vectors
    if args.action is None:
        raise LmlabError("say what to do: `lmlab vectors export|evaluate …` (see `lmlab vectors --help`)")
    if args.action == "export":
        from lmlab.io.word2vec_format import save_word2vec
        if Path(args.out).exists() and not args.overwrite:
            raise LmlabError(f"{args.out} already exists; choose another --out or add --overwrite")
        wv = open_vectors(args.vectors)
        save_word2vec(args.out, wv.words, wv.vectors, binary=args.binary)
        print(f"wrote {len(wv.words)} vectors of {wv.vectors.shape[1]} dimensions to {args.out}")
        return
    if not (args.pairs or args.analogies):
        raise LmlabError("give --pairs FILE and/or --analogies FILE")
    wv = open_vectors(args.vectors)
    if args.pairs:
        r = wv.evaluate_word_pairs(args.pairs)
        print(f"{args.pairs}: spearman {r['spearman']:.4f}, pearson {r['pearson']:.4f} on {r['pairs']} pairs "
              f"({r['oov_percent']:.1f}% out of vocabulary)")
    if args.analogies:
        r = wv.evaluate_word_analogies(args.analogies)
        print(f"{args.analogies}: accuracy {r['accuracy']:.4f} on {r['questions']} questions "
              f"(coverage {r['coverage']:.1%})")
