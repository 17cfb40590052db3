"""How long `lmlab --help` takes (issue 18: it took 2 s when building the parser imported torch; the goal
is under 0.3 s), beside its peers: the bare interpreter, `import torch`, and `lmlab train gpt --help`
(which builds the keys help, so it imports the configs, and the optimizer registry with them).

Each command runs as a fresh process (`python -X ... -m lmlab.cli ARGS`), the contestants interleaved
round by round in a rotating order so a busy machine slows all alike; medians and ratios to the bare
interpreter are printed.

    PYTHONPATH=src python benchmarks/cli_startup.py --rounds 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CONTESTANTS = {
    "python -c pass": ["-c", "pass"],
    "lmlab --help": ["-m", "lmlab.cli", "--help"],
    "lmlab train gpt --help": ["-m", "lmlab.cli", "train", "gpt", "--help"],
    "python -c 'import torch'": ["-c", "import torch"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CONTESTANTS}
    names = list(CONTESTANTS)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, *CONTESTANTS[name]], check=True, stdout=subprocess.DEVNULL,
                           env=os.environ.copy())
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<28} {'median s':>9} {'fastest s':>10} {'÷ bare python':>14}")
    for name, ts in times.items():
        print(f"{name:<28} {statistics.median(ts):>9.3f} {min(ts):>10.3f} {statistics.median(ts) / base:>14.1f}")


if __name__ == "__main__":
    main()
