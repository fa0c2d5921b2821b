"""Replica ensembles: `mlphys train MODEL --replicas N`.

The Monte Carlo replica method of PDF fits (NNPDF; ML4PA tutorial 3): each of N copies of
the model trains on its own pseudo-data, the targets fluctuated within their uncertainties,
y_k = y + sigma * N(0, 1). The spread of the N fits is the uncertainty of the fitted
function: the ensemble predicts the mean, and `member_outputs` gives every fit for a
68% band. On a dataset without uncertainties the members share the targets and differ by
their initial weights only (a deep ensemble).

The N members train together, in one `fit`: `Ensemble(x, training=True)` returns every
member's output stacked on axis 1, so Keras' own `train_step` fits member k to replica k;
outside training the ensemble returns the members' mean and scores like any model.
The Keras class is in mlphys.ensemble_model, imported when an ensemble is built (importing
mlphys loads no Keras).
"""

import numpy as np

from mlphys.errors import UserError


def replica_targets(data, replicas, seed):
    """Training targets of shape (N, replicas, *target): one pseudo-dataset per member."""
    y = np.asarray(data.y_train)
    stacked = np.repeat(y[:, np.newaxis], replicas, axis=1)
    if data.sigma_train is None:
        return stacked
    sigma = np.asarray(data.sigma_train, dtype=np.float32)[:, np.newaxis]
    rng = np.random.default_rng([seed, 1])  # independent of the weights' initialisation
    noise = rng.standard_normal(stacked.shape).astype(np.float32)
    return (stacked + sigma * noise).astype(np.float32)


def check_replicas(replicas, entry):
    if replicas < 1:
        raise UserError(f"--replicas {replicas}: give a number of replicas >= 1")
    if replicas > 1 and entry.compiles:
        raise UserError(f"--replicas: model '{entry.name}' trains with its own training "
                        "step, which replicas cannot split; train it once per seed with "
                        "--repeats instead")


def ensemble_of(members):
    """An `Ensemble` of already built Keras models (the same architecture)."""
    from mlphys.ensemble_model import Ensemble  # imports Keras: only when one is built

    model = Ensemble(members)
    model.build(members[0].input_shape)
    return model


def member_predictions(model, x, batch_size=4096):
    """Every member's prediction, shape (members, N, ...), or None for a single model."""
    import keras

    if not getattr(model, "members", None):
        return None
    parts = [keras.ops.convert_to_numpy(model.member_outputs(x[i:i + batch_size]))
             for i in range(0, len(x), batch_size)]
    return np.moveaxis(np.concatenate(parts), 1, 0)
