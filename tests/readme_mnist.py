"""Run one of the README's MNIST ``nnlite train`` commands and count its correct test predictions.

Shared by tests/test_mnist_98.py and tests/test_mnist_keras.py: the command must appear in
README.md as written, its model is saved, reloaded, and judged on MNIST's 10,000 test images
by this module itself (not by nnlite's own report). Skips when real MNIST is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from nnlite import datasets, io

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"


def run_and_count(command: str, tmp_path: Path) -> tuple[float, Path]:
    """(share of the 10,000 test images predicted right, the saved model's path)."""
    if not (MNIST / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found in {MNIST} (the four IDX .gz files)")
    readme = (ROOT / "README.md").read_text()
    assert f"nnlite {command}" in readme, "README's MNIST command changed: update this test"
    model_path = tmp_path / "mnist.npz"
    args = [*command.split(), "--data-dir", str(MNIST), "--quiet", "--save", str(model_path)]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    model = io.load(model_path)
    test = datasets.load_mnist(MNIST)
    assert test.y_test.shape == (10_000,)
    predicted = model.predict(test.X_test).argmax(axis=1)
    return float(np.mean(predicted == test.y_test)), model_path
