"""Optimizers and learning-rate schedules (pure `lr(step)` functions)."""
