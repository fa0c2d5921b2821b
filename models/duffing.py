"""The Duffing inverse problem of 3EL lesson 3: oscillator parameters from its response."""

import numpy as np

from mlphys.errors import UserError
from mlphys.registry import register_model
from mlphys.reproduce import Outcome, all_of, at_most, equal, register_check
from mlphys.models._heads import output_layer


def duffing_score(model, dataset, split="test"):
    """The standard regression metrics plus, for each target (omega0, gamma, epsilon),
    its RMSE (`rmse_omega0`, ...) and R^2 (`r2_omega0`, ...: 0 is no better than guessing
    the prior mean, so the R^2 compare parameters whose ranges differ by a factor 13)."""
    from mlphys.evaluation import score

    metrics, _ = score(model, dataset, split)
    x, y = dataset.split(split)
    predicted = np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=float)
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    predicted = predicted.reshape(len(predicted), -1)
    names = dataset.provenance.get("targets") or [f"target_{i}" for i in range(y.shape[1])]
    for i, name in enumerate(names):
        error = predicted[:, i] - y[:, i]
        variance = y[:, i].var()
        metrics[f"rmse_{name}"] = float(np.sqrt(np.mean(error ** 2)))
        metrics[f"r2_{name}"] = float(1 - np.mean(error ** 2) / variance) if variance > 0 \
            else float("nan")
    return metrics


@register_model("duffing", task="regression", inputs="any", dataset="duffing",
                source="3EL lesson 3", epochs=7, batch_size=32, score=duffing_score,
                search=("learning_rate",))
def duffing(hp, spec):
    """Inverse problem: (omega0, gamma, epsilon) of a driven Duffing oscillator from |z|.

    variant=mlp (default, dataset `duffing`): the course's MLP [50, 100, 3], tanh hidden
    layer, linear output: 50*100 + 100 + 100*3 + 3 = 5,403 parameters (an image input is
    flattened). variant=cnn (dataset `duffing_sweep`, 50x50 images of the response to 50
    forces): four Conv2D of [30, 30, 30, 10] channels, kernel 3, stride 2, valid, tanh
    (50 -> 24 -> 11 -> 5 -> 2) -> Flatten -> Dense(50, tanh) -> Dense(3): 21,473
    parameters. Adam 1e-3, batch 32, MSE on the unstandardised targets (as in the course;
    the score adds the RMSE and R^2 of each parameter). The course trained 2000 batches of
    32 fresh curves; the default 7 epochs of 9,000 stored curves make 1,974 batches.
    """
    import keras
    from keras import layers

    variant = hp.Choice("variant", ["mlp", "cnn"], default="mlp")
    hidden = hp.Int("hidden_units", 10, 500, sampling="log", default=100)
    activation = hp.Choice("activation", ["tanh", "relu"], default="tanh")
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3)

    if variant == "mlp":
        inputs = keras.Input(shape=spec.input_shape, name="response")
        x = layers.Flatten(name="flatten")(inputs) if len(spec.input_shape) > 1 else inputs
        x = layers.Dense(hidden, activation=activation, name="hidden")(x)
        return keras.Model(inputs, output_layer(spec, name="parameters")(x),
                           name="duffing_mlp")

    if len(spec.input_shape) != 3:
        raise UserError("duffing: variant=cnn reads images of responses (forces x times); "
                        "train it on them: -d duffing_sweep -p variant=cnn")
    side = min(spec.input_shape[:2])
    for _ in range(4):
        side = (side - 3) // 2 + 1
    if side < 1:
        raise UserError(f"duffing: images of {min(spec.input_shape[:2])} pixels are too "
                        "small for four 3x3 convolutions of stride 2; give at least 31 "
                        "forces and points (e.g. the default 50x50 of duffing_sweep)")
    inputs = keras.Input(shape=spec.input_shape, name="response_image")
    x = inputs
    for i, channels in enumerate([30, 30, 30, 10]):
        x = layers.Conv2D(channels, 3, strides=2, padding="valid", activation=activation,
                          name=f"conv_{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(50, activation=activation, name="dense")(x)
    return keras.Model(inputs, output_layer(spec, name="parameters")(x), name="duffing_cnn")


# --- reproduction checks ------------------------------------------------------------------

@register_check("duffing", "parameters: MLP [50,100,3]; CNN on 50x50", expected="5,403; 21,473",
                quick=True)
def _duffing_parameters(ctx):
    mlp = ctx.build_for("duffing", (50,), 3, task="regression", target_shape=(3,))
    cnn = ctx.build_for("duffing", (50, 50, 1), 3, task="regression", target_shape=(3,),
                        params={"variant": "cnn"})
    return all_of(equal(mlp.count_params(), 5_403), equal(cnn.count_params(), 21_473))


@register_check("duffing", "MLP test MSE after 3 epochs of 2,000 curves",
                expected="<= 0.03", quick=True)
def _duffing_quick(ctx):
    run = ctx.train("duffing", options={"n_train": 2000, "n_test": 500}, epochs=3)
    return at_most(run.metrics["mse"], 0.03)


def _per_parameter(metrics):
    return ", ".join(f"{name} RMSE {metrics[f'rmse_{name}']:.3g} (R^2 {metrics[f'r2_{name}']:.2f})"
                     for name in ("omega0", "gamma", "epsilon"))


@register_check("duffing", "MLP test MSE after ~2000 batches of 32 (course ~1e-2)",
                expected="<= 0.01; per-parameter error, epsilon hardest (lowest R^2)")
def _duffing_mlp(ctx):
    metrics = ctx.train("duffing").metrics
    outcome = at_most(metrics["mse"], 0.01)
    hardest = min(("omega0", "gamma", "epsilon"), key=lambda n: metrics[f"r2_{n}"])
    return Outcome(f"{outcome.obtained}; {_per_parameter(metrics)}",
                         outcome.passed and hardest == "epsilon")


@register_check("duffing", "CNN on the force sweep (noise 0.5), 10 epochs of 3,600: test "
                "MSE; epsilon R^2 (the MLP at one force: ~0.1)",
                expected="<= 0.01; epsilon R^2 >= 0.3")
def _duffing_cnn(ctx):
    metrics = ctx.train("duffing", "duffing_sweep", params={"variant": "cnn"},
                        epochs=10).metrics
    outcome = at_most(metrics["mse"], 0.01)
    return Outcome(f"{outcome.obtained}; {_per_parameter(metrics)}",
                   outcome.passed and metrics["r2_epsilon"] >= 0.3)
