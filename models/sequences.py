"""Recurrent networks on sequences: the coupled-particle LSTMs of MLP4P tutorials 6-7 and
the SimpleRNN / GRU / LSTM comparison of MLMM 8."""

import numpy as np

from mlphys.registry import register_model
from mlphys.reproduce import Outcome, all_of, at_most, equal, register_check
from mlphys.models._heads import output_layer


def _predicted_part(dataset, y):
    """The time steps a sequence model must really predict: those after the observed
    window (`observed_steps` in the provenance: task=predict), else all of them."""
    observed = int(dataset.provenance.get("observed_steps") or 0)
    if y.ndim == 3 and 0 < observed < y.shape[1]:
        return slice(observed, None)
    return slice(None)


def sequence_score(model, dataset, split="test"):
    """The standard regression metrics plus the comparison with predicting zero.

    `mse_predicted`: the MSE on the steps to predict (for task=predict, the unobserved
    second half; otherwise every step); `mse_zero`: the same for the prediction 0 (the mean
    square of the targets there); `mse_ratio` = mse_predicted / mse_zero (1: no better than
    zero, 0: perfect).
    """
    from mlphys.evaluation import score

    metrics, _ = score(model, dataset, split)
    x, y = dataset.split(split)
    predicted = np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=float)
    y = np.asarray(y, dtype=float)
    part = _predicted_part(dataset, y)
    if y.ndim == 3:
        y, predicted = y[:, part], predicted.reshape(y.shape)[:, part]
    mse = float(np.mean((predicted.reshape(y.shape) - y) ** 2))
    zero = float(np.mean(y ** 2))
    metrics.update(mse_predicted=mse, mse_zero=zero,
                   mse_ratio=mse / zero if zero > 0 else float("nan"))
    return metrics


@register_model("lstm_particles", task="regression", inputs="sequence", dataset="particles",
                source="MLP4P tutorials 6-7", epochs=6, batch_size=50, score=sequence_score,
                search=("units", "lstm_layers", "learning_rate"))
def lstm_particles(hp, spec):
    """LSTM(20, return_sequences) -> Dense(1): a hidden particle's trajectory from another's.

    Task 1 (MLP4P tutorial 6, the default: dataset `particles`, task=infer): from x0(t)
    infer x1(t), one LSTM(20) returning its whole sequence and a Dense(1) at every step:
    4*(20*(1+20) + 20) + 21 = 1,781 parameters. Task 2 (tutorial 7: `-o task=predict -p
    lstm_layers=2`): x0 observed on [0, T/2) (zeros after), predict it on [T/2, T] with two
    stacked LSTM(20): 5,061 parameters. Batch 50, MSE, Adam 1e-3; the default 6 epochs of
    9,000 trajectories are 1,080 batches (the course: 1000 batches). Sequences of any
    length and number of features; the output has the targets' number of features, at
    every step for a target sequence, once (from the last state) for a target vector.
    """
    import keras
    from keras import layers

    lstm_layers = hp.Int("lstm_layers", 1, 3, default=1)
    units = hp.Int("units", 5, 200, sampling="log", default=20)
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3)

    sequence_out = len(spec.target_shape) >= 2  # a target vector: the last state only
    inputs = keras.Input(shape=spec.input_shape, name="observed")
    x = inputs
    for i in range(lstm_layers):
        last = i == lstm_layers - 1
        x = layers.LSTM(units, return_sequences=sequence_out or not last,
                        name=f"lstm_{i + 1}")(x)
    outputs = output_layer(spec, name="trajectory")(x)  # Dense(1) applied at every step
    return keras.Model(inputs, outputs, name="lstm_particles")


CELLS = {"simple_rnn": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}


@register_model("rnn", task="regression", inputs="sequence", dataset="particles_forecast",
                source="MLMM 8", epochs=5, batch_size=32, score=sequence_score,
                search=("cell", "units", "learning_rate"))
def rnn(hp, spec):
    """One recurrent layer (SimpleRNN, GRU or LSTM, 100 units) -> Dense(1), as in MLMM 8.

    On 4 features: SimpleRNN(100) has 4*100 + 100*100 + 100 = 10,500 parameters (+ 101 for
    the Dense(1): 10,601; the course counts 10,600 without the output bias), LSTM(100)
    4 * 10,500 = 42,000 (+ 101), GRU(100) 31,800 (+ 101; Keras' reset_after form has two
    bias vectors). The default dataset `particles_forecast` reads the positions and
    velocities of two coupled particles (4 features) and forecasts x0 ten steps ahead. The
    layer returns only its last state for a target vector, its whole sequence (the Dense
    applied at every step) for a target sequence.
    """
    import keras
    from keras import layers

    cell = hp.Choice("cell", ["simple_rnn", "gru", "lstm"], default="lstm")
    units = hp.Int("units", 5, 500, sampling="log", default=100)
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3)

    sequence_out = len(spec.target_shape) >= 2
    inputs = keras.Input(shape=spec.input_shape, name="sequence")
    recurrent = getattr(layers, CELLS[cell])
    x = recurrent(units, return_sequences=sequence_out, name=cell)(inputs)
    outputs = output_layer(spec)(x)
    return keras.Model(inputs, outputs, name=f"rnn_{cell}")


# --- reproduction checks ------------------------------------------------------------------

def _ratio(metrics, threshold):
    outcome = at_most(metrics["mse_ratio"], threshold, digits=3)
    return Outcome(f"{outcome.obtained} (MSE {metrics['mse_predicted']:.3g} vs zero "
                         f"{metrics['mse_zero']:.3g})", outcome.passed)


@register_check("lstm_particles", "parameters: 1 and 2 LSTM(20) + Dense(1)",
                expected="1,781; 5,061", quick=True)
def _lstm_parameters(ctx):
    counts = [ctx.build_for("lstm_particles", (60, 1), 1, task="regression",
                            target_shape=(60, 1), params={"lstm_layers": layers}).count_params()
              for layers in (1, 2)]
    return all_of(equal(counts[0], 1_781), equal(counts[1], 5_061))


@register_check("lstm_particles", "task 1 (infer x1), 3 epochs of 2,000 at learning rate "
                "1e-2: MSE / MSE(zero)", expected="<= 0.5", quick=True)
def _lstm_infer_quick(ctx):
    run = ctx.train("lstm_particles", options={"n_train": 2000, "n_test": 200},
                    params={"learning_rate": 1e-2}, epochs=3)
    return _ratio(run.metrics, 0.5)


@register_check("lstm_particles", "task 1 (infer x1), ~1000 batches of 50: MSE / MSE(zero)",
                expected="<= 0.15")
def _lstm_infer(ctx):
    return _ratio(ctx.train("lstm_particles").metrics, 0.15)


@register_check("lstm_particles", "task 2 (predict x0 on [T/2,T]), ~1000 batches of 50, two "
                "LSTM(20): MSE / MSE(zero) on the second half", expected="<= 0.05")
def _lstm_predict(ctx):
    run = ctx.train("lstm_particles", options={"task": "predict"},
                    params={"lstm_layers": 2})
    return _ratio(run.metrics, 0.05)


@register_check("rnn", "parameters on 4 features: SimpleRNN, GRU, LSTM (100) + Dense(1)",
                expected="10,601; 31,901; 42,101", quick=True)
def _rnn_parameters(ctx):
    counts = [ctx.build_for("rnn", (60, 4), 1, task="regression", target_shape=(1,),
                            params={"cell": cell}).count_params()
              for cell in ("simple_rnn", "gru", "lstm")]
    return all_of(*(equal(c, e) for c, e in zip(counts, (10_601, 31_901, 42_101))))


@register_check("rnn", "forecast x0 after 2 epochs of 1,000 (LSTM): MSE / MSE(zero)",
                expected="<= 0.5", quick=True)
def _rnn_quick(ctx):
    run = ctx.train("rnn", options={"n_train": 1000, "n_test": 200}, epochs=2)
    return _ratio(run.metrics, 0.5)


@register_check("rnn", "forecast x0, 5 epochs of 3,600, each cell: MSE / MSE(zero)",
                expected="<= 0.02 for SimpleRNN, GRU and LSTM")
def _rnn_cells(ctx):
    options = {"n_train": 4000, "n_test": 1000}
    return all_of(*(_ratio(ctx.train("rnn", params={"cell": cell}, options=options).metrics,
                           0.02) for cell in ("simple_rnn", "gru", "lstm")))
