"""What `mlphys tune` adds to the fits it runs, and the memory a long search holds.

    python bench/tune_overhead.py [--trials 12] [--epochs 3] [--memory-trials 30]

1. Time: `mlphys tune mlp -d digits --tuner random --max-trials 12 --epochs 3` (with and
   without --isolate) against one Python process that fits the same 12 configurations
   (read back from trials.csv) on the same data with a bare `model.fit`, nothing else.
   The one-time TensorFlow import is measured apart and taken out of all three:

       ratio = (t_tune - t_import) / (t_plain - t_import)    target <= 1.15 (1.35 isolated)

   With --isolate every trial pays a process start and a TensorFlow import; those stay in.
2. Memory: the peak resident memory of a whole `--memory-trials`-trial random search (the
   tuning process plus its trial processes, sampled every 50 ms from /proc), with and
   without --isolate.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PY = sys.executable
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _tree_rss(pid):
    """Resident memory (bytes) of process `pid` and all its descendants."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
        todo.extend(children.get(p, []))
    return total


def run(command, sample_memory=False):
    """(wall seconds, peak tree RSS in bytes or None) of one command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    peak = [0]
    if sample_memory:
        def sample():
            while process.poll() is None:
                peak[0] = max(peak[0], _tree_rss(process.pid))
                time.sleep(0.05)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    _, err = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{command} failed:\n{err}")
    return seconds, peak[0] if sample_memory else None


def plain_fits(trials_csv, epochs):
    """The baseline: the configurations of trials.csv, each built and fitted, nothing else."""
    import keras

    from mlphys.building import build_model
    from mlphys.datasets import load_dataset
    from mlphys.hparams import fixed_hyperparameters, parse_scalar

    data = load_dataset("digits")
    with open(trials_csv) as f:
        rows = list(csv.DictReader(f))
    names = ["hidden_layers", "units", "activation", "learning_rate", "units_2", "units_3",
             "dropout", "l2", "optimizer"]
    for row in rows:
        params = {n: parse_scalar(row[n]) for n in names}
        keras.backend.clear_session()
        keras.utils.set_random_seed(1)
        model, _ = build_model("mlp", data.spec, hp=fixed_hyperparameters(params))
        model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=32,
                  validation_data=(data.x_val, data.y_val), verbose=0)


def tune_command(out, trials, epochs, isolate):
    return [PY, "-m", "mlphys", "tune", "mlp", "-d", "digits", "--tuner", "random",
            "--max-trials", str(trials), "--epochs", str(epochs), "--seed", "1", "-q",
            "--out", out] + (["--isolate"] if isolate else [])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--memory-trials", type=int, default=30)
    parser.add_argument("--plain-fits", nargs=2, metavar=("CSV", "EPOCHS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_fits:
        plain_fits(args.plain_fits[0], int(args.plain_fits[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        t_import, _ = run([PY, "-c", "import tensorflow, keras_tuner"])
        t_tune, _ = run(tune_command(f"{tmp}/a", args.trials, args.epochs, False))
        (tuning_dir,) = Path(f"{tmp}/a").iterdir()
        t_plain, _ = run([PY, __file__, "--plain-fits", str(tuning_dir / "trials.csv"),
                          str(args.epochs)])
        t_isolated, _ = run(tune_command(f"{tmp}/b", args.trials, args.epochs, True))
        _, peak_in = run(tune_command(f"{tmp}/c", args.memory_trials, 1, False), True)
        _, peak_iso = run(tune_command(f"{tmp}/d", args.memory_trials, 1, True), True)
    ratio = (t_tune - t_import) / (t_plain - t_import)
    ratio_iso = (t_isolated - t_import) / (t_plain - t_import)
    print(f"mlp on digits, {args.trials} random trials of {args.epochs} epochs")
    print(f"  import tensorflow+keras_tuner {t_import:6.1f} s")
    print(f"  plain fits                    {t_plain:6.1f} s")
    print(f"  mlphys tune                   {t_tune:6.1f} s   ratio {ratio:.3f}  "
          f"(target <= 1.15: {'met' if ratio <= 1.15 else 'MISSED'})")
    print(f"  mlphys tune --isolate         {t_isolated:6.1f} s   ratio {ratio_iso:.3f}  "
          f"(target <= 1.35: {'met' if ratio_iso <= 1.35 else 'MISSED'})")
    print(f"peak resident memory of a {args.memory_trials}-trial search (1 epoch each): "
          f"{peak_in / 2**20:.0f} MiB in one process, {peak_iso / 2**20:.0f} MiB with "
          "--isolate (tuning process + one trial process)")


if __name__ == "__main__":
    main()
