"""A restricted Boltzmann machine trained by contrastive divergence (MLP4P lecture 9).

Binary visible units v (the pixels of an image binarised at `threshold`) and binary hidden
units h, energy E(v, h) = -a.v - b.h - v.W.h, so that

    p(h_j = 1 | v) = sigmoid(b_j + (v W)_j),    p(v_i = 1 | h) = sigmoid(a_i + (W h)_i).

CD-k: from a batch of data v0, k steps of block Gibbs sampling v0 -> h0 -> v1 -> h1 ... vk
give the update dW = lr (<v0 p(h|v0)> - <vk p(h|vk)>) (and likewise for the biases),
applied by the optimizer as the "gradient" -dW/lr. The reconstruction error logged is
the mean squared difference between v0 and p(v | p(h | v0)), per pixel.
"""

import numpy as np

from mlphys import figures
from mlphys.errors import UserError
from mlphys.registry import register_keras_objects, register_model
from mlphys.reproduce import Outcome, all_of, at_most, register_check


# the RBM class, imported by the builder (importing the zoo loads no Keras)
register_keras_objects("mlphys.models._rbm_layers")


def _binarised(model, images):
    return (np.reshape(images, (len(images), -1)) > model.threshold).astype(np.float32)


def score_rbm(model, dataset, split="test"):
    """Reconstruction error of the split's binarised images, and the error of the mean
    training image as a baseline (what a model that learnt nothing per image does)."""
    x, _ = dataset.split(split)
    if len(x) == 0:
        raise UserError(f"the {split} split of '{dataset.name}' is empty")
    v = _binarised(model, x)
    reconstruction = np.reshape(model.predict(x, batch_size=256, verbose=0), v.shape)
    mean_image = _binarised(model, dataset.x_train).mean(axis=0)
    return {"reconstruction_error": float(np.mean((v - reconstruction) ** 2)),
            "mean_image_error": float(np.mean((v - mean_image) ** 2))}


def gibbs_chains(model, chains=8, steps=(0, 1, 10, 100, 1000), seed=0):
    """p(v | h) along `chains` Gibbs chains started from random binary images (pixel i on
    with probability sigmoid(a_i), the visible biases alone), recorded after each number
    of `steps`: array (len(steps), chains, V)."""
    weights, a, b = (np.asarray(w) for w in (model.weights_vh, model.visible_bias,
                                             model.hidden_bias))
    rng = np.random.default_rng(seed)

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    v = (rng.random((chains, len(a))) < sigmoid(a)).astype(np.float64)
    pv, recorded = v, []
    for step in range(max(steps) + 1):
        if step in steps:
            recorded.append(pv)
        h = (rng.random((chains, len(b))) < sigmoid(v @ weights + b)).astype(np.float64)
        pv = sigmoid(h @ weights.T + a)
        v = (rng.random(pv.shape) < pv).astype(np.float64)
    return np.stack(recorded)


@figures.styled
def rbm_figures(model, dataset, run_dir):
    """samples.png: Gibbs chains from random images (columns) after 0, 1, 10, 100, 1000
    steps (rows), drawn as p(v | h)."""
    steps = (0, 1, 10, 100, 1000)
    chains = gibbs_chains(model, 8, steps)
    height, width = model.image_shape[:2]
    figure = figures.new_figure(8 * 1.1, len(steps) * 1.1 + 0.4)
    figure.subplots_adjust(left=0.12, right=0.99, bottom=0.01, top=0.9, wspace=0.05,
                           hspace=0.05)
    axes = figure.subplots(len(steps), 8, squeeze=False)
    for row, step in enumerate(steps):
        for col in range(8):
            ax = axes[row, col]
            image = chains[row, col].reshape(height, width, -1)[..., 0]
            figures.show_image(ax, image)
            if col == 0:
                ax.set_ylabel(f"{step}", rotation=0, ha="right", va="center")
    figure.suptitle("RBM samples: Gibbs chains from random images (rows: steps)")
    figures.save(figure, run_dir / "samples.png")


@register_model("rbm", task="any", inputs="image", dataset="digits", source="MLP4P lecture 9",
                epochs=60, batch_size=50, compiles=True, score=score_rbm,
                figures=rbm_figures,
                backends=("tensorflow",))
def rbm(hp, spec):
    """Restricted Boltzmann machine, binary units, trained by contrastive divergence.

    V = H*W*C visible units (the image binarised at `threshold` = 0.7), 60 hidden units,
    CD-1, plain SGD with learning rate 0.1 and batches of 50 (MLP4P lecture 9): V*60 + V
    + 60 parameters, 47,884 on 28x28 images. history.csv logs the reconstruction error as
    `loss`; the run folder gets samples.png (Gibbs chains).
    """
    import keras

    from mlphys.models._rbm_layers import RBM

    hidden = hp.Int("hidden", 2, 2000, default=60)
    cd_steps = hp.Int("cd_steps", 1, 100, default=1)
    threshold = hp.Float("threshold", 0.0, 1.0, default=0.7)
    learning_rate = hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=0.1)
    optimizer = hp.Choice("optimizer", ["sgd", "adam", "rmsprop"], default="sgd")

    model = RBM(spec.input_shape, hidden=hidden, cd_steps=cd_steps, threshold=threshold,
                name="rbm")
    model.compile(optimizer=keras.optimizers.get(
        {"class_name": optimizer, "config": {"learning_rate": learning_rate}}))
    return model


# --- reproduction checks (ZOO.md section E) ---------------------------------------------

def _falls_and_beats_mean(run, factor):
    """The reconstruction error of the last epoch at most `factor` times the first
    epoch's, and the test error below the mean image's; samples.png written."""
    error = run.history()["loss"]
    falls = Outcome(f"error {error[0]:.4f} -> {error[-1]:.4f}",
                    bool(error[-1] <= factor * error[0]))
    test = at_most(run.metrics["reconstruction_error"], run.metrics["mean_image_error"])
    test = Outcome(f"test {test.obtained} vs mean image "
                   f"{run.metrics['mean_image_error']:.4f}", test.passed)
    png = (run.run_dir / "samples.png").is_file()
    return all_of(falls, test, Outcome("samples.png" if png else "no samples.png", png))


@register_check("rbm", "digits 8x8, 12 epochs: reconstruction error falls, beats the mean "
                "image; samples.png", expected="last <= 0.9 x first", quick=True)
def _rbm_quick(ctx):
    run = ctx.train("rbm", options={"size": 8}, epochs=12, seed=0)
    return _falls_and_beats_mean(run, 0.9)


@register_check("rbm", "digits 28x28, 60 hidden, CD-1, lr 0.1, batch 50, 60 epochs",
                expected="last <= 0.6 x first; test < mean image")
def _rbm_full(ctx):
    run = ctx.train("rbm", seed=0)
    return _falls_and_beats_mean(run, 0.6)
