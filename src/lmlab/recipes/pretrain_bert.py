"""Pretrain a BERT (Devlin et al. 2019): masked-LM + a sentence-pair task, on a text corpus.

The corpus is split into documents at blank lines and into segments at line breaks (for Tiny
Shakespeare: a speech is a document, a verse line a segment). A WordPiece tokenizer is trained on
the training part; examples are "[CLS] A [SEP] B [SEP]" pairs for NSP or SOP (or packed segments
for "none", RoBERTa's choice); the collator masks 15 % of the tokens by the chosen strategy, anew
for every batch (dynamic, RoBERTa) or once per example (static, BERT). The loss is MLM + the
sentence loss; evaluation reports both, with their accuracies, on held-out documents.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from lmlab import __version__
from lmlab.config import to_dict
from lmlab.data.corpora import BUNDLED, load_text
from lmlab.data.mlm import MaskingConfig, MLMCollator, continuation_table
from lmlab.data.sentence_pairs import make_pretraining_examples
from lmlab.data.tokenizers import TextTokenizer, train_tokenizer
from lmlab.errors import LmlabError
from lmlab.io.checkpoint import load_config, save_config
from lmlab.io.hf_bert import load_hf_bert
from lmlab.io.peft_adapters import run_adapter_writer
from lmlab.models.bert import BertConfig
from lmlab.models.bert.model import BertForPreTraining, BertModel
from lmlab.nn.nf4_linear import NF4Config
from lmlab.peft.apply import apply_lora
from lmlab.peft.lora import LoRAConfig, run_lora_config
from lmlab.peft.qlora import run_nf4_config, run_nf4_section
from lmlab.recipes.run_dir import load_run_weights, prepare_run_dir, read_run_configs
from lmlab.train.config import TrainConfig
from lmlab.train.objectives import bert_pretraining
from lmlab.train.trainer import Trainer


@dataclass(frozen=True)
class BertDataConfig:
    tokenizer_vocab_size: int = 2000  # WordPiece vocabulary trained on the corpus (sets the model's vocab_size)
    lowercase: bool = True
    max_len: int = 64               # tokens per example, [CLS] and [SEP]s included
    masking: str = "token"          # token | whole_word | span
    mask_prob: float = 0.15
    dynamic: bool = True            # a new mask each time an example is drawn (RoBERTa); False: fixed (BERT)
    sentence_task: str = "nsp"      # nsp | sop | none
    val_fraction: float = 0.1       # the last documents are held out

    def __post_init__(self):
        if self.masking not in ("token", "whole_word", "span"):
            raise ValueError(f"masking must be token, whole_word or span; got '{self.masking}'")
        if self.sentence_task not in ("nsp", "sop", "none"):
            raise ValueError(f"sentence_task must be nsp, sop or none; got '{self.sentence_task}'")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


def documents(text: str) -> list[list[str]]:
    """Paragraphs (split at blank lines) of non-empty lines."""
    docs = [[line.strip() for line in para.splitlines() if line.strip()] for para in text.split("\n\n")]
    return [d for d in docs if d]


class ExampleBatches:
    """Random batches of examples through the MLM collator; resumable (its RNG and the collator's)."""

    def __init__(self, examples: list[dict], collator: MLMCollator, batch_size: int, seed: int):
        self.examples, self.collator, self.batch_size = examples, collator, batch_size
        self.rng = random.Random(seed)

    def next(self) -> dict[str, torch.Tensor]:
        return self.collator(self.rng.sample(self.examples, min(self.batch_size, len(self.examples))))

    def state_dict(self) -> dict:
        return {"rng": list(self.rng.getstate()[1]), "gauss": self.rng.getstate()[2],
                "collator": self.collator.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate((3, tuple(state["rng"]), state["gauss"]))
        self.collator.load_state_dict(state["collator"])


def _examples(docs: list[list[str]], tok: TextTokenizer, cfg: BertDataConfig, seed: int) -> list[dict]:
    ids = [[tok.encode(seg) for seg in doc] for doc in docs]
    sp = tok.special_ids
    examples = make_pretraining_examples(ids, cfg.sentence_task, cfg.max_len, sp["cls"], sp["sep"], seed)
    for i, ex in enumerate(examples):
        ex["index"] = i
    return examples


CONFIG_CLASSES = {"model": BertConfig, "train": TrainConfig, "data": BertDataConfig}  # config.json's sections


def split_documents(text: str, val_fraction: float, name: str = "the corpus") -> tuple[list, list]:
    """Training and held-out documents (the last `val_fraction` of them)."""
    docs = documents(text)
    n_val = max(1, int(len(docs) * val_fraction))
    if len(docs) - n_val < 2:
        raise LmlabError(f"{name} has {len(docs)} paragraph(s); BERT pretraining needs documents separated "
                         "by blank lines (at least 3)")
    return docs[:-n_val], docs[-n_val:]


def mlm_batches(train_docs: list, val_docs: list, tok: TextTokenizer, data_cfg: BertDataConfig,
                train_cfg: TrainConfig) -> tuple[ExampleBatches, list[dict], tuple[int, int]]:
    """Masked "[CLS] A [SEP] B [SEP]" training batches (a new mask per draw if dynamic), fixed validation
    batches (fixed masks, so evaluations compare), and the (train, val) example counts."""
    train_ex = _examples(train_docs, tok, data_cfg, train_cfg.seed)
    val_ex = _examples(val_docs, tok, data_cfg, train_cfg.seed + 1)
    if not val_ex:
        raise LmlabError("the held-out documents give no examples; raise val_fraction or add text")
    sp = tok.special_ids
    masking = MaskingConfig(strategy=data_cfg.masking, mask_prob=data_cfg.mask_prob, dynamic=data_cfg.dynamic)
    cont = continuation_table(tok.tok.get_vocab())

    def collator(cfg: MaskingConfig, seed: int) -> MLMCollator:
        return MLMCollator(cfg, tok.vocab_size, sp["mask"], sp["pad"], list(sp.values()), seed=seed,
                           continuation=cont)

    train = ExampleBatches(train_ex, collator(masking, train_cfg.seed), train_cfg.batch_size, train_cfg.seed)
    val_collate = collator(dataclasses.replace(masking, dynamic=False), 0)
    bs = train_cfg.batch_size
    val = [val_collate(val_ex[i:i + bs]) for i in range(0, min(len(val_ex), bs * train_cfg.eval_batches), bs)]
    return train, val, (len(train_ex), len(val_ex))


def pretrain_bert(data: str | None, model_cfg: BertConfig | None, train_cfg: TrainConfig,
                  data_cfg: BertDataConfig | None, out: str | Path, resume: bool = False, overwrite: bool = False,
                  quiet: bool = False, lora: LoRAConfig | None = None,
                  tokenizer: str | Path | None = None, nf4: NF4Config | None = None) -> dict[str, float]:
    """Train a BertForPreTraining into run directory `out`; returns the final evaluation. With `lora`, only
    LoRA adapters train (lmlab.peft), on a frozen base; `nf4` too: QLoRA, that base stored in 4-bit NF4. On
    resume the run's own corpus, model, data, LoRA and NF4 settings are used (`data`, `model_cfg`, `data_cfg`,
    `lora`, `nf4` are ignored); only `train_cfg` may
    differ, e.g. more steps. The examples are rebuilt from the corpus with the run's tokenizer, so the
    corpus must still be where config.json's "source" says. `tokenizer`: a WordPiece tokenizer.json or
    BERT vocab.txt to use instead of training one (e.g. bert-base-uncased's); it sets the vocabulary size.
    (Hugging Face's WordPiece trainer breaks ties between equally frequent merges in hash order, so two
    trainings on the same text can differ in a few tokens; give the same file to get the same ids.)"""
    run_dir = Path(out)
    if resume:
        meta, cfgs = read_run_configs(run_dir, "bert", CONFIG_CLASSES, ("model", "data"), also=("source",))
        model_cfg, data_cfg, data = cfgs["model"], cfgs["data"], str(meta["source"])
        lora, nf4 = run_lora_config(meta), run_nf4_config(meta)
        if data not in BUNDLED and not Path(data).exists():
            raise LmlabError(f"cannot resume: the run's corpus {data} (\"source\" in its config.json) is gone; "
                             "put it back there")
    if nf4 is not None and lora is None:
        raise LmlabError("NF4 (QLoRA) stores the frozen base under LoRA adapters: give a LoRA config with it")
    train_docs, val_docs = split_documents(load_text(data), data_cfg.val_fraction, data)
    if resume:
        tok = TextTokenizer.load(run_dir / "tokenizer.json", model_vocab_size=model_cfg.vocab_size)
    else:
        if tokenizer is not None:
            tok = TextTokenizer.load(tokenizer, lowercase=data_cfg.lowercase)
            missing = [name for name in ("pad", "cls", "sep", "mask") if name not in tok.special_ids]
            if tok.kind != "wordpiece" or missing:
                raise LmlabError(f"{tokenizer} is a {tok.kind} tokenizer{' without ' + ', '.join(missing) if missing else ''}; "
                                 "BERT needs WordPiece with [PAD] [CLS] [SEP] [MASK]")
        else:
            tok = train_tokenizer("wordpiece", "\n".join("\n".join(d) for d in train_docs),
                                  data_cfg.tokenizer_vocab_size, data_cfg.lowercase)
        model_cfg = dataclasses.replace(model_cfg, vocab_size=tok.vocab_size,
                                        max_seq_len=max(model_cfg.max_seq_len, data_cfg.max_len),
                                        pad_id=tok.special_ids["pad"])
    train_data, val, (n_train, n_val) = mlm_batches(train_docs, val_docs, tok, data_cfg, train_cfg)

    prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)
    if not resume:
        tok.save(run_dir / "tokenizer.json")
    save_config(run_dir, {"lmlab_version": __version__, "family": "bert", "source": data,
                          "model": to_dict(model_cfg), "train": to_dict(train_cfg), "data": to_dict(data_cfg),
                          **({"lora": to_dict(lora)} if lora else {}),
                          **({"quantization": run_nf4_section(nf4, qlora=True)} if nf4 else {})})
    torch.manual_seed(train_cfg.seed)
    model = BertForPreTraining(model_cfg)
    apply_lora(model, lora, quiet=quiet, nf4=nf4)
    if not quiet:
        print(f"BERT {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters | WordPiece vocab "
              f"{tok.vocab_size} | {n_train:,} train / {n_val:,} val examples | "
              f"masking {data_cfg.masking}, {data_cfg.sentence_task}")
    on_eval = run_adapter_writer(run_dir, model, quiet=quiet) if lora else None
    trainer = Trainer(model, bert_pretraining, train_data, train_cfg, run_dir, eval_data=val, quiet=quiet,
                      on_eval=on_eval)
    return trainer.fit(resume=resume)


def load_bert_run(run_dir: str | Path) -> BertForPreTraining:
    """The BertForPreTraining of a "bert" run (`lmlab train bert`, `lmlab hf import`) as a plain model: LoRA
    adapters merged in, a QLoRA run's NF4 base dequantised first (so embed, fine-tuning and export see floats)."""
    meta, cfgs = read_run_configs(run_dir, "bert", CONFIG_CLASSES, ("model",))
    model = BertForPreTraining(cfgs["model"])
    load_run_weights(run_dir, model, meta)
    return model


def load_bert_encoder(source: str | Path) -> tuple[BertModel, TextTokenizer]:
    """The pretrained encoder (with its pooler) and tokenizer of an lmlab BERT run or a Hugging Face
    BERT folder (config.json + model.safetensors + tokenizer.json or vocab.txt)."""
    source = Path(source)
    meta = load_config(source, required=()) if (source / "config.json").is_file() else None
    if meta is not None and meta.get("family") == "bert":
        encoder = load_bert_run(source).bert
    elif meta is not None and meta.get("model_type") == "bert":
        encoder = load_hf_bert(source, head="base")
    else:
        raise LmlabError(f"{source} is neither an lmlab BERT run (`lmlab train bert`) nor a Hugging Face "
                         "BERT folder (config.json with model_type 'bert')")
    for name in ("tokenizer.json", "vocab.txt"):
        if (source / name).is_file():
            return encoder, TextTokenizer.load(source / name, model_vocab_size=encoder.cfg.vocab_size)
    raise LmlabError(f"{source} has no tokenizer.json or vocab.txt")
