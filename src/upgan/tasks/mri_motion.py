"""MRI motion: motion-corrupted T1 -> clean T1 (IXI T1 files)."""

from upgan.io.layouts import IXI_T1
from upgan.preparation.corruption import RigidMotion
from upgan.preparation.targets import VolumeScaleNormalisation
from upgan.tasks.spec import TaskSpec

TASK = TaskSpec(
    name="mri_motion",
    order=30,
    layout=IXI_T1,
    input_modality="t1",
    target_modality="t1",
    target_normalisation=VolumeScaleNormalisation(units="normalised T1"),
    description="motion-corrupted T1 MRI -> clean T1",
    corruption=RigidMotion(),
    label="MRI motion",
    paper_table1={"pix2pix": "0.94±0.06 / 29.6±1.4 / 26.3±8.2",
                  "pan": "0.95±0.10 / 30.1±2.8 / 24.9±9.7",
                  "medgan": "0.95±0.04 / 30.8±1.8 / 23.6±9.1",
                  "upgan": "0.96±0.03 / 32.1±0.3 / 22.8±11.1",
                  "upgan_no_guidance": "0.92 / 26.2 / 35.1"},
    paper_ssim_p_vs_medgan=0.036,
)
