"""GGD interval coverage, NLL and AUSE (upgan.uncertainty) against scipy and hand-worked cases,
and the per-subject uncertainty rows inside the head mask."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from upgan.evaluation import uncertainty_rows
from upgan.uncertainty import ause, ggd_abs_quantile, ggd_nll


@pytest.mark.parametrize("beta", [0.7, 1.0, 2.0, 3.5])
@pytest.mark.parametrize("level", [0.68, 0.95])
def test_ggd_quantile_and_nll_match_scipy_gennorm(beta: float, level: float) -> None:
    alpha = np.array([0.02, 0.1, 1.5])
    q = ggd_abs_quantile(alpha, np.full(3, beta), level)
    assert q == pytest.approx(stats.gennorm(beta, scale=alpha).ppf((1.0 + level) / 2.0), rel=1e-9)
    eps = np.array([0.0, 0.05, 2.0])
    assert ggd_nll(np.abs(eps), alpha, np.full(3, beta)) == pytest.approx(
        -stats.gennorm(beta, scale=alpha).logpdf(eps), rel=1e-9)


def test_coverage_of_calibrated_ggd_samples() -> None:
    """|ε| drawn from the GGD the network predicts: the 68 % / 95 % intervals cover 68 % / 95 %."""
    rng = np.random.default_rng(0)
    alpha = rng.uniform(0.02, 0.2, (64, 1, 16, 16))
    beta = rng.uniform(0.8, 2.5, alpha.shape)
    eps = stats.gennorm.rvs(beta, scale=alpha, random_state=rng)
    target = np.full(alpha.shape, 0.5)
    sigma = alpha  # any positive map; coverage uses α and β only
    rows = uncertainty_rows("mri_recon", "upgan", 4, [target + eps], [sigma], target, ["0"],
                            subject_ids=np.repeat(["a", "b"], 32), phase_alphas=[alpha], phase_betas=[beta])
    assert list(rows.subject_id) == ["a", "b"]
    assert rows.coverage_68.to_numpy() == pytest.approx([0.68, 0.68], abs=0.02)
    assert rows.coverage_95.to_numpy() == pytest.approx([0.95, 0.95], abs=0.01)
    assert rows.spearman_sigma_abs_error.min() > 0.2  # larger α, larger |ε|


def test_ause_hand_worked_and_perfect_ranking() -> None:
    """Errors 4, 3, 2, 1 (mean 2.5). σ ranking them perfectly: AUSE 0. σ ranking them in
    reverse, two fractions (0, 1/2): gaps 0 and mean(4, 3) - mean(2, 1) = 2, trapezoid 0.5."""
    err = np.array([4.0, 3.0, 2.0, 1.0])
    assert ause(np.array([4.0, 3.0, 2.0, 1.0]), err, n_fractions=2) == 0.0
    assert ause(np.array([1.0, 2.0, 3.0, 4.0]), err, n_fractions=2) == pytest.approx(0.5)


def test_uncertainty_rows_use_only_the_head_mask() -> None:
    target = np.zeros((2, 1, 4, 4))
    pred = target + 0.1
    pred[..., :2] = 5.0  # a huge error outside the mask
    mask = np.zeros(target.shape, dtype=bool)
    mask[..., 2:] = True
    rows = uncertainty_rows("mri_recon", "upgan", 4, [pred], [np.ones_like(pred)], target, ["0"],
                            head_mask=mask)
    assert rows.mean_abs_error.iloc[0] == pytest.approx(0.1)
    assert np.isnan(rows.nll.iloc[0])  # no α, β given
