"""Checkpoints and Hugging Face import/export."""
