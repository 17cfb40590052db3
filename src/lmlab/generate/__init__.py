"""Decoding: logits processors, sampling loops, streaming."""
