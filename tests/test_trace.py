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
  and ``q`` quits in one; a bad option is one ``error:`` line and a non-zero exit.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import reference as ref
from rich.console import Console
from typer.testing import CliRunner

import cli
from nnlite import Perceptron, Sequential, trace
from nnlite.errors import DataError
from nnlite.layers import Dense
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
    checked = 0
    for e in events[1:]:
        kind = e["kind"]
        what = f"{kind} step {e.get('step')} layer {e.get('layer')}"
        if kind == "forward":  # z = a·W + b
            close(e["Z"], A(e["A_prev"]) @ A(e["W"]) + A(e["b"]), tol, what)
        elif kind == "activation":  # a = σ(z)
            close(e["A"], ref.activation(e["Z"], e["activation"]), tol, what)
        elif kind == "loss":
            close(e["value"], ref.loss(e["P"], e["Y"], e["loss"], e["eps"]), tol, what)
        elif kind == "backward":
            check_backward(e, tol, what)
        elif kind == "unfused":
            n = A(e["P"]).shape[0]
            close(e["dP"], ref.loss_grad(e["P"], e["Y"], e["loss"], e["eps"]), tol, what)
            close(e["dZ"], ref.activation_jacobian_vjp(e["Z"], e["dP"], e["activation"]), tol, what)
            scale = n if e["activation"] == "softmax" else A(e["P"]).size
            close(e["dZ_fused"], (A(e["P"]) - A(e["Y"])) / scale, tol, what)
            close(e["max_diff"], np.abs(A(e["dZ"]) - A(e["dZ_fused"])).max(), tol, what)
        elif kind == "update":  # W ← W − α·∂L/∂W
            close(e["after"], A(e["before"]) - e["lr"] * A(e["grad"]), tol, what)
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


def check_backward(e: dict, tol: dict, what: str) -> None:
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
    close(e["dW"], dW, tol, what)  # ∂L/∂W = a_prevᵀ·∂L/∂z
    close(e["db"], db, tol, what)  # ∂L/∂b = Σₙ ∂L/∂z
    if e["layer"] == 1:
        assert e["dA_prev"] is None
    else:
        close(e["dA_prev"], dX, tol, what)  # ∂L/∂a_prev = ∂L/∂z·Wᵀ


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
