"""How fast the physics generators make their data (the cache bypassed).

    python bench/generators.py [--repeats 3]

Times the registered loaders themselves (`get_dataset(name).loader(...)`, not
`load_dataset`, so the cache in the data directory plays no part): `duffing` (10,000
response curves, 400 RK4 steps each), `particles` (10,000 trajectories of two coupled
particles, 60 steps) and `segshapes` (1,000 scenes of 128x128). A name not registered
yet is skipped with a message. Target: each under 5 s.
"""

import argparse
import inspect
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TARGET_S = 5.0

# name: (items, the loader's options for them, what one item is)
GENERATORS = {
    "duffing": (10_000, {}, "response curves"),
    "particles": (10_000, {}, "trajectories"),
    "segshapes": (1_000, {"size": 128}, "scenes of 128x128"),
}


def time_loader(loader, options, repeats):
    """Fastest of `repeats` calls of `loader(**options)` (noise only ever adds time)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        loader(**options)
        best = min(best, time.perf_counter() - started)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from mlphys.datasets import get_dataset, list_datasets, load_data_modules

    load_data_modules()
    registered = set(list_datasets())
    print(f"generation time, fastest of {args.repeats} runs each (cache bypassed)")
    verdicts = []
    for name, (items, extra, what) in GENERATORS.items():
        if name not in registered:
            print(f"  {name:<10} skipped: no dataset '{name}' is registered yet")
            continue
        loader = get_dataset(name).loader
        accepted = inspect.signature(loader).parameters
        others = [k for k in ("n_val", "n_test") if k in accepted]
        options = {"n_train": items - len(others), **dict.fromkeys(others, 1)}  # `items` in all
        options.update({k: v for k, v in extra.items() if k in accepted})
        seconds = time_loader(loader, options, args.repeats)
        ok = seconds < TARGET_S
        verdicts.append(ok)
        print(f"  {name:<10} {items:>6,} {what:<18} {seconds:7.3f} s  "
              f"{items / seconds:>10,.0f} items/s  {'met' if ok else 'MISSED'}")
    if verdicts:
        print(f"target each < {TARGET_S:g} s: {'met' if all(verdicts) else 'MISSED'}")


if __name__ == "__main__":
    main()
