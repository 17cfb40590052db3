"""`lmlab similar VECTORS WORD…`: the nearest words by cosine similarity (word2vec / item2vec vectors)."""

from __future__ import annotations

import argparse

VECTORS_HELP = ("a word2vec or item2vec run folder, or a word2vec vectors file (text or binary, e.g. one written "
                "by gensim's save_word2vec_format)")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    p = sub.add_parser("similar", formatter_class=fmt, help="nearest words of word vectors (cosine similarity)",
                       description="The words whose vectors point the most the same way as WORD's: cosine "
                                   "similarity of the input vectors, the word itself left out. A word not in the "
                                   "vocabulary is an error that names the closest words by spelling.",
                       epilog="examples:\n  lmlab similar runs/w2v king queen --topn 5\n"
                              "  lmlab similar vectors.bin python3-numpy\n")
    p.add_argument("vectors", help=VECTORS_HELP)
    p.add_argument("word", nargs="+", help="one or more words")
    p.add_argument("--topn", type=int, default=10, help="how many neighbours (default: 10)")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    from lmlab.tools.word_vectors import open_vectors
    wv = open_vectors(args.vectors)
    for word in args.word:
        print(f"{word}:")
        for other, score in wv.similar(word, args.topn):
            print(f"  {score:7.4f}  {other}")
