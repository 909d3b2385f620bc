"""The README's two Keras-style MNIST commands reach their accuracy on the 10,000 test images.

1. The Keras tutorial's network (784-128-10 ReLU, Dropout 0.2 after the hidden
   layer, Adam α = 10⁻³, batch 32, 5 epochs): ≥ 97.5 %.
2. The README's "98.5 % on MNIST" command (784-256-256-10 ReLU, Dropout 0.2 after
   each hidden layer, AdamW α = 2·10⁻³ with λ = 0.05, cosine schedule over the 20
   epochs, batch 64): ≥ 98.5 %.

Each test runs exactly the documented ``nnlite train`` command (checked to be in
README.md) on the real MNIST files in ``../shared/data/mnist``, loads the saved
model and counts the correct test predictions itself, independently of nnlite's
own accuracy figure. Skipped, with the reason, when the files are absent. Run
times on the project's 2-core machine are in the README beside each command.
"""

from __future__ import annotations

import pytest
from readme_mnist import run_and_count

pytestmark = pytest.mark.slow

# The commands in README.md; keep the two in step.
README_KERAS_TUTORIAL = (
    "train --dataset mnist --layers 128 --dropout 0.2 --optimizer adam --lr 0.001 "
    "--batch-size 32 --epochs 5"
)
README_98_5 = (
    "train --dataset mnist --layers 256,256 --dropout 0.2 --optimizer adamw:weight_decay=0.05 "
    "--lr 0.002 --lr-schedule cosine:period=20 --batch-size 64 --epochs 20"
)


def test_the_keras_tutorial_command_reaches_97_5_percent_on_the_test_set(tmp_path):
    accuracy = run_and_count(README_KERAS_TUTORIAL, tmp_path)[0]
    assert accuracy >= 0.975, f"test accuracy {accuracy:.4f}"


def test_the_readme_98_5_command_reaches_98_5_percent_on_the_test_set(tmp_path):
    accuracy = run_and_count(README_98_5, tmp_path)[0]
    assert accuracy >= 0.985, f"test accuracy {accuracy:.4f}"
