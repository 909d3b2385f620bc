"""CPU kernels of nnlite, compiled with ``numba.njit``.

Owns: every numerical step of the lesson on the CPU — activations and their
derivatives, dense forward and backward propagation, the losses and their
gradients, the optimiser updates, the Rosenblatt perceptron, and the compiled
training loop that chains them. Imports numpy, numba, ``codes`` (the
numbers it knows an activation, a loss and an update by, shared with the CUDA
twin), ``blas`` (the matrix products) and ``jit`` (the decorators) only.

Contracts (shared with the CUDA twins in ``cuda.py``):

* Row convention: X (n, i), W (i, o), b (o,), Z and A (n, o).
* Arguments: inputs, then preallocated outputs, then scalars. Kernels write
  only the arrays documented as outputs and never allocate in the hot path.
* Every array is C-contiguous and all arrays of one call share one float
  dtype (float32 by default, float64 for reference checks). Constants are
  built with ``X.dtype.type(...)``: a bare Python float would promote a
  float32 kernel to float64 inside Numba.
* The 1/n batch mean is applied once, in the loss gradient; ``dW = Xᵀ·dZ``
  then has no division.

Omits: parallel loops (``prange`` costs more than it saves at MLP sizes on a
shared 2-core box; see ``../shared/numba-notes.md``), optimisers other than SGD
with momentum.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from nnlite.kernels import codes
from nnlite.kernels.blas import matmul, matmul_nt, matmul_tn, matmul_tn_add
from nnlite.kernels.codes import (
    ADAGRAD,
    ADAM,
    ADAMW,
    BCE,
    BETA1,
    BETA2,
    CCE,
    CLOCK_EPOCH,
    CLOCK_SEED,
    CLOCK_STEP,
    DECAY,
    DROP,
    EPS_ADAGRAD,
    EPS_ADAM,
    EPS_RMS,
    FUSED_WITH,
    IDENTITY,
    L1,
    L2,
    LEAKY_RELU,
    LEAKY_SLOPE,
    LR,
    MOMENTUM,
    MSE,
    MU,
    MU_RMS,
    NESTEROV,
    RELU,
    RHO,
    RMSPROP,
    SGD,
    SIGMOID,
    SOFTMAX,
    SOFTPLUS,
    TANH,
)
from nnlite.kernels.jit import ieee_kernel, inline, kernel

# ``@kernel`` compiles a function on first use and caches it on disk;
# ``@inline`` inlines it into its callers at Numba-IR level instead of
# compiling, wrapping and linking it as a function of its own (each level of
# calls is optimised again by LLVM inside every caller). Measured in CPU-seconds
# of the first run's compile (784-128-10, softmax + CE): the scalar helpers
# (15.3 → 12.2); the training drivers (``_train_batches``, ``_backward``,
# ``forward_pass``, ``loss_value``, ``output_grad``), each called from one place,
# inlined into closures whose loss, output and optimiser are constants, so the
# branches those decide are dropped before typing (15–17 → 8.8–9.0). Inlining
# the array-view helpers (many call sites) or the big layer kernels
# (``dense_forward``, ``dense_backward``, ``activation_grad``) made it slower.


# ---------------------------------------------------------------------------
# Scalar activations σ and their derivatives σ′ (written in terms of the
# output a = σ(z) where that is cheaper, as the lesson does for the sigmoid).
# ---------------------------------------------------------------------------


@inline
def sigmoid(z):
    """σ(z) = 1 / (1 + e^(−z)), evaluated without overflow for large |z|."""
    one = type(z)(1)
    if z >= 0:
        return one / (one + math.exp(-z))
    e = math.exp(z)  # for z < 0 use e^z / (1 + e^z): e^(−z) could overflow
    return e / (one + e)


@inline
def sigmoid_grad(a):
    """σ′(z) = σ(z)·(1 − σ(z)), given a = σ(z)."""
    return a * (type(a)(1) - a)


@inline
def tanh_grad(a):
    """tanh′(z) = 1 − tanh²(z), given a = tanh(z)."""
    return type(a)(1) - a * a


@inline
def relu(z):
    """ReLU(z) = max(0, z)."""
    return z if z > 0 else type(z)(0)


@inline
def relu_grad(z):
    """ReLU′(z) = 1 if z > 0 else 0 (we take 0 at z = 0)."""
    return type(z)(1) if z > 0 else type(z)(0)


@inline
def leaky_relu(z):
    """Leaky ReLU(z) = z if z > 0 else 0.01·z: a dead unit still has a slope to learn from."""
    return z if z > 0 else type(z)(LEAKY_SLOPE) * z


@inline
def leaky_relu_grad(z):
    """Leaky ReLU′(z) = 1 if z > 0 else 0.01."""
    return type(z)(1) if z > 0 else type(z)(LEAKY_SLOPE)


@inline
def softplus(z):
    """softplus(z) = log(1 + e^z), a smooth ReLU.

    Written max(z, 0) + log(1 + e^(−|z|)), which is the same number, so that
    e^z never overflows for large z.
    """
    if z > 0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


@inline
def softplus_grad(z):
    """softplus′(z) = σ(z), the sigmoid."""
    return sigmoid(z)


# ---------------------------------------------------------------------------
# Activations over arrays.
# ---------------------------------------------------------------------------


@kernel
def _softmax_row(Z, A, i):
    """A[i] = softmax(Z[i]) = e^(Z[i] − max Z[i]) / Σ e^(Z[i] − max Z[i]).

    Departs from the lesson's e^z / Σ e^z by the row-max shift: it leaves the
    result unchanged and keeps e^z from overflowing.
    """
    m = Z[i, 0]
    for j in range(1, Z.shape[1]):
        if Z[i, j] > m:
            m = Z[i, j]
    s = Z.dtype.type(0)
    for j in range(Z.shape[1]):
        e = math.exp(Z[i, j] - m)
        A[i, j] = e
        s += e
    inv = Z.dtype.type(1) / s
    for j in range(Z.shape[1]):
        A[i, j] *= inv


# The CPU twin's activation table: σ in ``activation_forward`` and ``dense_forward``,
# σ′ in ``activation_grad``, one branch per activation code (``codes.py``); an unknown
# code raises. Each branch is its own loop, which the compiler vectorises (a dispatch
# per element ran ReLU 2.8× slower, measured side by side).


@kernel
def activation_forward(Z, A, act):
    """A = σ(Z), elementwise (softmax: row by row).

    Parameters
    ----------
    Z : (n, o) float array, input.
    A : (n, o) float array, output (may be ``Z`` itself except for softmax).
    act : int, activation code (``codes.IDENTITY``, ``SIGMOID``, …); an unknown one raises.
    """
    n, o = Z.shape
    if act == SOFTMAX:
        for i in range(n):
            _softmax_row(Z, A, i)
    elif act == IDENTITY:
        for i in range(n):
            for j in range(o):
                A[i, j] = Z[i, j]
    elif act == SIGMOID:
        for i in range(n):
            for j in range(o):
                A[i, j] = sigmoid(Z[i, j])
    elif act == TANH:
        for i in range(n):
            for j in range(o):
                A[i, j] = math.tanh(Z[i, j])
    elif act == RELU:
        for i in range(n):
            for j in range(o):
                A[i, j] = relu(Z[i, j])
    elif act == LEAKY_RELU:
        for i in range(n):
            for j in range(o):
                A[i, j] = leaky_relu(Z[i, j])
    elif act == SOFTPLUS:
        for i in range(n):
            for j in range(o):
                A[i, j] = softplus(Z[i, j])
    else:
        raise ValueError("unknown activation code")


@kernel
def activation_grad(Z, A, dA, dZ, act):
    """dZ = dA ⊙ σ′(Z) — the chain rule through the activation.

    For softmax σ′ is a Jacobian per row; we apply it without forming it:
    dZ = A ⊙ (dA − Σⱼ dAⱼ·Aⱼ).

    Parameters
    ----------
    Z, A : (n, o) float arrays, the layer's pre-activation and activation.
    dA : (n, o) float array, ∂L/∂A.
    dZ : (n, o) float array, output ∂L/∂Z.
    act : int, activation code.
    """
    n, o = Z.shape
    if act == SOFTMAX:
        for i in range(n):
            s = Z.dtype.type(0)
            for j in range(o):
                s += dA[i, j] * A[i, j]
            for j in range(o):
                dZ[i, j] = A[i, j] * (dA[i, j] - s)
    elif act == IDENTITY:
        for i in range(n):
            for j in range(o):
                dZ[i, j] = dA[i, j]
    elif act == SIGMOID:
        for i in range(n):
            for j in range(o):
                dZ[i, j] = dA[i, j] * sigmoid_grad(A[i, j])
    elif act == TANH:
        for i in range(n):
            for j in range(o):
                dZ[i, j] = dA[i, j] * tanh_grad(A[i, j])
    elif act == RELU:
        for i in range(n):
            for j in range(o):
                dZ[i, j] = dA[i, j] * relu_grad(Z[i, j])
    elif act == LEAKY_RELU:
        for i in range(n):
            for j in range(o):
                dZ[i, j] = dA[i, j] * leaky_relu_grad(Z[i, j])
    elif act == SOFTPLUS:
        for i in range(n):
            for j in range(o):
                dZ[i, j] = dA[i, j] * softplus_grad(Z[i, j])
    else:
        raise ValueError("unknown activation code")


# ---------------------------------------------------------------------------
# Dense layer.
# ---------------------------------------------------------------------------


@kernel
def dense_forward(X, W, b, Z, A, act):
    """Z = X·W + b;  A = σ(Z)  (forward propagation through one dense layer).

    The matrix product goes to BLAS (``blas.matmul``: NumPy's OpenBLAS); the
    bias and the activation are then applied in one pass over the output.

    Parameters
    ----------
    X : (n, i) float array, the layer's input (the previous layer's A).
    W : (i, o) float array, weights.  b : (o,) float array, biases.
    Z : (n, o) float array, output: pre-activations.
    A : (n, o) float array, output: activations.
    act : int, activation code.
    """
    matmul(X, W, Z)  # Z = X·W
    n, o = Z.shape
    if act == SOFTMAX:
        for i in range(n):
            for j in range(o):
                Z[i, j] += b[j]  # Z = X·W + b
            _softmax_row(Z, A, i)  # A = softmax(Z)
    elif act == IDENTITY:
        for i in range(n):
            for j in range(o):
                z = Z[i, j] + b[j]  # z = x·w + b
                Z[i, j] = z
                A[i, j] = z  # a = σ(z)
    elif act == SIGMOID:
        for i in range(n):
            for j in range(o):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                A[i, j] = sigmoid(z)
    elif act == TANH:
        for i in range(n):
            for j in range(o):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                A[i, j] = math.tanh(z)
    elif act == RELU:
        for i in range(n):
            for j in range(o):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                A[i, j] = relu(z)
    elif act == LEAKY_RELU:
        for i in range(n):
            for j in range(o):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                A[i, j] = leaky_relu(z)
    elif act == SOFTPLUS:
        for i in range(n):
            for j in range(o):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                A[i, j] = softplus(z)
    else:
        raise ValueError("unknown activation code")


@kernel
def dense_backward(X, W, dZ, dW, db, dX, want_dX):
    """dW = Xᵀ·dZ;  db = Σₙ dZ;  dX = dZ·Wᵀ  (backward through X·W + b).

    ``dZ`` already holds ∂L/∂Z (from ``activation_grad`` or a fused loss
    gradient) including the 1/n batch mean, so nothing here divides.

    Parameters
    ----------
    X : (n, i) float array, the layer's input.  W : (i, o) float array.
    dZ : (n, o) float array, ∂L/∂Z.
    dW : (i, o) float array, output ∂L/∂W.  db : (o,) float array, output ∂L/∂b.
    dX : (n, i) float array, output ∂L/∂X (the previous layer's dA); written
        only when ``want_dX`` (the first layer's input needs no gradient).
    want_dX : bool.
    """
    matmul_tn(X, dZ, dW)  # dW = Xᵀ·dZ
    column_sum(dZ, db)  # db = Σₙ dZ
    if want_dX:
        matmul_nt(dZ, W, dX)  # dX = dZ·Wᵀ


@kernel
def column_sum(dZ, db):
    """db = Σₙ dZ  (∂L/∂b: the bias feeds every row of the batch), summed in row order.

    Parameters
    ----------
    dZ : (n, o) float array.  db : (o,) float array, output.
    """
    n, o = dZ.shape
    for j in range(o):
        db[j] = 0
    for i in range(n):  # row order: the same sum on every run (deterministic)
        for j in range(o):
            db[j] += dZ[i, j]


@kernel
def dense_sgd_update(W, X, dZ, lr):
    """W ← W − α·Xᵀ·dZ  (gradient descent on a dense layer's weights, ∂L/∂W = Xᵀ·dZ), in place.

    What ``dense_backward`` then ``sgd_update`` do for W, in one BLAS call
    that adds −α·Xᵀ·dZ to W as the product accumulates (``blas.matmul_tn_add``):
    dW is never stored, so W, X and dZ stay in the core's cache (the 784×128
    MNIST layer's W and dW together overflow a 512 KB L2). Measured side by
    side, one thread: plain-SGD training 1.35× faster at batch 1, 1.16× at 32,
    1.035× at 128 (bench/RESULTS.md).
    The result may differ from the two-step update in the last bit (BLAS adds
    its partial sums to W, see ``matmul_tn_add``); training and ``nnlite
    trace`` both use this kernel, so they agree bit for bit.

    Parameters
    ----------
    W : (i, o) float array, updated.  X : (n, i) float array, the layer's input.
    dZ : (n, o) float array, ∂L/∂Z.  lr : float, α.
    """
    matmul_tn_add(X, dZ, W, -W.dtype.type(lr))  # W ← W − α·(Xᵀ·dZ)


# ---------------------------------------------------------------------------
# Losses L(P, Y) (scalars, means over the batch) and their gradients.
# P is the network's output A of the last layer, Y the targets, both (n, o).
# ---------------------------------------------------------------------------


@inline
def _clip(p, eps):
    """Clip a probability to [eps, 1 − eps] so that log never sees 0."""
    one = type(p)(1)
    if p < eps:
        return type(p)(eps)
    if p > one - eps:
        return one - type(p)(eps)
    return p


@kernel
def mse_loss(P, Y):
    """L = 1/(n·o) · Σ (P − Y)²  (mean squared error over all entries)."""
    s = P.dtype.type(0)
    n, o = P.shape
    for i in range(n):
        for j in range(o):
            d = P[i, j] - Y[i, j]
            s += d * d
    return s / P.dtype.type(n * o)


@kernel
def mse_grad(P, Y, dP):
    """dP = ∂L/∂P = 2·(P − Y) / (n·o)."""
    n, o = P.shape
    scale = P.dtype.type(2) / P.dtype.type(n * o)
    for i in range(n):
        for j in range(o):
            dP[i, j] = scale * (P[i, j] - Y[i, j])


@kernel
def bce_loss(P, Y, eps):
    """L = −1/(n·o) · Σ [Y·log P + (1 − Y)·log(1 − P)], P clipped to [eps, 1 − eps]."""
    one = P.dtype.type(1)
    s = P.dtype.type(0)
    n, o = P.shape
    for i in range(n):
        for j in range(o):
            p = _clip(P[i, j], eps)
            y = Y[i, j]
            s -= y * math.log(p) + (one - y) * math.log(one - p)
    return s / P.dtype.type(n * o)


@kernel
def bce_grad(P, Y, dP, eps):
    """dP = (P − Y) / (P·(1 − P)) / (n·o), P clipped to [eps, 1 − eps]."""
    one = P.dtype.type(1)
    n, o = P.shape
    inv = one / P.dtype.type(n * o)
    for i in range(n):
        for j in range(o):
            p = _clip(P[i, j], eps)
            dP[i, j] = (p - Y[i, j]) / (p * (one - p)) * inv


@kernel
def cce_loss(P, Y, eps):
    """L = −1/n · Σᵢ Σⱼ Yᵢⱼ·log Pᵢⱼ (categorical cross-entropy), P clipped below at eps."""
    s = P.dtype.type(0)
    n, o = P.shape
    for i in range(n):
        for j in range(o):
            if Y[i, j] != 0:
                s -= Y[i, j] * math.log(_clip(P[i, j], eps))
    return s / P.dtype.type(n)


@kernel
def cce_grad(P, Y, dP, eps):
    """dP = −Y / P / n (the long way round; training uses ``softmax_cce_grad``)."""
    n, o = P.shape
    inv = P.dtype.type(1) / P.dtype.type(n)
    for i in range(n):
        for j in range(o):
            dP[i, j] = -Y[i, j] / _clip(P[i, j], eps) * inv


@kernel
def softmax_cce_grad(P, Y, dZ):
    """dZ = (P − Y) / n: softmax followed by cross-entropy, differentiated together.

    The softmax Jacobian times ∂L/∂P collapses to P − Y, so the Jacobian is
    never formed (and no 1/P appears).
    """
    n, o = P.shape
    inv = P.dtype.type(1) / P.dtype.type(n)
    for i in range(n):
        for j in range(o):
            dZ[i, j] = (P[i, j] - Y[i, j]) * inv


@kernel
def sigmoid_bce_grad(P, Y, dZ):
    """dZ = (P − Y) / (n·o): sigmoid followed by binary cross-entropy, fused."""
    n, o = P.shape
    inv = P.dtype.type(1) / P.dtype.type(n * o)
    for i in range(n):
        for j in range(o):
            dZ[i, j] = (P[i, j] - Y[i, j]) * inv


# The CPU twin's loss table: L in ``loss_value``, ∂L/∂P in ``loss_grad``, one
# line per loss code (``codes.py``); an unknown code raises.
@inline
def loss_value(P, Y, loss, eps):
    """L(P, Y) by loss code: ``mse_loss``, ``bce_loss`` or ``cce_loss``."""
    if loss == MSE:
        return mse_loss(P, Y)
    if loss == BCE:
        return bce_loss(P, Y, eps)
    if loss == CCE:
        return cce_loss(P, Y, eps)
    raise ValueError("unknown loss code")


@kernel
def loss_grad(P, Y, dP, loss, eps):
    """dP = ∂L/∂P by loss code: ``mse_grad``, ``bce_grad`` or ``cce_grad``."""
    if loss == MSE:
        mse_grad(P, Y, dP)
    elif loss == BCE:
        bce_grad(P, Y, dP, eps)
    elif loss == CCE:
        cce_grad(P, Y, dP, eps)
    else:
        raise ValueError("unknown loss code")


@kernel
def is_fused(act, loss):
    """True when the output activation and the loss differentiate together (``codes.FUSED_WITH``)."""
    if loss < 0 or loss >= len(FUSED_WITH):
        raise ValueError("unknown loss code")
    return FUSED_WITH[loss] == act


@kernel
def output_grad(Z, A, Y, dA, dZ, act, loss, eps):
    """dZ of the output layer: fused (P − Y)/n, or ∂L/∂P then ``activation_grad``.

    Writes ``dZ`` and, on the unfused path, ``dA`` = ∂L/∂P.
    """
    if loss < 0 or loss >= len(FUSED_WITH):
        raise ValueError("unknown loss code")
    _output_grad(Z, A, Y, dA, dZ, act, loss, FUSED_WITH[loss] == act, eps)


@inline
def _output_grad(Z, A, Y, dA, dZ, act, loss, fused, eps):
    """``output_grad`` with ``fused`` given (a constant in the training loop)."""
    if fused:
        if loss == CCE:
            softmax_cce_grad(A, Y, dZ)  # softmax + CCE: (P − Y)/n
        else:
            sigmoid_bce_grad(A, Y, dZ)  # sigmoid + BCE: (P − Y)/(n·o)
    else:
        loss_grad(A, Y, dA, loss, eps)  # ∂L/∂P
        activation_grad(Z, A, dA, dZ, act)  # ∂L/∂Z = ∂L/∂P ⊙ σ′(Z)


# ---------------------------------------------------------------------------
# Parameter updates (the optimisers' kernels). ``optimizer_update`` is the
# CPU twin's optimiser table: one line per update code (``codes.py``).
# ---------------------------------------------------------------------------


@kernel
def sgd_update(W, dW, lr):
    """W ← W − α·dW, in place (any shape; W and dW C-contiguous, same shape)."""
    w = W.reshape(W.size)
    dw = dW.reshape(dW.size)
    alpha = W.dtype.type(lr)
    for k in range(w.size):
        w[k] -= alpha * dw[k]


@kernel
def momentum_update(W, dW, V, lr, mu, nesterov):
    """V ← μ·V − α·dW;  W ← W + V  (classical momentum, the "heavy ball"), in place.

    With ``nesterov``: W ← W + μ·V − α·dW, the look-ahead step of Nesterov's
    accelerated gradient as Sutskever et al. (2013) write it for a gradient
    taken at W (PyTorch's ``nesterov=True`` is the same update with V scaled
    by −1/α). μ = 0 is plain SGD.

    Parameters
    ----------
    W : float array, parameters (updated).  dW : float array, ∂L/∂W, same shape.
    V : float array, velocity, same shape (updated; zeros before the first step).
    lr : float, α.  mu : float, μ in [0, 1).  nesterov : bool.
    """
    w = W.reshape(W.size)
    dw = dW.reshape(dW.size)
    v = V.reshape(V.size)
    alpha = W.dtype.type(lr)
    m = W.dtype.type(mu)
    if nesterov:
        for k in range(w.size):
            step = alpha * dw[k]
            v[k] = m * v[k] - step  # V ← μ·V − α·dW
            w[k] += m * v[k] - step  # W ← W + μ·V − α·dW
    else:
        for k in range(w.size):
            v[k] = m * v[k] - alpha * dw[k]  # V ← μ·V − α·dW
            w[k] += v[k]  # W ← W + V


@ieee_kernel
def adagrad_update(W, dW, S, lr, eps):
    """AdaGrad: S ← S + dW²;  W ← W − α·dW/(√S + ε), in place (PyTorch's Adagrad box).

    IEEE division (``ieee_kernel``), as ``adam_update``: its loop vectorises.
    """
    w = W.reshape(W.size)
    g = dW.reshape(dW.size)
    acc = S.reshape(S.size)
    alpha = W.dtype.type(lr)
    e = W.dtype.type(eps)
    for k in range(w.size):
        acc[k] += g[k] * g[k]
        w[k] -= alpha * g[k] / (math.sqrt(acc[k]) + e)


@ieee_kernel
def rmsprop_update(W, dW, V, B, lr, rho, eps, mu):
    """RMSProp: V ← ρ·V + (1−ρ)·dW²;  d = √V + ε;  W ← W − α·dW/d, in place.

    With momentum μ > 0 (PyTorch's box): B ← μ·B + dW/d;  W ← W − α·B.
    ``B`` is unused when μ = 0. IEEE division (``ieee_kernel``), as ``adam_update``.
    """
    w = W.reshape(W.size)
    g = dW.reshape(dW.size)
    v = V.reshape(V.size)
    alpha = W.dtype.type(lr)
    r = W.dtype.type(rho)
    r1 = W.dtype.type(1.0 - rho)
    e = W.dtype.type(eps)
    if mu > 0:
        b = B.reshape(B.size)
        m = W.dtype.type(mu)
        for k in range(w.size):
            v[k] = r * v[k] + r1 * g[k] * g[k]
            b[k] = m * b[k] + g[k] / (math.sqrt(v[k]) + e)
            w[k] -= alpha * b[k]
    else:
        for k in range(w.size):
            v[k] = r * v[k] + r1 * g[k] * g[k]
            w[k] -= alpha * g[k] / (math.sqrt(v[k]) + e)


@ieee_kernel
def adam_update(W, dW, M, V, lr, beta1, beta2, eps, decay, t):
    """Adam (and AdamW with ``decay`` λ > 0), step ``t`` ≥ 1, in place (PyTorch's boxes).

    AdamW first: W ← W − α·λ·W (decoupled weight decay). Then
    M ← β₁·M + (1−β₁)·dW;  V ← β₂·V + (1−β₂)·dW²;  with M̂ = M/(1−β₁ᵗ) and
    V̂ = V/(1−β₂ᵗ):  W ← W − α·M̂/(√V̂ + ε), computed as PyTorch does:
    W ← W − (α/(1−β₁ᵗ))·M/(√V/√(1−β₂ᵗ) + ε), the corrections in float64.
    IEEE division (``ieee_kernel``): a zero denominator (ε = 0 with V = 0) gives
    NaN, which the fit reports as divergence, instead of a ZeroDivisionError.
    """
    w = W.reshape(W.size)
    g = dW.reshape(dW.size)
    m = M.reshape(M.size)
    v = V.reshape(V.size)
    b1 = W.dtype.type(beta1)
    b1c = W.dtype.type(1.0 - beta1)
    b2 = W.dtype.type(beta2)
    b2c = W.dtype.type(1.0 - beta2)
    step = W.dtype.type(lr / (1.0 - beta1**t))  # α / (1 − β₁ᵗ)
    root2 = W.dtype.type(math.sqrt(1.0 - beta2**t))  # √(1 − β₂ᵗ)
    e = W.dtype.type(eps)
    if decay > 0:
        shrink = W.dtype.type(1.0 - lr * decay)
        for k in range(w.size):
            w[k] *= shrink  # W ← W − α·λ·W
    for k in range(w.size):
        m[k] = b1 * m[k] + b1c * g[k]
        v[k] = b2 * v[k] + b2c * g[k] * g[k]
        w[k] -= step * m[k] / (math.sqrt(v[k]) / root2 + e)


@kernel
def optimizer_update(theta, grad, state, off, count, opt, hyper, lr, t):
    """θ ← update(θ, ∂L/∂θ, state) on the parameters ``off:off + count``, in place.

    Parameters
    ----------
    theta, grad : flat float arrays, θ (updated) and ∂L/∂θ, laid out alike.
    state : (slots, θ size) float array, the optimiser's state laid out like θ
        (updated; ``codes.py`` says which row is what for each update).
    off, count : int, the range of θ to update (one layer's W and b, or all of θ).
    opt : int, update code (``codes.SGD``, …, ``codes.ADAMW``); an unknown one raises.
    hyper : float64 array, the hyper-parameters (``codes.py`` lays them out).
    lr : float, α of this step (hyper[LR] after the schedule).  t : int, the step's number ≥ 1.
    """
    w = theta[off : off + count]
    g = grad[off : off + count]
    if opt == SGD:
        sgd_update(w, g, lr)
    elif opt == MOMENTUM:
        momentum_update(w, g, state[0][off : off + count], lr, hyper[MU], hyper[NESTEROV] != 0)
    elif opt == ADAGRAD:
        adagrad_update(w, g, state[0][off : off + count], lr, hyper[EPS_ADAGRAD])
    elif opt == RMSPROP:
        buffer = state[1][off : off + count] if hyper[MU_RMS] > 0 else g
        rmsprop_update(w, g, state[0][off : off + count], buffer, lr, hyper[RHO], hyper[EPS_RMS],
                       hyper[MU_RMS])  # fmt: skip
    elif opt == ADAM or opt == ADAMW:
        decay = hyper[DECAY] if opt == ADAMW else 0.0
        adam_update(w, g, state[0][off : off + count], state[1][off : off + count], lr,
                    hyper[BETA1], hyper[BETA2], hyper[EPS_ADAM], decay, t)  # fmt: skip
    else:
        raise ValueError("unknown optimizer code")


# ---------------------------------------------------------------------------
# Regularisation (the penalty λ₁·Σ|W| + λ₂·ΣW² and its gradient) and
# inverted dropout, whose masks come from ``codes.dropout_unit``.
# ---------------------------------------------------------------------------

_schedule_rate = kernel(codes.schedule_rate)


@kernel
def penalty(W, l1, l2):
    """λ₁·Σ|W| + λ₂·ΣW², in float64 (Keras's kernel_regularizer l1 / l2)."""
    w = W.reshape(W.size)
    s1 = 0.0
    s2 = 0.0
    for k in range(w.size):
        x = float(w[k])
        s1 += abs(x)
        s2 += x * x
    return l1 * s1 + l2 * s2


@kernel
def penalty_grad(W, dW, l1, l2):
    """dW ← dW + λ₁·sign(W) + 2λ₂·W, in place (the penalty's gradient, W before the step)."""
    w = W.reshape(W.size)
    g = dW.reshape(dW.size)
    a = W.dtype.type(l1)
    b = W.dtype.type(2.0 * l2)
    zero = W.dtype.type(0)
    for k in range(w.size):
        if w[k] > zero:
            g[k] += a + b * w[k]
        elif w[k] < zero:
            g[k] += b * w[k] - a
        # sign(0) = 0: an exact zero weight gets no push


# The masks below are codes.dropout_unit's, computed in two parts: its first three rounds
# (seed, step, layer) once per call, its last round (the element's index) per element,
# and the test u ≥ p made on the integer: u = h/2³² exactly, and p·2³² is exact in
# float64, so u ≥ p ⟺ h ≥ ⌈p·2³²⌉. The same bits, and no 64-bit integer → float
# conversion per element (which AVX2 cannot vectorise): 2.0 → 1.0 ns per element of a
# 128 × 128 input, forward and backward alike (one core, CPU time).
# tests/test_optimizers.py checks the masks against codes.dropout_unit.


@inline
def _dropout_round(h, key):
    """One round of ``codes.dropout_unit``'s hash: ``key`` mixed into the 32-bit state ``h``."""
    x = h ^ (key & codes.MASK32)
    x ^= x >> 16
    x = (((((x >> 16) * 0x7FEB352D) & 0xFFFF) << 16) + (x & 0xFFFF) * 0x7FEB352D) & codes.MASK32
    x ^= x >> 15
    x = (((((x >> 16) * 0x846CA68B) & 0xFFFF) << 16) + (x & 0xFFFF) * 0x846CA68B) & codes.MASK32
    x ^= x >> 16
    return x


@inline
def _dropout_key(seed, t, layer):
    """The hash state after the seed, step and layer rounds (shared by a call's elements)."""
    return _dropout_round(_dropout_round(_dropout_round(0x9E3779B9, seed), t), layer)


@kernel
def dropout_forward(A, D, p, seed, t, layer):
    """D = A ⊙ keep / (1 − p) with keep = [u ≥ p], u = ``dropout_unit(seed, t, layer, r·o + c)``.

    Inverted dropout on a layer's input A (n, o); ``D`` may be ``A`` itself.
    """
    n, o = A.shape
    scale = A.dtype.type(1.0 / (1.0 - p))
    zero = A.dtype.type(0)
    key = _dropout_key(seed, t, layer)
    least = math.ceil(p * 4294967296.0)  # u ≥ p ⟺ h ≥ ⌈p·2³²⌉
    for r in range(n):
        for c in range(o):
            if _dropout_round(key, r * o + c) >= least:
                D[r, c] = A[r, c] * scale
            else:
                D[r, c] = zero


@kernel
def dropout_backward(dD, p, seed, t, layer):
    """dA = dD ⊙ keep / (1 − p), in place: the same mask as ``dropout_forward``'s."""
    n, o = dD.shape
    scale = dD.dtype.type(1.0 / (1.0 - p))
    zero = dD.dtype.type(0)
    key = _dropout_key(seed, t, layer)
    least = math.ceil(p * 4294967296.0)  # u ≥ p ⟺ h ≥ ⌈p·2³²⌉
    for r in range(n):
        for c in range(o):
            if _dropout_round(key, r * o + c) >= least:
                dD[r, c] *= scale
            else:
                dD[r, c] = zero


# ---------------------------------------------------------------------------
# The Rosenblatt perceptron: ŷ = 1 if x·w + b ≥ θ else 0.
# ---------------------------------------------------------------------------


@kernel
def perceptron_predict(X, w, b, threshold, out):
    """out = [X·w + b ≥ θ] as 0/1 (a sum exactly at the threshold fires).

    Parameters
    ----------
    X : (n, i) float array.  w : (i,) float array.  b : (1,) float array.
    threshold : float, θ.
    out : (n,) int64 array, output 0/1.
    """
    for r in range(X.shape[0]):
        s = b[0]
        for k in range(X.shape[1]):
            s += X[r, k] * w[k]  # weighted sum Σ wₖxₖ + b
        out[r] = 1 if s >= threshold else 0


@kernel
def perceptron_step(x, y, w, b, eta, threshold):
    """One learning-rule step on one sample: w ← w + η(y − ŷ)x, b ← b + η(y − ŷ).

    Parameters
    ----------
    x : (i,) float array.  y : int, target 0/1.
    w : (i,) float array, updated in place.  b : (1,) float array, updated in place.
    eta : float, η.  threshold : float, θ.

    Returns
    -------
    int : the error y − ŷ (0 when the sample was already right).
    """
    s = b[0]
    for k in range(x.shape[0]):
        s += x[k] * w[k]
    y_hat = 1 if s >= threshold else 0
    err = y - y_hat
    if err != 0:
        step = w.dtype.type(eta) * w.dtype.type(err)
        for k in range(x.shape[0]):
            w[k] += step * x[k]
        b[0] += step
    return err


@kernel
def perceptron_epoch(X, y, w, b, eta, threshold):
    """One pass of the learning rule over the samples in order; returns the number of updates."""
    updates = 0
    for r in range(X.shape[0]):
        if perceptron_step(X[r], y[r], w, b, eta, threshold) != 0:
            updates += 1
    return updates


# ---------------------------------------------------------------------------
# A whole network. Parameters and per-layer buffers live in flat vectors and
# each layer's W, b, Z, A, … is a view into them at an offset (the layout is
# ``codes.param_offset`` and ``codes.buffer_offset``): one update covers
# every layer, a model file is one array, and no typed lists are needed.
# ``dims`` = (n_in, units₁, …, units_L); ``acts`` = activation code per layer.
# ---------------------------------------------------------------------------

# Compiled as kernels of their own, not inlined: each is called from many places, and
# inlining them made the first run's compile slower.
_param_offset = kernel(codes.param_offset)
_buffer_offset = kernel(codes.buffer_offset)


@kernel
def _param_views(theta, dims, layer):
    """(W, b) of ``layer`` as views into the flat parameter vector ``theta``."""
    off = _param_offset(dims, layer)
    i = dims[layer]
    o = dims[layer + 1]
    W = theta[off : off + i * o].reshape((i, o))
    b = theta[off + i * o : off + i * o + o]
    return W, b


@kernel
def _act_view(buf, dims, layer, m):
    """Rows 0..m−1 of ``layer``'s (batch, units) buffer inside the flat ``buf``."""
    off = _buffer_offset(dims, layer, buf.shape[0])
    o = dims[layer + 1]
    return buf[off : off + m * o].reshape((m, o))


@inline
def forward_pass(X, theta, dims, acts, Zbuf, Abuf):
    """Forward propagation through every layer: A⁰ = X, Aˡ = σ(Aˡ⁻¹·Wˡ + bˡ).

    Parameters
    ----------
    X : (m, n_in) float array, the batch.
    theta : flat float array of all parameters.  dims, acts : int64 arrays.
    Zbuf, Abuf : flat float arrays of capacity ≥ m rows per layer, outputs.
    """
    m = X.shape[0]
    A_prev = X
    for layer in range(acts.shape[0]):
        W, b = _param_views(theta, dims, layer)
        Z = _act_view(Zbuf, dims, layer, m)
        A = _act_view(Abuf, dims, layer, m)
        dense_forward(A_prev, W, b, Z, A, acts[layer])
        A_prev = A


@inline
def _forward_dropout(X, theta, dims, acts, Zbuf, Abuf, Dbuf, layer_hyper, seed, t):
    """Forward propagation while training with dropout: Aˡ = σ(Dˡ⁻¹·Wˡ + bˡ).

    Dˡ⁻¹ is layer ℓ's input Aˡ⁻¹ after inverted dropout at rate
    p = ``layer_hyper[ℓ, DROP]`` (``dropout_forward``; itself where p = 0).
    Layer 1's input X is the gathered batch, a copy, masked in place; a
    hidden layer's dropped input goes to ``Dbuf`` (laid out like ``Abuf``),
    so Aˡ keeps σ(Zˡ) for σ′.
    """
    m = X.shape[0]
    A_prev = X
    for layer in range(acts.shape[0]):
        p = layer_hyper[layer, DROP]
        D = A_prev
        if p > 0:
            if layer > 0:
                D = _act_view(Dbuf, dims, layer - 1, m)
            dropout_forward(A_prev, D, p, seed, t, layer)
        W, b = _param_views(theta, dims, layer)
        Z = _act_view(Zbuf, dims, layer, m)
        A = _act_view(Abuf, dims, layer, m)
        dense_forward(D, W, b, Z, A, acts[layer])  # Z = D·W + b, A = σ(Z)
        A_prev = A


@kernel
def network_penalty(theta, dims, layer_hyper):
    """Σ over layers of λ₁·Σ|W| + λ₂·ΣW² (the regularisation term of the loss), float64."""
    total = 0.0
    for layer in range(layer_hyper.shape[0]):
        l1 = layer_hyper[layer, L1]
        l2 = layer_hyper[layer, L2]
        if l1 > 0 or l2 > 0:
            W, b = _param_views(theta, dims, layer)
            total += penalty(W, l1, l2)
    return total


_NO_HYPER = np.zeros(1, np.float64)  # the hyper-parameters of no update (backward_pass, evaluation)
_NO_LAYERS = np.zeros((0, 3), np.float64)  # no penalty, no dropout
_NO_SCHEDULE = np.zeros(codes.SCHEDULE_SIZE, np.float64)  # constant α
_NO_CLOCK = np.zeros(3, np.int64)


def backward_pass(X, Y, theta, dims, acts, loss, eps, Zbuf, Abuf, dZbuf, dAbuf, grad):
    """Backward propagation from the loss to every W and b (right to left), no update.

    Needs the forward pass's Z and A in ``Zbuf``/``Abuf``. Writes ∂L/∂Z and
    ∂L/∂A per layer into ``dZbuf``/``dAbuf`` and ∂L/∂θ into ``grad`` (laid out
    like ``theta``). Compiled for this loss and output activation
    (``_backward_for_config``).
    """
    compiled = _backward_for_config(int(loss), int(acts[-1]))
    compiled(X, Y, theta, dims, acts, eps, Zbuf, Abuf, dZbuf, dAbuf, grad)


@functools.cache
def _backward_for_config(loss: int, out_act: int):
    """``_backward`` without update, compiled for one loss and output activation.

    Like ``_for_config``: the loss and the output are constants of the closure,
    so Numba compiles only the output gradient they need (a runtime loss code
    compiled every loss's gradient, ``loss_grad``: 1.0 CPU-second of a first run).
    For the lessons' step-by-step passes; ``fit``'s health probe runs ``backprop``.
    """
    if loss not in codes.LOSS_CODES or out_act not in codes.ACTIVATION_CODES:
        raise ValueError(f"unknown loss or activation code ({loss}, {out_act})")
    LOSS, OUT = int(loss), int(out_act)
    FUSED = FUSED_WITH[LOSS] == OUT

    @kernel
    def backward_for_config(X, Y, theta, dims, acts, eps, Zbuf, Abuf, dZbuf, dAbuf, grad):
        _gradient(X, Y, theta, dims, acts, OUT, LOSS, FUSED, eps, Zbuf, Abuf, dZbuf, dAbuf, grad)

    return backward_for_config


@inline
def _gradient(X, Y, theta, dims, acts, out_act, loss, fused, eps, Zbuf, Abuf, dZbuf, dAbuf, grad):
    """``_backward`` without update: ∂L/∂θ into ``grad``, θ unchanged (constants inlined)."""
    _backward(X, Y, theta, dims, acts, out_act, loss, fused, eps, Zbuf, Abuf, dZbuf, dAbuf, grad,
              False, False, SGD, _NO_HYPER, theta[:0].reshape((0, 0)), 0.0, 1, False, False,
              _NO_LAYERS, Zbuf, 0)  # fmt: skip


def backprop(X, Y, theta, dims, acts, loss, eps, Zbuf, Abuf, dZbuf, dAbuf, grad):
    """``forward_pass`` then ``backward_pass`` on the rows X, Y, by the compiled training loop.

    Every Aˡ and Zˡ into ``Zbuf``/``Abuf``, ∂L/∂θ into ``grad``; θ unchanged.
    What the layer-health probe runs at a measured epoch's end (``nnlite.health``).
    The training loop's third mode (``batch_size`` 0, see ``_for_config``): the
    probe needs no compiled function of its own. Measured on a default ``nnlite
    train``'s first run, compile CPU-seconds minus a warm run's, median of 4
    interleaved pairs: 11.2 with a runtime loss code (every loss's gradient and a
    separate ``forward_pass``), 9.7 with a closure of its own for the loss and
    output, 9.0 as this mode of the training loop (better in each pair, 0.4–1.1).
    """
    _compiled_loop(int(loss), int(acts[-1]))(
        X, Y, _NO_ORDER, 0, X.shape[0], 0, theta, dims, acts, False, _NO_HYPER,
        Zbuf[:0].reshape((0, 0)), eps, X, Y, Zbuf, Abuf, dZbuf, dAbuf, grad, _NO_STATS,
        _NO_LAYERS, _NO_SCHEDULE, _NO_CLOCK, Zbuf[:0],
    )  # fmt: skip


@inline
def _backward(
    X, Y, theta, dims, acts, out_act, loss, fused, eps, Zbuf, Abuf, dZbuf, dAbuf, grad,
    update, fused_sgd, opt, hyper, state, lr, t, reg, dropout, layer_hyper, Dbuf, seed,
):  # fmt: skip
    """Backward propagation, right to left, each layer taking its update as soon as it can.

    For each layer ℓ from the output down: dZ is known (from the loss, or from
    the layer above through σ′); then dW = Xᵀ·dZ, db = Σₙ dZ and dX = dZ·Wᵀ —
    dX with W before its update —, and, when ``update``, the optimiser's step
    on this layer's W and b (``optimizer_update``, at rate ``lr``, step ``t``).
    The layers below never read this layer's W, so this is the same step as
    updating all of θ after the whole backward pass, in the same order, bit for
    bit; it lets each layer's W, X and dZ be used while they are in the cache.

    ``reg``: dW also gets the penalty's gradient λ₁·sign(W) + 2λ₂·W, with W
    before the step. ``dropout``: a layer's X is its dropped input D (the
    masked batch, or ``Dbuf``), and dX flows back through the same mask,
    dA = dD ⊙ keep/(1 − p) (``dropout_backward``), before σ′.

    ``fused_sgd`` (plain SGD, no penalty): W ← W − α·Xᵀ·dZ in one BLAS call
    (``dense_sgd_update``, after dX has used the old W) and b ← b − α·db; dW
    is never stored, ``grad`` holds only the db. Without ``update``
    (``backward_pass``), ∂L/∂θ goes to ``grad`` and θ is unchanged.
    ``out_act``, ``loss``, ``fused``, ``update``, ``fused_sgd``, ``reg`` and
    ``dropout`` are constants where this is inlined, so that Numba compiles
    only the branches one configuration needs.
    """
    m = X.shape[0]
    L = acts.shape[0]
    last = L - 1
    _output_grad(
        _act_view(Zbuf, dims, last, m),
        _act_view(Abuf, dims, last, m),
        Y,
        _act_view(dAbuf, dims, last, m),
        _act_view(dZbuf, dims, last, m),
        out_act,
        loss,
        fused,
        eps,
    )
    for layer in range(last, -1, -1):
        W, b = _param_views(theta, dims, layer)
        dW, db = _param_views(grad, dims, layer)
        dZ = _act_view(dZbuf, dims, layer, m)
        hidden = layer > 0  # the network's input X needs no gradient
        # one call site for every layer: a constant flag would compile dense_backward twice
        A_prev = _act_view(Abuf, dims, layer - 1, m) if hidden else X
        dA_prev = _act_view(dAbuf, dims, layer - 1, m) if hidden else X
        p = 0.0
        D = A_prev  # the layer's input as the forward pass used it
        if dropout:
            p = layer_hyper[layer, DROP]
            if p > 0 and hidden:
                D = _act_view(Dbuf, dims, layer - 1, m)
        if update and fused_sgd:
            if hidden:
                matmul_nt(dZ, W, dA_prev)  # dA = dZ·Wᵀ, with W before its step
            column_sum(dZ, db)  # db = Σₙ dZ
            dense_sgd_update(W, D, dZ, lr)  # W ← W − α·Xᵀ·dZ
            sgd_update(b, db, lr)  # b ← b − α·db
        else:
            dense_backward(D, W, dZ, dW, db, dA_prev, hidden)
            if reg:  # dW += ∂(λ₁·Σ|W| + λ₂·ΣW²)/∂W
                l1 = layer_hyper[layer, L1]
                l2 = layer_hyper[layer, L2]
                if l1 > 0 or l2 > 0:
                    penalty_grad(W, dW, l1, l2)
            if update:  # θ ← update(θ, ∂L/∂θ) on this layer's W and b
                off = _param_offset(dims, layer)
                count = dims[layer] * dims[layer + 1] + dims[layer + 1]
                optimizer_update(theta, grad, state, off, count, opt, hyper, lr, t)
        if hidden:
            if dropout and p > 0:  # back through the mask: dA = dD ⊙ keep/(1 − p)
                dropout_backward(dA_prev, p, seed, t, layer)
            # dZ of the layer below = dA ⊙ σ′(Z)
            activation_grad(
                _act_view(Zbuf, dims, layer - 1, m),
                A_prev,
                dA_prev,
                _act_view(dZbuf, dims, layer - 1, m),
                acts[layer - 1],
            )


@kernel
def count_correct(P, Y):
    """Number of rows whose predicted class matches the target's.

    Several outputs: argmax P = argmax Y. One output: [P ≥ ½] = [Y ≥ ½].
    """
    n, o = P.shape
    half = P.dtype.type(0.5)
    correct = 0
    for i in range(n):
        if o == 1:
            if (P[i, 0] >= half) == (Y[i, 0] >= half):
                correct += 1
        else:
            bp = 0
            by = 0
            for j in range(1, o):
                if P[i, j] > P[i, bp]:
                    bp = j
                if Y[i, j] > Y[i, by]:
                    by = j
            if bp == by:
                correct += 1
    return correct


@inline
def _train_batches(
    X, Y, order, start, stop, batch_size, theta, dims, acts, loss, out_act, fused, fused_sgd,
    learn, opt, hyper, state, eps, Xb, Yb, Zbuf, Abuf, dZbuf, dAbuf, grad, stats, run, reg,
    dropout, scheduled,
):  # fmt: skip
    """Mini-batch training over ``order[start:stop]``, ``batch_size`` rows at a time.

    The training step, for each batch: gather its rows; α for this step from
    the schedule; forward propagation, left to right (with dropout); the loss
    (plus the penalty) and the number of correct rows, added to ``stats``;
    backward propagation, right to left, each layer updated by the optimiser
    as soon as its gradient is complete (``_backward``); the step counter
    t ← t + 1. The whole loop runs compiled; the caller slices an epoch into
    chunks to report progress between them. With ``learn`` False it only
    evaluates: rows ``start:stop`` of X in their own order (``order``, ``Xb``,
    ``Yb``, ``dZbuf``, ``dAbuf``, ``grad``, ``state``, ``layer_hyper``,
    ``schedule``, ``clock`` and ``Dbuf`` unused), no dropout, no penalty, no
    gradient, no update, no early stop; this spares the first run a second
    compiled loop for evaluation.

    Parameters
    ----------
    X : (N, n_in) float array.  Y : (N, n_out) float array, targets.
    order : (N,) int64 array, the epoch's sample order.
    start, stop : int, the range of ``order`` to run (a multiple of
        ``batch_size`` apart, except at the end of the epoch).
    Xb, Yb : (batch_size, ·) float arrays, scratch for the gathered batch.
    Zbuf, Abuf, dZbuf, dAbuf, grad : scratch (see ``forward_pass``).
    loss, out_act, fused, fused_sgd : loss code, output activation code
        (``acts[-1]``), whether they differentiate together, whether the update
        is plain SGD without penalty; constants of the compiled closure
        (``_for_config``).
    reg, dropout, scheduled : constants too (each its own argument: Numba
        prunes a branch on a constant argument, not on a value unpacked from a
        tuple): whether any layer has a penalty, whether any has dropout,
        whether α follows a schedule.
    opt, hyper, state : the update code, its hyper-parameters (float64;
        hyper[LR] = α₀) and its state, (slots, θ size), updated.
    run : the tuple (layer_hyper, schedule, clock, Dbuf) (one argument: a call
        with more than 30 arguments compiles to a ``*args`` call, which Numba
        cannot inline):
        layer_hyper, (layers, 3) float64 array, each layer's λ₁, λ₂ and dropout rate;
        schedule, float64 array, (code, per step, a, b, c) (``codes.schedule_rate``);
        clock, int64 array, (updates so far t, epoch, dropout seed), t updated;
        Dbuf, flat float array laid out like ``Abuf``, the hidden layers' dropped inputs.
    stats : (4,) float64 array, output: Σ batch loss × rows, Σ correct rows,
        rows done, and the first batch's loss (set when rows done was 0).
        Stops early, before updating, at the first batch whose loss is not finite.

    Returns
    -------
    int : −1, or the index (from 0, within this call) of the non-finite batch.
    """
    layer_hyper, schedule, clock, Dbuf = run
    batch = 0
    seed = clock[CLOCK_SEED]
    for s in range(start, stop, batch_size):
        m = min(batch_size, stop - s)
        t = clock[CLOCK_STEP] + 1  # this update's number
        lr = hyper[LR]
        if learn:
            Xm = Xb[:m]
            Ym = Yb[:m]
            for r in range(m):  # gather the batch's rows in the epoch's order
                row = order[s + r]
                # element loops: a row assignment ``Xm[r] = X[row]`` costs seconds of JIT time
                for c in range(X.shape[1]):
                    Xm[r, c] = X[row, c]
                for c in range(Y.shape[1]):
                    Ym[r, c] = Y[row, c]
        else:  # evaluation: the rows as they are, no copy
            Xm = X[s : s + m]
            Ym = Y[s : s + m]
        if scheduled and learn:  # α of this step: the schedule at t − 1 updates or at the epoch
            time = clock[CLOCK_STEP] if schedule[1] != 0 else clock[CLOCK_EPOCH]
            lr = _schedule_rate(int(schedule[0]), hyper[LR], time, schedule[2], schedule[3],
                                schedule[4])  # fmt: skip
        if dropout and learn:
            _forward_dropout(Xm, theta, dims, acts, Zbuf, Abuf, Dbuf, layer_hyper, seed, t)
        else:
            forward_pass(Xm, theta, dims, acts, Zbuf, Abuf)
        P = _act_view(Abuf, dims, acts.shape[0] - 1, m)
        batch_loss = loss_value(P, Ym, loss, eps)
        if reg and learn:  # L = data loss + λ₁·Σ|W| + λ₂·ΣW², with θ before the step
            batch_loss += network_penalty(theta, dims, layer_hyper)
        if learn and not math.isfinite(batch_loss):
            return batch
        if stats[2] == 0:
            stats[3] = batch_loss  # the loss before the first update
        stats[0] += batch_loss * m
        stats[1] += count_correct(P, Ym)
        stats[2] += m
        if not learn:
            continue
        _backward(Xm, Ym, theta, dims, acts, out_act, loss, fused, eps, Zbuf, Abuf, dZbuf, dAbuf,
                  grad, True, fused_sgd, opt, hyper, state, lr, t, reg, dropout, layer_hyper,
                  Dbuf, seed)  # fmt: skip
        clock[CLOCK_STEP] = t
        batch += 1
    return -1


# ---------------------------------------------------------------------------
# The training loop compiled for one configuration: only the code a run needs.
# ---------------------------------------------------------------------------


@functools.cache
def _for_config(loss: int, out_act: int, opt: int, reg: bool, dropout: bool, scheduled: bool):
    """``_train_batches`` compiled for one loss, output activation, update, penalty and dropout.

    It is inlined at Numba-IR level into a closure whose configuration is a
    constant, so Numba drops the branches that the constants decide before it
    types anything: a softmax + cross-entropy run with plain SGD compiles
    neither the MSE and BCE code, nor the unfused output gradient, nor the
    general update, nor dropout (measured: the first run's compile 15–17 →
    9–11 CPU-seconds). The closure is cached on disk under its constants
    (Numba hashes a closure's cell values into the cache key).

    Its third mode, ``batch_size`` 0: one forward and one backward pass over
    all of X, Y, ∂L/∂θ into ``grad`` and no update (``backprop``: the
    layer-health probe), so that the probe needs no compiled function of its own.
    """
    if loss not in codes.LOSS_CODES or out_act not in codes.ACTIVATION_CODES:
        raise ValueError(f"unknown loss or activation code ({loss}, {out_act})")
    if opt not in codes.OPTIMIZER_CODES:
        raise ValueError(f"unknown optimizer code {opt}")
    LOSS, OUT, OPT = int(loss), int(out_act), int(opt)
    REG, DROPOUT, SCHEDULED = bool(reg), bool(dropout), bool(scheduled)
    FUSED, FUSED_SGD = FUSED_WITH[LOSS] == OUT, OPT == SGD and not REG

    @kernel
    def train_batches_for_config(
        X, Y, order, start, stop, batch_size, theta, dims, acts, learn, hyper, state, eps,
        Xb, Yb, Zbuf, Abuf, dZbuf, dAbuf, grad, stats, layer_hyper, schedule, clock, Dbuf,
    ):  # fmt: skip
        if batch_size == 0:  # the third mode (``backprop``): ∂L/∂θ on X, Y, no update
            forward_pass(X, theta, dims, acts, Zbuf, Abuf)
            _gradient(X, Y, theta, dims, acts, OUT, LOSS, FUSED, eps, Zbuf, Abuf, dZbuf, dAbuf,
                      grad)  # fmt: skip
            return -1
        return _train_batches(
            X, Y, order, start, stop, batch_size, theta, dims, acts, LOSS, OUT, FUSED, FUSED_SGD,
            learn, OPT, hyper, state, eps, Xb, Yb, Zbuf, Abuf, dZbuf, dAbuf, grad, stats,
            (layer_hyper, schedule, clock, Dbuf), REG, DROPOUT, SCHEDULED,
        )  # fmt: skip

    return train_batches_for_config


def _run_flags(layer_hyper):
    """(any penalty, any dropout) of a (layers, 3) ``layer_hyper`` array: the loop to compile."""
    lh = np.asarray(layer_hyper)
    if lh.size == 0:
        return False, False
    return bool((lh[:, L1] > 0).any() or (lh[:, L2] > 0).any()), bool((lh[:, DROP] > 0).any())


def train_batches(
    X, Y, order, start, stop, batch_size, theta, dims, acts, loss, opt, hyper, state, eps,
    Xb, Yb, Zbuf, Abuf, dZbuf, dAbuf, grad, stats, layer_hyper=_NO_LAYERS,
    schedule=_NO_SCHEDULE, clock=None, Dbuf=None,
):  # fmt: skip
    """Mini-batch training over ``order[start:stop]``: ``_train_batches`` compiled for this run.

    Same contract and arguments as the CUDA twin; see ``_train_batches``.
    ``opt``: the update code; ``hyper``: its hyper-parameters (float64 array,
    hyper[LR] = α₀); ``state``: its (slots, θ size) state array, updated;
    ``layer_hyper``: (layers, 3) λ₁, λ₂, dropout rate (default: none);
    ``schedule``: the schedule vector (default: constant α); ``clock``: (t,
    epoch, seed), t updated (default: a fresh one, t = 0); ``Dbuf``: laid out
    like ``Abuf`` when a hidden layer has dropout.
    """
    if int(schedule[0]) not in codes.SCHEDULE_CODES:
        raise ValueError(f"unknown schedule code {schedule[0]}")
    reg, dropout = _run_flags(layer_hyper)
    if reg or dropout:
        if layer_hyper.shape != (acts.shape[0], 3):
            raise ValueError("layer_hyper must hold one (l1, l2, drop) row per layer")
    else:
        layer_hyper = _NO_LAYERS
    clock = np.zeros(3, np.int64) if clock is None else clock
    Dbuf = Abuf[:0] if Dbuf is None else Dbuf
    if dropout and (layer_hyper[1:, DROP] > 0).any() and Dbuf.size < Abuf.size:
        raise ValueError("dropout on a hidden layer's output needs a Dbuf the size of Abuf")
    scheduled = int(schedule[0]) != codes.CONSTANT
    compiled = _for_config(int(loss), int(acts[-1]), int(opt), reg, dropout, scheduled)
    return compiled(
        X, Y, order, start, stop, batch_size, theta, dims, acts, True, hyper, state, eps,
        Xb, Yb, Zbuf, Abuf, dZbuf, dAbuf, grad, stats, layer_hyper, schedule, clock, Dbuf,
    )  # fmt: skip


_NO_ORDER = np.zeros(0, np.int64)
_NO_STATS = np.zeros(4, np.float64)  # the probe's mode writes none


def evaluate_rows(X, Y, start, stop, theta, dims, acts, loss, eps, Zbuf, Abuf, stats):
    """Σ loss × rows and Σ correct over rows ``start:stop`` (no update), added to ``stats``.

    The training loop with ``learn`` False, so the evaluation of a training
    run needs no compiled code of its own: it reuses whichever loop is
    compiled (or loaded) already, else the plain-SGD one. No dropout and no
    penalty (the caller adds the penalty). ``Zbuf``/``Abuf`` hold at least
    ``stop − start`` rows per layer.
    """
    unused = Zbuf[:0]
    _compiled_loop(int(loss), int(acts[-1]))(
        X, Y, _NO_ORDER, start, stop, max(stop - start, 1), theta, dims, acts, False, _NO_HYPER,
        unused.reshape((0, 0)), eps, X, Y, Zbuf, Abuf, Zbuf, Abuf, unused, stats, _NO_LAYERS,
        _NO_SCHEDULE, _NO_CLOCK, unused,
    )  # fmt: skip


def _compiled_loop(loss: int, out_act: int):
    """The training loop for this loss and output already compiled (or loaded), else plain SGD's."""
    for key in _configs(loss, out_act):
        candidate = _for_config(*key)
        if candidate.signatures:
            return candidate
    return _for_config(loss, out_act, SGD, False, False, False)


def _configs(loss: int, out_act: int):
    """Every key of ``_for_config`` for this loss and output."""
    for opt in codes.OPTIMIZER_CODES:
        for flags in itertools.product((False, True), repeat=3):
            yield (loss, out_act, opt, *flags)
