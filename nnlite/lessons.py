"""Demonstrations of the lesson's claims, shared by ``nnlite lesson`` and ``tests/pedagogy/``.

Owns: one function per claim of the lesson that runs nnlite (its kernels, ``Sequential``,
``Perceptron``) and, beside it, an independent reference computed with SciPy from the same
data — a feasibility linear program, a least-squares fit, an L-BFGS-B minimisation, a global
optimiser, finite differences — and returns both as plain data (dataclasses of numbers and
arrays). ``nnlite lesson`` renders these results (``nnlite/ui/lesson.py``) and the tests in
``tests/pedagogy/`` assert on them, so what a learner watches is what the tests check.

The section "SciPy references" uses numpy and scipy only and never calls nnlite's kernels:
a bug in nnlite cannot leak into its own reference. Every demonstration but the MNIST one
and the overfitting lesson's training curves (float32, as a learner trains) computes in
float64, so nnlite and SciPy can be compared to tight tolerances.

Imports: numpy, scipy, and nnlite's core (models, layers, kernels, data sets, tables).
Never typer or rich; never prints.

Omits: anything random without a seed, and plotting (``nnlite/ui/lesson.py`` draws).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import linalg, optimize, special, stats

from nnlite import activations, datasets, losses
from nnlite.callbacks import EarlyStopping
from nnlite.config import CLIP_EPS, network_parameters
from nnlite.display import Displayable
from nnlite.errors import ConfigError, DivergenceError, LearnerWarning
from nnlite.kernels import cpu
from nnlite.layers import Dense, Dropout
from nnlite.models import Callback, Perceptron, Sequential
from nnlite.optim import SGD, Adam, RMSProp
from nnlite.schedules import Schedule

F64 = np.float64

TOPICS: dict[str, str] = {
    "perceptron": "the perceptron converges on linearly separable data, never on XOR",
    "activations": "sigmoid, tanh, ReLU and softmax: ranges, saturation, probabilities",
    "xor": "without a non-linearity, a deep network is one linear map and cannot learn XOR",
    "learning-rate": "gradient descent converges for α < 2/L, oscillates near it, diverges above",
    "sgd": "a mini-batch gradient is an unbiased estimate; SGD reaches the full-batch optimum",
    "local-minima": "on a non-convex loss, the minimum gradient descent finds depends on the start",
    "optimum": "nnlite's gradient descent ends where scipy.optimize ends, from the same start",
    "optimizers": "SGD, momentum, RMSProp and Adam on a narrow valley: each reaches scipy's optimum",
    "overfitting": "L2, dropout and early stopping on a few digits; L2 against scipy and ridge",
    "vanishing-gradients": "deep sigmoid vs ReLU, Glorot/He vs N(0, 1): the gradient layer by layer",
}
_TOPIC_ALIASES = {"lr": "learning-rate", "minima": "local-minima", "perceptrons": "perceptron",
                  "optimisers": "optimizers", "regularisation": "overfitting",
                  "regularization": "overfitting", "vanishing": "vanishing-gradients",
                  "gradients": "vanishing-gradients"}  # fmt: skip


def topic_name(name: str) -> str:
    """The canonical lesson name, or ``ConfigError`` listing the valid ones."""
    key = str(name).strip().lower().replace("_", "-")
    key = _TOPIC_ALIASES.get(key, key)
    if key not in TOPICS:
        raise ConfigError(f"unknown lesson {name!r}; valid lessons: {', '.join(TOPICS)}")
    return key


def run(name: str) -> Any:
    """Run the demonstration of lesson ``name`` with its default settings."""
    demos: dict[str, Callable[[], Any]] = {
        "perceptron": perceptron_lesson,
        "activations": activation_curves,
        "xor": xor_lesson,
        "learning-rate": learning_rate_lesson,
        "sgd": sgd_lesson,
        "local-minima": local_minima_lesson,
        "optimum": optimum_lesson,
        "optimizers": optimizers_lesson,
        "overfitting": overfitting_lesson,
        "vanishing-gradients": vanishing_lesson,
    }
    demo = demos[topic_name(name)]
    with warnings.catch_warnings():
        # The lessons stage stalls, dead units and divergence on purpose and explain them
        # themselves; fit's learner warnings would only repeat it less precisely.
        warnings.simplefilter("ignore", LearnerWarning)
        return demo()


# ---------------------------------------------------------------------------
# nnlite's side: gradients and gradient descent through the public model API
# and the CPU kernels the training loop itself runs.
# ---------------------------------------------------------------------------


def _dims_acts(model: Sequential) -> tuple[np.ndarray, np.ndarray]:
    dims = np.array([model.n_inputs] + [int(x.units) for x in model.layers], np.int64)
    acts = np.array([activations.code(x.activation) for x in model.layers], np.int64)
    return dims, acts


def _matrices(model: Sequential, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.ascontiguousarray(X, dtype=model.dtype)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    return X, np.ascontiguousarray(model.targets(y))


def _forward(model: Sequential, X: Any, y: Any, theta: np.ndarray | None) -> tuple:
    """Forward propagation by the kernels: (X, Y, θ, dims, acts, buffers, loss code, eps, L)."""
    X, Y = _matrices(model, X, y)
    theta = model.theta if theta is None else np.ascontiguousarray(theta, model.dtype)
    dims, acts = _dims_acts(model)
    n = X.shape[0]
    buf = model.buffers(n)
    eps = CLIP_EPS[np.dtype(model.dtype)]
    code = losses.code(model.loss)
    cpu.forward_pass(X, theta, dims, acts, buf["Z"], buf["A"])
    P = model.layer_view(buf["A"], len(model.layers) - 1, n)
    return X, Y, theta, dims, acts, buf, code, eps, float(cpu.loss_value(P, Y, code, eps))


def loss_and_gradient(
    model: Sequential, X: Any, y: Any, theta: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """L(θ) and ∂L/∂θ by nnlite's forward and backward propagation (the training kernels).

    Parameters
    ----------
    model : a built ``Sequential``.  X : (n, i) array.  y : labels or (n, o) targets.
    theta : flat parameters laid out like ``model.theta`` (default: the model's own).

    Returns
    -------
    (float, (p,) array) : the loss (a mean over the n rows) and its gradient.
    """
    X, Y, theta, dims, acts, buf, code, eps, loss = _forward(model, X, y, theta)
    cpu.backward_pass(
        X, Y, theta, dims, acts, code, eps, buf["Z"], buf["A"], buf["dZ"], buf["dA"], buf["grad"]
    )
    return loss, buf["grad"].copy()


def loss_at(model: Sequential, X: Any, y: Any, theta: np.ndarray | None = None) -> float:
    """L(θ) by nnlite's forward propagation only."""
    return _forward(model, X, y, theta)[-1]


def gd_path(model: Sequential, X: Any, y: Any, lr: float, steps: int) -> np.ndarray:
    """θ₀, θ₁, …, θ_steps of full-batch gradient descent θ ← θ − α·∇L(θ), one ``fit`` per step.

    Returns a (steps + 1, p) array; ``model.history.loss`` gains L(θ₀) … L(θ_steps−1).
    Raises ``DivergenceError`` (from ``fit``) when the loss stops being finite.
    """
    path = [model.theta.copy()]
    for _ in range(steps):
        model.fit(X, y, epochs=1, batch_size=len(X), lr=lr, shuffle=False)
        path.append(model.theta.copy())
    return np.array(path)


def gd_run(model: Sequential, X: Any, y: Any, lr: float, steps: int) -> Sequential:
    """``steps`` steps of full-batch gradient descent with nnlite's ``fit``, fast.

    An epoch over ``k`` stacked copies of the data, in order, in batches of ``n`` rows, is
    ``k`` full-batch steps in one compiled call: the same arithmetic as ``k`` epochs of
    ``fit(batch_size=n)``, without ``k`` trips through Python.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    n = len(X)
    copies = max(1, min(steps, 65536 // n))
    Xk, yk = np.concatenate([X] * copies), np.concatenate([y] * copies)
    while steps > 0:
        k = min(copies, steps)
        model.fit(Xk[: k * n], yk[: k * n], epochs=1, batch_size=n, lr=lr, shuffle=False)
        steps -= k
    return model


def single_layer(
    n_inputs: int, units: int, activation: str, loss: str, theta0: Any = None, seed: int = 0
) -> Sequential:
    """A float64 one-layer network (X·W + b then σ), optionally starting at ``theta0``."""
    model = Sequential(
        [Dense(units, activation)], loss=loss, dtype=F64, n_inputs=n_inputs, seed=seed
    )
    if theta0 is not None:
        model.set_parameters(np.asarray(theta0, F64))
    return model


def nnlite_activation(name: str, Z: Any) -> np.ndarray:
    """σ(Z) by nnlite's ``activation_forward`` kernel (softmax row by row), float64."""
    Z = np.ascontiguousarray(np.atleast_2d(np.asarray(Z, F64)))
    A = np.empty_like(Z)
    cpu.activation_forward(Z, A, activations.code(name))
    return A


def nnlite_activation_grad(name: str, Z: Any) -> np.ndarray:
    """σ′(Z) by nnlite's ``activation_grad`` kernel with ∂L/∂A = 1 (not for softmax)."""
    Z = np.ascontiguousarray(np.atleast_2d(np.asarray(Z, F64)))
    A = nnlite_activation(name, Z)
    dZ = np.empty_like(Z)
    cpu.activation_grad(Z, A, np.ones_like(Z), dZ, activations.code(name))
    return dZ


def nnlite_loss(name: str, P: Any, Y: Any) -> float:
    """L(P, Y) by nnlite's loss kernels (``mse``, ``bce`` or ``cce``), float64."""
    P = np.ascontiguousarray(np.atleast_2d(np.asarray(P, F64)))
    Y = np.ascontiguousarray(np.atleast_2d(np.asarray(Y, F64)))
    return float(cpu.loss_value(P, Y, losses.code(name), CLIP_EPS[np.dtype(F64)]))


# ---------------------------------------------------------------------------
# SciPy references: numpy and scipy only, never nnlite's kernels.
# Parameters of a one-layer network are flat like nnlite's θ: W (i, o) row by
# row, then b (o,).
# ---------------------------------------------------------------------------


def augmented(X: Any) -> np.ndarray:
    """X̃ = [X, 1]: the bias as the weight of a constant input."""
    X = np.asarray(X, F64)
    return np.hstack([X.reshape(len(X), -1), np.ones((len(X), 1))])


def lp_separable(X: Any, y: Any) -> tuple[bool, np.ndarray | None]:
    """Is there (w, b) with tᵢ(xᵢ·w + b) ≥ 1 for every row, tᵢ = 2yᵢ − 1? (linear program)

    A feasibility problem for ``scipy.optimize.linprog`` (HiGHS): zero objective,
    constraints −tᵢ·x̃ᵢ·(w, b) ≤ −1. Feasible exactly when a line (hyperplane) separates
    the two classes with room to spare. Returns (feasible, (w, b) or None).
    """
    Xt = augmented(X)
    t = 2.0 * np.asarray(y, F64) - 1.0
    res = optimize.linprog(
        np.zeros(Xt.shape[1]),
        A_ub=-t[:, None] * Xt,
        b_ub=-np.ones(len(t)),
        bounds=[(None, None)] * Xt.shape[1],
        method="highs",
    )
    return (True, res.x) if res.status == 0 else (False, None)


def novikoff(X: Any, y: Any) -> tuple[float, float, float]:
    """(γ, R, (R/γ)²): Novikoff's bound on the perceptron's number of updates.

    R = maxᵢ ‖x̃ᵢ‖ and γ = max over unit ũ of minᵢ tᵢ ũ·x̃ᵢ (the bias is the weight of the
    constant input, as the perceptron learns it). γ comes from the hard-margin problem
    min ½‖v‖² subject to tᵢ v·x̃ᵢ ≥ 1, solved by ``scipy.optimize.minimize`` (SLSQP);
    γ is then measured on the solution's direction, so an inexact solve can only make
    the bound larger (still valid), never smaller.
    """
    Xt = augmented(X)
    t = 2.0 * np.asarray(y, F64) - 1.0
    feasible, v0 = lp_separable(X, y)
    if not feasible:
        raise ValueError("no margin: the classes are not linearly separable")
    G = t[:, None] * Xt
    res = optimize.minimize(
        lambda v: 0.5 * v @ v,
        v0,
        jac=lambda v: v,
        constraints=[{"type": "ineq", "fun": lambda v: G @ v - 1.0, "jac": lambda v: G}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    u = res.x / np.linalg.norm(res.x)
    gamma = float(np.min(G @ u))
    R = float(np.max(np.linalg.norm(Xt, axis=1)))
    return gamma, R, (R / gamma) ** 2


def lstsq_fit(X: Any, Y: Any) -> tuple[np.ndarray, float]:
    """The least-squares solution θ* = (W, b) of min ‖X̃·θ − Y‖² by ``scipy.linalg.lstsq``.

    Returns θ* flat like nnlite's θ and the mean squared error there (nnlite's MSE: a mean
    over every entry of Y).
    """
    Xt = augmented(X)
    Y = np.asarray(Y, F64).reshape(len(Xt), -1)
    coef, *_ = linalg.lstsq(Xt, Y)
    theta = np.concatenate([coef[:-1].ravel(), coef[-1]])
    return theta, float(np.mean((Xt @ coef - Y) ** 2))


def mse_curvature(X: Any) -> np.ndarray:
    """Eigenvalues (ascending) of the MSE loss's Hessian, 2·X̃ᵀX̃/n, by ``scipy.linalg.eigvalsh``.

    For a linear model with one output, L(θ) = ‖X̃θ − y‖²/n is a quadratic whose
    curvature along each eigenvector is its eigenvalue; the largest is L.
    """
    Xt = augmented(X)
    return linalg.eigvalsh(2.0 * Xt.T @ Xt / len(Xt))


def logistic_objective(theta: np.ndarray, X: Any, y: Any) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of σ(X̃·θ) and its gradient, written from the definitions.

    L = −1/n Σ [y log σ(z) + (1 − y) log(1 − σ(z))] = 1/n Σ [log(1 + eᶻ) − y·z], computed
    with ``numpy.logaddexp`` (no overflow); ∇L = X̃ᵀ(σ(z) − y)/n.
    """
    Xt = augmented(X)
    y = np.asarray(y, F64).ravel()
    z = Xt @ theta
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    return float(loss), Xt.T @ (special.expit(z) - y) / len(y)


def softmax_objective(theta: np.ndarray, X: Any, Y: Any) -> tuple[float, np.ndarray]:
    """Categorical cross-entropy of softmax(X·W + b) and its gradient, from the definitions.

    L = 1/n Σᵢ [logsumexp(zᵢ) − zᵢ·yᵢ] (``scipy.special.logsumexp``);
    ∂L/∂W = Xᵀ(P − Y)/n, ∂L/∂b = Σ(P − Y)/n with P = ``scipy.special.softmax``(Z).
    """
    X = np.asarray(X, F64)
    Y = np.asarray(Y, F64)
    d, k = X.shape[1], Y.shape[1]
    W = theta[: d * k].reshape(d, k)
    b = theta[d * k :]
    Z = X @ W + b
    loss = np.mean(special.logsumexp(Z, axis=1) - np.sum(Z * Y, axis=1))
    dZ = (special.softmax(Z, axis=1) - Y) / len(X)
    return float(loss), np.concatenate([(X.T @ dZ).ravel(), dZ.sum(axis=0)])


def logistic_hessian(theta: np.ndarray, X: Any, y: Any) -> np.ndarray:
    """∇²L = X̃ᵀ·diag(σ(z)(1 − σ(z)))·X̃/n of ``logistic_objective`` (``y`` unused)."""
    Xt = augmented(X)
    p = special.expit(Xt @ theta)
    return (Xt.T * (p * (1.0 - p))) @ Xt / len(Xt)


def newton(
    fun: Callable[..., tuple[float, np.ndarray]], hess: Callable[..., np.ndarray],
    theta0: np.ndarray, *args: Any,
) -> optimize.OptimizeResult:  # fmt: skip
    """``scipy.optimize.minimize(method="trust-exact")`` with the exact Hessian: Newton's
    method in a trust region, which ends at the minimiser to rounding (quadratic convergence)."""
    return optimize.minimize(
        fun, np.asarray(theta0, F64), args=args, jac=True, hess=hess, method="trust-exact",
        options={"gtol": 1e-12, "maxiter": 200},
    )  # fmt: skip


def lbfgs(
    fun: Callable[..., tuple[float, np.ndarray]], theta0: np.ndarray, *args: Any
) -> optimize.OptimizeResult:
    """``scipy.optimize.minimize(method="L-BFGS-B")`` with an exact gradient, to tight tolerances."""
    return optimize.minimize(
        fun,
        np.asarray(theta0, F64),
        args=args,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 50_000, "maxfun": 100_000, "ftol": 1e-16, "gtol": 1e-11},
    )


def central_difference(f: Callable[[np.ndarray], float], theta: Any, h: float = 1e-5) -> np.ndarray:
    """∇f by central differences from ``scipy.optimize.approx_fprime``.

    ``approx_fprime`` takes a forward difference (error O(h)); the mean of the steps +h
    and −h is the central difference (error O(h²)).
    """
    theta = np.asarray(theta, F64)
    return (optimize.approx_fprime(theta, f, h) + optimize.approx_fprime(theta, f, -h)) / 2


def relative_error(a: Any, b: Any) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖): 0 when equal, 1 when opposite; 0 for two zero vectors."""
    a, b = np.ravel(a), np.ravel(b)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


# ---------------------------------------------------------------------------
# Perceptron: converges exactly when a line separates the classes.
# ---------------------------------------------------------------------------


@dataclass
class PerceptronRun:
    """One perceptron training run beside scipy's verdict on the same data."""

    name: str
    X: np.ndarray
    y: np.ndarray
    converged: bool  # nnlite: an epoch with no mistake
    epochs: int
    n_updates: int
    updates_per_epoch: list[int]
    w: np.ndarray
    b: float
    separable: bool  # scipy.optimize.linprog: a separating line exists
    margin: float | None  # γ (scipy), None when not separable
    radius: float  # R = max ‖(x, 1)‖
    bound: float | None  # (R/γ)², Novikoff's bound on the updates


def separable_points(
    n: int = 60, seed: int = 0, gap: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """Random points in [−1, 1]² labelled by the side of a random line; none within ``gap`` of it."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi)
    u = np.array([np.cos(angle), np.sin(angle)])
    c = rng.uniform(-0.3, 0.3)
    X = np.empty((0, 2))
    while len(X) < n:
        P = rng.uniform(-1, 1, size=(4 * n, 2))
        X = np.vstack([X, P[np.abs(P @ u + c) >= gap]])
    X = X[:n]
    return X, (X @ u + c >= 0).astype(np.int64)


def overlapping_points(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds whose centres are close: no line separates them."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 0.5, -0.5)
    return X, y.astype(np.int64)


def perceptron_run(
    name: str, X: Any, y: Any, eta: float = 1.0, max_epochs: int = 1000
) -> PerceptronRun:
    """Train ``Perceptron`` (float64, θ = 0) and decide separability independently with scipy."""
    X = np.asarray(X, F64)
    y = np.asarray(y, np.int64)
    p = Perceptron(eta=eta, threshold=0.0, max_epochs=max_epochs, dtype=F64).fit(X, y)
    separable, _ = lp_separable(X, y)
    gamma = R = bound = None
    if separable:
        gamma, R, bound = novikoff(X, y)
    else:
        R = float(np.max(np.linalg.norm(augmented(X), axis=1)))
    return PerceptronRun(
        name, X, y, p.converged, p.epochs, p.n_updates, list(p.updates_per_epoch),
        p.w.copy(), float(p.b[0]), separable, gamma, R, bound,
    )  # fmt: skip


class LessonResult(Displayable):
    """What a lesson returns: shown in a notebook as ``nnlite lesson TOPIC`` prints it.

    ``topic``: the lesson's name in ``TOPICS``. Its text (``repr``, IPython's) is one line:
    the arrays a result holds are for tests and plots, not for reading.
    """

    view_kind = "lesson"
    topic = ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: lesson {self.topic!r}>"


class PerceptronLesson(LessonResult, list):
    """The perceptron lesson's runs (a list of ``PerceptronRun``), shown as the lesson."""

    topic = "perceptron"


def perceptron_lesson(seed: int = 0) -> PerceptronLesson:
    """The four gates, a random separable set and a random overlapping set."""
    runs = PerceptronLesson()
    for gate in ("and", "or", "nand", "xor"):
        ds = datasets.gate(gate)
        runs.append(perceptron_run(gate.upper(), ds.X, ds.y))
    runs.append(perceptron_run("separable set", *separable_points(seed=seed)))
    runs.append(perceptron_run("overlapping", *overlapping_points(seed=seed)))
    return runs


# ---------------------------------------------------------------------------
# Activations.
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class ActivationCurves(LessonResult):
    """σ(z) and σ′(z) on a grid by nnlite's kernels beside scipy/numpy, and a softmax example."""

    topic = "activations"

    z: np.ndarray
    nnlite: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]
    grad_nnlite: dict[str, np.ndarray]
    grad_reference: dict[str, np.ndarray]
    logits: np.ndarray
    softmax_nnlite: np.ndarray
    softmax_reference: np.ndarray


def activation_reference(name: str, z: Any) -> np.ndarray:
    """σ(z) in float64 from the activation table's scipy/numpy reference (e.g. ``special.expit``)."""
    return activations.ACTIVATIONS[activations.canonical(name)].reference(np.asarray(z, F64))


def activation_grad_reference(name: str, z: Any) -> np.ndarray:
    """σ′(z) in float64 from the activation table (softmax's σ′ is a Jacobian: refused)."""
    row = activations.ACTIVATIONS[activations.canonical(name)]
    if row.reference_grad is None:
        raise ConfigError(f"{name} has no element-wise derivative (its σ′ is a Jacobian)")
    return row.reference_grad(np.asarray(z, F64))


def activation_curves(lo: float = -6.0, hi: float = 6.0, points: int = 241) -> ActivationCurves:
    """Every element-wise activation of the table (but identity) on a grid of z, and softmax
    of a few rows of logits."""
    z = np.linspace(lo, hi, points)
    names = [n for n, row in activations.ACTIVATIONS.items() if row.elementwise and n != "identity"]
    logits = np.array([[2.0, 1.0, 0.1], [-1.0, 0.0, 3.0], [5.0, 5.0, 5.0]])
    return ActivationCurves(
        z=z,
        nnlite={a: nnlite_activation(a, z[None, :])[0] for a in names},
        reference={a: activation_reference(a, z) for a in names},
        grad_nnlite={a: nnlite_activation_grad(a, z[None, :])[0] for a in names},
        grad_reference={a: activation_grad_reference(a, z) for a in names},
        logits=logits,
        softmax_nnlite=nnlite_activation("softmax", logits),
        softmax_reference=activation_reference("softmax", logits),
    )


# ---------------------------------------------------------------------------
# Why non-linearity matters: XOR.
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class XorResult(LessonResult):
    """A deep linear network and a one-hidden-layer tanh network on XOR."""

    topic = "xor"

    X: np.ndarray
    y: np.ndarray
    depth: int
    linear_losses: list[float]  # MSE per epoch
    linear_predictions: np.ndarray
    linear_product: np.ndarray  # θ of the single map W₁W₂⋯W_L, b chained through
    linear_lstsq: np.ndarray  # lstsq of the deep network's outputs on [X, 1] (scipy)
    linear_residual: float  # MSE of that fit: 0 when the network is one linear map
    best_linear_loss: float  # lstsq of the XOR targets on [X, 1] (scipy): 0.25
    hidden_losses: list[float]  # binary cross-entropy per epoch
    hidden_predictions: np.ndarray
    hidden_accuracy: float
    linear_accuracy: float


def collapse_linear(model: Sequential) -> np.ndarray:
    """θ = (W, b) of the one linear map equal to a network of identity layers.

    A·W₁ + b₁ fed into W₂ is A·(W₁W₂) + (b₁W₂ + b₂): the product of the layers.
    """
    W = np.eye(model.n_inputs)
    b = np.zeros(model.n_inputs)
    for layer in model.layers:
        if layer.activation != "identity":
            raise ValueError("only a network of identity layers is one linear map")
        W, b = W @ layer.W, b @ layer.W + layer.b
    return np.concatenate([W.ravel(), b])


def deep_linear(
    depth: int, width: int = 4, n_inputs: int = 2, n_outputs: int = 1, seed: int = 0
) -> Sequential:
    """``depth`` identity layers (float64): width units each, then ``n_outputs``."""
    layers = [Dense(width, "identity") for _ in range(depth - 1)] + [Dense(n_outputs, "identity")]
    return Sequential(layers, loss="mse", dtype=F64, n_inputs=n_inputs, seed=seed)


def xor_lesson(depth: int = 3, epochs: int = 2000, seed: int = 0) -> XorResult:
    """Train a deep linear network (MSE) and a 2-4-1 tanh/sigmoid network (BCE) on XOR."""
    ds = datasets.gate("xor")
    X, y = ds.X.astype(F64), ds.y
    linear = deep_linear(depth, seed=seed)
    linear.fit(X, y.astype(F64), epochs=epochs, batch_size=4, lr=0.1, shuffle=False)
    P = linear.predict(X)
    fit_theta, residual = lstsq_fit(X, P)
    _, best = lstsq_fit(X, y)
    hidden = Sequential([Dense(4, "tanh"), Dense(1, "sigmoid")], dtype=F64, n_inputs=2, seed=seed)
    hidden.fit(X, y, epochs=epochs, batch_size=4, lr=0.5, seed=seed)
    return XorResult(
        X, y, depth, list(linear.history.loss), P[:, 0], collapse_linear(linear), fit_theta,
        residual, best, list(hidden.history.loss), hidden.predict(X)[:, 0],
        float(np.mean(hidden.predict_classes(X) == y)),
        float(np.mean(linear.predict_classes(X) == y)),
    )  # fmt: skip


# ---------------------------------------------------------------------------
# Gradient descent reaches the optimum scipy finds.
# ---------------------------------------------------------------------------


@dataclass
class OptimumComparison:
    """nnlite's gradient descent and a scipy minimiser on the same objective, same start."""

    problem: str
    reference: str  # how scipy found its optimum
    theta0: np.ndarray
    theta: np.ndarray  # nnlite's end
    theta_ref: np.ndarray  # scipy's end
    loss: float  # nnlite's loss at its end (nnlite's forward pass)
    loss_ref: float  # scipy's objective at its end
    lr: float
    steps: int
    batch_size: int
    losses: list[float] = field(default_factory=list)  # nnlite's loss per epoch

    @property
    def loss_gap(self) -> float:
        return self.loss - self.loss_ref

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(self.theta - self.theta_ref))

    @property
    def relative_distance(self) -> float:
        return self.distance / max(float(np.linalg.norm(self.theta_ref)), 1e-300)


def regression_data(n: int = 200, d: int = 3, noise: float = 0.5, seed: int = 0):
    """y = X·w + b + noise, features standard normal: a least-squares problem with a unique θ*."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.uniform(-2, 2, size=d)
    return X, X @ w + 0.7 + noise * rng.normal(size=n)


def logistic_data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian clouds in 2-D: not linearly separable, so the BCE has a minimiser."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, [1.0, 0.5], [-0.5, -0.5])
    return X, y


def linear_regression_optimum(
    steps: int = 300, batch_size: int | None = None, lr: float | None = None, seed: int = 0
) -> OptimumComparison:
    """(a) linear regression, MSE: nnlite's GD/SGD against ``scipy.linalg.lstsq``.

    Full batch by default with α = 1/L (L = the largest Hessian eigenvalue, scipy); with a
    ``batch_size``, ``steps`` is the number of epochs of mini-batch SGD.
    """
    X, y = regression_data(seed=seed)
    theta_ref, loss_ref = lstsq_fit(X, y)
    model = single_layer(X.shape[1], 1, "identity", "mse", seed=seed)
    theta0 = model.theta.copy()
    if lr is None:
        lr = 1.0 / mse_curvature(X)[-1]
    if batch_size is None or batch_size >= len(X):
        batch_size = len(X)
        gd_run(model, X, y, lr, steps)
    else:
        model.fit(X, y, epochs=steps, batch_size=batch_size, lr=lr, seed=seed)
    return OptimumComparison(
        "linear regression (MSE)", "scipy.linalg.lstsq", theta0, model.theta.copy(), theta_ref,
        loss_at(model, X, y), loss_ref, lr, steps, batch_size, list(model.history.loss),
    )  # fmt: skip


def logistic_regression_optimum(steps: int = 3000, seed: int = 0) -> OptimumComparison:
    """(b) a one-unit sigmoid network with BCE on overlapping clouds vs L-BFGS-B.

    Full-batch GD with α = 1/L, where L = λmax(X̃ᵀX̃)/(4n) bounds the curvature of the
    BCE (σ′ ≤ ¼); scipy minimises ``logistic_objective`` from the same θ₀.
    """
    X, y = logistic_data(seed=seed)
    model = single_layer(2, 1, "sigmoid", "bce", seed=seed)
    theta0 = model.theta.copy()
    ref = lbfgs(logistic_objective, theta0, X, y)
    lr = 1.0 / (mse_curvature(X)[-1] / 8.0)  # 2·X̃ᵀX̃/n / 8 = X̃ᵀX̃/(4n)
    gd_run(model, X, y, lr, steps)
    return OptimumComparison(
        "logistic regression (BCE)", "scipy.optimize.minimize L-BFGS-B", theta0,
        model.theta.copy(), ref.x, loss_at(model, X, y), float(ref.fun), lr, steps, len(X),
    )  # fmt: skip


def digits_components(k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The shipped digits projected on their first ``k`` principal components, standardised.

    On all 64 pixels the ten classes are linearly separable, so the unregularised
    cross-entropy has no minimiser (it keeps falling as the weights grow); on a few
    principal components the classes overlap and the minimiser is unique.
    """
    ds = datasets.load_digits()
    X = ds.X.astype(F64)
    X = X - X.mean(axis=0)
    _, _, Vt = linalg.svd(X, full_matrices=False)
    F = X @ Vt[:k].T
    return np.ascontiguousarray(F / F.std(axis=0)), ds.y


def softmax_regression_optimum(k: int = 2, steps: int = 4000, seed: int = 0) -> OptimumComparison:
    """(c) softmax regression (10 softmax units, CCE) on the digits' principal components vs L-BFGS-B.

    Full-batch GD with α = 1.9/L, L = λmax(X̃ᵀX̃)/(2n) bounding the curvature of the
    softmax cross-entropy; scipy minimises ``softmax_objective`` from the same θ₀. Adding
    one vector to every class's weights leaves softmax unchanged, so the minimisers form a
    line; both methods move only along gradients, which never point along it, so from the
    same start they meet the same point of it.
    """
    X, y = digits_components(k)
    model = single_layer(k, 10, "softmax", "cce", seed=seed)
    theta0 = model.theta.copy()
    ref = lbfgs(softmax_objective, theta0, X, np.eye(10)[y])
    lr = 1.9 / (mse_curvature(X)[-1] / 4.0)  # 2·X̃ᵀX̃/n / 4 = X̃ᵀX̃/(2n)
    gd_run(model, X, y, lr, steps)
    return OptimumComparison(
        f"softmax regression on the digits' first {k} principal components (CCE)",
        "scipy.optimize.minimize L-BFGS-B", theta0, model.theta.copy(), ref.x,
        loss_at(model, X, y), float(ref.fun), lr, steps, len(X),
    )  # fmt: skip


# ---------------------------------------------------------------------------
# The learning rate on a quadratic.
# ---------------------------------------------------------------------------


@dataclass
class LearningRateRun:
    """Gradient descent with one learning rate α = fraction · 2/L."""

    fraction: float
    lr: float
    losses: list[float]  # L(θ_k) for k = 0, 1, … until the end or divergence
    path: np.ndarray  # θ₀ … θ_K of the first steps
    stiff: np.ndarray  # (θ_k − θ*)·v: the error along the stiffest direction v
    diverged_at: int | None  # step at which the loss stopped being finite
    steps_to_converge: int | None  # first k with L(θ_k) − L* ≤ tol·(L(θ₀) − L*)

    @property
    def verdict(self) -> str:
        """What the run did, read off its numbers (not off α)."""
        if self.diverged_at is not None or self.losses[-1] > self.losses[0]:
            return "diverges"
        signs = np.sign(self.stiff[1:6])
        if np.all(signs[1:] == -signs[:-1]):
            return "oscillates"
        return "converges"

    @property
    def ratio(self) -> np.ndarray:
        """Measured (θ_{k+1} − θ*)·v / (θ_k − θ*)·v; theory: 1 − αL."""
        return self.stiff[1:] / self.stiff[:-1]


@dataclass(repr=False)
class LearningRateResult(LessonResult):
    """Linear regression on one feature: the loss is a quadratic bowl in (w, b)."""

    topic = "learning-rate"

    X: np.ndarray
    y: np.ndarray
    eigenvalues: np.ndarray  # of the Hessian, scipy.linalg.eigvalsh: (μ, L)
    stiff_direction: np.ndarray  # its eigenvector for L
    theta_star: np.ndarray  # scipy.linalg.lstsq
    loss_star: float
    theta0: np.ndarray
    tol: float
    runs: list[LearningRateRun]

    @property
    def L(self) -> float:
        return float(self.eigenvalues[-1])


def learning_rate_problem(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """y ≈ 2x − 1 with x around 1: w and b are correlated, so the bowl is a tilted ellipse."""
    rng = np.random.default_rng(seed)
    x = 1.0 + 0.5 * rng.normal(size=(n, 1))
    return x, 2.0 * x[:, 0] - 1.0 + 0.3 * rng.normal(size=n)


def learning_rate_lesson(
    fractions: tuple[float, ...] = (0.04, 0.4, 0.95, 1.05),
    steps: int = 4000,
    path_steps: int = 40,
    tol: float = 1e-6,
    seed: int = 0,
) -> LearningRateResult:
    """Full-batch gradient descent on the same quadratic with α = fraction · 2/L."""
    X, y = learning_rate_problem(seed=seed)
    H = 2.0 * augmented(X).T @ augmented(X) / len(X)  # the Hessian of the MSE
    eigenvalues = linalg.eigvalsh(H)
    vecs = linalg.eigh(H)[1]  # the eigenvectors, for the stiffest direction
    theta_star, loss_star = lstsq_fit(X, y)
    theta0 = np.array([-1.0, 2.5])
    runs = []
    for fraction in fractions:
        lr = fraction * 2.0 / eigenvalues[-1]
        model = single_layer(1, 1, "identity", "mse", theta0)
        diverged = None
        try:
            model.fit(X, y, epochs=steps, batch_size=len(X), lr=lr, shuffle=False)
        except DivergenceError as exc:
            diverged = exc.epoch
        curve = list(model.history.loss)
        excess = np.array(curve) - loss_star
        hit = np.flatnonzero(excess <= tol * excess[0])
        path = gd_path(single_layer(1, 1, "identity", "mse", theta0), X, y, lr, path_steps)
        stiff = (path - theta_star) @ vecs[:, -1]
        runs.append(
            LearningRateRun(
                fraction, lr, curve, path, stiff, diverged, int(hit[0]) if hit.size else None
            )
        )
    return LearningRateResult(
        X, y, eigenvalues, vecs[:, -1], theta_star, loss_star, theta0, tol, runs
    )


# ---------------------------------------------------------------------------
# Stochastic mini-batch gradient descent.
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class SgdResult(LessonResult):
    """Mini-batch SGD against full-batch gradient descent on linear regression."""

    topic = "sgd"

    X: np.ndarray
    y: np.ndarray
    theta_star: np.ndarray  # scipy.linalg.lstsq: the full-batch optimum
    loss_star: float
    theta0: np.ndarray
    lr: float
    epochs: int
    curves: dict[int, list[float]]  # batch size -> loss per epoch
    ends: dict[int, np.ndarray]  # batch size -> θ after the last epoch
    seed_batch: int
    seed_ends: np.ndarray  # (seeds, p): θ after training with seed_batch, one row per seed
    small_lr_ends: np.ndarray  # the same with α/4
    gradient: np.ndarray  # ∇L(θ₀) on all rows (nnlite's backprop)
    partition_mean: np.ndarray  # mean of the mini-batch gradients of one shuffled epoch
    draws: int
    draw_mean: np.ndarray  # mean of ``draws`` random mini-batch gradients
    draw_std: np.ndarray  # their standard deviation, per component

    @property
    def draw_stderr(self) -> np.ndarray:
        return self.draw_std / math.sqrt(self.draws)


def minibatch_gradients(
    model: Sequential, X: Any, y: Any, batch_size: int, draws: int, seed: int = 0
) -> np.ndarray:
    """``draws`` gradients, each on ``batch_size`` rows drawn without replacement (nnlite's backprop)."""
    rng = np.random.default_rng(seed)
    X, y = np.asarray(X), np.asarray(y)
    out = np.empty((draws, model.theta.size))
    for d in range(draws):
        rows = rng.choice(len(X), size=batch_size, replace=False)
        out[d] = loss_and_gradient(model, X[rows], y[rows])[1]
    return out


def sgd_lesson(
    batch_sizes: tuple[int, ...] = (1, 8, 64, 256),
    epochs: int = 60,
    lr: float = 0.02,
    seeds: int = 16,
    seed_batch: int = 8,
    draws: int = 2000,
    seed: int = 0,
) -> SgdResult:
    """Same start, same α, several batch sizes; many seeds; and the gradient estimate itself."""
    X, y = regression_data(n=256, seed=seed)
    theta_star, loss_star = lstsq_fit(X, y)
    theta0 = np.zeros(X.shape[1] + 1)
    curves, ends = {}, {}
    for m in batch_sizes:
        model = single_layer(X.shape[1], 1, "identity", "mse", theta0)
        model.fit(X, y, epochs=epochs, batch_size=m, lr=lr, seed=seed)
        curves[m], ends[m] = list(model.history.loss), model.theta.copy()

    def seed_runs(alpha: float) -> np.ndarray:
        rows = []
        for s in range(seeds):
            model = single_layer(X.shape[1], 1, "identity", "mse", theta0)
            model.fit(X, y, epochs=epochs, batch_size=seed_batch, lr=alpha, seed=1000 + s)
            rows.append(model.theta.copy())
        return np.array(rows)

    probe = single_layer(X.shape[1], 1, "identity", "mse", theta0)
    gradient = loss_and_gradient(probe, X, y)[1]
    order = np.random.default_rng(seed).permutation(len(X))
    parts = [order[i : i + seed_batch] for i in range(0, len(X), seed_batch)]
    partition = np.mean([loss_and_gradient(probe, X[r], y[r])[1] for r in parts], axis=0)
    G = minibatch_gradients(probe, X, y, seed_batch, draws, seed)
    return SgdResult(
        X, y, theta_star, loss_star, theta0, lr, epochs, curves, ends, seed_batch,
        seed_runs(lr), seed_runs(lr / 4), gradient, partition, draws, G.mean(axis=0),
        G.std(axis=0, ddof=1),
    )  # fmt: skip


# ---------------------------------------------------------------------------
# Local and global minima: one ReLU neuron fitting a V.
# ---------------------------------------------------------------------------

# Five points of y = |x|. One ReLU neuron a = max(0, w·x + b) with MSE: wherever it is
# active it is a straight line, so each minimum is the least-squares line through the
# points it is active on, and gradient descent cannot see the points it is off for.
V_X = np.array([[-1.0], [-0.5], [0.5], [1.0], [1.5]])
V_Y = np.abs(V_X[:, 0])
NAMED_STARTS = {"A": (0.5, 0.5), "B": (1.5, -0.5), "C": (-1.5, -0.3), "D": (0.3, -1.5)}


@dataclass
class StartResult:
    """Where gradient descent from one start ended."""

    name: str
    theta0: np.ndarray
    theta: np.ndarray  # nnlite's end
    loss: float
    gradient_norm: float  # ‖∇L‖ at the end (nnlite's backprop)
    active: tuple[bool, ...]  # per point: is the neuron on there (w·x + b > 0)?
    lstsq_theta: np.ndarray | None  # scipy.linalg.lstsq on the active points (≥ 2 of them)
    theta_ref: np.ndarray | None = None  # scipy L-BFGS-B from the same start
    loss_ref: float | None = None

    @property
    def dead(self) -> bool:
        """Off for every point: no gradient flows, so gradient descent never moves."""
        return not any(self.active)


@dataclass
class Minimum:
    """One place gradient descent ends, named by the points the neuron is active on."""

    active: tuple[bool, ...]
    theta: np.ndarray  # the first end found there
    loss: float
    lstsq_theta: np.ndarray | None
    starts: int = 0  # how many grid starts ended here


@dataclass(repr=False)
class LandscapeResult(LessonResult):
    """The loss over (w, b), the ends of gradient descent, and scipy's global minimum."""

    topic = "local-minima"

    X: np.ndarray
    y: np.ndarray
    lr: float
    steps: int
    starts: list[StartResult]
    global_theta: np.ndarray  # scipy.optimize.differential_evolution
    global_loss: float
    w_grid: np.ndarray
    b_grid: np.ndarray
    loss_grid: np.ndarray  # (len(b_grid), len(w_grid)), nnlite's forward pass
    minima: list[Minimum]  # by increasing loss
    basin_w: np.ndarray
    basin_b: np.ndarray
    basin_grid: np.ndarray  # (len(basin_b), len(basin_w)): start θ₀ → index into ``minima``

    def reaches_global(self, end: StartResult | Minimum, tol: float = 1e-9) -> bool:
        return abs(end.loss - self.global_loss) <= tol * max(1.0, abs(self.global_loss))

    def minimum_of(self, end: StartResult) -> int:
        return next(i for i, m in enumerate(self.minima) if m.active == end.active)


def v_loss(theta: Any) -> float:
    """MSE of max(0, w·x + b) on the V, in numpy (the reference objective)."""
    w, b = theta
    return float(np.mean((np.maximum(w * V_X[:, 0] + b, 0.0) - V_Y) ** 2))


def v_objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
    """``v_loss`` and its gradient (ReLU′(0) taken as 0), for L-BFGS-B."""
    x = V_X[:, 0]
    z = theta[0] * x + theta[1]
    r = (np.maximum(z, 0.0) - V_Y) * (z > 0)
    return v_loss(theta), np.array([2 * np.mean(r * x), 2 * np.mean(r)])


def relu_neuron(theta0: Any) -> Sequential:
    """One ReLU unit on one input (θ = (w, b)), float64, MSE."""
    return single_layer(1, 1, "relu", "mse", theta0)


def v_global_minimum(seed: int = 0) -> tuple[np.ndarray, float]:
    """scipy's global minimum of ``v_loss`` over [−3, 3]² (differential evolution, polished)."""
    res = optimize.differential_evolution(
        v_loss, [(-3.0, 3.0), (-3.0, 3.0)], seed=seed, tol=1e-14, atol=0, polish=True
    )
    return res.x, float(res.fun)


def descend_from(
    name: str, theta0: Any, lr: float, steps: int, with_reference: bool = False
) -> StartResult:
    """Full-batch gradient descent on the V from ``theta0`` with nnlite; its end described."""
    model = gd_run(relu_neuron(theta0), V_X, V_Y, lr, steps)
    theta = model.theta.copy()
    loss, grad = loss_and_gradient(model, V_X, V_Y)
    on = V_X[:, 0] * theta[0] + theta[1] > 0
    fit = lstsq_fit(V_X[on], V_Y[on])[0] if on.sum() >= 2 else None
    result = StartResult(name, np.asarray(theta0, F64), theta, loss, float(np.linalg.norm(grad)),
                         tuple(bool(a) for a in on), fit)  # fmt: skip
    if with_reference:
        ref = lbfgs(v_objective, theta0)
        result.theta_ref, result.loss_ref = ref.x, float(ref.fun)
    return result


def local_minima_lesson(
    steps: int = 3000, with_reference: bool = False, grid: tuple[int, int] = (13, 7)
) -> LandscapeResult:
    """Gradient descent on the V from the named starts and from a grid of starts.

    α = 1/L, L the largest curvature of the loss anywhere (every point active:
    eigenvalues of 2·X̃ᵀX̃/n, scipy). Ends are grouped by the points the neuron is active
    on: each group is one minimum (or, for one active point or none, a flat valley).
    """
    lr = 1.0 / mse_curvature(V_X)[-1]
    starts = [
        descend_from(name, t0, lr, steps, with_reference) for name, t0 in NAMED_STARTS.items()
    ]
    g_theta, g_loss = v_global_minimum()
    w_grid = np.linspace(-2.0, 2.0, 49)
    b_grid = np.linspace(-2.0, 2.0, 17)
    probe = relu_neuron([0.0, 0.0])
    loss_grid = np.array([[loss_at(probe, V_X, V_Y, np.array([w, b])) for w in w_grid]
                          for b in b_grid])  # fmt: skip
    basin_w = np.linspace(-2.0, 2.0, grid[0])
    basin_b = np.linspace(-2.0, 2.0, grid[1])
    grid_ends = [descend_from("", (w0, b0), lr, steps) for b0 in basin_b for w0 in basin_w]
    found: dict[tuple[bool, ...], Minimum] = {}
    for end in starts + grid_ends:
        if end.active not in found:
            found[end.active] = Minimum(end.active, end.theta, end.loss, end.lstsq_theta)
    for end in grid_ends:
        found[end.active].starts += 1
    minima = sorted(found.values(), key=lambda m: m.loss)
    position = {m.active: i for i, m in enumerate(minima)}
    basin = np.array([position[end.active] for end in grid_ends]).reshape(grid[1], grid[0])
    return LandscapeResult(
        V_X, V_Y, lr, steps, starts, g_theta, g_loss, w_grid, b_grid, loss_grid, minima,
        basin_w, basin_b, basin,
    )  # fmt: skip


# ---------------------------------------------------------------------------
# "optimum": SGD, then scipy from the same start.
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class OptimumLesson(LessonResult):
    topic = "optimum"

    convex: OptimumComparison
    nonconvex: LandscapeResult


def logistic_sgd_optimum(
    batch_size: int = 16,
    schedule: tuple[tuple[float, int], ...] = ((1.0, 40), (0.1, 40), (0.01, 40)),
    seed: int = 0,
) -> OptimumComparison:
    """Logistic regression trained by mini-batch SGD with a falling α, vs L-BFGS-B from θ₀."""
    X, y = logistic_data(seed=seed)
    model = single_layer(2, 1, "sigmoid", "bce", seed=seed)
    theta0 = model.theta.copy()
    for lr, epochs in schedule:
        model.fit(X, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    ref = lbfgs(logistic_objective, theta0, X, y)
    steps = sum(e for _, e in schedule)
    return OptimumComparison(
        "logistic regression (BCE), mini-batch SGD", "scipy.optimize.minimize L-BFGS-B", theta0,
        model.theta.copy(), ref.x, loss_at(model, X, y), float(ref.fun),
        schedule[0][0], steps, batch_size, list(model.history.loss),
    )  # fmt: skip


def optimum_lesson() -> OptimumLesson:
    """A convex problem (one optimum) and the non-convex V (one end per basin)."""
    return OptimumLesson(logistic_sgd_optimum(), local_minima_lesson(with_reference=True))


# ---------------------------------------------------------------------------
# Gradient check: backprop against finite differences, layer by layer.
# ---------------------------------------------------------------------------


@dataclass
class GradCheckRow:
    layer: int  # from 1
    name: str  # "Dense(4, 'tanh')"
    param: str  # "W" or "b"
    shape: tuple[int, ...]
    analytic: np.ndarray
    numeric: np.ndarray

    @property
    def error(self) -> float:
        return relative_error(self.analytic, self.numeric)

    @property
    def max_abs(self) -> float:
        return float(np.max(np.abs(self.analytic))) if self.analytic.size else 0.0


@dataclass(repr=False)
class GradCheck(LessonResult):
    """∂L/∂θ from nnlite's backward propagation beside central finite differences."""

    topic = "gradient-check"

    spec: str
    loss: str
    n_samples: int
    h: float
    rows: list[GradCheckRow]
    tolerance: float
    kinks: int  # ReLU pre-activations within 10·h of 0, where L has no derivative

    @property
    def max_error(self) -> float:
        return max(row.error for row in self.rows)

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance


# Bounds of a gradient check: central differences cost two forward passes per parameter.
GRADCHECK_MAX_SAMPLES = 10_000
GRADCHECK_MAX_PARAMETERS = 20_000


def gradcheck_problem(
    hidden: list[int] | tuple[int, ...] = (4,),
    activation: str = "tanh",
    output: str = "auto",
    loss: str = "auto",
    n_inputs: int = 3,
    n_outputs: int = 2,
    n_samples: int = 5,
    seed: int = 0,
) -> tuple[Sequential, np.ndarray, np.ndarray]:
    """A float64 network as nnlite initialises it (plus small random biases), data and targets."""
    for what, value in (("inputs", n_inputs), ("outputs", n_outputs), ("samples", n_samples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    if n_samples > GRADCHECK_MAX_SAMPLES:
        raise ConfigError(
            f"samples {n_samples:,}: a gradient check needs a few rows, at most "
            f"{GRADCHECK_MAX_SAMPLES:,}"
        )
    dims = [int(n_inputs), *(int(u) for u in hidden), int(n_outputs)]
    if min(dims) < 1:
        raise ConfigError(f"every layer needs at least one unit, got {dims}")
    count = network_parameters(dims)
    if count > GRADCHECK_MAX_PARAMETERS:
        raise ConfigError(
            f"the network {'-'.join(map(str, dims))} has {count:,} parameters; the finite "
            f"differences take two forward passes each, so a gradient check takes at most "
            f"{GRADCHECK_MAX_PARAMETERS:,}"
        )
    if output == "auto":
        output = "softmax" if n_outputs > 1 else "sigmoid"
    if output == "softmax" and n_outputs < 2:
        raise ConfigError(
            "a softmax output needs at least two units (n_outputs=2 or more)", param="n_outputs"
        )
    layers = [Dense(u, activation) for u in hidden] + [Dense(n_outputs, output)]
    model = Sequential(layers, loss=None if loss == "auto" else loss, dtype=F64)
    model.build(n_inputs, seed=seed)
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # biases start at 0; a bias gradient is checked better away from it
        layer.b[...] = rng.normal(0.0, 0.1, size=layer.b.shape)
    X = rng.normal(size=(n_samples, n_inputs))
    if model.loss == "cce" or output == "softmax":
        Y = np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    elif model.loss == "bce":
        Y = rng.integers(0, 2, (n_samples, n_outputs)).astype(F64)
    elif output in ("sigmoid",):
        Y = rng.uniform(0.0, 1.0, (n_samples, n_outputs))
    else:
        Y = rng.normal(size=(n_samples, n_outputs))
    return model, X, Y


def gradient_check(
    hidden: list[int] | tuple[int, ...] = (4,),
    activation: str = "tanh",
    output: str = "auto",
    loss: str = "auto",
    n_inputs: int = 3,
    n_outputs: int = 2,
    n_samples: int = 5,
    seed: int = 0,
    h: float = 1e-5,
    tolerance: float = 1e-6,
    reference_loss: Callable[[np.ndarray], float] | None = None,
) -> GradCheck:
    """Analytic ∂L/∂θ (nnlite's backprop) vs central differences of L(θ), per layer and W/b.

    ``reference_loss(θ)`` replaces nnlite's own forward pass as the function that is
    differentiated numerically (the tests pass an independent float64 formula).
    """
    model, X, Y = gradcheck_problem(
        hidden, activation, output, loss, n_inputs, n_outputs, n_samples, seed
    )
    return check_model(model, X, Y, h=h, tolerance=tolerance, reference_loss=reference_loss)


def check_model(
    model: Sequential,
    X: np.ndarray,
    Y: np.ndarray,
    h: float = 1e-5,
    tolerance: float = 1e-6,
    reference_loss: Callable[[np.ndarray], float] | None = None,
) -> GradCheck:
    """``gradient_check`` for a given float64 model and data."""
    _, analytic = loss_and_gradient(model, X, Y)
    f = reference_loss or (lambda theta: loss_at(model, X, Y, theta))
    numeric = central_difference(f, model.theta.copy(), h)
    rows, off = [], 0
    for index, layer in enumerate(model.layers):
        for param, shape in (("W", layer.W.shape), ("b", layer.b.shape)):
            size = int(np.prod(shape))
            rows.append(
                GradCheckRow(
                    index + 1,
                    repr(layer),
                    param,
                    tuple(shape),
                    analytic[off : off + size],
                    numeric[off : off + size],
                )  # fmt: skip
            )
            off += size
    kinks = 0
    buf = _forward(model, X, Y, None)[5]
    for index, layer in enumerate(model.layers):
        if layer.activation == "relu":
            Z = model.layer_view(buf["Z"], index, len(X))
            kinks += int(np.sum(np.abs(Z) < 10 * h))
    spec = " → ".join([str(model.n_inputs)] + [f"{x.units} {x.activation}" for x in model.layers])
    return GradCheck(spec, model.loss, len(X), h, rows, tolerance, kinks)


# ---------------------------------------------------------------------------
# Depth: an MLP on real MNIST.
# ---------------------------------------------------------------------------


@dataclass
class DepthResult:
    hidden: int
    epochs: int
    test_accuracy: float
    test_loss: float
    seconds: float
    history: list[float]


def mnist_depth(
    data_dir: str | Path | None = None,
    hidden: int = 128,
    schedule: tuple[tuple[float, int], ...] = ((0.2, 2), (0.02, 1)),
    batch_size: int = 32,
    seed: int = 0,
) -> DepthResult:
    """784-``hidden``-10 (ReLU, softmax, CCE, float32) trained with mini-batch SGD; t10k accuracy.

    ``schedule`` lists (α, epochs): a last epoch at a tenth of the learning rate settles the
    weights instead of leaving them where the last noisy step put them.
    """
    ds = datasets.load_mnist(data_dir)
    model = Sequential([Dense(hidden, "relu"), Dense(10, "softmax")], n_inputs=784, seed=seed)
    for i, (lr, epochs) in enumerate(schedule):
        model.fit(ds.X, ds.y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed + i)
    loss, acc = model.evaluate(ds.X_test, ds.y_test)
    h = model.history
    return DepthResult(hidden, len(h.loss), acc, loss, h.seconds, list(h.loss))


# ---------------------------------------------------------------------------
# "optimizers": SGD, momentum, RMSProp and Adam, each step taken by nnlite's own
# update kernel (``cpu.optimizer_update``), on an ill-conditioned quadratic and on
# logistic regression.
# ---------------------------------------------------------------------------


def ill_conditioned_quadratic(
    kappa: float, angle: float = math.pi / 6, theta_star: Any = (1.0, 0.5)
) -> tuple[np.ndarray, np.ndarray]:
    """(A, b) of f(θ) = ½θᵀAθ − bᵀθ in 2-D with curvatures 1 and κ, axes turned by ``angle``.

    A = R·diag(1, κ)·Rᵀ (R a rotation: the valley is not along a coordinate axis, so no
    optimiser gets it for free), b = A·θ*: the minimiser is ``theta_star``.
    """
    c, s = math.cos(angle), math.sin(angle)
    R = np.array([[c, -s], [s, c]])
    A = R @ np.diag([1.0, float(kappa)]) @ R.T
    return A, A @ np.asarray(theta_star, F64)


def quadratic_objective(
    theta: np.ndarray, A: np.ndarray, b: np.ndarray
) -> tuple[float, np.ndarray]:
    """f(θ) = ½θᵀAθ − bᵀθ and ∇f = Aθ − b (NumPy; the gradient the lesson feeds the kernels)."""
    g = A @ theta - b
    return float(0.5 * theta @ (g - b)), g


def quadratic_gradient(A: np.ndarray, b: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """θ ↦ ∇f(θ) = Aθ − b, computed with NumPy."""
    return lambda theta: A @ theta - b


def polyak_momentum(mu: float, L: float) -> tuple[float, float]:
    """Polyak's heavy-ball tuning for curvatures in [μ, L]: α = 4/(√L + √μ)², momentum
    ((√L − √μ)/(√L + √μ))²; the error then shrinks by (√κ − 1)/(√κ + 1) a step, against
    (κ − 1)/(κ + 1) for gradient descent at its best α = 2/(L + μ)."""
    r, q = math.sqrt(L), math.sqrt(mu)
    return 4.0 / (r + q) ** 2, ((r - q) / (r + q)) ** 2


def kernel_descent(
    gradient: Callable[[np.ndarray], np.ndarray],
    theta0: Any,
    optimizer: Any,
    steps: int,
    schedule: Any = None,
) -> np.ndarray:
    """θ₀ … θ_steps of ``optimizer`` (an ``nnlite.optim.Optimizer``), one kernel call a step.

    Each step is ``cpu.optimizer_update(θ, g, state, 0, p, code, hyper, α_t, t)`` with
    g = ``gradient(θ)``, t = 1, 2, … and α_t from ``schedule`` (an ``nnlite.schedules.Schedule``
    counted in steps, as a per-step schedule is: time t − 1) or constant. Returns (steps + 1, p).
    """
    optimizer.validate()
    theta = np.array(theta0, F64)
    hyper = optimizer.hyper_vector()
    state = np.zeros((max(len(optimizer.slots), 1), theta.size))
    path = np.empty((steps + 1, theta.size))
    path[0] = theta
    for t in range(1, steps + 1):
        grad = np.ascontiguousarray(gradient(theta), F64)
        lr = hyper[0] if schedule is None else schedule.rate(float(hyper[0]), float(t - 1))
        cpu.optimizer_update(theta, grad, state, 0, theta.size, optimizer.code, hyper, lr, t)
        path[t] = theta
    return path


def steps_to_tolerance(path: np.ndarray, theta_star: Any, tol: float) -> int | None:
    """The first k with ‖θ_k − θ*‖ ≤ tol·‖θ₀ − θ*‖ from which it stays there; None if never."""
    d = np.linalg.norm(path - np.asarray(theta_star, F64), axis=1)
    outside = np.flatnonzero(d > tol * d[0])
    if outside.size == 0:
        return 0
    last = int(outside[-1]) + 1
    return last if last < len(d) else None


@dataclass
class OptimizerRun:
    """One optimiser's run: where it went and how fast."""

    name: str  # "SGD", "momentum", "RMSProp", "Adam"
    setting: str  # its hyper-parameters and schedule, as the lesson states them
    path: np.ndarray  # (K + 1, p): θ₀ … θ_K on the quadratic; (0, p) for a fit
    losses: np.ndarray  # f(θ_k) per step (quadratic) or fit's loss per epoch
    theta: np.ndarray  # the end
    distance: float  # ‖θ_end − θ_scipy‖
    steps: int  # steps (quadratic) or epochs (fit)
    steps_to_tol: int | None = None  # first step from which ‖θ − θ*‖ ≤ 10⁻⁶·‖θ₀ − θ*‖


@dataclass
class QuadraticRace:
    """The four optimisers from one start on f(θ) = ½θᵀAθ − bᵀθ."""

    A: np.ndarray
    b: np.ndarray
    eigenvalues: np.ndarray  # scipy.linalg.eigvalsh(A): (μ, L)
    theta0: np.ndarray
    theta_ref: np.ndarray  # scipy.optimize.minimize's optimum
    theta_solve: np.ndarray  # scipy.linalg.solve(A, b)
    loss_ref: float
    tol: float  # how close to θ_ref counts as "reached" (the tests' tolerance)
    runs: list[OptimizerRun]

    @property
    def kappa(self) -> float:
        return float(self.eigenvalues[-1] / self.eigenvalues[0])


# Shown beside the race, not in it: RMSProp divides each step by the gradient's recent
# size, so at a constant α its steps stay near α and it ends jittering around θ*.
CONSTANT_RMSPROP = "RMSProp, constant α"


def quadratic_optimizers(mu: float, L: float, steps: int) -> list[tuple[str, str, Any, Any]]:
    """(name, setting, optimizer, schedule) of the race: each at a textbook or tuned α."""
    lr_gd = 2.0 / (L + mu)
    lr_hb, beta = polyak_momentum(mu, L)
    return [
        ("SGD", f"α = 2/(L + μ) = {lr_gd:.3g}", SGD(lr=lr_gd), None),
        ("momentum", f"Polyak: α = {lr_hb:.3g}, μ = {beta:.3f}", SGD(lr=lr_hb, momentum=beta),
         None),
        ("RMSProp", f"α = 0.05 → 0 (cosine over {steps} steps), ρ = 0.99",
         RMSProp(lr=0.05), Schedule("cosine", per="step", period=steps)),
        ("Adam", "α = 0.1, β₁ = 0.9, β₂ = 0.999", Adam(lr=0.1), None),
        (CONSTANT_RMSPROP, "α = 0.05 throughout", RMSProp(lr=0.05), None),
    ]  # fmt: skip


def quadratic_race(
    kappa: float = 50.0,
    steps: int = 2000,
    theta0: Any = (-1.8, -0.6),
    tol: float = 1e-8,
) -> QuadraticRace:
    """SGD, momentum, RMSProp and Adam on the 2-D quadratic with condition number κ.

    The reference is ``scipy.optimize.minimize`` (L-BFGS-B) of the same f from the same θ₀,
    and ``scipy.linalg.solve(A, b)``; the curvatures μ, L come from ``scipy.linalg.eigvalsh``.
    """
    A, b = ill_conditioned_quadratic(kappa)
    eigenvalues = linalg.eigvalsh(A)
    theta0 = np.asarray(theta0, F64)
    ref = lbfgs(quadratic_objective, theta0, A, b)
    runs = []
    for name, setting, opt, schedule in quadratic_optimizers(*eigenvalues, steps):
        path = kernel_descent(quadratic_gradient(A, b), theta0, opt, steps, schedule)
        losses = np.array([quadratic_objective(th, A, b)[0] for th in path])
        runs.append(OptimizerRun(
            name, setting, path, losses, path[-1].copy(),
            float(np.linalg.norm(path[-1] - ref.x)), steps, steps_to_tolerance(path, ref.x, 1e-6),
        ))  # fmt: skip
    return QuadraticRace(A, b, eigenvalues, theta0, ref.x, linalg.solve(A, b), float(ref.fun),
                         tol, runs)  # fmt: skip


@dataclass
class LogisticRace:
    """The four optimisers training ``Sequential([Dense(1, "sigmoid")])`` with ``fit``."""

    X: np.ndarray
    y: np.ndarray
    theta0: np.ndarray
    theta_ref: np.ndarray  # scipy.optimize.minimize (trust-exact) of ``logistic_objective``
    loss_ref: float
    L: float  # λmax(X̃ᵀX̃)/(4n), bounding the BCE's curvature (eigvalsh)
    runs: list[OptimizerRun]


def logistic_race(epochs: int = 1000, seed: int = 0) -> LogisticRace:
    """Full-batch ``fit`` (batch = all rows, no shuffling) with each optimiser, from one θ₀."""
    X, y = logistic_data(seed=seed)
    theta0 = single_layer(2, 1, "sigmoid", "bce", seed=seed).theta.copy()
    ref = newton(logistic_objective, logistic_hessian, theta0, X, y)
    L = float(mse_curvature(X)[-1] / 8.0)  # 2·X̃ᵀX̃/n / 8 = X̃ᵀX̃/(4n)
    settings = [
        ("SGD", f"α = 1/L = {1 / L:.3g}", SGD(lr=1 / L), None),
        ("momentum", "α = 1/L, μ = 0.9", SGD(lr=1 / L, momentum=0.9), None),
        ("RMSProp", f"α = 0.01 → 0 (cosine over {epochs} epochs)", RMSProp(lr=0.01),
         Schedule("cosine", period=epochs)),
        ("Adam", "α = 0.05", Adam(lr=0.05), None),
    ]  # fmt: skip
    runs = []
    for name, setting, opt, schedule in settings:
        model = single_layer(2, 1, "sigmoid", "bce", theta0)
        model.fit(X, y, epochs=epochs, batch_size=len(X), shuffle=False, optimizer=opt,
                  schedule=schedule)  # fmt: skip
        theta = model.theta.copy()
        runs.append(OptimizerRun(
            name, setting, np.empty((0, theta.size)), np.array(model.history.loss), theta,
            float(np.linalg.norm(theta - ref.x)), epochs,
        ))  # fmt: skip
    return LogisticRace(X, y, theta0, ref.x, float(ref.fun), L, runs)


@dataclass
class FirstStep:
    """θ₁ − θ₀ of each optimiser from the same θ₀ and gradient (one kernel call each)."""

    alpha: float
    gradient: np.ndarray
    steps: dict[str, np.ndarray]  # optimiser name → Δθ


def first_steps(
    alpha: float = 1e-3, scales: tuple[float, ...] = (1e-4, -1e-2, 1.0, -1e2, 1e4)
) -> FirstStep:
    """One step of SGD, momentum, RMSProp and Adam, all with α, on a gradient whose
    coordinates span eight orders of magnitude (signs mixed)."""
    g = np.array(scales, F64)
    steps = {}
    for name, opt in (("SGD", SGD(lr=alpha)), ("momentum", SGD(lr=alpha, momentum=0.9)),
                      ("RMSProp", RMSProp(lr=alpha)), ("Adam", Adam(lr=alpha))):  # fmt: skip
        path = kernel_descent(lambda th: g, np.zeros_like(g), opt, 1)
        steps[name] = path[1] - path[0]
    return FirstStep(alpha, g, steps)


@dataclass
class MomentumRow:
    """Gradient descent vs heavy-ball momentum on one quadratic, each at its best α."""

    kappa: float  # λmax/λmin from scipy.linalg.eigvalsh
    gd_steps: int | None
    momentum_steps: int | None
    gd_theory: float  # ln(1/tol) / ln((κ + 1)/(κ − 1))
    momentum_theory: float  # ln(1/tol) / ln((√κ + 1)/(√κ − 1))

    @property
    def advantage(self) -> float:
        if self.gd_steps is None or self.momentum_steps is None:
            return math.nan
        return self.gd_steps / max(self.momentum_steps, 1)


def momentum_advantage(
    kappas: tuple[float, ...] = (10.0, 30.0, 100.0, 300.0, 1000.0),
    tol: float = 1e-6,
    theta0: Any = (-2.0, 2.0),
) -> list[MomentumRow]:
    """Steps until ‖θ − θ*‖ ≤ tol·‖θ₀ − θ*‖, GD at α = 2/(L + μ) vs Polyak's heavy ball,
    for each condition number κ (θ* from ``scipy.linalg.solve``)."""
    rows = []
    for kappa in kappas:
        A, b = ill_conditioned_quadratic(kappa)
        mu, L = linalg.eigvalsh(A)
        theta_star = linalg.solve(A, b)
        k = L / mu
        budget = int(3 * math.log(1 / tol) * k) + 100  # 3× the theory for GD
        lr_hb, beta = polyak_momentum(mu, L)
        gradient = quadratic_gradient(A, b)
        gd = kernel_descent(gradient, theta0, SGD(lr=2 / (L + mu)), budget)
        hb = kernel_descent(gradient, theta0, SGD(lr=lr_hb, momentum=beta),
                            budget // int(math.sqrt(k)) + 100)  # fmt: skip
        rows.append(MomentumRow(
            float(k), steps_to_tolerance(gd, theta_star, tol),
            steps_to_tolerance(hb, theta_star, tol),
            math.log(1 / tol) / math.log((k + 1) / (k - 1)),
            math.log(1 / tol) / math.log((math.sqrt(k) + 1) / (math.sqrt(k) - 1)),
        ))  # fmt: skip
    return rows


@dataclass(repr=False)
class OptimizersLesson(LessonResult):
    topic = "optimizers"

    quadratic: QuadraticRace
    logistic: LogisticRace
    first: FirstStep
    momentum: list[MomentumRow]


def optimizers_lesson() -> OptimizersLesson:
    """The quadratic race (κ = 50), logistic regression, Adam's first step, momentum vs κ."""
    return OptimizersLesson(quadratic_race(), logistic_race(), first_steps(), momentum_advantage())


# ---------------------------------------------------------------------------
# "overfitting": a few digits, training vs validation, and what L2, dropout and
# early stopping change — each against an exact reference.
# ---------------------------------------------------------------------------


def digits_subset(
    n_train: int = 150, n_val: int = 500, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, X_val, y_val): ``n_train`` shipped 8×8 digits to learn from and ``n_val``
    others to validate on, drawn without overlap by a seeded permutation; X float64 in [0, 1]."""
    ds = datasets.load_digits()
    order = np.random.default_rng(seed).permutation(len(ds.y))
    train, val = order[:n_train], order[n_train : n_train + n_val]
    X = ds.X.astype(F64)
    return X[train], ds.y[train], X[val], ds.y[val]


def weight_norm(model: Sequential, theta: np.ndarray | None = None) -> float:
    """‖W‖: the Euclidean norm of every layer's weights together (biases left out, as L2 does)."""
    views = model.param_views(model.theta if theta is None else theta)
    return math.sqrt(sum(float(np.sum(np.square(W, dtype=F64))) for W, _ in views))


class EpochRecorder(Callback):
    """After each epoch: the cross-entropy of θ on the training and the validation rows
    (nnlite's forward pass: no dropout, no penalty, so every run is measured alike),
    the validation accuracy and ‖W‖."""

    def __init__(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray):
        self.data = (X, y, X_val, y_val)
        self.train: list[float] = []
        self.val: list[float] = []
        self.val_accuracy: list[float] = []
        self.norm: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        X, y, X_val, y_val = self.data
        self.train.append(loss_at(self.model, X, y))
        *_, buf, _, _, loss = _forward(self.model, X_val, y_val, None)  # one pass: loss and P
        P = self.model.layer_view(buf["A"], len(self.model.layers) - 1, len(X_val))
        self.val.append(loss)
        self.val_accuracy.append(float(np.mean(np.argmax(P, axis=1) == y_val)))
        self.norm.append(weight_norm(self.model))


@dataclass
class Curves:
    """One training run on the few digits, measured after every epoch."""

    name: str
    setting: str
    train: list[float]  # cross-entropy on the training rows
    val: list[float]  # cross-entropy on the validation rows
    val_accuracy: list[float]
    norm: list[float]  # ‖W‖
    end_val: float  # validation cross-entropy of the θ the run returns
    end_accuracy: float
    end_norm: float

    @property
    def best_epoch(self) -> int:
        return int(np.argmin(self.val))


@dataclass
class EarlyStop:
    """Early stopping against a plain run of exactly the best epoch's length."""

    patience: int
    best_epoch: int  # from 0
    stopped_epoch: int | None
    val_loss: list[float]  # fit's val_loss per epoch
    theta: np.ndarray  # θ the early-stopped fit returned
    theta_replay: np.ndarray  # θ after a fresh fit of best_epoch + 1 epochs, same seed

    @property
    def identical(self) -> bool:
        return self.theta.dtype == self.theta_replay.dtype and bool(
            np.array_equal(self.theta, self.theta_replay)
        )


def mlp(
    l2: float = 0.0, dropout: float = 0.0, hidden: int = 64, dtype: Any = np.float32
) -> Sequential:
    """64 pixels → ``hidden`` ReLU units → 10 softmax units; L2 λ on both layers' W,
    ``Dropout(dropout)`` between them."""
    middle = [Dropout(dropout)] if dropout else []
    return Sequential([Dense(hidden, "relu", l2=l2), *middle, Dense(10, "softmax", l2=l2)],
                      dtype=dtype)  # fmt: skip


def train_curves(
    name: str, setting: str, model: Sequential, data: tuple, epochs: int, seed: int = 0
) -> Curves:
    """``fit`` with Adam (α = 3·10⁻³, batches of 16) and an ``EpochRecorder`` (which
    measures the validation rows itself: fit is not given them)."""
    X, y, X_val, y_val = data
    rec = EpochRecorder(*data)
    model.fit(X, y, epochs=epochs, batch_size=16, optimizer=Adam(lr=3e-3), seed=seed,
              callbacks=[rec])  # fmt: skip
    accuracy = float(np.mean(model.predict_classes(X_val) == y_val))
    return Curves(name, setting, rec.train, rec.val, rec.val_accuracy, rec.norm,
                  loss_at(model, X_val, y_val), accuracy, weight_norm(model))  # fmt: skip


def early_stopping(data: tuple, epochs: int = 200, patience: int = 20, seed: int = 0) -> EarlyStop:
    """The plain network with ``nnlite.callbacks.EarlyStopping`` (val_loss, ``patience``,
    restore_best_weights); then a fresh one trained for exactly the best epoch's number of
    epochs with the same seed."""
    X, y, X_val, y_val = data
    stopper = EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
    model = mlp()
    model.fit(X, y, epochs=epochs, batch_size=16, optimizer=Adam(lr=3e-3), seed=seed,
              validation_data=(X_val, y_val), callbacks=[stopper])  # fmt: skip
    replay = mlp()
    replay.fit(X, y, epochs=stopper.best_epoch + 1, batch_size=16, optimizer=Adam(lr=3e-3),
               seed=seed, validation_data=(X_val, y_val))  # fmt: skip
    return EarlyStop(patience, stopper.best_epoch, stopper.stopped_epoch or None,
                     list(model.history.val_loss), model.theta.copy(),
                     replay.theta.copy())  # fmt: skip


# -- L2-regularised softmax regression: one minimiser; without L2, none -------------


def softmax_l2_objective(theta: np.ndarray, X: Any, Y: Any, lam: float) -> tuple[float, np.ndarray]:
    """``softmax_objective`` + λ·ΣW² (W only, not b: Keras's kernel_regularizer), and ∇."""
    loss, grad = softmax_objective(theta, X, Y)
    k = np.asarray(Y).shape[1]
    W = theta[: np.asarray(X).shape[1] * k]
    grad[: W.size] += 2.0 * lam * W
    return loss + lam * float(W @ W), grad


def softmax_l2_hessian(theta: np.ndarray, X: Any, Y: Any, lam: float) -> np.ndarray:
    """∇² of ``softmax_l2_objective``: (1/n)·Σᵢ x̃ᵢx̃ᵢᵀ ⊗ (diag(pᵢ) − pᵢpᵢᵀ) + 2λ on W.

    Laid out like θ: W row by row (feature j, class c at j·k + c), then b (as the weight
    of the constant input, the last row of x̃). ``Y`` only gives the number of classes k.
    """
    Xt = augmented(X)
    n, d = Xt.shape
    k = np.asarray(Y).shape[1]
    P = special.softmax(Xt @ theta.reshape(d, k), axis=1)
    S = P[:, :, None] * np.eye(k) - P[:, :, None] * P[:, None, :]  # (n, k, k)
    H = np.empty((d, k, d, k))
    for a in range(k):  # block (a, b): X̃ᵀ·diag(S[:, a, b])·X̃
        for b in range(k):
            H[:, a, :, b] = (Xt.T * S[:, a, b]) @ Xt
    H = H.reshape(d * k, d * k) / n
    H[np.arange((d - 1) * k), np.arange((d - 1) * k)] += 2.0 * lam
    return H


def softmax_l2_hessp(theta: np.ndarray, v: np.ndarray, X: Any, Y: Any, lam: float) -> np.ndarray:
    """∇²·v of ``softmax_l2_objective`` without forming ∇²: row i contributes
    x̃ᵢ ⊗ (pᵢ ⊙ uᵢ − pᵢ(pᵢ·uᵢ)) with uᵢ = x̃ᵢ·V (V: v as (features + 1, k)), over n; plus 2λ·v
    on W."""
    Xt = augmented(X)
    n, d = Xt.shape
    k = np.asarray(Y).shape[1]
    P = special.softmax(Xt @ theta.reshape(d, k), axis=1)
    U = Xt @ v.reshape(d, k)
    out = (Xt.T @ (P * U - P * np.sum(P * U, axis=1, keepdims=True)) / n).ravel()
    out[: (d - 1) * k] += 2.0 * lam * v[: (d - 1) * k]
    return out


def multiclass_separable(X: Any, y: Any, k: int = 10) -> tuple[bool, np.ndarray | None]:
    """Is there θ = (W, b) with (w_yᵢ − w_c)·x̃ᵢ ≥ 1 for every row i and class c ≠ yᵢ?

    A feasibility linear program for ``scipy.optimize.linprog`` (HiGHS), as ``lp_separable``
    for two classes. Returns (feasible, θ flat like nnlite's or None).
    """
    Xt = augmented(X)
    y = np.asarray(y)
    n, d = Xt.shape
    rows = []
    for i in range(n):
        for c in range(k):
            if c != y[i]:
                G = np.zeros((d, k))
                G[:, y[i]] += Xt[i]
                G[:, c] -= Xt[i]
                rows.append(-G.ravel())
    res = optimize.linprog(np.zeros(d * k), A_ub=np.array(rows), b_ub=-np.ones(len(rows)),
                           bounds=[(None, None)] * (d * k), method="highs")  # fmt: skip
    return (True, res.x) if res.status == 0 else (False, None)


def centre_biases(theta: np.ndarray, k: int = 10) -> np.ndarray:
    """θ with its last ``k`` entries (one layer's biases) shifted to mean 0.

    Adding one constant to every class's bias changes no softmax probability, and L2
    leaves b alone: that shift is the one direction in which the loss is flat.
    """
    theta = np.array(theta, F64)
    theta[-k:] -= theta[-k:].mean()
    return theta


@dataclass
class SoftmaxL2:
    """Softmax regression on all 64 pixels of the few digits, with and without L2."""

    lam: float
    theta0: np.ndarray
    theta: np.ndarray  # nnlite: full-batch heavy-ball momentum with the penalty
    theta_ref: np.ndarray  # scipy.optimize.minimize (L-BFGS-B, then trust-ncg) of the same
    loss: float  # nnlite's reported loss (cross-entropy + penalty) at its end
    loss_ref: float
    hessian_eigenvalues: np.ndarray  # at scipy's optimum (scipy.linalg.eigvalsh), ascending
    lr: float
    momentum: float
    epochs: int
    separable: bool  # scipy.optimize.linprog: a θ classifies every training row with margin
    scales: list[float]  # s along s·θ_sep
    loss_along: list[float]  # nnlite's cross-entropy at s·θ_sep
    bound_along: list[float]  # log(1 + 9e⁻ˢ): the cross-entropy there is at most this
    plain_steps: list[int]  # gradient-descent steps without L2 …
    plain_loss: list[float]  # … the cross-entropy there …
    plain_norm: list[float]  # … and ‖W‖ (it keeps growing: there is no minimiser)

    @property
    def distance(self) -> float:
        """‖θ − θ_scipy‖ with each θ's biases centred (the one direction the loss ignores)."""
        return float(np.linalg.norm(centre_biases(self.theta) - centre_biases(self.theta_ref)))

    @property
    def relative_distance(self) -> float:
        return self.distance / float(np.linalg.norm(centre_biases(self.theta_ref)))

    @property
    def flat_directions(self) -> int:
        """Hessian eigenvalues ≤ 10⁻¹⁰·the largest: directions where the loss does not curve."""
        ev = self.hessian_eigenvalues
        return int(np.sum(ev <= 1e-10 * ev[-1]))


def softmax_l2(
    data: tuple, lam: float = 0.01, epochs: int = 800,
    plain_steps: tuple[int, ...] = (10, 100, 1000, 3000),
    seed: int = 0,
) -> SoftmaxL2:  # fmt: skip
    """nnlite's ``Dense(10, "softmax", l2=λ)`` against scipy on the same objective, same θ₀.

    nnlite: full-batch ``fit`` with heavy-ball momentum tuned (Polyak) to the curvatures.
    The Hessian at scipy's optimum (``scipy.linalg.eigvalsh``) has exactly one zero
    eigenvalue: adding one constant to every bias changes no probability and L2 leaves b
    alone. Every other direction curves, so the minimiser is unique once the biases are
    centred (``centre_biases``), and that is how the two are compared.
    """
    X, y, _, _ = data
    Y = np.eye(10)[y]
    model = single_layer(64, 10, "softmax", "cce", seed=seed)
    model.layers[0].l2 = lam
    theta0 = model.theta.copy()
    # L-BFGS-B stops where its progress stalls (here ‖∇‖ ≈ 5·10⁻⁹); Newton's method (trust
    # region, conjugate gradients on exact Hessian-vector products) then takes ‖∇‖ below
    # 10⁻¹², so θ is within about 10⁻¹²/μ ≈ 10⁻¹⁰ of the minimiser.
    start = lbfgs(softmax_l2_objective, theta0, X, Y, lam)
    ref = optimize.minimize(softmax_l2_objective, start.x, args=(X, Y, lam), jac=True,
                            hessp=softmax_l2_hessp, method="trust-ncg",
                            options={"gtol": 1e-12, "maxiter": 100})  # fmt: skip
    ev = linalg.eigvalsh(softmax_l2_hessian(ref.x, X, Y, lam))
    curved = ev[ev > 1e-10 * ev[-1]]
    # Polyak's tuning for curvatures in [μ, L], with μ the smallest non-zero curvature at
    # the optimum and L the bound λmax(X̃ᵀX̃)/(2n) + 2λ that holds everywhere (far from the
    # optimum the loss can curve more than at it; a heavy ball tuned to a too small L diverges).
    L = float(mse_curvature(X)[-1] / 4.0) + 2.0 * lam
    lr, beta = polyak_momentum(float(curved[0]), L)
    model.fit(X, y, epochs=epochs, batch_size=len(X), shuffle=False,
              optimizer=SGD(lr=lr, momentum=beta))  # fmt: skip
    theta = model.theta.copy()
    loss = loss_at(model, X, y) + model.penalty()
    separable, theta_sep = multiclass_separable(X, y)
    # nnlite clips probabilities to [10⁻¹², 1 − 10⁻¹²], so its cross-entropy cannot show
    # less than about 10⁻¹²: the scales stop where the bound is still far above that.
    scales = [1.0, 2.0, 5.0, 10.0]
    plain = single_layer(64, 10, "softmax", "cce", theta0)
    along = [loss_at(plain, X, y, s * theta_sep) for s in scales] if separable else []
    steps_done, losses_, norms = 0, [], []
    alpha = 1.0 / (mse_curvature(X)[-1] / 4.0)  # 1/L, L = λmax(X̃ᵀX̃)/(2n) bounds the curvature
    for k in plain_steps:
        gd_run(plain, X, y, alpha, k - steps_done)
        steps_done = k
        losses_.append(loss_at(plain, X, y))
        norms.append(weight_norm(plain))
    return SoftmaxL2(
        lam, theta0, theta, ref.x, loss, float(ref.fun), ev, lr, beta, epochs, separable,
        scales, along, [math.log1p(9 * math.exp(-s)) for s in scales], list(plain_steps),
        losses_, norms,
    )  # fmt: skip


# -- a linear network with L2 is ridge regression ------------------------------------


def ridge_closed_form(X: Any, Y: Any, lam: float) -> np.ndarray:
    """The minimiser of 1/(n·o)·‖X̃θ − Y‖² + λ·ΣW² (nnlite's MSE: a mean over all n·o
    entries; the penalty on W only, as Keras's), by ``scipy.linalg.solve``.

    Setting the gradient to zero: (2/(n·o))·X̃ᵀ(X̃θ − Y) + 2λ·Dθ = 0, D = diag(1, …, 1, 0)
    (no penalty on the bias row), so (X̃ᵀX̃ + n·o·λ·D)·θ = X̃ᵀY. Returns θ flat like nnlite's.
    """
    Xt = augmented(X)
    Y = np.asarray(Y, F64).reshape(len(Xt), -1)
    n, o = Y.shape
    D = np.eye(Xt.shape[1])
    D[-1, -1] = 0.0
    coef = linalg.solve(Xt.T @ Xt + n * o * lam * D, Xt.T @ Y, assume_a="pos")
    return np.concatenate([coef[:-1].ravel(), coef[-1]])


@dataclass
class RidgeResult:
    """One identity Dense layer with L2 and MSE, trained by nnlite, vs the closed form."""

    lam: float
    theta: np.ndarray
    theta_ref: np.ndarray
    rank: int  # rank of X̃ᵀX̃: below its size, plain least squares has many solutions
    size: int
    blank: int  # pixels that are 0 in every training image (each a zero column of X̃)
    eigenvalues: np.ndarray  # of the loss's Hessian 2/(n·o)·X̃ᵀX̃ + 2λD (scipy.linalg.eigvalsh)
    epochs: int

    @property
    def relative_distance(self) -> float:
        return float(np.linalg.norm(self.theta - self.theta_ref) / np.linalg.norm(self.theta_ref))


def ridge(data: tuple, lam: float = 0.01, epochs: int = 1200, seed: int = 0) -> RidgeResult:
    """``Dense(10, "identity", l2=λ)`` with MSE on one-hot digits (full-batch ``fit``, heavy
    ball tuned to the Hessian's eigenvalues) against ``ridge_closed_form``."""
    X, y, _, _ = data
    Y = np.eye(10)[y]
    Xt = augmented(X)
    n, o = Y.shape
    D = np.eye(Xt.shape[1])
    D[-1, -1] = 0.0
    ev = linalg.eigvalsh(2.0 / (n * o) * Xt.T @ Xt + 2.0 * lam * D)
    lr, beta = polyak_momentum(float(ev[0]), float(ev[-1]))
    model = single_layer(64, 10, "identity", "mse", seed=seed)
    model.layers[0].l2 = lam
    model.fit(X, Y, epochs=epochs, batch_size=n, shuffle=False,
              optimizer=SGD(lr=lr, momentum=beta))  # fmt: skip
    rank = int(np.linalg.matrix_rank(Xt.T @ Xt))
    blank = int(np.sum(np.all(X == 0, axis=0)))
    return RidgeResult(lam, model.theta.copy(), ridge_closed_form(X, Y, lam), rank, Xt.shape[1],
                       blank, ev, epochs)  # fmt: skip


# -- dropout keeps each unit's expected value ----------------------------------------


@dataclass
class DropoutCheck:
    """nnlite's dropout masks on fixed activations, many steps: each unit's mean kept value."""

    p: float
    steps: int
    rows: int
    units: int  # units with a non-zero activation somewhere (a dead ReLU stays 0 either way)
    mean_activation: np.ndarray  # per unit: mean of A over the rows
    mean_dropped: np.ndarray  # per unit: mean of D over the rows and the steps
    z: np.ndarray  # (mean D − mean A)/its standard error under independent masks
    chi2: float  # Σ z²
    p_value: float  # scipy.stats.chi2.sf(Σz², units)
    kept: int  # entries kept over every step
    total: int
    keep_p_value: float  # scipy.stats.binomtest(kept, total, 1 − p)


def dropout_check(A: np.ndarray, p: float, steps: int = 400, seed: int = 12345) -> DropoutCheck:
    """Apply ``cpu.dropout_forward`` (inverted dropout, rate p) to A at steps t = 1 … ``steps``.

    Each entry is a/(1 − p) with probability 1 − p, else 0: mean a, variance a²·p/(1 − p).
    Per unit j, the mean over n rows and T steps has standard error
    √(p/(1 − p)·Σᵣ aᵣⱼ²)/(n·√T), so z_j is about N(0, 1) when the masks keep the expectation;
    Σ z_j² is then χ² with one degree of freedom per live unit.
    """
    A = np.ascontiguousarray(A, F64)
    n = len(A)
    live = np.flatnonzero(np.any(A != 0, axis=0))
    total = np.zeros_like(A)
    D = np.empty_like(A)
    kept = 0
    for t in range(1, steps + 1):
        cpu.dropout_forward(A, D, p, seed, t, 1)
        total += D
        kept += int(np.count_nonzero(D[:, live]))
    mean_a = A.mean(axis=0)[live]
    mean_d = total.mean(axis=0)[live] / steps
    se = np.sqrt(p / (1.0 - p) * np.sum(A[:, live] ** 2, axis=0)) / (n * math.sqrt(steps))
    z = (mean_d - mean_a) / se
    chi2 = float(np.sum(z**2))
    count = int(np.count_nonzero(A[:, live])) * steps
    return DropoutCheck(
        p, steps, n, live.size, mean_a, mean_d, z, chi2, float(stats.chi2.sf(chi2, live.size)),
        kept, count, float(stats.binomtest(kept, count, 1.0 - p).pvalue),
    )  # fmt: skip


def hidden_activations(model: Sequential, X: np.ndarray) -> np.ndarray:
    """The first layer's activations σ(X·W + b) by nnlite's forward pass, float64."""
    Xd = np.ascontiguousarray(X, model.dtype)
    buf = model.buffers(len(Xd))
    cpu.forward_pass(Xd, model.theta, model._dims, model._acts, buf["Z"], buf["A"])
    return model.layer_view(buf["A"], 0, len(Xd)).astype(F64)


@dataclass(repr=False)
class OverfittingLesson(LessonResult):
    topic = "overfitting"

    n_params: int  # of the 64-64-10 network
    n_train: int
    n_val: int
    epochs: int
    runs: list[Curves]
    early: EarlyStop
    softmax: SoftmaxL2
    ridge: RidgeResult
    dropout: list[DropoutCheck]


def overfitting_lesson(
    n_train: int = 150, n_val: int = 500, epochs: int = 200, seed: int = 0
) -> OverfittingLesson:
    """Curves with and without L2, dropout and early stopping; then the exact claims."""
    data = digits_subset(n_train, n_val, seed)
    plain = mlp()
    runs = [
        train_curves("plain", "64 → 64 ReLU → 10 softmax", plain, data, epochs, seed),
        train_curves("L2", "λ = 10⁻³ on both layers' W", mlp(l2=1e-3), data, epochs, seed),
        train_curves(
            "dropout", "Dropout(0.5) after the hidden layer", mlp(dropout=0.5), data, epochs, seed
        ),  # fmt: skip
    ]
    early = early_stopping(data, epochs, seed=seed)
    A = hidden_activations(plain, data[0][:50])
    return OverfittingLesson(
        plain.theta.size, n_train, n_val, epochs, runs, early, softmax_l2(data, seed=seed),
        ridge(data, seed=seed), [dropout_check(A, p) for p in (0.2, 0.5)],
    )  # fmt: skip


# ---------------------------------------------------------------------------
# "vanishing-gradients": deep sigmoid and ReLU networks, Glorot/He weights against
# N(0, 1), and the gradient's norm layer by layer from nnlite's backward kernels.
# ---------------------------------------------------------------------------

# (σ, initialisation) of every network the lesson builds: nnlite's defaults (Glorot for
# sigmoid, He for ReLU) and the naive N(0, 1).
DEEP_CONFIGS: tuple[tuple[str, str], ...] = (
    ("sigmoid", "glorot"), ("sigmoid", "normal"), ("relu", "he"), ("relu", "normal"),
)  # fmt: skip
INIT_TITLES = {"glorot": "Glorot", "he": "He", "normal": "N(0, 1)"}
MAX_SLOPE = {"sigmoid": 0.25, "relu": 1.0}  # max σ′: σ(1 − σ) peaks at z = 0; ReLU′ ∈ {0, 1}
SATURATION = 0.05  # a sigmoid unit is saturated when σ is within this of 0 or 1 (σ′ < 0.0475)


def deep_network(
    activation: str, init: str, depth: int = 10, width: int = 32, n_inputs: int = 64,
    seed: int = 0,
) -> Sequential:  # fmt: skip
    """``depth`` hidden ``Dense(width, activation)`` layers, then 10 softmax units (CCE), float64.

    ``init``: ``"glorot"`` or ``"he"`` — nnlite's own initialisation, which must be the one
    the table gives ``activation`` —, or ``"normal"``: every W drawn from N(0, 1) instead
    (biases 0 either way).
    """
    model = Sequential([Dense(width, activation) for _ in range(depth)] + [Dense(10, "softmax")],
                       loss="cce", dtype=F64)  # fmt: skip
    model.build(n_inputs, seed)
    if init == "normal":
        rng = np.random.default_rng([seed, 1])  # a stream of its own, not build's
        for W, _ in model.param_views(model.theta):
            W[...] = rng.normal(0.0, 1.0, size=W.shape)
    elif init != activations.ACTIVATIONS[activations.canonical(activation)].init:
        raise ConfigError(f"nnlite initialises {activation} layers with "
                          f"{activations.ACTIVATIONS[activation].init}, not {init}")  # fmt: skip
    return model


@dataclass
class DeepPass:
    """One forward and backward pass of a deep network on the batch, by nnlite's kernels.

    Layers are numbered ℓ = 1 … L as in the lesson (L − 1 hidden layers, then the output);
    index ℓ − 1 in each list. A_ℓ = σ(Z_ℓ), Z_ℓ = A_{ℓ−1}·W_ℓ + b_ℓ, A_0 = X.
    """

    activation: str
    init: str
    seed: int
    loss: float
    W: list[np.ndarray]  # W_ℓ, (fan_in, fan_out)
    Z: list[np.ndarray]  # Z_ℓ, (n, fan_out)
    A: list[np.ndarray]  # A_ℓ (the output layer's: the probabilities P)
    dZ: list[np.ndarray]  # ∂L/∂Z_ℓ
    dA: list[np.ndarray]  # ∂L/∂A_ℓ for the hidden layers ℓ = 1 … L − 1 (the kernel's dA)
    dW: list[np.ndarray]  # ∂L/∂W_ℓ


def deep_pass(model: Sequential, X: Any, y: Any, activation: str, init: str, seed: int) -> DeepPass:
    """``cpu.forward_pass`` and ``cpu.backward_pass`` (the training kernels, no update), with
    every layer's Z, A, dZ, dA and dW read back from the kernels' buffers."""
    X, Y, theta, dims, acts, buf, code, eps, loss = _forward(model, X, y, None)
    cpu.backward_pass(
        X, Y, theta, dims, acts, code, eps, buf["Z"], buf["A"], buf["dZ"], buf["dA"], buf["grad"]
    )
    n, L = len(X), len(model.layers)

    def layers(name: str, count: int) -> list[np.ndarray]:
        return [model.layer_view(buf[name], k, n).copy() for k in range(count)]

    return DeepPass(
        activation, init, seed, loss, [W.copy() for W, _ in model.param_views(theta)],
        layers("Z", L), layers("A", L), layers("dZ", L), layers("dA", L - 1),
        [dW.copy() for dW, _ in model.param_views(buf["grad"])],
    )  # fmt: skip


def bound_tightness(p: DeepPass) -> np.ndarray:
    """For each hidden layer ℓ = 2 … L − 1: the largest over the rows r of
    ‖dA_{ℓ−1}[r]‖ / (max σ′ · ‖W_ℓ‖₂ · ‖dA_ℓ[r]‖), ‖W_ℓ‖₂ by ``scipy.linalg.svdvals``.

    dA_{ℓ−1}[r] = (dA_ℓ[r] ⊙ σ′(Z_ℓ[r]))·W_ℓᵀ, so each is at most 1 (rows with dA_ℓ[r] = 0
    have dA_{ℓ−1}[r] = 0 and are left out).
    """
    slope = MAX_SLOPE[p.activation]
    out = []
    for k in range(1, len(p.dA)):  # layer ℓ = k + 1 takes dA_ℓ = p.dA[k] down to p.dA[k − 1]
        top = np.linalg.norm(p.dA[k - 1], axis=1)
        below = slope * float(linalg.svdvals(p.W[k])[0]) * np.linalg.norm(p.dA[k], axis=1)
        live = below > 0
        out.append(float(np.max(top[live] / below[live])) if live.any() else 0.0)
    return np.array(out)


@dataclass
class DeepRuns:
    """One (σ, initialisation) over many seeds: the figures of every seed's pass."""

    activation: str
    init: str
    width: int
    depth: int  # hidden layers
    dW_norm: np.ndarray  # (seeds, L): ‖∂L/∂W_ℓ‖ (Frobenius)
    dA_norm: np.ndarray  # (seeds, L − 1): ‖∂L/∂A_ℓ‖ (Frobenius, over the batch)
    A_norm: np.ndarray  # (seeds, L − 1): ‖A_ℓ‖ of the hidden layers (Frobenius)
    saturated: np.ndarray  # (seeds, L − 1): share of σ within 0.05 of 0 or 1 (ReLU: nan)
    off: np.ndarray  # (seeds, L − 1): share of hidden values with σ′(Z) = 0 (ReLU: Z ≤ 0)
    mean_slope: np.ndarray  # (seeds, L − 1): mean σ′(Z_ℓ)
    tightness: np.ndarray  # (seeds, L − 2): ``bound_tightness`` of each seed
    shown: DeepPass  # seed 0's pass, kept whole

    @property
    def title(self) -> str:
        return f"{activations.ACTIVATIONS[self.activation].title}, {INIT_TITLES[self.init]}"

    @property
    def log_ratio(self) -> np.ndarray:
        """(seeds,): per seed, the mean over the hidden layers ℓ = 2 … L − 1 of
        ln(‖dA_{ℓ−1}‖/‖dA_ℓ‖): the log of the geometric-mean factor one layer applies."""
        return np.mean(np.diff(np.log(self.dA_norm[:, ::-1]), axis=1), axis=1)

    @property
    def theory(self) -> float:
        """√(fan_in·Var W·E[σ′²]) with E[σ′²] at its largest: ¼² for sigmoid, ½ for ReLU
        (half the units on); Var W = 2/(i + o) for Glorot, 2/i for He, 1 for N(0, 1).

        Each layer multiplies E‖dA‖² by fan_in·Var W·E[σ′²] (independent weights, mean 0),
        so this is the root-mean-square factor for ReLU, and an upper bound for sigmoid.
        """
        i = self.width
        var = {"glorot": 2.0 / (i + i), "he": 2.0 / i, "normal": 1.0}[self.init]
        slope2 = {"sigmoid": 1.0 / 16.0, "relu": 0.5}[self.activation]
        return math.sqrt(i * var * slope2)

    def interval(self, confidence: float = 0.999) -> tuple[float, float, float]:
        """The geometric-mean factor exp(mean log-ratio) and its two-sided ``confidence``
        interval from Student's t over the seeds (``scipy.stats.t``)."""
        x = self.log_ratio
        half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * stats.sem(x)
        return math.exp(x.mean()), math.exp(x.mean() - half), math.exp(x.mean() + half)

    @property
    def forward_log_ratio(self) -> np.ndarray:
        """(seeds,): the mean over ℓ = 2 … L − 1 of ln(‖A_ℓ‖/‖A_{ℓ−1}‖), going up."""
        return np.mean(np.diff(np.log(self.A_norm), axis=1), axis=1)

    @property
    def first_to_last(self) -> np.ndarray:
        """(seeds,): ‖∂L/∂W_1‖ / ‖∂L/∂W_{L−1}‖, the first hidden layer's gradient over the last's."""
        return self.dW_norm[:, 0] / self.dW_norm[:, -2]


def deep_runs(
    activation: str, init: str, X: np.ndarray, y: np.ndarray, seeds: int = 100, depth: int = 10,
    width: int = 32,
) -> DeepRuns:  # fmt: skip
    """``deep_pass`` of ``deep_network(activation, init, seed=s)`` for s = 0 … seeds − 1."""
    dW, dA, An, sat, off, slope, tight = [], [], [], [], [], [], []
    shown = None
    for s in range(seeds):
        model = deep_network(activation, init, depth, width, X.shape[1], seed=s)
        p = deep_pass(model, X, y, activation, init, s)
        shown = p if shown is None else shown
        hidden = p.A[:-1]
        grads = [nnlite_activation_grad(activation, Z) for Z in p.Z[:-1]]
        dW.append([np.linalg.norm(g) for g in p.dW])
        dA.append([np.linalg.norm(g) for g in p.dA])
        An.append([np.linalg.norm(A) for A in hidden])
        # saturation is a sigmoid's: a ReLU has no upper limit (its "off" share is below)
        sat.append([np.mean(np.minimum(A, 1.0 - A) < SATURATION) if activation == "sigmoid"
                    else math.nan for A in hidden])  # fmt: skip
        off.append([np.mean(g == 0.0) for g in grads])
        slope.append([np.mean(g) for g in grads])
        tight.append(bound_tightness(p))
    return DeepRuns(activation, init, width, depth, np.array(dW), np.array(dA), np.array(An),
                    np.array(sat),
                    np.array(off), np.array(slope), np.array(tight), shown)  # fmt: skip


def deep_data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` shipped 8×8 digits (64 pixels in [0, 1]) and their labels, a seeded draw."""
    X, y, _, _ = digits_subset(n, 0, seed)
    return X, y


@dataclass(repr=False)
class VanishingLesson(LessonResult):
    topic = "vanishing-gradients"

    n_rows: int
    depth: int
    width: int
    seeds: int
    runs: list[DeepRuns]


def vanishing_lesson(
    seeds: int = 100, depth: int = 10, width: int = 32, n: int = 64
) -> VanishingLesson:
    """Every (σ, initialisation) of ``DEEP_CONFIGS`` on the same ``n`` digits, ``seeds`` seeds."""
    X, y = deep_data(n)
    runs = [deep_runs(a, i, X, y, seeds, depth, width) for a, i in DEEP_CONFIGS]
    return VanishingLesson(n, depth, width, seeds, runs)
