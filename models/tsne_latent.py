"""The convolutional autoencoder of MLP4P homework 6 and the t-SNE map of its bottleneck.

The baseline topology of the Grand Autoencoder Challenge squeezes 27x27 images through
3x3x1 = 9 numbers. Trained on squares and 45-degree rotated squares, with no labels, the
9-neuron code still separates the two shapes: `mlphys embed RUN --layer bottleneck`
(t-SNE, perplexity 20) shows two clusters, coloured by the labels the dataset keeps.
"""

import numpy as np

from mlphys.errors import UserError
from mlphys.registry import register_keras_objects, register_model
from mlphys.reproduce import Outcome, all_of, at_least, at_most, register_check


# the Autoencoder class, imported by the builder (importing the zoo loads no Keras)
register_keras_objects("mlphys.models._tsne_layers")


def score_autoencoder(model, dataset, split="test", n=2000):
    """Reconstruction MSE of a split, the MSE of the mean training image (a baseline), and
    the 10-NN accuracy of the bottleneck codes by class (leave-one-out, first n samples;
    left out for data without classes)."""
    from mlphys.embedding import colours_of, separation

    x, y = dataset.split(split)
    if len(x) == 0:
        raise UserError(f"the {split} split of '{dataset.name}' is empty")
    x = np.asarray(x, dtype=np.float32)
    mean_image = np.mean(dataset.x_train, axis=0)
    metrics = {"mse": float(model.evaluate(x, x, batch_size=256, verbose=0,
                                           return_dict=True)["loss"]),
               "mean_image_mse": float(np.mean((x - mean_image) ** 2))}
    colour, labels = colours_of(dataset, np.asarray(y[:n]))
    if colour == "class":
        import keras

        encoder = keras.Model(model.inputs, model.get_layer("bottleneck").output)
        codes = encoder.predict(x[:n], batch_size=256, verbose=0).reshape(len(x[:n]), -1)
        metrics["bottleneck_knn_accuracy"] = separation(codes, labels)["knn_accuracy"]
    return metrics


def tsne_figure(model, dataset, run_dir, n=1000):
    """embedding/: the t-SNE map (perplexity 20) of the bottleneck for the first n test
    images, coloured by class (mlphys.embedding, as `mlphys embed` draws it)."""
    from mlphys.embedding import embed

    embed(run_dir, "bottleneck", method="tsne", perplexity=min(20.0, n / 4),
          n=min(n, len(dataset.x_test)), out=run_dir / "embedding")


@register_model("tsne_latent", task="any", inputs="image", dataset="rotated_squares",
                source="MLP4P homework 6", epochs=10, batch_size=32, compiles=True,
                score=score_autoencoder, figures=tsne_figure,
                backends=("tensorflow",))
def tsne_latent(hp, spec):
    """Convolutional autoencoder with a 9-neuron bottleneck, for t-SNE maps of its code.

    Conv2D(c, 5) -> AvgPool(3) -> Conv2D(c, 5) -> AvgPool(3) -> Conv2D(1, 3) ["bottleneck",
    3x3x1] -> UpSampling(3) -> Conv2D(c, 5) -> UpSampling(3) -> Conv2D(c, 5) ->
    Conv2D(C, 3, linear), all 'same', c = 20, relu (the Grand Autoencoder Challenge's
    baseline, MLP4P homework 6): 21,442 parameters on 27x27x1. Trained on the images
    alone (MSE, Adam); the run folder gets embedding/embedding.png, the t-SNE of the
    bottleneck coloured by the dataset's classes.
    """
    import keras
    from keras import layers

    from mlphys.models._tsne_layers import Autoencoder

    channels = hp.Int("channels", 1, 128, default=20)
    activation = hp.Choice("activation", ["relu", "tanh", "sigmoid"], default="relu")
    learning_rate = hp.Float("learning_rate", 1e-5, 1e-1, sampling="log", default=1e-3)
    optimizer = hp.Choice("optimizer", ["adam", "sgd", "rmsprop"], default="adam")

    height, width, depth = (tuple(spec.input_shape) + (None,) * 3)[:3]
    if len(spec.input_shape) != 3 or height % 9 or width % 9:
        raise UserError(f"tsne_latent: images of shape {tuple(spec.input_shape)} do not pass "
                        "two 3x3 poolings and back; give height and width multiples of 9 "
                        "(e.g. 27x27, --option size=27)")
    images = keras.Input(shape=spec.input_shape, name="image")
    x = layers.Conv2D(channels, 5, padding="same", activation=activation, name="encode_1")(images)
    x = layers.AveragePooling2D(3, name="pool_1")(x)
    x = layers.Conv2D(channels, 5, padding="same", activation=activation, name="encode_2")(x)
    x = layers.AveragePooling2D(3, name="pool_2")(x)
    code = layers.Conv2D(1, 3, padding="same", activation=activation, name="bottleneck")(x)
    x = layers.UpSampling2D(3, name="upsample_1")(code)
    x = layers.Conv2D(channels, 5, padding="same", activation=activation, name="decode_1")(x)
    x = layers.UpSampling2D(3, name="upsample_2")(x)
    x = layers.Conv2D(channels, 5, padding="same", activation=activation, name="decode_2")(x)
    reconstruction = layers.Conv2D(depth, 3, padding="same", dtype="float32",
                                   name="reconstruction")(x)
    model = Autoencoder(images, reconstruction, name="tsne_latent")
    model.compile(optimizer=keras.optimizers.get(
        {"class_name": optimizer, "config": {"learning_rate": learning_rate}}), loss="mse")
    return model


# --- reproduction checks (ZOO.md section E) ---------------------------------------------

def _separated(run, n, threshold):
    """t-SNE (perplexity 20) of the bottleneck of n test images: the classes' 10-NN
    accuracy in the 2-D map at least `threshold`, and the PNG written."""
    from mlphys.embedding import embed

    result = embed(run.run_dir, "bottleneck", n=n, perplexity=20.0,
                   out=run.run_dir / f"check-tsne-{n}")
    scores = result["separation"]
    knn = at_least(scores["knn_accuracy"], threshold)
    png = Outcome(f"silhouette {scores['silhouette']:.2f}",
                  (run.run_dir / f"check-tsne-{n}" / "embedding.png").is_file())
    return all_of(knn, png)


@register_check("tsne_latent", "parameters at 27x27x1, 20 channels", expected="21,442",
                quick=True)
def _parameters(ctx):
    from mlphys.reproduce import equal

    model = ctx.build_for("tsne_latent", (27, 27, 1), 1, task="regression",
                          target_shape=(27, 27, 1))
    return equal(model.count_params(), 21_442)


@register_check("tsne_latent", "1000 images, 3 epochs: test MSE below half the mean "
                "image's; t-SNE map of 400 bottlenecks drawn", expected="ratio <= 0.5; PNG",
                quick=True)
def _quick(ctx):
    from mlphys.embedding import separation

    run = ctx.train("tsne_latent", options={"n_train": 1000, "n_test": 400}, epochs=3,
                    seed=0)
    ratio = at_most(run.metrics["mse"] / run.metrics["mean_image_mse"], 0.5)
    folder = run.run_dir / "embedding"
    with np.load(folder / "embedding.npz") as saved:   # not yet separated after 3 epochs
        knn = separation(saved["points"], saved["labels"])["knn_accuracy"]
    png = Outcome(f"embedding.png (10-NN {knn:.2f}, not checked)",
                  (folder / "embedding.png").is_file())
    return all_of(ratio, png)


@register_check("tsne_latent", "4000 images, 10 epochs: t-SNE (perplexity 20) of 4000 "
                "bottlenecks, 2-D 10-NN accuracy", expected=">= 0.95")
def _full(ctx):
    run = ctx.train("tsne_latent", seed=0)
    return _separated(run, 4000, 0.95)
