"""How fast the command line answers when it needs no model.

    python bench/cli_startup.py [--repeats 7]

Times `mlphys --help`, `mlphys list models` and `mlphys info cnn` against `python -c pass`
(the floor) and `python -c "import tensorflow"` (what a careless CLI would pay), side by
side in one run. Target: `mlphys --help` <= 0.5 s.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _timing import compare  # noqa: E402

PY = sys.executable


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    commands = {
        "python -c pass": [PY, "-c", "pass"],
        "mlphys --help": [PY, "-m", "mlphys", "--help"],
        "mlphys list models": [PY, "-m", "mlphys", "list", "models"],
        "mlphys info cnn": [PY, "-m", "mlphys", "info", "cnn"],
        "python -c 'import tensorflow'": [PY, "-c", "import tensorflow"],
    }
    times = compare(commands, args.repeats)
    tf = times["python -c 'import tensorflow'"][0]
    print(f"wall time, fastest (median) of {args.repeats} runs each")
    for name, (fastest, median) in times.items():
        print(f"  {name:<32} {fastest:6.3f} s ({median:6.3f} s)   "
              f"{fastest / tf:5.1%} of the TensorFlow import")
    verdict = "met" if times["mlphys --help"][0] <= 0.5 else "MISSED"
    print(f"target mlphys --help <= 0.5 s: {verdict}")


if __name__ == "__main__":
    main()
