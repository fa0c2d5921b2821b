"""Starting a run from another run's weights (`--init-from RUN`) and fixing layers
(`--freeze PATTERN`), for every model: zoo, backbone or plugin.

    mlphys train cnn -d cracks --init-from saved_models/cnn-shapes-20261201-101500
    mlphys train cnn -d cracks --init-from RUN --freeze 'conv*'

`prepare_model` calls `apply_transfer(model, config)` after building: each layer of the
new model takes the weights of the source run's layer of the same name when every weight
has the same shape; a layer whose shapes differ (a head for another number of classes)
or that the source lacks keeps its fresh initial weights. What was transferred, what not
and why, what was frozen and the trainable parameter count are printed and recorded in
`config.json` (`transfer`). Imports Keras only inside its functions.
"""

import fnmatch

from mlphys.errors import UserError


def model_layers(model):
    """{name: layer} of every layer, nested models opened (an ensemble's members, the
    standardisation wrapper of `--augment`), in the model's order."""
    import keras

    found = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            for name, inner in model_layers(layer).items():
                found.setdefault(name, inner)
        else:
            found.setdefault(layer.name, layer)
    return found


def weighted_layers(model):
    """{name: layer} of the layers holding weights (`model_layers` with weights)."""
    return {name: layer for name, layer in model_layers(model).items() if layer.weights}


def trainable_parameters(model):
    """Number of trainable parameters (the weights an optimizer updates)."""
    import numpy as np

    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def init_from(model, source):
    """Copy the weights of run `source` (a run folder, tuning folder or .keras file,
    opened by `Run.open`) into `model`, layer by layer where names and shapes match.

    Returns {"from", "transferred": [names], "not_transferred": {name: reason}}; a source
    with no layer in common is a UserError."""
    from mlphys.run import Run

    source_layers = weighted_layers(Run.open(source).model)
    transferred, skipped = [], {}
    for name, layer in weighted_layers(model).items():
        old = source_layers.get(name)
        if old is None:
            skipped[name] = "not in the source run"
            continue
        here = [tuple(w.shape) for w in layer.weights]
        there = [tuple(w.shape) for w in old.weights]
        if here != there:
            skipped[name] = f"shapes differ: {_shapes(there)} there, {_shapes(here)} here"
            continue
        layer.set_weights(old.get_weights())
        transferred.append(name)
    if not transferred:
        raise UserError(f"--init-from {source}: no layer of this model matches one of that "
                        f"run's by name and weight shapes (it has "
                        f"{', '.join(list(source_layers)[:8]) or 'no weights'}); start "
                        "from a run of the same or a related model")
    return {"from": str(source), "transferred": transferred, "not_transferred": skipped}


def _shapes(shapes):
    return " ".join("x".join(str(d) for d in s) or "scalar" for s in shapes)


def freeze_layers(model, patterns):
    """Make the layers with weights whose names match `patterns` (wildcards,
    comma-separated) not trainable; returns their names. A pattern matching no such
    layer is a UserError."""
    layers = weighted_layers(model)
    frozen = []
    for pattern in [p.strip() for p in str(patterns).split(",") if p.strip()]:
        matched = [name for name in layers if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            raise UserError(f"--freeze {pattern}: no layer of this model with weights "
                            f"matches it; those are {', '.join(list(layers)[:12])}"
                            f"{', ...' if len(layers) > 12 else ''} ('mlphys info MODEL "
                            "--shape ...' lists them all)")
        for name in matched:
            layers[name].trainable = False
            if name not in frozen:
                frozen.append(name)
    return frozen


def apply_transfer(model, config, *, quiet=False):
    """`--init-from` then `--freeze`, as `config` says; records what was done in
    `config.state.transfer` and prints it (unless quiet)."""
    if not config.init_from and not config.freeze:
        return
    record = init_from(model, config.init_from) if config.init_from else {}
    if config.freeze:
        record["frozen"] = freeze_layers(model, config.freeze)
    record["trainable_parameters"] = trainable_parameters(model)
    record["parameters"] = int(model.count_params())
    config.state.transfer = record
    if not quiet:
        for line in describe(record):
            print(line, flush=True)


def describe(record):
    """The lines `apply_transfer` prints about `record`."""
    lines = []
    if "from" in record:
        lines.append(f"--init-from {record['from']}: {len(record['transferred'])} layer(s) "
                     f"transferred ({', '.join(record['transferred'])})")
        for name, why in record["not_transferred"].items():
            lines.append(f"  not transferred: {name} ({why})")
    if record.get("frozen"):
        lines.append(f"--freeze: {len(record['frozen'])} layer(s) fixed "
                     f"({', '.join(record['frozen'])})")
    lines.append(f"trainable parameters: {record['trainable_parameters']:,} of "
                 f"{record['parameters']:,}")
    return lines
