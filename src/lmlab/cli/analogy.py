"""`lmlab analogy VECTORS A B C`: A is to B as C is to ? (3CosAdd or 3CosMul over unit vectors)."""

from __future__ import annotations

import argparse

from lmlab.cli.similar import VECTORS_HELP


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    p = sub.add_parser("analogy", formatter_class=fmt, help="word analogies: a is to b as c is to ?",
                       description="Answer 'A is to B as C is to ?' with word vectors. 3CosAdd (Mikolov et al. "
                                   "2013): the word nearest to B - A + C. 3CosMul (Levy & Goldberg 2014): the word "
                                   "x maximising cos'(x,B)·cos'(x,C) / (cos'(x,A) + 1e-6), cos' = (1 + cos)/2, "
                                   "which stops one large similarity from dominating. A, B and C are never answers.",
                       epilog="examples:\n  lmlab analogy runs/w2v man king woman          # king - man + woman\n"
                              "  lmlab analogy runs/w2v paris france berlin --method mul --topn 3\n")
    p.add_argument("vectors", help=VECTORS_HELP)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("c")
    p.add_argument("--method", choices=("add", "mul", "both"), default="both",
                   help="3CosAdd, 3CosMul, or both side by side (default: both)")
    p.add_argument("--topn", type=int, default=5, help="how many answers (default: 5)")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    from lmlab.tools.word_vectors import open_vectors
    wv = open_vectors(args.vectors)
    methods = ("add", "mul") if args.method == "both" else (args.method,)
    print(f"{args.a} : {args.b} :: {args.c} : ?")
    for method in methods:
        answers = wv.analogy(args.a, args.b, args.c, args.topn, method)
        print(f"  3Cos{method.capitalize()}: " + ", ".join(f"{w} ({s:.3f})" for w, s in answers))
