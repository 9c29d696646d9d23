"""The cascade's own report rows: error and uncertainty on the test set after each phase."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from upgan.inference import predict_phases
from upgan.methods.cascade import _numpy, cascade_from_bundle, cascade_from_states
from upgan.methods.registry import CellJob, StepResult
from upgan.models import cascade_config_from_dict
from upgan.preparation.normalisation import VALID_RANGE
from upgan.reporting.figures import phase_figure
from upgan.uncertainty import phase_summary

logger = logging.getLogger(__name__)


def phase_report(job: CellJob) -> StepResult:
    """Test-set error and uncertainty after each initialisation phase and after fine-tuning.

    Rows ``init_<m>`` use the phase-by-phase weights (cascade up to phase m), rows ``<m>`` the
    fine-tuned cascade's phase m (the phases as trained when the configuration does not
    fine-tune); ``final`` is the last phase of the fine-tuned cascade.

    Returns:
        ``phase_summary`` (``stage, phase, mean_abs_error, mean_sigma, spearman_sigma_abs_error``)
        and ``phase_figure`` (the Figure 2 analogue for one test slice), with the initialisation
        rows as metrics and the figure to log.
    """
    from upgan.evaluation import example_slice

    test_slices, model = job.inputs["test_slices"], job.inputs["model"]
    cfg = cascade_config_from_dict(model.config["cascade"])
    inputs = torch.from_numpy(test_slices.inputs)
    device = str(job.param("training").get("device", "auto"))
    init = cascade_from_states(cfg, [job.inputs[f"generator_{m}"].state_dict("generator") for m in range(cfg.n_phases)])
    init_out = _numpy(predict_phases(init, inputs, device=device))
    tuned_out = _numpy(predict_phases(cascade_from_bundle(model), inputs, device=device))
    labels = [f"init_{m}" for m in range(cfg.n_phases)] + [str(m) for m in range(cfg.n_phases)]
    outs = init_out + tuned_out
    table = phase_summary([np.clip(o["image"], *VALID_RANGE) for o in outs], [o["sigma"] for o in outs],
                          test_slices.targets, labels)
    table.insert(0, "stage", ["initialisation"] * cfg.n_phases + ["fine_tuned"] * cfg.n_phases)
    final = table.iloc[[-1]].assign(stage="fine_tuned", phase="final")
    table = pd.concat([table, final], ignore_index=True)
    k = example_slice(test_slices.targets, test_slices.subject_ids)  # the slice of Figure 3 too
    shown = [{key: v[k, 0] for key, v in o.items()} for o in outs]
    figure = phase_figure(
        test_slices.inputs[k, 0], test_slices.targets[k, 0], shown,
        [f"init phase {m}" for m in range(cfg.n_phases)] + [f"fine-tuned phase {m}" for m in range(cfg.n_phases)],
        summary_rows=table.iloc[:-1].to_dict("records"),
        title=f"{job.cell}: phases on test subject {test_slices.subject_ids[k]}, slice {test_slices.slice_index[k]}",
    )
    # the fine-tuned phases' test metrics are logged by evaluation (test_phase_<m>/...)
    metrics = {f"test/initialisation_{row['phase']}/{key}": float(row[key])
               for row in table[table["stage"] == "initialisation"].to_dict("records")
               for key in ("mean_abs_error", "mean_sigma", "spearman_sigma_abs_error")}
    logger.info("%s phases on the test set:\n%s", job.cell, table.to_string(index=False))
    return StepResult({"phase_summary": table, "phase_figure": figure}, metrics=metrics,
                      figures={f"phases_{job.cell}.png": figure})
