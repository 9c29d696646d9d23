"""Checkpoints are keyed by what determines their stage: a changed setting trains fresh beside
the old checkpoints instead of stopping at them; the old settings find theirs again."""

CELL = "pet_to_ct.upgan.n04.s2021"
NODES = [f"{CELL}.train_phase_0", f"{CELL}.train_phase_1", f"{CELL}.fine_tune", "pet_to_ct.pix2pix.n04.s2021.train"]


def test_a_changed_setting_trains_fresh_beside_the_old_checkpoints(checkpoint_times, kedro_project, tmp_path):
    params = {"data_root": str(tmp_path / "data")}
    root, _ = kedro_project(pipeline_names=["data_preparation"], namespaces=["pet_to_ct"], runtime_params=params)
    kedro_project(pipeline_names=["training"], node_names=NODES, runtime_params=params)
    first = checkpoint_times(root)
    assert sorted(p.name.split("-")[0] for p in first) == ["fine_tune", "phase_0", "phase_1", "train"]
    changed = {**params, "upgan": {"fine_tune": {"steps": 5}}, "baselines": {"pix2pix": {"ngf": 8}}}
    kedro_project(pipeline_names=["training"], node_names=NODES, runtime_params=changed)
    second = checkpoint_times(root)
    assert {p: t for p, t in second.items() if p in first} == first  # the old ones untouched
    assert sorted(p.name.split("-")[0] for p in set(second) - set(first)) == ["fine_tune", "train"]
    kedro_project(pipeline_names=["training"], node_names=NODES, runtime_params=params)
    assert checkpoint_times(root) == second  # the first settings resume from their own checkpoints
