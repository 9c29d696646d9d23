"""``upgan merge``: a study run in parts (one seed per part) merges into the report one run over
every seed writes, byte for byte; parts that are not parts of one study are refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from upgan.console import main
from upgan.launch.merge import merge_parts, write_merged

PROJECT = Path(__file__).resolve().parents[2]
SEEDS = yaml.safe_load((PROJECT / "conf" / "test" / "parameters_training.yml").read_text())["seeds"]
TABLE1 = ("metrics_per_subject.csv", "uncertainty.csv", "head_mae.csv", "budget.csv", "summary.csv",
          "significance.csv", "claims.csv", "table1.md", "variants.csv", "variants.md")
SWEEP = ("metrics_per_subject.csv", "budget.csv", "summary.csv", "significance.csv", "claims.csv", "tables.md",
         "figures/figure4.png")


def _copy_without_reports(source: Path, target: Path) -> None:
    """A data root with everything a run trained (data, checkpoints, models) but no report."""
    shutil.copytree(source, target, ignore=lambda folder, _: ["08_reporting"] if Path(folder) == source else [])


@pytest.fixture(scope="module")
def study(default_run, kedro_project, tmp_path_factory):
    """The test env's Table 1 and sweep with both seeds in one root (``full``), and the same
    study as two parts of one seed each. The parts resume the full run's trained stages from
    their checkpoints and evaluate and report their own seed; their MLflow runs go to a store of
    their own."""
    base = tmp_path_factory.mktemp("merge")
    full = base / "full"
    shutil.copytree(default_run, full)
    # kedro-mlflow sets MLflow's process-wide tracking URI from the environment: put both back,
    # or the tests after this module would search this module's store instead of the session's
    saved, saved_uri = os.environ.get("MLFLOW_TRACKING_URI"), mlflow.get_tracking_uri()
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{base / 'mlflow.db'}"
    try:
        kedro_project(pipeline_names=["weak_supervision"], runtime_params={"data_root": str(full)})
        parts = []
        for seed in SEEDS:
            part = base / f"part_s{seed}"
            _copy_without_reports(full, part)
            kedro_project(pipeline_names=["__default__", "weak_supervision"],
                          runtime_params={"data_root": str(part), "seeds": [seed]})
            parts.append(part)
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
        mlflow.set_tracking_uri(saved_uri)
    return full, parts


def test_each_part_reports_only_its_own_seed(study):
    _, parts = study
    for seed, part in zip(SEEDS, parts, strict=True):
        table = pd.read_csv(part / "08_reporting" / "metrics_per_subject.csv")
        assert set(table["seed"].dropna().astype(int)) == {seed}


def test_merged_parts_are_the_report_of_one_run_over_every_seed(study, tmp_path):
    full, parts = study
    out = tmp_path / "merged"
    assert main(["merge", *map(str, parts), "--out", str(out), "--env", "test"]) == 0
    for name in TABLE1:
        assert (out / "08_reporting" / name).read_bytes() == (full / "08_reporting" / name).read_bytes(), name
    figures = sorted(p.name for p in (full / "08_reporting" / "figures").glob("*.png"))
    assert figures and figures == sorted(p.name for p in (out / "08_reporting" / "figures").glob("*.png"))
    # drawn from the first seed's images, carried over from the part that trained it
    for name in figures:
        if name.startswith("methods_"):
            assert (out / "08_reporting" / "figures" / name).read_bytes() == \
                (full / "08_reporting" / "figures" / name).read_bytes()
    provenance = pd.read_csv(out / "08_reporting" / "parts.csv")
    assert provenance["seeds"].astype(str).tolist() == [str(s) for s in SEEDS]
    assert {"cpu_model", "cpu_isa"} <= set(provenance.columns)
    # the merged root holds every cell's evaluation: it can be a part of a later merge
    table = pd.read_csv(full / "08_reporting" / "metrics_per_subject.csv")
    cells = {f"{r.task}.{r.method}.n{int(r.n_train_patients):02d}" + ("" if pd.isna(r.seed) else f".s{int(r.seed)}")
             for r in table.itertuples()}
    assert cells == {p.name for p in (out / "08_reporting" / "evaluation").iterdir()}


def test_merged_sweep_is_the_sweep_of_one_run(study, tmp_path):
    full, parts = study
    out = tmp_path / "merged"
    assert main(["merge", *map(str, parts), "--out", str(out), "--env", "test", "--pipeline",
                 "weak_supervision"]) == 0
    for name in SWEEP:
        merged = out / "08_reporting" / "weak_supervision" / name
        assert merged.read_bytes() == (full / "08_reporting" / "weak_supervision" / name).read_bytes(), name


def _refusal(capsys, *args: str) -> str:
    assert main(["merge", *args, "--env", "test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ")
    return err[0]


def test_a_cell_in_two_parts_is_refused(study, capsys, tmp_path):
    full, parts = study
    line = _refusal(capsys, str(parts[0]), str(full), "--out", str(tmp_path / "x"))
    assert "trained by two parts" in line and str(full) in line
    assert not (tmp_path / "x").exists()
    assert "given twice" in _refusal(capsys, str(parts[0]), str(parts[0]), "--out", str(tmp_path / "x"))


def test_parts_with_other_test_data_are_refused(study, capsys, tmp_path):
    _, parts = study
    other = tmp_path / "other"
    shutil.copytree(parts[1] / "08_reporting", other / "08_reporting")
    reference = next((other / "08_reporting" / "evaluation").glob("*.input.*")) / "metrics.csv"
    table = pd.read_csv(reference)
    table.loc[0, "mae"] += 0.01
    table.to_csv(reference, index=False)
    line = _refusal(capsys, str(parts[0]), str(other), "--out", str(tmp_path / "x"))
    assert "prepared different data" in line and str(table.loc[0, "subject_id"]) in line


def test_parts_with_another_budget_are_refused(study, capsys, tmp_path):
    _, parts = study
    other = tmp_path / "other"
    shutil.copytree(parts[1] / "08_reporting", other / "08_reporting")
    budget = pd.read_csv(other / "08_reporting" / "budget.csv")
    budget.loc[0, "updates"] += 1
    budget.to_csv(other / "08_reporting" / "budget.csv", index=False)
    line = _refusal(capsys, str(parts[0]), str(other), "--out", str(tmp_path / "x"))
    assert "different budgets" in line and budget.loc[0, "method"] in line


def test_an_output_that_is_a_part_or_holds_a_report_is_refused(study, capsys, tmp_path):
    _, parts = study
    assert "is one of the parts" in _refusal(capsys, *map(str, parts), "--out", str(parts[0]))
    out = tmp_path / "merged"
    merged = merge_parts(parts, env="test")
    write_merged(merged, out, env="test")
    before = (out / "08_reporting" / "claims.csv").stat().st_mtime_ns
    assert "already holds a report" in _refusal(capsys, *map(str, parts), "--out", str(out))
    assert (out / "08_reporting" / "claims.csv").stat().st_mtime_ns == before
    write_merged(merged, out, env="test", overwrite=True)


def test_a_missing_part_is_named(capsys, tmp_path):
    line = _refusal(capsys, str(tmp_path / "nowhere"), str(tmp_path), "--out", str(tmp_path / "x"))
    assert str(tmp_path / "nowhere") in line and "no such folder" in line
    line = _refusal(capsys, str(tmp_path), str(tmp_path), "--out", str(tmp_path / "x"))
    assert "metrics_per_subject.csv" in line or "given twice" in line
