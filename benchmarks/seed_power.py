"""How many training seeds a seed-aware check needs: the smallest difference that Welch's t-test
on per-seed means (two-sided, as the report runs it) finds with 80 % power, n seeds per arm.

Power is simulated (normal seed means, ``--studies`` simulated studies with common random
numbers, so power rises monotonically with the difference and bisection finds it); Welch's
estimated degrees of freedom make the noncentral-t approximation optimistic with few seeds.
Prints ``mde[n=<n>,alpha=<alpha>]: <difference in seed SDs>`` for equal seed SDs, and for pairs
of measured seed SDs (``--sd A B``, the metric's units) the difference in those units:

    python benchmarks/seed_power.py --sd 13.4 2.0 --sd 0.0015 0.0003
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats


def mde(n: int, alpha: float, sd_a: float = 1.0, sd_b: float = 1.0, target: float = 0.8,
        studies: int = 20_000, seed: int = 0) -> float:
    """The difference B - A that Welch's test on n seed means per arm finds with power
    ``target`` at level ``alpha`` (bisection to 0.1 % of the seed SD)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, sd_a, (studies, n))
    b = rng.normal(0.0, sd_b, (studies, n))

    def power(d: float) -> float:
        return float(np.mean(stats.ttest_ind(b + d, a, axis=1, equal_var=False).pvalue < alpha))

    scale = float(np.hypot(sd_a, sd_b))
    lo, hi = 0.0, scale
    while power(hi) < target:
        lo, hi = hi, 2.0 * hi
    while hi - lo > 1e-3 * scale:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if power(mid) < target else (lo, mid)
    return hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 5, 6, 8, 10])
    parser.add_argument("--sd", type=float, nargs=2, action="append", default=[], metavar=("SD_A", "SD_B"))
    parser.add_argument("--studies", type=int, default=20_000)
    args = parser.parse_args()
    for n in args.seeds:
        for alpha in (0.05, 0.05 / 9, 0.05 / 27):
            print(f"mde[n={n},alpha={alpha:.4g}]: {mde(n, alpha, studies=args.studies):.3g}")
    for sd_a, sd_b in args.sd:
        for n in args.seeds:
            print(f"mde[n={n},sd={sd_a:g}/{sd_b:g}]: {mde(n, 0.05, sd_a, sd_b, studies=args.studies):.3g}")


if __name__ == "__main__":
    main()
