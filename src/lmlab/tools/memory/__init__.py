"""The memory bill of training (`lmlab memory`): parameters, gradients, optimizer states, activations.

    sizes        bytes per value, a bill's line (Item), parameter counts of the pieces LoRA/QLoRA treat apart
    activations  what autograd saves for backward, item by item (Activations, activation_bytes)
    bill         the notes' four rows and the peak over a step's moments (Bill, training_bill, format_bill)
    measure      the peak of real training steps, counted tensor by tensor (measure_training_peak)
"""

from lmlab.tools.memory.activations import Activations, activation_bytes
from lmlab.tools.memory.bill import (
    GB,
    METHODS,
    NF4_BITS,
    NF4_DOUBLE_QUANT_BITS,
    OPTIMIZER_STATES,
    Bill,
    GiB,
    format_bill,
    training_bill,
)
from lmlab.tools.memory.measure import (
    LiveTensorBytes,
    checkpoint_blocks,
    make_optimizer,
    measure_training_peak,
    random_batches,
)
from lmlab.tools.memory.sizes import (
    DTYPE_BYTES,
    Item,
    block_matrix_parameters,
    layer_parameters,
    lora_parameters,
)

__all__ = ["DTYPE_BYTES", "GB", "METHODS", "NF4_BITS", "NF4_DOUBLE_QUANT_BITS", "OPTIMIZER_STATES", "Activations",
           "Bill", "GiB", "Item", "LiveTensorBytes", "activation_bytes", "block_matrix_parameters", "checkpoint_blocks",
           "format_bill", "layer_parameters", "lora_parameters", "make_optimizer", "measure_training_peak",
           "random_batches", "training_bill"]
