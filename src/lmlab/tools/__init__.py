"""Memory accounting, worked examples, plots."""
