"""Trace mode (``nnlite trace`` and ``nnlite.trace``).

Claims checked:

- every event of a JSON trace, recomputed independently in float64 from the event's own
  inputs with ``tests/reference.py`` (z from a, W and b; a from z; the loss; ∂L/∂p, σ′,
  ∂L/∂z, ∂L/∂W, ∂L/∂b, ∂L/∂a_prev; the unfused path; the update; the perceptron's rule),
  agrees to a tight tolerance, for several networks, losses, batch sizes and dtypes;
- the events chain (each layer's input is the layer below's output, a step starts from the
  weights the previous step left), and a traced run ends on exactly the weights that
  ``Sequential.fit`` (and ``Perceptron.fit``) reach: the trace runs the training kernels;
- a small learning rate lowers the loss on the step's batch; a huge one can raise it;
- the perceptron trace converges on AND and OR and gives up on XOR;
- the text output shows each formula of the lesson, names σ and the loss, shows shapes,
  elides large matrices, colours by sign and honours ``--precision``;
- Matt Mazur's published worked example, to the digits he prints;
- the CLI: JSON is one object per line; ``--interactive`` never waits without a terminal
  and ``q`` quits in one; a bad option is one ``error:`` line and a non-zero exit;
- beyond plain SGD (``optimizer``, ``lr_schedule``, ``l1``/``l2``, ``dropout``): every
  optimiser's update, state, Adam's M̂ and V̂ and the step agree with a float64 recurrence
  written from the published definition (``tests/reference.py``); the dropout mask shown is
  the one the step applied (forward and backward); the penalty is in the loss and in ∂L/∂W;
  each step's α is ``Schedule.rate`` at that step; such a trace ends on ``fit``'s weights
  bit for bit; the new fields survive JSON and an older trace without them still loads;
  the text fits 80 columns and names each formula.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import reference as ref
from rich.console import Console
from typer.testing import CliRunner

import cli
from nnlite import Perceptron, Sequential, trace
from nnlite.errors import DataError
from nnlite.kernels import codes
from nnlite.layers import Dense, Dropout
from nnlite.ui import trace as ui_trace

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"

# One tolerance per dtype: a float32 trace recomputed in float64 from its own (rounded)
# inputs differs by float32 rounding; a float64 trace only by float64 rounding.
TOL = {"float32": {"rtol": 2e-5, "atol": 2e-6}, "float64": {"rtol": 1e-11, "atol": 1e-13}}


def events_of(**options) -> list[dict]:
    """A trace through its JSON form: what a notebook or another tool would read."""
    return [json.loads(event.to_line()) for event in trace.run(**options)]


def A(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def close(actual, expected, tol, what):
    np.testing.assert_allclose(A(actual), A(expected), err_msg=what, **tol)


# -- the independent float64 recomputation --------------------------------------------


def recompute(events: list[dict]) -> int:
    """Check every event against ``reference`` from its own inputs; return how many."""
    header = events[0]
    tol = TOL[header["dtype"]] if header["kind"] == "trace" else TOL["float64"]
    penalty = (header.get("l1") or 0.0, header.get("l2") or 0.0)
    checked = 0
    for e in events[1:]:
        kind = e["kind"]
        what = f"{kind} step {e.get('step')} layer {e.get('layer')}"
        if kind == "forward":  # z = a·W + b; with dropout z = d·W + b, d = a ⊙ mask
            X = A(e["A_prev"])
            if "mask" in e:
                mask, keep = A(e["mask"]), 1.0 / (1.0 - e["p"])
                assert np.all(np.isclose(mask, 0.0) | np.isclose(mask, keep, rtol=1e-7)), what
                close(e["D"], X * mask, tol, what)
                X = A(e["D"])
            close(e["Z"], X @ A(e["W"]) + A(e["b"]), tol, what)
        elif kind == "activation":  # a = σ(z)
            close(e["A"], ref.activation(e["Z"], e["activation"]), tol, what)
        elif kind == "loss":  # L = data loss (+ λ₁·Σ|W| + λ₂·ΣW²)
            data = ref.loss(e["P"], e["Y"], e["loss"], e["eps"])
            if "penalty" in e:
                close(e["data_loss"], data, tol, what)
                close(e["value"], e["data_loss"] + e["penalty"], tol, what)
            else:
                close(e["value"], data, tol, what)
        elif kind == "backward":
            check_backward(e, tol, what, *penalty)
        elif kind == "unfused":
            n = A(e["P"]).shape[0]
            close(e["dP"], ref.loss_grad(e["P"], e["Y"], e["loss"], e["eps"]), tol, what)
            close(e["dZ"], ref.activation_jacobian_vjp(e["Z"], e["dP"], e["activation"]), tol, what)
            scale = n if e["activation"] == "softmax" else A(e["P"]).size
            close(e["dZ_fused"], (A(e["P"]) - A(e["Y"])) / scale, tol, what)
            close(e["max_diff"], np.abs(A(e["dZ"]) - A(e["dZ_fused"])).max(), tol, what)
        elif kind == "update":  # W ← W − α·∂L/∂W, or the optimiser's rule
            check_update(e, header.get("optimizer"), tol, what)
        elif kind == "perceptron-step":
            s = A(e["x"]) @ A(e["w"]) + e["b"]  # Σ wᵢxᵢ + b
            close(e["weighted_sum"], s, tol, what)
            assert e["y_hat"] == int(s >= e["threshold"]), what
            assert e["error"] == e["y"] - e["y_hat"], what
            close(e["w_after"], A(e["w"]) + e["eta"] * e["error"] * A(e["x"]), tol, what)
            close(e["b_after"], e["b"] + e["eta"] * e["error"], tol, what)
        else:
            assert kind in ("step", "perceptron-epoch"), kind
            continue
        checked += 1
    return checked


def check_backward(e: dict, tol: dict, what: str, l1: float = 0.0, l2: float = 0.0) -> None:
    Z, act = A(e["Z"]), e["activation"]
    close(e["A"], ref.activation(Z, act), tol, what)
    if e["output"] and e["fused"]:  # softmax + cce, sigmoid + bce: ∂L/∂z = p − y, scaled
        n, o = Z.shape
        scale = n if act == "softmax" else n * o
        assert e["dA"] is None and e["sigma_prime"] is None
        close(e["dZ"], (A(e["A"]) - A(e["Y"])) / scale, tol, what)
    else:
        if e["output"]:  # ∂L/∂p from the loss
            close(e["dA"], ref.loss_grad(e["A"], e["Y"], e["loss"], e["eps"]), tol, what)
        # ∂L/∂z = ∂L/∂a ⊙ σ′(z) (softmax: its Jacobian applied to ∂L/∂a)
        close(e["dZ"], ref.activation_jacobian_vjp(Z, e["dA"], act), tol, what)
        if act != "softmax":
            close(e["sigma_prime"], ref.activation_jacobian_vjp(Z, np.ones_like(Z), act), tol, what)
    dW, db, dX = ref.dense_backward(e["A_prev"], e["W"], e["dZ"])
    if "dW_penalty" in e:  # ∂L/∂W = a_prevᵀ·∂L/∂z + λ₁·sign(W) + 2λ₂·W
        W = A(e["W"])
        close(e["dW_data"], dW, tol, what)
        close(e["dW_penalty"], l1 * np.sign(W) + 2 * l2 * W, tol, what)
        dW = dW + l1 * np.sign(W) + 2 * l2 * W
    close(e["dW"], dW, tol, what)  # ∂L/∂W = a_prevᵀ·∂L/∂z
    close(e["db"], db, tol, what)  # ∂L/∂b = Σₙ ∂L/∂z
    if e["layer"] == 1:
        assert e["dA_prev"] is None
    elif "mask" in e:  # ∂L/∂d = ∂L/∂z·Wᵀ, then ∂L/∂a_prev = ∂L/∂d ⊙ mask
        close(e["dD_prev"], dX, tol, what)
        close(e["dA_prev"], dX * A(e["mask"]), tol, what)
    else:
        close(e["dA_prev"], dX, tol, what)  # ∂L/∂a_prev = ∂L/∂z·Wᵀ


def check_update(e: dict, opt: dict | None, tol: dict, what: str) -> None:
    """One update against the float64 recurrence of its optimiser, from the event's inputs."""
    W0, g, lr, W = A(e["before"]), A(e["grad"]), e["lr"], e["after"]
    name = "sgd" if opt is None else opt["name"]
    was, now = e.get("state_before") or {}, e.get("state_after") or {}
    start = W0
    if name == "sgd" and not (opt and opt["momentum"]):  # W ← W − α·∂L/∂W
        close(W, W0 - lr * g, tol, what)
    elif name == "sgd":
        want_W, want_V = ref.momentum_step(W0, g, was["velocity"], lr, opt["momentum"],
                                           opt["nesterov"])  # fmt: skip
        close(W, want_W, tol, what)
        close(now["velocity"], want_V, tol, what)
    elif name == "adagrad":
        want_W, want_S = ref.adagrad_step(W0, g, was["sum"], lr, opt["eps"])
        close(W, want_W, tol, what)
        close(now["sum"], want_S, tol, what)
    elif name == "rmsprop":
        B = was.get("buffer", np.zeros_like(W0))
        want_W, want_V, want_B = ref.rmsprop_step(W0, g, was["square_avg"], B, lr, opt["rho"],
                                                  opt["eps"], opt["momentum"])  # fmt: skip
        close(W, want_W, tol, what)
        close(now["square_avg"], want_V, tol, what)
        if opt["momentum"]:
            close(now["buffer"], want_B, tol, what)
    else:  # Adam, AdamW: M, V, M̂ = M/(1 − β₁ᵗ), V̂ = V/(1 − β₂ᵗ), step −α·M̂/(√V̂ + ε)
        t, b1, b2, eps = e["t"], opt["beta1"], opt["beta2"], opt["eps"]
        decay = opt.get("weight_decay", 0.0)
        want_W, want_M, want_V = ref.adam_step(W0, g, was["m"], was["v"], t, lr, b1, b2, eps,
                                               decay)  # fmt: skip
        close(W, want_W, tol, what)
        close(now["m"], want_M, tol, what)
        close(now["v"], want_V, tol, what)
        m_hat, v_hat = want_M / (1 - b1**t), want_V / (1 - b2**t)
        close(e["m_hat"], m_hat, tol, what)
        close(e["v_hat"], v_hat, tol, what)
        if decay:  # AdamW decays W first: W·(1 − α·λ)
            start = W0 * (1 - lr * decay)
            close(e["decayed"], start, tol, what)
        close(e["change"], -lr * m_hat / (np.sqrt(v_hat) + eps), tol, what)
    if "change" in e:  # the step shown is the step taken
        close(e["change"], A(W) - A(e.get("decayed", start)), tol, what)


NETWORKS = {
    "default (xor 2-2-1 sigmoid, mse, float32)": dict(steps=4),
    "tanh hidden, float64, two epochs": dict(layers=[3], activation="tanh", epochs=2, dtype="float64", lr=0.3),
    "spirals: relu 4-3, softmax + cce, batch 5, unfused": dict(
        dataset="spirals", layers=[4, 3], activation="relu", batch_size=5, steps=3,
        unfused=True, dtype="float64", sample=7,
    ),
    "and: sigmoid + bce, full batch, unfused": dict(dataset="and", loss="bce", batch_size=4, steps=2, unfused=True, dtype="float64"),
    "softmax + mse (warned), batch 3 wraps": dict(output="softmax", loss="mse", batch_size=3, steps=3, dtype="float64"),
    "no hidden layer on moons, identity output": dict(dataset="moons", layers=[], output="identity", batch_size=8, steps=2, dtype="float64"),
}  # fmt: skip


@pytest.mark.parametrize("options", NETWORKS.values(), ids=NETWORKS.keys())
def test_every_network_event_recomputes_in_float64(options):
    events = events_of(**options)
    header = events[0]
    kinds = {e["kind"] for e in events}
    assert {"trace", "step", "forward", "activation", "loss", "backward", "update"} <= kinds
    assert ("unfused" in kinds) == bool(options.get("unfused"))
    steps = [e for e in events if e["kind"] == "step"]
    assert len(steps) == header["steps"]
    L = len(header["activations"])
    per_step = 2 * L + 2 + L + 2 * L + (1 if options.get("unfused") else 0)
    assert recompute(events) == header["steps"] * per_step


def test_every_perceptron_event_recomputes_in_float64():
    events = events_of(model="perceptron", gate="nand", lr=0.5, threshold=0.25)
    assert recompute(events) == sum(e["kind"] == "perceptron-step" for e in events) > 4


def test_the_recomputation_catches_a_wrong_number():
    """The reference check is not vacuous: one altered entry fails it."""
    events = events_of(dtype="float64")
    backward = next(e for e in events if e["kind"] == "backward" and e["layer"] == 1)
    backward["dW"][1][0] += 1e-6
    with pytest.raises(AssertionError):
        recompute(events)


def test_events_chain_from_layer_to_layer_and_step_to_step():
    events = events_of(layers=[3, 2], epochs=1, dtype="float64")
    by = lambda kind, step: [e for e in events if e["kind"] == kind and e["step"] == step]  # noqa: E731
    for step in (1, 2, 3, 4):
        fw, act, bw = by("forward", step), by("activation", step), by("backward", step)
        assert fw[0]["A_prev"] == by("step", step)[0]["X"]  # a⁰ = x
        for lower, upper in zip(act, fw[1:]):
            assert upper["A_prev"] == lower["A"]  # a layer's input is the layer below's output
        assert by("loss", step)[0]["P"] == act[-1]["A"]
        assert [b["layer"] for b in bw] == [3, 2, 1]  # right to left
        for upper, lower in zip(bw, bw[1:]):
            assert lower["dA"] == upper["dA_prev"]  # ∂L/∂a flows down
        for b in bw:
            assert b["W"] == fw[b["layer"] - 1]["W"]  # backward uses the W of the forward pass
        updates = by("update", step)
        for u in updates:
            source = fw[u["layer"] - 1][u["param"]]
            assert u["before"] == source
        if step < 4:
            nxt = by("forward", step + 1)
            for u in updates:
                if u["param"] == "W":
                    assert nxt[u["layer"] - 1]["W"] == u["after"]  # the next step starts here


@pytest.mark.parametrize("batch_size", [1, 3])
def test_a_traced_run_ends_where_training_ends(batch_size):
    """Same kernels, same order: the trace's final weights are ``fit``'s, bit for bit."""
    events = events_of(dataset="moons", layers=[5], activation="tanh", batch_size=batch_size,
                       epochs=2, lr=0.2, seed=3)  # fmt: skip
    last = {}
    for e in events:
        if e["kind"] == "update":
            last[(e["layer"], e["param"])] = np.asarray(e["after"], np.float32)
    from nnlite import datasets

    ds = datasets.load("moons", seed=3)
    model = Sequential([Dense(5, "tanh"), Dense(1, "sigmoid")], loss="mse")
    model.build(ds.n_features, seed=3)
    model.fit(ds.X, ds.y, epochs=2, batch_size=batch_size, lr=0.2, shuffle=False)
    for k, layer in enumerate(model.layers, start=1):
        np.testing.assert_array_equal(last[(k, "W")], layer.W)
        np.testing.assert_array_equal(last[(k, "b")], layer.b)


def test_a_small_learning_rate_lowers_the_loss_on_every_step():
    events = events_of(lr=0.01, epochs=3, dtype="float64")
    losses = [e for e in events if e["kind"] == "loss"]
    pairs = list(zip(losses[::2], losses[1::2]))
    assert len(pairs) == 12
    for before, after in pairs:
        assert (before["when"], after["when"]) == ("before", "after")
        assert after["value"] < before["value"], (before["step"], before["value"], after["value"])


def test_a_huge_learning_rate_can_raise_it_and_the_view_says_so():
    # A linear output on x = (1, 1): the step moves p by −α·2(p − y)·(|x|² + 1) = −30(p − y),
    # far past y, so the error grows 29-fold (a sigmoid output would saturate instead).
    events = list(trace.run(layers=[], output="identity", lr=5.0, sample=3, dtype="float64"))
    before, after = [e for e in events if isinstance(e, trace.Loss)]
    assert after.value == pytest.approx(29**2 * before.value)
    assert "overshoot" in render(events)


# -- the perceptron ------------------------------------------------------------------


@pytest.mark.parametrize("gate", ["and", "or"])
def test_the_perceptron_trace_converges_on_and_and_or(gate):
    events = events_of(model="perceptron", gate=gate)
    epochs = [e for e in events if e["kind"] == "perceptron-epoch"]
    assert epochs[-1]["outcome"] == "converged" and epochs[-1]["updates"] == 0
    assert all(e["outcome"] is None for e in epochs[:-1])
    p = Perceptron(eta=1.0, threshold=0.0, max_epochs=20).fit(*_gate(gate))
    assert p.converged and p.updates_per_epoch == [e["updates"] for e in epochs]
    np.testing.assert_array_equal(epochs[-1]["w"], p.w)  # the same kernels: the same weights
    assert epochs[-1]["b"] == p.b[0]


def test_the_perceptron_trace_gives_up_on_xor():
    events = events_of(model="perceptron", gate="xor", epochs=12)
    epochs = [e for e in events if e["kind"] == "perceptron-epoch"]
    assert len(epochs) == 12 and epochs[-1]["outcome"] == "gave up"
    assert all(e["updates"] > 0 for e in epochs)
    assert "XOR is not linearly separable" in render(trace.run(model="perceptron", gate="xor"))


def _gate(name):
    from nnlite import datasets

    ds = datasets.gate(name)
    return ds.X, ds.y


# -- Mazur's worked example -------------------------------------------------------


def published(value: float, text: str) -> None:
    """``value`` rounds to Mazur's printed ``text`` (to the digits he gives)."""
    digits = len(text.split(".")[1])
    assert abs(value - float(text)) <= 0.5 * 10.0**-digits * (1 + 1e-9), (value, text)


def test_mazur_step_by_step_backpropagation_example():
    """Matt Mazur, "A Step by Step Backpropagation Example" (2015): his printed numbers.

    His network: i1 = 0.05, i2 = 0.10; targets 0.01, 0.99; w1..w8 = .15 .20 .25 .30
    .40 .45 .50 .55; b1 = .35, b2 = .60; α = 0.5; E_total = ½Σ(target − out)² (nnlite's
    mse for one sample and two outputs); biases held fixed. nnlite's layout:
    W¹ = [[w1, w3], [w2, w4]], W² = [[w5, w7], [w6, w8]].
    """
    events = list(trace.run(example="mazur"))
    header = events[0]
    assert header.dtype == "float64" and header.hold_biases and header.lr == 0.5
    fw = [e for e in events if isinstance(e, trace.Forward)]
    act = [e for e in events if isinstance(e, trace.Activation)]
    loss_before, loss_after = [e for e in events if isinstance(e, trace.Loss)]
    out, hidden = [e for e in events if isinstance(e, trace.Backward)]
    W1, W2 = [e.after for e in events if isinstance(e, trace.Update)]
    # The forward pass.
    published(fw[0].Z[0, 0], "0.3775")  # net_h1
    published(act[0].A[0, 0], "0.593269992")  # out_h1
    published(act[0].A[0, 1], "0.596884378")  # out_h2
    published(fw[1].Z[0, 0], "1.105905967")  # net_o1
    published(act[1].A[0, 0], "0.75136507")  # out_o1
    published(act[1].A[0, 1], "0.772928465")  # out_o2
    published(loss_before.value, "0.298371109")  # E_total
    # The output layer.
    published(out.dA[0, 0], "0.74136507")  # ∂E_total/∂out_o1
    published(out.sigma_prime[0, 0], "0.186815602")  # ∂out_o1/∂net_o1
    published(out.dZ[0, 0], "0.138498562")  # δ_o1
    published(out.dW[0, 0], "0.082167041")  # ∂E_total/∂w5
    published(W2[0, 0], "0.35891648")  # w5⁺
    published(W2[1, 0], "0.408666186")  # w6⁺
    published(W2[0, 1], "0.511301270")  # w7⁺
    published(W2[1, 1], "0.561370121")  # w8⁺
    # The hidden layer.
    published(out.dA_prev[0, 0], "0.036350306")  # ∂E_total/∂out_h1
    published(hidden.sigma_prime[0, 0], "0.241300709")  # ∂out_h1/∂net_h1
    published(hidden.dW[0, 0], "0.000438568")  # ∂E_total/∂w1
    published(W1[0, 0], "0.149780716")  # w1⁺
    published(W1[1, 0], "0.19956143")  # w2⁺
    published(W1[0, 1], "0.24975114")  # w3⁺
    published(W1[1, 1], "0.29950229")  # w4⁺
    # His "down to 0.291027924" was worked from rounded values: the exact float64 error is
    # 0.2910277737 (others report the same 1.5e-7 gap), so this one holds to six digits.
    assert abs(loss_after.value - 0.291027924) < 5e-7
    assert not [e for e in events if isinstance(e, trace.Update) and e.param == "b"]


def test_mazur_text_matches_its_snapshot():
    """The rendered worked example, fixed (float64, precision 9, 100 columns, no colour).

    Regenerate after an intended change of the view: NNLITE_UPDATE_SNAPSHOTS=1 pytest ...
    """
    text = render(list(trace.run(example="mazur")), precision=9, width=100)
    path = SNAPSHOTS / "trace_mazur.txt"
    if os.environ.get("NNLITE_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


# -- the text view ---------------------------------------------------------------------


def render(events, precision=4, width=160, color=False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system="standard" if color else None,
                      force_terminal=color)  # fmt: skip
    ui_trace.play(events, console=console, precision=precision)
    return out.getvalue()


def invoke(*args):
    return runner.invoke(cli.app, ["trace", *map(str, args)])


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return ANSI.sub("", result.stdout)


LESSON = [
    "z = a·W + b", "a = σ(z)", "∂L/∂z = ∂L/∂a ⊙ σ′(z)", "∂L/∂W = a_prevᵀ·∂L/∂z",
    "∂L/∂b = Σₙ ∂L/∂z", "∂L/∂a_prev = ∂L/∂z·Wᵀ", "W ← W − α·∂L/∂W", "b ← b − α·∂L/∂b",
]  # fmt: skip


def test_the_default_text_trace_shows_the_lesson():
    out = ok(invoke())
    for formula in LESSON:
        assert formula in out, formula
    # the same formulas with the layers' numbers, and σ and the loss named
    for formula in ["z¹ = a⁰·W¹ + b¹", "a² = σ(z²)", "∂L/∂z² = ∂L/∂a² ⊙ σ′(z²)",
                    "∂L/∂W² = a¹ᵀ·∂L/∂z²", "∂L/∂b¹ = Σₙ ∂L/∂z¹", "∂L/∂a¹ = ∂L/∂z²·W²ᵀ",
                    "σ′(z) = σ(z)(1 − σ(z))", "L = 1/(n·o)·Σ(p − y)²", "∂L/∂p = 2·(p − y)/(n·o)"]:  # fmt: skip
        assert formula in out, formula
    assert "sigmoid" in out and "mean squared error" in out
    for part in ["forward propagation", "backward propagation", "update", "loss after the step"]:
        assert part in out
    assert "W¹ 2×2" in out and "b² 1" in out and "a⁰ 1×2" in out  # shapes
    assert re.search(r"loss after the step\s+\d\.\d{4} → \d\.\d{4}", out)


def test_softmax_cross_entropy_and_the_unfused_path_in_text():
    ok(invoke("--dataset", "spirals", "--layers", "4", "--activation", "tanh", "--unfused"))
    out = render(
        trace.run(dataset="spirals", layers=[4], activation="tanh", unfused=True, sample=5)
    )
    for phrase in ["softmax", "tanh", "categorical cross-entropy", "L = −1/n·Σ y·log p",
                   "∂L/∂z² = p − y", "(p − y)/n", "∂L/∂p = −y/p/n", "the long way round",
                   "J = diag(p) − pᵀp", "max |long way − fused|", "they agree",
                   "σ′(z) = 1 − tanh²(z)"]:  # fmt: skip
        assert phrase in out, phrase


def test_softmax_with_mse_is_warned_about():
    result = invoke("--output", "softmax", "--loss", "mse")
    out = ok(result)
    assert "warning: softmax output with mean squared error" in out
    assert "cross-entropy" in out
    events = events_of(output="softmax", loss="bce", dtype="float64")
    assert "categorical cross-entropy (cce) is the usual pairing" in events[0]["warnings"][0]


def test_large_matrices_are_elided_with_their_shape():
    out = ok(invoke("--dataset", "digits", "--layers", "16", "--batch-size", "7"))
    assert "a⁰ 7×64" in out and "W¹ 64×16" in out and "W² 16×10" in out
    assert "…" in out and "⋮" in out
    text = ui_trace.matrix(np.arange(100.0).reshape(10, 10), 1).plain
    rows = text.splitlines()
    assert len(rows) == 5 and "⋮" in rows[3] and "…" in rows[0]
    assert "0.0" in rows[0] and "9.0" in rows[0] and "99.0" in rows[4]


def test_sign_colour_and_precision():
    t = ui_trace.matrix(np.array([[0.25, -0.5, 0.0]]), 2)
    assert t.plain == "[0.25  -0.50  0.00]"
    styles = {t.plain[s.start : s.end].strip(): str(s.style) for s in t.spans}
    assert styles == {"0.25": "green", "-0.50": "red", "0.00": "dim"}
    assert ui_trace.fmt(0.00004, 4) == "4.000e-05"  # a non-zero gradient never shows as 0
    assert ui_trace.fmt(-0.0, 3) == "0.000"
    out = ok(invoke("--precision", "2"))
    assert "0.50" in out and "0.5000" not in out
    coloured = render(list(trace.run()), color=True)
    assert re.search(r"\x1b\[[0-9;]*32m *0\.3355", coloured)  # a positive weight in green
    assert re.search(r"\x1b\[[0-9;]*31m *-0\.5639", coloured)  # a negative one in red


def test_the_perceptron_text_trace():
    out = ok(invoke("--model", "perceptron", "--gate", "or"))
    for phrase in ["Σ wᵢxᵢ + b", "ŷ = 1 if Σ wᵢxᵢ + b ≥ θ else 0", "w ← w + η(y − ŷ)x",
                   "b ← b + η(y − ŷ)", "y − ŷ", "epoch 1", "converged"]:  # fmt: skip
        assert phrase in out, phrase
    out = ok(invoke("--model", "perceptron", "--gate", "xor", "--epochs", "3"))
    assert "gave up after 3 epochs" in out


# -- JSON, interactivity, devices ----------------------------------------------------


def test_json_is_one_event_per_line_with_full_arrays():
    out = ok(invoke("--format", "json", "--dataset", "digits", "--layers", "16", "--steps", "2"))
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[:6] == ["trace", "step", "forward", "activation", "forward", "activation"]
    assert kinds.count("step") == 2 and kinds[-1] == "loss" and events[-1]["when"] == "after"
    W1 = next(e for e in events if e["kind"] == "forward")["W"]
    assert np.asarray(W1).shape == (64, 16)  # full arrays, never elided
    assert recompute(events) > 0


def test_events_round_trip_through_json():
    for event in trace.run(steps=1, unfused=False, dtype="float64"):
        back = trace.from_json(event.to_line())
        assert type(back) is type(event)
        assert back.to_json() == event.to_json()
    with pytest.raises(DataError, match="unknown trace event kind"):
        trace.from_json({"kind": "nope"})


def test_interactive_never_waits_without_a_terminal():
    out = ok(runner.invoke(cli.app, ["trace", "--interactive", "--steps", "3"], input=""))
    assert "step 3 of 3" in out and "Enter" not in out


def test_interactive_waits_for_enter_and_q_quits(monkeypatch):
    class Keyboard(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Keyboard("\nq\n"))
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    ui_trace.play(trace.run(steps=3), console=console, interactive=True)
    text = out.getvalue()
    assert "Enter: step 1" in text and "step 1 of 3" in text  # waited, then ran step 1
    assert "Enter: step 2" in text and "step 2 of 3" not in text  # q: stopped before step 2
    assert "stopped" in text


@pytest.mark.gpu
@pytest.mark.parametrize(
    "options",
    [
        dict(dataset="blobs", layers=[3], activation="tanh", batch_size=4, steps=2),
        dict(dataset="moons", layers=[3, 2], activation="leaky_relu", batch_size=3, steps=2),
        dict(dataset="xor", layers=[3], activation="softplus", output="softmax", loss="cce",
             unfused=True, steps=2),
        dict(example="mazur", dtype="float32", steps=2),  # its biases held: put back on the GPU
    ],
    ids=["tanh", "leaky_relu", "softplus-unfused", "mazur"],
)  # fmt: skip
def test_the_cuda_trace_matches_the_cpu_trace(options):
    """The CUDA twins traced the same way (Numba's simulator unless NNLITE_REAL_GPU=1)."""
    cpu, gpu = events_of(**options), events_of(device="cuda", **options)
    assert gpu[0]["device"] == "cuda" and cpu[0]["device"] == "cpu"
    assert [e["kind"] for e in gpu] == [e["kind"] for e in cpu]
    for c, g in zip(cpu[1:], gpu[1:]):
        for key, value in c.items():
            if isinstance(value, list) and value and not isinstance(value[0], int):
                close(g[key], value, {"rtol": 1e-5, "atol": 1e-6}, f"{c['kind']} {key}")
    assert recompute(gpu) > 0


# -- bad options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--sample", "4"], "--sample must be 0..3"),
        (["--unfused"], "--unfused"),
        (["--steps", "2", "--epochs", "1"], "not both"),
        (["--model", "perceptron", "--layers", "3"], "--layers cannot be used with --model perceptron"),
        (["--example", "mazur", "--dataset", "and"], "--example mazur"),
        (["--gate", "and"], "--model perceptron"),
        (["--lr", "0"], "learning rate"),
        (["--loss", "cce"], "one output unit per class"),
        (["--loss", "bce", "--output", "identity"], "needs probabilities"),
        (["--layers", "2,a"], "bad layer spec"),
        (["--dataset", "nope"], "unknown data set"),
        (["--example", "mazur", "--optimizer", "adam"], "--optimizer cannot be used with --example mazur"),
        (["--example", "mazur", "--dropout", "0.2"], "--dropout cannot be used with --example"),
        (["--model", "perceptron", "--l2", "0.1"], "--l2 cannot be used with --model perceptron"),
        (["--model", "perceptron", "--lr-schedule", "cosine"], "--lr-schedule cannot be used"),
        (["--optimizer", "nope"], "unknown optimizer 'nope'"),
        (["--optimizer", "adam:beta9=1"], "adam has no hyper-parameter 'beta9'"),
        (["--optimizer", "adam:lr=0.1", "--lr", "0.2"], "given twice"),
        (["--lr-schedule", "sometimes"], "unknown learning-rate schedule"),
        (["--dropout", "1"], "dropout rate must be in [0, 1)"),
        (["--dropout", "0.5", "--layers", "none"], "dropout acts after hidden layers"),
    ],
)  # fmt: skip
def test_a_bad_option_is_one_clear_line(args, phrase):
    result = invoke(*args)
    err = ANSI.sub("", result.stderr)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert phrase.lower() in lines[0].lower(), lines[0]
    assert result.stdout == ""  # nothing ran


def test_an_unknown_choice_is_refused_by_the_cli():
    result = invoke("--activation", "softmax")
    assert result.exit_code == 2 and "softmax" in ANSI.sub("", result.output)
    result = invoke("--format", "yaml")
    assert result.exit_code == 2


# -- beyond plain SGD: optimisers, schedules, penalties, dropout --------------------------

# float64 softmax + cross-entropy networks with penalties and dropout: the compiled loops
# test_optimizers.py's whole-fit checks use, so the suite compiles each once.
RICH = dict(dataset="blobs", layers=[4, 3], batch_size=3, steps=3, dtype="float64",
            l1=1e-3, l2=1e-2, dropout=0.4)  # fmt: skip
OPTIMIZER_TRACES = {
    "adam, inverse-time per step": dict(optimizer="adam:lr=0.01",
                                        lr_schedule="inverse-time:decay=0.5,per=step"),
    "adamw, weight decay": dict(optimizer="adamw:lr=0.01,beta1=0.8,weight_decay=0.1"),
    "rmsprop with momentum": dict(optimizer="rmsprop:rho=0.9,momentum=0.8"),
    "adagrad, step decay per step": dict(optimizer="adagrad:lr=0.05",
                                         lr_schedule="step:gamma=0.5,step_size=2,per=step"),
}  # fmt: skip


def rich_events(**options) -> list[dict]:
    return events_of(**{**RICH, **options})


@pytest.mark.parametrize("options", OPTIMIZER_TRACES.values(), ids=OPTIMIZER_TRACES.keys())
def test_every_optimizer_trace_recomputes_from_the_published_definition(options):
    """Each update, its state, M̂, V̂ and the step, from the event's g and state before."""
    events = rich_events(**options)
    header = events[0]
    assert header["optimizer"]["name"] == options["optimizer"].split(":")[0]
    L, steps = len(header["activations"]), header["steps"]
    per_step = 2 * L + 2 + L + 2 * L
    assert recompute(events) == steps * per_step
    updates = [e for e in events if e["kind"] == "update"]
    assert all(e["rule"] == header["optimizer"]["name"] and e["t"] == e["step"] for e in updates)
    slots = set(updates[0]["state_after"])
    assert slots == {"adam": {"m", "v"}, "adamw": {"m", "v"}, "adagrad": {"sum"},
                     "rmsprop": {"square_avg", "buffer"}}[header["optimizer"]["name"]]  # fmt: skip
    by = {(e["step"], e["layer"], e["param"]): e for e in updates}
    for (step, layer, param), e in by.items():  # the state carries from step to step
        if step > 1:
            assert by[(step - 1, layer, param)]["state_after"] == e["state_before"]
        else:
            assert all(not np.any(v) for v in e["state_before"].values())


def test_sgd_momentum_trace_shows_the_velocity():
    events = events_of(optimizer="sgd:momentum=0.9", lr=0.3, dataset="blobs", layers=[4, 3],
                       batch_size=3, steps=3)  # float32, no penalty, no dropout  # fmt: skip
    assert events[0]["optimizer"] == {"name": "sgd", "lr": 0.3, "momentum": 0.9,
                                      "nesterov": False}  # fmt: skip
    assert recompute(events) == 3 * (6 + 2 + 3 + 6)
    second = [e for e in events if e["kind"] == "update" and e["step"] == 2]
    assert any(np.any(A(e["state_before"]["velocity"])) for e in second)  # V carries over


def test_adams_first_step_moves_each_weight_by_about_alpha():
    """M̂₁ = g and V̂₁ = g²: the first step is −α·g/(|g| + ε), about α against the gradient."""
    events = rich_events(optimizer="adam", steps=1)
    for e in (e for e in events if e["kind"] == "update"):
        g = A(e["grad"])
        close(e["m_hat"], g, TOL["float64"], "M̂₁ = g")
        close(e["v_hat"], g * g, {"rtol": 1e-9, "atol": 1e-30}, "V̂₁ = g²")
        big = np.abs(g) > 1e-6
        close(A(e["change"])[big], -1e-3 * np.sign(g[big]), {"rtol": 1e-2, "atol": 0}, "≈ α")


def test_the_dropout_mask_shown_is_the_one_the_step_applied():
    events = list(trace.run(**{**RICH, "optimizer": "adam", "steps": 2}))
    header = events[0]
    p = header.dropout
    forwards = [e for e in events if isinstance(e, trace.Forward)]
    backwards = {(e.step, e.layer): e for e in events if isinstance(e, trace.Backward)}
    assert [f.mask is None for f in forwards] == [True, False, False] * 2  # after hidden layers
    for f in forwards[1:3] + forwards[4:]:
        t, layer = f.step, f.layer - 1  # the kernels count layers from 0
        m, width = f.A_prev.shape
        keep = np.array([[codes.dropout_unit(header.dropout_seed, t, layer, r * width + c) >= p
                          for c in range(width)] for r in range(m)])  # fmt: skip
        np.testing.assert_array_equal(f.mask, keep / (1 - p))  # the rule, element by element
        np.testing.assert_array_equal(f.D, f.A_prev * f.mask)  # the step's dropped input (Dbuf)
        np.testing.assert_allclose(f.Z, f.D @ f.W + f.b, rtol=1e-12, atol=1e-14)  # it used it
        b = backwards[(f.step, f.layer)]
        np.testing.assert_array_equal(b.mask, f.mask)
        np.testing.assert_array_equal(b.A_prev, f.D)  # ∂L/∂W = dᵀ·∂L/∂z
        np.testing.assert_array_equal(b.dA_prev, b.dD_prev * b.mask)  # the step's own dA
        assert 0 < np.count_nonzero(f.mask) < f.mask.size or f.mask.size < 4
    masks = np.concatenate([f.mask.ravel() for f in forwards if f.mask is not None])
    assert 0.2 < np.mean(masks == 0) < 0.6  # about p of them dropped (p = 0.4)


def test_the_penalty_is_in_the_loss_and_in_the_gradient():
    l1, l2 = RICH["l1"], RICH["l2"]
    events = list(trace.run(**{**RICH, "optimizer": "adam", "steps": 2}))
    for step in (1, 2):
        fw = [e for e in events if isinstance(e, trace.Forward) and e.step == step]
        up = [e for e in events if isinstance(e, trace.Update) and e.step == step]
        before, after = [e for e in events if isinstance(e, trace.Loss) and e.step == step]
        want = sum(l1 * np.abs(f.W).sum() + l2 * (f.W**2).sum() for f in fw)
        assert before.penalty == pytest.approx(want, rel=1e-12)
        assert before.value == before.data_loss + before.penalty  # what the step reported
        P = [e for e in events if isinstance(e, trace.Activation) and e.step == step][-1].A
        assert before.data_loss == pytest.approx(ref.loss(P, before.Y, "cce", before.eps), 1e-12)
        W_after = [u.after for u in up if u.param == "W"]
        want = sum(l1 * np.abs(W).sum() + l2 * (W**2).sum() for W in W_after)
        assert after.penalty == pytest.approx(want, rel=1e-12)
        for b in (e for e in events if isinstance(e, trace.Backward) and e.step == step):
            pen = l1 * np.sign(b.W) + 2 * l2 * b.W
            np.testing.assert_allclose(b.dW_penalty, pen, rtol=1e-14)
            np.testing.assert_array_equal(b.dW, b.dW_data + b.dW_penalty)  # the kernel's sum
            grad = next(u.grad for u in up if (u.layer, u.param) == (b.layer, "W"))
            np.testing.assert_array_equal(grad, b.dW)  # what the optimiser got
    plain = events_of(dataset="blobs", layers=[4, 3], batch_size=3, dtype="float64")
    assert not any("penalty" in e or "dW_penalty" in e for e in plain)


@pytest.mark.parametrize("per", ["step", "epoch"])
def test_each_steps_alpha_is_the_schedules_rate(per):
    from nnlite.schedules import Schedule

    schedule = Schedule("inverse-time", per=per, decay=0.5)
    events = list(trace.run(**{**RICH, "steps": None, "epochs": 2, "batch_size": 100},
                            optimizer="adam", lr=0.02, lr_schedule=schedule))  # fmt: skip
    steps = [e for e in events if isinstance(e, trace.Step)]
    assert [s.t for s in steps] == list(range(1, 7))
    for s in steps:
        time = s.t - 1 if per == "step" else s.epoch - 1
        assert s.lr == schedule.rate(0.02, time)
        assert s.lr == pytest.approx(ref.scheduled_rate("inverse-time", 0.02, time, decay=0.5))
        for u in (e for e in events if isinstance(e, trace.Update) and e.step == s.step):
            assert u.lr == s.lr and u.t == s.t
    assert len({s.lr for s in steps}) == (6 if per == "step" else 2)


def test_a_rich_trace_ends_where_fit_ends():
    """Adam, a schedule, penalties and dropout: the trace runs fit's own steps."""
    from nnlite import datasets
    from nnlite.layers import Dropout
    from nnlite.optim import Adam
    from nnlite.schedules import Schedule

    opt, schedule = Adam(lr=0.01), Schedule("inverse-time", per="step", decay=0.5)
    events = list(trace.run(**{**RICH, "steps": None, "epochs": 2, "batch_size": 100},
                            optimizer=opt, lr_schedule=schedule, seed=4))  # fmt: skip
    last = {(e.layer, e.param): e.after for e in events if isinstance(e, trace.Update)}
    ds = datasets.load("blobs", seed=4)
    p, l1, l2 = RICH["dropout"], RICH["l1"], RICH["l2"]
    model = Sequential([Dense(4, "sigmoid", l1=l1, l2=l2), Dropout(p),
                        Dense(3, "sigmoid", l1=l1, l2=l2), Dropout(p),
                        Dense(3, "softmax", l1=l1, l2=l2)], loss="cce", dtype=np.float64)  # fmt: skip
    model.build(ds.n_features, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs of six steps: too few to learn, and it says so
        model.fit(ds.X, ds.y, epochs=2, batch_size=100, optimizer=Adam(lr=0.01),
                  schedule=schedule, shuffle=False, seed=4)  # fmt: skip
    for k, layer in enumerate(model.layers, start=1):
        np.testing.assert_array_equal(last[(k, "W")], layer.W)
        np.testing.assert_array_equal(last[(k, "b")], layer.b)


def test_the_new_fields_round_trip_through_json_and_old_traces_still_load():
    events = list(trace.run(**{**RICH, "optimizer": "rmsprop:momentum=0.5", "steps": 1}))
    for event in events:
        back = trace.from_json(event.to_line())
        assert type(back) is type(event) and back.to_json() == event.to_json()
    update = trace.from_json(next(e for e in events if isinstance(e, trace.Update)).to_line())
    assert set(update.state_after) == {"square_avg", "buffer"}
    assert all(isinstance(v, np.ndarray) for v in update.state_after.values())
    forward = trace.from_json(next(e for e in events if isinstance(e, trace.Forward)
                                   and e.mask is not None).to_line())  # fmt: skip
    assert isinstance(forward.mask, np.ndarray) and isinstance(forward.D, np.ndarray)
    header = json.loads(events[0].to_line())
    assert header["l1"] == RICH["l1"] and header["dropout"] == RICH["dropout"]
    assert header["schedule"]["name"] == "constant" and header["optimizer"]["momentum"] == 0.5
    # A plain trace writes none of them, so a trace from before they existed reads the same.
    for event in trace.run(steps=1):
        line = json.loads(event.to_line())
        assert not {"optimizer", "t", "mask", "penalty", "rule", "dW_penalty"} & set(line)
        old = trace.from_json(line)
        assert old.to_json() == line and getattr(old, "t", None) is None


def test_the_rich_text_trace_fits_80_columns_and_names_each_formula(monkeypatch):
    from rich.cells import cell_len

    from nnlite.ui import terminal

    monkeypatch.setattr(terminal, "console", Console(width=80, color_system=None))
    rich = ["--dataset", "blobs", "--dtype", "float64", "--l1", "0.01", "--l2", "0.02",
            "--dropout", "0.5", "--layers", "3", "--batch-size", "2"]  # fmt: skip
    out = ok(invoke(*rich, "--optimizer", "adam", "--steps", "2",
                    "--lr-schedule", "inverse-time:decay=0.5,per=step"))  # fmt: skip
    assert max(cell_len(line) for line in out.splitlines()) <= 80  # M̂: two code points, one cell
    for phrase in ["Adam (Kingma & Ba 2015)", "M ← β₁·M + (1−β₁)·dW", "W ← W − α·M̂/(√V̂ + ε)",
                   "α at time t: α/(1 + k·t), k = 0.5 (t in steps)", "t = 2 · α = 0.0006667",
                   "1 − β₁ᵗ = 0.19", "M¹ before", "V² after", "M̂ = M/(1 − β₁ᵗ)",
                   "step −α·M̂/(√V̂ + ε)", "d¹ = a¹ ⊙ mask", "z² = d¹·W² + b²", "mask 2×3",
                   "∂L/∂d¹ = ∂L/∂z²·W²ᵀ", "∂L/∂a¹ = ∂L/∂d¹ ⊙ mask", "+ λ₁·Σ|W| + λ₂·ΣW²",
                   "∂L/∂W² = d¹ᵀ·∂L/∂z² + λ₁·sign(W²) + 2λ₂·W²", "λ₁·sign(W) + 2λ₂·W 3×3",
                   "L = categorical cross-entropy + λ₁·Σ|W| + λ₂·ΣW² = "]:  # fmt: skip
        assert phrase in out, phrase
    for name, phrases in [("adagrad", ["AdaGrad", "S ← S + dW²", "S¹ before"]),
                          ("rmsprop:momentum=0.5", ["V¹ after", "B¹ after"]),
                          ("adamw", ["W¹ decayed", "·(1 − α·λ) =", "W ← W − α·λ·W"])]:  # fmt: skip
        out = ok(invoke(*rich, "--optimizer", name))
        assert max(cell_len(line) for line in out.splitlines()) <= 80
        for phrase in phrases:
            assert phrase in out, (name, phrase)
    out = ok(invoke("--dataset", "blobs", "--layers", "3", "--optimizer", "sgd:momentum=0.9"))
    assert "V¹ before" in out and "with momentum μ: V ← μ·V − α·dW, W ← W + V" in out
    out = ok(invoke("--format", "json", "--optimizer", "adam", "--dataset", "digits",
                    "--layers", "16", "--dropout", "0.2"))  # fmt: skip
    update = next(json.loads(line) for line in out.splitlines() if '"update"' in line)
    assert np.asarray(update["state_after"]["m"]).shape == (64, 16)  # full arrays in JSON


# -- your own model: model=<a Sequential>, x=, y= ----------------------------------------


def own_events(model, **options) -> list[dict]:
    return [json.loads(event.to_line()) for event in trace.run(model=model, **options)]


def test_your_own_models_trace_starts_from_its_weights_ends_where_fit_ends_and_leaves_it_alone():
    from nnlite import datasets

    ds = datasets.load("moons", seed=2)
    X, y = ds.X[:30], ds.y[:30]
    model = Sequential([Dense(5, "tanh"), Dense(1, "sigmoid")], loss="mse")
    model.fit(X, y, epochs=3, batch_size=8, lr=0.3, seed=4)
    theta = model.theta.copy()
    events = own_events(model, x=X, y=y, lr=0.2, batch_size=7, epochs=2)
    header = events[0]
    assert header["dims"] == [2, 5, 1] and header["loss"] == "mse" and header["n_samples"] == 30
    assert header["steps"] == 2 * 5 and header["dtype"] == "float32"
    assert any("the model itself is not changed" in note for note in header["notes"])
    assert recompute(events) == 10 * (2 * 2 + 2 + 2 + 2 * 2)  # each number, in float64
    first = [e for e in events if e["kind"] == "forward" and e["step"] == 1]
    for layer, e in zip(model.layers, first):  # the model's weights as fit left them
        np.testing.assert_array_equal(np.asarray(e["W"], np.float32), layer.W)
        np.testing.assert_array_equal(np.asarray(e["b"], np.float32), layer.b)
    np.testing.assert_array_equal(model.theta, theta)  # the trace trained a copy
    # The same two epochs of fit from the same weights, in order: bit for bit the trace's.
    model.fit(X, y, epochs=2, batch_size=7, lr=0.2, shuffle=False)
    last = {(e["layer"], e["param"]): e["after"] for e in events if e["kind"] == "update"}
    for k, layer in enumerate(model.layers, start=1):
        np.testing.assert_array_equal(np.asarray(last[(k, "W")], np.float32), layer.W)
        np.testing.assert_array_equal(np.asarray(last[(k, "b")], np.float32), layer.b)


def test_your_own_model_with_dropout_and_penalties_traces_them():
    from nnlite import datasets

    ds = datasets.load("blobs", seed=0)
    X, y = ds.X[:12], ds.y[:12]
    model = Sequential(
        [Dense(4, "relu", l1=1e-3, l2=1e-2), Dropout(0.4), Dense(3, "relu", l1=1e-3, l2=1e-2),
         Dropout(0.4), Dense(ds.n_classes, "softmax", l1=1e-3, l2=1e-2)],
        loss="cce", dtype="float64",
    )  # fmt: skip
    model.build(X.shape[1], seed=5)
    events = own_events(model, x=X, y=y, batch_size=3, steps=3, optimizer="adam:lr=0.01", seed=7)
    header = events[0]
    assert (header["l1"], header["l2"], header["dropout"]) == (1e-3, 1e-2, 0.4)
    assert header["optimizer"]["name"] == "adam" and header["dims"] == [X.shape[1], 4, 3, 3]
    assert any("adam's state" in note for note in header["notes"])
    assert sum(e["kind"] == "forward" and "mask" in e for e in events) == 3 * 2
    assert recompute(events) == 3 * (3 * 2 + 2 + 3 + 3 * 2)


def test_a_keras_model_traces_with_its_compiled_optimizer_and_flattened_samples():
    from nnlite import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 2, 2))
    y = rng.integers(0, 3, size=9)
    model = keras.Sequential([
        keras.Input(shape=(2, 2)), keras.layers.Flatten(),
        keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings():  # two epochs of random labels: at chance, as it should
        warnings.simplefilter("ignore")
        model.fit(x, y, epochs=2, batch_size=3, verbose=0)
    events = own_events(model, x=x, y=y, batch_size=3, steps=2)
    header = events[0]
    assert header["dims"] == [4, 3, 3] and header["loss"] == "cce"
    assert header["optimizer"]["name"] == "rmsprop" and header["lr"] == pytest.approx(0.01)
    step1 = next(e for e in events if e["kind"] == "step")
    np.testing.assert_allclose(step1["X"], x[:3].reshape(3, 4), rtol=1e-6)  # rows, as Flatten
    assert recompute(events) == 2 * (2 * 2 + 2 + 2 + 2 * 2)
    header = own_events(model, x=x, y=y, steps=1, lr=0.05)[0]  # lr replaces the compiled α
    assert header["optimizer"]["name"] == "rmsprop" and header["lr"] == pytest.approx(0.05)


def test_tracing_your_own_model_says_what_is_wrong_in_one_line():
    from nnlite.errors import ConfigError

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    built = Sequential([Dense(2, "sigmoid"), Dense(1, "sigmoid")], loss="mse", n_inputs=2)
    cases = [
        (dict(model=built), ConfigError, "give x= and y="),
        (dict(model=built, x=X, y=y, layers=[3]), ConfigError, "'layers' cannot be used with your own model"),
        (dict(model=built, x=X, y=y, dropout=0.2), ConfigError, "'dropout' cannot be used with your own"),
        (dict(x=X, y=y), ConfigError, "'x', 'y' cannot be used with model='mlp'"),
        (dict(model=3), ConfigError, "your own Sequential model"),
        (dict(model=Sequential([Dense(1)]), x=X, y=y), ConfigError, "no weights yet: fit it"),
        (dict(model=built, x=X, y=y[:3]), DataError, "x has 4 samples but y has 3"),
        (dict(model=built, x=X[:, :1], y=y), DataError, "X has 1 features but the network expects 2"),
        (dict(model=Sequential([Dropout(0.2), Dense(1)], n_inputs=2), x=X, y=y), ConfigError,
         "drops its inputs"),
        (dict(model=Sequential([Dense(2, l2=0.1), Dense(1)], n_inputs=2), x=X, y=y), ConfigError,
         "one l1, one l2 and one dropout rate"),
    ]  # fmt: skip
    for options, error, phrase in cases:
        with pytest.raises(error) as caught:
            trace.run(**options)
        message = str(caught.value)
        assert phrase in message and "\n" not in message, (options.keys(), message)
