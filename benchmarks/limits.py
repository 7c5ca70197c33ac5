"""How the cost of parsing grows with the length of flat sums, products and Hadamard
products (run on demand: ``python benchmarks/limits.py``).

Linear growth shows as a ratio near 10 when the input is ten times longer (it was about
100 for sums before they were read as one grammar rule).  Each figure is the best of
three runs; the machines are noisy, so read the ratios, not the seconds.
"""

from __future__ import annotations

import time

import matcalc


def best_of(text: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        matcalc.parse(text)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    cases = {
        "sum": lambda k: " + ".join(["x"] * k),
        "product": lambda k: " ".join(["A"] * k),
        "Hadamard product": lambda k: "a" + " ⊙ a" * (k - 1),
    }
    print(f"{'input':<18} {'2,000 terms':>12} {'20,000 terms':>13} {'ratio':>6}")
    for name, make in cases.items():
        small, big = best_of(make(2_000)), best_of(make(20_000))
        print(f"{name:<18} {small:>10.3f} s {big:>11.3f} s {big / small:>6.1f}")


if __name__ == "__main__":
    main()
