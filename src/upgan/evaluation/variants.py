"""The mechanism comparison: every variant of the proposed method against the ablation and the
control, seed-aware, with how often each loses the skull and how good its σ is.

Which methods: the proposed method and every method of role ``variant`` in the table (the
guidance inputs, the residual target, the authors' training, the phase-0 loss breakdown), each
compared with every method of role ``ablation`` (the paper's "no guidance") and ``control`` (the
plain-L1 U-Net) present, at each task's full supervision.

* **Tests** (:func:`variant_tests`): per task, variant, comparator and metric (SSIM, PSNR, MAE
  and, where the task has it, bone Dice) the seed-aware test of the Table 1 claims
  (:func:`upgan.evaluation.retraining.seed_aware_test`: Welch on per-seed means; the seed is the
  unit). ``estimate`` is variant − comparator in the metric's units, so the sign says which is
  higher; ``verdict`` says whether the *variant* is better, worse or not shown to differ, decided
  on the Holm-adjusted p within one family per comparator (every task, variant and metric).
* **Skull loss** (:func:`skull_loss`): per task and method, the seeds whose mean bone Dice over
  the test subjects is below :data:`SKULL_LOST_DICE`.
* **σ quality** (:func:`sigma_quality`): per task and method with an uncertainty, the final
  output's AUSE, 95 % coverage and Spearman ρ(σ, |error|), mean and SD over seeds of the
  per-seed means over subjects.

Nothing here chooses between variants: it reports them on the test subjects after each was
trained as configured (settings chosen on validation data).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from upgan.evaluation.contract import HIGHER_IS_BETTER, METRICS
from upgan.evaluation.retraining import seed_aware_test, seed_means
from upgan.evaluation.seeds import holm
from upgan.evaluation.verdicts import decide

SKULL_LOST_DICE = 0.3
"""A seed "loses the skull" when its mean bone Dice over the test subjects is below this."""

COMPARATOR_ROLES: tuple[str, ...] = ("ablation", "control")
VARIANT_ROLES: tuple[str, ...] = ("proposed", "variant")
TESTED: tuple[str, ...] = (*METRICS, "bone_dice")
HIGHER: dict[str, bool] = {**HIGHER_IS_BETTER, "bone_dice": True}

VARIANT_TEST_COLUMNS: list[str] = [
    "task", "n_train_patients", "method", "versus", "metric", "value_method", "value_versus",
    "estimate", "ci_low", "ci_high", "test", "p_value", "p_holm", "verdict", "n_seeds", "n_subjects"]
SKULL_COLUMNS: list[str] = ["task", "method", "n_seeds", "n_skull_lost", "seeds_skull_lost",
                            "bone_dice_mean", "bone_dice_seed_min"]
POINT_COLUMNS: list[str] = ["task", "method", "role", "seed", "mae", "bone_dice", "ause"]
SIGMA_METRICS: tuple[str, ...] = ("ause", "coverage_95", "spearman_sigma_abs_error")
SIGMA_COLUMNS: list[str] = ["task", "method", "n_seeds", "ause_mean", "ause_sd", "coverage_95_mean",
                            "coverage_95_sd", "spearman_mean", "spearman_sd"]


def _full(metrics: pd.DataFrame) -> pd.DataFrame:
    """The rows at each task's full supervision (its largest patient count)."""
    full = metrics.groupby("task")["n_train_patients"].transform("max")
    return metrics[metrics["n_train_patients"] == full]


def _pick(metrics: pd.DataFrame, roles: dict[str, str], wanted: tuple[str, ...]) -> list[str]:
    present = list(dict.fromkeys(metrics["method"].tolist()))
    return [m for m in present if roles.get(m) in wanted]


def variant_tests(metrics_per_subject: pd.DataFrame, roles: dict[str, str],
                  alpha: float = 0.05) -> pd.DataFrame:
    """Seed-aware tests of every variant against every comparator (see the module docstring).

    Args:
        metrics_per_subject: the results contract's per-subject table (every seed).
        roles: method name -> role (the registry's).
        alpha: the level the Holm-adjusted p is compared with.
    """
    rows = []
    metrics = _full(metrics_per_subject)
    variants, comparators = _pick(metrics, roles, VARIANT_ROLES), _pick(metrics, roles, COMPARATOR_ROLES)
    for (task, n), cell in metrics.groupby(["task", "n_train_patients"], sort=True):
        by_method = {m: g for m, g in cell.groupby("method", sort=False)}
        for versus in (c for c in comparators if c in by_method):
            for method in (v for v in variants if v in by_method):
                for metric in TESTED:
                    a, b = by_method[versus], by_method[method]
                    if metric not in cell.columns or a[metric].isna().all() or b[metric].isna().all():
                        continue
                    est, n_seeds, n_subjects = seed_aware_test(a, b, metric)  # B - A: method - versus
                    rows.append({"task": task, "n_train_patients": int(n), "method": method, "versus": versus,
                                 "metric": metric, "value_method": float(seed_means(b, metric).mean()),
                                 "value_versus": float(seed_means(a, metric).mean()),
                                 "estimate": est.estimate, "ci_low": est.ci_low, "ci_high": est.ci_high,
                                 "test": est.test, "p_value": est.p_value, "n_seeds": n_seeds,
                                 "n_subjects": n_subjects})
    out = pd.DataFrame(rows, columns=[c for c in VARIANT_TEST_COLUMNS if c not in ("p_holm", "verdict")])
    out["p_holm"] = np.nan
    for _, idx in out.groupby("versus").groups.items():  # one Holm family per comparator
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "p_value"].to_numpy(dtype=float))
    out["verdict"] = [decide(float(e), float(p), 1.0 if HIGHER[m] else -1.0, alpha)
                      for e, p, m in zip(out["estimate"], out["p_holm"], out["metric"], strict=True)]
    return out[VARIANT_TEST_COLUMNS]


def skull_loss(metrics_per_subject: pd.DataFrame, threshold: float = SKULL_LOST_DICE) -> pd.DataFrame:
    """Per task (with bone Dice) and trained method at full supervision: how many seeds have a
    mean bone Dice over the test subjects below ``threshold``, which, the mean over seeds and
    the lowest seed."""
    rows = []
    metrics = _full(metrics_per_subject)
    if "bone_dice" not in metrics.columns:
        return pd.DataFrame(columns=SKULL_COLUMNS)
    trained = metrics[metrics["seed"].notna() & metrics["bone_dice"].notna()]
    for (task, method), group in trained.groupby(["task", "method"], sort=False):
        per_seed = group.groupby(group["seed"].astype(int))["bone_dice"].mean()
        lost = [int(s) for s, d in per_seed.items() if d < threshold]
        rows.append({"task": task, "method": method, "n_seeds": int(per_seed.size), "n_skull_lost": len(lost),
                     "seeds_skull_lost": " ".join(map(str, lost)), "bone_dice_mean": float(per_seed.mean()),
                     "bone_dice_seed_min": float(per_seed.min())})
    return pd.DataFrame(rows, columns=SKULL_COLUMNS)


def _final_sigma_per_seed(uncertainty: pd.DataFrame,
                          columns: tuple[str, ...] = SIGMA_METRICS) -> pd.DataFrame:
    """Per task, method with σ and seed at full supervision: the means over test subjects of
    ``columns`` (AUSE, 95 % coverage, ρ(σ, |error|)) of its final output (phase ``final``; for a
    one-phase method its phase ``0``)."""
    table = _full(uncertainty)
    last = {key: _last_phase(group) for key, group in table.groupby(["task", "method"], sort=False)}
    final = table[[last[(t, m)] == str(p) for t, m, p in zip(table["task"], table["method"], table["phase"],
                                                             strict=True)]]
    return final.groupby(["task", "method", "seed"], sort=False, dropna=False)[list(columns)].mean().reset_index()


def sigma_quality(uncertainty: pd.DataFrame) -> pd.DataFrame:
    """Per task and method with σ, of its final output at full supervision: AUSE, 95 % coverage
    and Spearman ρ(σ, |error|) as mean and SD over seeds of the per-seed means over subjects."""
    if uncertainty is None or uncertainty.empty:
        return pd.DataFrame(columns=SIGMA_COLUMNS)
    rows = []
    for (task, method), per_seed in _final_sigma_per_seed(uncertainty).groupby(["task", "method"], sort=False):
        mean, sd = per_seed[list(SIGMA_METRICS)].mean(), per_seed[list(SIGMA_METRICS)].std(ddof=1)
        rows.append({"task": task, "method": method, "n_seeds": int(len(per_seed)),
                     "ause_mean": mean["ause"], "ause_sd": sd["ause"],
                     "coverage_95_mean": mean["coverage_95"], "coverage_95_sd": sd["coverage_95"],
                     "spearman_mean": mean["spearman_sigma_abs_error"],
                     "spearman_sd": sd["spearman_sigma_abs_error"]})
    return pd.DataFrame(rows, columns=SIGMA_COLUMNS)


def variant_points(metrics_per_subject: pd.DataFrame, uncertainty: pd.DataFrame | None,
                   roles: dict[str, str]) -> pd.DataFrame:
    """Per task, method of the mechanism comparison (proposed, variant, ablation, control) and
    training seed at full supervision: the mean over test subjects of MAE and bone Dice (NaN
    where the task has none) and the AUSE of the final output's σ (NaN for a method without σ).
    The points of the variants figure, one per trained model."""
    metrics = _full(metrics_per_subject)
    metrics = metrics[metrics["seed"].notna()]
    wanted = set(_pick(metrics, roles, VARIANT_ROLES + COMPARATOR_ROLES))
    metrics = metrics[metrics["method"].isin(wanted)]
    if metrics.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    dice = metrics["bone_dice"] if "bone_dice" in metrics.columns else pd.Series(np.nan, index=metrics.index)
    frame = metrics.assign(bone_dice=dice, seed=metrics["seed"].astype(int))
    points = frame.groupby(["task", "method", "seed"], sort=False)[["mae", "bone_dice"]].mean().reset_index()
    if uncertainty is not None and not uncertainty.empty:
        sigma = _final_sigma_per_seed(uncertainty, ("ause",)).dropna(subset=["seed"])
        sigma = sigma.assign(seed=sigma["seed"].astype(int))[["task", "method", "seed", "ause"]]
        points = points.merge(sigma, on=["task", "method", "seed"], how="left")
    else:
        points["ause"] = np.nan
    points["role"] = points["method"].map(roles)
    return points[POINT_COLUMNS]


def _last_phase(group: pd.DataFrame) -> str:
    """The phase of a method's final output: ``final`` for a cascade, else its last phase."""
    phases = set(group["phase"].astype(str))
    return "final" if "final" in phases else max(phases, key=lambda p: (p.isdigit(), int(p) if p.isdigit() else 0))


def _number(value: float, metric: str) -> str:
    if math.isnan(value):
        return "–"
    digits = {"ssim": 4, "psnr": 2, "mae": 4, "bone_dice": 3}.get(metric, 3)
    if metric == "mae" and abs(value) >= 1:
        digits = 1
    return f"{value:+.{digits}f}"


def variants_markdown(tests: pd.DataFrame, skull: pd.DataFrame, sigma: pd.DataFrame,
                      labels: dict[str, str] | None = None) -> str:
    """The mechanism report: per task and comparator a table of each variant's difference
    (variant − comparator, 95 % CI, Holm p, verdict for the variant) per metric; then the skull
    loss and the σ quality tables."""
    labels = labels or {}
    if tests.empty and skull.empty and sigma.empty:
        return "# Variants\n\nNo variants of the proposed method were trained in this run.\n"
    lines = ["# Variants of the proposed method against the ablation and the control", "",
             "Seed-aware (Welch on per-seed means), variant − comparator with its 95 % interval; "
             "Holm within each comparator's family (every task, variant and metric); the verdict "
             "is the variant's (better / worse / no difference shown).", ""]
    for (task, versus), block in tests.groupby(["task", "versus"], sort=False):
        metrics = list(dict.fromkeys(block["metric"]))
        lines += [f"## {task}: against {labels.get(versus, versus)} (`{versus}`), "
                  f"{int(block['n_seeds'].min())} seeds", "",
                  "| method | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
        for method, rows in block.groupby("method", sort=False):
            cells = []
            for metric in metrics:
                r = rows[rows["metric"] == metric]
                if r.empty:
                    cells.append("–")
                    continue
                r = r.iloc[0]
                cells.append(f"{_number(r['estimate'], metric)} [{_number(r['ci_low'], metric)}, "
                             f"{_number(r['ci_high'], metric)}] p={r['p_holm']:.3g} {r['verdict']}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    if not skull.empty:
        lines += [f"## Skull lost (mean bone Dice over the test subjects < {SKULL_LOST_DICE})", "",
                  "| task | method | seeds | lost | seeds lost | bone Dice (mean over seeds) | lowest seed |",
                  "|---|---|---|---|---|---|---|"]
        for r in skull.itertuples(index=False):
            lines.append(f"| {r.task} | {r.method} | {r.n_seeds} | {r.n_skull_lost} | {r.seeds_skull_lost or '–'} | "
                         f"{r.bone_dice_mean:.3f} | {r.bone_dice_seed_min:.3f} |")
        lines.append("")
    if not sigma.empty:
        lines += ["## σ of the final output (mean ± SD over seeds)", "",
                  "| task | method | seeds | AUSE (lower is better) | coverage 95 % | ρ(σ, abs error) |",
                  "|---|---|---|---|---|---|"]
        for r in sigma.itertuples(index=False):
            lines.append(f"| {r.task} | {r.method} | {r.n_seeds} | {r.ause_mean:.4f} ± {r.ause_sd:.4f} | "
                         f"{r.coverage_95_mean:.3f} ± {r.coverage_95_sd:.3f} | "
                         f"{r.spearman_mean:.3f} ± {r.spearman_sd:.3f} |")
        lines.append("")
    return "\n".join(lines)
