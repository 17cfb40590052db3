"""lmlab: build, pretrain, fine-tune, compress and sample Transformer-era models.

Every mechanism is implemented in readable PyTorch and checked against the reference the
field trusts (torch, Hugging Face transformers, peft, ...). See DESIGN.md for the layers.
"""

__version__ = "0.1.0"

from lmlab.errors import LmlabError

__all__ = ["LmlabError", "__version__"]
