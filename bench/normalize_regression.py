"""Standardised against raw units: the same MLP regressing the Z boson's mass from the
two muons' four-momenta (GeV), with `--normalize auto` (on for a table) and `none`.

    python bench/normalize_regression.py [--events 20000] [--epochs 30]

Writes the Z -> mu mu table of tests/test_file_formats.py (Breit-Wigner masses around
91.19 GeV, boosted Z of rapidity spread 1.5: energies of hundreds of GeV) as Parquet and
trains `mlp` on it twice with the same seed; prints the test R^2 and MAE of each.
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    import pandas as pd
    from test_file_formats import zmumu

    from mlphys import train

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "zmumu.parquet"
        pd.DataFrame(zmumu(args.events)).to_parquet(path)
        for normalize in ("auto", "none"):
            run = train("mlp", str(path), out=Path(folder) / normalize, seed=0,
                        dataset_options={"target": "mass"}, epochs=args.epochs,
                        normalize=normalize, quiet=True)
            print(f"--normalize {normalize:<4}: test R^2 {run.metrics['r2']:.3f}, "
                  f"MAE {run.metrics['mae']:.2f} GeV ({args.events:,} events, "
                  f"{args.epochs} epochs)")


if __name__ == "__main__":
    main()
