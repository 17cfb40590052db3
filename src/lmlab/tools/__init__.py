"""Memory accounting, worked examples, attention maps."""
