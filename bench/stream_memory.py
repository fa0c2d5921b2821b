"""Training on an image folder larger than memory allows: `mlphys train --stream`.

    python bench/stream_memory.py [--gigabytes 2] [--side 64] [--keep DIR]

1. Writes a folder of random-noise RGB PNGs (two classes) of about --gigabytes on disk
   (noise does not compress, so the pixels are about that size too; as float32 arrays
   they would be four times more) and trains `cnn` on it for one epoch with --stream,
   reporting the peak resident memory of the training process. Target: < 1.5 GB.
   (Measured 2026-11-21: 64x64 images, 162,760 files, peak 1,373 MB; with --side 128
   the cnn itself, 6.9 M parameters and 126x126x32 activations, puts TensorFlow's peak
   at ~1.9 GB even on 2,000 streamed images, and 2.0 GB on the 2 GB folder.)
2. On a small folder (2,000 images) that fits in memory, times two epochs streamed and
   loaded, side by side. Target: streamed epoch time <= 1.3x the in-memory one.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PY = sys.executable
PEAK = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def write_folder(root, n_images, side, seed=0):
    rng = np.random.default_rng(seed)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True, exist_ok=True)
    for i in range(n_images):
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / ("a", "b")[i % 2] / f"{i:06d}.png", compress_level=1)


def folder_bytes(root):
    return sum(f.stat().st_size for f in root.rglob("*.png"))


def train(folder, out, epochs, stream):
    """(wall seconds, peak RSS in MB, train_seconds from config.json) of one training run."""
    command = [PY, "-m", "mlphys", "train", "cnn", "-d", str(folder), "--epochs", str(epochs),
               "--seed", "0", "--quiet", "--out", str(out), "--json"]
    if stream:
        command.append("--stream")
    start = time.perf_counter()
    done = subprocess.run([PY, "-c", PEAK, *command], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"training failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    peak_mb = int(lines[-1]) / 1024
    run = json.loads("\n".join(lines[:-1]))
    config = json.loads(Path(run["run_dir"], "config.json").read_text())
    return wall, peak_mb, config["train_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--keep", help="folder to build the data in (kept afterwards)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="mlphys-stream-"))
    try:
        big = work / "big"
        per_image = args.side * args.side * 3
        n_big = int(args.gigabytes * 1e9 / per_image)
        if not big.exists():
            started = time.perf_counter()
            write_folder(big, n_big, args.side)
            print(f"wrote {n_big} images of {args.side}x{args.side}x3, "
                  f"{folder_bytes(big) / 1e9:.2f} GB on disk, in "
                  f"{time.perf_counter() - started:.0f} s")
        wall, peak, seconds = train(big, work / "runs", 1, stream=True)
        print(f"one streamed epoch on {n_big} images: {seconds:.0f} s of training, "
              f"peak resident memory {peak:.0f} MB "
              f"(float32 arrays would need {n_big * per_image * 4 / 1e9:.1f} GB) - "
              f"target < 1500 MB: {'met' if peak < 1500 else 'MISSED'}")

        small = work / "small"
        if not small.exists():
            write_folder(small, 2000, args.side, seed=1)
        memory = train(small, work / "runs", 2, stream=False)
        streamed = train(small, work / "runs", 2, stream=True)
        ratio = streamed[2] / memory[2]
        print(f"2 epochs on 2,000 images: in memory {memory[2]:.1f} s "
              f"(peak {memory[1]:.0f} MB), streamed {streamed[2]:.1f} s "
              f"(peak {streamed[1]:.0f} MB); ratio {ratio:.2f} - target <= 1.3: "
              f"{'met' if ratio <= 1.3 else 'MISSED'}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
