"""The paper's claims checked on the result tables, one small function per claim, with one
verdict per claim and a markdown rendering.

Which methods a claim compares comes from the method registry (:class:`Families`): the
proposed method is the reference of every claim, C1 and C5 compare it with every ``baseline``,
C2 with every ``ablation`` and C6 with every ``control``. A registered method without results
gives ``not testable`` checks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from upgan.evaluation.contract import (
    CONTRACT_COLUMNS,
    HIGHER_IS_BETTER,
    INPUT,
    METRICS,
    require_columns,
)
from upgan.evaluation.phases import uncertainty_claims
from upgan.evaluation.retraining import SEED_AWARE_TESTS
from upgan.evaluation.verdicts import (
    BETTER,
    CHECK_VERDICTS,
    CLAIMS_COLUMNS,
    NO_DIFFERENCE,
    NOT_TESTABLE,
    WORSE,
    check_row,
    decide,
    summary_text,
)
from upgan.methods.registry import labels, names, proposed
from upgan.tasks import TASKS

logger = logging.getLogger(__name__)

CLAIMS: tuple[str, ...] = ("C0", "C1", "C2", "C3", "C4", "C5", "C6")
"""Every claim :func:`claims_report` checks."""

MARKDOWN_ORDER: tuple[str, ...] = ("C0", "C1", "C2", "C6", "C4", "C3", "C5")
"""Order of the claims in :func:`claims_markdown`: quality claims first, then uncertainty."""


@dataclass(frozen=True)
class Families:
    """The methods the claims compare (configuration names).

    Attributes:
        reference: the proposed method (every claim's ``method_a``).
        baselines: competing published methods (C1, C5).
        ablations: the proposed method with a part removed (C2).
        controls: non-adversarial controls (C6).
    """

    reference: str
    baselines: tuple[str, ...]
    ablations: tuple[str, ...]
    controls: tuple[str, ...]

    @classmethod
    def from_registry(cls) -> Families:
        """The families of the registered methods, by role, in table order."""
        return cls(proposed(), tuple(names(role="baseline")), tuple(names(role="ablation")),
                   tuple(names(role="control")))


def _listing(methods: Sequence[str]) -> str:
    """Labels joined as prose: ``"a"``, ``"a and b"``, ``"a, b and c"``."""
    known = labels()
    words = [known.get(m, m) for m in methods]
    if not words:
        return "none registered"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def claim_statements(families: Families | None = None) -> dict[str, str]:
    """Each claim's statement (claim -> text, in :data:`CLAIMS` order), naming the methods of
    ``families`` (default: the registry's) by their labels."""
    f = Families.from_registry() if families is None else families
    ref = labels().get(f.reference, f.reference)
    controls = "control" + ("s" if len(f.controls) > 1 else "")
    return {
        "C0": "every trained method beats doing nothing (its own input) on SSIM, PSNR and MAE",
        "C1": f"{ref} beats {_listing(f.baselines)} on SSIM, PSNR and MAE in each task",
        "C2": f"removing the uncertainty guidance makes {ref} worse",
        "C3": "residual and uncertainty fall from phase to phase",
        "C4": "uncertainty is correlated with the error (Spearman ρ > 0 inside the head)",
        "C5": f"{ref}'s lead widens as the number of training patients falls",
        "C6": (f"{ref} beats the non-adversarial {controls} ({_listing(f.controls)}) on SSIM, PSNR "
               "and MAE in each task"),
    }


# --------------------------------------------------------------------------------------------
# elementary checks
# --------------------------------------------------------------------------------------------
def _mean(summary: pd.DataFrame, task: str, method: str, n: int, metric: str) -> float:
    hit = summary[(summary["task"] == task) & (summary["method"] == method)
                  & (summary["n_train_patients"] == n)]
    return float(hit[f"{metric}_mean"].iloc[0]) if len(hit) else math.nan


def _seed_aware(significance: pd.DataFrame | None, task: str, n: int, a: str, b: str,
                metric: str) -> dict | None:
    """The seed-aware row (:data:`~upgan.evaluation.retraining.SEED_AWARE_TESTS`) of ``a``
    against ``b`` (``estimate`` = b - a), or None."""
    if significance is None or significance.empty or "estimate" not in significance.columns:
        return None
    hit = significance[(significance["task"] == task) & (significance["n_train_patients"] == n)
                       & (significance["metric"] == metric)
                       & significance["test"].isin(SEED_AWARE_TESTS)
                       & (significance["method_a"] == a) & (significance["method_b"] == b)]
    return hit.iloc[0].to_dict() if len(hit) else None


@dataclass(frozen=True)
class _TaskResults:
    """What the per-task claims read: the tables, one task's patient counts and the families."""

    summary: pd.DataFrame
    significance: pd.DataFrame | None
    task: str
    counts: list[int]
    families: Families
    alpha: float
    lead_model: pd.DataFrame | None = None

    @property
    def n_full(self) -> int:
        return self.counts[-1]

    def beats(self, claim: str, winner: str, loser: str, metric: str) -> dict:
        """Does ``winner`` beat ``loser`` at full supervision: the seed-aware test of ``loser -
        winner`` (``estimate``) with its Holm-adjusted p decides (:func:`decide`)."""
        task, n, alpha = self.task, self.n_full, self.alpha
        va = _mean(self.summary, task, winner, n, metric)
        vb = _mean(self.summary, task, loser, n, metric)
        if math.isnan(va) or math.isnan(vb):
            absent = winner if math.isnan(va) else loser
            return check_row(claim, task, n, winner, loser, metric, va, vb, detail=f"no {absent} results")
        row = _seed_aware(self.significance, task, n, winner, loser, metric)
        if row is None:
            return check_row(claim, task, n, winner, loser, metric, va, vb, detail="no seed-aware test")
        est, p, p_holm = float(row["estimate"]), float(row["p_value"]), float(row["p_holm"])
        claimed = -1.0 if HIGHER_IS_BETTER[metric] else 1.0  # loser - winner < 0 for a higher-better metric
        verdict = decide(est, p_holm, claimed, alpha)
        word = "higher" if HIGHER_IS_BETTER[metric] else "lower"
        detail = (f"{winner} {va:.4g} vs {loser} {vb:.4g} ({word} is better); {loser} - {winner} = "
                  f"{est:+.4g} [{row['ci_low']:.4g}, {row['ci_high']:.4g}] ({row['test']}, "
                  f"{int(row['n_seeds'])} seeds, {int(row['n_subjects'])} subjects), p = {p:.3g}, "
                  f"Holm {p_holm:.3g} in family {row['family']}")
        return check_row(claim, task, n, winner, loser, metric, va, vb, est,
                         (float(row["ci_low"]), float(row["ci_high"])), str(row["test"]), p, p_holm,
                         verdict, detail)

    def reference_beats(self, claim: str, others: Sequence[str]) -> list[dict]:
        """The reference against each of ``others`` on every metric."""
        return [self.beats(claim, self.families.reference, other, metric)
                for other in others for metric in METRICS]


def _c0_beats_input(r: _TaskResults) -> list[dict]:
    """C0: at full supervision, every trained method beats the task's ``input`` row (if any)."""
    cell = r.summary[(r.summary["task"] == r.task) & (r.summary["n_train_patients"] == r.n_full)]
    if INPUT not in set(cell["method"]):
        return []
    return [r.beats("C0", method, INPUT, metric)
            for method in dict.fromkeys(cell["method"]) if method != INPUT for metric in METRICS]


def _c1_beats_baselines(r: _TaskResults) -> list[dict]:
    """C1: the reference beats every baseline."""
    return r.reference_beats("C1", r.families.baselines)


def _c2_beats_ablations(r: _TaskResults) -> list[dict]:
    """C2: the reference beats every ablation (removing a part makes it worse)."""
    return r.reference_beats("C2", r.families.ablations)


def _c6_beats_controls(r: _TaskResults) -> list[dict]:
    """C6: the reference beats every non-adversarial control."""
    return r.reference_beats("C6", r.families.controls)


def _c5_lead_widens(r: _TaskResults) -> list[dict]:
    """C5: per baseline and metric, the model ``metric ~ method x log(n)`` over every patient
    count (:func:`upgan.evaluation.lead.lead_model`): the estimate is the reference's lead
    change per halving of n (positive = widens as n falls, the claimed direction), decided on
    its Holm-adjusted p within the C5 family."""
    reference = r.families.reference
    if len(r.counts) < 2:
        return [check_row("C5", r.task, None, reference, "", "", detail=f"only one patient count ({r.n_full})")]
    rows = []
    for baseline in r.families.baselines:
        for metric in METRICS:
            t = r.lead_model
            hit = (t[(t["task"] == r.task) & (t["method_b"] == baseline) & (t["metric"] == metric)]
                   if t is not None and len(t) else pd.DataFrame())
            if hit.empty:
                rows.append(check_row("C5", r.task, r.counts[0], reference, baseline, metric,
                                      detail="no lead model (fewer than two patient counts with both methods)"))
                continue
            m = hit.iloc[0]
            verdict = decide(float(m["estimate"]), float(m["p_holm"]), 1.0, r.alpha)
            n_low = int(str(m["counts"]).split(",")[0])
            rows.append(check_row(
                "C5", r.task, n_low, reference, baseline, metric, float(m["lead_low"]), float(m["lead_high"]),
                float(m["estimate"]), (float(m["ci_low"]), float(m["ci_high"])), str(m["test"]),
                float(m["p_value"]), float(m["p_holm"]), verdict,
                f"lead of {reference} over {baseline} (positive = {reference} better) at n = {m['counts']}: "
                f"{float(m['lead_low']):+.4g} at the smallest, {float(m['lead_high']):+.4g} at the largest; "
                f"lead change per halving of n {float(m['estimate']):+.4g} [{float(m['ci_low']):.4g}, "
                f"{float(m['ci_high']):.4g}], p = {float(m['p_value']):.3g}, Holm {float(m['p_holm']):.3g}"))
    return rows


_TASK_CLAIMS: tuple[Callable[[_TaskResults], list[dict]], ...] = (
    _c0_beats_input, _c1_beats_baselines, _c2_beats_ablations, _c6_beats_controls, _c5_lead_widens)
"""The claims checked per task on the summary, in row order."""


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------
def claims_report(
    summary: pd.DataFrame,
    significance: pd.DataFrame | None,
    uncertainty: pd.DataFrame | None,
    alpha: float = 0.05,
    families: Families | None = None,
    lead_model: pd.DataFrame | None = None,
    label: str | None = "",
) -> pd.DataFrame:
    """Test claims C0-C6 on the result tables; one row per elementary check, each with a
    three-way verdict (:mod:`upgan.evaluation.verdicts`: ``better``, ``worse``, ``no difference
    shown``, or ``not testable``), decided on the seed-aware tests and Holm-adjusted p. The
    verdicts are logged as one line, ``claims (<label>): ...``, e.g. ``pooled over 2 seeds``;
    ``label=None`` logs nothing (intermediate reports, e.g. of one seed's rows).

    * C0: per task with an ``input`` row (at its largest ``n_train_patients``), per trained
      method and metric: the method against its input (has it learned the task at all?).
    * C1: per task (at its largest ``n_train_patients``), per baseline and metric: the
      reference against the baseline (the seed-aware row of ``significance``).
    * C2: the same against each ablation; C6: against each non-adversarial control.
    * C3, C4: on the per-subject ``uncertainty`` rows of the reference
      (:mod:`upgan.evaluation.phases`).
    * C5: per task with several patient counts, per baseline and metric: the interaction of the
      model ``metric ~ method x log(n)`` (``lead_model``, from
      :func:`upgan.evaluation.lead.lead_model`); without it the check is not testable.

    ``families`` (default: :meth:`Families.from_registry`) names the reference and the methods
    it is compared with. Nothing is tuned; the verdicts just read the tables. Columns:
    :data:`CLAIMS_COLUMNS`. Use :func:`claim_verdicts` for one verdict per claim.
    """
    require_columns(summary, CONTRACT_COLUMNS["summary"], "claims_report summary")
    f = Families.from_registry() if families is None else families
    present = list(dict.fromkeys(summary["task"].tolist()))
    tasks = [t for t in TASKS if t in present] + [t for t in present if t not in TASKS]
    rows: list[dict] = []
    for task in tasks:
        counts = sorted(int(x) for x in summary.loc[summary["task"] == task, "n_train_patients"].unique())
        results = _TaskResults(summary, significance, task, counts, f, alpha, lead_model)
        for claim in _TASK_CLAIMS:
            rows += claim(results)
    rows += uncertainty_claims(uncertainty, f.reference, alpha)
    out = pd.DataFrame(rows, columns=CLAIMS_COLUMNS)
    if label is not None:
        logger.info("claims%s: %s", f" ({label})" if label else "",
                    claim_verdicts(out, f).set_index("claim")["verdict"].to_dict())
    return out


def claim_verdicts(report: pd.DataFrame, families: Families | None = None) -> pd.DataFrame:
    """One verdict per claim from :func:`claims_report` rows (:func:`upgan.evaluation.verdicts.
    summary_text`: ``held``, ``not testable`` or e.g. ``not held: worse on 5, no difference on
    4``).

    Returns columns ``claim, statement, verdict, n_better, n_worse, n_no_difference,
    n_not_testable``, one row per claim of :data:`CLAIMS` (statements from
    :func:`claim_statements` of ``families``).
    """
    rows = []
    for claim, statement in claim_statements(families).items():
        verdicts = report.loc[report["claim"] == claim, "verdict"].astype(str).tolist()
        counts = {v: verdicts.count(v) for v in CHECK_VERDICTS}
        rows.append({"claim": claim, "statement": statement, "verdict": summary_text(verdicts),
                     "n_better": counts[BETTER], "n_worse": counts[WORSE],
                     "n_no_difference": counts[NO_DIFFERENCE], "n_not_testable": counts[NOT_TESTABLE]})
    return pd.DataFrame(rows)


def claims_markdown(report: pd.DataFrame, claims: Sequence[str] = MARKDOWN_ORDER,
                    families: Families | None = None) -> str:
    """The claims as markdown: per claim its verdict, the count of checks, then every check."""
    verdicts = claim_verdicts(report, families).set_index("claim")
    lines: list[str] = []
    for claim in claims:
        v = verdicts.loc[claim]
        lines.append(f"- **{claim}** ({v['statement']}): **{v['verdict']}** "
                     f"({v['n_better']} better, {v['n_worse']} worse, {v['n_no_difference']} no "
                     f"difference shown, {v['n_not_testable']} not testable)")
        for r in report[report["claim"] == claim].itertuples():
            n = "" if pd.isna(r.n_train_patients) else f"n={int(r.n_train_patients)}"
            against = f"{r.method_a} vs {INPUT}" if r.method_b == INPUT else r.method_b
            where = " ".join(str(x) for x in (r.task, n, against, r.metric) if x)
            lines.append(f"  - {where}: {r.verdict} -- {r.detail}")
    return "\n".join(lines) + "\n"
