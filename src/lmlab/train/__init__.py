"""One Trainer for every model: loop, objectives, accumulation, clipping, precision, DDP, checkpoints."""
