"""Train or try a tokenizer: `lmlab tokenizer train|encode`."""

from __future__ import annotations

import argparse
from pathlib import Path

from lmlab.cli._common import skip_bad_flag
from lmlab.errors import LmlabError


def cmd_tokenizer(args) -> None:
    from lmlab.data.tokenizers import TextTokenizer, train_tokenizer
    if args.tokenizer_command == "train":
        from lmlab.data.corpora import load_text
        out = Path(args.out)
        if out.exists() and not args.overwrite:
            raise LmlabError(f"{out} exists; pass --overwrite to replace it")
        if args.vocab_size <= 0:
            raise LmlabError(f"--vocab-size must be positive, got {args.vocab_size}")
        tok = train_tokenizer(args.kind, load_text(args.data, args.skip_bad), args.vocab_size, lowercase=not args.cased)
        out.parent.mkdir(parents=True, exist_ok=True)
        tok.save(out)
        specials = ", ".join(f"{name} {i}" for name, i in tok.special_ids.items())
        print(f"wrote {out}: {tok.kind} tokenizer, {tok.vocab_size} tokens" + (f" (specials: {specials})"
              if specials else "") + f"; try: lmlab tokenizer encode {out} \"some text\"")
    elif args.tokenizer_command == "encode":
        if args.max_len is not None and args.max_len <= 0:
            raise LmlabError(f"--max-len must be positive, got {args.max_len}")
        tok = TextTokenizer.load(args.tokenizer, lowercase=not args.cased)
        if tok.kind == "wordpiece" or args.pair is not None:  # BERT's [CLS] A [SEP] B [SEP]
            enc = tok.encode_pair(args.text, args.pair, max_len=args.max_len)
            ids, segments = enc["input_ids"], enc["token_type_ids"]
        else:
            ids = tok.encode(args.text)[:args.max_len]
            segments = [0] * len(ids)
        words = tok.word_ids(ids) if tok.kind != "bpe" else [None] * len(ids)
        print(f"{'pos':>4}  {'token':<16} {'id':>6}  segment  word")
        for pos, (t, i, seg, w) in enumerate(zip(tok.tokens(ids), ids, segments, words)):
            print(f"{pos:>4}  {t!r:<16} {i:>6}  {seg:>7}  {'-' if w is None else w:>4}")
        print(f"tokens:         {tok.tokens(ids)}\ninput_ids:      {ids}\ntoken_type_ids: {segments}")
    else:
        raise LmlabError("say `lmlab tokenizer train --kind KIND --data DATA --vocab-size N --out FILE` "
                         "or `lmlab tokenizer encode TOKENIZER \"text\" [\"pair text\"]`")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `tokenizer` command's parser."""
    tk = sub.add_parser("tokenizer", help="train a tokenizer (char, bpe, BERT's wordpiece) or see how one "
                                          "encodes",
                        description="Train a tokenizer on a corpus, or show the tokens, ids and segment ids "
                                    "(token_type_ids) a tokenizer gives a text or a BERT pair.")
    tksub = tk.add_subparsers(dest="tokenizer_command", metavar="ACTION")
    tt = tksub.add_parser(
        "train", formatter_class=fmt, help="train a tokenizer on a corpus and save it as tokenizer.json",
        description="char: one token per character; bpe: GPT-2's byte-level BPE; wordpiece: BERT's\n"
                    "(lowercase, strip accents, split CJK characters and punctuation, '##' pieces, with\n"
                    "[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4).",
        epilog="example:\n  lmlab tokenizer train --kind wordpiece --data tinyshakespeare --vocab-size 2000 "
               "--out wp.json")
    tt.add_argument("--kind", required=True, choices=("wordpiece", "bpe", "char"), help="which tokenizer")
    tt.add_argument("--data", required=True, help="bundled corpus name, a UTF-8 text file or a folder")
    tt.add_argument("--vocab-size", type=int, default=1024,
                    help="tokens in the vocabulary, specials included (bpe, wordpiece; default: 1024)")
    tt.add_argument("--cased", action="store_true",
                    help="wordpiece: keep case and accents (default: lowercase)")
    tt.add_argument("--out", required=True, help="the tokenizer.json to write")
    tt.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    skip_bad_flag(tt)
    te = tksub.add_parser(
        "encode", formatter_class=fmt, help="show the tokens, ids and segment ids of a text or a pair",
        description="Encode TEXT (and PAIR) with a tokenizer.json or a BERT vocab.txt. A wordpiece\n"
                    "tokenizer gives BERT's input, [CLS] TEXT [SEP] PAIR [SEP], with segment id 0 for the\n"
                    "first part and 1 for the second; `word` numbers the words ('##' pieces join the word\n"
                    "before).",
        epilog="example:\n  lmlab tokenizer encode wp.json \"The cat sat.\" \"It purred.\"")
    te.add_argument("tokenizer", help="a tokenizer.json, or a BERT vocab.txt")
    te.add_argument("text", help="the text (sentence A)")
    te.add_argument("pair", nargs="?", help="a second text (sentence B), for BERT pairs")
    te.add_argument("--max-len", type=int, help="truncate to this many tokens, the longer text first")
    te.add_argument("--cased", action="store_true", help="vocab.txt of a cased BERT: do not lowercase")
    for q in (tt, te):
        q.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_tokenizer(args)
