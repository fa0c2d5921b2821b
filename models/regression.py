"""Regression building blocks: linear and polynomial regression, a two-parameter curve fit
and a small MLP fitting a function (ZOO.md section A).

    linreg        MLMM 5.3          Dense(1) on x, full-batch gradient descent
    polyreg       MLMM 5.2-5.7      Dense(1) on polynomial features, ridge penalty, closed form
    curve_fit     MLP4P tutorial 1  theta0 / ((x - theta1)^2 + 1) as a Keras layer
    function_fit  3EL lesson 2      MLP 1-30-20-1 (tanh) fitting exp(-q^2) sin(5 q)
"""

import numpy as np

from mlphys import figures
from mlphys.errors import UserError
from mlphys.registry import register_keras_objects, register_model
from mlphys.reproduce import all_of, at_least, at_most, close_to, equal, register_check

# polyreg's PolynomialFeatures, LeastSquaresFit and RidgePenalty and curve_fit's
# LorentzianPeak, imported by the builders (importing the zoo loads no Keras)
register_keras_objects("mlphys.models._regression_layers")


def _one_input(spec, name):
    if tuple(spec.input_shape) != (1,) or spec.num_outputs != 1:
        raise UserError(f"model '{name}' fits a function of one variable: it needs inputs "
                        f"of shape (1,) and one target, not {tuple(spec.input_shape)} -> "
                        f"{spec.num_outputs}")


# --- linreg: MLMM 5.3 -----------------------------------------------------------------

def _linreg_score(model, dataset, split):
    """The standard regression metrics plus the fitted intercept w0 and slope w1, and the
    least-squares solution (lstsq_w0, lstsq_w1) of the training data for comparison."""
    from mlphys.evaluation import score

    metrics, _ = score(model, dataset, split)
    kernel, bias = model.get_layer("line").get_weights()
    x, y = dataset.x_train[:, 0].astype(float), dataset.y_train[:, 0].astype(float)
    slope, intercept = np.polyfit(x, y, 1)
    return {**metrics, "w0": float(bias[0]), "w1": float(kernel[0, 0]),
            "lstsq_w0": float(intercept), "lstsq_w1": float(slope)}


@register_model("linreg", task="regression", inputs="vector", dataset="noisy_line",
                source="MLMM 5.3", epochs=23, batch_size=1024, score=_linreg_score)
def linreg(hp, spec):
    """Linear regression y = w0 + w1 x: one Dense(1) unit trained by full-batch gradient descent.

    MLMM 5.3 fits y = x + N(0, 0.1) on x = linspace(0, 2, 20) by gradient descent on
    J = 1/(2N) sum r^2 with learning rate 0.7 and reaches (w0, w1) = (0.0177, 0.9974)
    after 23 steps. Keras' MSE has no 1/2, so plain SGD with learning rate 0.35 takes the
    same steps; the batch (1024) exceeds the 20 points, so an epoch is one step. Both
    weights start at 0. 2 parameters. `mlphys evaluate` reports w0, w1 and the
    least-squares solution of the training data beside the test metrics.
    """
    import keras
    from keras import layers

    hp.Choice("optimizer", ["sgd", "adam", "rmsprop"], default="sgd")
    hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=0.35)
    inputs = keras.Input(shape=spec.input_shape, name="x")
    outputs = layers.Dense(spec.num_outputs, kernel_initializer="zeros",
                           bias_initializer="zeros", name="line")(inputs)
    return keras.Model(inputs, outputs, name="linreg")


@register_check("linreg", "(w0, w1) after 23 full-batch SGD steps, lr 0.35: near the "
                "least-squares line (|diff| < 0.05) and near (0, 1) (|diff| < 0.1)",
                expected="~ (0.0177, 0.9974) for the text's noise", quick=True)
def _linreg_converges(ctx):
    run = ctx.train("linreg", epochs=23)
    fitted = [run.metrics["w0"], run.metrics["w1"]]
    lstsq = [run.metrics["lstsq_w0"], run.metrics["lstsq_w1"]]
    return all_of(close_to(fitted, lstsq, atol=0.05, digits=4),
                  close_to(fitted, [0, 1], atol=0.1, digits=4))


# --- polyreg: MLMM 5.2, 5.5, 5.7 ------------------------------------------------------

def polynomial_coefficients(model):
    """Coefficients c_0..c_d of the fitted polynomial sum c_k x^k, in the units of x."""
    kernel, bias = model.get_layer("coefficients").get_weights()
    scale = float(model.get_layer("features").get_weights()[0]) or 1.0
    powers = np.arange(1, len(kernel) + 1)
    return np.concatenate([bias, kernel[:, 0] / scale ** powers]).astype(float)


def _polyreg_score(model, dataset, split):
    """The standard regression metrics, plus the polynomial's coefficients c0..cd in the
    units of the data (sum c_k x^k) and R^2 on the training points (train_r2)."""
    from mlphys.evaluation import regression_metrics, score

    metrics, _ = score(model, dataset, split)
    train_r2 = regression_metrics(dataset.y_train, model.predict(dataset.x_train, verbose=0))
    coefficients = {f"c{k}": float(c) for k, c in enumerate(polynomial_coefficients(model))}
    return {**metrics, "train_r2": train_r2["r2"], **coefficients}


@figures.styled
def _polyreg_figure(model, dataset, run_dir):
    """fit.png: the training points, the test points and the fitted polynomial."""
    x = np.concatenate([dataset.x_train[:, 0], dataset.x_test[:, 0]])
    grid = np.linspace(x.min(), x.max(), 400, dtype=np.float32)[:, None]
    fig = figures.new_figure(5, 3.5, layout="constrained")
    ax = fig.subplots()
    ax.plot(dataset.x_test[:, 0], dataset.y_test[:, 0], ".", color="0.6", label="test")
    ax.plot(dataset.x_train[:, 0], dataset.y_train[:, 0], "o", label="train")
    ax.plot(grid[:, 0], model.predict(grid, verbose=0)[:, 0], "-", label="fit")
    low, high = np.percentile(np.concatenate([dataset.y_train[:, 0], dataset.y_test[:, 0]]),
                              [0, 100])
    margin = 0.5 * (high - low)
    ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"polynomial of degree {len(polynomial_coefficients(model)) - 1}")
    ax.legend()
    figures.save(fig, run_dir / "fit.png")


@register_model("polyreg", task="regression", inputs="vector", dataset="stress_strain",
                source="MLMM 5.2, 5.5, 5.7", epochs=1, batch_size=1024, steps_per_epoch=50,
                search=("degree",), score=_polyreg_score, figures=_polyreg_figure,
                backends=("tensorflow",))
def polyreg(hp, spec):
    """Polynomial (ridge) regression y = sum_k c_k x^k: Dense(1) on the powers of x.

    MLMM 5.2 fits the stress-strain law sigma(eps) by a cubic, 5.5 shows a degree 15
    polynomial through 15 noisy points of sin x overfitting (train R^2 ~ 1, test R^2 << 0)
    and 5.7 cures it with an L2 (ridge) penalty. The model: PolynomialFeatures(degree)
    (x scaled by the largest |x| of the training data, so the powers lie in [-1, 1]) ->
    Dense(1) with L2 penalty `l2` on the kernel (not the bias), in float64; degree + 1
    trainable parameters. solver=lstsq (default) sets the weights to the closed-form
    ridge solution (A^T A / N + l2 P)^+ A^T y / N of the model's own loss MSE + l2 |w|^2
    in one full-batch step (the course used least squares too; gradient descent takes
    millions of steps on a degree 15 polynomial); the running sums A^T A, A^T y, N and the
    scale are non-trainable weights, so count_params() is (d+1) + (d+1)^2 + (d+1) + 2.
    solver=gradient trains the same model with the optimizer (--epochs E gives E x 50
    steps; count_params() is d + 2). `mlphys evaluate` reports the coefficients
    c0..cd in the units of x and the training R^2; the run folder gets fit.png. `mlphys
    tune polyreg -d noisy_sine` searches the degree on the validation points; add
    `--space l2=log:1e-6:1e-1` to search the ridge penalty too.
    """
    import keras
    from keras import layers

    from mlphys.models._regression_layers import (LeastSquaresFit, PolynomialFeatures,
                                                   RidgePenalty)

    degree = hp.Int("degree", 1, 20, default=3)
    l2 = hp.Float("l2", 0.0, 10.0, default=0.0)
    solver = hp.Choice("solver", ["lstsq", "gradient"], default="lstsq")
    hp.Float("learning_rate", 1e-5, 1.0, sampling="log", default=1e-2)
    if degree < 1:
        raise UserError(f"--param degree={degree}: the degree must be >= 1")
    if l2 < 0:
        raise UserError(f"--param l2={l2}: the ridge penalty must be >= 0")
    _one_input(spec, "polyreg")

    inputs = keras.Input(shape=spec.input_shape, name="x")
    powers = PolynomialFeatures(degree, name="features")(inputs)
    value = layers.Dense(1, dtype="float64", name="coefficients",
                         kernel_regularizer=RidgePenalty(l2) if l2 > 0 else None)(powers)
    outputs = layers.Activation("linear", dtype="float32", name="y")(value)
    model_class = LeastSquaresFit if solver == "lstsq" else keras.Model
    return model_class(inputs, outputs, name="polyreg")


def _polyreg_run(ctx, dataset, degree, l2=0.0, options=None):
    return ctx.train("polyreg", dataset, params={"degree": degree, "l2": l2}, options=options)


@register_check("polyreg", "noise-free stress-strain cubic: coefficients c0..c3 and sigma(0.1)",
                expected="[0, 120, -600, 1000] (atol 0.5); 7 (atol 1e-3)", quick=True)
def _polyreg_cubic(ctx):
    run = _polyreg_run(ctx, "stress_strain", 3, options={"noise": 0.0})
    coefficients = [run.metrics[f"c{k}"] for k in range(4)]
    at_point = run.model.predict(np.array([[0.1]], "float32"), verbose=0)[0, 0]
    return all_of(close_to(coefficients, [0, 120, -600, 1000], atol=0.5, digits=5),
                  close_to(at_point, 7.0, atol=1e-3))


@register_check("polyreg", "degree 15 on 15 noisy sine points: train R^2 >= 0.99, test R^2 < -1",
                expected="train R^2 ~ 1, test R^2 << 0 (text -16.4)", quick=True)
def _polyreg_overfits(ctx):
    metrics = _polyreg_run(ctx, "noisy_sine", 15).metrics
    return all_of(at_least(metrics["train_r2"], 0.99), at_most(metrics["r2"], -1.0))


@register_check("polyreg", "degree 15 with ridge l2 = 1e-3: test R^2 >= 0.6, gap to train < 0.2",
                expected="moderate l2 closes the gap", quick=True)
def _polyreg_ridge(ctx):
    metrics = _polyreg_run(ctx, "noisy_sine", 15, l2=1e-3).metrics
    return all_of(at_least(metrics["r2"], 0.6),
                  at_most(metrics["train_r2"] - metrics["r2"], 0.2))


# --- curve_fit: MLP4P tutorial 1 ------------------------------------------------------

def _curve_fit_score(model, dataset, split):
    """The standard regression metrics plus the fitted parameters theta0 and theta1."""
    from mlphys.evaluation import score

    metrics, _ = score(model, dataset, split)
    theta0, theta1 = model.get_layer("peak").get_weights()
    return {**metrics, "theta0": float(theta0), "theta1": float(theta1)}


@register_model("curve_fit", task="regression", inputs="vector", dataset="lorentzian",
                source="MLP4P tutorial 1", epochs=5, batch_size=10, score=_curve_fit_score)
def curve_fit(hp, spec):
    """Two-parameter curve fit f(x) = theta0 / ((x - theta1)^2 + 1) as a Keras layer.

    MLP4P tutorial 1 fits the Lorentzian 3 / ((x - 0.5)^2 + 1), x = 2 N(0, 1), by SGD
    with learning rate 0.2 in batches of 10, and theta -> (3.0, 0.5). The parameters
    start at (theta0_init, theta1_init) = (1, 0); 2 parameters. `mlphys evaluate` reports
    theta0 and theta1 beside the test metrics.
    """
    import keras

    from mlphys.models._regression_layers import LorentzianPeak

    hp.Choice("optimizer", ["sgd", "adam", "rmsprop"], default="sgd")
    hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=0.2)
    theta0 = hp.Float("theta0_init", -10.0, 10.0, default=1.0)
    theta1 = hp.Float("theta1_init", -10.0, 10.0, default=0.0)
    _one_input(spec, "curve_fit")
    inputs = keras.Input(shape=spec.input_shape, name="x")
    outputs = LorentzianPeak((theta0, theta1), name="peak")(inputs)
    return keras.Model(inputs, outputs, name="curve_fit")


@register_check("curve_fit", "(theta0, theta1) after 2 epochs of SGD (lr 0.2, batch 10)",
                expected="(3.0, 0.5) within 0.01", quick=True)
def _curve_fit_quick(ctx):
    metrics = ctx.train("curve_fit", epochs=2).metrics
    return close_to([metrics["theta0"], metrics["theta1"]], [3.0, 0.5], atol=0.01, digits=5)


@register_check("curve_fit", "(theta0, theta1) after the course budget (5 epochs)",
                expected="(3.0, 0.5) within 1e-3")
def _curve_fit_full(ctx):
    metrics = ctx.train("curve_fit").metrics
    return close_to([metrics["theta0"], metrics["theta1"]], [3.0, 0.5], atol=1e-3, digits=5)


# --- function_fit: 3EL lesson 2 -------------------------------------------------------

@register_model("function_fit", task="regression", inputs="vector", dataset="wave_packet",
                source="3EL lesson 2", epochs=20, batch_size=32)
def function_fit(hp, spec):
    """MLP 1-30-20-1 with tanh hidden layers fitting a function of one variable.

    3EL lesson 2 fits F(q) = exp(-q^2) sin(5 q), q ~ U(-3, 3), with layers [1, 30, 20, 1]
    (tanh, linear output), Adam with learning rate 1e-2 and batches of 32, until the MSE
    on a dense grid is below 1e-2. 30*2 + 20*31 + 21 = 701 parameters.
    """
    import keras
    from keras import layers

    units = hp.Int("units", 5, 200, default=30)
    units_2 = hp.Int("units_2", 5, 200, default=20)
    activation = hp.Choice("activation", ["tanh", "relu", "sigmoid", "elu"], default="tanh")
    hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=1e-2)
    inputs = keras.Input(shape=spec.input_shape, name="q")
    x = layers.Dense(units, activation=activation, name="hidden_1")(inputs)
    x = layers.Dense(units_2, activation=activation, name="hidden_2")(x)
    outputs = layers.Dense(spec.num_outputs, name="F")(x)
    return keras.Model(inputs, outputs, name="function_fit")


@register_check("function_fit", "parameters of 1-30-20-1", expected="701", quick=True)
def _function_fit_parameters(ctx):
    return equal(ctx.build_for("function_fit", (1,), 1, task="regression").count_params(), 701)


@register_check("function_fit", "MSE on the dense test grid after 5 epochs of 4,000 samples",
                expected="< 0.05", quick=True)
def _function_fit_quick(ctx):
    run = ctx.train("function_fit", options={"n_train": 4000}, epochs=5)
    return at_most(run.metrics["mse"], 0.05)


@register_check("function_fit", "MSE on the dense test grid (course budget)",
                expected="< 1e-2")
def _function_fit_full(ctx):
    return at_most(ctx.train("function_fit").metrics["mse"], 1e-2)
