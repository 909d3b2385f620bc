"""Issue 18's CUDA twins against float64 recurrences written from the published definitions.

The adaptive updates (AdaGrad, RMSProp with and without momentum, Adam, AdamW) are
checked against ``torch.optim``'s algorithm boxes, written out below in float64 NumPy
(Adam in the paper's m̂, v̂ form, which is the same number as PyTorch's step_size and
bias_correction2_sqrt rearrangement). The training driver (``train_batches``) is checked
against a float64 re-implementation of one step: forward with inverted dropout (the mask
from ``codes.dropout_unit``, the hash both twins share), softmax + cross-entropy with the
L1/L2 penalty on each W, backward with dA ← dD ⊙ keep/(1 − p) and dW + λ₁·sign(W) + 2λ₂·W,
the scheduled α of each step (the spec's schedule table, written out here) and the clock.

Runs in Numba's CUDA simulator (``tests/conftest.py``), unless ``NNLITE_REAL_GPU=1``.
Every scratch buffer is NaN-poisoned before a launch, so an element a kernel forgets to
write shows; shapes are small and odd, and the launchers use ``cuda.TESTING``'s small
blocks so even these span several blocks.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite.kernels import probe_gpu

STATUS, DETAIL = probe_gpu()
REAL_GPU = os.environ.get("NNLITE_REAL_GPU") == "1"
if STATUS not in ("available", "simulator"):
    pytest.skip(f"no CUDA device or simulator: {DETAIL}", allow_module_level=True)

from numba import cuda  # noqa: E402  (after the skip: needs numba-cuda or the simulator)

from nnlite.kernels import codes, cpu  # noqa: E402
from nnlite.kernels import cuda as gpu  # noqa: E402

pytestmark = pytest.mark.gpu
f64 = np.float64


@pytest.fixture(autouse=True)
def small_blocks():
    previous = gpu.set_launch_config(gpu.TESTING)
    yield
    gpu.set_launch_config(previous)


# ---------------------------------------------------------------------------- references

# name -> (update code, state rows, default hyper vector (α, ...) as codes.py lays it out)
OPTIMIZERS = {
    "sgd": (codes.SGD, 1, [0.1]),
    "momentum": (codes.MOMENTUM, 1, [0.1, 0.9, 0.0]),
    "nesterov": (codes.MOMENTUM, 1, [0.1, 0.9, 1.0]),
    "adagrad": (codes.ADAGRAD, 1, [0.01, 1e-10]),
    "rmsprop": (codes.RMSPROP, 1, [0.01, 0.99, 1e-8, 0.0]),
    "rmsprop_momentum": (codes.RMSPROP, 2, [0.01, 0.99, 1e-8, 0.9]),
    "adam": (codes.ADAM, 2, [0.001, 0.9, 0.999, 1e-8]),
    "adamw": (codes.ADAMW, 2, [0.001, 0.9, 0.999, 1e-8, 0.01]),
}


def ref_update(name, theta, g, state, hyper, lr, t):
    """One step of ``name`` in float64 (α = ``lr``, step number ``t`` ≥ 1): (θ, state) after.

    From the algorithm boxes of torch.optim (SGD's momentum in nnlite's convention,
    v ← μ·v − α·g, which the lesson uses).
    """
    theta, g, state = f64(theta).copy(), f64(g), f64(state).copy()
    h = [float(x) for x in hyper]
    if name == "sgd":
        theta -= lr * g
    elif name in ("momentum", "nesterov"):
        mu = h[1]
        state[0] = mu * state[0] - lr * g
        theta += mu * state[0] - lr * g if name == "nesterov" else state[0]
    elif name == "adagrad":  # s ← s + g²; θ ← θ − α·g/(√s + ε)
        state[0] += g * g
        theta -= lr * g / (np.sqrt(state[0]) + h[1])
    elif name.startswith("rmsprop"):  # v ← ρ·v + (1 − ρ)·g²; θ ← θ − α·g/(√v + ε), or via b
        rho, eps, mu = h[1], h[2], h[3]
        state[0] = rho * state[0] + (1 - rho) * g * g
        avg = np.sqrt(state[0]) + eps
        if mu > 0:
            state[1] = mu * state[1] + g / avg
            theta -= lr * state[1]
        else:
            theta -= lr * g / avg
    else:  # adam, adamw (Kingma & Ba, Algorithm 1; Loshchilov & Hutter's decoupled decay)
        b1, b2, eps = h[1], h[2], h[3]
        if name == "adamw":
            theta *= 1 - lr * h[4]
        state[0] = b1 * state[0] + (1 - b1) * g
        state[1] = b2 * state[1] + (1 - b2) * g * g
        m_hat = state[0] / (1 - b1**t)
        v_hat = state[1] / (1 - b2**t)
        theta -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta, state


def ref_rate(code, alpha0, time, a, b, c):
    """α of the spec's schedule table, float64."""
    if code == codes.STEP:
        return alpha0 * a ** math.floor(time / b)
    if code == codes.EXPONENTIAL:
        return alpha0 * a ** (time / b)
    if code == codes.INVERSE_TIME:
        return alpha0 / (1 + a * time)
    if code == codes.COSINE:  # a = the period T, b = α_min (as codes.py orders them)
        return b + (alpha0 - b) * (1 + math.cos(math.pi * min(time, a) / a)) / 2
    assert code == codes.CONSTANT
    return alpha0


def keep_mask(seed, t, layer, m, width, p):
    """keep(r, c) = dropout_unit(seed, t, layer, r·width + c) ≥ p, as the spec defines it."""
    return np.array(
        [[codes.dropout_unit(seed, t, layer, r * width + c) >= p for c in range(width)]
         for r in range(m)]
    )  # fmt: skip


def _act(code, Z):
    if code == codes.TANH:
        return np.tanh(Z)
    if code == codes.SIGMOID:
        return 1 / (1 + np.exp(-Z))
    if code == codes.RELU:
        return np.maximum(Z, 0)
    assert code == codes.IDENTITY
    return Z


def _act_grad(code, Z, A):
    if code == codes.TANH:
        return 1 - A * A
    if code == codes.SIGMOID:
        return A * (1 - A)
    if code == codes.RELU:
        return (Z > 0).astype(f64)
    return np.ones_like(Z)


def ref_train(X, Y, order, start, stop, batch, theta, dims, acts, name, hyper, state,
              layer_hyper, schedule, clock):  # fmt: skip
    """The training step of issue 18 in float64, softmax + cross-entropy output.

    Returns (θ, state, stats (Σ (L + penalty)·m, Σ correct, rows, first batch's L + penalty)).
    """
    theta, state = f64(theta).copy(), f64(state).copy()
    X, Y = f64(X), f64(Y)
    code, per_step, a, b, c = schedule
    t0, epoch, seed = (int(x) for x in clock)
    L = len(dims) - 1
    stats = [0.0, 0.0, 0.0, math.nan]
    for k, s in enumerate(range(start, stop, batch)):
        rows = order[s : min(s + batch, stop)]
        m = rows.size
        t = t0 + k + 1
        lr = ref_rate(int(code), hyper[0], t - 1 if per_step else epoch, a, b, c)
        Ws, bs, offs = [], [], []
        for layer in range(L):
            i, o = dims[layer], dims[layer + 1]
            off = codes.param_offset(dims, layer)
            offs.append(off)
            Ws.append(theta[off : off + i * o].reshape(i, o))
            bs.append(theta[off + i * o : off + i * o + o])
        A_prev, inputs, masks, Zs, As = X[rows], [], [], [], []
        for layer in range(L):  # forward, each layer's input dropped first
            p = layer_hyper[layer][2]
            mask = keep_mask(seed, t, layer, m, dims[layer], p) if p > 0 else None
            D = A_prev * mask / (1 - p) if p > 0 else A_prev
            Z = D @ Ws[layer] + bs[layer]
            if layer == L - 1:  # softmax
                E = np.exp(Z - Z.max(axis=1, keepdims=True))
                A = E / E.sum(axis=1, keepdims=True)
            else:
                A = _act(acts[layer], Z)
            inputs.append(D), masks.append(mask), Zs.append(Z), As.append(A)
            A_prev = A
        P, Ym = As[-1], Y[rows]
        penalty = sum(
            layer_hyper[la][0] * np.abs(Ws[la]).sum() + layer_hyper[la][1] * (Ws[la] ** 2).sum()
            for la in range(L)
        )
        batch_loss = -(Ym * np.log(np.maximum(P, 1e-7))).sum() / m + penalty
        if stats[2] == 0:
            stats[3] = batch_loss
        stats[0] += batch_loss * m
        stats[1] += int((P.argmax(1) == Ym.argmax(1)).sum())
        stats[2] += m
        grad = np.zeros_like(theta)
        dZ = (P - Ym) / m
        for layer in range(L - 1, -1, -1):  # backward
            l1, l2, _ = layer_hyper[layer]
            W = Ws[layer]
            dW = inputs[layer].T @ dZ + l1 * np.sign(W) + 2 * l2 * W
            i, o = W.shape
            grad[offs[layer] : offs[layer] + i * o] = dW.ravel()
            grad[offs[layer] + i * o : offs[layer] + i * o + o] = dZ.sum(axis=0)
            if layer > 0:
                dA = dZ @ W.T
                p = layer_hyper[layer][2]
                if p > 0:
                    dA = dA * masks[layer] / (1 - p)
                dZ = dA * _act_grad(acts[layer - 1], Zs[layer - 1], As[layer - 1])
        theta, state = ref_update(name, theta, grad, state, hyper, lr, t)
    return theta, state, np.array(stats)


def ulps(got, want):
    """|got − want| in units in the last place of float32 at ``want`` (the float64 reference)."""
    want32 = np.float32(want)
    return np.abs(f64(got) - f64(want)) / np.spacing(np.abs(want32)).astype(f64)


# ---------------------------------------------------------------------------- the updates

UPDATE_NAMES = [n for n in OPTIMIZERS]


def _draw_update(rng, name, count, off, tail, tiny):
    """θ, g, state for a range of ``count`` parameters with poisoned margins around it."""
    size = off + count + tail
    theta = (0.3 * rng.normal(size=size)).astype(np.float32)
    # gradients over many scales: some near √ε, where ε's place in the formula shows
    g = rng.normal(size=size) * 10.0 ** rng.uniform(-4 if tiny else -1, 1, size)
    g = g.astype(np.float32)
    g[:off] = np.nan  # outside the range: an update that reads or writes there is caught
    g[off + count :] = np.nan
    _, rows, _ = OPTIMIZERS[name]
    state = rng.normal(size=(rows, size)).astype(np.float32)
    small = 1e-8 if tiny else 1.0  # tiny gradients after tiny ones: √s or √v near ε
    if name in ("adagrad",) or name.startswith("rmsprop"):
        state[0] = np.abs(state[0]) * 0.1 * small  # a sum of squares, or an average of them
    if name.startswith("adam"):
        state[1] = np.abs(state[1]) * 0.01 * small
    return theta, g, state


@settings(max_examples=6, deadline=None)
@given(
    count=st.integers(1, 70), off=st.integers(0, 5), tail=st.integers(0, 4),
    t0=st.integers(1, 2000), steps=st.integers(1, 3), seed=st.integers(0, 2**32 - 1),
    log_lr=st.floats(-4, -0.5), log_eps=st.floats(-10, -3), tiny=st.booleans(),
)  # fmt: skip
@pytest.mark.parametrize("name", UPDATE_NAMES)
def test_optimizer_update_follows_its_float64_recurrence(
    name, count, off, tail, t0, steps, seed, log_lr, log_eps, tiny
):
    rng = np.random.default_rng(seed)
    opt, _, default = OPTIMIZERS[name]
    hyper = np.array(default, f64)
    hyper[0] = 123.0  # α₀: the kernel must take the step's α (``lr``), not hyper[0]
    if name in ("adagrad",):
        hyper[1] = 10.0**log_eps
    elif name.startswith("rmsprop"):
        hyper[2] = 10.0**log_eps
    elif name.startswith("adam"):
        hyper[3] = 10.0**log_eps
    lr = 10.0**log_lr
    theta, g, state = _draw_update(rng, name, count, off, tail, tiny)
    want_theta, want_state = f64(theta), f64(state)
    cpu_theta, cpu_state = theta.copy(), state.copy()
    d_theta, d_grad, d_state = (cuda.to_device(a) for a in (theta, g, state))
    eps32 = float(np.finfo(np.float32).eps)
    cancel = np.zeros(count)  # what float32 state arithmetic may lose to cancellation
    for k in range(steps):
        t = t0 + k
        gpu.optimizer_update(d_theta, d_grad, d_state, off, count, opt, hyper, lr, t)
        cpu.optimizer_update(cpu_theta, g, cpu_state, off, count, opt, hyper, lr, t)
        r = slice(off, off + count)
        new_theta, new_state = ref_update(name, want_theta[r], g[r], want_state[:, r], hyper,
                                          lr, t)  # fmt: skip
        # A state that is a sum of two terms (Adam's M = β₁·M + (1 − β₁)·g, RMSProp's buffer
        # B = μ·B + g/d) loses float32 digits when they cancel: its relative error is about
        # ε₃₂·(|term₁| + |term₂|)/|sum|, and the step inherits it (seen: M = 3e-4 from terms
        # of 0.27, a step 1.2e-4 off in relative terms, in float32 as PyTorch computes it).
        # (SGD's velocity V = μ·V − α·g likewise.)
        sums = {"adam": (0, 1), "adamw": (0, 1), "rmsprop_momentum": (1, 3), "momentum": (0, 1),
                "nesterov": (0, 1)}  # name: (state row, its decay's slot in hyper)  # fmt: skip
        if name in sums:
            slot, mu = sums[name][0], hyper[sums[name][1]]
            kept = mu * want_state[slot, r]
            terms = np.abs(kept) + np.abs(new_state[slot] - kept)
            ratio = terms / np.maximum(np.abs(new_state[slot]), 1e-300)
            cancel += 4 * eps32 * ratio * np.abs(new_theta - want_theta[r])
        want_theta[r], want_state[:, r] = new_theta, new_state
    got_theta, got_state = d_theta.copy_to_host(), d_state.copy_to_host()
    outside = np.r_[0:off, off + count : theta.size]
    np.testing.assert_array_equal(got_theta[outside], theta[outside])  # untouched, bit for bit
    np.testing.assert_array_equal(got_state[:, outside], state[:, outside])
    r = slice(off, off + count)
    # The step itself (θ after − θ before), not only θ, so a wrong step cannot hide in θ's
    # rounding; a few ulp of float32 per step, a little more where √v meets ε.
    step_got = f64(got_theta[r]) - f64(theta[r])
    step_want = want_theta[r] - f64(theta[r])
    rounding = np.spacing(np.abs(np.float32(want_theta[r]))).astype(f64)  # θ's last rounding
    allowed = 1e-5 * np.abs(step_want) + steps * rounding + cancel
    assert (np.abs(step_got - step_want) <= allowed).all()
    # The CPU twin: the same float32 operations in the same order (the simulator's math.sqrt
    # returns a double; a GPU may fuse a·b + c into one rounding): a few float32 roundings of
    # the terms involved, not of their difference, which may cancel towards 0.
    theta_scale = np.abs(cpu_theta[r]) + np.abs(theta[r]) + np.abs(step_want)
    assert (np.abs(f64(got_theta[r]) - cpu_theta[r]) <= 2 * steps * eps32 * theta_scale).all()
    state_scale = np.abs(cpu_state[:, r]) + np.abs(state[:, r]) + np.abs(g[r]) * (1 + np.abs(g[r]))
    assert (np.abs(f64(got_state[:, r]) - cpu_state[:, r]) <= 2 * steps * eps32 * state_scale).all()
    if name != "sgd":
        np.testing.assert_allclose(got_state[:, r], want_state[:, r], rtol=1e-5,
                                   atol=1e-7 * np.abs(want_state[:, r]).max())  # fmt: skip


def test_adam_first_step_moves_each_coordinate_by_about_alpha():
    """m̂ = g and v̂ = g² at t = 1: θ moves by α·sign(g) (bias correction at work)."""
    theta = np.zeros(9, np.float32)
    g = np.array([3.0, -2.0, 1e-3, -1e-2, 5.0, -7.0, 0.5, -0.25, 1.0], np.float32)
    for name in ("adam", "adamw"):
        opt, _, hyper = OPTIMIZERS[name]
        d_theta = cuda.to_device(theta)
        gpu.optimizer_update(d_theta, cuda.to_device(g), cuda.to_device(np.zeros((2, 9),
                             np.float32)), 0, 9, opt, np.array(hyper), 0.01, 1)  # fmt: skip
        np.testing.assert_allclose(d_theta.copy_to_host(), -0.01 * np.sign(g), rtol=1e-5)


def test_step_scalars_are_float64_on_the_host_rounded_once():
    """α/(1 − β₁ᵗ), √(1 − β₂ᵗ) and 1 − α·λ: no float32 rounding before the last one."""
    hyper = np.array([0.001, 0.9, 0.999, 1e-8, 0.01])
    for t in (1, 2, 10, 1000, 10**6):
        lr, s1, s2, decay = gpu._step_scalars(codes.ADAMW, hyper, 0.003, t)
        assert s1 == np.float32(0.003 / (1 - 0.9**t))
        assert s2 == np.float32(math.sqrt(1 - 0.999**t))
        assert decay == np.float32(1 - 0.003 * 0.01)
        assert lr == np.float32(0.003)
        assert all(isinstance(x, np.float32) for x in (lr, s1, s2, decay))


# ---------------------------------------------------------------------------- dropout


@settings(max_examples=8, deadline=None)
@given(
    m=st.integers(1, 9), width=st.integers(1, 13), p=st.floats(0.05, 0.9),
    seed=st.integers(0, 2**32 - 1), t=st.integers(1, 10**6), layer=st.integers(0, 3),
)  # fmt: skip
def test_dropout_masks_are_the_shared_hash_and_scale_by_one_over_keep(m, width, p, seed, t,
                                                                      layer):  # fmt: skip
    rng = np.random.default_rng(seed % 1000)
    A = (rng.normal(size=(m, width)) + 3).astype(np.float32)  # never 0: a drop shows as 0
    keep = keep_mask(seed, t, layer, m, width, p)
    drop = gpu._regularisation(np.array([[0, 0, p]]), [width, 1]).drops[0]
    stats = gpu.memory.stats()
    D = cuda.to_device(np.full((m, width), np.nan, np.float32))
    gpu._dropout(cuda.to_device(A), D, seed, t, layer, drop, stats)
    got = D.copy_to_host()
    np.testing.assert_array_equal(got != 0, keep)  # the very same units
    np.testing.assert_allclose(got, f64(A) * keep / (1 - p), rtol=2e-7)
    dA = cuda.to_device(A)  # the backward rule: the same mask, the same scale
    gpu._launch(gpu._dropout_grad_kernel, gpu._blocks(m * width, 32), 32, dA, seed, t, layer,
                drop[0], drop[1], stats)  # fmt: skip
    np.testing.assert_array_equal(dA.copy_to_host(), got)


@settings(max_examples=300, deadline=None)
@given(p=st.floats(0, 1, exclude_max=True), h=st.integers(0, 2**32 - 1), near=st.booleans())
def test_the_integer_threshold_decides_exactly_like_dropout_unit(p, h, near):
    """hash ≥ ⌈p·2³²⌉ ⟺ hash/2³² ≥ p, also at the hashes next to the threshold."""
    threshold = gpu._dropout_threshold(p)
    if near:
        h = min(max(threshold + h % 3 - 1, 0), 2**32 - 1)
    assert (h >= threshold) == (h / 4294967296.0 >= p)


# ---------------------------------------------------------------------------- train_batches


def _net(rng, dims):
    size = sum(i * o + o for i, o in zip(dims[:-1], dims[1:]))
    return (0.5 * rng.normal(size=size)).astype(np.float32)


def gpu_train(X, Y, order, start, stop, batch, theta, dims, acts, name, hyper, state,
              layer_hyper, schedule, clock, device_clock=False):  # fmt: skip
    """``cuda.train_batches`` with every scratch buffer NaN-poisoned; host copies back."""
    units = int(sum(dims[1:]))

    def nan(shape):
        return cuda.to_device(np.full(shape, np.nan, np.float32))

    Z, A, dZ, dA, D = (nan(batch * units) for _ in range(5))
    grad = nan(theta.size)
    Xb, Yb = nan((batch, X.shape[1])), nan((batch, Y.shape[1]))
    th, stt = cuda.to_device(theta), cuda.to_device(state)
    stats = gpu.memory.stats()
    clk = cuda.to_device(clock) if device_clock else clock
    bad = gpu.train_batches(
        cuda.to_device(X), cuda.to_device(Y), cuda.to_device(order), start, stop, batch, th,
        np.array(dims, np.int64), np.array(acts, np.int64), codes.CCE, OPTIMIZERS[name][0],
        np.array(hyper, f64), stt, np.float32(1e-7), Xb, Yb, Z, A, dZ, dA, grad, stats,
        np.array(layer_hyper, f64), np.array(schedule, f64), clk, D,
    )  # fmt: skip
    clock_after = clk.copy_to_host() if device_clock else clk
    return bad, th.copy_to_host(), stt.copy_to_host(), gpu.memory.read_stats(stats), clock_after


def _data(rng, n, n_in, n_out):
    X = rng.normal(size=(n, n_in)).astype(np.float32)
    Y = np.eye(n_out, dtype=np.float32)[rng.integers(0, n_out, n)]
    return X, Y, rng.permutation(n).astype(np.int64)


def _check_against_reference(name, dims, acts, layer_hyper, schedule, clock, n=13, batch=5,
                             hyper=None, device_clock=False, seed=0):  # fmt: skip
    rng = np.random.default_rng(seed)
    X, Y, order = _data(rng, n, dims[0], dims[-1])
    theta = _net(rng, dims)
    theta[codes.param_offset(dims, 0)] = 0.0  # sign(0) = 0 in the L1 gradient
    _, rows, default = OPTIMIZERS[name]
    hyper = default if hyper is None else hyper
    state = np.zeros((rows, theta.size), np.float32)
    clock_before = np.array(clock, np.int64)
    bad, got_theta, got_state, got_stats, clock_after = gpu_train(
        X, Y, order, 0, n, batch, theta, dims, acts, name, hyper, state, layer_hyper, schedule,
        clock_before.copy(), device_clock,
    )  # fmt: skip
    want_theta, want_state, want_stats = ref_train(
        X, Y, order, 0, n, batch, theta, dims, acts, name, hyper, state, layer_hyper, schedule,
        clock_before,
    )  # fmt: skip
    assert bad == -1
    batches = -(-n // batch)
    assert list(clock_after) == [clock_before[0] + batches, *clock_before[1:]]
    # float32 against float64 after a few steps of a small net: a few float32 roundings
    # per operation, grown by the steps.
    step = np.abs(want_theta - theta).max()
    np.testing.assert_allclose(got_theta, want_theta, rtol=2e-5, atol=2e-5 * step)
    np.testing.assert_allclose(
        got_state, want_state, rtol=2e-4, atol=2e-5 * np.abs(want_state).max()
    )
    np.testing.assert_allclose(got_stats, want_stats, rtol=2e-5)
    return got_theta, want_theta, theta


ADAM_DROPOUT = dict(
    dims=[5, 6, 4, 3],
    acts=[codes.TANH, codes.SIGMOID, codes.SOFTMAX],
    layer_hyper=[[0.0, 0.0, 0.3], [0.0, 0.0, 0.5], [0.0, 0.0, 0.25]],
    schedule=[codes.CONSTANT, 0, 0, 1, 0],
    clock=[0, 0, 12345],
)


def test_dropout_on_every_layer_input_with_adam_follows_the_float64_step():
    """Layer 0 masks the batch in place; layers 1 and 2 go through Dbuf and the unfused dA."""
    got, want, before = _check_against_reference("adam", **ADAM_DROPOUT)
    no_drop = dict(ADAM_DROPOUT, layer_hyper=[[0.0, 0.0, 0.0]] * 3)
    plain = ref_train(*_data(np.random.default_rng(0), 13, 5, 3), 0, 13, 5, before,
                      no_drop["dims"], no_drop["acts"], "adam", OPTIMIZERS["adam"][2],
                      np.zeros((2, before.size)), no_drop["layer_hyper"], no_drop["schedule"],
                      no_drop["clock"])[0]  # fmt: skip
    assert np.abs(plain - want).max() > 10 * np.abs(got - want).max()  # dropout changed θ


def test_l1_l2_penalties_with_adamw_and_a_per_step_cosine_schedule():
    """Σ (L + λ₁·Σ|W| + λ₂·ΣW²)·m in stats, the penalty's gradient in dW, α per step."""
    _check_against_reference(
        "adamw", dims=[4, 7, 3], acts=[codes.RELU, codes.SOFTMAX],
        layer_hyper=[[0.01, 0.02, 0.0], [0.0, 0.05, 0.0]],
        schedule=[codes.COSINE, 1, 4, 1e-4, 0], clock=[5, 2, 7], hyper=[0.05, 0.9, 0.999, 1e-8, 0.1],
        n=17, batch=4, device_clock=True, seed=1,
    )  # fmt: skip


@pytest.mark.parametrize(
    "name,schedule,clock",
    [
        ("rmsprop_momentum", [codes.STEP, 1, 0.5, 1, 0], [0, 0, 3]),  # α halves every step
        ("adagrad", [codes.INVERSE_TIME, 0, 0.5, 1, 0], [9, 3, 3]),  # per epoch: α₀/(1 + 0.5·3)
        ("rmsprop", [codes.EXPONENTIAL, 1, 0.7, 2, 0], [4, 0, 3]),
    ],
)
def test_schedules_and_adaptive_updates_with_l2_and_dropout(name, schedule, clock):
    _check_against_reference(
        name, dims=[3, 5, 2], acts=[codes.TANH, codes.SOFTMAX],
        layer_hyper=[[0.0, 0.0, 0.2], [0.003, 0.01, 0.4]], schedule=schedule, clock=clock,
        hyper=None, n=11, batch=4, seed=2,
    )  # fmt: skip


def test_a_diverging_batch_stops_the_clock_at_the_updates_taken():
    rng = np.random.default_rng(3)
    dims = [3, 4, 2]
    X, Y, order = _data(rng, 16, 3, 2)
    X[order[9]] = np.nan  # batch 2 (rows 8..11) is not finite
    theta = _net(rng, dims)
    state = np.zeros((2, theta.size), np.float32)
    clock = np.array([40, 1, 5], np.int64)
    bad, got, _, stats, clock = gpu_train(
        X, Y, order, 0, 16, 4, theta, dims, [codes.TANH, codes.SOFTMAX], "adam",
        OPTIMIZERS["adam"][2], state, [[0, 0.01, 0], [0, 0, 0.2]], [0, 0, 0, 1, 0], clock,
    )  # fmt: skip
    assert bad == 2
    assert list(clock) == [42, 1, 5]
    assert stats[2] == 8  # the two batches before it
    assert np.isfinite(got).all()


def test_train_batches_refuses_an_unknown_schedule_code():
    rng = np.random.default_rng(4)
    X, Y, order = _data(rng, 4, 2, 2)
    with pytest.raises(ValueError, match="unknown schedule code 9"):
        gpu_train(X, Y, order, 0, 4, 4, _net(rng, [2, 2]), [2, 2], [codes.SOFTMAX], "sgd",
                  [0.1], np.zeros((1, 1), np.float32), [[0, 0, 0]], [9, 0, 0, 1, 0],
                  np.zeros(3, np.int64))  # fmt: skip


# ---------------------------------------------------------------------------- CPU twin


def test_the_cpu_and_the_gpu_drop_the_same_units():
    """One batch with dropout on the inputs of layers 0 and 1: Xb and Dbuf hold the same mask."""
    from nnlite.kernels import HOST_MEMORY

    rng = np.random.default_rng(5)
    dims, acts = np.array([6, 5, 3], np.int64), np.array([codes.TANH, codes.SOFTMAX], np.int64)
    X, Y, order = _data(rng, 7, 6, 3)
    theta = _net(rng, dims)
    layer_hyper = np.array([[0.0, 0.0, 0.4], [0.0, 0.0, 0.5]])
    schedule, hyper = np.zeros(codes.SCHEDULE_SIZE), np.array(OPTIMIZERS["adam"][2])
    held = {}
    for k, mem in ((cpu, HOST_MEMORY), (gpu, gpu.memory)):
        put = mem.put
        units = int(dims[1:].sum())
        buf = [put(np.zeros(7 * units, np.float32)) for _ in range(5)]
        Xb, Yb = put(np.zeros((7, 6), np.float32)), put(np.zeros((7, 3), np.float32))
        th, state = put(theta.copy()), put(np.zeros((2, theta.size), np.float32))
        clock = np.array([2, 0, 99], np.int64)
        k.train_batches(
            put(X), put(Y), put(order), 0, 7, 7, th, dims, acts, codes.CCE, codes.ADAM, hyper,
            state, np.float32(1e-7), Xb, Yb, buf[0], buf[1], buf[2], buf[3],
            put(np.zeros(theta.size, np.float32)), mem.stats(), layer_hyper, schedule, clock,
            buf[4],
        )  # fmt: skip
        held[mem.device] = [mem.get(a) for a in (Xb, buf[4], th)] + [clock]
    (cx, cd, ct, cc), (gx, gd, gt, gc) = held["cpu"], held["cuda"]
    assert (cx == 0).any() and (cd[: 7 * 5] == 0).any()  # something was dropped
    np.testing.assert_array_equal(gx == 0, cx == 0)  # layer 0's mask, on the gathered batch
    np.testing.assert_array_equal(gd[: 7 * 5] == 0, cd[: 7 * 5] == 0)  # layer 1's, in Dbuf
    np.testing.assert_allclose(gx, cx, rtol=1e-6)
    np.testing.assert_allclose(gd[: 7 * 5], cd[: 7 * 5], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gt, ct, rtol=1e-5, atol=1e-6)
    assert list(gc) == list(cc) == [3, 0, 99]


def test_the_penalty_and_its_gradient_match_the_cpu():
    rng = np.random.default_rng(6)
    dims = np.array([7, 9, 4, 3], np.int64)
    theta = _net(rng, dims)
    layer_hyper = np.array([[1e-3, 0.0, 0.2], [0.0, 0.0, 0.0], [0.02, 0.5, 0.0]])
    want = cpu.network_penalty(theta, dims, layer_hyper)
    got = gpu.network_penalty(cuda.to_device(theta), dims, layer_hyper)
    assert got == pytest.approx(want, rel=1e-6)
    W2 = theta[codes.param_offset(dims, 2) :][: 4 * 3]
    assert want == pytest.approx(
        1e-3 * np.abs(f64(theta[: 7 * 9])).sum() + 0.02 * np.abs(f64(W2)).sum()
        + 0.5 * (f64(W2) ** 2).sum()
    )  # fmt: skip
    assert gpu.network_penalty(cuda.to_device(theta), dims, np.zeros((3, 3))) == 0.0
    W = theta[: 7 * 9].reshape(7, 9)
    W[::2, ::3] = 0.0  # sign(0) = 0
    dW = rng.normal(size=W.shape).astype(np.float32)
    want_dW = dW.copy()
    cpu.penalty_grad(W, want_dW, 1e-2, 0.3)
    got_dW = cuda.to_device(dW)
    gpu.penalty_grad(cuda.to_device(W), got_dW, 1e-2, 0.3)
    # the same two roundings (a GPU may fuse 2λ₂·w + λ₁ into one)
    np.testing.assert_allclose(got_dW.copy_to_host(), want_dW, rtol=0 if gpu.SIMULATOR else 1e-6)
    assert gpu.penalty(cuda.to_device(W), 1e-2, 0.3) == pytest.approx(
        cpu.penalty(W, 1e-2, 0.3), rel=1e-6
    )


FIT_CASES = [  # the CPU twin's own fit cases (tests/test_optimizers.py), in float32
    ("adam", dict(lr=0.01), ("inverse-time", "step", dict(decay=0.05))),
    ("adamw", dict(lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.1),
     ("cosine", "epoch", dict(period=3, min_lr=0.001))),
    ("rmsprop", dict(lr=0.01, rho=0.9, momentum=0.8), ("step", "epoch", dict(gamma=0.5, step_size=1))),
    ("adagrad", dict(lr=0.05), ("exponential", "step", dict(gamma=0.9, every=2))),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore::nnlite.errors.LearnerWarning")  # 2 epochs of 12 rows
@pytest.mark.parametrize(("name", "values", "schedule"), FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_a_cuda_fit_equals_the_cpu_fit(name, values, schedule):
    """Sequential(device="cuda").fit and the CPU's: the same θ, losses, α and optimiser state."""
    from nnlite import Dense, Sequential
    from nnlite.layers import Dropout
    from nnlite.optim import Optimizer
    from nnlite.schedules import Schedule

    rng = np.random.default_rng(12)
    X = rng.normal(size=(12, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=12)
    runs = {}
    for device in ("cpu", "cuda"):
        model = Sequential(
            [Dropout(0.2), Dense(6, "tanh", l1=1e-3), Dropout(0.3), Dense(4, "relu", l2=1e-2),
             Dense(3, "softmax", l1=1e-3, l2=1e-3)],
            n_inputs=5, seed=2, device=device,
        )  # fmt: skip
        sched = Schedule(schedule[0], per=schedule[1], **schedule[2])
        history = model.fit(X, y, epochs=2, batch_size=5, optimizer=Optimizer(name, **values),
                            schedule=sched, seed=9, validation_data=(X, y))  # fmt: skip
        runs[device] = (model, history)
    (cm, ch), (gm, gh) = runs["cpu"], runs["cuda"]
    np.testing.assert_allclose(gm.theta, cm.theta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gh.loss, ch.loss, rtol=1e-5)
    np.testing.assert_allclose(gh.val_loss, ch.val_loss, rtol=1e-5)
    assert gh.lr == ch.lr
    assert gh.start_loss == pytest.approx(ch.start_loss, rel=1e-5)
