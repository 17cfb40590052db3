"""word2vec (Mikolov et al. 2013): CBOW and skip-gram with negative sampling or hierarchical softmax."""
