"""MRI recon: T1 keeping the central 8 % of k-space -> fully sampled T1 (IXI T1 files)."""

from upgan.io.layouts import IXI_T1
from upgan.preparation.corruption import KSpaceUndersampling
from upgan.preparation.targets import VolumeScaleNormalisation
from upgan.tasks.spec import TaskSpec

TASK = TaskSpec(
    name="mri_recon",
    order=20,
    layout=IXI_T1,
    input_modality="t1",
    target_modality="t1",
    target_normalisation=VolumeScaleNormalisation(units="normalised T1"),
    description="T1 MRI keeping the central 8 % of k-space -> fully sampled T1",
    corruption=KSpaceUndersampling(),
    label="MRI recon",
    paper_table1={"pix2pix": "0.92±0.03 / 28.5±0.9 / 27.6±9.3",
                  "pan": "0.93±0.05 / 28.8±0.7 / 26.2±10.4",
                  "medgan": "0.94±0.02 / 29.7±1.9 / 24.2±8.7",
                  "upgan": "0.97±0.07 / 29.4±2.1 / 24.1±7.5",
                  "upgan_no_guidance": "0.93 / 27.3 / 38.7"},
    paper_ssim_p_vs_medgan=0.021,
)
