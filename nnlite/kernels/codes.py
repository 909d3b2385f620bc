"""Kernel codes: the numbers by which both kernel twins know an activation, a loss and an update.

Owns: the integer codes the compiled kernels branch on, the fused
(output activation, loss) pairs, and the layout of an optimiser's
hyper-parameter vector and state. ``cpu.py`` and ``cuda.py`` import them
from here, so the twins cannot drift apart; the names a learner types live
in the tables that map them to these codes (``nnlite/activations.py``,
``nnlite/losses.py``, ``nnlite/optim.py``). A kernel given a code it does not
know raises; no code falls through to a default. Imports nothing.
"""

from __future__ import annotations

# Activations σ (``nnlite/activations.py`` maps names to these).
IDENTITY, SIGMOID, TANH, RELU, SOFTMAX, LEAKY_RELU, SOFTPLUS = 0, 1, 2, 3, 4, 5, 6
ACTIVATION_CODES = (IDENTITY, SIGMOID, TANH, RELU, SOFTMAX, LEAKY_RELU, SOFTPLUS)
LEAKY_SLOPE = 0.01  # leaky ReLU: a = z for z > 0, else 0.01·z (PyTorch's default slope)

# Losses L(P, Y) (``nnlite/losses.py`` maps names to these).
MSE, BCE, CCE = 0, 1, 2
LOSS_CODES = (MSE, BCE, CCE)

# The output activation each loss is differentiated together with (−1: none):
# softmax + categorical cross-entropy and sigmoid + binary cross-entropy give
# dZ = (P − Y)/n without the activation's Jacobian. Indexed by loss code.
FUSED_WITH = (-1, SIGMOID, SOFTMAX)

# Parameter updates (``nnlite/optim.py`` maps optimisers to these). An update
# reads its hyper-parameters from a vector whose slot 0 is always the learning
# rate α, and keeps its per-parameter state in rows of one (slots, parameters)
# array laid out like θ.
SGD, MOMENTUM = 0, 1
OPTIMIZER_CODES = (SGD, MOMENTUM)
LR = 0  # hyper[LR] = α for every update
MU, NESTEROV = 1, 2  # MOMENTUM: hyper = (α, μ, 1.0 for Nesterov's variant else 0.0)


# The flat θ layout: [W¹ (i₁·o₁, row-major), b¹ (o₁), W² …]. Every layer's W and b
# are views at an offset into one vector, so one update covers every layer and a
# model file holds one array. ``dims`` = (n_in, units₁, …, units_L). Plain
# arithmetic: the CPU kernels compile this same function, and the Python side
# (models, the CUDA launchers) calls it as it is.
def param_offset(dims, layer):
    """Offset of ``layer``'s W in θ; its b follows at ``+ dims[layer]·dims[layer + 1]``."""
    off = 0
    for k in range(layer):
        off += dims[k] * dims[k + 1] + dims[k + 1]
    return off


def buffer_offset(dims, layer, size):
    """Offset of ``layer``'s block in a flat per-layer buffer of ``size`` elements.

    A buffer (Z, A, dZ, dA) holds ``cap`` = size // Σ units rows per layer:
    layer 1's (cap, units₁) block, then layer 2's, …; a batch of m ≤ cap rows
    uses the first m·unitsₗ elements of each block.
    """
    units = 0
    for k in range(1, len(dims)):
        units += dims[k]
    cap = size // units
    off = 0
    for k in range(layer):
        off += cap * dims[k + 1]
    return off
