"""Rows per second of `mlphys predict` against a plain `model.predict`, the inference time
of the ONNX and LiteRT exports against Keras, and the peak memory of predicting a folder
of images.

    python bench/predict_throughput.py [--samples 100000] [--repeats 2] [--images 20000]

Trains a throwaway `cnn` on the 28x28x1 digits (one epoch) in a temporary folder, and
writes `--samples` digits-shaped inputs (the test digits repeated, uint8) to an .npz.

  throughput  mlphys: `predict_to_file(RUN, x.npz)`, the function behind the command:
              reading the .npz, checking it, predicting in chunks, the table of every
              class's probability and writing it as CSV. plain: `np.load` of the same
              file, `model.predict(x, batch_size=256)` on the loaded model. Interleaved,
              the fastest of `--repeats` counts (noise on a shared machine only adds time).
              ratio = rows/s (mlphys) / rows/s (plain)      target >= 0.9
  runtimes    one batch of 256 through Keras (`model.predict_on_batch`), onnxruntime and
              the TFLite interpreter, the fastest of 20 calls after a warm-up.
  memory      `mlphys predict RUN folder/` in a fresh process on `--images` PNG files
              (28x28, grey): its peak resident memory (ru_maxrss of the child).
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def fastest(function, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def throughput(run, npz, samples, repeats):
    import numpy as np

    from mlphys.prediction import PredictSettings, predict_to_file

    model = run.model
    out = npz.parent / "predictions"

    def plain():
        with np.load(npz) as f:
            x = f["x"].astype(np.float32)[..., np.newaxis] / 255.0
        model.predict(x, batch_size=256, verbose=0)

    def ours():
        predict_to_file(run, str(npz), out=out, settings=PredictSettings(batch_size=256))

    times = {"plain": float("inf"), "mlphys": float("inf")}
    for _ in range(repeats):  # interleaved
        times["plain"] = min(times["plain"], fastest(plain, 1))
        times["mlphys"] = min(times["mlphys"], fastest(ours, 1))
    for name, seconds in times.items():
        print(f"  {name:<7} {seconds:7.2f} s   {samples / seconds:10,.0f} rows/s")
    print(f"  ratio (mlphys / plain rows per second): {times['plain'] / times['mlphys']:.3f}"
          "   target >= 0.9")


def runtimes(run, x):
    from mlphys.export import export

    onnx = export(run.path, "onnx", samples=64)
    litert = export(run.path, "litert", samples=64)
    print(f"  exports: largest |onnx - keras| {onnx.max_abs_diff:.3g}, "
          f"|litert - keras| {litert.max_abs_diff:.3g}")
    import onnxruntime
    import tensorflow as tf

    session = onnxruntime.InferenceSession(str(onnx.path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    from mlphys.quiet import silenced

    with silenced():  # TensorFlow's notice that tf.lite.Interpreter moves to ai_edge_litert
        interpreter = tf.lite.Interpreter(model_path=str(litert.path))
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], list(x.shape))
    interpreter.allocate_tensors()

    def lite():
        interpreter.set_tensor(entry["index"], x)
        interpreter.invoke()

    calls = {"keras": lambda: run.model.predict_on_batch(x),
             "onnxruntime": lambda: session.run(None, {name: x}),
             "litert": lite}
    keras_time = None
    for label, call in calls.items():
        call()  # warm-up
        seconds = fastest(call, 20)
        keras_time = keras_time or seconds
        print(f"  {label:<12} {1000 * seconds:8.2f} ms per batch of {len(x)}   "
              f"{seconds / keras_time:5.2f} x keras")


def memory(run, images, folder):
    import numpy as np
    from PIL import Image

    root = folder / "images"
    root.mkdir()
    digits = run.load_data().x_test
    for i in range(images):
        Image.fromarray((digits[i % len(digits), ..., 0] * 255).astype(np.uint8)).save(
            root / f"{i:06d}.png")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlphys", "predict", str(run.path), str(root),
                    "--out", str(folder / "folder-predictions")], check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  {images:,} images predicted in {seconds:.1f} s (the whole command); peak "
          f"RSS {peak:,.0f} MB   target < 1,500 MB for 200,000")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--images", type=int, default=20_000)
    args = parser.parse_args()
    import numpy as np

    import mlphys

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        os.environ.setdefault("MLPHYS_DATA_DIR", str(folder / "data"))
        run = mlphys.train("cnn", "digits", epochs=1, seed=1, out=folder / "runs",
                           quiet=True)
        digits = run.load_data().x_test
        x = np.resize((digits[..., 0] * 255).astype(np.uint8), (args.samples, 28, 28))
        np.savez(folder / "x.npz", x=x)
        print(f"throughput, {args.samples:,} digits-shaped samples, cnn (batch 256):")
        throughput(run, folder / "x.npz", args.samples, args.repeats)
        print("runtimes, one batch:")
        runtimes(run, digits[:256].astype(np.float32))
        if args.images:
            print("memory, an image folder:")
            memory(run, args.images, folder)


if __name__ == "__main__":
    main()
