"""Sentence embeddings from a BERT, word vectors in context from a BERT or an ELMo: `lmlab embed`."""

from __future__ import annotations

import argparse

from lmlab.cli._common import skip_bad_flag
from lmlab.errors import LmlabError


def cmd_embed(args) -> None:
    texts = list(args.text)
    if args.input is not None:
        from lmlab.recipes.embed import read_texts
        texts += read_texts(args.input, args.skip_bad)
    if not texts:
        raise LmlabError("no texts to embed: give them as arguments or with --input FILE (one per line)")
    for flag, value in (("--max-len", args.max_len), ("--batch-size", args.batch_size)):
        if value is not None and value <= 0:
            raise LmlabError(f"{flag} must be positive, got {value}")
    if args.tokens:
        from lmlab.recipes.embed import embed_tokens
        rows = embed_tokens(args.model, texts, args.normalize, args.max_len, args.batch_size, args.device,
                            args.out, args.layer)
        if args.out is None:
            import json
            print(json.dumps(rows, ensure_ascii=False))
        else:
            print(f"wrote the vectors of {sum(len(r['words']) for r in rows)} words in {len(rows)} texts to {args.out}")
        return
    if args.layer is not None:
        raise LmlabError("--layer picks an ELMo layer for word vectors; use it with --tokens")
    from lmlab.recipes.embed import embed, to_json
    vectors = embed(args.model, texts, args.pooling, args.normalize, args.max_len, args.batch_size,
                    args.device, args.out)
    if args.out is None:
        print(to_json(texts, vectors))
    else:
        print(f"wrote {len(texts)} embeddings of {vectors.shape[1]} dimensions to {args.out}")


def add_parser(sub, fmt=argparse.RawDescriptionHelpFormatter) -> None:
    """The `embed` command's parser."""
    em = sub.add_parser(
        "embed", formatter_class=fmt, help="sentence embeddings (BERT), or word vectors in context (--tokens: BERT, ELMo)",
        description="One vector per text, as sentence-transformers computes it: [CLS] text [SEP] through the\n"
                    "encoder, then the mean of the token vectors over the attention mask ([CLS] and [SEP]\n"
                    "included, padding not) or the [CLS] vector, optionally scaled to unit length (then a\n"
                    "dot product is the cosine similarity). Without --out, JSON goes to stdout:\n"
                    '[{"text": ..., "embedding": [...]}, ...]. A sentence-transformers folder (modules.json),\n'
                    "or a run imported from one, gives its own pooling and normalisation as the defaults.\n\n"
                    "With --tokens, one vector per word instead, from a BERT or an ELMo run: the same word gets\n"
                    "another vector in another sentence (\"bank\" of a river, of money). BERT: the mean of the\n"
                    "word's WordPiece vectors of the final layer. ELMo: the mean of its layers (the char CNN's\n"
                    "token vector and each biLM layer, forward and backward concatenated: ScalarMix with equal\n"
                    "weights, as before a task trains them), or one layer with --layer. JSON:\n"
                    '[{"text": ..., "words": [...], "vectors": [[...], ...]}, ...].',
        epilog="examples:\n  lmlab embed runs/bert \"To be, or not to be.\" \"All the world's a stage.\"\n"
               "  lmlab embed path/to/hf-bert --input sentences.txt --pooling cls --normalize --out emb.npy\n"
               "  lmlab embed path/to/all-MiniLM-L6-v2 \"a sentence\"     # its mean pooling + normalisation\n"
               "  lmlab embed runs/elmo \"The river bank flooded .\" \"The bank raised rates .\" --tokens\n"
               "  lmlab embed runs/elmo --tokens --layer 2 --input sentences.txt --out words.json\n"
               "  lmlab embed runs/bert \"I sat on the bank .\" --tokens --normalize")
    em.add_argument("model", help="an lmlab BERT run (`lmlab train bert`) or a Hugging Face BERT folder; with "
                                  "--tokens also an ELMo run (`lmlab train elmo`)")
    em.add_argument("text", nargs="*", help="texts to embed (or use --input)")
    em.add_argument("--input", metavar="FILE", help="a UTF-8 file of texts, one per line (blank lines skipped); "
                                                    "added after the texts given as arguments")
    em.add_argument("--pooling", choices=("mean", "cls"),
                    help="mean over real tokens, or the [CLS] vector (default: a sentence-transformers folder's "
                         "own, else mean)")
    em.add_argument("--normalize", action=argparse.BooleanOptionalAction,
                    help="L2-normalise each embedding to length 1 (default: a sentence-transformers folder's "
                         "own, else not)")
    em.add_argument("--max-len", type=int, help="truncate texts to this many tokens, [CLS] and [SEP] included "
                                                "(default: a sentence-transformers folder's max_seq_length, else "
                                                "the tokenizer's model_max_length or the model's max_seq_len)")
    em.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default: 32)")
    em.add_argument("--tokens", action="store_true", help="one vector per word (in its context) instead of one per "
                                                          "text; BERT and ELMo runs; JSON only")
    em.add_argument("--layer", type=int, help="with --tokens on an ELMo run: this layer only (0: the char CNN's "
                                              "context-free vectors, 1..L: the biLM layers) instead of their mean")
    em.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    em.add_argument("--out", metavar="FILE", help="write FILE.npy (float32 array (N, C)) or FILE.json instead "
                                                  "of printing JSON (--tokens: FILE.json)")
    skip_bad_flag(em)
    em.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def run(args) -> None:
    cmd_embed(args)
