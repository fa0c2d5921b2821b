"""Generative models with their own training steps: the variational autoencoder
(MLMM 12.4-12.5) and the deep convolutional GAN with its conditional variant (MLMM 12.2).

Both are Keras models with a custom `train_step`/`test_step` (TensorFlow backend) that log
their terms through `keras.metrics.Mean` trackers, so history.csv gets `loss,
reconstruction, kl` (VAE) and `loss, d_loss, g_loss, d_accuracy` (GAN). Both follow the
sampling protocol of mlphys.sampling (`latent_dim`, `num_classes`, `generate_images`), so
`mlphys sample RUN` draws new images from a saved run.

Images are in [0, 1] (every mlphys image dataset); the GAN's tanh generator works in
[-1, 1]: real images are mapped to 2x - 1 before the discriminator sees them and samples
are mapped back with (g + 1) / 2.
"""

import numpy as np

from mlphys import figures
from mlphys.errors import UserError
from mlphys.registry import register_keras_objects, register_model
from mlphys.reproduce import all_of, at_least, at_most, equal, register_check


# the VAE and GAN classes, imported by the builders (importing the zoo loads no Keras)
register_keras_objects("mlphys.models._generative_layers")


def _quarter(spec, model):
    """(h, w, crop): the side lengths the two stride-2 upsamplings start from, and the
    cropping ((top, bottom), (left, right)) that trims 4h x 4w to the image size."""
    height, width = spec.input_shape[:2]
    if height < 4 or width < 4:
        raise UserError(f"{model}: images of {height}x{width} pixels are too small for two "
                        "stride-2 convolutions (at least 4x4)")
    h, w = -(-height // 4), -(-width // 4)
    dh, dw = 4 * h - height, 4 * w - width
    return h, w, ((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2))


# --- the variational autoencoder ----------------------------------------------------------

@register_model("vae", task="any", inputs="image", dataset="digits", source="MLMM 12.4-12.5",
                epochs=30, batch_size=32, compiles=True,
                search=("latent_dim", "learning_rate"),
                score=lambda model, dataset, split: _vae_score(model, dataset, split),
                figures=lambda model, dataset, run_dir: _vae_figures(model, dataset, run_dir),
                backends=("tensorflow",))
def vae(hp, spec):
    """Variational autoencoder: x -> (mu, log sigma^2) -> z = mu + sigma eps -> x'.

    MLMM 12.4-12.5, in the keras-io layout (F. Chollet, "Variational AutoEncoder"):
    encoder Conv2D(32, 3, stride 2, relu) -> Conv2D(64, 3, stride 2, relu) -> Flatten ->
    Dense(16, relu) -> z_mean, z_log_var (Dense(latent_dim) each); decoder Dense(H/4 W/4 64,
    relu) -> Reshape -> Conv2DTranspose(64, 3, stride 2, relu) -> Conv2DTranspose(32, 3,
    stride 2, relu) -> Conv2DTranspose(C, 3, sigmoid) (cropped to H x W when the sides are
    not multiples of 4). 69,076 + 65,089 = 134,165 parameters on 28x28x1 with latent_dim 2.
    Loss per image = reconstruction (binary cross-entropy summed over pixels, for images in
    [0, 1]; `reconstruction=mse`: squared error, linear output, for other ranges) + KL
    divergence to N(0, 1), both logged. Labels are ignored. After training: latent_grid.png
    (decoded grid of z) and, for class labels, latent_means.png (test set's mu by class).
    """
    import keras
    from keras import layers

    from mlphys.models._generative_layers import VAE

    latent_dim = hp.Int("latent_dim", 1, 64, default=2)
    filters = hp.Int("filters", 8, 128, step=8, default=32)
    dense_units = hp.Int("dense_units", 4, 512, default=16)
    reconstruction = hp.Choice("reconstruction", ["bce", "mse"], default="bce")
    learning_rate = hp.Float("learning_rate", 1e-5, 1e-1, sampling="log", default=1e-3)
    hp.Choice("optimizer", ["adam"], default="adam")

    h, w, crop = _quarter(spec, "vae")
    channels = spec.input_shape[-1]

    image = keras.Input(spec.input_shape, name="image")
    x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu",
                      name="conv_1")(image)
    x = layers.Conv2D(2 * filters, 3, strides=2, padding="same", activation="relu",
                      name="conv_2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    encoder = keras.Model(image, [z_mean, z_log_var], name="encoder")

    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(h * w * 2 * filters, activation="relu", name="dense")(z)
    x = layers.Reshape((h, w, 2 * filters), name="reshape")(x)
    x = layers.Conv2DTranspose(2 * filters, 3, strides=2, padding="same", activation="relu",
                               name="deconv_1")(x)
    x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu",
                               name="deconv_2")(x)
    x = layers.Conv2DTranspose(channels, 3, padding="same", name="pixels",
                               activation="sigmoid" if reconstruction == "bce" else None)(x)
    if any(crop[0] + crop[1]):
        x = layers.Cropping2D(crop, name="crop")(x)
    decoder = keras.Model(z, x, name="decoder")

    model = VAE(encoder, decoder, reconstruction, name="vae")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def _vae_score(model, dataset, split):
    """Reconstruction, KL and ELBO (nats per image) on a split: `loss` = -ELBO."""
    x, _ = dataset.split(split)
    if len(x) == 0:
        raise UserError(f"the {split} split of '{dataset.name}' is empty")
    state = model.seed_generator.state
    kept = state.numpy()
    state.assign(np.zeros_like(kept))  # the same eps every time: evaluate = train's score
    try:
        result = model.evaluate(np.asarray(x, "float32"), batch_size=256, verbose=0,
                                return_dict=True)
    finally:
        state.assign(kept)
    return {"loss": float(result["loss"]), "reconstruction": float(result["reconstruction"]),
            "kl": float(result["kl"]), "elbo": -float(result["loss"])}


@figures.styled
def _vae_figures(model, dataset, run_dir):
    """latent_grid.png: decoded images of a grid of z over the first two latent axes
    (+-2 standard deviations of the prior, the others 0); latent_means.png: the test
    images' latent means, coloured by class (class labels only)."""
    from mlphys.sampling import save_grid

    side = 15
    steps = np.linspace(-2, 2, side, dtype=np.float32)
    z = np.zeros((side * side if model.latent_dim > 1 else side, model.latent_dim),
                 np.float32)
    if model.latent_dim > 1:
        z[:, 0] = np.tile(steps, side)            # z_1 along a row
        z[:, 1] = np.repeat(steps[::-1], side)    # z_2 up the rows
    else:
        z[:, 0] = steps
    save_grid(model.generate_images(z), run_dir / "latent_grid.png", columns=side,
              title=f"decoded z on [-2, 2]{'^2' if model.latent_dim > 1 else ''}")
    spec = dataset.spec
    x, y = dataset.split("test")
    if spec.task not in ("classification", "binary") or len(spec.target_shape) > 1 \
            or len(x) == 0:
        return
    labels = np.asarray(y)
    labels = labels.argmax(-1) if labels.ndim == 2 and labels.shape[-1] > 1 else labels.ravel()
    means = model.encode(np.asarray(x, "float32"))
    second = means[:, 1] if model.latent_dim > 1 else labels + np.random.default_rng(0).uniform(
        -0.3, 0.3, len(labels))
    figure = figures.new_figure(6, 5, layout="constrained")
    ax = figure.subplots()
    names = spec.class_names or tuple(range(int(labels.max()) + 1))
    for k, name in enumerate(names):
        chosen = labels == k
        if chosen.any():
            ax.scatter(means[chosen, 0], second[chosen], s=8, label=str(name))
    ax.set_xlabel("$\\mu_1$")
    ax.set_ylabel("$\\mu_2$" if model.latent_dim > 1 else "class (jittered)")
    ax.set_title("test images' latent means by class")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2, fontsize=8)
    figures.save(figure, run_dir / "latent_means.png")


# --- the deep convolutional GAN -----------------------------------------------------------

def _grid_callbacks(run_dir):
    from mlphys.sampling import grid_each_epoch

    return [grid_each_epoch(run_dir, "samples.png")]


@register_model("dcgan", task="any", inputs="image", dataset="digits", source="MLMM 12.2",
                epochs=30, batch_size=64, compiles=True,
                search=("filters", "learning_rate"),
                score=lambda model, dataset, split: _gan_score(model, dataset, split),
                callbacks=_grid_callbacks,
                backends=("tensorflow",))
def dcgan(hp, spec):
    """Deep convolutional GAN (-p conditional=true: the label fed to both networks).

    MLMM 12.2. Generator: z (100) -> Dense(H/4 W/4 2f) -> BN -> ReLU -> Reshape ->
    Conv2DTranspose(f, 4, stride 2) -> BN -> ReLU -> Conv2DTranspose(C, 4, stride 2, tanh)
    -> image in [-1, 1] (cropped when the sides are not multiples of 4). Discriminator, the
    mirror: Conv2D(f, 4, stride 2) -> LeakyReLU(0.2) -> Conv2D(2f, 4, stride 2) ->
    LeakyReLU(0.2) -> Flatten -> Dropout -> Dense(1, sigmoid) = P(real). f = 64: 784,641 +
    138,561 parameters on 28x28x1 (995,570 in all conditional, K = 10). Non-saturating
    loss, real labels smoothed to 0.9, Adam lr 2e-4, beta_1 0.5 for both. Conditional: the
    one-hot label is concatenated to z, and Dense(H W) of it, reshaped, is an extra image
    channel of the discriminator. A grid of samples is drawn after every epoch into
    samples.png (the last epoch's stays).
    """
    import keras

    from mlphys.models._generative_layers import GAN

    conditional = hp.Boolean("conditional", default=False)
    latent_dim = hp.Int("latent_dim", 2, 256, default=100)
    filters = hp.Int("filters", 8, 256, step=8, default=64)
    dropout = hp.Float("dropout", 0.0, 0.7, default=0.3)
    learning_rate = hp.Float("learning_rate", 1e-5, 1e-2, sampling="log", default=2e-4)
    beta_1 = hp.Float("beta_1", 0.0, 0.99, default=0.5)
    real_label = hp.Float("real_label", 0.5, 1.0, default=0.9)

    quarter = _quarter(spec, "dcgan")
    num_classes = 0
    if conditional:
        if spec.task not in ("classification", "binary") or len(spec.target_shape) > 1:
            raise UserError("dcgan -p conditional=true needs one class label per image, but "
                            f"this dataset's task is {spec.task} with labels of shape "
                            f"{tuple(spec.target_shape)}; train it unconditionally")
        num_classes = 2 if spec.task == "binary" else spec.num_outputs
    generator = _dcgan_generator(spec, latent_dim, filters, num_classes, quarter)
    discriminator = _dcgan_discriminator(spec, filters, dropout, num_classes)

    model = GAN(generator, discriminator, num_classes, real_label, learning_rate, beta_1,
                name="cdcgan" if conditional else "dcgan")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta_1,
                                                  name="generator_adam"))
    model.optimizer.build(generator.trainable_variables)
    return model


def _dcgan_generator(spec, latent_dim, filters, num_classes, quarter):
    """z [, label] -> image in [-1, 1]: the transposed convolutions from H/4 x W/4 up,
    cropped to H x W (`quarter` = (h, w, crop) of `_quarter`); conditional when
    num_classes > 0."""
    import keras
    from keras import layers

    h, w, crop = quarter
    channels = spec.input_shape[-1]
    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((), dtype="int32", name="label") if num_classes else None
    x = z
    if num_classes:
        one_hot = layers.CategoryEncoding(num_classes, "one_hot", name="label_one_hot")(label)
        x = layers.Concatenate(name="z_and_label")([z, one_hot])
    x = layers.Dense(h * w * 2 * filters, use_bias=False, name="project")(x)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((h, w, 2 * filters), name="reshape")(x)
    x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                               name="upsample")(x)
    x = layers.BatchNormalization(name="upsample_bn")(x)
    x = layers.ReLU(name="upsample_relu")(x)
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh",
                               name="image")(x)
    if any(crop[0] + crop[1]):
        x = layers.Cropping2D(crop, name="crop")(x)
    return keras.Model([z, label] if num_classes else z, x, name="generator")


def _dcgan_discriminator(spec, filters, dropout, num_classes):
    """image [, label] -> P(real), the generator's mirror; the label (num_classes > 0) is
    an extra image channel, Dense(H W) of its one-hot code."""
    import keras
    from keras import layers

    height, width = spec.input_shape[:2]
    image = keras.Input(spec.input_shape, name="image")
    x = image
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        plane = layers.CategoryEncoding(num_classes, "one_hot", name="label_one_hot")(label)
        plane = layers.Dense(height * width, name="label_plane")(plane)
        plane = layers.Reshape((height, width, 1), name="label_channel")(plane)
        x = layers.Concatenate(name="image_and_label")([image, plane])
    x = layers.Conv2D(filters, 4, strides=2, padding="same", name="conv_1")(x)
    x = layers.LeakyReLU(0.2, name="conv_1_leaky")(x)
    x = layers.Conv2D(2 * filters, 4, strides=2, padding="same", name="conv_2")(x)
    x = layers.LeakyReLU(0.2, name="conv_2_leaky")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    p_real = layers.Dense(1, activation="sigmoid", name="p_real")(x)
    return keras.Model([image, label] if num_classes else image, p_real,
                       name="discriminator")


def _gan_score(model, dataset, split, seed=0):
    """The discriminator on a split's real images and as many generated ones (z seeded):
    d_accuracy (both halves), d_accuracy_real, d_accuracy_fake, d_loss, g_loss, and
    loss = d_loss + g_loss (the training step's quantities, without dropout)."""
    x, y = dataset.split(split)
    if len(x) == 0:
        raise UserError(f"the {split} split of '{dataset.name}' is empty")
    labels = None
    if model.num_classes:
        labels = np.asarray(y)
        labels = labels.argmax(-1) if labels.ndim == 2 and labels.shape[-1] > 1 else labels
        labels = labels.ravel().astype(np.int32)
    z = np.random.default_rng(seed).standard_normal((len(x), model.latent_dim))
    p_real = model.discriminate(x, labels)
    p_fake = model.discriminate(model.generate_images(z, labels), labels)
    eps = 1e-7
    p_real, p_fake = np.clip(p_real, eps, 1 - eps), np.clip(p_fake, eps, 1 - eps)
    t = model.real_label
    d_loss = float(np.mean(-(t * np.log(p_real) + (1 - t) * np.log(1 - p_real)))
                   + np.mean(-np.log(1 - p_fake)))
    g_loss = float(np.mean(-np.log(p_fake)))
    real_ok, fake_ok = float(np.mean(p_real > 0.5)), float(np.mean(p_fake < 0.5))
    return {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss,
            "d_accuracy": 0.5 * (real_ok + fake_ok), "d_accuracy_real": real_ok,
            "d_accuracy_fake": fake_ok}


# --- reproduction checks (ZOO.md E) -------------------------------------------------------

@register_check("vae", "loss falls in 2 epochs on digits; latent_grid.png; reopened run "
                "scores the same", expected="last < first; PNG; same test loss", quick=True)
def _vae_quick(ctx):
    run = ctx.train("vae", epochs=2, seed=0)
    loss = run.history()["loss"]
    again = _vae_score(run.model, run.data, "test")["loss"]
    return all_of(at_most(loss[-1] / loss[0], 0.99),
                  _png(run.run_dir / "latent_grid.png"),
                  at_most(abs(again - run.metrics["loss"]), 1e-3))


def _png(path):
    """Passes when the figure `path` was written."""
    return equal("PNG" if path.is_file() and path.stat().st_size > 0 else f"no {path.name}",
                 "PNG")


def _knn_accuracy(train, train_labels, test, test_labels, k=5):
    """k-nearest-neighbour accuracy of test points among train points (Euclidean)."""
    distances = ((test[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    nearest = train_labels[np.argsort(distances, axis=1)[:, :k]]
    votes = np.array([np.bincount(row, minlength=train_labels.max() + 1).argmax()
                      for row in nearest])
    return float(np.mean(votes == test_labels))


@register_check("vae", "30 epochs on digits: loss falls, test -ELBO (nats), 5-NN accuracy of "
                "the 2-D latent means (a map of the digits)",
                expected="last/first <= 0.8; -ELBO <= 330; 5-NN >= 0.5")
def _vae_digits(ctx):
    run = ctx.train("vae", seed=0)
    loss = run.history()["loss"]
    model, data = run.model, run.data
    knn = _knn_accuracy(model.encode(data.x_train), data.y_train, model.encode(data.x_test),
                        data.y_test)
    return all_of(at_most(loss[-1] / loss[0], 0.8), at_most(run.metrics["loss"], 330),
                  at_least(knn, 0.5))


@register_check("dcgan", "2 epochs (filters 16): finite losses, samples.png, reopened run "
                "samples 64 images in [0, 1]", expected="finite; PNG; 64x28x28x1",
                quick=True)
def _dcgan_quick(ctx):
    from mlphys.sampling import draw

    run = ctx.train("dcgan", params={"filters": 16}, epochs=2, seed=0)
    history = run.history()
    images, _, _ = draw(run.model, 64, seed=1)
    finite = all(np.isfinite(history[k]).all() for k in ("d_loss", "g_loss"))
    inside = bool(np.all((images >= 0) & (images <= 1)))
    return all_of(equal("finite" if finite else "not finite", "finite"),
                  _png(run.run_dir / "samples.png"),
                  equal("x".join(map(str, images.shape)) if inside else "outside [0, 1]",
                        "64x28x28x1"))


@register_check("dcgan", "30 epochs on digits: discriminator accuracy of each of the last 10 "
                "epochs stays away from 100%; samples.png",
                expected="max d_accuracy <= 0.9; PNG")
def _dcgan_digits(ctx):
    run = ctx.train("dcgan", seed=0)
    accuracy = run.history()["d_accuracy"]
    return all_of(at_most(np.max(accuracy[-10:]), 0.9), _png(run.run_dir / "samples.png"))


@register_check("dcgan", "conditional, 1 epoch (filters 16): 16 samples of class 3",
                expected="16 labels 3, 16x28x28x1", quick=True)
def _cdcgan_quick(ctx):
    from mlphys.sampling import draw

    run = ctx.train("dcgan", params={"filters": 16, "conditional": True}, epochs=1, seed=0)
    images, labels, _ = draw(run.model, 16, class_index=3, seed=0)
    return all_of(equal(f"{int(np.sum(labels == 3))} labels 3", "16 labels 3"),
                  equal("x".join(map(str, images.shape)), "16x28x28x1"))
