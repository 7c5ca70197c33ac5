"""What the SymPy check costs over the identity table (run on demand from the repository
root: ``python benchmarks/check.py``): seconds per identity, median and maximum, and how
many were decided exactly.  The check instantiates sizes 3 and up and compares again at
larger sizes by finite differences; read the figures as ratios between runs on one
machine, not as absolute times.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import matcalc  # noqa: E402

from identities import ROWS  # noqa: E402


def main() -> None:
    seconds, exact, verified = [], 0, 0
    for row in ROWS:
        r = matcalc.diff(row.expr, row.wrt, row.where)
        start = time.perf_counter()
        result = r.check(timeout=60)
        seconds.append(time.perf_counter() - start)
        exact += result.method == "exact"
        verified += result.ok is True
    print(f"{len(ROWS)} identities: {verified} verified, {exact} exact; "
          f"check median {statistics.median(seconds):.3f} s, max {max(seconds):.2f} s")


if __name__ == "__main__":
    main()
