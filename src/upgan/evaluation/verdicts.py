"""Three-way verdicts of the claims' elementary checks and the columns of a check's row.

A check states a direction (e.g. "UP-GAN has the higher SSIM", "σ falls from phase 0 to 1").
Its verdict is :data:`BETTER` when the seed-aware test shows that direction (Holm-adjusted
p < alpha, the estimate on the claimed side, so its 95 % interval excludes 0 on that side),
:data:`WORSE` when it shows the opposite direction, :data:`NO_DIFFERENCE` otherwise, and
:data:`NOT_TESTABLE` when there is nothing to test (missing method, rows or test).
"""

from __future__ import annotations

import math

BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no difference shown"
NOT_TESTABLE = "not testable"
CHECK_VERDICTS: tuple[str, ...] = (BETTER, WORSE, NO_DIFFERENCE, NOT_TESTABLE)
"""Every verdict a check can have."""

HELD, NOT_HELD = "held", "not held"
"""Claim-level: ``held`` when every testable check is :data:`BETTER`."""

CLAIMS_COLUMNS: list[str] = ["claim", "task", "n_train_patients", "method_a", "method_b",
                             "metric", "value_a", "value_b", "estimate", "ci_low", "ci_high",
                             "test", "p_value", "p_holm", "verdict", "seed_agreement", "detail"]
"""Columns of a claims report (one row per elementary check). ``estimate`` with its 95 %
interval ``ci_low``/``ci_high`` and ``test`` come from the seed-aware test deciding the check
(its sign convention is the test's: B - A for method comparisons, see each claim); ``p_value``
is its raw p, ``p_holm`` the Holm-adjusted one the verdict is decided on; ``seed_agreement``
(filled by :func:`upgan.evaluation.agreement.claims_with_seed_agreement`) the leave-one-seed-out
agreement of the estimate's direction."""


def decide(estimate: float, p_holm: float, claimed_sign: float, alpha: float) -> str:
    """The verdict of a check whose claimed direction is ``sign(estimate) == claimed_sign``."""
    if math.isnan(estimate) or math.isnan(p_holm):
        return NOT_TESTABLE
    if p_holm >= alpha or estimate == 0.0:
        return NO_DIFFERENCE
    return BETTER if math.copysign(1.0, estimate) == claimed_sign else WORSE


def check_row(claim: str, task: object = "", n: object = None, method_a: str = "", method_b: str = "",
              metric: str = "", value_a: float = math.nan, value_b: float = math.nan,
              estimate: float = math.nan, ci: tuple[float, float] = (math.nan, math.nan),
              test: str = "", p_value: float = math.nan, p_holm: float = math.nan,
              verdict: str = NOT_TESTABLE, detail: str = "") -> dict:
    """One row of :data:`CLAIMS_COLUMNS`."""
    return {"claim": claim, "task": task, "n_train_patients": n, "method_a": method_a,
            "method_b": method_b, "metric": metric, "value_a": value_a, "value_b": value_b,
            "estimate": estimate, "ci_low": ci[0], "ci_high": ci[1], "test": test,
            "p_value": p_value, "p_holm": p_holm, "verdict": verdict, "seed_agreement": math.nan,
            "detail": detail}


def summary_text(verdicts: list[str]) -> str:
    """A claim's verdict from its checks' verdicts: ``held`` (every testable check better),
    ``not testable`` (none testable) or e.g. ``not held: worse on 5, no difference on 4``."""
    counts = {v: verdicts.count(v) for v in CHECK_VERDICTS}
    testable = counts[BETTER] + counts[WORSE] + counts[NO_DIFFERENCE]
    if testable == 0:
        return NOT_TESTABLE
    if counts[BETTER] == testable:
        return HELD
    parts = [f"worse on {counts[WORSE]}"] if counts[WORSE] else []
    parts += [f"no difference on {counts[NO_DIFFERENCE]}"] if counts[NO_DIFFERENCE] else []
    return f"{NOT_HELD}: {', '.join(parts)}"
