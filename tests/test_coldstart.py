"""What the first run of a default ``nnlite train`` compiles: exactly the kernels it needs.

A cold start compiles every function a run reaches (issue 20: a first run's compile time).
These tests pin the set, in a fresh process (which functions a process compiled or loaded
shows in the dispatchers' ``signatures``, whether from Numba's disk cache or not, so the
test needs no empty cache and asserts no times). A kernel that creeps in, or a runtime
code that makes Numba compile every loss again, fails here before it costs every learner
a second or two.
"""

from __future__ import annotations

import numpy as np
import pytest
from fresh_process import run_python

from nnlite.kernels import codes, cpu

# The module-level dispatchers a default run (digits, 64 ReLU, softmax + cross-entropy, plain
# SGD, the layer-health probe) compiles: the leaves of its one training loop (``_for_config``),
# whose third mode is the probe's gradient pass (``dense_backward`` and its ``matmul_tn``).
# The loop itself, a closure, is checked apart.
DEFAULT_RUN = {
    "blas.matmul", "blas.matmul_nt", "blas.matmul_tn", "blas.matmul_tn_add",
    "cpu._param_offset", "cpu._buffer_offset", "cpu._param_views", "cpu._act_view",
    "cpu.dense_forward", "cpu._softmax_row", "cpu.activation_grad", "cpu.dense_sgd_update",
    "cpu.dense_backward", "cpu.column_sum", "cpu.sgd_update", "cpu.cce_loss",
    "cpu.softmax_cce_grad", "cpu.count_correct",
}  # fmt: skip

_COMPILED = """
import sys
from numba.core.registry import CPUDispatcher
from nnlite.kernels import blas, codes, cpu

def compiled():
    names, seen = set(), set()
    for module in (blas, cpu):  # cpu imports blas's products: each dispatcher under its home
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.signatures and id(value) not in seen:
                seen.add(id(value))
                names.add(f"{module.__name__.rsplit('.', 1)[1]}.{name}")
    return names
"""


def test_a_default_train_compiles_only_what_it_runs_all_in_warm_up(tmp_path):
    """``nnlite train`` (one epoch), cold: one loop and DEFAULT_RUN, all inside ``warm_up``.

    With an empty cache: a kernel loaded from the disk cache inside a compiled caller
    never shows in its own dispatcher's ``signatures`` (the caller's machine code holds
    it), so only a cold start lists what a run compiles.
    """
    run = f"""
from nnlite import models
warm_up = models.Sequential.warm_up
after_warm_up = []

def watched(self, *args, **kwargs):
    seconds = warm_up(self, *args, **kwargs)
    after_warm_up.append(compiled())
    return seconds

models.Sequential.warm_up = watched
sys.argv = ["nnlite", "train", "-q", "--epochs", "1"]
import cli
try:
    cli.main()
except SystemExit as exc:
    assert not exc.code, exc.code
names, expected = compiled(), set({sorted(DEFAULT_RUN)!r})
assert names == expected, ("extra", sorted(names - expected), "missing", sorted(expected - names))
assert after_warm_up == [names], ("compiled after warm_up", sorted(names - after_warm_up[0]))
"""
    checks = """
loop = cpu._for_config(codes.CCE, codes.SOFTMAX, codes.SGD, False, False, False)
assert cpu._for_config.cache_info().currsize == 1, "a second training loop"
assert len(loop.signatures) == 1, loop.signatures  # training, evaluation and the probe: one
assert cpu._backward_for_config.cache_info().currsize == 0, "the probe compiled its own pass"
print("ok")
"""
    run_python(_COMPILED + run + checks, NUMBA_CACHE_DIR=str(tmp_path / "numba"))


@pytest.mark.parametrize(
    ("acts", "loss"),
    [((codes.RELU, codes.SOFTMAX), codes.CCE), ((codes.TANH, codes.IDENTITY), codes.MSE)],
    ids=["fused", "unfused"],
)
def test_backprop_is_forward_pass_then_backward_pass_bit_for_bit(acts, loss):
    """The probe's pass (the training loop's third mode) = the two passes the lessons run."""
    rng = np.random.default_rng(3)
    dims, acts = np.array([5, 4, 3], np.int64), np.array(acts, np.int64)
    theta = rng.normal(size=5 * 4 + 4 + 4 * 3 + 3).astype(np.float32)
    X = rng.normal(size=(7, 5)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 7)]
    one, two = ({k: np.full(7 * 7, np.nan, np.float32) for k in ("Z", "A", "dZ", "dA")}
                | {"grad": np.full(theta.size, np.nan, np.float32)} for _ in range(2))  # fmt: skip
    eps = 1e-7
    cpu.backprop(
        X, Y, theta, dims, acts, loss, eps, *(one[k] for k in ("Z", "A", "dZ", "dA", "grad"))
    )
    cpu.forward_pass(X, theta, dims, acts, two["Z"], two["A"])
    cpu.backward_pass(
        X, Y, theta, dims, acts, loss, eps, *(two[k] for k in ("Z", "A", "dZ", "dA", "grad"))
    )
    for k in one:
        np.testing.assert_array_equal(one[k], two[k], err_msg=k)
    assert np.isfinite(one["grad"]).all()
