"""Data augmentation with the vocabulary of Keras' `ImageDataGenerator` (MLMM 7.14).

A config is a dict of `ImageDataGenerator` arguments (those that apply to arrays) plus two
of mlphys': `noise`, Gaussian pixel noise of standard deviation `noise` on the 0-255 scale
(MLMM 7.14.4), and `rot90`, a random multiple of 90 degrees (lattice data with that
symmetry). It comes from command-line options, a named preset, or a JSON/YAML file.

Two engines run a config:

    generator   `ImageDataGenerator.flow` (the course's tool; NumPy and SciPy per image)
    layers      Keras 3 preprocessing layers in a `tf.data` pipeline (parallel, prefetched)

The random transforms (rotation, shift, shear, zoom, flips, brightness, channel shift,
noise, rot90) are what the engines apply to training batches. The standardisations
(`rescale`, samplewise and featurewise centring and scaling) must reach every input the
model ever sees, so in training they become the first layers of the saved model: a
`model.keras` trained with `--augment mlmm` takes raw images, for `evaluate` as for you.
`zca_whitening` has no such layer and is refused.

The layers engine maps each transform to its nearest layer; two differ in detail from the
generator: `brightness_range` becomes `RandomBrightness`, which adds a random offset where
the generator multiplies, and `shear_range` (an angle) becomes `RandomShear` with the
tangent of that angle as its factor. `channel_shift_range` has no layer.
"""

import json
import math
from pathlib import Path

import numpy as np

from mlphys import figures
from mlphys.errors import UserError, unknown_name

FILL_MODES = ("nearest", "constant", "reflect", "wrap")

# name -> default (ImageDataGenerator's, and mlphys' two additions)
DEFAULTS = {
    "rotation_range": 0.0,  # degrees: a rotation uniform in [-r, r]
    "width_shift_range": 0.0,  # fraction of the width (< 1) or pixels (>= 1)
    "height_shift_range": 0.0,
    "shear_range": 0.0,  # shear angle in degrees
    "zoom_range": 0.0,  # z: zoom factors uniform in [1 - z, 1 + z]; or [lower, upper]
    "channel_shift_range": 0.0,
    "brightness_range": None,  # [lower, upper] brightness factors
    "horizontal_flip": False,
    "vertical_flip": False,
    "fill_mode": "nearest",
    "cval": 0.0,
    "rescale": None,
    "featurewise_center": False,
    "featurewise_std_normalization": False,
    "samplewise_center": False,
    "samplewise_std_normalization": False,
    "zca_whitening": False,
    "zca_epsilon": 1e-6,
    "noise": 0.0,  # mlphys: Gaussian noise sigma on the 0-255 pixel scale
    "rot90": False,  # mlphys: random multiples of 90 degrees (square images)
}

PRESETS = {
    # the generator of MLMM 7.14.5 (its validation_split is mlphys' --val-split)
    "mlmm": {"featurewise_center": True, "featurewise_std_normalization": True,
             "rotation_range": 20.0, "brightness_range": [0.3, 1.0], "zoom_range": 0.4,
             "width_shift_range": 0.2, "height_shift_range": 0.2, "horizontal_flip": True,
             "vertical_flip": True},
    # handwritten digits: small rotations, shifts and zooms that keep a digit what it is
    # (no flips: a mirrored 2 is no digit, a 6 turned over is a 9), empty background
    # filled in (MLMM 7.14's transforms at a digit's scale; Simard et al. 2003)
    # (standardised by the training images' mean and deviation, as in the course's preset)
    "digits": {"featurewise_center": True, "featurewise_std_normalization": True,
               "rotation_range": 10.0, "width_shift_range": 0.1,
               "height_shift_range": 0.1, "zoom_range": 0.1, "fill_mode": "constant"},
    # the symmetry group of the square: 90-degree rotations and flips
    "dihedral": {"rot90": True, "horizontal_flip": True, "vertical_flip": True},
    # periodic boundary conditions: shifts that wrap around
    "periodic": {"width_shift_range": 0.5, "height_shift_range": 0.5, "fill_mode": "wrap"},
}


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"augmentation {name}={value!r}: expected a number")
    return float(value)


def _check(config):
    """Raise a UserError for a value outside its domain."""
    for name in ("rotation_range", "width_shift_range", "height_shift_range", "shear_range",
                 "channel_shift_range", "noise"):
        if _number(name, config[name]) < 0:
            raise UserError(f"augmentation {name}={config[name]}: must be >= 0")
    zoom = config["zoom_range"]
    if isinstance(zoom, (list, tuple)):
        if len(zoom) != 2 or not 0 < _number("zoom_range", zoom[0]) <= _number("zoom_range", zoom[1]):
            raise UserError(f"augmentation zoom_range={zoom}: give z in (-1, 1) or two "
                            "increasing positive factors")
    elif not -1 < _number("zoom_range", zoom) < 1:
        raise UserError(f"augmentation zoom_range={zoom}: must be in (-1, 1) (zoom factors "
                        "1 - z to 1 + z must stay positive)")
    brightness = config["brightness_range"]
    if brightness is not None:
        if (not isinstance(brightness, (list, tuple)) or len(brightness) != 2
                or not 0 < _number("brightness_range", brightness[0])
                < _number("brightness_range", brightness[1])):
            raise UserError(f"augmentation brightness_range={brightness}: give two increasing "
                            "positive factors, e.g. 0.3,1")
    if config["fill_mode"] not in FILL_MODES:
        raise UserError(f"augmentation fill_mode={config['fill_mode']}: choose one of "
                        f"{', '.join(FILL_MODES)}")
    for name, default in DEFAULTS.items():
        if isinstance(default, bool) and not isinstance(config[name], bool):
            raise UserError(f"augmentation {name}={config[name]!r}: expected true or false")


def read_config_file(path):
    """The arguments in a JSON or YAML file (a mapping of names to values)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise UserError(f"cannot read augmentation config '{path}' ({error.strerror})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            content = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UserError(f"cannot parse augmentation config '{path}': "
                            f"{str(error).splitlines()[0]}") from None
    else:
        try:
            content = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserError(f"cannot parse augmentation config '{path}' as JSON: {error}") from None
    if not isinstance(content, dict):
        raise UserError(f"augmentation config '{path}' must be a mapping of argument names "
                        "to values, e.g. {\"rotation_range\": 20}")
    return content


def resolve(preset_or_file=None, overrides=None):
    """The full, checked config: defaults, then a preset or a config file, then overrides.

    preset_or_file: a preset name (`mlmm`, `digits`, `dihedral`, `periodic`) or a .json/.yaml path.
    overrides: arguments given one by one (e.g. from the command line).
    """
    config = dict(DEFAULTS)
    if preset_or_file:
        if preset_or_file in PRESETS:
            layer = PRESETS[preset_or_file]
        elif Path(preset_or_file).suffix.lower() in (".json", ".yaml", ".yml") or \
                Path(preset_or_file).exists():
            layer = read_config_file(preset_or_file)
        else:
            raise unknown_name("augmentation preset", preset_or_file, PRESETS,
                               "or give a .json/.yaml file of ImageDataGenerator arguments")
        for name in layer:
            if name not in DEFAULTS:
                raise unknown_name("augmentation argument", name, DEFAULTS,
                                   f"in {preset_or_file}; the arguments are those of "
                                   "ImageDataGenerator plus noise and rot90")
        config.update(layer)
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    _check(config)
    return config


def changed(config):
    """Only the arguments that differ from the defaults (what a user wrote)."""
    return {k: v for k, v in config.items() if v != DEFAULTS[k]}


STANDARDISATIONS = ("rescale", "samplewise_center", "samplewise_std_normalization",
                    "featurewise_center", "featurewise_std_normalization", "zca_whitening",
                    "zca_epsilon")


def transforms_only(config):
    """The config without its standardisations (those go into the model, see above)."""
    return {**config, **{k: DEFAULTS[k] for k in STANDARDISATIONS}}


def _pixel_noise_and_rot90(config, rng):
    """The `preprocessing_function` for mlphys' two additions (None if neither is on);
    it sees 0-255 pixels, the scale of `noise`."""
    sigma = config["noise"]
    if not sigma and not config["rot90"]:
        return None

    def preprocess(image):
        if config["rot90"]:
            image = np.rot90(image, k=rng.integers(4), axes=(0, 1))
        if sigma:
            image = image + rng.normal(0.0, sigma, image.shape).astype(image.dtype)
        return image

    return preprocess


def _check_images(config, x):
    if config["rot90"] and x.shape[1] != x.shape[2]:
        raise UserError(f"augmentation rot90 needs square images, not "
                        f"{x.shape[1]}x{x.shape[2]}")


def image_data_generator(config, seed=0):
    """An `ImageDataGenerator` for the random transforms of `config`.

    It is fed 0-255 pixels and rescales its output by 1/255: its brightness shift goes
    through 8-bit PIL images and would round [0, 1] pixels to 0 or 1. The two shift
    ranges are handed over swapped: Keras 3's legacy ImageDataGenerator shifts rows for
    `width_shift_range` and columns for `height_shift_range` (its affine transform swaps
    the axes after building the shift), so swapping makes each mean what its name says
    (tests/test_augment.py measures it against the layers engine).
    """
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    arguments = {k: v for k, v in transforms_only(config).items() if k not in ("noise", "rot90")}
    arguments["width_shift_range"], arguments["height_shift_range"] = \
        arguments["height_shift_range"], arguments["width_shift_range"]
    return ImageDataGenerator(**{**arguments, "rescale": 1 / 255.0},
                              preprocessing_function=_pixel_noise_and_rot90(
                                  config, np.random.default_rng(seed)))


def augmentation_layers(config, x_train, seed=0):
    """The random transforms of `config` as a `keras.Sequential` of preprocessing layers
    (to be called with `training=True`)."""
    import keras
    from keras import layers

    from mlphys.augment_layers import RandomRot90

    if config["channel_shift_range"]:
        raise UserError("augmentation channel_shift_range has no Keras layer: use "
                        "--augment-engine generator")
    _check_images(config, x_train)
    if keras.backend.backend() != "tensorflow" and (config["rot90"] or config["noise"]):
        raise UserError(f"augmentation rot90 and noise have no tf.data layer on the "
                        f"{keras.backend.backend()} backend: use --augment-engine generator")
    fill = {"fill_mode": config["fill_mode"], "fill_value": config["cval"]}
    steps = []
    if config["rot90"]:
        steps.append(RandomRot90(seed=seed))
    if config["horizontal_flip"] or config["vertical_flip"]:
        mode = ("horizontal_and_vertical" if config["horizontal_flip"] and config["vertical_flip"]
                else "horizontal" if config["horizontal_flip"] else "vertical")
        steps.append(layers.RandomFlip(mode, seed=seed))
    if config["rotation_range"]:  # degrees -> fraction of a full turn
        steps.append(layers.RandomRotation(config["rotation_range"] / 360.0, seed=seed, **fill))
    if config["width_shift_range"] or config["height_shift_range"]:
        steps.append(layers.RandomTranslation(
            _fraction(config["height_shift_range"], x_train.shape[1]),
            _fraction(config["width_shift_range"], x_train.shape[2]), seed=seed, **fill))
    if config["shear_range"]:
        factor = math.tan(math.radians(config["shear_range"]))
        steps.append(layers.RandomShear(factor, factor, seed=seed, **fill))
    zoom = config["zoom_range"]
    if zoom:  # the generator's factor f < 1 zooms in; the layer's -z zooms in
        low, high = (zoom[0] - 1, zoom[1] - 1) if isinstance(zoom, (list, tuple)) \
            else (-zoom, zoom)
        steps.append(layers.RandomZoom((low, high), (low, high), seed=seed, **fill))
    if config["brightness_range"]:
        low, high = config["brightness_range"]
        steps.append(layers.RandomBrightness((low - 1, high - 1), value_range=(0, 1),
                                             seed=seed))
    if config["noise"]:
        steps.append(layers.GaussianNoise(config["noise"] / 255.0, seed=seed))
    return keras.Sequential(steps, name="augmentation")


def _fraction(shift, size):
    """ImageDataGenerator's shift (a fraction below 1, pixels from 1 on) as a fraction."""
    return float(shift) if shift < 1 else float(shift) / size


def standardisation_layers(config, x_train):
    """The standardisations of `config` as layers for the front of the model."""
    from keras import layers

    from mlphys.augment_layers import SamplewiseStandardization

    if config["zca_whitening"]:
        raise UserError("augmentation zca_whitening is not supported: it changes every input "
                        "and has no Keras layer to carry it into the model; leave it out")
    steps = []
    if config["rescale"]:
        steps.append(layers.Rescaling(config["rescale"], name="rescale"))
    if config["samplewise_center"] or config["samplewise_std_normalization"]:
        steps.append(SamplewiseStandardization(config["samplewise_center"],
                                               config["samplewise_std_normalization"],
                                               name="samplewise_standardization"))
    if config["featurewise_center"] or config["featurewise_std_normalization"]:
        # per channel, over samples and pixels, as ImageDataGenerator.fit computes them
        images = x_train * config["rescale"] if config["rescale"] else x_train
        mean = images.mean(axis=(0, 1, 2))
        std = images.std(axis=(0, 1, 2)) if config["featurewise_std_normalization"] \
            else np.ones_like(mean)
        if not config["featurewise_center"]:
            mean = np.zeros_like(mean)
        steps.append(layers.Normalization(axis=-1, mean=mean, variance=(std + 1e-6) ** 2,
                                          name="featurewise_standardization"))
    return steps


def with_standardisation(model, config, x_train):
    """`model` with the config's standardisations as its first layers (compiled the same),
    or `model` itself if there are none."""
    from mlphys.normalization import wrapped_model

    steps = standardisation_layers(config, x_train)
    if not steps:
        return model
    return wrapped_model(model, steps, name=f"standardised_{model.name}")


def generator_batches(config, x, y, batch_size, seed=0):
    """`ImageDataGenerator.flow` over (x, y): shuffled, seeded batches, one epoch a pass."""
    _check_images(config, x)
    generator = image_data_generator(config, seed)
    return generator.flow(x * 255.0, y, batch_size=batch_size, shuffle=True, seed=seed)


def layer_batches(config, x, y, batch_size, seed=0):
    """The same through preprocessing layers in a parallel, prefetched `tf.data` pipeline."""
    import tensorflow as tf

    augment = augmentation_layers(config, x, seed)
    pipeline = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
    # one batch at a time: the layers draw from a shared seed state, which parallel calls
    # would consume in a varying order (the same seed must give the same stream); the
    # batch-wide layers are fast, and prefetch overlaps them with training
    pipeline = pipeline.batch(batch_size).map(lambda a, b: (_apply(augment, a), b))
    return pipeline.prefetch(tf.data.AUTOTUNE)


def _apply(augment, images):
    """The layers of `augment` one after another, in training mode: each preprocessing
    layer runs on TensorFlow inside tf.data whatever the Keras backend (a Sequential of
    them would run on the backend's, e.g. JAX, ops, which take no graph tensors)."""
    for layer in augment.layers:
        images = layer(images, training=True)
    return images


ENGINES = {"generator": generator_batches, "layers": layer_batches}


def augmented_batches(config, x, y, batch_size, engine="generator", seed=0):
    """Batches of randomly transformed (x, y) from the chosen engine."""
    if engine not in ENGINES:
        raise UserError(f"--augment-engine {engine}: choose generator or layers")
    return ENGINES[engine](config, x, y, batch_size, seed)


def preview(config, images, path, versions=4, engine="generator", seed=0, title=""):
    """A grid: each row one image (N, H, W, C), the original first, then `versions`
    augmented copies (one per pass over the data, as the course shows them epoch by
    epoch); written in the formats of `figures.formats(...)`. Returns (rows, columns)."""
    labels = np.zeros(len(images))
    standardise = standardisation_layers(config, images)
    if engine == "generator":
        _check_images(config, images)
        flow = image_data_generator(config, seed).flow(images * 255.0, labels, shuffle=False,
                                                       batch_size=len(images))
        transformed = [flow[0][0] for _ in range(versions)]  # a new draw each time
    else:
        augment = augmentation_layers(config, images, seed)
        transformed = [augment(images, training=True) for _ in range(versions)]
    passes = []
    for batch in transformed:
        for step in standardise:
            batch = step(batch)
        passes.append(np.asarray(batch))
    _draw_preview(images, passes, path, title)
    return (len(images), versions + 1)


@figures.styled
def _draw_preview(images, passes, path, title):
    rows, columns = len(images), len(passes) + 1
    figure = figures.new_figure(1.3 * columns, 1.3 * rows + 0.4)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.5 / (1.3 * rows + 0.4),
                           wspace=0.05, hspace=0.05)
    axes = figure.subplots(rows, columns, squeeze=False)
    for row in range(rows):
        for column in range(columns):
            image = images[row] if column == 0 else passes[column - 1][row]
            ax = axes[row, column]
            # standardised images are shown from their smallest to their largest value
            low, high = (0.0, 1.0) if column == 0 else (image.min(), image.max())
            figures.show_image(ax, image, low, high if high > low else low + 1)
            if row == 0:
                ax.set_title("original" if column == 0 else f"pass {column}", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=9)
    figures.save(figure, path)
