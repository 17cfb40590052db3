"""Word vectors: word2vec and Item2Vec (static), ELMo (contextual, from a biLM)."""

from lmlab.runs.families.registry import TRAIN, Family, register

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
           "linearly from --lr to --min_lr, one example at a time in --workers threads on shared weights (--engine "
           "numba, the C tool's scheme; --engine torch: batches of --batch_size centre words). Writes config.json, "
           "model.safetensors, vocab.txt and metrics.json; with --engine numba also a checkpoint after every "
           "epoch, so --resume continues a run (more --epochs, or after a --time_budget)."),
    examples="""\
examples:
  lmlab train word2vec --data wiki.txt --arch skipgram --loss neg --dim 100 --window 5 --negative 5 --epochs 5 --out runs/w2v
  lmlab train word2vec --data tinyshakespeare --preset cbow-100 --min_count 3 --out runs/cbow
  lmlab train word2vec --data zh.txt --split jieba --loss hs --out runs/zh    # or --split chars
  lmlab train word2vec --data wiki.txt --time_budget 600 --out runs/w2v2   # stops after 10 minutes, checkpointed
  lmlab train word2vec --out runs/w2v2 --resume --time_budget 3600          # continues it where it stopped
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
