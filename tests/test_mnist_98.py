"""The README's MNIST command reaches ≥ 98.0 % on the 10,000 standard test images.

Runs exactly the documented ``nnlite train`` command (784-256-128-10 ReLU, SGD
with Nesterov momentum) on the real MNIST files in ``../shared/data/mnist``, then
counts correct test predictions independently of nnlite's own accuracy figure.
About 20–40 s on the project's 2-core machine; skipped, with the reason, when the
files are absent.
"""

from __future__ import annotations

from readme_mnist import run_and_count
from typer.testing import CliRunner

import cli

# The command in README.md ("98 % on MNIST"); keep the two in step.
README_COMMAND = (
    "train --dataset mnist --layers 256,128 --batch-size 128 --lr 0.05 --momentum 0.9 "
    "--nesterov --epochs 20"
)


def test_the_readme_mnist_command_reaches_98_percent_on_the_test_set(tmp_path):
    accuracy, model_path = run_and_count(README_COMMAND, tmp_path)
    assert accuracy >= 0.98, f"test accuracy {accuracy:.4f}"
    # The model file remembers where the data was: evaluate needs no --data-dir.
    result = CliRunner().invoke(cli.app, ["evaluate", str(model_path), "--show-wrong", "0"])
    assert result.exit_code == 0, result.output
    assert f"{accuracy:.2%}" in result.output
