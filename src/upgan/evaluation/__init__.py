"""Evaluation core: per-subject image metrics, paired significance tests, uncertainty
calibration, the results-contract schemas and a claim-by-claim report (claims C0-C6).

One module per job: :mod:`~upgan.evaluation.contract` (the result tables' columns),
:mod:`~upgan.evaluation.scores` (per-subject metrics), :mod:`~upgan.evaluation.significance`
(summary and paired tests), :mod:`~upgan.evaluation.calibration` (σ against the error) and
:mod:`~upgan.evaluation.claims` (the paper's claims). Which methods each claim compares comes
from the method registry (:mod:`upgan.methods.registry`), how a task is scored from its
:class:`upgan.tasks.TaskSpec`.

Metric conventions (these are the ones every table and CSV of the project uses):

* Images are compared on the networks' normalised ``[0, 1]`` scale (CT through the fixed,
  invertible Hounsfield window of :class:`upgan.preparation.normalisation.HUWindow`; PET and T1
  divided by a robust per-volume maximum). ``data_range`` is 1.0 everywhere.
* **SSIM** is computed per 2D slice exactly as ``skimage.metrics.structural_similarity(pred,
  target, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``
  (Gaussian window of 11 taps, K1 = 0.01, K2 = 0.03, the 5-pixel border excluded; computed with
  the equivalent float64 torch implementation :func:`upgan.metrics.ssim`) and averaged over the
  subject's slices.
* **PSNR** is computed per subject from the mean squared error over *all* pixels of *all* its
  slices: ``10 log10(1 / MSE)``. Identical images (MSE = 0) would give ``+inf``; the value is
  capped at :data:`PSNR_CAP_DB` = 100 dB so that the CSVs never contain ``inf``.
* **MAE** per subject, over all pixels of all its slices. For a task scored in Hounsfield units
  (``TaskSpec.scores_in_hu``: PET->CT) it is the normalised absolute error times the window
  width (4095 HU for the default window [-1024, 3071]); ``mae`` is over all pixels,
  ``mae_head`` only over the head mask (target > -500 HU). Otherwise (the MRI tasks) it stays on
  the normalised scale (no physical unit).
* **Bone Dice** (tasks scored in HU only): Dice overlap of bone (CT >= :data:`BONE_HU` = 300 HU)
  between prediction and target inside the head mask, over all of a subject's slices; what
  attenuation correction needs from a synthetic CT. ``nan`` for the other tasks (and 1.0 when
  neither image has bone).
* **Clipped scoring**: every prediction is clipped to the valid range of the normalised scale,
  ``[0, 1]`` (the CT window; the T1 scale), before any metric, as a reader sees the image;
  ``out_of_range_fraction`` records per subject the fraction of pixels that had to be clipped.
* **The do-nothing reference** ``input``: for tasks whose input is on the target's scale (the
  MRI tasks) the corrupted input itself is scored as a prediction, with the same rules.
* **No background masking** is applied to SSIM or PSNR (nor to the overall MAE): the background
  of every slice counts, so values are higher than masked, body-only metrics would be.
* Subjects are summarised by mean and sample standard deviation (``ddof=1``) over the test
  subjects of a cell (task, method, n_train_patients).
* Paired tests compare two methods on the same test subjects (paired by ``subject_id``):
  Wilcoxon signed-rank (``scipy.stats.wilcoxon``, two-sided, zero differences dropped) and the
  paired t-test (``scipy.stats.ttest_rel``). When every difference is exactly zero both tests
  report ``statistic = 0`` and ``p = 1.0`` (no evidence of a difference) instead of failing.
"""

from upgan.evaluation.agreement import claims_with_seed_agreement
from upgan.evaluation.calibration import (
    UNCERTAINTY_MEASURES,
    calibration_table,
    sparsification,
    uncertainty_rows,
)
from upgan.evaluation.claims import (
    CLAIMS,
    MARKDOWN_ORDER,
    Families,
    claim_statements,
    claim_verdicts,
    claims_markdown,
    claims_report,
)
from upgan.evaluation.contract import (
    CONTRACT_COLUMNS,
    HIGHER_IS_BETTER,
    INPUT,
    METRICS,
    check_contract,
    label_cell,
    require_columns,
)
from upgan.evaluation.lead import LEAD_COLUMNS, lead_model
from upgan.evaluation.retraining import SEED_AWARE_TESTS, seed_aware_test, welch
from upgan.evaluation.scores import (
    BONE_HU,
    HEAD_MASK_HU,
    PSNR_CAP_DB,
    READER_COLUMNS,
    SOFT_TISSUE_HU,
    VALID_RANGE,
    bone_dice,
    example_slice,
    head_mask,
    psnr_from_mse,
    slice_ssim,
    subject_metrics,
)
from upgan.evaluation.significance import TESTS, paired_test, paired_tests, summarise
from upgan.evaluation.verdicts import (
    BETTER,
    CLAIMS_COLUMNS,
    HELD,
    NO_DIFFERENCE,
    NOT_HELD,
    NOT_TESTABLE,
    WORSE,
)

__all__ = [
    "BETTER", "BONE_HU", "CLAIMS", "CLAIMS_COLUMNS", "CONTRACT_COLUMNS", "HEAD_MASK_HU", "HELD",
    "HIGHER_IS_BETTER", "INPUT", "LEAD_COLUMNS", "MARKDOWN_ORDER", "METRICS", "NO_DIFFERENCE",
    "NOT_HELD", "NOT_TESTABLE", "PSNR_CAP_DB", "READER_COLUMNS", "SEED_AWARE_TESTS", "SOFT_TISSUE_HU", "UNCERTAINTY_MEASURES", "TESTS", "VALID_RANGE", "WORSE",
    "Families", "bone_dice", "calibration_table", "check_contract", "claim_statements",
    "claims_with_seed_agreement", "claim_verdicts", "claims_markdown", "claims_report",
    "example_slice", "head_mask", "label_cell", "lead_model", "paired_test", "paired_tests", "psnr_from_mse",
    "require_columns", "seed_aware_test", "slice_ssim", "sparsification", "subject_metrics",
    "summarise", "uncertainty_rows", "welch",
]
