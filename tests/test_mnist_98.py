"""The README's MNIST command reaches ≥ 98.0 % on the 10,000 standard test images.

Runs exactly the documented ``nnlite train`` command (784-256-128-10 ReLU, SGD
with Nesterov momentum) on the real MNIST files in ``../shared/data/mnist``, then
counts correct test predictions independently of nnlite's own accuracy figure.
About 20–40 s on the project's 2-core machine; skipped, with the reason, when the
files are absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from nnlite import datasets, io

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
# The command in README.md ("98 % on MNIST"); keep the two in step.
README_COMMAND = (
    "train --dataset mnist --layers 256,128 --batch-size 128 --lr 0.05 --momentum 0.9 "
    "--nesterov --epochs 20"
)


def test_the_readme_mnist_command_reaches_98_percent_on_the_test_set(tmp_path):
    if not (MNIST / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found in {MNIST} (the four IDX .gz files)")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"nnlite {README_COMMAND}" in readme, "README's MNIST command changed: update this test"
    model_path = tmp_path / "mnist.npz"
    args = [*README_COMMAND.split(), "--data-dir", str(MNIST), "--quiet", "--save", str(model_path)]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    model = io.load(model_path)
    test = datasets.load_mnist(MNIST)
    predicted = model.predict(test.X_test).argmax(axis=1)
    accuracy = float(np.mean(predicted == test.y_test))
    assert test.y_test.shape == (10_000,)
    assert accuracy >= 0.98, f"test accuracy {accuracy:.4f}"
    # The model file remembers where the data was: evaluate needs no --data-dir.
    result = CliRunner().invoke(cli.app, ["evaluate", str(model_path), "--show-wrong", "0"])
    assert result.exit_code == 0, result.output
    assert f"{accuracy:.2%}" in result.output
