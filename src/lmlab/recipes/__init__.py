"""Thin end-to-end jobs composing data + model + objective + Trainer."""
