"""The benchmark's GEMM bound (bench/gemm_bound.py): the step's products counted by hand.

A plain-SGD step on 784-128-10 with m rows computes, by the lesson's equations:
forward Z1 = X·W1 (m×784·784×128) and Z2 = A1·W2 (m×128·128×10); the two weight
updates W ← W − α·Aᵀ·dZ (784×m·m×128 and 128×m·m×10); and ONE backward product,
dA1 = dZ2·W2ᵀ (m×10·10×128): the input X needs no gradient, so there is no
dX = dZ1·W1ᵀ. Five products, 2·M·K·N FLOPs each.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "bench" / "gemm_bound.py"
_spec = importlib.util.spec_from_file_location("gemm_bound", _PATH)
gemm_bound = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gemm_bound)


def test_products_of_784_128_10_match_a_hand_count():
    m = 32
    shapes = sorted(
        (M, K, N, kind) for _, M, K, N, kind in gemm_bound.step_products((784, 128, 10), m)
    )
    assert shapes == sorted(
        [
            (32, 784, 128, "matmul"),  # Z1 = X·W1
            (32, 128, 10, "matmul"),  # Z2 = A1·W2
            (784, 32, 128, "matmul_tn_add"),  # W1 −= α·Xᵀ·dZ1
            (128, 32, 10, "matmul_tn_add"),  # W2 −= α·A1ᵀ·dZ2
            (32, 10, 128, "matmul_nt"),  # dA1 = dZ2·W2ᵀ
        ]
    )
    # forward 2·32·(100,352 + 1,280) = 6,504,448; the updates the same; dA1 2·32·1,280 = 81,920
    assert gemm_bound.step_flops((784, 128, 10), m) == 6_504_448 + 6_504_448 + 81_920
    # below the old "6 × weights" count (6·101,632·32 = 19,513,344): the missing dX is 2·32·100,352
    assert 6 * 101_632 * m - gemm_bound.step_flops((784, 128, 10), m) == 2 * 32 * 100_352


@pytest.mark.parametrize("m", [1, 7, 128])
def test_deeper_nets_have_a_dA_for_every_layer_but_the_first(m):
    dims = (784, 256, 256, 256, 10)
    products = gemm_bound.step_products(dims, m)
    kinds = [kind for *_, kind in products]
    assert kinds.count("matmul") == 4 and kinds.count("matmul_tn_add") == 4
    assert kinds.count("matmul_nt") == 3  # dA3, dA2, dA1; no dX
    weights = 784 * 256 + 256 * 256 * 2 + 256 * 10
    backward = 256 * 256 * 2 + 256 * 10  # the dA products skip the first layer's 784×256
    assert gemm_bound.step_flops(dims, m) == 2 * m * (2 * weights + backward)
    # each dA comes before its layer's update (it uses W before the step)
    labels = [label for label, *_ in products]
    assert labels.index("dA1 = dZ2·W2ᵀ") < labels.index("W2 −= α·A1ᵀ·dZ2")


def test_a_pass_is_full_batches_and_one_partial():
    assert gemm_bound.pass_batches(60_000, 1024) == [(1024, 58), (608, 1)]
    assert gemm_bound.pass_batches(60_000, 32) == [(32, 1875)]
    assert gemm_bound.pass_batches(5, 8) == [(5, 1)]
    step = {1024: 2e-3, 608: 1.5e-3}
    assert gemm_bound.pass_bound(step, 60_000, 1024) == pytest.approx(58 * 2e-3 + 1.5e-3)


def test_parse_net_refuses_what_is_not_a_network():
    assert gemm_bound.parse_net("784-64-64-10") == (784, 64, 64, 10)
    for bad in ("784", "784-0-10", "784-x-10", "784-128-1", ""):
        with pytest.raises(ValueError, match="784-128-10"):
            gemm_bound.parse_net(bad)


def test_timer_operands_have_the_shapes_of_the_products():
    # each product once through nnlite's BLAS entry points against NumPy in float64; a wrong
    # operand shape or kind gives a wrong result (or, at worst, a BLAS read out of bounds)
    timer = gemm_bound.ProductTimer((9, 7, 5, 3), sizes=[1, 4], min_s=1e-4, reps=1)
    assert timer.check() < 1e-5
    times = timer.block()
    assert sorted(times) == [1, 4] and all(len(t) == 8 for t in times.values())
    assert timer.products(4) == gemm_bound.step_products((9, 7, 5, 3), 4)
