"""Modules built from ops: attention, feed-forward, embeddings, blocks, init schemes."""
