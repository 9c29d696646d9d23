"""Translate whole NIfTI volumes with a trained model bundle (used by ``upgan predict``).

The volume goes through the same steps as the training data: reorientation to RAS+, axial
slices resized to the model's slice size, the input normalisation; the prediction and its σ are
then resized back, put back into physical units (CT in HU; MRI in the input's intensity scale)
and reoriented to the input's own voxel order, so the outputs share the input's affine and header.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from upgan.input_statistics import KEY as INPUT_STATISTICS
from upgan.input_statistics import InputStatistics, compare
from upgan.io.bundle import ModelBundle, load_bundle
from upgan.io.nifti import NiftiVolume, VolumeError, is_nifti_path, load_nifti
from upgan.io.outputs import plan_outputs, split_outputs, write_output_set
from upgan.methods import predict_bundle
from upgan.preparation import PercentileScale, PreparationConfig, axial_slices, from_axial_slices
from upgan.tasks import get_task

logger = logging.getLogger(__name__)

_MODALITY_HINTS = {"pet": r"(^|[^a-z])(nac_?)?pet([^a-z]|$)", "ct": r"(^|[^a-z])ct([^a-z]|$)",
                   "t1": r"(^|[^a-z])t1(w)?([^a-z0-9]|$)"}


#: How far outside the valid range a raw prediction may go, in widths of that range (each side),
#: and the share of voxels allowed beyond it: a trained model lands near the valid range, a
#: damaged bundle (flipped bytes, scaled weights) far outside it.
OUTPUT_MARGIN = 0.5
MAX_SHARE_OUTSIDE = 0.01


class TaskMismatchError(ValueError):
    """The input does not look like what the model was trained to translate."""


class OutputRangeError(ValueError):
    """The model's raw prediction is far outside the valid range: the bundle may be corrupt."""


def check_output_range(image: np.ndarray, valid_range: tuple[float, float]) -> None:
    """Raise :class:`OutputRangeError` when ``image`` (the raw prediction, normalised scale) has a
    non-finite value, or more than :data:`MAX_SHARE_OUTSIDE` of its voxels beyond
    :data:`OUTPUT_MARGIN` range widths outside ``valid_range`` (for [0, 1]: [-0.5, 1.5])."""
    lo, hi = valid_range
    margin = OUTPUT_MARGIN * (hi - lo)
    bounds = (lo - margin, hi + margin)
    finite = np.isfinite(image)
    if not finite.all():
        detail = f"{int(image.size - finite.sum())} of {image.size} values are non-finite (NaN or inf)"
    else:
        share = float(np.mean((image < bounds[0]) | (image > bounds[1])))
        if share <= MAX_SHARE_OUTSIDE:
            return
        detail = (f"{100 * share:.1f} % of the voxels lie outside [{bounds[0]:g}, {bounds[1]:g}] on the "
                  f"normalised scale (valid: [{lo:g}, {hi:g}]; they range from {float(image.min()):.4g} "
                  f"to {float(image.max()):.4g})")
    raise OutputRangeError(f"the model's outputs are out of range: {detail}; the bundle may be corrupt")


@dataclass
class VolumePrediction:
    """Outputs for one input volume, in the input's voxel order and physical units.

    Attributes:
        image: (X, Y, Z) translated volume.
        sigma: (X, Y, Z) uncertainty of the final phase, or ``None`` (baselines).
        phase_sigmas: σ of every phase (cascades), first to last.
    """

    image: np.ndarray
    sigma: np.ndarray | None
    phase_sigmas: list[np.ndarray]


def resolve_bundle(model: str | Path) -> Path:
    """A model bundle file from a path: the ``.safetensors`` file, a cell folder holding
    ``model.safetensors`` (``.../n<NN>/s<seed>``), or a cell's patient-count folder
    (``.../n<NN>``) when it holds a single seed's model."""
    path = Path(model)
    if path.is_dir() and not (path / "model.safetensors").exists():
        seeds = sorted(p for p in path.glob("s*/model.safetensors") if p.parent.name[1:].isdigit())
        if len(seeds) == 1:
            return seeds[0]
        if len(seeds) > 1:
            raise FileNotFoundError(
                f"{model} holds the models of {len(seeds)} training seeds "
                f"({', '.join(p.parent.name for p in seeds)}): give one, e.g. {seeds[0].parent}")
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.exists():
        raise FileNotFoundError(
            f"no model bundle at {model}: give a cell folder such as "
            "data/06_models/pet_to_ct/upgan/n29/s2021 or its model.safetensors")
    return path


def check_input_matches_task(volume: NiftiVolume, path: Path, task_name: str) -> None:
    """Refuse inputs that look like another modality than the model's input.

    Two hints: modality words in the file name (``pet``, ``ct``, ``t1``) and CT-like values (a
    large share of voxels below −500, i.e. air in Hounsfield units) for PET or MRI models.
    """
    task = get_task(task_name)
    name = path.name.lower()
    expected = task.input_modality
    own = _MODALITY_HINTS.get(expected)
    for modality, pattern in _MODALITY_HINTS.items():
        if modality != expected and re.search(pattern, name) and not (own and re.search(own, name)):
            raise TaskMismatchError(
                f"{path}: the file name suggests {modality.upper()}, but the model was trained for "
                f"{task.name} ({task.description}); its input is {expected.upper()}"
            )
    if float(np.mean(volume.data < -500.0)) > 0.05:
        raise TaskMismatchError(
            f"{path}: {100 * float(np.mean(volume.data < -500.0)):.0f} % of the voxels are below -500 "
            f"(CT in HU?), but the model was trained for {task.name} ({task.description})"
        )


def check_input_against_training(bundle: ModelBundle, volume: NiftiVolume, path: Path,
                                 refuse: bool = True) -> None:
    """Compare ``volume`` with the training inputs recorded in the bundle
    (:mod:`upgan.input_statistics`): an intensity histogram far from theirs is refused
    (:class:`TaskMismatchError`; a warning with ``refuse=False``), another intensity scale, voxel
    size or shape is a warning. Bundles from before the record give one warning."""
    task = get_task(bundle.config["task"])
    if INPUT_STATISTICS not in bundle.config:
        logger.warning("%s: the model bundle records no statistics of its training inputs (trained by an "
                       "earlier version): this input's intensities, voxel size and shape are not checked "
                       "against the training data", path)
        return
    stats = InputStatistics.from_dict(bundle.config[INPUT_STATISTICS])
    percentile = PreparationConfig.from_params(bundle.config.get("preparation", {})).percentile
    refusal, warnings = compare(stats, volume, percentile)
    for warning in warnings:
        logger.warning("%s: %s", path, warning)
    if refusal is not None:
        message = (f"{path}: {refusal}; the model was trained for {task.name} ({task.description}), its input "
                   f"is {task.input_modality.upper()}")
        if refuse:
            raise TaskMismatchError(message + " (--skip-input-check translates it anyway)")
        logger.warning("%s; translated anyway (--skip-input-check)", message)


def _canonical_transform(affine: np.ndarray) -> np.ndarray:
    return nib.orientations.ornt_transform(nib.io_orientation(affine), nib.orientations.axcodes2ornt("RAS"))


def predict_volume(bundle: ModelBundle, volume: NiftiVolume, device: str = "auto",
                   batch_size: int = 16, channels_last: bool = True, clip: bool = True) -> VolumePrediction:
    """Translate one volume (see the module docstring). Shapes: (X, Y, Z) in, (X, Y, Z) out.

    A raw prediction far outside the valid range fails (:func:`check_output_range`), with or
    without ``clip``. With ``clip`` (the default, as evaluation scores it) the translated image
    is clipped to the task's valid range of the normalised scale, [0, 1] (the CT window; the T1
    scale); ``clip=False`` keeps the network's raw values. σ is never clipped. Units: the task's target
    normalisation (:meth:`~upgan.preparation.TargetNormalisation.record_at_prediction`)."""
    task = get_task(bundle.config["task"])
    prep = PreparationConfig.from_params(bundle.config.get("preparation", {}))
    size = prep.slice_size
    to_ras = _canonical_transform(volume.affine)
    from_ras = nib.orientations.ornt_transform(nib.orientations.axcodes2ornt("RAS"), nib.io_orientation(volume.affine))
    data = nib.orientations.apply_orientation(volume.data, to_ras).astype(np.float32)
    scaler = PercentileScale(prep.percentile)
    scale = scaler.scale_of(data)
    slices = axial_slices(scaler.forward(data, scale), size)[:, None]  # (Z, 1, S, S)
    prediction = predict_bundle(bundle, slices, device=device, batch_size=batch_size,
                                channels_last=channels_last)
    check_output_range(prediction.image, task.valid_range)
    if clip:
        prediction.image = np.clip(prediction.image, *task.valid_range)
    record = task.target_normalisation.record_at_prediction(prep, scale)  # MRI: the input's own scale

    def back(x: np.ndarray, is_sigma: bool) -> np.ndarray:
        vol = task.target_normalisation.to_units(from_axial_slices(x[:, 0], data.shape), record, sigma=is_sigma)
        if is_sigma:
            vol = np.maximum(vol, 0.0)
        return np.ascontiguousarray(nib.orientations.apply_orientation(vol, from_ras), dtype=np.float32)

    sigma = back(prediction.sigma, True) if prediction.sigma is not None else None
    phases = [back(p["sigma"], True) for p in prediction.phases] if prediction.phases else []
    return VolumePrediction(back(prediction.image, False), sigma, phases)


def list_inputs(path: str | Path) -> list[Path]:
    """One NIfTI file, or every NIfTI file of a folder (sorted; hidden files and earlier outputs
    of ``upgan predict`` skipped, see :func:`upgan.io.outputs.split_outputs`); clear errors
    otherwise."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input {path} not found")
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and is_nifti_path(p) and not p.name.startswith("."))
        files, skipped = split_outputs(files)
        if skipped:
            logger.info("skipping %d earlier output(s) of upgan predict in %s: %s", len(skipped), path,
                        ", ".join(p.name for p in skipped))
        if not files:
            raise VolumeError(f"{path}: no .nii or .nii.gz files in this folder"
                              + (" other than outputs of upgan predict" if skipped else ""))
        return files
    if not is_nifti_path(path):
        raise VolumeError(f"{path}: not a NIfTI file (expected .nii or .nii.gz)")
    return [path]


def output_names(task_target: str, has_sigma: bool, n_phases: int, phases: bool) -> list[str]:
    """The suffixes of one volume's outputs: ``_<target>.nii.gz``, then ``_sigma.nii.gz`` and
    (``phases``) ``_sigma_phase<m>.nii.gz`` for models with σ."""
    names = [f"_{task_target}.nii.gz"]
    if has_sigma:
        names.append("_sigma.nii.gz")
        if phases:
            names += [f"_sigma_phase{m}.nii.gz" for m in range(n_phases)]
    return names


def predict_files(model: str | Path, inputs: str | Path, output_dir: str | Path, device: str = "auto",
                  batch_size: int = 16, phases: bool = False, progress: bool = True,
                  clip: bool = True, overwrite: bool = False, check_inputs: bool = True) -> list[Path]:
    """Translate every input volume and write ``<stem>_<task target>.nii.gz`` and
    ``<stem>_sigma.nii.gz`` (and ``<stem>_sigma_phase<m>.nii.gz`` with ``phases``) into
    ``output_dir``, each with its input's affine and header (``clip``: see
    :func:`predict_volume`). Returns the written paths.

    Nothing is written when any input is refused, when two inputs would write the same file, or
    (unless ``overwrite``) when an output already exists; each volume's outputs are written
    together or not at all (:func:`upgan.io.outputs.write_output_set`). An input unlike the
    model's training inputs is refused (:func:`check_input_against_training`; with
    ``check_inputs=False`` a warning)."""
    from tqdm.auto import tqdm

    bundle = load_bundle(resolve_bundle(model))
    task = get_task(bundle.config["task"])
    files = list_inputs(inputs)
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} is a file; give a folder (it is created if missing)")
    n_phases = int(bundle.config["cascade"]["n_phases"]) if "cascade" in bundle.config else 0
    names = output_names(task.target_modality, has_sigma=n_phases > 0, n_phases=n_phases, phases=phases)
    plans = plan_outputs(files, out, names, overwrite)
    volumes = []
    for path in files:  # check every input before writing anything
        volume = load_nifti(path)
        check_input_matches_task(volume, path, task.name)
        check_input_against_training(bundle, volume, path, refuse=check_inputs)
        volumes.append(volume)
    results = []
    for path, volume in tqdm(list(zip(files, volumes, strict=True)), desc=f"upgan predict ({task.name})",
                             disable=not progress):
        try:
            result = predict_volume(bundle, volume, device=device, batch_size=batch_size, clip=clip)
        except OutputRangeError as err:
            raise OutputRangeError(f"model {model} on {path}: {err}; nothing was written") from err
        for name, values in (("translated image", result.image), ("σ", result.sigma)):
            if values is not None and not np.isfinite(values).all():
                raise ValueError(f"model {model} gave non-finite values (NaN or inf) in the {name} of "
                                 f"{path}: its weights are damaged; nothing was written")
        results.append(result)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create the output folder {out}: {err.strerror}") from err
    if not os.access(out, os.W_OK):
        raise ValueError(f"output folder {out} is not writable")
    written: list[Path] = []
    for plan, volume, result in zip(plans, volumes, results, strict=True):
        arrays = {names[0]: result.image}
        if result.sigma is not None:
            arrays[names[1]] = result.sigma
            if phases:
                arrays.update(zip(names[2:], result.phase_sigmas, strict=True))
        what = {name: f"{task.target_modality} from {plan.source.name}" if name == names[0]
                else f"{name[1:].split('.')[0]} of {plan.source.name}" for name in arrays}
        done = write_output_set(plan, {n: NiftiVolume(a, volume.affine, volume.header) for n, a in arrays.items()},
                                what)
        written += done
        logger.info("%s -> %s", plan.source, ", ".join(p.name for p in done))
    return written
