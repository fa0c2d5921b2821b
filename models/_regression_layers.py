"""The Keras classes of the regression building blocks (mlphys.models.regression):
polyreg's `PolynomialFeatures` layer, its closed-form `LeastSquaresFit` model and the
float64 `RidgePenalty` (MLMM 5.2-5.7), and curve_fit's `LorentzianPeak` layer (MLP4P
tutorial 1).

This module imports Keras at its top: the zoo module imports it inside its builders only,
and `mlphys.registry.define_keras_objects` imports it before a saved run is reopened, so
`mlphys list` and `mlphys info` never load TensorFlow. The classes keep the registered
names "mlphys>PolynomialFeatures", "mlphys>LeastSquaresFit", "mlphys>RidgePenalty" and
"mlphys>LorentzianPeak" of earlier releases, so their run folders reopen.
"""

import keras
import numpy as np
from keras import ops

import mlphys.compat as compat


# --- polyreg: MLMM 5.2, 5.5, 5.7 ------------------------------------------------------

@keras.saving.register_keras_serializable(package="mlphys")
class PolynomialFeatures(keras.layers.Layer):
    """x (N, 1) -> (u, u^2, ..., u^degree) (N, degree), u = x / scale, in float64.

    `scale` is a non-trainable weight set once, on the first training batch, to the
    largest |x| in it: the largest of all the training data in a full-batch fit (the
    polyreg default), so every feature lies in [-1, 1] and the normal equations stay
    well conditioned up to degree ~20. It is saved with the model. A coefficient w_k
    of u^k is w_k / scale^k in the units of x; a ridge penalty acts on the w_k.
    """

    def __init__(self, degree, **kwargs):
        kwargs.setdefault("dtype", "float64")
        super().__init__(**kwargs)
        self.degree = int(degree)

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(), initializer="zeros",
                                     trainable=False)

    def call(self, x, training=False):
        if training:  # adapt the scale once, on the first batch seen in training
            largest = ops.maximum(ops.max(ops.abs(x)), 1e-12)
            self.scale.assign(ops.where(self.scale > 0, self.scale, largest))
        u = x / ops.where(self.scale > 0, self.scale, ops.ones_like(self.scale))
        return ops.cumprod(ops.repeat(u, self.degree, axis=-1), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.degree)

    def get_config(self):
        return {**super().get_config(), "degree": self.degree}


@keras.saving.register_keras_serializable(package="mlphys")
class LeastSquaresFit(keras.Model):
    """A functional model features -> Dense(1) whose `fit` solves for the Dense layer
    (named "coefficients") in closed form instead of taking gradient steps.

    Every training batch adds A^T W A and A^T W y to running sums (A = [1, features],
    W the sample weights) and sets (bias, kernel) to the ridge solution

        (A^T W A / N + l2 P)^+ A^T W y / N,   P = diag(0, 1, ..., 1),

    the minimiser of the model's own loss, MSE + l2 |kernel|^2 (the Dense layer's L2
    regulariser; the bias is not penalised), in float64. ^+ is the pseudo-inverse, so an
    under-determined fit (degree + 1 > points, l2 = 0) gets the minimum-norm solution.
    After each full pass over the training data the weights are the exact solution on
    all of it, whatever the batch size. The features layer is named "features".
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = self.get_layer("coefficients").kernel.shape[0] + 1
        self.gram = self.add_weight(name="gram", shape=(size, size), dtype="float64",
                                    initializer="zeros", trainable=False)
        self.moment = self.add_weight(name="moment", shape=(size, 1), dtype="float64",
                                      initializer="zeros", trainable=False)
        self.count = self.add_weight(name="count", shape=(), dtype="float64",
                                     initializer="zeros", trainable=False)

    def compile(self, *args, **kwargs):
        """Compile as usual; the optimizer takes no steps but is built, so that the
        saved model has the optimizer state that `load_model` expects."""
        super().compile(*args, **kwargs)
        if self.optimizer is not None:
            self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):  # load_model recompiles through `compile`
        self.compile(**keras.saving.deserialize_keras_object(config))

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        linear = self.get_layer("coefficients")
        features = ops.cast(self.get_layer("features")(x, training=True), "float64")
        design = ops.concatenate([ops.ones_like(features[:, :1]), features], axis=1)
        weight = (ops.ones_like(design[:, :1]) if sample_weight is None else
                  ops.reshape(ops.cast(sample_weight, "float64"), (-1, 1)))
        target = ops.reshape(ops.cast(y, "float64"), (-1, 1))
        self.gram.assign_add(ops.matmul(ops.transpose(design * weight), design))
        self.moment.assign_add(ops.matmul(ops.transpose(design * weight), target))
        self.count.assign_add(ops.cast(ops.shape(design)[0], "float64"))
        l2 = getattr(linear.kernel_regularizer, "l2", 0.0)
        penalty = np.diag([0.0] + [float(l2)] * (self.gram.shape[0] - 1))
        solution = ops.matmul(compat.pinv(self.gram / self.count + penalty),
                              self.moment / self.count)
        linear.bias.assign(ops.cast(solution[0], linear.bias.dtype))
        linear.kernel.assign(ops.cast(solution[1:], linear.kernel.dtype))
        return self.test_step(data)  # loss and metrics of the solved model


@keras.saving.register_keras_serializable(package="mlphys")
class RidgePenalty(keras.regularizers.L2):
    """l2 * sum(w^2) of float64 weights, returned in float32 like the rest of the loss."""

    def __call__(self, x):
        return ops.cast(super().__call__(x), "float32")


# --- curve_fit: MLP4P tutorial 1 ------------------------------------------------------

@keras.saving.register_keras_serializable(package="mlphys")
class LorentzianPeak(keras.layers.Layer):
    """f(x) = theta0 / ((x - theta1)^2 + 1): a Keras layer with the two weights
    theta0 (height) and theta1 (position), starting from `initial`."""

    def __init__(self, initial=(1.0, 0.0), **kwargs):
        super().__init__(**kwargs)
        self.initial = tuple(float(v) for v in initial)

    def build(self, input_shape):
        init = keras.initializers.Constant
        self.theta0 = self.add_weight(name="theta0", shape=(),
                                      initializer=init(self.initial[0]))
        self.theta1 = self.add_weight(name="theta1", shape=(),
                                      initializer=init(self.initial[1]))

    def call(self, x):
        return self.theta0 / ((x - self.theta1) ** 2 + 1)

    def get_config(self):
        return {**super().get_config(), "initial": list(self.initial)}
