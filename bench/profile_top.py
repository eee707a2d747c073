"""Summarise a py-spy collapsed-stack file: the functions that hold the most samples, self and total.

``python bench/profile_top.py FILE [N] [--loop]``: ``--loop`` keeps only the event loop's thread and
drops its idle waits (py-spy's own idle detection misses them in this container), so the shares are
of the CPU the loop spent.
"""

from __future__ import annotations

import sys
from collections import Counter


IDLE = ("select (selectors.py", "Condition.wait", "_worker (concurrent/futures/thread.py")


def main(path: str, limit: int = 25, loop_only: bool = False) -> None:
    own, total, samples = Counter(), Counter(), 0
    for line in open(path):
        stack, _, count = line.rstrip().rpartition(" ")
        if loop_only and ("run_forever" not in stack or stack.split(";")[-1].startswith(IDLE)):
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    print(f"{samples} samples")
    print("-- self")
    for frame, n in own.most_common(limit):
        print(f"{100 * n / samples:5.1f}%  {frame}")
    print("-- total")
    for frame, n in total.most_common(limit):
        print(f"{100 * n / samples:5.1f}%  {frame}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--loop"]
    main(args[0], int(args[1]) if len(args) > 1 else 25, loop_only="--loop" in sys.argv)
