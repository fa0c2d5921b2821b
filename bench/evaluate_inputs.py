"""Scoring a model: Keras' adapter for arrays against mlphys' in-order pipeline.

    python bench/evaluate_inputs.py [--samples 1200] [--repeats 20]

`mlphys.evaluation.score_predictions` calls `model.evaluate` and `model.predict` once
each per run, and every epoch of a fit validates. Given arrays, Keras builds and traces a
new `tf.data` pipeline at each call; `mlphys.streams.in_order` hands it one pipeline of
the same batches. This times both, interleaved, on the digits-sized cnn input (12x12x1,
10 classes) of a small dense model, after a first call of each (traces), and prints the
CPU milliseconds per call (fastest of `--repeats`) and their ratio, and checks that the
two give the same loss and predictions.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))
from _timing import fastest  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1200)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    import keras
    import numpy as np

    from mlphys.streams import in_order

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 12, 12, 1))  # float64, as a user's arrays often are
    y = rng.integers(0, 10, args.samples)
    inputs = keras.Input((12, 12, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    calls = {
        "evaluate, arrays (Keras' adapter)":
            lambda: model.evaluate(x, y, batch_size=256, verbose=0, return_dict=True),
        "evaluate, in_order pipeline":
            lambda: model.evaluate(in_order(x, y, batch_size=256), verbose=0,
                                   return_dict=True),
        "predict, arrays (Keras' adapter)":
            lambda: model.predict(x, batch_size=256, verbose=0),
        "predict, in_order pipeline":
            lambda: model.predict(in_order(x, batch_size=256), verbose=0),
    }
    first = {name: call() for name, call in calls.items()}  # traces
    names = list(calls)
    assert first[names[0]] == first[names[1]], "the two evaluations differ"
    assert np.array_equal(first[names[2]], first[names[3]]), "the predictions differ"
    ms = dict.fromkeys(names, float("inf"))
    for _ in range(3):  # interleaved rounds: a busy moment slows both
        for name in names:
            seconds = fastest(calls[name], max(1, args.repeats // 3), time.process_time)
            ms[name] = min(ms[name], 1000 * seconds)
    for name in names:
        print(f"{name:36s} {ms[name]:8.1f} ms of CPU per call")
    print(f"ratio evaluate (pipeline / arrays): {ms[names[1]] / ms[names[0]]:.2f}")
    print(f"ratio predict  (pipeline / arrays): {ms[names[3]] / ms[names[2]]:.2f}")
    print("same loss, metrics and predictions: yes")


if __name__ == "__main__":
    main()
