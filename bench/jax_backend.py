"""The JAX backend against TensorFlow, and two data-parallel processes against one.

    python bench/jax_backend.py [--epochs 3]

Trains `mlphys train cnn -d digits --augment none --lr-schedule constant --seed 1` (the
plain fit of the course) side by side in one run of this script:

    tensorflow      --backend tensorflow, one process
    jax             --backend jax, one process
    jax 1 process   --backend jax --distribute data-parallel --batch-size 64
    jax 2 processes --backend jax --distribute data-parallel --batch-size 32, two processes
                    on 127.0.0.1 (gloo collectives): the same global batch of 64

An epoch's time is measured without the compilation of the first: each configuration runs
once for 1 epoch and once for `--epochs` epochs, and

    epoch time = (train_seconds(E epochs) - train_seconds(1 epoch)) / (E - 1)

(train_seconds from config.json: the fit, not the imports or the report). Printed ratios:
jax / tensorflow, and 2 processes / 1 process per training sample (both see every sample
once an epoch, so the ratio of epoch times is the ratio per sample).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

PY = sys.executable
COMMON = ["-m", "mlphys", "train", "cnn", "-d", "digits", "--seed", "1", "--augment", "none",
          "--lr-schedule", "constant", "--quiet", "--json"]
CONFIGURATIONS = {
    "tensorflow": (1, ["--backend", "tensorflow"]),
    "jax": (1, ["--backend", "jax"]),
    "jax 1 process": (1, ["--backend", "jax", "--distribute", "data-parallel",
                          "--batch-size", "64"]),
    "jax 2 processes": (2, ["--backend", "jax", "--distribute", "data-parallel",
                            "--batch-size", "32"]),
}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_seconds(processes, flags, epochs, out):
    """The fit's seconds (config.json) of one run with `processes` processes."""
    command = [PY, *COMMON, "--epochs", str(epochs), *flags]
    if processes > 1:
        port = _free_port()
        command += ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(processes)]
    runs = [subprocess.Popen([*command, *(["--process-id", str(i)] if processes > 1 else []),
                              "--out", str(out)], stdout=subprocess.PIPE, text=True,
                             stderr=subprocess.DEVNULL) for i in range(processes)]
    outputs = [run.communicate()[0] for run in runs]
    if any(run.returncode for run in runs):
        sys.exit(f"failed: {' '.join(command)}")
    run_dir = json.loads(outputs[0].strip().splitlines()[-1])["run_dir"]
    return json.loads((Path(run_dir) / "config.json").read_text())["train_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if args.epochs < 2:
        sys.exit("--epochs: give at least 2 (the first epoch compiles)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    epoch = {}
    with tempfile.TemporaryDirectory() as out:
        for name, (processes, flags) in CONFIGURATIONS.items():
            one = train_seconds(processes, flags, 1, out)
            many = train_seconds(processes, flags, args.epochs, out)
            epoch[name] = (many - one) / (args.epochs - 1)
            print(f"  {name:<16} 1 epoch {one:6.2f} s, {args.epochs} epochs {many:6.2f} s: "
                  f"{epoch[name]:5.2f} s an epoch", flush=True)
    print(f"cnn on digits, CPU ({os.cpu_count()} cores), an epoch without the first's "
          "compilation:")
    print(f"  jax / tensorflow, one process:              "
          f"{epoch['jax'] / epoch['tensorflow']:.2f}")
    print(f"  2 processes / 1 process, per sample (jax):  "
          f"{epoch['jax 2 processes'] / epoch['jax 1 process']:.2f}")


if __name__ == "__main__":
    main()
