"""`lmlab tag RUN TEXT…`: the entities a fine-tuned token classifier (`lmlab finetune ner`) finds in texts."""

from __future__ import annotations

import argparse
import sys

from lmlab.errors import LmlabError


def _lines(text: str, entities: list[dict]) -> list[str]:
    """A text, then one line per entity: type, character span, score, its text."""
    if not entities:
        return [text, "  (no entities)"]
    width = max(len(e["type"]) for e in entities)
    return [text] + [f"  {e['type']:<{width}}  {e['start']:>4}-{e['end']:<4}  {e['score']:.3f}  {e['text']}"
                     for e in entities]


def run(args) -> None:
    texts = list(args.text)
    if args.file:
        from lmlab.data.rows import read_text
        texts += [line for line in read_text(args.file)[0].splitlines() if line.strip()]
    if not texts:
        raise LmlabError('no texts: give one or more, e.g. lmlab tag runs/ner "Perl bindings for libfoo", '
                         "or --file FILE (one text a line)")
    from lmlab.runs.run import Run
    from lmlab.tools.token_tagging import tag_texts

    run_ = Run.open(args.run, family="bert-ner", command="tag")
    model, tok = run_.model().eval(), run_.tokenizer()
    max_len = run_.config("data").max_len
    found = tag_texts(model, tok, run_.meta["labels"], texts, max_len)
    if args.json:
        import json
        print(json.dumps([{"text": t, "entities": e} for t, e in zip(texts, found)], ensure_ascii=False, indent=1))
        return
    sys.stdout.write("\n\n".join("\n".join(_lines(t, e)) for t, e in zip(texts, found)) + "\n")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `tag` command's parser."""
    p = sub.add_parser(
        "tag", formatter_class=fmt, help="the entities a token classifier (`lmlab finetune ner`) finds in texts",
        description="Split each text into words (at spaces, with brackets, quotes and , ; : ! ? and a final\n"
                    "full stop split off, so `(see /etc/hosts).` is ( see /etc/hosts ) .), label every word by\n"
                    "its first WordPiece as the model was trained, and group the labels into entities as\n"
                    "transformers' pipeline(\"token-classification\", aggregation_strategy=\"first\") does: B-X\n"
                    "begins an entity, I-X continues one of type X. Each entity is printed with its type, its\n"
                    "character span in the text, its score (the mean of its words' probabilities) and its text.",
        epilog="examples:\n"
               '  lmlab tag runs/ner "Perl bindings for the libfoo library"\n'
               '  lmlab tag runs/ner "cannot open %s: use --force" "see /etc/apt/sources.list" --json\n'
               "  lmlab tag runs/ner --file messages.txt          # one text a line")
    p.add_argument("run", help="a run of `lmlab finetune ner`")
    p.add_argument("text", nargs="*", help="texts to tag")
    p.add_argument("--file", help="a UTF-8 file of texts, one a line")
    p.add_argument("--json", action="store_true",
                   help='print JSON: [{"text", "entities": [{"type", "text", "start", "end", "score"}]}]')
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
