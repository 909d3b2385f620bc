"""Independent float64 references for nnlite's kernels (numpy and scipy only).

Never imports nnlite: a bug in nnlite cannot leak into its own reference.
Row convention as in the lesson: X (n, i), W (i, o), b (o,), Z and A (n, o).
"""

from __future__ import annotations

import numpy as np
from scipy import special

# Activation names in kernel-code order (identity, sigmoid, tanh, relu, softmax, …).
ACT_NAMES = ("identity", "sigmoid", "tanh", "relu", "softmax", "leaky_relu", "softplus")
LEAKY_SLOPE = 0.01  # PyTorch's LeakyReLU default negative_slope
LOSS_NAMES = ("mse", "bce", "cce")


def f64(a):
    return np.asarray(a, dtype=np.float64)


def activation(Z, name):
    """σ(Z) in float64."""
    Z = f64(Z)
    if name == "identity":
        return Z.copy()
    if name == "sigmoid":
        return special.expit(Z)
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0.0)
    if name == "softmax":
        return special.softmax(Z, axis=1)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, LEAKY_SLOPE * Z)
    if name == "softplus":
        return np.logaddexp(0.0, Z)  # log(e⁰ + eᶻ) = log(1 + eᶻ)
    raise ValueError(name)


def activation_jacobian_vjp(Z, dA, name):
    """dZ = dA ⊙ σ′(Z); for softmax, each row's full Jacobian diag(a) − a·aᵀ applied to dA."""
    Z, dA = f64(Z), f64(dA)
    if name == "identity":
        return dA.copy()
    if name == "sigmoid":
        s = special.expit(Z)
        return dA * s * (1 - s)
    if name == "tanh":
        return dA * (1 - np.tanh(Z) ** 2)
    if name == "relu":
        return dA * (Z > 0)
    if name == "leaky_relu":
        return dA * np.where(Z > 0, 1.0, LEAKY_SLOPE)
    if name == "softplus":
        return dA * special.expit(Z)  # d/dz log(1 + eᶻ) = eᶻ/(1 + eᶻ)
    if name == "softmax":
        out = np.empty_like(Z)
        for r in range(Z.shape[0]):
            a = special.softmax(Z[r])
            J = np.diag(a) - np.outer(a, a)  # ∂aᵢ/∂zⱼ, formed explicitly on purpose
            out[r] = J.T @ dA[r]
        return out
    raise ValueError(name)


def dense_forward(X, W, b, name):
    Z = f64(X) @ f64(W) + f64(b)
    return Z, activation(Z, name)


def dense_backward(X, W, dZ):
    X, W, dZ = f64(X), f64(W), f64(dZ)
    return X.T @ dZ, dZ.sum(axis=0), dZ @ W.T


def clip(P, eps):
    return np.clip(f64(P), eps, 1 - eps)


def loss(P, Y, name, eps):
    P, Y = f64(P), f64(Y)
    n = P.shape[0]
    if name == "mse":
        return np.mean((P - Y) ** 2)
    if name == "bce":
        Pc = clip(P, eps)
        return -np.mean(special.xlogy(Y, Pc) + special.xlogy(1 - Y, 1 - Pc))
    if name == "cce":
        return -special.xlogy(Y, np.maximum(P, eps)).sum() / n
    raise ValueError(name)


def loss_grad(P, Y, name, eps):
    """∂L/∂P of ``loss`` (closed forms written from the definitions above)."""
    P, Y = f64(P), f64(Y)
    n, o = P.shape
    if name == "mse":
        return 2 * (P - Y) / (n * o)
    if name == "bce":
        Pc = clip(P, eps)
        return (-(Y / Pc) + (1 - Y) / (1 - Pc)) / (n * o)
    if name == "cce":
        return -Y / np.maximum(P, eps) / n
    raise ValueError(name)


def network_forward(X, params, acts):
    """A⁰ = X, Aˡ = σ(Aˡ⁻¹·Wˡ + bˡ); params is a list of (W, b)."""
    A = f64(X)
    for (W, b), name in zip(params, acts):
        A = activation(A @ f64(W) + f64(b), name)
    return A


def unpack(theta, dims):
    """Split a flat θ into [(W, b), …] for layer sizes dims = (n_in, units…)."""
    params, off = [], 0
    for i, o in zip(dims[:-1], dims[1:]):
        W = theta[off : off + i * o].reshape(i, o)
        b = theta[off + i * o : off + i * o + o]
        params.append((W, b))
        off += i * o + o
    return params


def network_loss(theta, X, Y, dims, acts, loss_name, eps=1e-12):
    """L(θ) in float64, for finite differences."""
    P = network_forward(X, unpack(f64(theta), dims), acts)
    return loss(P, Y, loss_name, eps)


def central_fprime(theta, f, *args, h=1e-5):
    """∇f by central differences, built from scipy's ``approx_fprime``.

    ``approx_fprime`` is a forward difference (error O(h)); averaging it with
    the backward difference (step −h) gives the central difference, O(h²).
    """
    from scipy.optimize import approx_fprime

    theta = f64(theta)
    return (approx_fprime(theta, f, h, *args) + approx_fprime(theta, f, -h, *args)) / 2


def momentum_step(W, dW, V, lr, mu, nesterov):
    """(W, V) after one step, written as PyTorch's SGD(momentum, nesterov) does it.

    PyTorch keeps a buffer B = μ·B + g and steps W ← W − α·(g + μ·B) (Nesterov)
    or W ← W − α·B; nnlite's velocity is V = −α·B. Independent of nnlite's form.
    """
    W, g = f64(W), f64(dW)
    B = -f64(V) / lr  # the PyTorch buffer that corresponds to V
    B = mu * B + g
    step = g + mu * B if nesterov else B
    return [W - lr * step, -lr * B]


# ---------------------------------------------------------------------------
# The adaptive optimisers, from the published definitions (PyTorch's
# torch.optim algorithm boxes, written with M̂ and V̂ as the papers do), float64.
# ---------------------------------------------------------------------------


def adagrad_step(W, g, S, lr, eps):
    """(W, S) after one AdaGrad step: S ← S + g², W ← W − α·g/(√S + ε)."""
    W, g, S = f64(W), f64(g), f64(S)
    S = S + g * g
    return [W - lr * g / (np.sqrt(S) + eps), S]


def rmsprop_step(W, g, V, B, lr, rho, eps, mu):
    """(W, V, B) after one RMSProp step (B: momentum buffer, unchanged when μ = 0)."""
    W, g, V, B = f64(W), f64(g), f64(V), f64(B)
    V = rho * V + (1 - rho) * g * g
    if mu > 0:
        B = mu * B + g / (np.sqrt(V) + eps)
        return [W - lr * B, V, B]
    return [W - lr * g / (np.sqrt(V) + eps), V, B]


def adam_step(W, g, M, V, t, lr, beta1, beta2, eps, weight_decay=0.0):
    """(W, M, V) after Adam's step t (AdamW's when weight_decay λ > 0).

    AdamW: W ← W − α·λ·W first. Then M ← β₁M + (1−β₁)g, V ← β₂V + (1−β₂)g²,
    M̂ = M/(1 − β₁ᵗ), V̂ = V/(1 − β₂ᵗ), W ← W − α·M̂/(√V̂ + ε).
    """
    W, g, M, V = f64(W), f64(g), f64(M), f64(V)
    W = W - lr * weight_decay * W
    M = beta1 * M + (1 - beta1) * g
    V = beta2 * V + (1 - beta2) * g * g
    m_hat = M / (1 - beta1**t)
    v_hat = V / (1 - beta2**t)
    return [W - lr * m_hat / (np.sqrt(v_hat) + eps), M, V]


def scheduled_rate(name, alpha, t, **p):
    """α after t epochs (steps) under each schedule, from its textbook formula."""
    if name == "constant":
        return alpha
    if name == "step":  # PyTorch StepLR
        return alpha * p["gamma"] ** (t // p["step_size"])
    if name == "exponential":  # Keras ExponentialDecay (staircase=False)
        return alpha * p["gamma"] ** (t / p["every"])
    if name == "inverse-time":  # Neural Networks from Scratch, ch. 10
        return alpha * (1.0 / (1.0 + p["decay"] * t))
    if name == "cosine":  # PyTorch CosineAnnealingLR's closed form, held at T
        T = p["period"]
        return p["min_lr"] + (alpha - p["min_lr"]) * (1 + np.cos(np.pi * min(t, T) / T)) / 2
    raise ValueError(name)
