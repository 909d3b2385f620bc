"""Kernel codes: the numbers by which both kernel twins know an activation, a loss and an update.

Owns: the integer codes the compiled kernels branch on, the fused
(output activation, loss) pairs, and the layout of an optimiser's
hyper-parameter vector and state. ``cpu.py`` and ``cuda.py`` import them
from here, so the twins cannot drift apart; the names a learner types live
in the tables that map them to these codes (``nnlite/activations.py``,
``nnlite/losses.py``, ``nnlite/optim.py``, ``nnlite/schedules.py``). A kernel
given a code it does not know raises; no code falls through to a default. Also
the plain-arithmetic functions both twins compile from this same source (the θ
and buffer layouts, a schedule's learning rate, dropout's random numbers), so
the CPU, CUDA and the Python side compute them identically. Imports ``math`` only.
"""

from __future__ import annotations

import math

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
SGD, MOMENTUM, ADAGRAD, RMSPROP, ADAM, ADAMW = 0, 1, 2, 3, 4, 5
OPTIMIZER_CODES = (SGD, MOMENTUM, ADAGRAD, RMSPROP, ADAM, ADAMW)
LR = 0  # hyper[LR] = α₀ for every update (a schedule scales it step by step)
MU, NESTEROV = 1, 2  # MOMENTUM: hyper = (α, μ, 1.0 for Nesterov's variant else 0.0)
EPS_ADAGRAD = 1  # ADAGRAD: hyper = (α, ε); state = (Σg²,)
RHO, EPS_RMS, MU_RMS = 1, 2, 3  # RMSPROP: hyper = (α, ρ, ε, μ); state = (v,) or (v, buffer)
BETA1, BETA2, EPS_ADAM, DECAY = 1, 2, 3, 4  # ADAM(W): hyper = (α, β₁, β₂, ε[, λ]); state = (m, v)

# Learning-rate schedules (``nnlite/schedules.py`` maps names to these). A run's
# schedule is a float64 vector (code, per step 1.0 / per epoch 0.0, a, b, c).
CONSTANT, STEP, EXPONENTIAL, INVERSE_TIME, COSINE = 0, 1, 2, 3, 4
SCHEDULE_CODES = (CONSTANT, STEP, EXPONENTIAL, INVERSE_TIME, COSINE)
SCHEDULE_SIZE = 5
# The training clock, an int64 vector: updates taken so far (t), the epoch (from 0),
# the dropout seed.
CLOCK_STEP, CLOCK_EPOCH, CLOCK_SEED = 0, 1, 2
# Per-layer hyper-parameters, a float64 (layers, 3) array: L1 λ₁, L2 λ₂, the dropout
# rate p of the layer's input.
L1, L2, DROP = 0, 1, 2


def schedule_rate(code, alpha0, time, a, b, c):
    """α after ``time`` epochs or steps (``schedule_rate`` of the schedule table's code).

    CONSTANT α₀; STEP α₀·a^⌊time/b⌋; EXPONENTIAL α₀·a^(time/b); INVERSE_TIME
    α₀/(1 + a·time); COSINE b + (α₀ − b)·(1 + cos(π·min(time, a)/a))/2. An unknown
    code gives NaN (the callers check codes first).
    """
    if code == CONSTANT:
        return alpha0
    if code == STEP:
        return alpha0 * a ** float(math.floor(time / b))  # a float power: pow() on every twin
    if code == EXPONENTIAL:
        return alpha0 * a ** (time / b)
    if code == INVERSE_TIME:
        return alpha0 / (1.0 + a * time)
    if code == COSINE:
        return b + (alpha0 - b) * (1.0 + math.cos(math.pi * min(time, a) / a)) / 2.0
    return math.nan


# Dropout's random numbers: a counter-based generator, so that a mask depends only on
# (seed, step, layer, element) — the same on every device, in any order, after a
# resume — and needs no state. A 32-bit integer hash ("lowbias32", C. Wellons, 2018)
# mixes in each key in turn; its products are split into 16-bit halves so that no
# intermediate exceeds 2⁴⁹ (no overflow as int64 in Numba, on the GPU or in Python).
# Each twin compiles ``dropout_hash`` from this source.
MASK32 = 0xFFFFFFFF


def dropout_hash(seed, step, layer, index):
    """The 32-bit hash (an integer 0 ≤ h < 2³²) of one element of one layer's input at one step.

    ``seed``: the run's dropout seed; ``step``: the update's number t (from 1);
    ``layer``: the Dense layer whose input it is (from 0); ``index``: row·width +
    column in the batch. Integer arithmetic only, so the GPU runs it without float64.
    """
    h = 0x9E3779B9
    for k in range(4):
        key = seed if k == 0 else step if k == 1 else layer if k == 2 else index
        x = h ^ (key & MASK32)
        x ^= x >> 16
        x = (((((x >> 16) * 0x7FEB352D) & 0xFFFF) << 16) + (x & 0xFFFF) * 0x7FEB352D) & MASK32
        x ^= x >> 15
        x = (((((x >> 16) * 0x846CA68B) & 0xFFFF) << 16) + (x & 0xFFFF) * 0x846CA68B) & MASK32
        x ^= x >> 16
        h = x
    return h


def dropout_unit(seed, step, layer, index):
    """``dropout_hash``/2³²: a uniform number in [0, 1); inverted dropout keeps the element
    when it is ≥ p. (The twins compile ``dropout_hash`` and divide, or compare h with
    ⌈p·2³²⌉, which decides the same.)"""
    return dropout_hash(seed, step, layer, index) / 4294967296.0


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
