"""The notes' worked examples: `lmlab explain`."""

from __future__ import annotations

import argparse

from lmlab.errors import LmlabError

# the options some topics take: flag -> (help); all ints, passed on only when given
TOPIC_OPTIONS = {
    "image_size": "patches: image side in pixels (default 224)",
    "patch_size": "patches: patch side in pixels (default 16)",
    "stride": "patches: pixels between patches; below the patch size they overlap (default: the patch size)",
    "channels": "patches: 3 for RGB, 1 for grey (default 3)",
    "d_model": "patches: width the shared projection maps each patch to (default 768)",
    "layer": "polysemy: the ELMo layer whose vectors are compared (0 the context-free char CNN, 1 … n_layers "
             "the biLM's; default -1, the top); a BERT gives its final layer only",
}


def cmd_explain(args) -> None:
    from lmlab.tools.explain import TOPICS, list_topics, run_topic
    if args.list:
        print(f"topics (lmlab explain TOPIC [--out DIR]):\n{list_topics()}")
        return
    if args.topic is None:
        raise LmlabError(f"say which topic: lmlab explain TOPIC, one of {', '.join(TOPICS)} "
                         "(`lmlab explain --list` describes them)")
    options = {"models": tuple(args.model) if args.model else None, "word": args.word, "sentences": args.sentences,
               "sentence_set": args.sentence_set,
               **{key: getattr(args, key) for key in TOPIC_OPTIONS}}
    run_topic(args.topic, args.out, **options)


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `explain` command's parser."""
    ex = sub.add_parser(
        "explain", formatter_class=fmt, help="the notes' worked examples, computed step by step",
        description="Run one of the notes' worked examples with lmlab's own losses, layers and optimizers.\n"
                    "Each step is printed with the numbers lmlab computes, beside the numbers the notes\n"
                    "print: ✓ agrees, ≈ the notes rounded, ✗ the notes erred (and at which step).\n"
                    "Output is deterministic (seeded). Plots are written only when --out is given.",
        epilog="examples:\n  lmlab explain --list\n  lmlab explain batch-size\n"
               "  lmlab explain attention-scaling --out explain-plots\n"
               "  lmlab explain polysemy --model runs/elmo-wiki --model runs/bert-wiki\n"
               "  lmlab explain polysemy --model runs/elmo-wiki --layer 1\n"
               "  lmlab explain polysemy --model runs/elmo-wiki --set all\n"
               "  lmlab explain polysemy --model runs/bert-zh --word 苹果 --sentences apple.tsv\n"
               "  lmlab explain patches --image-size 224 --patch-size 16 --stride 8\n"
               "  lmlab explain patches --image-size 8 --patch-size 2 --channels 1 --out explain-plots")
    ex.add_argument("topic", nargs="?", help="the topic to run (see --list)")
    ex.add_argument("--list", action="store_true", help="list the topics with a one-line summary each")
    ex.add_argument("--out", metavar="DIR", help="folder to save the topic's plot in, as TOPIC.png "
                                                 "(created if missing; default: no plot)")
    ex.add_argument("--model", action="append", metavar="RUN", help="polysemy: a trained ELMo or BERT run to "
                                                                    "measure (repeat for several)")
    ex.add_argument("--word", help="polysemy: the word to follow (default: bank)")
    ex.add_argument("--sentences", metavar="FILE", help="polysemy: your own sentences, SENSE<TAB>sentence a line "
                                                        "(default: WikiText-2's 'bank' sentences, labelled by a rule)")
    ex.add_argument("--set", dest="sentence_set", choices=("wikitext", "all"),
                    help="polysemy: which bundled 'bank' set: wikitext (default; 39 sentences, 35 occurrences "
                         "labelled by a rule) or all (every 'bank'/'banks' of the English prose at hand, labelled "
                         "by hand: 172 river or money occurrences)")
    for key, text in TOPIC_OPTIONS.items():
        ex.add_argument("--" + key.replace("_", "-"), dest=key, type=int, metavar="N", help=text)
    ex.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_explain(args)
