"""Tests of nnlite.keras, the Keras API on nnlite: each item of issue 18, part 4.

Where a Keras call has a number to check, it is computed here independently: a forward
pass in float64 NumPy from ``get_weights``, Keras's loss formulas with scipy's
``log_softmax``, Keras's schedule formulas, Keras's validation split. The data are the
8x8 digits shipped with nnlite, as (n, 8, 8) images. The whole MNIST program is
``test_keras_program.py``.
"""

from __future__ import annotations

import math
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax, softmax

from nnlite import datasets, keras
from nnlite import io as nnio
from nnlite.errors import ConfigError, DataError, ModelFileError
from nnlite.keras import callbacks, layers, losses, optimizers, regularizers, utils
from nnlite.optim import Optimizer

pytestmark = pytest.mark.filterwarnings("ignore::nnlite.errors.LearnerWarning")


@pytest.fixture(scope="module")
def digits():
    d = datasets.load("digits")
    return d.X.reshape(-1, 8, 8), d.y


def mlp(*head, output="softmax", hidden=16, **compile_args):
    """Input (8, 8) → Flatten → Dense(hidden, relu) → the head → Dense(10, output)."""
    model = keras.Sequential(
        [keras.Input(shape=(8, 8)), layers.Flatten(), layers.Dense(hidden, activation="relu"),
         *head, layers.Dense(10, activation=output)]
    )  # fmt: skip
    compile_args.setdefault("optimizer", optimizers.SGD(learning_rate=0.5))
    compile_args.setdefault("loss", "sparse_categorical_crossentropy")
    compile_args.setdefault("metrics", ["accuracy"])
    if compile_args["loss"] is not None:
        model.compile(**compile_args)
    return model


def forward(model, X):
    """The network's output layer Z and A in float64 NumPy, from get_weights (reference)."""
    A = np.asarray(X, np.float64).reshape(len(X), -1)
    weights = model.get_weights()
    acts = [layer.activation for layer in model.layers if isinstance(layer, layers.Dense)]
    for (W, b), act in zip(zip(weights[::2], weights[1::2]), acts):
        Z = A @ W.astype(np.float64) + b
        A = {"relu": np.maximum(Z, 0), "identity": Z, "softmax": softmax(Z, axis=1)}[act]
    return Z, A


# ------------------------------------------------------------------ what nnlite covers


@pytest.mark.parametrize(
    "module, name",
    [(layers, "Conv2D"), (layers, "LSTM"), (layers, "BatchNormalization"),
     (layers, "Embedding"), (keras, "Model"), (optimizers, "Nadam"), (callbacks, "TensorBoard"),
     (keras.datasets, "cifar10"), (losses, "Huber"), (optimizers.schedules, "PolynomialDecay")],
)  # fmt: skip
def test_what_nnlite_does_not_teach_says_what_it_covers(module, name):
    with pytest.raises(ConfigError) as info:
        getattr(module, name)
    message = str(info.value)
    assert name in message and "nnlite teaches dense networks" in message and "\n" not in message
    if module is layers:
        assert "Dense, Flatten, Dropout, Input" in message
    assert not hasattr(module, "__wrapped__")  # Python's own look-ups stay AttributeErrors


def test_keras_import_lines_work_and_an_unknown_one_explains():
    code = (
        "from nnlite import keras\n"
        "from nnlite.keras import layers, optimizers, callbacks, models, datasets, regularizers\n"
        "from nnlite.keras.datasets import mnist\n"
        "from nnlite.keras.models import Sequential, load_model\n"
        "from nnlite.keras.optimizers.schedules import ExponentialDecay\n"
        "import sys\n"
        "assert 'rich' not in sys.modules, 'importing nnlite.keras imported rich'\n"
        "try:\n"
        "    from nnlite.keras.layers import Conv2D\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ConfigError nnlite.keras.layers has no Conv2D")


# ------------------------------------------------------------------ layers


def test_dense_defaults_to_linear_and_takes_keras_arguments():
    assert layers.Dense(10).activation == "identity"
    assert layers.Dense(10, activation="linear").activation == "identity"
    assert layers.Dense(10, input_shape=(784,)).input_shape == (784,)
    assert layers.Dense(10, input_dim=784).input_shape == (784,)
    dense = layers.Dense(4, kernel_regularizer=regularizers.l2(0.01))
    assert (dense.l1, dense.l2) == (0.0, 0.01)
    assert (layers.Dense(4, kernel_regularizer=regularizers.l1_l2(l1=0.1)).l1, 0.0) == (0.1, 0.0)
    for kwargs, word in [
        ({"use_bias": False}, "use_bias"),
        ({"kernel_initializer": "orthogonal"}, "glorot_uniform"),
        ({"activation": "swish"}, "activation"),
        ({"units": 0}, "units"),
        ({"bias_regularizer": regularizers.l2()}, "bias_regularizer"),
        ({"kernel_size": 3}, "kernel_size"),
    ]:
        args = {"units": 4, **kwargs}
        with pytest.raises(ConfigError, match=word):
            layers.Dense(**args)
    names = [layers.Dense(2).name, layers.Dense(2).name]
    assert names[0].startswith("dense") and names[0] != names[1]


def test_a_list_and_add_build_the_same_model(digits):
    X, y = digits
    keras.utils.set_random_seed(3)
    a = mlp(output="softmax")
    b = keras.Sequential()
    for layer in [layers.Flatten(input_shape=(8, 8)), layers.Dense(16, activation="relu"),
                  layers.Dense(10, activation="softmax")]:  # fmt: skip
        b.add(layer)
    keras.utils.set_random_seed(3)
    b.build()
    keras.utils.set_random_seed(0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.predict(X, verbose=0), b.predict(X, verbose=0))
    assert [type(x).__name__ for x in a.layers] == ["Flatten", "Dense", "Dense"]


def test_flatten_maps_images_to_rows(digits):
    X, _ = digits
    images = mlp(output="softmax")
    rows = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(16, activation="relu"),
                             layers.Dense(10, activation="softmax")])  # fmt: skip
    rows.set_weights(images.get_weights())
    np.testing.assert_array_equal(
        images.predict(X, verbose=0), rows.predict(X.reshape(-1, 64), verbose=0)
    )
    _, A = forward(images, X)
    np.testing.assert_allclose(images.predict(X, verbose=0), A, rtol=1e-4, atol=1e-6)
    assert images.input_shape == (None, 8, 8) and images.output_shape == (None, 10)


def test_images_without_flatten_or_of_another_shape_are_refused(digits):
    X, y = digits
    model = keras.Sequential([layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(DataError, match=r"layers\.Flatten\(\)"):
        model.fit(X, y, verbose=0)
    with pytest.raises(DataError, match=r"input shape is \(8, 8\)"):
        mlp().fit(X.reshape(-1, 4, 16), y, verbose=0)
    with pytest.raises(ConfigError, match="Flatten must come before"):
        keras.Sequential([layers.Dense(3), layers.Flatten()])
    with pytest.raises(ConfigError, match="Input belongs first"):
        keras.Sequential([layers.Dense(3), keras.Input(shape=(3,))])


def test_an_activation_layer_is_its_dense_layers_activation(digits):
    X, _ = digits
    keras.utils.set_random_seed(5)
    folded = mlp(layers.Dropout(0.0), layers.Dense(10), layers.Activation("relu"),
                 output=None, loss=None)  # fmt: skip
    keras.utils.set_random_seed(5)
    plain = mlp(layers.Dropout(0.0), layers.Dense(10, activation="relu"), output=None, loss=None)
    keras.utils.set_random_seed(0)
    np.testing.assert_array_equal(folded.predict(X, verbose=0), plain.predict(X, verbose=0))
    with pytest.raises(ConfigError, match="must follow a Dense layer without an activation"):
        keras.Sequential([layers.Dense(3, activation="relu"), layers.Softmax()])


# ------------------------------------------------------------------ compile


@pytest.mark.parametrize(
    "given, row, values",
    [
        ("adam", "adam", {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}),
        ("sgd", "sgd", {"lr": 0.01, "momentum": 0.0, "nesterov": False}),
        ("rmsprop", "rmsprop", {"lr": 0.001, "rho": 0.9, "eps": 1e-7, "momentum": 0.0}),
        ("adagrad", "adagrad", {"lr": 0.001, "eps": 1e-7}),
        ("adamw", "adamw", {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7,
                            "weight_decay": 0.004}),
        (optimizers.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6), "adam",
         {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
        (optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True), "sgd",
         {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        (optimizers.RMSprop(momentum=0.5), "rmsprop",
         {"lr": 0.001, "rho": 0.9, "eps": 1e-7, "momentum": 0.5}),
    ],
)  # fmt: skip
def test_optimizers_become_nnlite_rows_with_kerass_defaults(given, row, values):
    model = mlp(optimizer=given)
    opt, schedule = model.optimizer.to_nnlite()
    assert opt == Optimizer(row, **values).validate() and schedule is None


def test_optimizer_arguments_nnlite_lacks_are_refused():
    for make, word in [
        (lambda: optimizers.Adam(lr=0.01), "learning_rate="),
        (lambda: optimizers.Adam(amsgrad=True), "amsgrad"),
        (lambda: optimizers.SGD(clipnorm=1.0), "clipnorm"),
        (lambda: optimizers.Adam(weight_decay=0.1), "AdamW"),
        (lambda: optimizers.RMSprop(centered=True), "centered"),
        (lambda: optimizers.Adam(beta_3=0.5), "beta_3"),
        (lambda: optimizers.get("lbfgs"), "adam"),
        (lambda: mlp(optimizer=optimizers.Adam(learning_rate=-1.0)), "learning rate"),
    ]:
        with pytest.raises(ConfigError, match=word):
            make()


def keras_rate(schedule, step):
    """Keras's formulas (its docs), float64."""
    c = schedule.config
    if isinstance(schedule, optimizers.schedules.ExponentialDecay):
        p = step / c["decay_steps"]
        return c["initial_learning_rate"] * c["decay_rate"] ** (
            math.floor(p) if c["staircase"] else p
        )
    if isinstance(schedule, optimizers.schedules.InverseTimeDecay):
        return c["initial_learning_rate"] / (1 + c["decay_rate"] * step / c["decay_steps"])
    s = min(step, c["decay_steps"])
    cosine = 0.5 * (1 + math.cos(math.pi * s / c["decay_steps"]))
    return c["initial_learning_rate"] * ((1 - c["alpha"]) * cosine + c["alpha"])


@pytest.mark.parametrize(
    "schedule, name",
    [
        (optimizers.schedules.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.96), "exponential"),
        (optimizers.schedules.ExponentialDecay(0.1, 100, 0.5, staircase=True), "step"),
        (optimizers.schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5), "inverse-time"),
        (optimizers.schedules.CosineDecay(0.1, decay_steps=1000, alpha=0.1), "cosine"),
    ],
)  # fmt: skip
def test_schedules_give_kerass_rate_at_every_step(schedule, name):
    opt, nn = mlp(optimizer=optimizers.Adam(learning_rate=schedule)).optimizer.to_nnlite()
    assert nn.name == name and nn.per == "step" and opt.lr == 0.1
    for step in (0, 1, 7, 99, 100, 150, 250, 999, 1000, 5000):
        assert nn.rate(opt.lr, step) == pytest.approx(keras_rate(schedule, step), rel=1e-12)


def test_a_schedule_sets_the_rate_of_each_step_of_a_fit(digits):
    X, y = digits
    schedule = optimizers.schedules.InverseTimeDecay(0.5, decay_steps=1, decay_rate=0.1)
    model = mlp(optimizer=optimizers.SGD(learning_rate=schedule))
    model.fit(X[:320], y[:320], epochs=2, verbose=0)  # 10 steps an epoch, batch 32
    # α of each epoch's last step: updates 0..9 and 10..19 were taken before it
    assert model.network.history.lr == pytest.approx([keras_rate(schedule, 9),
                                                      keras_rate(schedule, 19)])  # fmt: skip


@pytest.mark.parametrize(
    "loss, nnlite_loss",
    [("sparse_categorical_crossentropy", "cce"), ("categorical_crossentropy", "cce"),
     ("mse", "mse"), ("mean_squared_error", "mse"), (losses.MeanSquaredError(), "mse"),
     (losses.sparse_categorical_crossentropy, "cce"),
     (losses.CategoricalCrossentropy(), "cce")],
)  # fmt: skip
def test_losses_become_nnlite_losses(loss, nnlite_loss):
    output = None if nnlite_loss == "mse" else "softmax"
    model = mlp(output=output, loss=loss)
    model.build()
    assert model.network.loss == nnlite_loss


def test_binary_crossentropy_on_one_sigmoid_unit(digits):
    X, y = digits
    model = keras.Sequential([layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    odd = (y % 2).astype(np.uint8)
    history = model.fit(X, odd, epochs=3, verbose=0)
    P = model.predict(X, verbose=0)[:, 0].astype(np.float64)
    assert history.history["accuracy"][-1] > 0.7
    loss, accuracy = model.evaluate(X, odd, verbose=0)
    assert accuracy == pytest.approx(np.mean((P >= 0.5) == odd))
    clipped = np.clip(P, 1e-7, 1 - 1e-7)
    bce = -np.mean(odd * np.log(clipped) + (1 - odd) * np.log(1 - clipped))
    assert loss == pytest.approx(bce, rel=1e-4)


def test_the_loss_must_suit_the_output_layer_and_the_targets(digits):
    X, y = digits
    with pytest.raises(ConfigError, match="from_logits=True"):
        mlp(output=None, loss="sparse_categorical_crossentropy")
    with pytest.raises(ConfigError, match="expects a linear output layer"):
        mlp(output="softmax", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(DataError, match=r"keras\.utils\.to_categorical"):
        mlp(output="softmax", loss="categorical_crossentropy").fit(X, y, verbose=0)
    with pytest.raises(DataError, match="one-hot rows go with categorical_crossentropy"):
        mlp(output="softmax").fit(X, utils.to_categorical(y), verbose=0)
    with pytest.raises(ConfigError, match="metric 'mae'"):
        mlp(output="softmax", metrics=["mae"])
    with pytest.raises(ConfigError, match="compile the model"):
        mlp(output="softmax", loss=None).fit(X, y)
    with pytest.raises(ConfigError, match="class_weight"):
        mlp(output="softmax").fit(X, y, class_weight={0: 1.0})


def test_from_logits_trains_exactly_as_a_softmax_output_and_predicts_logits(digits):
    X, y = digits
    logits = mlp(output=None, loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    probs = mlp(output="softmax", loss="sparse_categorical_crossentropy")
    ha = logits.fit(X, y, epochs=2, verbose=0)
    hb = probs.fit(X, y, epochs=2, verbose=0)
    assert ha.history == hb.history  # the same network, trained bit for bit alike
    for wa, wb in zip(logits.get_weights(), probs.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    Z, _ = forward(logits, X)
    out = logits.predict(X, verbose=0)
    np.testing.assert_allclose(out, Z, rtol=1e-4, atol=1e-4)  # logits, as Keras returns
    np.testing.assert_allclose(softmax(out, axis=1), probs.predict(X, verbose=0), atol=1e-6)
    np.testing.assert_array_equal(logits(X), out)  # model(x) too


def test_loss_objects_compute_kerass_formula():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(6, 4)) * 3
    labels = np.array([0, 3, 1, 2, 3, 0])
    want = -np.mean(log_softmax(Z, axis=1)[np.arange(6), labels])
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(labels, Z) == pytest.approx(want)
    P = softmax(Z, axis=1)
    assert losses.sparse_categorical_crossentropy(labels, P) == pytest.approx(want)
    onehot = utils.to_categorical(labels, 4)
    assert losses.CategoricalCrossentropy()(onehot, P) == pytest.approx(want)
    assert losses.MeanSquaredError()(onehot, P) == pytest.approx(np.mean((onehot - P) ** 2))


# ------------------------------------------------------------------ fit, evaluate, predict


def test_fit_uses_kerass_defaults_and_returns_a_history(digits):
    X, y = digits
    model = mlp(output="softmax")
    seen = []
    remember = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, logs)))
    history = model.fit(X[:100], y[:100], verbose=0, callbacks=[remember])
    assert history.params == {"verbose": 0, "epochs": 1, "steps": 4}  # batch 32, 1 epoch
    assert list(history.history) == ["loss", "accuracy"] and history.epoch == [0]
    assert seen == [(0, {"loss": history.history["loss"][0],
                         "accuracy": history.history["accuracy"][0]})]  # fmt: skip
    again = model.fit(X[:100], y[:100], epochs=2, verbose=0)
    assert again.epoch == [0, 1] and model.history is again  # a new History per fit
    assert len(model.network.history.loss) == 3
    plain = mlp(output="softmax", metrics=None)
    assert list(plain.fit(X[:64], y[:64], verbose=0).history) == ["loss"]


def test_validation_split_holds_out_the_last_fraction_before_shuffling(digits):
    X, y = digits
    model = mlp(output="softmax")
    history = model.fit(X[:10], y[:10], batch_size=1, validation_split=0.25, verbose=0)
    assert history.params["steps"] == 7  # floor(10·0.75): Keras's split, not ceil's 8
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    model = mlp(output="softmax", loss=losses.SparseCategoricalCrossentropy(),
                optimizer=optimizers.SGD(0.1))  # fmt: skip
    history = model.fit(X[:500], y[:500], epochs=2, validation_split=0.2, verbose=0)
    loss, accuracy = model.evaluate(X[400:500], y[400:500], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert history.history["val_accuracy"][-1] == accuracy
    with pytest.raises(DataError, match="leaves no training samples out of 1"):
        model.fit(X[:1], y[:1], validation_split=0.5, verbose=0)


def test_validation_data_and_the_metric_names_compile_gave(digits):
    X, y = digits
    model = mlp(output="softmax", metrics=["acc"])
    history = model.fit(X[:200], y[:200], validation_data=(X[200:300], y[200:300]), verbose=0,
                        callbacks=[callbacks.EarlyStopping(monitor="val_acc", patience=5)])  # fmt: skip
    assert list(history.history) == ["loss", "acc", "val_loss", "val_acc"]
    assert model.evaluate(X[:10], y[:10], verbose=0, return_dict=True).keys() == {"loss", "acc"}


def test_evaluate_returns_loss_and_accuracy_as_keras_does(digits):
    X, y = digits
    model = mlp(output="softmax")
    model.fit(X, y, epochs=2, verbose=0)
    loss, accuracy = model.evaluate(X, y, verbose=0)
    _, P = forward(model, X)
    assert accuracy == np.mean(P.argmax(axis=1) == y)
    want = -np.mean(np.log(np.clip(P[np.arange(len(y)), y], 1e-7, 1)))
    assert loss == pytest.approx(want, rel=1e-4)
    assert model.evaluate(X, y, verbose=0, return_dict=True) == {"loss": loss, "accuracy": accuracy}
    no_metrics = mlp(output="softmax", metrics=None)
    assert isinstance(no_metrics.evaluate(X, y, verbose=0), float)


def test_uint8_images_and_labels_are_converted_as_keras_converts_them(digits):
    X, y = digits
    pixels = np.rint(X * 16).astype(np.uint8)
    a, b = mlp(output="softmax"), mlp(output="softmax")
    a.fit(pixels, y.astype(np.uint8), epochs=1, verbose=0)
    b.fit(pixels.astype(np.float32), y.astype(np.int64), epochs=1, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_dropout_is_on_while_training_only(digits):
    X, y = digits
    with_drop = mlp(layers.Dropout(0.5), output="softmax")
    without = mlp(layers.Dropout(0.0), output="softmax")
    with_drop.fit(X, y, epochs=1, verbose=0)
    without.fit(X, y, epochs=1, verbose=0)
    assert not np.array_equal(with_drop.get_weights()[0], without.get_weights()[0])
    first = with_drop.predict(X, verbose=0)
    np.testing.assert_array_equal(first, with_drop.predict(X, verbose=0))
    _, P = forward(with_drop, X)  # no mask, no 1/(1 − p) scale
    np.testing.assert_allclose(first, P, rtol=1e-4, atol=1e-6)
    assert with_drop.network.stack[1].rate == 0.5
    with pytest.raises(ConfigError, match="Dropout must come before a Dense layer"):
        keras.Sequential([layers.Dense(3), layers.Dropout(0.1)]).build((None, 4))
    with pytest.raises(ConfigError, match="seed"):
        layers.Dropout(0.1, seed=3)


def test_kernel_regularizer_adds_kerass_penalty_to_the_loss(digits):
    X, y = digits
    model = keras.Sequential([layers.Flatten(input_shape=(8, 8)),
                              layers.Dense(10, activation="softmax",
                                           kernel_regularizer=regularizers.L1L2(l1=1e-3, l2=1e-2))])  # fmt: skip
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, y, verbose=0)
    W, _ = model.get_weights()
    _, P = forward(model, X)
    data = -np.mean(np.log(P[np.arange(len(y)), y]))
    penalty = 1e-3 * np.abs(W).sum() + 1e-2 * np.square(W.astype(np.float64)).sum()
    assert model.evaluate(X, y, verbose=0)[0] == pytest.approx(data + penalty, rel=1e-4)
    assert (model.network.layers[0].l1, model.network.layers[0].l2) == (1e-3, 1e-2)


def test_keras_callbacks_see_kerass_epochs_and_stop_the_fit(digits):
    X, y = digits

    class Stop(callbacks.Callback):
        def __init__(self):
            self.events = []

        def on_train_begin(self, logs=None):
            self.events.append(("begin", self.params["epochs"]))

        def on_epoch_end(self, epoch, logs=None):
            self.events.append((epoch, sorted(logs)))
            if epoch == 1:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            self.events.append(("end", self.model is model))

    model = mlp(output="softmax")
    model.fit(X[:64], y[:64], epochs=1, verbose=0)  # the next fit counts from 0 again
    stop = Stop()
    history = model.fit(X[:64], y[:64], epochs=5, verbose=0, callbacks=[stop])
    assert stop.events == [("begin", 5), (0, ["accuracy", "loss"]), (1, ["accuracy", "loss"]),
                           ("end", True)]  # fmt: skip
    assert history.epoch == [0, 1] and not model.network.history.interrupted


def test_keras_early_stopping_and_checkpoint_say_what_they_did(digits, tmp_path, capsys):
    X, y = digits
    from nnlite.ui import terminal

    model = mlp(output="softmax", hidden=32, optimizer=optimizers.Adam(learning_rate=0.05))
    es = callbacks.EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "best-{epoch:02d}.keras"), save_best_only=True,
                                     verbose=1)  # fmt: skip
    old, terminal.console = terminal.console, terminal.Console(width=200)
    try:
        history = model.fit(X[:60], y[:60], epochs=30, batch_size=10, verbose=0,
                            validation_data=(X[1000:1400], y[1000:1400]), callbacks=[es, ckpt])  # fmt: skip
    finally:
        terminal.console = old
    out = capsys.readouterr().out
    stopped = len(history.epoch)
    assert stopped < 30 and f"Epoch {stopped}: early stopping" in out
    assert f"Restoring model weights from the end of the best epoch: {es.best_epoch + 1}." in out
    best = keras.models.load_model(ckpt.saved[-1])
    assert ckpt.saved[-1].name == f"best-{es.best_epoch + 1:02d}.keras.npz"
    assert f"saving model to {ckpt.saved[-1]}" in out
    for a, b in zip(best.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_summary_prints_kerass_table(capsys):
    model = keras.Sequential([keras.Input(shape=(28, 28)), layers.Flatten(),
                              layers.Dense(128, activation="relu"), layers.Dropout(0.2),
                              layers.Dense(10)], name="mnist_mlp")  # fmt: skip
    lines = []
    assert model.summary(print_fn=lines.append) is None
    text = "\n".join(lines)
    assert 'Model: "mnist_mlp"' in text
    for cells in (["Layer (type)", "Output Shape", "Param #"],
                  ["(Flatten)", "(None, 784)", " 0 "], ["(Dense)", "(None, 128)", "100,480"],
                  ["(Dropout)", "(None, 128)"], ["(Dense)", "(None, 10)", "1,290"]):  # fmt: skip
        assert any(all(c in line for c in cells) for line in lines), cells
    assert "Total params: 101,770 (397.54 KB)" in text
    assert "Trainable params: 101,770 (397.54 KB)" in text
    assert "Non-trainable params: 0 (0.00 B)" in text
    unbuilt = []
    keras.Sequential([layers.Dense(3)]).summary(print_fn=unbuilt.append)
    assert any("0 (unbuilt)" in line for line in unbuilt)


# ------------------------------------------------------------------ weights and files


def test_get_and_set_weights_in_kerass_order(digits):
    X, _ = digits
    model = mlp(output="softmax")
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(64, 16), (16,), (16, 10), (10,)]
    assert model.count_params() == sum(w.size for w in weights)
    weights[2][...] = 0.25
    model.set_weights(weights)
    _, P = forward(model, X)
    np.testing.assert_allclose(model.predict(X, verbose=0), P, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(model.layers[2].get_weights()[0], weights[2])
    with pytest.raises(ConfigError, match="needs 4 arrays"):
        model.set_weights(weights[:3])
    with pytest.raises(ConfigError, match=r"shape \(16, 10\)"):
        model.set_weights([weights[0], weights[1], weights[2].T, weights[3]])
    assert keras.Sequential([layers.Dense(3)]).get_weights() == []


def test_save_and_load_model_round_trip_in_nnlites_own_format(digits, tmp_path):
    X, y = digits
    model = mlp(layers.Dropout(0.25), output=None,
                loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                optimizer=optimizers.Adam(learning_rate=optimizers.schedules.CosineDecay(0.01, 50)))  # fmt: skip
    model.fit(X[:200], y[:200], epochs=2, verbose=0)
    path = model.save(tmp_path / "digits.keras")
    assert path == tmp_path / "digits.keras.npz" and not (tmp_path / "digits.keras").exists()
    with np.load(path, allow_pickle=False) as archive:  # no pickle: plain arrays only
        assert all(archive[k].dtype != object for k in archive.files)
    for name in ("digits.keras", "digits.keras.npz"):
        back = keras.models.load_model(tmp_path / name)
        np.testing.assert_array_equal(back.predict(X, verbose=0), model.predict(X, verbose=0))
        assert [x.name for x in back.layers] == [x.name for x in model.layers]
        assert back.optimizer.get_config() == model.optimizer.get_config()
        assert back.metrics_names == ["loss", "accuracy"]
        assert back.evaluate(X, y, verbose=0) == model.evaluate(X, y, verbose=0)
    back.fit(X[:64], y[:64], verbose=0)  # trains on, compiled as it was
    uncompiled = keras.models.load_model(path, compile=False)
    np.testing.assert_array_equal(uncompiled.predict(X[:5], verbose=0),
                                  model.predict(X[:5], verbose=0))  # fmt: skip
    with pytest.raises(ConfigError, match="compile the model"):
        uncompiled.evaluate(X, y)
    with pytest.raises(Exception, match="exists"):
        model.save(path, overwrite=False)


def test_load_model_refuses_what_is_not_an_nnlite_keras_model(tmp_path, digits):
    with zipfile.ZipFile(tmp_path / "real.keras", "w") as z:  # what Keras itself writes
        z.writestr("config.json", "{}")
    for path in (tmp_path / "real.keras", tmp_path / "missing.keras"):
        with pytest.raises(ModelFileError) as info:
            keras.models.load_model(path)
        assert "\n" not in str(info.value)
    model = mlp(output="softmax")
    model.build()
    network = model.network
    network.extra = {"keras": {**model.get_config(), "layers": model.get_config()["layers"][:2]}}
    nnio.save(network, tmp_path / "tampered.npz", extra=network.extra)
    with pytest.raises(ModelFileError, match="damaged Keras record"):
        keras.models.load_model(tmp_path / "tampered.npz")
    network.extra = {"keras": {**model.get_config(), "input_shape": [9, 9]}}
    nnio.save(network, tmp_path / "shape.npz", extra=network.extra)
    with pytest.raises(ModelFileError, match="input shape"):
        keras.models.load_model(tmp_path / "shape.npz")
    plain = nnio.load(nnio.save(network, tmp_path / "plain.npz", extra={}))
    back = keras.models.load_model(tmp_path / "plain.npz")  # an nnlite model: Dense layers
    np.testing.assert_array_equal(back.predict(digits[0].reshape(-1, 64), verbose=0),
                                  plain.predict(digits[0].reshape(-1, 64)))  # fmt: skip


# ------------------------------------------------------------------ datasets and utils


def test_load_data_returns_kerass_uint8_arrays(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([9, 0, 3, 1, 2], np.uint8)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()

    def idx(array):
        dims = b"".join(d.to_bytes(4, "big") for d in array.shape)
        return (0x0800 | array.ndim).to_bytes(4, "big") + dims + array.tobytes()

    for stem, array in [("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels),
                        ("t10k-images-idx3-ubyte", images[:2]),
                        ("t10k-labels-idx1-ubyte", labels[:2])]:  # fmt: skip
        (folder / stem).write_bytes(idx(array))
    with pytest.warns(UserWarning, match="not the published Fashion-MNIST files"):
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data(tmp_path)
    assert x_train.dtype == np.uint8 and x_train.shape == (5, 28, 28)
    np.testing.assert_array_equal(x_train, images)  # every pixel value back, exactly
    np.testing.assert_array_equal(y_train, labels)
    assert y_test.dtype == np.uint8 and x_test.shape == (2, 28, 28)
    with pytest.raises(DataError) as info:
        keras.datasets.mnist.load_data(tmp_path / "nowhere")
    assert "\n" not in str(info.value) and "nnlite data download mnist" in str(info.value)


def test_to_categorical_and_the_seed():
    np.testing.assert_array_equal(utils.to_categorical([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert utils.to_categorical(np.array([[1], [0]])).dtype == np.float32
    with pytest.raises(DataError, match="label 3"):
        utils.to_categorical([3], 3)
    keras.utils.set_random_seed(7)
    a = keras.Sequential([layers.Dense(2, input_shape=(3,))]).get_weights()
    b = keras.Sequential([layers.Dense(2, input_shape=(3,))]).get_weights()
    keras.utils.set_random_seed(8)
    c = keras.Sequential([layers.Dense(2, input_shape=(3,))]).get_weights()
    keras.utils.set_random_seed(0)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


# ------------------------------------------------------------------ hostile records

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


def _paths(record, prefix=()):
    """Every place in a JSON record: (path of keys and indices)."""
    yield prefix
    if isinstance(record, dict):
        for key, value in record.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(record, list):
        for index, value in enumerate(record):
            yield from _paths(value, (*prefix, index))


@pytest.fixture(scope="module")
def saved_record(tmp_path_factory):
    model = mlp(layers.Dropout(0.2), output=None,
                loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                optimizer=optimizers.Adam(learning_rate=optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)),
                hidden=4)  # fmt: skip
    model.build()
    return model.network, model.get_config()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_damaged_keras_record_is_one_line_never_a_crash(saved_record, tmp_path_factory, data):
    import copy

    network, record = saved_record
    record = copy.deepcopy(record)
    places = list(_paths(record))[1:]
    path = data.draw(st.sampled_from(places))
    value = data.draw(_JSON)
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    folder = tmp_path_factory.mktemp("hostile")
    nnio.save(network, folder / "m.npz", extra={"keras": record})
    try:
        model = keras.models.load_model(folder / "m.npz")
    except ModelFileError as exc:
        assert "\n" not in str(exc) and "m.npz" in str(exc)
    else:  # accepted: a working model over the same network
        sample = model.input_shape[1:]  # the record may say (64,) for the same network
        assert math.prod(sample) == 64
        assert model.predict(np.zeros((2, *sample)), verbose=0).shape == (2, 10)


def test_mnist_load_data_is_the_idx_files_bytes_within_the_memory_budget():
    import peak_memory
    from test_keras_program import MNIST_DIR, MNIST_FILES

    if not all((MNIST_DIR / name).is_file() for name in MNIST_FILES):
        pytest.skip(f"real MNIST not found in {MNIST_DIR} (set NNLITE_TEST_MNIST to its folder)")
    if not peak_memory.available():
        pytest.skip("peak resident memory is measured on Linux only")
    outcome, peak = peak_memory.peak_growth(lambda: keras.datasets.mnist.load_data(MNIST_DIR))
    (x_train, y_train), (x_test, y_test) = outcome
    legit = sum(a.nbytes for a in (x_train, y_train, x_test, y_test))  # 52 MiB
    assert peak <= 4 * legit + 300 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    np.testing.assert_array_equal(x_train, datasets.read_idx(MNIST_DIR / MNIST_FILES[0]))
    np.testing.assert_array_equal(y_test, datasets.read_idx(MNIST_DIR / MNIST_FILES[3]))
