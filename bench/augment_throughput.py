"""Augmentation speed: each engine alone, and training with it against training without.

    python bench/augment_throughput.py [--copies 6] [--epochs 2]

On scikit-learn's digits (28x28, the training split repeated --copies times), in one
process, with the random transforms of the MLMM 7.14.5 preset (rotation 20, shifts 0.2,
zoom 0.4, brightness 0.3-1, both flips):
1. images per second through `ImageDataGenerator.flow` (generator) and through Keras
   preprocessing layers in tf.data (layers), one full pass after a warm-up pass;
   target: layers >= 2x generator;
2. the epoch time of `cnn` (MLMM 7.14.5) without augmentation and with each engine,
   after a warm-up epoch; target: augmented epoch <= 1.15x the plain one.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def images_per_second(batches, n_images):
    for _ in batches:  # warm-up pass: tf.data tracing, first allocations
        pass
    start = time.perf_counter()
    seen = 0
    for x, _ in batches:
        seen += len(x)
    return seen / (time.perf_counter() - start) if seen == n_images else float("nan")


def epoch_seconds(data_spec, x, y, epochs, batches=None):
    import keras

    import mlphys

    keras.utils.set_random_seed(0)
    model, _ = mlphys.build_model("cnn", data_spec)
    inputs = (batches,) if batches is not None else (x, y)
    kwargs = {"shuffle": False} if batches is not None else {"batch_size": 32}
    model.fit(*inputs, epochs=1, verbose=0, **kwargs)  # warm-up: tracing
    start = time.perf_counter()
    model.fit(*inputs, epochs=epochs, verbose=0, **kwargs)
    return (time.perf_counter() - start) / epochs


class _OneEpoch:
    """An ImageDataGenerator iterator walked exactly once per `for` loop."""

    def __init__(self, flow):
        self.flow = flow

    def __iter__(self):
        return (self.flow[i] for i in range(len(self.flow)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    import mlphys
    from mlphys.augmentation import augmented_batches, resolve, transforms_only

    data = mlphys.load_dataset("digits")
    x = np.concatenate([data.x_train] * args.copies)
    y = np.concatenate([data.y_train] * args.copies)
    config = transforms_only(resolve("mlmm"))
    print(f"{len(x)} images 28x28x1, batch 32, MLMM 7.14.5 transforms")

    speed = {}
    for engine in ("generator", "layers"):
        batches = augmented_batches(config, x, y, 32, engine, seed=0)
        if engine == "generator":
            batches = _OneEpoch(batches)
        speed[engine] = images_per_second(batches, len(x))
        print(f"  {engine:<9} {speed[engine]:8.0f} images/s")
    ratio = speed["layers"] / speed["generator"]
    print(f"layers / generator: {ratio:.2f}   target >= 2: {'met' if ratio >= 2 else 'MISSED'}")

    plain = epoch_seconds(data.spec, x, y, args.epochs)
    print(f"cnn epoch without augmentation: {plain:.2f} s")
    for engine in ("generator", "layers"):
        batches = augmented_batches(config, x, y, 32, engine, seed=0)
        seconds = epoch_seconds(data.spec, x, y, args.epochs, batches)
        ratio = seconds / plain
        print(f"cnn epoch with {engine:<9}: {seconds:.2f} s  ratio {ratio:.2f}   "
              f"target <= 1.15: {'met' if ratio <= 1.15 else 'MISSED'}")


if __name__ == "__main__":
    main()
