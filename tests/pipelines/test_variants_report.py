"""The test-env run writes the mechanism comparison (variants.csv, variants.md): UP-GAN against
the ablation and the control, recomputed here from metrics_per_subject.csv with scipy."""

import numpy as np
import pandas as pd
from scipy import stats

from upgan.evaluation.variants import VARIANT_TEST_COLUMNS


def test_the_run_compares_upgan_with_its_ablation_and_control(default_run):
    reporting = default_run / "08_reporting"
    tests = pd.read_csv(reporting / "variants.csv")
    metrics = pd.read_csv(reporting / "metrics_per_subject.csv")
    assert list(tests.columns) == VARIANT_TEST_COLUMNS
    assert set(tests.method) == {"upgan"} and set(tests.versus) == {"upgan_no_guidance", "unet_l1"}
    assert set(tests.task) == set(metrics.task)
    assert set(tests[tests.task == "pet_to_ct"].metric) == {"ssim", "psnr", "mae", "bone_dice"}
    assert set(tests[tests.task == "mri_recon"].metric) == {"ssim", "psnr", "mae"}
    for row in tests.itertuples(index=False):
        cell = metrics[(metrics.task == row.task) & (metrics.n_train_patients == row.n_train_patients)]
        per_seed = {m: cell[cell.method == m].groupby("seed")[row.metric].mean().to_numpy()
                    for m in (row.method, row.versus)}
        assert len(per_seed[row.method]) == row.n_seeds == 2
        np.testing.assert_allclose(row.estimate, per_seed[row.method].mean() - per_seed[row.versus].mean(),
                                   rtol=1e-9, atol=1e-12)
        p = stats.ttest_ind(per_seed[row.method], per_seed[row.versus], equal_var=False).pvalue
        np.testing.assert_allclose(row.p_value, p, rtol=1e-9)
    for task in set(tests.task):  # the mechanism figure of each task with variants
        assert (reporting / "figures" / f"variants_{task}.png").stat().st_size > 10_000
    text = (reporting / "variants.md").read_text()
    assert "against the ablation and the control" in text and "Skull lost" in text
