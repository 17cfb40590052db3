"""BERT: a bidirectional Transformer encoder pre-trained by masked-LM and next-sentence prediction.

Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding". The input of each token is the sum of three embeddings (§3.2, Figure 2): its
WordPiece token, its segment (sentence A or B) and its position (learned, 0 … 511), then
LayerNorm and dropout. The encoder is a stack of Post-LN Transformer blocks without a causal mask:
every token sees every real token on both sides; padding is hidden by a key-padding mask. The
output at [CLS] (position 0) goes through the pooler (dense + tanh) and stands for the whole
sequence in sentence-level tasks (NSP, classification).

Task heads are separate modules that take the encoder (a BertModel, e.g. a pre-trained one) or a
config to build one: BertForPreTraining (MLM + NSP), BertForMaskedLM, BertForSequenceClassification,
BertForTokenClassification, BertForQuestionAnswering (start/end of an answer span, §4.2). They return
logits; losses live in lmlab.train.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from lmlab.errors import LmlabError
from lmlab.models.bert.config import BertConfig
from lmlab.nn.attention import MultiHeadAttention
from lmlab.nn.blocks import TransformerBlock
from lmlab.nn.embeddings import LearnedPositionalEmbedding
from lmlab.nn.feed_forward import ACTIVATIONS, FeedForward
from lmlab.nn.linear import Linear
from lmlab.nn.norms import norm_layer
from lmlab.nn.pooling import mean_pool


@torch.no_grad()
def bert_init_(module: nn.Module, std: float = 0.02) -> None:
    """BERT's scheme (truncated normal in the original, plain normal in HF): N(0, std) weights and
    embeddings, zero biases, LayerNorm gain 1 and shift 0; an embedding's padding row is zeroed."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.weight.normal_(0.0, std)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.Embedding):
            m.weight.normal_(0.0, std)
            if m.padding_idx is not None:
                m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            m.weight.fill_(1.0)
            m.bias.zero_()


class BertEmbeddings(nn.Module):
    """token + segment + position embeddings, summed, then LayerNorm and dropout (the notes' "three in one")."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        self.seg_emb = nn.Embedding(cfg.type_vocab_size, cfg.d_model)
        self.pos_emb = LearnedPositionalEmbedding(cfg.max_seq_len, cfg.d_model)
        self.norm = norm_layer("layernorm", cfg.d_model, cfg.norm_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        T = input_ids.size(1)
        x = self.tok_emb(input_ids)                                          # (B, T, C), a new tensor:
        if token_type_ids is None:                                           # add in place (no temporaries)
            x += self.seg_emb.weight[0]                                      # all sentence A
        else:
            x += self.seg_emb(token_type_ids)                                # (B, T, C)
        x += self.pos_emb(torch.arange(T, device=input_ids.device))         # (T, C), broadcast over B
        return self.drop(self.norm(x))


class BertPooler(nn.Module):
    """dense + tanh on the final hidden state of [CLS] (position 0): one vector per sequence."""

    def __init__(self, d_model: int):
        super().__init__()
        self.dense = Linear(d_model, d_model)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, C)
        return torch.tanh(self.dense(hidden[:, 0]))


def bert_block(cfg: BertConfig) -> TransformerBlock:
    """One encoder layer: bidirectional self-attention and a GELU feed-forward, Post-LN by default."""
    attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, None, cfg.dropout, bias=True, causal=False,
                              backend=cfg.attn_backend)
    ff = FeedForward(cfg.d_model, cfg.ff_dim, cfg.dropout, cfg.activation)
    norm = lambda: norm_layer("layernorm", cfg.d_model, cfg.norm_eps)
    return TransformerBlock(attn, ff, norm(), norm(), norm_first=cfg.norm_first)


class BertOutput(NamedTuple):
    """What BertModel returns; unpacks as `hidden, pooled = bert(ids)`."""
    hidden: torch.Tensor               # (B, T, C) final hidden state of every token
    pooled: torch.Tensor | None        # (B, C) pooler output at [CLS]; None for a model without pooler


class BertModel(nn.Module):
    """The encoder: embeddings, n_layers Transformer blocks, and (optionally) the [CLS] pooler."""

    def __init__(self, cfg: BertConfig, pooler: bool = True):
        super().__init__()
        self.cfg = cfg
        self.emb = BertEmbeddings(cfg)
        self.blocks = nn.ModuleList(bert_block(cfg) for _ in range(cfg.n_layers))
        # Post-LN blocks end in a norm already; Pre-LN needs one after the last block.
        self.norm_f = norm_layer("layernorm", cfg.d_model, cfg.norm_eps) if cfg.norm_first else nn.Identity()
        self.pooler = BertPooler(cfg.d_model) if pooler else None
        bert_init_(self)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, *, backend: str | None = None) -> BertOutput:
        """input_ids (B, T); token_type_ids (B, T) segment ids (default: all 0); attention_mask (B, T),
        1/True = real token, 0/False = padding (default: all real) -> BertOutput(hidden (B, T, C),
        pooled (B, C)). Padding is never attended to; its own hidden states are computed but meaningless.
        backend overrides the attention backend of the config for this call."""
        B, T = input_ids.shape
        if T > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than max_seq_len ({self.cfg.max_seq_len})")
        key_padding_mask = None
        if attention_mask is not None:
            key_padding_mask = attention_mask.bool()                          # (B, T)
            if key_padding_mask.all():                                        # nothing to hide: unmasked kernel
                key_padding_mask = None
        x = self.emb(input_ids, token_type_ids)                               # (B, T, C)
        for block in self.blocks:
            x = block(x, key_padding_mask=key_padding_mask, backend=backend)
        x = self.norm_f(x)
        return BertOutput(x, self.pooler(x) if self.pooler is not None else None)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Unique parameters (a tied matrix is counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


def _encoder(encoder: BertModel | BertConfig, pooler: bool) -> BertModel:
    """A given encoder as it is, or a new one (with or without pooler) built from a config."""
    return encoder if isinstance(encoder, BertModel) else BertModel(encoder, pooler=pooler)


class MLMHead(nn.Module):
    """Masked-LM head: dense + activation + LayerNorm, then the decoder to the vocabulary, whose weight
    is the token-embedding matrix (tied) and whose bias is its own."""

    def __init__(self, cfg: BertConfig, tok_emb: nn.Embedding):
        super().__init__()
        self.dense = Linear(cfg.d_model, cfg.d_model)
        self.act = ACTIVATIONS[cfg.activation]()
        self.norm = norm_layer("layernorm", cfg.d_model, cfg.norm_eps)
        self.decoder = Linear(cfg.d_model, cfg.vocab_size)
        bert_init_(self)
        self.decoder.weight = tok_emb.weight                                  # tie after init: (V, C)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., V)
        return self.decoder(self.norm(self.act(self.dense(hidden))))


def _select(hidden: torch.Tensor, mlm_mask: torch.Tensor | None) -> torch.Tensor:
    """All hidden states (B, T, C), or only those where mlm_mask (B, T) is True: (N, C)."""
    return hidden if mlm_mask is None else hidden[mlm_mask]


class PreTrainingOutput(NamedTuple):
    mlm_logits: torch.Tensor           # (B, T, V), or (N, V) for the N positions of mlm_mask
    nsp_logits: torch.Tensor           # (B, 2): 0 = B follows A (IsNext), 1 = random B (NotNext)


class BertForPreTraining(nn.Module):
    """BERT's pre-training model: MLM head on every token and NSP head on the pooled [CLS] (§3.1).
    The two-way head serves sentence-order prediction (ALBERT's SOP) as well: only the data differ."""

    def __init__(self, encoder: BertModel | BertConfig):
        super().__init__()
        self.bert = _encoder(encoder, pooler=True)
        if self.bert.pooler is None:
            raise ValueError("BertForPreTraining needs an encoder with a pooler (NSP reads the pooled [CLS])")
        self.cfg = self.bert.cfg
        self.mlm = MLMHead(self.cfg, self.bert.emb.tok_emb)
        self.nsp = Linear(self.cfg.d_model, 2)
        bert_init_(self.nsp)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, *, mlm_mask: torch.Tensor | None = None,
                backend: str | None = None) -> PreTrainingOutput:
        """As BertModel.forward; mlm_mask (B, T) bool: compute MLM logits only where True (the masked
        tokens), which saves the (B, T, V) product in pre-training."""
        hidden, pooled = self.bert(input_ids, token_type_ids, attention_mask, backend=backend)
        return PreTrainingOutput(self.mlm(_select(hidden, mlm_mask)), self.nsp(pooled))

    def sentence_heads(self) -> tuple[nn.Module, nn.Module]:
        """The modules only the sentence task (NSP/SOP) trains: the pooler and its classifier."""
        return self.bert.pooler, self.nsp

    num_parameters = BertModel.num_parameters


class BertForMaskedLM(nn.Module):
    """The encoder (no pooler by default, as HF's) and the MLM head: logits over the vocabulary per token."""

    def __init__(self, encoder: BertModel | BertConfig):
        super().__init__()
        self.bert = _encoder(encoder, pooler=False)
        self.cfg = self.bert.cfg
        self.mlm = MLMHead(self.cfg, self.bert.emb.tok_emb)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, *, mlm_mask: torch.Tensor | None = None,
                backend: str | None = None) -> torch.Tensor:
        """-> logits (B, T, V), or (N, V) for the N positions where mlm_mask (B, T) is True."""
        hidden, _ = self.bert(input_ids, token_type_ids, attention_mask, backend=backend)
        return self.mlm(_select(hidden, mlm_mask))

    num_parameters = BertModel.num_parameters


class _BertClassifier(nn.Module):
    """Dropout + a linear classifier on top of an encoder; subclasses say what they classify."""
    pooler: bool  # does the encoder keep its [CLS] pooler

    def __init__(self, encoder: BertModel | BertConfig, n_classes: int = 2, classifier_dropout: float | None = None):
        super().__init__()
        self.bert = _encoder(encoder, pooler=self.pooler)
        if self.pooler and self.bert.pooler is None:
            raise ValueError(f"{type(self).__name__} needs an encoder with a pooler")
        if not self.pooler:
            self.bert.pooler = None  # a given encoder's pooler is dropped: this head never reads it
        self.cfg = self.bert.cfg
        self.drop = nn.Dropout(self.cfg.dropout if classifier_dropout is None else classifier_dropout)
        self.classifier = Linear(self.cfg.d_model, n_classes)
        bert_init_(self.classifier)

    num_parameters = BertModel.num_parameters


SEQUENCE_POOLINGS = ("cls", "mean")


class BertForSequenceClassification(_BertClassifier):
    """Dropout + linear on one vector per sequence (or pair): one label per sequence, as in fine-tuning (§4.1).

    pooling "cls" is BERT's: the pooler (dense + tanh) on [CLS], as Hugging Face's class. Pretraining trains
    [CLS] and the pooler only through NSP/SOP; an encoder pretrained by MLM alone has neither trained, and
    then "mean" (the average of the real tokens' final hidden states, Sentence-BERT's choice) reads what MLM
    did teach. A "mean" classifier uses no pooler: a given encoder's pooler is dropped (set to None)."""
    pooler = True

    def __init__(self, encoder: BertModel | BertConfig, n_classes: int = 2, classifier_dropout: float | None = None,
                 pooling: str = "cls"):
        if pooling not in SEQUENCE_POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {', '.join(SEQUENCE_POOLINGS)}")
        self.pooling = pooling
        self.pooler = pooling == "cls"                       # before super().__init__: it builds the encoder
        super().__init__(encoder, n_classes, classifier_dropout)

    @classmethod
    def from_sections(cls, configs: dict, meta: dict) -> BertForSequenceClassification:
        """An untrained classifier of a fine-tuned run's shape: the encoder config, the labels, the head's settings."""
        ft = configs.get("finetune")
        return cls(configs["model"], len(meta["labels"]), classifier_dropout=ft.classifier_dropout if ft else None,
                   pooling=ft.pooling if ft else "cls")

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, *, backend: str | None = None) -> torch.Tensor:
        """-> logits (B, n_classes)."""
        hidden, pooled = self.bert(input_ids, token_type_ids, attention_mask, backend=backend)
        if self.pooling == "mean":
            pooled = hidden.mean(1) if attention_mask is None else mean_pool(hidden, attention_mask)  # (B, C)
        return self.classifier(self.drop(pooled))


class BertForTokenClassification(_BertClassifier):
    """Dropout + linear on every token's hidden state: one label per token (NER, §4.3). No pooler."""
    pooler = False

    @classmethod
    def from_sections(cls, configs: dict, meta: dict) -> BertForTokenClassification:
        """An untrained tagger of a fine-tuned run's shape: the encoder config, the labels, the head's dropout."""
        ft = configs.get("finetune")
        return cls(configs["model"], len(meta["labels"]), classifier_dropout=ft.classifier_dropout if ft else None)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, *, backend: str | None = None) -> torch.Tensor:
        """-> logits (B, T, n_classes)."""
        hidden, _ = self.bert(input_ids, token_type_ids, attention_mask, backend=backend)
        return self.classifier(self.drop(hidden))


class SpanLogits(NamedTuple):
    """What BertForQuestionAnswering returns; unpacks as `start, end = qa(ids)`."""
    start: torch.Tensor                # (B, T) score of each token being the answer's first
    end: torch.Tensor                  # (B, T) score of each token being the answer's last


class BertForQuestionAnswering(nn.Module):
    """Extractive QA (SQuAD, §4.2): one linear map of every token's final hidden state to two scores, the
    start and the end of the answer span (the paper's start vector S and end vector E as the rows of one
    (2, C) matrix). No pooler and no dropout before the head, as Hugging Face's class."""

    def __init__(self, encoder: BertModel | BertConfig):
        super().__init__()
        self.bert = _encoder(encoder, pooler=False)
        self.bert.pooler = None                              # a given encoder's pooler is never read
        self.cfg = self.bert.cfg
        self.qa_outputs = Linear(self.cfg.d_model, 2)
        bert_init_(self.qa_outputs)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, *, backend: str | None = None) -> SpanLogits:
        """-> SpanLogits(start (B, T), end (B, T))."""
        hidden, _ = self.bert(input_ids, token_type_ids, attention_mask, backend=backend)
        start, end = self.qa_outputs(hidden).unbind(-1)                     # (B, T, 2) -> 2 × (B, T)
        return SpanLogits(start, end)

    num_parameters = BertModel.num_parameters
def freeze_lower_layers(encoder: BertModel, k: int) -> list[str]:
    """Freeze the embeddings and the k lowest blocks (k = 0: nothing); returns the frozen parameter names."""
    if k > len(encoder.blocks):
        raise LmlabError(f"freeze_layers {k} is more than the encoder's {len(encoder.blocks)} layers")
    if k == 0:
        return []
    frozen = []
    for prefix, module in [("emb", encoder.emb), *((f"blocks.{i}", encoder.blocks[i]) for i in range(k))]:
        for name, p in module.named_parameters():
            p.requires_grad_(False)
            frozen.append(f"{prefix}.{name}")
    return frozen
