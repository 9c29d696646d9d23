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

import numpy as np
import pandas as pd

from upgan.evaluation.contract import (
    CONTRACT_COLUMNS,
    HIGHER_IS_BETTER,
    INPUT,
    METRICS,
    require_columns,
)
from upgan.methods.registry import labels, names, proposed
from upgan.tasks import TASKS

logger = logging.getLogger(__name__)

CLAIMS_COLUMNS: list[str] = ["claim", "task", "n_train_patients", "method_a", "method_b",
                             "metric", "value_a", "value_b", "p_value", "p_holm", "verdict",
                             "seed_agreement", "detail"]
"""Columns of :func:`claims_report` (one row per elementary check). ``p_value`` is the raw
Wilcoxon p, ``p_holm`` the Holm-adjusted one a check is decided on; ``seed_agreement`` (filled
by :func:`upgan.evaluation.agreement.claims_with_seed_agreement`) the fraction of seeds whose
single-seed verdict equals this pooled one."""

HELD, NOT_HELD, NOT_TESTABLE = "held", "not held", "not testable"

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
        "C4": "uncertainty is correlated with the error (Spearman > 0)",
        "C5": f"{ref}'s lead widens as the number of training patients falls",
        "C6": (f"{ref} beats the non-adversarial {controls} ({_listing(f.controls)}) on SSIM, PSNR "
               "and MAE in each task"),
    }


# --------------------------------------------------------------------------------------------
# elementary checks
# --------------------------------------------------------------------------------------------
def _row(claim: str, task: object = "", n: object = None, method_a: str = "", method_b: str = "",
         metric: str = "", value_a: float = math.nan, value_b: float = math.nan,
         p_value: float = math.nan, verdict: str = NOT_TESTABLE, detail: str = "",
         p_holm: float = math.nan) -> dict:
    return {"claim": claim, "task": task, "n_train_patients": n, "method_a": method_a,
            "method_b": method_b, "metric": metric, "value_a": value_a, "value_b": value_b,
            "p_value": p_value, "p_holm": p_holm, "verdict": verdict, "seed_agreement": math.nan,
            "detail": detail}


def _mean(summary: pd.DataFrame, task: str, method: str, n: int, metric: str) -> float:
    hit = summary[(summary["task"] == task) & (summary["method"] == method)
                  & (summary["n_train_patients"] == n)]
    return float(hit[f"{metric}_mean"].iloc[0]) if len(hit) else math.nan


def _wilcoxon_p(significance: pd.DataFrame, task: str, n: int, a: str, b: str,
                metric: str) -> tuple[float, float]:
    """``(p_value, p_holm)`` of the Wilcoxon test of ``a`` against ``b`` (NaN when absent; the
    adjusted p is the raw one for a table without ``p_holm``)."""
    if significance is None or significance.empty:
        return math.nan, math.nan
    hit = significance[(significance["task"] == task) & (significance["n_train_patients"] == n)
                       & (significance["metric"] == metric) & (significance["test"] == "wilcoxon")
                       & (((significance["method_a"] == a) & (significance["method_b"] == b))
                          | ((significance["method_a"] == b) & (significance["method_b"] == a)))]
    if not len(hit):
        return math.nan, math.nan
    p = float(hit["p_value"].iloc[0])
    return p, float(hit["p_holm"].iloc[0]) if "p_holm" in hit.columns else p


@dataclass(frozen=True)
class _TaskResults:
    """What the per-task claims read: the tables, one task's patient counts and the families."""

    summary: pd.DataFrame
    significance: pd.DataFrame | None
    task: str
    counts: list[int]
    families: Families
    alpha: float
    lead_tests: pd.DataFrame | None = None

    @property
    def n_full(self) -> int:
        return self.counts[-1]

    def beats(self, claim: str, winner: str, loser: str, metric: str) -> dict:
        """Does ``winner`` beat ``loser`` at full supervision: better mean AND Holm-adjusted
        Wilcoxon p < alpha."""
        task, n, alpha = self.task, self.n_full, self.alpha
        va = _mean(self.summary, task, winner, n, metric)
        vb = _mean(self.summary, task, loser, n, metric)
        p, p_holm = _wilcoxon_p(self.significance, task, n, winner, loser, metric)
        if math.isnan(va) or math.isnan(vb):
            absent = winner if math.isnan(va) else loser
            return _row(claim, task, n, winner, loser, metric, va, vb, p, NOT_TESTABLE,
                        f"no {absent} results", p_holm)
        if math.isnan(p_holm):
            return _row(claim, task, n, winner, loser, metric, va, vb, p, NOT_TESTABLE,
                        "no Wilcoxon test", p_holm)
        better = va > vb if HIGHER_IS_BETTER[metric] else va < vb
        held = better and p_holm < alpha
        word = "higher" if HIGHER_IS_BETTER[metric] else "lower"
        detail = (f"{winner} {va:.4g} vs {loser} {vb:.4g} ({word} is better; "
                  f"{'better' if better else 'not better'}), Wilcoxon p = {p:.3g}, Holm-adjusted "
                  f"{p_holm:.3g} ({'<' if p_holm < alpha else '>='} {alpha})")
        return _row(claim, task, n, winner, loser, metric, va, vb, p, HELD if held else NOT_HELD,
                    detail, p_holm)

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


def _lead_test(r: _TaskResults, baseline: str, metric: str) -> dict[str, dict] | None:
    """The rows of :func:`upgan.evaluation.significance.lead_tests` for one check, by test name
    (``wilcoxon`` decides, ``paired_t`` is reported beside it)."""
    t = r.lead_tests
    if t is None or t.empty:
        return None
    hit = t[(t["task"] == r.task) & (t["method_b"] == baseline) & (t["metric"] == metric)]
    return {row["test"]: row for row in hit.to_dict("records")} or None


def _c5_lead_widens(r: _TaskResults) -> list[dict]:
    """C5: per baseline and metric, the reference's lead at the smallest patient count exceeds
    its lead at the largest AND the Holm-adjusted Wilcoxon p of the per-subject leads (small vs
    large count, :func:`upgan.evaluation.significance.lead_tests`) < alpha; every count's mean
    lead is listed in the detail."""
    reference = r.families.reference
    if len(r.counts) < 2:
        return [_row("C5", r.task, None, reference, "", "", verdict=NOT_TESTABLE,
                     detail=f"only one patient count ({r.n_full})")]
    rows = []
    for baseline in r.families.baselines:
        for metric in METRICS:
            sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
            leads = {n: sign * (_mean(r.summary, r.task, reference, n, metric)
                                - _mean(r.summary, r.task, baseline, n, metric)) for n in r.counts}
            known = {n: v for n, v in leads.items() if not math.isnan(v)}
            listing = ", ".join(f"n={n}: {v:+.4g}" for n, v in known.items())
            if len(known) < 2:
                rows.append(_row("C5", r.task, None, reference, baseline, metric, verdict=NOT_TESTABLE,
                                 detail=f"fewer than two patient counts with both methods ({listing})"))
                continue
            n_lo, n_hi = min(known), max(known)
            seq = [known[n] for n in sorted(known)]
            monotone = all(x >= y for x, y in zip(seq, seq[1:], strict=False))
            test = _lead_test(r, baseline, metric)
            head = (f"lead of {reference} over {baseline} (positive = {reference} better): "
                    f"{listing}{' (monotone)' if monotone else ' (not monotone)'}")
            if test is None or "wilcoxon" not in test:
                rows.append(_row("C5", r.task, n_lo, reference, baseline, metric, known[n_lo],
                                 known[n_hi], verdict=NOT_TESTABLE,
                                 detail=f"{head}; no paired test of the leads"))
                continue
            p, p_holm = float(test["wilcoxon"]["p_value"]), float(test["wilcoxon"]["p_holm"])
            t_note = (f"; paired t p = {float(test['paired_t']['p_value']):.3g}"
                      if "paired_t" in test else "")
            wider = known[n_lo] > known[n_hi]
            held = wider and p_holm < r.alpha
            rows.append(_row(
                "C5", r.task, n_lo, reference, baseline, metric, known[n_lo], known[n_hi], p,
                HELD if held else NOT_HELD,
                f"{head}; n={n_lo} vs n={n_hi}: {known[n_lo]:+.4g} vs {known[n_hi]:+.4g} "
                f"({'wider' if wider else 'not wider'}), Wilcoxon p = {p:.3g} over the subjects' "
                f"leads, Holm-adjusted {p_holm:.3g} ({'<' if p_holm < r.alpha else '>='} {r.alpha})"
                f"{t_note}",
                p_holm))
    return rows


_TASK_CLAIMS: tuple[Callable[[_TaskResults], list[dict]], ...] = (
    _c0_beats_input, _c1_beats_baselines, _c2_beats_ablations, _c6_beats_controls, _c5_lead_widens)
"""The claims checked per task on the summary, in row order."""


def _phase_key(label: object) -> tuple[int, float, str]:
    s = str(label)
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def _c3_phases_improve(cell: pd.DataFrame, task: str, n: int, reference: str) -> list[dict]:
    """C3: mean |error| and mean σ strictly decrease over the numeric phases of one cell (the
    ``final`` row is listed, not tested). ``cell``: its uncertainty rows, sorted by phase."""
    numeric = cell[[(_phase_key(p)[0] == 0) for p in cell["phase"]]]
    final = cell[[(_phase_key(p)[0] == 1) for p in cell["phase"]]]
    listing = "; ".join(f"phase {r.phase}: |err| {r.mean_abs_error:.4g}, "
                        f"σ {r.mean_sigma:.4g}" for r in cell.itertuples())
    rows = []
    for metric in ("mean_abs_error", "mean_sigma"):
        values = numeric[metric].to_numpy(dtype=float)
        if values.size < 2:
            rows.append(_row("C3", task, n, reference, "", metric, verdict=NOT_TESTABLE,
                             detail=f"fewer than two numeric phases ({listing})"))
            continue
        held = bool(np.all(np.diff(values) < 0))
        rows.append(_row("C3", task, n, reference, "", metric, float(values[0]),
                         float(values[-1]), math.nan, HELD if held else NOT_HELD,
                         f"phases {', '.join(map(str, numeric['phase']))} "
                         f"{'strictly decrease' if held else 'do not strictly decrease'}: "
                         f"{listing}" + ("" if final.empty else " (final: not tested)")))
    return rows


def _c4_sigma_tracks_error(cell: pd.DataFrame, task: str, n: int, reference: str) -> list[dict]:
    """C4: per phase row of one cell, Spearman ρ(σ, |error|) > 0."""
    rows = []
    for r in cell.itertuples():
        rho = float(r.spearman_sigma_abs_error)
        verdict = NOT_TESTABLE if math.isnan(rho) else (HELD if rho > 0 else NOT_HELD)
        rows.append(_row("C4", task, n, reference, "", f"phase {r.phase}", rho,
                         math.nan, math.nan, verdict, f"Spearman ρ(σ, |error|) = {rho:.3f}"))
    return rows


def _uncertainty_claims(uncertainty: pd.DataFrame | None, reference: str) -> list[dict]:
    """C3 and C4 for every cell of the reference in the ``uncertainty`` table."""
    if uncertainty is None or len(uncertainty) == 0:
        return [_row(claim, "", None, reference, verdict=NOT_TESTABLE, detail="no uncertainty rows")
                for claim in ("C3", "C4")]
    require_columns(uncertainty, CONTRACT_COLUMNS["uncertainty"], "claims_report uncertainty")
    ref_rows = uncertainty[uncertainty["method"] == reference]
    rows = []
    if ref_rows.empty:
        rows += [_row(claim, "", None, reference, verdict=NOT_TESTABLE,
                      detail=f"no uncertainty rows of {reference}") for claim in ("C3", "C4")]
    for (task, n), cell in ref_rows.groupby(["task", "n_train_patients"], sort=True):
        cell = cell.iloc[sorted(range(len(cell)), key=lambda i: _phase_key(cell["phase"].iloc[i]))]
        rows += _c3_phases_improve(cell, task, int(n), reference)
        rows += _c4_sigma_tracks_error(cell, task, int(n), reference)
    return rows


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------
def claims_report(
    summary: pd.DataFrame,
    significance: pd.DataFrame | None,
    uncertainty: pd.DataFrame | None,
    alpha: float = 0.05,
    families: Families | None = None,
    lead_tests: pd.DataFrame | None = None,
    label: str = "",
) -> pd.DataFrame:
    """Test claims C0-C6 on the result tables; one row per elementary check (the verdicts are
    logged as one line, ``claims (<label>): ...``, e.g. ``pooled over 2 seeds``).

    * C0: per task with an ``input`` row (at its largest ``n_train_patients``), per trained
      method and metric: the method's mean is better than the input's AND the Wilcoxon p <
      ``alpha`` (has the method learned the task at all?).
    * C1: per task (at its largest ``n_train_patients``), per baseline and metric: the
      reference's mean is better AND the Wilcoxon p < ``alpha``.
    * C2: the same test against each ablation; C6: against each non-adversarial control.
    * C3: per task, cell of the reference method: mean |error| and mean σ strictly decrease
      over the numeric phases 0..M-1 (the ``final`` row is listed in the detail, not tested).
    * C4: per phase row of the reference method: Spearman ρ(σ, |error|) > 0.
    * C5: per task with several patient counts, per baseline and metric: the reference's lead
      (its mean minus the baseline's, sign-flipped for MAE) at the smallest count exceeds the
      lead at the largest count AND the Holm-adjusted Wilcoxon p of the subjects' leads at the
      two counts (``lead_tests``, from :func:`upgan.evaluation.significance.lead_tests`) <
      ``alpha``; without ``lead_tests`` the check is not testable. All leads are in the detail.

    ``families`` (default: :meth:`Families.from_registry`) names the reference and the methods
    it is compared with. Every check is ``held``, ``not held`` or ``not testable`` (missing
    method, test or rows). Nothing is tuned; the verdicts just read the tables. Columns:
    :data:`CLAIMS_COLUMNS`. Use :func:`claim_verdicts` for one verdict per claim.
    """
    require_columns(summary, CONTRACT_COLUMNS["summary"], "claims_report summary")
    f = Families.from_registry() if families is None else families
    present = list(dict.fromkeys(summary["task"].tolist()))
    tasks = [t for t in TASKS if t in present] + [t for t in present if t not in TASKS]
    rows: list[dict] = []
    for task in tasks:
        counts = sorted(int(x) for x in summary.loc[summary["task"] == task, "n_train_patients"].unique())
        results = _TaskResults(summary, significance, task, counts, f, alpha, lead_tests)
        for claim in _TASK_CLAIMS:
            rows += claim(results)
    rows += _uncertainty_claims(uncertainty, f.reference)
    out = pd.DataFrame(rows, columns=CLAIMS_COLUMNS)
    logger.info("claims%s: %s", f" ({label})" if label else "",
                claim_verdicts(out, f).set_index("claim")["verdict"].to_dict())
    return out


def claim_verdicts(report: pd.DataFrame, families: Families | None = None) -> pd.DataFrame:
    """One verdict per claim from :func:`claims_report` rows: ``not held`` if any check is not
    held, ``not testable`` if no check could be made, else ``held``.

    Returns columns ``claim, statement, verdict, n_held, n_not_held, n_not_testable``, one row
    per claim of :data:`CLAIMS` (statements from :func:`claim_statements` of ``families``).
    """
    rows = []
    for claim, statement in claim_statements(families).items():
        sub = report[report["claim"] == claim]
        counts = {v: int((sub["verdict"] == v).sum()) for v in (HELD, NOT_HELD, NOT_TESTABLE)}
        if counts[NOT_HELD]:
            verdict = NOT_HELD
        elif counts[HELD]:
            verdict = HELD
        else:
            verdict = NOT_TESTABLE
        rows.append({"claim": claim, "statement": statement, "verdict": verdict,
                     "n_held": counts[HELD], "n_not_held": counts[NOT_HELD],
                     "n_not_testable": counts[NOT_TESTABLE]})
    return pd.DataFrame(rows)


def claims_markdown(report: pd.DataFrame, claims: Sequence[str] = MARKDOWN_ORDER,
                    families: Families | None = None) -> str:
    """The claims as markdown: per claim its verdict, the count of checks, then every check."""
    verdicts = claim_verdicts(report, families).set_index("claim")
    lines: list[str] = []
    for claim in claims:
        v = verdicts.loc[claim]
        lines.append(f"- **{claim}** ({v['statement']}): **{v['verdict']}** "
                     f"({v['n_held']} held, {v['n_not_held']} not held, "
                     f"{v['n_not_testable']} not testable)")
        for r in report[report["claim"] == claim].itertuples():
            n = "" if pd.isna(r.n_train_patients) else f"n={int(r.n_train_patients)}"
            where = " ".join(str(x) for x in (r.task, n, r.method_b, r.metric) if x)
            lines.append(f"  - {where}: {r.verdict} -- {r.detail}")
    return "\n".join(lines) + "\n"
