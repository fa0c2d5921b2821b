"""Reading a ROOT tree and an HDF5 dataset: mlphys' readers against the libraries alone.

    python bench/read_speed.py [--rows 1000000] [--columns 20] [--repeats 3]

Writes a TTree (uproot) and an HDF5 file (h5py) of --rows x --columns float64 values
plus a target, then times, interleaved, the fastest of --repeats of

- `load_dataset(file.root, tree=Events, target=y)` against
  `uproot.open(file)["Events"].arrays(library="np")`, and
- `load_dataset(file.h5, x=/x, y=/y)` against `h5py.File(file)["/x"][...]`, `["/y"][...]`,

and prints the ratio library time / mlphys time (target: at least 0.8). mlphys does more
than read: it converts to float32, checks for NaN, and draws the test and validation
splits; those are inside its time.
(Measured 2026-12-01 on the shared 2-core machine, load average 3.2 (`uptime`),
1,000,000 x 20: ROOT 1.295 s against mlphys 1.525 s, ratio 0.85 (was 0.75: the feature
matrix is now filled a block of rows at a time, not by strided whole columns: 0.22 s ->
0.065 s in isolation); HDF5 0.042 s against 0.235 s, ratio 0.18 (was 0.10). A second run,
load 3.4-3.7: ROOT 1.733 s against 1.679 s, ratio 1.03; HDF5 0.056 s against 0.231 s,
ratio 0.24. HDF5 target
not met, and not reachable with mlphys' splits: h5py's read of a page-cached file is one
160 MB copy (0.04-0.05 s), while in cProfile of mlphys' load (0.285 s) drawing the test
and validation splits costs two `rng.permutation`s, of 1,000,000 and 800,000 rows
(0.075 s, more than the whole 0.053 s a ratio of 0.8 allows), the copies of the split
rows 0.053 s and 0.035 s (`dataset_from_arrays`, `with_validation_split`), the read
with float32 conversion 0.046 s and the NaN checks 0.022 s. Changing the permutation
would change every existing dataset's splits. What was waste is gone: the float64 copy
(HDF5 converts to float32 while reading), `np.sort`/`setdiff1d` of the split indices
(a mask instead: 12 ms -> 2 ms per split in isolation, the same indices), and the
constant-feature check over the whole matrix (0.028 s; now on the candidate columns
whose first two values agree).)
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import fastest  # noqa: E402


def write_files(folder, rows, columns):
    import h5py
    import uproot

    rng = np.random.default_rng(0)
    x = rng.normal(50, 40, (rows, columns))
    y = x[:, :3].sum(axis=1) + rng.normal(0, 1, rows)
    with uproot.recreate(folder / "events.root") as f:
        f.mktree("Events", {**{f"f{j}": np.float64 for j in range(columns)}, "y": np.float64})
        step = 200_000  # baskets of this many entries
        for start in range(0, rows, step):
            f["Events"].extend({**{f"f{j}": x[start:start + step, j] for j in range(columns)},
                                "y": y[start:start + step]})
    with h5py.File(folder / "events.h5", "w") as f:
        f["x"], f["y"] = x, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import h5py
    import uproot

    from mlphys.datasets import load_dataset

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_files(folder, args.rows, args.columns)
        root, hdf5 = str(folder / "events.root"), str(folder / "events.h5")
        cases = {
            "ROOT": (lambda: uproot.open(root)["Events"].arrays(library="np"),
                     lambda: load_dataset(root, {"tree": "Events", "target": "y"})),
            "HDF5": (lambda: [h5py.File(hdf5)[k][...] for k in ("/x", "/y")],
                     lambda: load_dataset(hdf5, {"x": "/x", "y": "/y"})),
        }
        load_dataset(hdf5, {"x": "/x", "y": "/y"})  # imports and first reads, untimed
        for name, (library, ours) in cases.items():
            library_time = fastest(library, args.repeats)
            our_time = fastest(ours, args.repeats)
            print(f"{name}: {args.rows:,} x {args.columns}: library {library_time:.3f} s, "
                  f"mlphys {our_time:.3f} s, ratio {library_time / our_time:.2f} "
                  "(target >= 0.8)")


if __name__ == "__main__":
    main()
