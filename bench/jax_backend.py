"""The JAX backend against TensorFlow, and two data-parallel processes against one.

    python bench/jax_backend.py [--epochs 4]

Trains `mlphys train cnn -d digits --augment none --lr-schedule constant --seed 1` (the
plain fit of the course) side by side in one run of this script:

    tensorflow      --backend tensorflow, one process
    jax             --backend jax, one process
    jax 1 process   --backend jax --distribute data-parallel --batch-size 64
    jax 2 processes --backend jax --distribute data-parallel --batch-size 32, two processes
                    on 127.0.0.1 (gloo collectives): the same global batch of 64

An epoch's time is measured without the compilation in the first epoch: from the wall
times TensorBoard logs at the end of each epoch (`RUN/logs/train`),

    epoch time = (t(end of epoch E) - t(end of epoch 1)) / (E - 1)

Printed ratios: jax / tensorflow, and 2 processes / 1 process per training sample (both
see every sample once an epoch, so the ratio of epoch times is the ratio per sample).
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


def epoch_seconds(processes, flags, epochs, out):
    """Seconds an epoch after the first, of one run with `processes` processes."""
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
    run_dir = Path(json.loads(outputs[0][outputs[0].index("{"):])["run_dir"])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "logs" / "train"))
    events.Reload()
    tag = next(t for t in events.Tags()["tensors"] + events.Tags()["scalars"]
               if t.endswith("epoch_loss"))
    times = [e.wall_time for e in (events.Tensors(tag) if tag in events.Tags()["tensors"]
                                   else events.Scalars(tag))]
    if len(times) != epochs:
        sys.exit(f"{run_dir}: {len(times)} epochs logged, not {epochs}")
    return (times[-1] - times[0]) / (epochs - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    if args.epochs < 2:
        sys.exit("--epochs: give at least 2 (the first epoch compiles)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    epoch = {}
    with tempfile.TemporaryDirectory() as out:
        for name, (processes, flags) in CONFIGURATIONS.items():
            epoch[name] = epoch_seconds(processes, flags, args.epochs, out)
            print(f"  {name:<16} {epoch[name]:5.2f} s an epoch", flush=True)
    print(f"cnn on digits, CPU ({os.cpu_count()} cores), an epoch without the first's "
          "compilation:")
    print(f"  jax / tensorflow, one process:              "
          f"{epoch['jax'] / epoch['tensorflow']:.2f}")
    print(f"  2 processes / 1 process, per sample (jax):  "
          f"{epoch['jax 2 processes'] / epoch['jax 1 process']:.2f}")


if __name__ == "__main__":
    main()
