"""Two-dimensional maps of what a layer has learnt: `mlphys embed RUN --layer NAME`.

The activations of one layer of a trained model, for N inputs of its dataset, are
flattened to vectors and embedded in 2-D with scikit-learn: t-SNE (van der Maaten and
Hinton 2008; perplexity ~ the number of neighbours each point keeps close) or PCA (the
two directions of largest variance). The scatter plot is coloured by class when the
dataset has classes (for an autoencoder trained on the images alone, the dataset's labels
still colour the map), by value for one regression target, else drawn in one colour.

How well the classes separate is measured on the 2-D points: the leave-one-out accuracy
of a k-nearest-neighbour vote (k = 10; chance is about the largest class's share) and the
silhouette score (-1 to 1; > 0.5 is a clear cluster structure).
"""

from pathlib import Path

import numpy as np

from mlphys import figures
from mlphys.errors import UserError, unknown_name

METHODS = ("tsne", "pca")
NEIGHBOURS = 10


def activations(model, layer, x, batch_size=256):
    """The output of layer `layer` of a functional or Sequential `model` for inputs `x`,
    flattened to (N, features)."""
    import keras

    names = layer_names(model)
    if layer not in names:
        raise unknown_name("layer", layer, names,
                           f"the model's layers are: {', '.join(names)}")
    sub_model = keras.Model(model.inputs, model.get_layer(layer).output)
    out = sub_model.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(out, (list, tuple)):
        raise UserError(f"layer '{layer}' has several outputs; choose a layer with one")
    return np.asarray(out, dtype=np.float64).reshape(len(x), -1)


def layer_names(model):
    """Names of the layers whose activations can be read (the input layer excluded)."""
    try:
        model.inputs
    except AttributeError:
        raise UserError(f"model '{model.name}' is a subclassed Keras model whose layers have "
                        "no fixed inputs; embed the layers of a functional or Sequential "
                        "model") from None
    return [layer.name for layer in model.layers
            if type(layer).__name__ != "InputLayer"]


def embed_points(features, method="tsne", perplexity=20.0, seed=0):
    """(N, 2) coordinates of the rows of `features` by t-SNE or PCA (scikit-learn)."""
    features = np.asarray(features, dtype=np.float64)
    if method not in METHODS:
        raise unknown_name("method", method, METHODS, "choose tsne or pca")
    if len(features) < 3:
        raise UserError(f"{len(features)} samples are too few to embed: give --n >= 3")
    if method == "pca":
        from sklearn.decomposition import PCA

        components = min(2, features.shape[1])
        points = PCA(n_components=components, random_state=seed).fit_transform(features)
        if components < 2:  # a one-neuron layer: the second axis stays 0
            points = np.hstack([points, np.zeros((len(points), 1))])
        return points
    if not 0 < perplexity < len(features):
        raise UserError(f"--perplexity {perplexity}: t-SNE needs 0 < perplexity < the "
                        f"number of samples ({len(features)}); lower it or raise --n")
    from sklearn.manifold import TSNE   # slow to import: only when t-SNE runs

    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed
                ).fit_transform(features)


def separation(points, labels, k=NEIGHBOURS):
    """How well classes separate in an embedding: {knn_accuracy, silhouette, chance}.

    knn_accuracy: share of the points whose k nearest other points (Euclidean) vote for
    their own class; chance: the largest class's share."""
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        return None
    k = min(k, len(points) - 1)
    _, index = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    neighbours = labels[index[:, 1:]]                   # the point itself is index[:, 0]
    votes = np.stack([(neighbours == c).sum(axis=1) for c in classes], axis=1)
    predicted = classes[np.argmax(votes, axis=1)]
    return {"knn_accuracy": float(np.mean(predicted == labels)),
            "silhouette": float(silhouette_score(points, labels)),
            "chance": float(counts.max() / counts.sum()), "k": int(k)}


def colours_of(data, y):
    """('class', integer labels), ('value', one regression target) or (None, None)."""
    spec = data.spec
    y = np.asarray(y)
    if spec.task in ("classification", "binary") and len(spec.target_shape) <= 1:
        labels = np.argmax(y, axis=-1) if spec.label_format == "onehot" else y
        return "class", np.ravel(labels).astype(int)
    if spec.task == "regression" and y.ndim <= 2 and y.reshape(len(y), -1).shape[1] == 1:
        return "value", np.ravel(y).astype(float)
    return None, None


@figures.styled
def plot_embedding(points, path, *, colour=None, values=None, class_names=None, title=""):
    """Scatter plot of the 2-D points (N, 2), coloured by class or value; returns the
    paths written."""
    figure = figures.new_figure(6.4, 5.6, layout="constrained")
    ax = figure.subplots()
    if colour == "class":
        from matplotlib import colormaps

        classes = np.unique(values)
        palette = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, c in enumerate(classes):
            chosen = values == c
            name = class_names[c] if class_names and c < len(class_names) else str(c)
            ax.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.7,
                       color=palette(i % palette.N), label=name)
        ax.legend(markerscale=3, fontsize=8, loc="best")
    elif colour == "value":
        shown = ax.scatter(points[:, 0], points[:, 1], s=6, c=values, cmap=figures.MAP)
        figure.colorbar(shown, ax=ax, label="target")
    else:
        ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return figures.save(figure, path)


def _output_folder(out, run_dir, layer, method):
    """`out` (refusing to overwrite earlier results) or a new `<run>/embedding/...`."""
    from mlphys.rundir import check_writable, new_run_dir

    if out is None:
        return new_run_dir(Path(run_dir) / "embedding", layer, method)
    out = check_writable(out)
    taken = [p.name for p in [*figures.paths(out / "embedding.png"), out / "embedding.npz"]
             if p.exists()]
    if taken:
        raise UserError(f"'{out}' already has {', '.join(taken)}; choose another --out "
                        "folder (results are never overwritten)")
    return out


def embed(run, layer, *, method="tsne", perplexity=20.0, n=1000, split="test", seed=0,
          out=None, checkpoint="model", dataset=None, options=None, data_dir=None,
          models_from=None):
    """Embed layer `layer`'s activations for the first `n` inputs of a split in 2-D.

    Writes embedding.png and embedding.npz (points (N, 2), labels or values, the layer's
    activations) into `out` or a new folder `<run>/embedding/...`; returns a dict with
    the paths, the sizes and the separation of the classes (None without classes).
    """
    from mlphys.saliency import open_run

    if method not in METHODS:
        raise unknown_name("method", method, METHODS, "choose tsne or pca")
    if n < 3:
        raise UserError(f"--n {n}: give at least 3 samples to embed")
    if method == "tsne" and not 0 < perplexity < n:
        raise UserError(f"--perplexity {perplexity}: t-SNE needs 0 < perplexity < --n ({n})")
    opened = open_run(run, checkpoint=checkpoint, models_from=models_from)
    model, model_file = opened.model, opened.model_file
    names = layer_names(model)
    if layer not in names:
        raise unknown_name("layer", layer, names, f"the model's layers are: {', '.join(names)}")
    data = opened.load_data(dataset, options, data_dir=data_dir)
    dataset_name = dataset or opened.config.dataset
    x, y = data.split(split)
    if len(x) == 0:
        raise UserError(f"the {split} split of '{dataset_name}' is empty; choose another "
                        "with --split")
    if tuple(data.spec.input_shape) != tuple(model.input_shape[1:]):
        raise UserError(f"the model takes inputs of shape {tuple(model.input_shape[1:])} but "
                        f"'{dataset_name}' has samples of shape "
                        f"{tuple(data.spec.input_shape)}; use the dataset it was trained on")
    x, y = np.asarray(x[:n], dtype=np.float32), np.asarray(y[:n])
    features = activations(model, layer, x)
    points = embed_points(features, method, perplexity, seed)
    colour, values = colours_of(data, y)
    scores = separation(points, values) if colour == "class" else None
    folder = _output_folder(out, Path(model_file).parent, layer, method)
    label = f"t-SNE (perplexity {perplexity:g})" if method == "tsne" else "PCA"
    title = (f"{label} of layer '{layer}' ({features.shape[1]} values)\n{len(x)} "
             f"{dataset_name} {split} samples")
    if scores:
        title += f", {scores['k']}-NN accuracy {scores['knn_accuracy']:.3f}, silhouette " \
                 f"{scores['silhouette']:.2f}"
    class_names = list(data.spec.class_names) if data.spec.class_names else None
    drawn = plot_embedding(points, folder / "embedding.png", colour=colour, values=values,
                           class_names=class_names, title=title)
    arrays = {"points": points, "activations": features}
    if colour is not None:
        arrays["labels" if colour == "class" else "values"] = values
    np.savez_compressed(folder / "embedding.npz", **arrays)
    return {"model_file": str(model_file), "layer": layer, "method": method,
            "perplexity": perplexity if method == "tsne" else None,
            "dataset": dataset_name, "split": split, "samples": int(len(x)),
            "features": int(features.shape[1]), "coloured_by": colour,
            "separation": scores, "figure": str(drawn[0]),
            "figures": [str(p) for p in drawn],
            "points": str(folder / "embedding.npz")}
