"""`mlphys info NAME`: what a model or dataset is, without loading TensorFlow."""

import click

from mlphys.cli import options, output
from mlphys.errors import UserError


@click.command()
@click.argument("name")
@click.option("--shape", metavar="H,W,C", help="Build the model for this input shape and "
              "print its layers and parameter count (imports TensorFlow).")
@click.option("--classes", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of classes (or regression targets) with --shape.")
@click.option("--task", type=click.Choice(["classification", "binary", "regression"]),
              help="Task with --shape [default: the model's].")
@options.param
@options.option
@options.models_from
@options.json_output
def info(name, shape, classes, task, params, options, models_from, as_json):
    """Describe model or dataset NAME: source, hyperparameters, compatible datasets.

    \b
      mlphys info cnn
      mlphys info cnn --shape 28,28,1 --classes 10
      mlphys info digits
      mlphys info events.root -o tree=Events     # what is in a file
    """
    from mlphys.datasets import list_datasets, looks_like_path
    from mlphys.registry import list_models, load_plugin

    load_plugin(models_from)
    if name in list_models():
        shape = _parse_shape(shape) if shape else None
        _model_info(name, shape, classes, task, params, as_json)
    elif name in list_datasets():
        if shape:
            raise UserError("--shape applies to models; a dataset's shape is in its info")
        _dataset_info(name, as_json)
    elif looks_like_path(name):
        _file_info(name, options, as_json)
    else:
        from mlphys.errors import unknown_name

        raise unknown_name("model or dataset", name, list_models() + list_datasets(),
                           "'mlphys list models' and 'mlphys list datasets' show them")


def _model_info(name, shape, classes, task, params, as_json):
    from mlphys.datasets import get_dataset, list_datasets
    from mlphys.hparams import declared_hyperparameters, parse_assignments
    from mlphys.registry import get_model

    from mlphys.hparams import resolve_params

    entry = get_model(name)
    declared = declared_hyperparameters(entry)
    params = parse_assignments(params, "--param")
    resolve_params(entry, params)  # refused against the declarations before any output
    # built before anything is printed, so that a value Keras refuses is the only line
    built = _build_for_shape(entry, shape, classes, task, params) if shape else None
    fitting = [d for d in list_datasets() if entry.accepts(get_dataset(d).task,
                                                          get_dataset(d).kind)]
    if as_json and built:  # the layer table's JSON alone, so that stdout stays JSON
        _layer_table(entry, shape, *built, as_json)
        return
    if as_json:
        output.as_json({
            "name": name, "task": entry.task, "inputs": entry.inputs,
            "default_dataset": entry.dataset, "source": entry.source, "doc": entry.doc,
            "epochs": entry.epochs, "batch_size": entry.batch_size,
            "backends": list(entry.backends),
            "hyperparameters": [{"name": d.name, "type": d.type, "default": d.default,
                                 "range": d.range} for d in declared],
            "datasets": fitting, "dataset_defaults": entry.dataset_defaults or {},
            "data_formula": _formula(entry.dataset)})
        return
    click.echo(f"{name}: {entry.summary}\n")
    click.echo("\n".join(entry.doc.splitlines()[1:]).strip() + "\n")
    output.fields([("source", entry.source), ("task", entry.task), ("inputs", entry.inputs),
                   ("default dataset", entry.dataset),
                   ("default epochs / batch size", f"{entry.epochs} / {entry.batch_size}"),
                   ("backends", ", ".join(entry.backends)),
                   *((f"defaults on {d}", ", ".join(f"{k} {v}" for k, v in s.items()))
                     for d, s in (entry.dataset_defaults or {}).items())])
    click.echo("\nhyperparameters (set with -p NAME=VALUE):")
    output.table([(d.name, d.type, d.default, d.range) for d in declared],
                 ["name", "type", "default", "range"])
    click.echo(f"\ncompatible datasets: {', '.join(fitting) or 'none registered'}"
               " (and your own .npz, .csv or image folders of that kind)")
    formula = _formula(entry.dataset)
    if formula:
        click.echo(f"\ndata ({entry.dataset}):\n" + _indent(formula))
    if built:
        _layer_table(entry, shape, *built, as_json)


def _formula(dataset):
    """The equations of a registered dataset's generator, or ''."""
    from mlphys.datasets import get_dataset, list_datasets

    return get_dataset(dataset).formula if dataset in list_datasets() else ""


def _indent(text):
    return "\n".join("  " + line for line in text.splitlines())


def _parse_shape(text):
    try:
        shape = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise UserError(f"--shape {text}: give integers, e.g. --shape 28,28,1") from None
    if not shape or min(shape) < 1:
        raise UserError(f"--shape {text}: give positive integers, e.g. --shape 28,28,1")
    if len(shape) > 3:
        raise UserError(f"--shape {text}: give 1 (features), 2 (time, features) or 3 "
                        "(height, width, channels) numbers")
    return shape


def _build_for_shape(entry, shape, classes, task, params):
    """(model, hp, number of outputs) of `entry` built for inputs of `shape`."""
    from mlphys.datasets import DataSpec

    shape_text = ",".join(map(str, shape))
    kind = {1: "vector", 2: "sequence", 3: "image"}[len(shape)]
    task = task or ("regression" if entry.task == "regression" else "classification")
    outputs = 1 if task == "binary" else classes
    names = tuple(str(i) for i in range(2 if task == "binary" else classes)) \
        if task != "regression" else None
    spec = DataSpec(shape, task, outputs, kind, names)

    from mlphys.building import build_model

    model, hp = build_model(entry.name, spec, params, dataset_name=f"--shape {shape_text}")
    return model, hp, outputs


def _layer_table(entry, shape, model, hp, outputs, as_json):
    if as_json:
        output.as_json({"name": entry.name, "input_shape": list(shape),
                        "parameters": int(model.count_params()),
                        "hyperparameters": dict(hp.values),
                        "layers": [{"name": layer.name, "type": type(layer).__name__,
                                    "parameters": int(layer.count_params())}
                                   for layer in model.layers]})
        return
    click.echo("")
    model.summary()
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    click.echo(f"parameters: {model.count_params():,} (trainable {trainable:,}) for input "
               f"{'x'.join(map(str, shape))} and {outputs} output(s)")


def _dataset_info(name, as_json):
    from mlphys.datasets import get_dataset
    from mlphys.registry import get_model, list_models

    entry = get_dataset(name)
    opts = [(option, getattr(kind, "__name__", str(kind)).replace("typing.", ""), default)
            for option, (kind, default) in entry.options().items()]
    models = [m for m in list_models() if get_model(m).accepts(entry.task, entry.kind)]
    if as_json:
        output.as_json({"name": name, "task": entry.task, "kind": entry.kind,
                        "shape": entry.shape, "source": entry.source,
                        "licence": entry.licence, "doc": entry.doc, "formula": entry.formula,
                        "options": [{"name": o, "type": t, "default": d} for o, t, d in opts],
                        "models": models})
        return
    click.echo(f"{name}: {entry.summary}\n")
    rest = "\n".join(entry.doc.splitlines()[1:]).strip()
    if rest:
        click.echo(rest + "\n")
    output.fields([("source", entry.source), ("licence", entry.licence),
                   ("task", entry.task), ("inputs", f"{entry.kind} {entry.shape}")])
    if entry.formula:
        click.echo("\nformula:\n" + _indent(entry.formula))
    if opts:
        click.echo("\noptions (set with -o NAME=VALUE):")
        output.table(opts, ["name", "type", "default"])
    click.echo(f"\nmodels that fit: {', '.join(models) or 'none registered'}")


def _file_info(name, assignments, as_json):
    """What is in a user's file: trees and branches, datasets, HDUs or columns."""
    from mlphys.datasets import describe_file
    from mlphys.hparams import parse_assignments

    contents = describe_file(name, parse_assignments(assignments, "--option"))
    if as_json:
        output.as_json({"file": name, "title": contents.title,
                        "items": [dict(zip(contents.headers, row)) for row in contents.rows]})
        return
    click.echo(contents.title + "\n")
    output.table(contents.rows, list(contents.headers))
