"""Pure functions with no state: attention kernels, masks, losses."""
