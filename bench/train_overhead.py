"""What mlphys adds to a training run, against plain Keras on the same arrays.

    python bench/train_overhead.py [--epochs 3] [--repeats 3]

Runs, side by side and interleaved: `mlphys train cnn -d digits --epochs N --augment none
--lr-schedule constant -p learning_rate=1e-3` (the plain script's fit; checkpoints,
CSV log, TensorBoard, test metrics, plots, config) and bench/plain_keras_cnn.py (the same
model, `fit` on the same arrays, nothing else), plus `python -c "import tensorflow"`.
The overhead ratio excludes the one-time TensorFlow import that both pay:

    ratio = (t_mlphys - t_import) / (t_plain - t_import)      target <= 1.10

with each t the fastest of the repeats (noise on a shared machine only adds time).
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from _timing import compare  # noqa: E402

PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "import tensorflow": [PY, "-c", "import tensorflow"],
            "plain keras fit": [PY, os.path.join(HERE, "plain_keras_cnn.py"),
                                str(args.epochs), "1"],
            # the same fit as the plain script: without the cnn's default augmentation
            # and schedule on digits, which are more work, not overhead
            "mlphys train": [PY, "-m", "mlphys", "train", "cnn", "-d", "digits", "--epochs",
                             str(args.epochs), "--seed", "1", "--augment", "none",
                             "--lr-schedule", "constant", "-p", "learning_rate=1e-3",
                             "--quiet", "--out", out],
        }
        times = compare(commands, args.repeats, env)
    tf = times["import tensorflow"][0]
    print(f"wall time, fastest (median) of {args.repeats} runs each, cnn on digits, "
          f"{args.epochs} epochs")
    for name, (fastest, median) in times.items():
        print(f"  {name:<18} {fastest:6.2f} s ({median:6.2f} s)   without the import: "
              f"{fastest - tf:5.2f} s")
    ratio = (times["mlphys train"][0] - tf) / (times["plain keras fit"][0] - tf)
    print(f"overhead ratio (import excluded): {ratio:.3f}   target <= 1.10: "
          f"{'met' if ratio <= 1.10 else 'MISSED'}")


if __name__ == "__main__":
    main()
