"""Timing of whole commands, interleaved so that both sides see the same machine, and of
functions (the fastest of several calls)."""

import statistics
import subprocess
import time


def wall_time(command, env=None):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - start


def compare(commands, repeats, env=None):
    """Fastest and median wall time of each named command, run round-robin `repeats` times.

    On a shared machine noise only ever adds time, so the fastest run is the best estimate
    of a command's own cost; the median shows how noisy the machine was.
    """
    times = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(wall_time(command, env))
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


def fastest(function, repeats, clock=time.perf_counter):
    """The shortest of `repeats` calls of `function`, in seconds of `clock` (wall time by
    default; `time.process_time` for this process's CPU)."""
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        times.append(clock() - start)
    return min(times)
