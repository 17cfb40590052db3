"""Tokenizers, bundled corpora, datasets and collators."""
