"""The language-model families: GPT (causal LM), BERT (masked LM) and the encoder-decoder Transformer."""

from lmlab.runs.families.registry import TRAIN, Converter, Family, register

# Hugging Face converters (lmlab.io): a GPT exports as GPT-2 where GPT-2 computes it, else as Llama; a BERT
# folder imports as BertForPreTraining, the model `lmlab train bert` makes (the task heads' families export too)
GPT2 = Converter("GPT-2", load="lmlab.io.hf_gpt2:load_hf_gpt2", save="lmlab.io.hf_gpt2:save_hf_gpt2",
                 save_options=("eos_id",), unsupported="lmlab.io.hf_gpt2:unsupported_by_gpt2")
LLAMA = Converter("Llama", load="lmlab.io.hf_llama:load_hf_llama", save="lmlab.io.hf_llama:save_hf_llama",
                  save_options=("eos_id",), unsupported="lmlab.io.hf_llama:unsupported_by_llama")
BERT = Converter("BERT", load="lmlab.io.hf_bert:load_hf_bert", save="lmlab.io.hf_bert:save_hf_bert",
                 save_options=("labels",), head="pretraining")

register(Family(
    name="gpt",
    summary="pretrain a decoder-only GPT on a text corpus (causal LM); GPT-2, GPT-3 and Llama shapes",
    configs={"model": "lmlab.models.gpt.config:GPTConfig", "train": TRAIN, "data": "lmlab.data.lm_config:LMDataConfig"},
    model="lmlab.models.gpt.model:GPT",
    presets="lmlab.models.gpt.presets:PRESETS", default_preset="nano",
    count="lmlab.models.gpt.presets:count_parameters", memory="lmlab.tools.memory.bill:training_bill",
    tokenizer="char or byte-level BPE, trained on the corpus",
    hf={"gpt2": GPT2, "llama": LLAMA},
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
    hf={"bert": BERT},
    lm="masked", batches="lmlab.data.bert_pretraining:masked_lm_batches",
    heads={"mlm": "lmlab.models.bert.model:BertForMaskedLM",
           "classify": "lmlab.models.bert.model:BertForSequenceClassification",
           "tokens": "lmlab.models.bert.model:BertForTokenClassification"},
    train="lmlab.recipes.pretrain_bert:pretrain_bert", train_options=("config", "init", "tokenizer", "lora", "nf4"),
    init_config="lmlab.runs.hf:bert_init_config",
    commands=("train", "embed", "fill-mask", "finetune", "info", "hf", "lora", "distill"),
    token_vectors="lmlab.tools.token_vectors:bert_word_vectors",
    next_step='embed with: lmlab embed {out} "..."; fine-tune with: lmlab finetune classify --model {out} ...',
    about=("Pretrain a BERT (masked-language modelling, plus next-sentence or sentence-order prediction) on a text "
           "corpus split into documents at blank lines and segments at line breaks. A WordPiece tokenizer is "
           "trained on the corpus. Writes config.json, tokenizer.json, model.safetensors, train_state.pt, "
           "metrics.jsonl (val_mlm_loss, val_mlm_acc, val_sentence_acc) and loss.png. With --init, an existing "
           "BERT (an lmlab run or a Hugging Face folder) pretrains further on new text with its own tokenizer and "
           "shape (continued, domain-adaptive pretraining); metrics.jsonl then starts with its loss at step 0."),
    examples="""\
examples:
  lmlab train bert --data tinyshakespeare --preset bert-mini --out runs/bert
  lmlab train bert --data tinyshakespeare --preset bert-tiny --masking whole_word --sentence_task sop --out runs/wwm
  lmlab train bert --data my_texts/ --masking span --sentence_task none --dynamic true --out runs/spanbert
  lmlab train bert --out runs/bert --resume --max_steps 4000       # continue a run, with more steps
  lmlab train bert --data my_texts/ --tokenizer bert-base-uncased/vocab.txt --out runs/bert-vocab
  lmlab train bert --init runs/bert --data domain_texts/ --max_steps 2000 --lr 1e-4 --out runs/bert-domain
  lmlab train bert --init bert-base-uncased/ --data domain_texts/ --lora r=8,targets=qkv --out runs/bert-lora
""",
))

register(Family(
    name="seq2seq",
    summary="train an encoder-decoder Transformer to translate, on a parallel corpus",
    configs={"model": "lmlab.models.seq2seq.config:Seq2SeqConfig", "train": TRAIN,
             "data": "lmlab.data.translation:TranslationDataConfig"},
    defaults={"train": "lmlab.train.config:TRANSLATION_TRAIN", "data": "lmlab.data.translation:TRANSLATION_DATA"},
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
           "per character) in metrics.jsonl, with a few translations in samples.txt. printf placeholders\n"
           "(%s, %lu, %1$s, {0} …) are masked as reserved tokens <ph0> … (--placeholder_slots, 0 = raw text),\n"
           "which `lmlab translate` restores, keeping each source's placeholders."),
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
