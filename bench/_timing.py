"""Wall-clock timing of whole commands, interleaved so that both sides see the same machine."""

import statistics
import subprocess
import time


def wall_time(command, env=None):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - start


def compare(commands, repeats, env=None):
    """Median wall time of each named command, running them round-robin `repeats` times."""
    times = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(wall_time(command, env))
    return {name: statistics.median(t) for name, t in times.items()}
