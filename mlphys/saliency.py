"""Saliency maps of a trained model with tf-keras-vis: `mlphys saliency RUN`.

Which parts of an input does the model look at? The methods (all from tf-keras-vis):

    saliency    vanilla gradient |d score / d input| (Simonyan et al. 2013)
    smoothgrad  the gradient averaged over noisy copies of the input (Smilkov et al. 2017)
    gradcam     Grad-CAM: feature maps of the last convolution layer weighted by their
                mean gradient (Selvaraju et al. 2017)
    gradcam++   Grad-CAM++ (Chattopadhay et al. 2018)
    scorecam    Score-CAM: feature maps weighted by the score of the input masked with
                them; max_n keeps the most varied maps (Faster-Score-CAM)
    layercam    LayerCAM (Jiang et al. 2021)
    actmax      activation maximisation: an input optimised to raise a class score

The score is a logit: the model's last activation is replaced by a linear one
(tf-keras-vis' `ReplaceToLinear`), so a saturated softmax does not flatten the gradients.
It is the predicted class's logit by default, `class_index` for classifiers, minus the
logit for class 0 of a binary (sigmoid) model, and output `output_index` of a regressor.

`sanity_check` is the model-randomisation test of Adebayo et al. 2018, "Sanity Checks
for Saliency Maps": maps that hardly change when the weights are re-initialised do not
explain the model.
"""

import contextlib
import io
import time
import warnings
from pathlib import Path

import numpy as np

from mlphys.errors import UserError, unknown_name

METHODS = ("saliency", "smoothgrad", "gradcam", "gradcam++", "scorecam", "layercam",
           "actmax")
ATTRIBUTION_METHODS = METHODS[:-1]        # `--method all`: one map per input
CAM_METHODS = ("gradcam", "gradcam++", "scorecam", "layercam")
SANITY_THRESHOLD = 0.5   # rank correlation above which a fully randomised map is flagged
CONVOLUTIONS = ("Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D",
                "DepthwiseConv1D", "DepthwiseConv2D")


def expand_methods(method):
    """The methods named by `method` ('all' is every attribution method)."""
    if method == "all":
        return list(ATTRIBUTION_METHODS)
    if method not in METHODS:
        raise unknown_name("method", method, METHODS + ("all",),
                           f"choose one of {', '.join(METHODS)} or all")
    return [method]


# --- the model --------------------------------------------------------------------------

def open_run(run, *, checkpoint="model", models_from=None):
    """The `Run` of a run folder made by `mlphys train`, or of a .keras file, whose model
    has the one input and one output that saliency maps need."""
    from mlphys.run import Run

    opened = Run.open(run, checkpoint=checkpoint, models_from=models_from)
    model = opened.model
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"'{opened.model_file}' has {len(model.inputs)} inputs and "
                        f"{len(model.outputs)} outputs; saliency maps need one of each")
    return opened


def network_and_preprocessing(model):
    """(network, preprocess) of a saved model. A model mlphys wrapped in standardisation
    layers (`mlphys.normalization.wrapped_model`: raw input -> featurewise or table
    standardisation -> the network [-> raw units]) is explained as the network on the
    inputs it sees, `preprocess(x)`; the maps then differ from maps of the raw pixels
    by the standardisation's constant scale only. Any other model: (model, identity)."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1 or not model.name.startswith(("standardised_", "normalized_")):
        return model, lambda x: x
    network = nested[0]
    before = model.layers[1:model.layers.index(network)]

    def preprocess(x):
        for layer in before:
            x = layer(x)
        return keras.ops.convert_to_numpy(x)

    return network, preprocess


def output_kind(model):
    """'classification' (softmax or several sigmoids), 'binary' (one sigmoid) or
    'regression' (a linear output), read from the output layer's activation."""
    activation = getattr(model.layers[-1], "activation", None)
    name = getattr(activation, "__name__", "")
    units = model.output_shape[-1]
    if units == 1 and name == "sigmoid":
        return "binary"
    if units > 1 and name in ("softmax", "sigmoid"):
        return "classification"
    return "regression"


def linear_model(model):
    """A copy of `model` whose last activation is linear, as tf-keras-vis needs it.

    tf-keras-vis' `ReplaceToLinear` reads `model.output_names`, which a Keras 3
    `Sequential` does not have: a Sequential model is first rewrapped as the functional
    model with the same layers.
    """
    import keras
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

    if isinstance(model, keras.Sequential):
        model = keras.Model(model.inputs, model.outputs)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    ReplaceToLinear()(copy)
    return copy


def convolution_layers(model):
    """Names of the model's convolution layers, first to last."""
    return [layer.name for layer in model.layers if type(layer).__name__ in CONVOLUTIONS]


def cam_layer(model, name=None):
    """The layer whose feature maps the CAM methods weigh: the last convolution layer,
    or the layer `name` (any layer with spatial feature maps)."""
    convolutions = convolution_layers(model)
    if name is None:
        return convolutions[-1] if convolutions else None
    known = {layer.name: layer for layer in model.layers}
    listing = ", ".join(convolutions) if convolutions else "none"
    if name not in known:
        raise unknown_name("layer", name, known,
                           f"the model's convolution layers are: {listing}")
    if len(known[name].output.shape) < 3:
        raise UserError(f"layer '{name}' has no spatial feature maps (output shape "
                        f"{tuple(known[name].output.shape)}); choose a convolution layer: "
                        f"{listing}")
    return name


# --- what is explained ------------------------------------------------------------------

def choose_targets(kind, probabilities, num_outputs, class_index=None, output_index=None):
    """The class (or output) explained for each input."""
    n = len(probabilities)
    if kind == "regression":
        if class_index is not None:
            raise UserError("--class is for classifiers; this model is a regressor: choose "
                            "its output with --output-index")
        index = 0 if output_index is None else output_index
        if not 0 <= index < num_outputs:
            raise UserError(f"--output-index {index} is outside the model's outputs "
                            f"0..{num_outputs - 1}")
        return np.full(n, index)
    if output_index is not None:
        raise UserError("--output-index is for regressors; choose a class with --class")
    classes = 2 if kind == "binary" else num_outputs
    if class_index is not None:
        if not 0 <= class_index < classes:
            raise UserError(f"--class {class_index} is outside the model's classes "
                            f"0..{classes - 1}")
        return np.full(n, class_index)
    if kind == "binary":
        return (probabilities[:, 0] > 0.5).astype(int)
    return np.argmax(probabilities, axis=-1)


def score_weights(kind, targets, num_outputs):
    """(N, outputs) weights w with score = sum_k w_k * logit_k: one-hot on the target, and
    for a binary model +1 (class 1) or -1 (class 0) on its single logit."""
    if kind == "binary":
        return np.where(targets[:, None] == 1, 1.0, -1.0).astype(np.float32)
    return np.eye(num_outputs, dtype=np.float32)[targets]


def _score(weights):
    """The tf-keras-vis score function: one score per input, sum_k w_k * output_k."""
    import tensorflow as tf

    def score(output):
        return tf.reduce_sum(output * weights, axis=-1)
    return score


def _scorecam_model_and_weights(model, kind, targets, output_index):
    """Score-CAM scores the softmax of the outputs of the masked inputs. For one logit z
    (binary, or the chosen output of a regressor) that softmax would be 1 whatever z is,
    so the model is given the two logits [0, z], whose softmax is [1 - sigmoid(z),
    sigmoid(z)]: class 0 and class 1, or a monotonic measure of the regressed value."""
    if kind == "classification":
        return model, np.eye(model.output_shape[-1], dtype=np.float32)[targets]
    import keras

    index = 0 if kind == "binary" else (output_index or 0)
    logit = model.outputs[0][:, index:index + 1]
    two = keras.layers.Concatenate(name="two_logits")([keras.ops.zeros_like(logit), logit])
    classes = targets if kind == "binary" else np.ones(len(targets), dtype=int)
    return keras.Model(model.inputs, two), np.eye(2, dtype=np.float32)[classes]


# --- the maps ---------------------------------------------------------------------------

def compute_map(method, model, x, *, kind, targets, weights, layer=None, output_index=None,
                samples=20, noise=0.2, max_n=None):
    """One method's maps for inputs x (N, ...) of the linear `model`: (N, H, W) for
    images, (N, L) for curves, each normalised to [0, 1] as tf-keras-vis returns them."""
    with warnings.catch_warnings():
        # tf-keras-vis calls the model on a list of one tensor; Keras 3 warns about that
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        return _compute_map(method, model, x, kind=kind, targets=targets, weights=weights,
                            layer=layer, output_index=output_index, samples=samples,
                            noise=noise, max_n=max_n)


def _compute_map(method, model, x, *, kind, targets, weights, layer, output_index, samples,
                 noise, max_n):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam

    vectors = x.ndim == 2   # no channel axis: keep the maps' last axis
    if method in ("saliency", "smoothgrad"):
        smooth = samples if method == "smoothgrad" else 0
        return Saliency(model, clone=False)(_score(weights), x, smooth_samples=smooth,
                                            smooth_noise=noise, keepdims=vectors)
    if layer is None:
        raise UserError(f"{method} needs a convolution layer and the model has no convolution "
                        "layer; use "
                        "--method saliency or smoothgrad")
    cam = dict(penultimate_layer=layer, seek_penultimate_conv_layer=False)
    if method == "gradcam":
        return Gradcam(model, clone=False)(_score(weights), x, **cam)
    if method == "gradcam++":
        return GradcamPlusPlus(model, clone=False)(_score(weights), x, **cam)
    if method == "layercam":
        return Layercam(model, clone=False)(_score(weights), x, **cam)
    if method == "scorecam":
        if vectors:
            raise UserError("scorecam needs inputs with a channel axis (images or "
                            "sequences), not flat vectors; use gradcam or layercam")
        scorecam_model, probability_weights = _scorecam_model_and_weights(
            model, kind, targets, output_index)
        with contextlib.redirect_stdout(io.StringIO()):   # model.predict's progress bar
            return Scorecam(scorecam_model, clone=False)(_score(probability_weights), x,
                                                         max_N=max_n, **cam)
    raise unknown_name("method", method, ATTRIBUTION_METHODS, "")


def activation_maximisation(model, weights, input_shape, input_range, steps=200, seed=None):
    """Inputs (M, ...) optimised to maximise the scores given by `weights` (M, outputs),
    starting from uniform noise, with tf-keras-vis' default jitter, rotation, total
    variation and L1 regularisers for images (the L1 norm alone for curves)."""
    import tensorflow as tf
    from tf_keras_vis.activation_maximization import ActivationMaximization

    low, high = input_range
    rng = np.random.default_rng(seed)
    start = rng.uniform(low, high, (len(weights),) + tuple(input_shape)).astype(np.float32)
    options = {}
    if len(input_shape) != 3:
        from tf_keras_vis.activation_maximization.regularizers import Norm
        options = dict(input_modifiers=[], regularizers=[Norm(weight=0.3, p=1)])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        result = ActivationMaximization(model, clone=False)(
            _score(weights), tf.constant(start), input_range=(low, high), steps=steps,
            **options)
    return np.asarray(result)


def rank_correlation(a, b):
    """Spearman's rank correlation of two maps (flattened); 0 for a constant map."""
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b)[0])


def randomise_layer(layer, rng):
    """Re-initialise a layer's kernel and bias with its own initialisers (Adebayo et al.
    2018: 'the same initialisation as at the start of training')."""
    import keras

    for attribute in ("kernel", "depthwise_kernel", "pointwise_kernel", "bias"):
        variable = getattr(layer, attribute, None)
        if variable is None or not hasattr(variable, "assign"):
            continue
        initializer = getattr(layer, f"{attribute}_initializer", None)
        if initializer is None:
            continue
        initializer = keras.initializers.get(initializer)
        config = initializer.get_config()
        if "seed" in config:
            config["seed"] = int(rng.integers(2**31))
            initializer = initializer.__class__.from_config(config)
        variable.assign(initializer(tuple(variable.shape), dtype=variable.dtype))


def sanity_check(model, x, maps, *, methods, seed=None, **map_options):
    """Cascading model randomisation: re-initialise the weighted layers from the top
    down, recompute each method's maps after each step, and compare them with the
    originals by Spearman's rank correlation (the mean over the inputs).

    Returns {"stages": [{"randomised": layer, "spearman": {method: rho}}, ...],
    "flagged": methods whose maps still correlate by more than SANITY_THRESHOLD when every
    layer is random}.
    """
    import keras

    rng = np.random.default_rng(seed)
    random_model = keras.models.clone_model(model)
    random_model.set_weights(model.get_weights())
    weighted = [layer for layer in random_model.layers if getattr(layer, "kernel", None)
                is not None or getattr(layer, "depthwise_kernel", None) is not None]
    stages = []
    for layer in reversed(weighted):
        randomise_layer(layer, rng)
        spearman = {}
        for method in methods:
            randomised = compute_map(method, random_model, x, **map_options)
            spearman[method] = float(np.mean([rank_correlation(o, r) for o, r in
                                              zip(maps[method], randomised)]))
        stages.append({"randomised": layer.name, "spearman": spearman})
    final = stages[-1]["spearman"] if stages else {}
    flagged = [m for m in methods if final.get(m, 0.0) > SANITY_THRESHOLD]
    return {"stages": stages, "flagged": flagged, "threshold": SANITY_THRESHOLD}


# --- the inputs -------------------------------------------------------------------------

def parse_indices(text):
    """'0,5,7' -> [0, 5, 7]."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--indices '{text}': give sample numbers separated by commas, "
                        "e.g. --indices 0,5,7") from None


def dataset_inputs(data, split="test", n=8, indices=None):
    """(x, true labels, sample ids) of n samples (or the given indices) of a split."""
    x, y = data.split(split)
    if len(x) == 0:
        raise UserError(f"the {split} split of '{data.name}' is empty; choose another "
                        "with --split")
    if indices:
        bad = [i for i in indices if not -len(x) <= i < len(x)]
        if bad:
            raise UserError(f"--indices {bad[0]} is outside the {split} split "
                            f"(0..{len(x) - 1})")
        chosen = np.asarray(indices)
    else:
        chosen = np.arange(min(n, len(x)))
    y = np.asarray(y)[chosen]
    if data.spec.label_format == "onehot":
        y = np.argmax(y, axis=-1)
    return np.asarray(x[chosen], dtype=np.float32), y, [f"{split}[{i}]" for i in chosen]


def image_file_inputs(files, input_shape):
    """Image files as an array (N, H, W, C) in [0, 1], resized to the model's input."""
    from PIL import Image, UnidentifiedImageError

    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise UserError(f"the model takes inputs of shape {tuple(input_shape)}, not "
                        "grayscale or RGB images; explain samples of its dataset instead")
    height, width, channels = input_shape
    images, bad = [], []
    for file in files:
        try:
            with Image.open(file) as image:
                image = image.convert("L" if channels == 1 else "RGB")
                image = image.resize((width, height), Image.BILINEAR)
                images.append(np.asarray(image, dtype=np.float32) / 255.0)
        except (UnidentifiedImageError, OSError, ValueError):
            bad.append(str(file))
    if bad:
        raise UserError(f"cannot read {', '.join(bad)} as an image; give PNG, JPEG or other "
                        "files that Pillow opens")
    x = np.stack(images)
    return x[..., np.newaxis] if channels == 1 else x


def _output_folder(out, run_dir, method, dataset):
    """`out` (created if needed; existing result files are never overwritten), or a fresh
    `<run>/saliency/<method>-<dataset>-<time>/`."""
    from mlphys import figures
    from mlphys.rundir import check_writable, new_run_dir

    if out is None:
        return new_run_dir(Path(run_dir) / "saliency", method.replace("+", "p"), dataset)
    out = check_writable(out)
    taken = [p.name for p in [*figures.paths(out / "saliency.png"), out / "maps.npz",
                              out / "sanity.json", *figures.paths(out / "sanity.png")]
             if p.exists()]
    if taken:
        raise UserError(f"'{out}' already has {', '.join(taken)}; choose another --out "
                        "folder (results are never overwritten)")
    return out


def map_statistics(single_map):
    """Where a map peaks and how concentrated it is (share of its mass in the top 10%)."""
    values = np.ravel(single_map).astype(float)
    total = values.sum()
    top = np.sort(values)[::-1][:max(1, len(values) // 10)].sum()
    return {"peak": [int(i) for i in np.unravel_index(np.argmax(single_map),
                                                       np.shape(single_map))],
            "mean": float(values.mean()),
            "top10_mass": float(top / total) if total > 0 else 0.0}


# --- the command ------------------------------------------------------------------------

def explain(run, method="smoothgrad", *, images=None, dataset=None, options=None,
            split="test", n=8, indices=None, class_index=None, output_index=None,
            layer=None, samples=20, noise=0.2, max_n=None, steps=200, sanity=False,
            checkpoint="model", out=None, seed=None, data_dir=None, models_from=None):
    """Compute saliency maps of a saved run and write them with a figure.

    Writes `saliency.png` and `maps.npz` (one array per method, in the order of the
    inputs; for actmax the optimised inputs), and `sanity.json`/`sanity.png` with
    `sanity=True`, into `out` or a new folder `<run>/saliency/...`. Returns a dict with
    the paths, the inputs explained, per-input statistics of each map, the sanity check
    and the time each part took.
    """
    from mlphys.rundir import write_json
    from mlphys.saliency_plots import plot_actmax, plot_maps, plot_sanity

    methods = expand_methods(method)
    if sanity and methods == ["actmax"]:
        raise UserError("--sanity checks saliency maps; actmax makes no maps of inputs: "
                        "choose another --method")
    if seed is not None:
        np.random.seed(seed)   # SmoothGrad's noise is drawn with NumPy's global generator
    timings = {}
    start = time.perf_counter()
    opened = open_run(run, checkpoint=checkpoint, models_from=models_from)
    model, preprocess = network_and_preprocessing(opened.model)
    config, model_file = opened.config, opened.model_file
    timings["load_model"] = time.perf_counter() - start

    start = time.perf_counter()
    input_shape = tuple(model.input_shape[1:])
    kind = output_kind(model)
    num_outputs = model.output_shape[-1]
    class_names = None
    spec = (config.state.data.get("spec") if config else None) or {}
    if spec.get("class_names"):
        class_names = list(spec["class_names"])
    if class_index is not None or output_index is not None:
        choose_targets(kind, np.zeros((0, num_outputs)), num_outputs, class_index,
                       output_index)   # a bad --class fails before any data is read
    layer_name = cam_layer(model, layer)
    if layer_name is None and all(m in CAM_METHODS for m in methods):
        raise UserError(f"{method} needs a convolution layer and the model has no convolution "
                        "layer; use "
                        "--method saliency or smoothgrad")
    skipped = {}
    if layer_name is None:
        skipped.update({m: "the model has no convolution layer" for m in methods
                        if m in CAM_METHODS})
    dataset_name = dataset or (config.dataset if config else None)
    if images:
        x = image_file_inputs(images, input_shape)
        true, ids = None, [Path(f).name for f in images]
        source = "files"
    elif methods == ["actmax"] and len(input_shape) == 3:   # images: values in [0, 1]
        x, true, ids, source = None, None, [], None
    else:
        if dataset_name is None:
            raise UserError(f"'{run}' has no config.json beside it to say its dataset: give "
                            "--dataset or image files with --images")
        data = opened.load_data(dataset, options, data_dir=data_dir)
        if tuple(data.spec.input_shape) != input_shape:
            raise UserError(f"the model takes inputs of shape {input_shape} but "
                            f"'{dataset_name}' has samples of shape "
                            f"{tuple(data.spec.input_shape)}; use the dataset it was trained "
                            "on (or give its --option values)")
        x, true, ids = dataset_inputs(data, split, n, indices)
        class_names = class_names or (list(data.spec.class_names)
                                      if data.spec.class_names else None)
        source = f"{dataset_name} ({split} split)"
    if x is not None and x.ndim == 2 and "scorecam" in methods:
        if method != "all":
            raise UserError("scorecam needs inputs with a channel axis (images or "
                            "sequences), not flat vectors; use gradcam or layercam")
        skipped["scorecam"] = "the inputs are flat vectors (no channel axis to mask)"
    methods = [m for m in methods if m not in skipped]
    timings["load_inputs"] = time.perf_counter() - start

    folder = _output_folder(out, Path(model_file).parent, method,
                            "files" if images else str(dataset_name or "inputs"))
    start = time.perf_counter()
    linear = linear_model(model)
    timings["prepare_model"] = time.perf_counter() - start
    result = {"run": str(run), "model_file": str(model_file), "methods": methods,
              "inputs": source, "folder": str(folder), "timings": timings}

    if methods == ["actmax"]:
        if kind == "regression":
            classes = np.asarray([output_index or 0])
        elif class_index is not None:
            classes = np.asarray([class_index])
        else:   # every class
            classes = np.arange(2 if kind == "binary" else num_outputs)
        start = time.perf_counter()
        # images are in [0, 1]; curves and vectors keep the range of the samples read
        # (as the network inside sees them; its standardisation is affine, so pixel p
        # is seen as zero[p] + p * (one[p] - zero[p]), and the images go back by that)
        zero, one = preprocess(np.stack([np.zeros(input_shape), np.ones(input_shape)])
                               .astype(np.float32))
        seen = np.stack([zero, one]) if x is None else preprocess(x)
        low, high = float(np.min(seen)), float(np.max(seen))
        generated = activation_maximisation(linear, score_weights(kind, classes, num_outputs),
                                            input_shape, (low, high), steps, seed)
        generated = (generated - zero) / np.where(one != zero, one - zero, 1.0)
        timings["actmax"] = time.perf_counter() - start
        probabilities = opened.model.predict(generated, verbose=0)
        np.savez_compressed(folder / "maps.npz", actmax=generated, classes=classes)
        names = [_class_label(c, kind, class_names) for c in classes]
        drawn = plot_actmax(generated, classes, names, probabilities, kind,
                            folder / "saliency.png",
                            title=f"activation maximisation, {Path(model_file).parent.name}")
        result.update(figure=str(drawn[0]), maps=str(folder / "maps.npz"),
                      classes=[int(c) for c in classes])
        return result

    start = time.perf_counter()
    probabilities = opened.model.predict(x, verbose=0)  # in the outputs' own units
    seen = preprocess(x)  # what the network inside sees
    timings["predict"] = time.perf_counter() - start
    targets = choose_targets(kind, probabilities, num_outputs, class_index, output_index)
    weights = score_weights(kind, targets, num_outputs)
    map_options = dict(kind=kind, targets=targets, weights=weights, layer=layer_name,
                       output_index=output_index, samples=samples, noise=noise, max_n=max_n)
    maps = {}
    for name in methods:
        start = time.perf_counter()
        maps[name] = np.asarray(compute_map(name, linear, seen, **map_options))
        timings[name] = time.perf_counter() - start
    np.savez_compressed(folder / "maps.npz", inputs=x, targets=targets,
                        **{name: maps[name] for name in methods})

    rows = []
    for i in range(len(x)):
        row = {"input": ids[i], "explained": _class_label(targets[i], kind, class_names)}
        if true is not None:
            row["true"] = _label_value(true[i], kind, class_names)
        row.update(_prediction(probabilities[i], kind, class_names))
        row["maps"] = {name: map_statistics(maps[name][i]) for name in methods}
        rows.append(row)
    start = time.perf_counter()
    drawn = plot_maps(x, maps, rows, folder / "saliency.png",
                      title=f"{Path(model_file).parent.name}: {source or 'inputs'}")
    timings["figure"] = time.perf_counter() - start
    result.update(figure=str(drawn[0]), maps=str(folder / "maps.npz"),
                  layer=layer_name, images=rows)
    if skipped:
        result["skipped"] = skipped

    if sanity:
        start = time.perf_counter()
        check = sanity_check(linear, seen, maps, methods=methods, seed=seed, **map_options)
        timings["sanity"] = time.perf_counter() - start
        write_json(folder / "sanity.json", check)
        drawn = plot_sanity(check, folder / "sanity.png")
        result["sanity"] = check
        result["sanity_files"] = [str(folder / "sanity.json"), *map(str, drawn)]
    return result


def _class_label(index, kind, class_names):
    if kind == "regression":
        return f"output {int(index)}"
    if class_names and 0 <= int(index) < len(class_names):
        return str(class_names[int(index)])
    return str(int(index))


def _label_value(value, kind, class_names):
    if kind == "regression":
        return [float(v) for v in np.ravel(value)]
    return _class_label(int(np.ravel(value)[0]), kind, class_names)


def _prediction(probabilities, kind, class_names):
    if kind == "regression":
        return {"predicted": [float(v) for v in np.ravel(probabilities)]}
    if kind == "binary":
        p = float(probabilities[0])
        predicted = int(p > 0.5)
        return {"predicted": _class_label(predicted, kind, class_names),
                "probability": p if predicted else 1 - p}
    predicted = int(np.argmax(probabilities))
    return {"predicted": _class_label(predicted, kind, class_names),
            "probability": float(probabilities[predicted])}
