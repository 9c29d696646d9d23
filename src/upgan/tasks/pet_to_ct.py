"""PET→CT: non-attenuation-corrected FDG PET -> CT in HU (PET/CT subject folders)."""

from upgan.io.layouts import PET_CT
from upgan.preparation.targets import HUWindowNormalisation
from upgan.tasks.spec import Preview, TaskSpec

TASK = TaskSpec(
    name="pet_to_ct",
    order=10,
    layout=PET_CT,
    input_modality="pet",
    target_modality="ct",
    target_normalisation=HUWindowNormalisation(),
    description="non-attenuation-corrected FDG PET -> CT",
    label="PET→CT",
    preview=Preview("NAC PET", "CT", target_windows=(("bone W2000/L500", -500.0, 1500.0),
                                                     ("brain W80/L40", 0.0, 80.0)),
                    heights=(0.15, 0.6), show_difference=False),
    paper_table1={"pix2pix": "0.89±0.04 / 26.0±2.0 / 38.5±10.7",
                  "pan": "0.90±0.08 / 26.5±4.5 / 37.2±15.6",
                  "medgan": "0.90±0.04 / 27.1±2.5 / 35.4±11.8",
                  "upgan": "0.95±0.05 / 28.9±0.4 / 24.7±12.9",
                  "upgan_no_guidance": "0.87 / 25.4 / 40.7"},
    paper_ssim_p_vs_medgan=0.016,
)
