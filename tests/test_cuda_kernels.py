"""CUDA twins against their CPU twins and the float64 references.

Runs in Numba's CUDA simulator (``tests/conftest.py`` sets
``NUMBA_ENABLE_CUDASIM=1`` before numba is imported) unless
``NNLITE_REAL_GPU=1``, when the same tests run on the GPU. Every case of the
shared table (``kernel_cases.py``) runs over small odd shapes and one shape
larger than a tile in every dimension, with every output poisoned with NaN
before the launch; the launchers use small blocks (``cuda.TESTING``), so
small inputs still span several blocks and both GEMM tiles.

The simulator is slow (one OS thread per CUDA thread), so shapes stay tiny;
tests that take more than a few seconds are marked ``slow``.
"""

from __future__ import annotations

import copy
import math
import os

import numpy as np
import pytest
from kernel_cases import CASE_IDS, CASES, TOL, check, run_cpu

from nnlite.kernels import probe_gpu

STATUS, DETAIL = probe_gpu()
REAL_GPU = os.environ.get("NNLITE_REAL_GPU") == "1"
if STATUS not in ("available", "simulator"):
    pytest.skip(f"no CUDA device or simulator: {DETAIL}", allow_module_level=True)

from numba import cuda  # noqa: E402  (after the skip: needs numba-cuda or the simulator)

from nnlite.kernels import cpu  # noqa: E402
from nnlite.kernels import cuda as gpu  # noqa: E402
from nnlite.optim import SGD  # noqa: E402

pytestmark = pytest.mark.gpu

# (n, i, o): one element; small odd; larger than a TESTING tile (16×16×8) in every dimension.
SHAPES = [(1, 1, 1), (5, 7, 3), (17, 33, 9)]
# float32 results may differ from the CPU's (another summation order, the GPU's
# expf/tanhf) by a few units in the last place, times the length of a sum.
F32 = np.dtype(np.float32)


@pytest.fixture(autouse=True)
def small_blocks():
    previous = gpu.set_launch_config(gpu.TESTING)
    yield
    gpu.set_launch_config(previous)


def to_device(a):
    return cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a


def run_cuda(case, args):
    """Copy the arguments to the device, fill the outputs (NaN), launch, copy them back."""
    dev = [to_device(a) for a in args]
    if case.fill is not None:
        for k in case.outputs:
            dev[k] = cuda.to_device(np.full(args[k].shape, case.fill, args[k].dtype))
    value = getattr(gpu, case.kernel)(*dev)
    return [dev[k].copy_to_host() for k in case.outputs], value


def _shape_for(case, n, i, o):
    return n, i, max(o, case.min_outputs)


@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cuda_twin_matches_cpu_twin_and_reference(case, shape):
    rng = np.random.default_rng(abs(hash((case.name, shape))) % 2**32)
    n, i, o = _shape_for(case, *shape)
    args = case.make(rng, n, i, o, np.float32)
    before = copy.deepcopy(args)
    got, value = run_cuda(case, copy.deepcopy(args))
    check(case, before, got, value, np.float32)  # against float64, as the CPU twin is
    want, cpu_value = run_cpu(case, copy.deepcopy(before))
    rtol, atol = TOL[F32]
    if case.returns:
        assert isinstance(value, float)
        np.testing.assert_allclose(value, float(cpu_value), rtol=rtol, atol=atol)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * max(1.0, np.abs(w).max()))


def test_every_cpu_kernel_has_a_cuda_twin():
    """Same public names (and argument names, in order) on both devices."""
    import inspect

    def python_function(obj):  # a kernel's own function, or a launcher written in Python
        return getattr(obj, "py_func", obj)

    public = {
        name for name, obj in vars(cpu).items()
        if not name.startswith("_") and inspect.isfunction(python_function(obj))
        and python_function(obj).__module__ == cpu.__name__  # not blas.matmul and co.
    }  # fmt: skip
    assert {"train_batches", "evaluate_rows", "dense_forward"} <= public
    scalar_helpers = {
        "sigmoid", "sigmoid_grad", "tanh_grad", "relu", "relu_grad", "identity",
        "leaky_relu", "leaky_relu_grad", "softplus", "softplus_grad",
    }  # fmt: skip
    for name in sorted(public - scalar_helpers):
        assert hasattr(gpu, name), f"cuda.py lacks the twin of cpu.{name}"
        cpu_args = list(inspect.signature(python_function(getattr(cpu, name))).parameters)
        gpu_args = list(inspect.signature(getattr(gpu, name)).parameters)
        assert cpu_args == gpu_args, name


# ---------------------------------------------------------------------------- GEMM


def _dense(rng, n, i, o):
    X = rng.normal(size=(n, i)).astype(np.float32)
    W = rng.normal(size=(i, o)).astype(np.float32)
    b = rng.normal(size=o).astype(np.float32)
    return X, W, b


def _nan(shape):
    return cuda.to_device(np.full(shape, np.nan, np.float32))


def _check_dense(n, i, o, act=3):
    rng = np.random.default_rng(n * 1000 + i * 10 + o)
    X, W, b = _dense(rng, n, i, o)
    Z, A = _nan((n, o)), _nan((n, o))
    gpu.dense_forward(to_device(X), to_device(W), to_device(b), Z, A, act)
    Zr = X.astype(np.float64) @ W.astype(np.float64) + b
    np.testing.assert_allclose(Z.copy_to_host(), Zr, rtol=1e-5, atol=1e-5 * math.sqrt(i))
    dZ = rng.normal(size=(n, o)).astype(np.float32)
    dW, db, dX = _nan((i, o)), _nan(o), _nan((n, i))
    gpu.dense_backward(to_device(X), to_device(W), to_device(dZ), dW, db, dX, True)
    X64, W64, dZ64 = (a.astype(np.float64) for a in (X, W, dZ))
    tol = 1e-5 * math.sqrt(max(n, o))
    np.testing.assert_allclose(dW.copy_to_host(), X64.T @ dZ64, rtol=1e-5, atol=tol)
    np.testing.assert_allclose(db.copy_to_host(), dZ64.sum(0), rtol=1e-5, atol=tol)
    np.testing.assert_allclose(dX.copy_to_host(), dZ64 @ W64.T, rtol=1e-5, atol=tol)


@pytest.mark.parametrize("shape", [(8, 4, 8), (9, 5, 17), (33, 17, 16), (3, 40, 2)])
def test_tiled_product_handles_ragged_edges_on_both_tiles(shape):
    """Exact tile multiples, one past them, and K much larger than a K-step."""
    _check_dense(*shape)


def _with_tile(tile, shape, act=1):
    previous = gpu.set_launch_config(gpu.LaunchConfig(gemm_large=tile, gemm_small=tile))
    try:
        _check_dense(*shape, act=act)
    finally:
        gpu.set_launch_config(previous)


@pytest.mark.parametrize("contiguous", [0, 1], ids=["strided", "contiguous"])
@pytest.mark.parametrize("pipelined", [0, 1], ids=["two-barrier", "pipelined"])
def test_every_gemm_variant_is_correct_on_ragged_shapes(contiguous, pipelined):
    """Thread-to-output mapping × single or double-buffered K loop, on a small tile."""
    _with_tile((8, 8, 4, 2, 2, contiguous, pipelined), (11, 9, 13))


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(gpu._tiles(gpu.PRODUCTION))))
def test_production_tiles_on_a_shape_larger_than_one_tile(index):
    """The tiles used on a real GPU, each on a product one row and column past a tile."""
    tile = gpu._tiles(gpu.PRODUCTION)[index]
    _with_tile(tile, (tile[0] + 1, 19, tile[1] + 3))


def test_the_largest_tile_that_fills_the_gpu_is_chosen():
    cfg = gpu.LaunchConfig(
        gemm_large=(16, 16, 8, 4, 4, 1, 1), gemm_small=(8, 8, 4, 2, 2, 1, 1),
        gemm_tiny=(4, 4, 4, 1, 1, 0, 1), large_min_blocks=4,
    )  # fmt: skip
    calls = []
    original = gpu._gemm_kernel

    def spy(tile, *rest):
        calls.append(tile)
        return original(tile, *rest)

    previous = gpu.set_launch_config(cfg)
    gpu._gemm_kernel = spy
    try:
        chosen = {}
        for M, N in ((40, 40), (20, 9), (5, 5)):  # 3×3 large tiles; 3×2 small; 2×2 tiny
            calls.clear()
            gpu._gemm(*(_nan((M, N)),) * 2, _nan(N), *(_nan((M, N)),) * 4, 0, M, N, 1,
                      False, False, gpu._EPI_STORE)  # fmt: skip
            chosen[(M, N)] = calls[0]
    finally:
        gpu._gemm_kernel = original
        gpu.set_launch_config(previous)
    assert chosen == {(40, 40): cfg.gemm_large, (20, 9): cfg.gemm_small, (5, 5): cfg.gemm_tiny}


def test_column_sum_is_a_tree_over_many_rows():
    rng = np.random.default_rng(3)
    dZ = rng.normal(size=(37, 6)).astype(np.float32)
    db = _nan(6)
    gpu.column_sum(to_device(dZ), db)
    np.testing.assert_allclose(db.copy_to_host(), dZ.astype(np.float64).sum(0), rtol=1e-5)


def test_fused_backward_applies_the_previous_layers_derivative():
    """dX = dZ·Wᵀ and dZ_prev = dX ⊙ σ′ from one product, as dense_backward + activation_grad."""
    rng = np.random.default_rng(4)
    n, i, o = 7, 9, 5
    X, W, _ = _dense(rng, n, i, o)
    dZ = rng.normal(size=(n, o)).astype(np.float32)
    for act in (0, 1, 2, 3):
        Zp = rng.normal(size=(n, i)).astype(np.float32)
        Ap = np.empty_like(Zp)
        cpu.activation_forward(Zp, Ap, act)
        dW, db, dX, dZp = (
            np.empty((i, o), np.float32),
            np.empty(o, np.float32),
            *(np.empty((n, i), np.float32) for _ in range(2)),
        )
        cpu.dense_backward(X, W, dZ, dW, db, dX, True)
        cpu.activation_grad(Zp, Ap, dX, dZp, act)
        g = [_nan((i, o)), _nan(o), _nan((n, i)), _nan((n, i))]
        gpu._dense_backward_fused(
            to_device(X), to_device(W), to_device(dZ), g[0], g[1], g[2],
            to_device(Zp), to_device(Ap), g[3], act,
        )  # fmt: skip
        for got, want in zip(g, (dW, db, dX, dZp)):
            np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- output layer

PAIRS = [
    (4, 2, 4),  # softmax + cce (fused)
    (1, 1, 3),  # sigmoid + bce (fused)
    (0, 0, 2),  # identity + mse
    (1, 0, 1),  # sigmoid + mse
    (4, 0, 3),  # softmax + mse (Jacobian path)
    (2, 0, 3),  # tanh + mse
    (1, 2, 3),  # sigmoid + cce (unfused)
    (4, 1, 3),  # softmax + bce (unfused)
]


@pytest.mark.parametrize("act,loss,o", PAIRS)
def test_output_gradient_loss_and_correct_count_match_the_cpu(act, loss, o):
    rng = np.random.default_rng(act * 10 + loss)
    n = 19
    Z = (2 * rng.normal(size=(n, o))).astype(np.float32)
    A = np.empty_like(Z)
    cpu.activation_forward(Z, A, act)
    if loss == 2 or act == 4:
        Y = np.zeros((n, o), np.float32)
        Y[np.arange(n), rng.integers(0, o, n)] = 1
    elif loss == 1:
        Y = rng.integers(0, 2, (n, o)).astype(np.float32)
    else:
        Y = rng.normal(size=(n, o)).astype(np.float32)
    eps = 1e-7
    dA, dZ = np.zeros_like(Z), np.empty_like(Z)
    cpu.output_grad(Z, A, Y, dA, dZ, act, loss, eps)
    gdA, gdZ = to_device(np.zeros_like(Z)), _nan((n, o))
    dZd, dAd, dYd = to_device(Z), to_device(A), to_device(Y)
    gpu.output_grad(dZd, dAd, dYd, gdA, gdZ, act, loss, eps)
    np.testing.assert_allclose(gdZ.copy_to_host(), dZ, rtol=2e-5, atol=1e-6)
    if not cpu.is_fused(act, loss):
        np.testing.assert_allclose(gdA.copy_to_host(), dA, rtol=2e-5, atol=1e-6)
    want = float(cpu.loss_value(A, Y, loss, np.float32(eps)))
    assert gpu.loss_value(dAd, dYd, loss, eps) == pytest.approx(want, rel=1e-5)
    assert gpu.count_correct(dAd, dYd) == cpu.count_correct(A, Y)


# ---------------------------------------------------------------------------- perceptron


def test_perceptron_epochs_and_steps_match_the_cpu():
    """Integer-valued data keep every sum exact, so the decisions match bit for bit."""
    rng = np.random.default_rng(5)
    X = rng.integers(-2, 3, (13, 11)).astype(np.float32)
    y = (X @ rng.integers(-2, 3, 11) > 0).astype(np.int64)
    w, b = np.zeros(11, np.float32), np.zeros(1, np.float32)
    dX, dy, dw, dbias = to_device(X), to_device(y), to_device(w), to_device(b)
    for _ in range(3):
        updates = cpu.perceptron_epoch(X, y, w, b, 0.5, 0.0)
        assert gpu.perceptron_epoch(dX, dy, dw, dbias, 0.5, 0.0) == updates
        np.testing.assert_array_equal(dw.copy_to_host(), w)
        np.testing.assert_array_equal(dbias.copy_to_host(), b)
    for r in range(3):
        err = cpu.perceptron_step(X[r], int(y[r]) ^ 1, w, b, 1.0, 0.0)
        assert gpu.perceptron_step(dX[r], int(y[r]) ^ 1, dw, dbias, 1.0, 0.0) == err
        np.testing.assert_array_equal(dw.copy_to_host(), w)


def test_perceptron_learns_the_and_gate_on_the_gpu():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 0, 0, 1], np.int64)
    w, b = to_device(np.zeros(2, np.float32)), to_device(np.zeros(1, np.float32))
    for _ in range(20):
        if gpu.perceptron_epoch(to_device(X), to_device(y), w, b, 1.0, 0.0) == 0:
            break
    out = to_device(np.full(4, -1, np.int64))
    gpu.perceptron_predict(to_device(X), w, b, 0.0, out)
    np.testing.assert_array_equal(out.copy_to_host(), y)


# ---------------------------------------------------------------------------- whole network


def _net(rng, dims, acts):
    theta = rng.normal(scale=0.6, size=sum(i * o + o for i, o in zip(dims[:-1], dims[1:])))
    return theta.astype(np.float32), np.array(dims, np.int64), np.array(acts, np.int64)


def _buffers(rows, dims, n_params):
    units = int(sum(dims[1:]))
    return {k: np.zeros(rows * units, np.float32) for k in ("Z", "A", "dZ", "dA")} | {
        "grad": np.zeros(n_params, np.float32)
    }


def test_forward_and_backward_pass_match_the_cpu():
    rng = np.random.default_rng(6)
    dims, acts = [6, 5, 4, 3], [2, 3, 4]
    theta, dims, acts = _net(rng, dims, acts)
    m = 9
    X = rng.normal(size=(m, 6)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, m)]
    buf = _buffers(m, dims, theta.size)
    dbuf = {k: to_device(np.full_like(v, np.nan)) for k, v in buf.items()}
    cpu.forward_pass(X, theta, dims, acts, buf["Z"], buf["A"])
    gpu.forward_pass(to_device(X), to_device(theta), dims, acts, dbuf["Z"], dbuf["A"])
    for k in ("Z", "A"):
        np.testing.assert_allclose(dbuf[k].copy_to_host(), buf[k], rtol=1e-5, atol=1e-6)
    eps = np.float32(1e-7)
    cpu.backward_pass(
        X, Y, theta, dims, acts, 2, eps, *(buf[k] for k in ("Z", "A", "dZ", "dA", "grad"))
    )
    gpu.backward_pass(
        to_device(X), to_device(Y), to_device(theta), dims, acts, 2, eps,
        *(dbuf[k] for k in ("Z", "A", "dZ", "dA", "grad")),
    )  # fmt: skip
    np.testing.assert_allclose(dbuf["grad"].copy_to_host(), buf["grad"], rtol=1e-4, atol=1e-6)
    both = {k: to_device(np.full_like(v, np.nan)) for k, v in buf.items()}  # backprop: the two
    gpu.backprop(
        to_device(X), to_device(Y), to_device(theta), dims, acts, 2, eps,
        *(both[k] for k in ("Z", "A", "dZ", "dA", "grad")),
    )  # fmt: skip
    np.testing.assert_array_equal(both["grad"].copy_to_host(), dbuf["grad"].copy_to_host())


def _train(k, mem, X, Y, theta, dims, acts, loss, lr, batch, order, mu=0.0, nesterov=False):
    n = X.shape[0]
    buf = {name: mem.put(v) for name, v in _buffers(batch, dims, theta.size).items()}
    th = mem.put(theta.copy())
    stats = mem.stats()
    Xb = mem.put(np.zeros((batch, X.shape[1]), np.float32))
    Yb = mem.put(np.zeros((batch, Y.shape[1]), np.float32))
    opt = SGD(lr, momentum=mu, nesterov=nesterov).validate()
    V = mem.put(np.full((1, theta.size) if mu else (1, 1), 0.01, np.float32))
    bad = k.train_batches(
        mem.put(X), mem.put(Y), mem.put(order), 0, n, batch, th, dims, acts, loss, opt.code,
        opt.hyper_vector(), V, np.float32(1e-7), Xb, Yb, buf["Z"], buf["A"], buf["dZ"],
        buf["dA"], buf["grad"], stats,
    )  # fmt: skip
    return bad, mem.get(th), mem.read_stats(stats), mem.get(V)


def test_train_batches_matches_the_cpu_loop():
    from nnlite.kernels import HOST_MEMORY

    rng = np.random.default_rng(7)
    theta, dims, acts = _net(rng, [4, 6, 3], [3, 4])
    X = rng.normal(size=(23, 4)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 23)]
    order = rng.permutation(23).astype(np.int64)
    want = _train(cpu, HOST_MEMORY, X, Y, theta, dims, acts, 2, 0.2, 8, order)
    got = _train(gpu, gpu.memory, X, Y, theta, dims, acts, 2, 0.2, 8, order)
    assert got[0] == want[0] == -1
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-5)


@pytest.mark.parametrize("nesterov", [False, True])
def test_train_batches_with_momentum_matches_the_cpu_loop(nesterov):
    from nnlite.kernels import HOST_MEMORY

    rng = np.random.default_rng(11)
    theta, dims, acts = _net(rng, [4, 5, 3], [2, 4])
    X = rng.normal(size=(19, 4)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 19)]
    order = rng.permutation(19).astype(np.int64)
    want = _train(cpu, HOST_MEMORY, X, Y, theta, dims, acts, 2, 0.1, 4, order, 0.9, nesterov)
    got = _train(gpu, gpu.memory, X, Y, theta, dims, acts, 2, 0.1, 4, order, 0.9, nesterov)
    plain = _train(cpu, HOST_MEMORY, X, Y, theta, dims, acts, 2, 0.1, 4, order)
    assert got[0] == want[0] == -1
    assert np.abs(want[1] - plain[1]).max() > 1e-3  # the velocity changed the path
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[3], want[3], rtol=1e-5, atol=1e-6)


def test_a_diverging_batch_is_reported_and_freezes_theta_like_on_the_cpu():
    from nnlite.kernels import HOST_MEMORY

    rng = np.random.default_rng(8)
    theta, dims, acts = _net(rng, [3, 4, 1], [0, 0])
    X = (1e3 * rng.normal(size=(16, 3))).astype(np.float32)
    Y = rng.normal(size=(16, 1)).astype(np.float32)
    order = np.arange(16, dtype=np.int64)
    want = _train(cpu, HOST_MEMORY, X, Y, theta, dims, acts, 0, 1e3, 4, order)
    got = _train(gpu, gpu.memory, X, Y, theta, dims, acts, 0, 1e3, 4, order)
    assert want[0] >= 0
    assert got[0] == want[0]
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4)  # θ as it was before that batch
    np.testing.assert_allclose(got[2][:3], want[2][:3], rtol=1e-4)


def test_evaluate_rows_matches_the_cpu():
    from nnlite.kernels import HOST_MEMORY

    rng = np.random.default_rng(9)
    theta, dims, acts = _net(rng, [5, 4, 1], [1, 1])
    X = rng.normal(size=(11, 5)).astype(np.float32)
    Y = rng.integers(0, 2, (11, 1)).astype(np.float32)
    results = []
    for k, mem in ((cpu, HOST_MEMORY), (gpu, gpu.memory)):
        buf = _buffers(11, dims, theta.size)
        stats = mem.stats()
        k.evaluate_rows(
            mem.put(X), mem.put(Y), 2, 11, mem.put(theta), dims, acts, 1, np.float32(1e-7),
            mem.put(buf["Z"]), mem.put(buf["A"]), stats,
        )  # fmt: skip
        results.append(mem.read_stats(stats)[:3])
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5)


def test_sequential_on_cuda_matches_the_cpu_loss_curve():
    """A short seeded run: the same history and θ on both devices, to float32 tolerance."""
    from nnlite import Dense, Sequential

    rng = np.random.default_rng(10)
    X = rng.normal(size=(26, 4)).astype(np.float32)
    y = rng.integers(0, 3, 26)
    runs = {}
    for device in ("cpu", "cuda"):
        model = Sequential([Dense(5, "tanh"), Dense(3, "softmax")], device=device, n_inputs=4)
        history = model.fit(X, y, epochs=3, batch_size=10, lr=0.3, seed=0, validation_data=(X, y))
        runs[device] = (model, history)
    (cm, ch), (gm, gh) = runs["cpu"], runs["cuda"]
    np.testing.assert_allclose(gh.loss, ch.loss, rtol=1e-5)
    np.testing.assert_allclose(gh.val_loss, ch.val_loss, rtol=1e-5)
    assert gh.accuracy == ch.accuracy
    assert gh.start_loss == pytest.approx(ch.start_loss, rel=1e-5)
    np.testing.assert_allclose(gm.theta, cm.theta, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gm.predict(X[:4]), cm.predict(X[:4]), rtol=1e-5, atol=1e-6)
    assert gm.evaluate(X, y) == pytest.approx(cm.evaluate(X, y), rel=1e-5)


def test_sequential_on_cuda_copies_chunks_when_the_data_does_not_fit(monkeypatch):
    from nnlite import Dense, Sequential

    rng = np.random.default_rng(11)
    X = rng.normal(size=(12, 3)).astype(np.float32)
    y = rng.integers(0, 2, 12)
    monkeypatch.setattr(gpu.memory, "fits", lambda nbytes: False, raising=False)
    runs = []
    for device in ("cpu", "cuda"):
        model = Sequential([Dense(1, "sigmoid")], device=device, n_inputs=3)
        runs.append(model.fit(X, y, epochs=2, batch_size=5, lr=0.5, seed=1).loss)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-5)


def test_cuda_refuses_float64_with_a_clear_message():
    from nnlite import Dense, Sequential
    from nnlite.errors import ConfigError

    with pytest.raises(ConfigError, match="float32"):
        Sequential([Dense(2, "sigmoid")], device="cuda", dtype=np.float64, n_inputs=2)


@pytest.mark.skipif(not REAL_GPU, reason="the simulator already raises on out-of-bounds accesses")
def test_no_launch_reads_or_writes_out_of_bounds_on_the_gpu():
    """On hardware an out-of-bounds access is silent; at least check a guard band stays intact."""
    rng = np.random.default_rng(12)
    n, i, o = 67, 45, 33
    X, W, b = _dense(rng, n, i, o)
    big = cuda.to_device(np.full((n + 8) * o, 12345.0, np.float32))
    Z = big[: n * o].reshape((n, o))
    A = _nan((n, o))
    gpu.dense_forward(to_device(X), to_device(W), to_device(b), Z, A, 0)
    assert (big.copy_to_host()[n * o :] == 12345.0).all()


def test_the_cuda_launchers_refuse_unknown_codes_that_device_code_cannot_raise_on():
    Z = cuda.to_device(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="unknown activation code 99"):
        gpu.activation_forward(Z, Z, 99)
    with pytest.raises(ValueError, match="unknown activation code"):
        gpu.dense_forward(Z, cuda.to_device(np.zeros((3, 3), np.float32)),
                          cuda.to_device(np.zeros(3, np.float32)), Z, Z, -1)  # fmt: skip
    with pytest.raises(ValueError, match="unknown loss code 7"):
        gpu.output_grad(Z, Z, Z, Z, Z, 0, 7, 1e-7)
    theta = cuda.to_device(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="unknown optimizer code 42"):
        gpu.optimizer_update(theta, theta, cuda.to_device(np.zeros((1, 1), np.float32)), 0, 4,
                             42, np.array([0.1]), 0.1, 1)  # fmt: skip


@pytest.mark.parametrize("nesterov", [False, True])
def test_optimizer_update_on_one_layer_matches_the_cpu_and_touches_nothing_else(nesterov):
    rng = np.random.default_rng(4)
    theta = rng.normal(size=23).astype(np.float32)
    grad = rng.normal(size=23).astype(np.float32)
    state = rng.normal(size=(1, 23)).astype(np.float32)
    hyper = SGD(0.1, momentum=0.7, nesterov=nesterov).validate().hyper_vector()
    want_theta, want_state = theta.copy(), state.copy()
    cpu.optimizer_update(want_theta, grad, want_state, 6, 9, 1, hyper, 0.1, 1)
    d_theta, d_state = cuda.to_device(theta), cuda.to_device(state)
    gpu.optimizer_update(d_theta, cuda.to_device(grad), d_state, 6, 9, 1, hyper, 0.1, 1)
    # a real GPU may fuse μ·v − α·g into one FMA: equal up to the last bit
    np.testing.assert_allclose(d_theta.copy_to_host(), want_theta, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d_state.copy_to_host(), want_state, rtol=1e-6, atol=1e-7)
    untouched = np.r_[0:6, 15:23]
    np.testing.assert_array_equal(d_theta.copy_to_host()[untouched], theta[untouched])
