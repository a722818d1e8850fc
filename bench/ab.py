"""A/B of in-process logins between two checkouts of mockidp, interleaved: ``python bench/ab.py BASE [ROUNDS]``.

Each round runs, in turn, one subprocess on ``BASE`` (a checkout, e.g. ``git archive main | tar -x -C
/tmp/base``; its ``mockidp`` and ``plugin`` go first on ``PYTHONPATH``) and one on this checkout, each
timing the logins of section 2 (``_inprocess.py``, with this checkout's benchmark code) with the same
budget; the machine's swings fall on both alike. It prints, per case, the median over the rounds of
each side's median, the spread of those medians, and B / A.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def one(budget_n: int) -> dict[str, float]:
    from _common import Budget
    from _inprocess import login_async, login_per_test, login_sync

    from mockidp import KeyPool

    pool = KeyPool()
    budget = Budget(n=budget_n, seconds=3.0, warmup=3)
    cold = Budget(n=max(budget_n // 4, 5), seconds=3.0, warmup=1)
    out: dict[str, float] = {}
    for kind in ("minimal", "example"):
        for alg in ("RS256", "ES256"):
            for mode, login in (("sync", login_sync), ("async", login_async)):
                mockidp, floor = login(kind, alg, pool, budget)
                out[f"{kind} {mode} {alg} login"] = mockidp.median * 1e3
                out[f"{kind} {mode} {alg} floor"] = floor.median * 1e3
                diffs = [a - b for a, b in zip(mockidp.samples, floor.samples, strict=True)]
                out[f"{kind} {mode} {alg} added"] = statistics.median(diffs) * 1e3
        out[f"{kind} per-test RS256"] = login_per_test(kind, "RS256", pool, cold).median * 1e3
    return out


def main() -> int:
    if sys.argv[1] == "--one":
        sys.path.insert(0, str(HERE))
        print(json.dumps(one(int(sys.argv[2]))))
        return 0
    base = Path(sys.argv[1]).resolve()
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    sides = {"A": base, "B": ROOT}
    results: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for r in range(rounds):
        for side in ("A", "B") if r % 2 == 0 else ("B", "A"):
            env = {**os.environ, "PYTHONPATH": f"{sides[side]}:{sides[side] / 'plugin'}"}
            command = [sys.executable, str(Path(__file__)), "--one", str(n)]
            done = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603 - this script
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                results[side].setdefault(key, []).append(value)
        print(f"round {r + 1}/{rounds} done, load average {os.getloadavg()}", file=sys.stderr, flush=True)
    print(f"A = {base}, B = {ROOT}; {rounds} interleaved rounds of n={n}; load average at end: {os.getloadavg()}")
    print(f"{'case (ms)':34} {'A median':>9} {'A range':>13} {'B median':>9} {'B range':>13} {'B/A':>6}")
    for key in results["A"]:
        a, b = results["A"][key], results["B"][key]
        ma, mb = statistics.median(a), statistics.median(b)
        print(
            f"{key:34} {ma:9.2f} {min(a):6.2f}..{max(a):<6.2f} {mb:9.2f} {min(b):6.2f}..{max(b):<6.2f}"
            f" {mb / ma if ma > 0 else float('nan'):6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
