"""The family registry: every model family lmlab trains, loads and converts, registered once.

A `Family` names what a family is made of — its config classes, model builder, presets, task heads,
Hugging Face converter, tokenizer files and the commands that take its runs — as "module:attr"
strings, imported only when used. So building the command line imports no torch, and `models/`
never imports up. Adding a family is one `register(Family(...))` below plus the family's own modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lmlab.errors import LmlabError


def resolve(ref: str) -> Any:
    """The object a "package.module:attr.attr" string names (imported on first use)."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Family:
    name: str                               # config.json's "family"
    summary: str                            # one line, for --help and `lmlab info`
    configs: Mapping[str, str]              # config.json sections -> config class ("module:Class")
    model: str                              # built from the model config, or a builder (configs, meta) -> model
    model_takes: str = "config"             # "config": model(configs["model"]); "sections": model(configs, meta)
    presets: str | None = None              # "module:PRESETS" ({name: settings}); the module has preset(name)
    default_preset: str | None = None
    count: str | None = None                # parameter count of a model config, without building the model
    memory: str | None = None               # the memory bill of a training step (cfg, batch=, seq_len=, …) -> Bill
    defaults: Mapping[str, str] = field(default_factory=dict)  # section -> a default instance other than Class()
    tokenizer: str = ""                     # what tokenizes its text, in words
    hf: tuple[str, ...] = ()                # Hugging Face model_types it converts to and from
    heads: Mapping[str, str] = field(default_factory=dict)   # task -> head class
    lm: str = ""                            # the language-model objective it pretrains on: "causal" or "masked"
    batches: str | None = None              # (text, tok, model_cfg, data_cfg, batch_size, seed, n_eval)
                                            #   -> (train, val, val_ids): its pretraining batches from a corpus
    train: str | None = None                # the recipe behind `lmlab train NAME`
    train_options: tuple[str, ...] = ()     # optional flags of `lmlab train NAME`: config, init, tokenizer, lora, nf4
    commands: tuple[str, ...] = ()          # commands that take a run of this family
    token_vectors: str | None = None        # (folder, texts, …) -> a contextual vector per word (`embed --tokens`)
    next_step: str = ""                     # what to do with a finished run ({out} is filled in)
    about: str = ""                         # `lmlab train NAME --help`: what training does and writes
    data_help: str = "bundled corpus name (see `lmlab data list`), a UTF-8 text file, or a folder of text files"
    examples: str = ""                      # example command lines, one a line

    def config_classes(self) -> dict[str, type]:
        return {section: resolve(ref) for section, ref in self.configs.items()}

    def default_configs(self) -> dict[str, Any]:
        """An instance per section: the family's training defaults where it has its own, else Class()."""
        return {section: resolve(self.defaults[section]) if section in self.defaults else cls()
                for section, cls in self.config_classes().items()}

    def preset_names(self) -> list[str]:
        return list(resolve(self.presets)) if self.presets else []

    def published(self, name: str) -> float | None:
        """The parameter count the paper or the released checkpoint gives for a preset (its module's PUBLISHED)."""
        table = getattr(resolve(self.presets.partition(":")[0] + ":"), "PUBLISHED", {}) if self.presets else {}
        return table.get(name)

    def facts(self, model_cfg) -> list[str]:
        """Lines `lmlab info` adds for this family (its presets module's facts(cfg)), if it has any."""
        module = resolve(self.presets.partition(":")[0] + ":") if self.presets else None
        return module.facts(model_cfg) if hasattr(module, "facts") else []

    def preset(self, name: str):
        """The model config of a preset; an unknown name gets the presets module's error, which lists them."""
        if not self.presets:
            raise LmlabError(f"the {self.name} family has no presets")
        return resolve(self.presets.partition(":")[0] + ":preset")(name)  # each presets module has preset(name)

    def build(self, configs: Mapping[str, Any], meta: Mapping[str, Any] | None = None):
        """A freshly initialised model of this family from its checked configs (and config.json)."""
        builder: Callable = resolve(self.model)
        if self.model_takes == "sections":
            return builder(configs, meta or {})
        return builder(configs["model"])


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.name in FAMILIES:
        raise ValueError(f"family '{family.name}' is registered twice")
    FAMILIES[family.name] = family
    return family


def get(name: str, command: str | None = None) -> Family:
    """The family of that name (and able to serve `command`), or a clear error saying which ones are."""
    if name not in FAMILIES:
        raise LmlabError(f"unknown model family '{name}'; lmlab knows {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    if command is not None and command not in family.commands:
        able = [f.name for f in FAMILIES.values() if command in f.commands]
        raise LmlabError(f"`lmlab {command}` does not take a '{name}' run; it takes {' or '.join(able)} runs")
    return family


def with_preset(name: str) -> Family:
    """The first registered family that has a preset of that name, or an error listing every preset."""
    for family in FAMILIES.values():
        if name in family.preset_names():
            return family
    listing = "; ".join(f"{f.name}: {', '.join(f.preset_names())}" for f in FAMILIES.values() if f.presets
                        and f.default_preset)
    raise LmlabError(f"unknown preset '{name}'; the presets are {listing}")
def of_model_config(cfg: Any) -> Family:
    """The family whose "model" config class is type(cfg) (the first registered; e.g. a generic recipe's)."""
    for family in FAMILIES.values():
        ref = family.configs.get("model")
        if ref and resolve(ref) is type(cfg):
            return family
    raise LmlabError(f"no registered family takes a {type(cfg).__name__} as its model config")


def trainable() -> list[Family]:
    """The families `lmlab train FAMILY` can train, in registration order."""
    return [f for f in FAMILIES.values() if f.train]


# ---- the families --------------------------------------------------------------------------------
TRAIN = "lmlab.train.config:TrainConfig"

register(Family(
    name="gpt",
    summary="pretrain a decoder-only GPT on a text corpus (causal LM); GPT-2, GPT-3 and Llama shapes",
    configs={"model": "lmlab.models.gpt.config:GPTConfig", "train": TRAIN, "data": "lmlab.data.lm_config:LMDataConfig"},
    model="lmlab.models.gpt.model:GPT",
    presets="lmlab.models.gpt.presets:PRESETS", default_preset="nano",
    count="lmlab.models.gpt.presets:count_parameters", memory="lmlab.tools.memory.bill:training_bill",
    tokenizer="char or byte-level BPE, trained on the corpus",
    hf=("gpt2", "llama"),
    lm="causal", batches="lmlab.data.lm:causal_lm_batches",
    train="lmlab.recipes.pretrain_gpt:pretrain_gpt", train_options=("config", "init", "lora", "nf4"),
    commands=("train", "generate", "info", "hf", "lora", "quantize", "convert", "distill"),
    next_step='sample with: lmlab generate {out} --prompt "..."',
    about=("Pretrain a GPT (next-token prediction) on a text corpus. Writes a run directory with config.json, "
           "tokenizer.json, model.safetensors, train_state.pt, metrics.jsonl, loss.png and samples.txt."),
    examples="""\
examples:
  lmlab data list
  lmlab train gpt --data tinyshakespeare --config shakespeare-char --time-budget 120 --out runs/shakespeare
  lmlab train gpt --data tang300 --preset nano --tokenizer bpe --bpe_vocab_size 1000 --out runs/tang
  lmlab generate runs/shakespeare --prompt "ROMEO:" --max-new-tokens 300
  lmlab info --preset gpt2-small
""",
))

register(Family(
    name="bert",
    summary="pretrain a BERT encoder on a text corpus (masked LM + NSP/SOP)",
    configs={"model": "lmlab.models.bert.config:BertConfig", "train": TRAIN,
             "data": "lmlab.data.bert_pretraining:BertDataConfig"},
    model="lmlab.models.bert.model:BertForPreTraining",
    presets="lmlab.models.bert.presets:PRESETS", default_preset="bert-tiny",
    count="lmlab.models.bert.presets:count_parameters",
    tokenizer="WordPiece, trained on the corpus or given (tokenizer.json or vocab.txt)",
    hf=("bert",),
    lm="masked", batches="lmlab.data.bert_pretraining:masked_lm_batches",
    heads={"mlm": "lmlab.models.bert.model:BertForMaskedLM",
           "classify": "lmlab.models.bert.model:BertForSequenceClassification",
           "tokens": "lmlab.models.bert.model:BertForTokenClassification"},
    train="lmlab.recipes.pretrain_bert:pretrain_bert", train_options=("config", "tokenizer", "lora", "nf4"),
    commands=("train", "embed", "fill-mask", "finetune", "info", "hf", "lora", "distill"),
    token_vectors="lmlab.tools.token_vectors:bert_word_vectors",
    next_step='embed with: lmlab embed {out} "..."; fine-tune with: lmlab finetune classify --model {out} ...',
    about=("Pretrain a BERT (masked-language modelling, plus next-sentence or sentence-order prediction) on a text "
           "corpus split into documents at blank lines and segments at line breaks. A WordPiece tokenizer is "
           "trained on the corpus. Writes config.json, tokenizer.json, model.safetensors, train_state.pt, "
           "metrics.jsonl (val_mlm_loss, val_mlm_acc, val_sentence_acc) and loss.png."),
    examples="""\
examples:
  lmlab train bert --data tinyshakespeare --preset bert-mini --out runs/bert
  lmlab train bert --data tinyshakespeare --preset bert-tiny --masking whole_word --sentence_task sop --out runs/wwm
  lmlab train bert --data my_texts/ --masking span --sentence_task none --dynamic true --out runs/spanbert
  lmlab train bert --out runs/bert --resume --max_steps 4000       # continue a run, with more steps
  lmlab train bert --data my_texts/ --tokenizer bert-base-uncased/vocab.txt --out runs/bert-vocab
""",
))

register(Family(
    name="bert-classifier",
    summary="a BERT encoder with a sequence-classification head (`lmlab finetune classify`)",
    configs={"model": "lmlab.models.bert.config:BertConfig", "train": TRAIN,
             "data": "lmlab.data.classification:ClassificationDataConfig",
             "finetune": "lmlab.train.config:FinetuneConfig"},
    model="lmlab.models.bert.model:BertForSequenceClassification.from_sections", model_takes="sections",
    presets="lmlab.models.bert.presets:PRESETS",
    count="lmlab.models.bert.presets:count_parameters",
    tokenizer="the encoder's WordPiece",
    hf=("bert",),  # exported as BertForSequenceClassification; a BERT folder imports as "bert" (registered first)
    commands=("info", "lora", "hf"),
))

register(Family(
    name="seq2seq",
    summary="train an encoder-decoder Transformer to translate, on a parallel corpus",
    configs={"model": "lmlab.models.seq2seq.config:Seq2SeqConfig", "train": TRAIN,
             "data": "lmlab.data.translation:TranslationDataConfig"},
    defaults={"train": "lmlab.train.config:TRANSLATION_TRAIN"},
    model="lmlab.models.seq2seq.model:Seq2SeqTransformer",
    presets="lmlab.models.seq2seq.presets:PRESETS", default_preset="transformer-small",
    count="lmlab.models.seq2seq.presets:count_parameters",
    tokenizer="byte-level BPE trained on the pairs: one joint, or one per side",
    train="lmlab.recipes.train_seq2seq:train_seq2seq", train_options=("config",),
    commands=("train", "translate", "info"),
    next_step='translate with: lmlab translate {out} "some text"',
    about=("Train the encoder-decoder Transformer of \"Attention Is All You Need\" on sentence pairs\n"
           "(a .tsv with a header row, e.g. `en<TAB>zh<TAB>…`, or .jsonl; --source/--target name the\n"
           "columns, default the first two). Pairs are split into train / validation / test (seeded,\n"
           "never the same source sentence in two splits); a byte-level BPE is trained on the\n"
           "training pairs (joint by default, so source embedding, target embedding and output layer\n"
           "share one matrix); batches hold about --batch_tokens tokens of similar-length pairs, so\n"
           "--batch_size is not used. Loss: label-smoothed cross-entropy (--label_smoothing, default\n"
           "0.1); schedule: the paper's inverse square root after --warmup_steps (peak --lr), or\n"
           "--schedule warmup_cosine. Each evaluation logs val_loss, val_acc and, on --bleu_sentences\n"
           "validation pairs translated greedily, val_bleu and val_chrf (sacrebleu; Chinese is scored\n"
           "per character) in metrics.jsonl, with a few translations in samples.txt."),
    examples="""\
examples:
  lmlab train seq2seq --data messages.en-zh.tsv --preset transformer-small --time-budget 1200 --out runs/en-zh
  lmlab train seq2seq --data pairs.jsonl --source de --target en --joint_vocab false --share_embeddings false \\
      --bpe_vocab_size 4000 --out runs/de-en
  lmlab train seq2seq --data messages.en-fr.tsv --schedule warmup_cosine --lr 5e-4 --label_smoothing 0.2 --out runs/fr
  lmlab train seq2seq --out runs/en-zh --resume --max_steps 8000
""",
    data_help="parallel corpus: .tsv (header row) or .jsonl",
))

register(Family(
    name="word2vec",
    summary="word vectors from a text corpus: skip-gram or CBOW, negative sampling or hierarchical softmax",
    configs={"model": "lmlab.models.word2vec.config:Word2VecConfig",
             "train": "lmlab.models.word2vec.config:Word2VecTrainConfig", "data": "lmlab.data.words:WordDataConfig"},
    model="lmlab.models.word2vec.model:Word2Vec",
    presets="lmlab.models.word2vec.presets:PRESETS", default_preset="sgns-100",
    count="lmlab.models.word2vec.presets:count_parameters",
    tokenizer="words split on whitespace, characters, or jieba",
    train="lmlab.recipes.train_word2vec:train_word2vec", train_options=("config",),
    commands=("train", "similar", "analogy", "vectors"),
    next_step="query with: lmlab similar {out} WORD; lmlab analogy {out} man king woman",
    about=("Train word2vec (Mikolov et al. 2013): each line of the corpus is a sentence of words; words seen fewer "
           "than --min_count times are dropped, frequent ones sub-sampled (--sample), and each centre word's "
           "window is shrunk at random to 1..--window. --arch skipgram predicts the centre word from each context "
           "word, cbow from the mean of them; --loss neg contrasts it with --negative noise words drawn from the "
           "unigram distribution to the 3/4 power, hs walks its path in a Huffman tree. Plain SGD, the rate decayed "
           "linearly from --lr to --min_lr. Writes config.json, model.safetensors, vocab.txt and metrics.json."),
    examples="""\
examples:
  lmlab train word2vec --data wiki.txt --arch skipgram --loss neg --dim 100 --window 5 --negative 5 --epochs 5 --out runs/w2v
  lmlab train word2vec --data tinyshakespeare --preset cbow-100 --min_count 3 --out runs/cbow
  lmlab train word2vec --data zh.txt --split jieba --loss hs --out runs/zh    # or --split chars
  lmlab similar runs/w2v king;  lmlab analogy runs/w2v man king woman
  lmlab vectors export runs/w2v --binary --out vectors.bin
""",
))

register(Family(
    name="item2vec",
    summary="item vectors from baskets (a Debian package and its dependencies): skip-gram over whole baskets",
    configs={"model": "lmlab.models.word2vec.config:Word2VecConfig",
             "train": "lmlab.models.word2vec.config:Word2VecTrainConfig",
             "data": "lmlab.data.baskets:BasketDataConfig"},
    model="lmlab.models.word2vec.model:Word2Vec",
    presets="lmlab.models.word2vec.presets:PRESETS", default_preset="sgns-100",
    count="lmlab.models.word2vec.presets:count_parameters",
    tokenizer="package names",
    train="lmlab.recipes.train_item2vec:train_item2vec", train_options=("config",),
    commands=("train", "similar", "analogy", "vectors"),
    next_step="query with: lmlab similar {out} python3-numpy",
    about=("Train Item2Vec (Barkan & Koenigstein 2016): skip-gram with negative sampling where each basket, a "
           "package of a packages.jsonl with its dependencies (first real alternative of each group; virtual "
           "names resolved through `provides` when one package provides them, else dropped), is a sentence whose "
           "window is the whole basket. Writes config.json, model.safetensors, vocab.txt, sections.json and "
           "metrics.json (with the counts of resolved and dropped dependencies)."),
    examples="""\
examples:
  lmlab train item2vec --data ../shared/data/debian/packages.jsonl --epochs 5 --out runs/debian
  lmlab similar runs/debian python3-numpy
""",
    data_help="a packages.jsonl: one JSON object a line with name, section, depends, provides",
))

register(Family(
    name="elmo",
    summary="pretrain ELMo: a character CNN and forward + backward LSTM language models (contextual word vectors)",
    configs={"model": "lmlab.models.elmo.config:ElmoConfig", "train": TRAIN,
             "data": "lmlab.data.word_chars:WordDataConfig"},
    defaults={"train": "lmlab.train.config:ELMO_TRAIN"},
    model="lmlab.models.elmo.model:Elmo",
    presets="lmlab.models.elmo.presets:PRESETS", default_preset="elmo-tiny",
    count="lmlab.models.elmo.presets:count_parameters",
    tokenizer="words (runs of letters and digits, punctuation marks), read as UTF-8 bytes by the character CNN",
    train="lmlab.recipes.train_elmo:train_elmo", train_options=("config",),
    commands=("train", "embed", "info"),
    token_vectors="lmlab.tools.token_vectors:elmo_word_vectors",
    next_step='word vectors in context with: lmlab embed {out} "..." --tokens',
    about=("Pretrain ELMo's bidirectional language model (Peters et al. 2018) on a text corpus: each word is\n"
           "read from its characters (char CNN + highway layers), a forward LSTM LM predicts the next word\n"
           "and a separate backward LSTM LM the previous one; the loss is the sum of both cross-entropies,\n"
           "over a softmax of the corpus's --max_vocab most frequent words. Writes config.json, vocab.txt,\n"
           "model.safetensors, train_state.pt, metrics.jsonl (val_fwd_ppl and val_bwd_ppl: each LM's\n"
           "perplexity; val_ppl = exp of the summed loss is their product) and loss.png."),
    examples="""\
examples:
  lmlab train elmo --data tinyshakespeare --time-budget 300 --out runs/elmo
  lmlab train elmo --data /path/to/wikitext-2/valid.txt --preset elmo-small --max_vocab 10000 --out runs/elmo-wiki
  lmlab train elmo --out runs/elmo --resume --max_steps 4000
  lmlab embed runs/elmo "The river bank was steep ." "He paid the bank ." --tokens
  lmlab info --preset original                   # the paper's ELMo: 93.6M without the softmax
""",
))

IMAGES_DATA = "`digits` (scikit-learn's 1,797 8×8 digits) or a folder of class folders: FOLDER/CLASS_NAME/*.png|jpg"
IMAGES_ABOUT = ("Train an image classifier on scikit-learn's 8×8 digits (`--data digits`) or on a folder of class "
                "folders (FOLDER/CLASS_NAME/*.png|jpg), split into train / validation / test (stratified, seeded). "
                "Every image is converted to the model's channels and size and normalised; the settings are saved "
                "with the run and reused by `lmlab classify`. Augmentation: random shifts (--shift, pixels), "
                "optional flips (--flip true; never for digits). --init RUN starts from another run's weights (e.g. a "
                "Hugging Face ResNet imported with `lmlab hf import`; --input_size sets the image size then). The "
                "weights kept are the evaluation's best on "
                "validation. Writes config.json, model.safetensors, train_state.pt, metrics.jsonl (val_loss, "
                "val_acc, val_accuracy), loss.png, results.json (test accuracy, macro-F1, confusion matrix) and "
                "confusion.png")

register(Family(
    name="cnn",
    summary="train an image classifier CNN (AlexNet, VGG, ResNet) on digits or a folder of class folders",
    configs={"model": "lmlab.models.cnn.config:CNNConfig", "train": TRAIN, "data": "lmlab.data.images:ImageDataConfig"},
    defaults={"train": "lmlab.recipes.train_images:IMAGE_TRAIN"},
    model="lmlab.models.cnn.model:CNN",
    presets="lmlab.models.cnn.presets:PRESETS", default_preset="resnet-digits",
    count="lmlab.models.cnn.presets:count_parameters",
    tokenizer="none (images: resized, converted, normalised)",
    hf=("resnet",),
    train="lmlab.recipes.train_images:train_images", train_options=("config", "init"),
    commands=("train", "classify", "info", "hf"),
    next_step="classify images with: lmlab classify {out} IMAGE.png",
    about=IMAGES_ABOUT + ", and, for a CNN, filters.png and feature_maps.png (the first layer's filters and "
                         "what they make of a test image).",
    examples="""\
examples:
  lmlab train cnn --data digits --out runs/digits-resnet                     # resnet-digits, about a minute
  lmlab train cnn --data digits --preset vgg-digits --max_steps 1500 --out runs/digits-vgg
  lmlab train cnn --data my_photos/ --preset resnet-small --flip true --shift 4 --out runs/photos
  lmlab train cnn --data my_photos/ --init runs/resnet18-imported --lr 1e-4 --out runs/photos-ft
  lmlab classify runs/digits-resnet seven.png --top-k 3
  lmlab info --preset resnet50
""",
    data_help=IMAGES_DATA,
))

register(Family(
    name="vit",
    summary="train a Vision Transformer (patches with any stride, the shared encoder) on digits or class folders",
    configs={"model": "lmlab.models.vit.config:ViTConfig", "train": TRAIN, "data": "lmlab.data.images:ImageDataConfig"},
    defaults={"train": "lmlab.recipes.train_images:IMAGE_TRAIN"},
    model="lmlab.models.vit.model:ViTForImageClassification",
    presets="lmlab.models.vit.presets:PRESETS", default_preset="vit-digits",
    count="lmlab.models.vit.presets:count_parameters",
    tokenizer="none: images are cut into patches (lmlab explain patches)",
    hf=("vit",),
    train="lmlab.recipes.train_images:train_images", train_options=("config", "init"),
    commands=("train", "classify", "info", "hf"),
    next_step="classify images with: lmlab classify {out} IMAGE.png",
    about=IMAGES_ABOUT + ", and, for a ViT, rollout.png (attention rollout over a test image).",
    examples="""\
examples:
  lmlab train vit --data digits --out runs/digits-vit                        # vit-digits: 2×2 patches, 16 tokens
  lmlab train vit --data digits --stride 1 --out runs/digits-vit-overlap     # overlapping: 7×7 = 49 patches
  lmlab train vit --data digits --pool mean --max_steps 2000 --out runs/digits-vit-mean
  lmlab train vit --data my_photos/ --preset vit-tiny --flip true --out runs/photos-vit
  lmlab explain patches --image-size 224 --patch-size 16 --stride 8
  lmlab info --preset vit-b16
""",
    data_help=IMAGES_DATA,
))
