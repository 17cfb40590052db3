"""Model families, one per folder: config dataclass + presets + model + task heads."""
