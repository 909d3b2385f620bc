"""A Keras MNIST program runs on nnlite with only its import lines changed (issue 18, part 4).

``TENSORFLOW_PROGRAM`` is written as for TensorFlow's Keras, in the manner of the official
Keras MLP example (Input, Flatten, Dense 512 ReLU, Dropout 0.2, Dense 512 ReLU, Dropout
0.2, Dense 10 softmax; an RMSprop object; sparse categorical cross-entropy; fit with
``validation_split`` and an ``EarlyStopping`` callback; evaluate, predict, summary,
save/load_model). The nnlite program is derived from it by rewriting its import lines
only (checked), written to a file and run in a fresh Python on a subset of real MNIST
(``MNIST_SAMPLES``, ``MNIST_EPOCHS``: the program reads them itself, in both versions),
which it finds through ``NNLITE_DATA`` as any nnlite user's program would. The test reads
the accuracy the program computed itself from ``predict`` against the test labels.

Real MNIST is read from ``../shared/data/mnist`` beside the repository (or
``$NNLITE_TEST_MNIST``); the test is skipped when it is absent. Never copied here.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(
    os.environ.get("NNLITE_TEST_MNIST")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
)
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")  # fmt: skip

TENSORFLOW_PROGRAM = '''\
"""Trains a simple deep NN on the MNIST dataset (after the Keras MLP example)."""
import os

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras.callbacks import EarlyStopping
from tensorflow.keras.datasets import mnist
from tensorflow.keras.optimizers import RMSprop

batch_size = 128
num_classes = 10
epochs = int(os.environ.get("MNIST_EPOCHS", "20"))
samples = int(os.environ.get("MNIST_SAMPLES", "60000"))

# the data, split between train and test sets
(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, y_train = x_train[:samples], y_train[:samples]
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

model.compile(
    loss="sparse_categorical_crossentropy",
    optimizer=RMSprop(learning_rate=0.001),
    metrics=["accuracy"],
)
history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    verbose=2,
    validation_split=0.1,
    callbacks=[EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)],
)
print("epochs run:", len(history.history["loss"]))
print("final val_accuracy:", history.history["val_accuracy"][-1])

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

predictions = model.predict(x_test, verbose=0)
correct = int(np.sum(np.argmax(predictions, axis=1) == y_test))
print(f"Correct predictions: {correct} of {len(y_test)}")

model.save("mnist_mlp.keras")
restored = keras.models.load_model("mnist_mlp.keras")
same = np.array_equal(restored.predict(x_test, verbose=0), predictions)
print("Restored model agrees:", same)
'''


def nnlite_program(tensorflow_program: str) -> str:
    """The same program with ``tensorflow`` replaced by ``nnlite`` in its import lines only."""
    lines = []
    for line in tensorflow_program.splitlines(keepends=True):
        if re.match(r"(from|import) tensorflow\b", line):
            line = line.replace("tensorflow", "nnlite", 1)
        lines.append(line)
    return "".join(lines)


def test_only_the_import_lines_differ():
    ours = nnlite_program(TENSORFLOW_PROGRAM)
    changed = [
        line[2:]
        for line in difflib.ndiff(TENSORFLOW_PROGRAM.splitlines(), ours.splitlines())
        if line.startswith(("- ", "+ "))
    ]
    assert len(changed) == 10  # five import lines, each removed and added
    assert all(re.match(r"from (tensorflow|nnlite)(\.keras(\.\w+)?)? import \w+", c)
               for c in changed)  # fmt: skip
    assert "tensorflow" not in ours


def test_a_keras_mnist_program_runs_with_only_its_imports_changed(tmp_path):
    if not all((MNIST_DIR / name).is_file() for name in MNIST_FILES):
        pytest.skip(f"real MNIST not found in {MNIST_DIR} (set NNLITE_TEST_MNIST to its folder)")
    program = tmp_path / "mnist_mlp.py"
    program.write_text(nnlite_program(TENSORFLOW_PROGRAM))
    env = {
        **os.environ,
        "NNLITE_DATA": str(MNIST_DIR),  # where an nnlite user keeps MNIST
        "MNIST_SAMPLES": "3000",
        "MNIST_EPOCHS": "3",
        "COLUMNS": "120",
    }
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    out = subprocess.run(
        [sys.executable, str(program)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "3000 train samples" in text and "10000 test samples" in text
    # summary(): Keras's table with the MLP example's parameter count
    assert "Layer (type)" in text and "(None, 784)" in text
    assert "Total params: 669,706" in text
    # fit(verbose=2): one line per epoch, with the validation figures (2700/300 split:
    # 22 batches of 128)
    epochs = int(re.search(r"epochs run: (\d+)", text).group(1))
    lines = re.findall(r"^Epoch (\d+)/3 - 22/22 - .* - val_accuracy: [\d.]+$", text, re.M)
    assert [int(e) for e in lines] == list(range(1, epochs + 1))
    correct = int(re.search(r"Correct predictions: (\d+) of 10000", text).group(1))
    assert correct >= 8500  # 88 % here after 3 epochs on 3,000 images; chance is 10 %
    accuracy = float(re.search(r"Test accuracy: ([\d.]+)", text).group(1))
    assert accuracy == correct / 10000  # evaluate's accuracy is predict's
    assert "Restored model agrees: True" in text
    assert (tmp_path / "mnist_mlp.keras.npz").is_file()
