"""Time per image of each saliency method through `mlphys saliency`, against calling
tf-keras-vis directly on the same model and images.

    python bench/saliency_speed.py [--images 3] [--repeats 2] [--samples 20] [--max-n 10]

Trains two throwaway runs in a temporary folder (one epoch each): `cnn` on the 28x28x1
digits and `cnn` on 128x128x3 images (a random .npz, 2 classes). For each method, in
turn and repeated (the fastest run counts: noise on a shared machine only adds time):

  mlphys  `mlphys.saliency.explain(RUN, method, ...)`, the function behind the command;
          maps time = copying the model with a linear output + predicting the classes +
          computing the maps, as it reports them (`timings`); the fixed costs (loading
          the model and the inputs, the figure and files) are shown apart.
  direct  what a user of tf-keras-vis writes: `Saliency(model, ReplaceToLinear(), clone=True)
          (CategoricalScore(predicted), x, ...)` etc. on the already loaded model and
          the same images, the predicted classes included, on a freshly loaded model
          (loading not timed) as the command has.

    ratio = maps time (mlphys) / time (direct)      target <= 1.10

The course timed 3 images of 256x256 on a CPU at 11.5 s (vanilla), 51.2 s (SmoothGrad,
20 samples) and 19.7 s (Score-CAM, max_N 10).
"""

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

METHODS = ("saliency", "smoothgrad", "gradcam", "gradcam++", "scorecam", "layercam")


def make_runs(folder):
    """(name, run folder) of a cnn on 28x28x1 digits and one on 128x128x3 images."""
    import numpy as np

    import mlphys

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (96, 128, 128, 3)).astype(np.float32)
    y = (x[:, :64].mean(axis=(1, 2, 3)) > x[:, 64:].mean(axis=(1, 2, 3))).astype(int)
    images = Path(folder) / "rgb128.npz"
    np.savez(images, x_train=x[:80], y_train=y[:80], x_test=x[80:], y_test=y[80:])
    small = mlphys.train("cnn", "digits", epochs=1, seed=1, out=folder, quiet=True)
    large = mlphys.train("cnn", str(images), epochs=1, seed=1, out=folder, quiet=True)
    return [("cnn 28x28x1", small["run_dir"]), ("cnn 128x128x3", large["run_dir"])]


def direct(model, x, method, samples, max_n):
    """tf-keras-vis called by hand, as its documentation shows."""
    import numpy as np
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    score = CategoricalScore(list(np.argmax(model.predict(x, verbose=0), axis=-1)))
    kinds = {"saliency": Saliency, "smoothgrad": Saliency, "gradcam": Gradcam,
             "gradcam++": GradcamPlusPlus, "scorecam": Scorecam, "layercam": Layercam}
    visualiser = kinds[method](model, model_modifier=ReplaceToLinear(), clone=True)
    if method == "smoothgrad":
        return visualiser(score, x, smooth_samples=samples, smooth_noise=0.2)
    if method == "scorecam":
        return visualiser(score, x, max_N=max_n)
    return visualiser(score, x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--max-n", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")   # retracing notices from model.predict

    import contextlib
    import io

    from mlphys.evaluation import load_keras_model
    from mlphys.saliency import explain

    with tempfile.TemporaryDirectory() as folder:
        runs = make_runs(folder)
        indices = list(range(args.images))
        print(f"{args.images} images per call, fastest of {args.repeats} runs; "
              f"SmoothGrad {args.samples} samples, Score-CAM max_N {args.max_n}")
        for name, run in runs:
            model = load_keras_model(Path(run) / "model.keras")
            result = explain(run, "saliency", indices=indices, out=Path(folder) / f"warmup-{name[-7:]}")
            x = __import__("numpy").load(Path(result["maps"]))["inputs"]
            print(f"\n{name}: load model {result['timings']['load_model']:.2f} s, "
                  f"inputs {result['timings']['load_inputs']:.2f} s (once per command)")
            print(f"  {'method':<11} {'mlphys s/img':>12} {'direct s/img':>12} {'ratio':>6}"
                  f"   {'figure+files s':>14}")
            for method in METHODS:
                ours, theirs, fixed = [], [], []
                for repeat in range(args.repeats):
                    out = Path(folder) / f"{name[-7:]}-{method}-{repeat}"
                    start = time.perf_counter()
                    result = explain(run, method, indices=indices, samples=args.samples,
                                     max_n=args.max_n, out=out)
                    total = time.perf_counter() - start
                    t = result["timings"]
                    maps = t["prepare_model"] + t["predict"] + t[method]
                    ours.append(maps)
                    fixed.append(total - maps - t["load_model"] - t["load_inputs"])
                    # a freshly loaded model, as the command has: both pay the tracing
                    # of the model's first call
                    model = load_keras_model(Path(run) / "model.keras")
                    start = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):
                        direct(model, x, method, args.samples, args.max_n)
                    theirs.append(time.perf_counter() - start)
                ratio = min(ours) / min(theirs)
                print(f"  {method:<11} {min(ours) / args.images:12.3f} "
                      f"{min(theirs) / args.images:12.3f} {ratio:6.2f}   {min(fixed):14.2f}"
                      + ("" if ratio <= 1.10 else "   (target 1.10 missed)"))


if __name__ == "__main__":
    sys.exit(main())
