"""The shared training engine: validation, schedule, optimiser, budget in generator updates,
best-on-validation selection, checkpoint and exact resume."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from upgan.losses import UPGANLossWeights
from upgan.training import SlicePairs, StageConfig, TrainingMethod, engine, train_phase, train_stage
from upgan.training.data import BatchStream, epoch_seed
from upgan.training.history import select_best

# 24 training slices in batches of 8: 9 generator updates are the 3 passes the old 3-epoch
# stage made; validated at 0, 3, 6 and 9.
STAGE = StageConfig(name="t", steps=9, batch_size=8, lr_generator=2e-3, lr_discriminator=1e-3,
                    seed=5, device="cpu", val_every=3)


class Interrupt(Exception):
    pass


def _without_seconds(records: list[dict]) -> list[dict]:
    """Records without the wall-clock ``seconds`` (the only field that may differ between runs)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def _records_equal(a: list[dict], b: list[dict]) -> bool:
    """Equal records, NaN == NaN (the step-0 record has NaN training losses)."""
    a, b = _without_seconds(a), _without_seconds(b)
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        if ra.keys() != rb.keys():
            return False
        for k in ra:
            x, y = ra[k], rb[k]
            if not (x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))):
                return False
    return True


def test_slice_pairs_validation() -> None:
    x, y = torch.rand(4, 2, 8, 8), torch.rand(4, 1, 8, 8)
    assert len(SlicePairs(x, y)) == 4
    assert SlicePairs(x.double(), y).inputs.dtype == torch.float32
    with pytest.raises(ValueError, match="inputs have 4 slices, targets 3"):
        SlicePairs(x, y[:3])
    bad = y.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="targets contains NaN"):
        SlicePairs(x, bad)
    with pytest.raises(ValueError, match="1 channel"):
        SlicePairs(x, x)
    with pytest.raises(ValueError, match="N, C, H, W"):
        SlicePairs(x[0], y)


@pytest.mark.parametrize(
    "field,value",
    [("lr_generator", 0.0), ("lr_discriminator", -1e-3), ("steps", 0), ("steps", 2.5),
     ("steps", True), ("batch_size", 0), ("generator_steps_per_iteration", 0), ("val_every", 0),
     ("val_every", True)],
)
def test_stage_config_validation(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        StageConfig(**{field: value})


def test_stage_config_iterations() -> None:
    assert StageConfig(steps=10, generator_steps_per_iteration=3).iterations == 4
    assert StageConfig(steps=9, generator_steps_per_iteration=3).iterations == 3
    assert StageConfig(steps=7).iterations == 7


def _run(cfg, data, path: Path | None, stage: StageConfig = STAGE, **kw):
    train, val = data
    return train_phase(cfg, 0, [], train, val, stage, UPGANLossWeights(), path, progress=False, **kw)


def test_resume_is_bit_identical(tiny_cfg, data, tmp_path: Path, same_states) -> None:
    g_ref, d_ref, h_ref = _run(tiny_cfg, data, tmp_path / "ref.pt")
    assert [r["step"] for r in h_ref.records] == [0, 3, 6, 9]

    seen: list[dict] = []

    def stop_after_second(record: dict) -> None:
        seen.append(record)
        if len(seen) == 2:
            raise Interrupt

    path = tmp_path / "resume.pt"
    with pytest.raises(Interrupt):
        _run(tiny_cfg, data, path, on_record=stop_after_second)
    state = torch.load(path, weights_only=True)
    assert state["step"] == 3 and len(state["history"]) == 2
    g_res, d_res, h_res = _run(tiny_cfg, data, path)
    assert h_res.resumed_from_step == 3 and h_ref.resumed_from_step == 0
    assert _records_equal(h_res.records, h_ref.records)
    assert (h_res.updates, h_res.selected_step) == (h_ref.updates, h_ref.selected_step)
    assert same_states([g_ref, d_ref], [g_res, d_res])

    # A finished stage returns its history and selected weights without training again.
    calls: list[dict] = []
    g_again, d_again, h_again = _run(tiny_cfg, data, path, on_record=calls.append)
    assert calls == [] and _records_equal(h_again.records, h_ref.records)
    assert h_again.selected_step == h_ref.selected_step
    assert same_states([g_again, d_again], [g_ref, d_ref])

    # A different stage config is refused with a message naming the file.
    other = StageConfig(**{**STAGE.__dict__, "lr_generator": 1e-3})
    with pytest.raises(ValueError, match="resume.pt"):
        _run(tiny_cfg, data, path, stage=other)


def test_cosine_schedule_and_adam_betas(tiny_cfg, data, tmp_path: Path) -> None:
    """Cosine annealing over the stage's iterations, stepped every iteration: the record after
    k of 4 updates holds lr_0 (1 + cos(pi k / 4)) / 2."""
    stage = StageConfig(name="c", steps=4, batch_size=8, lr_generator=2e-3, lr_discriminator=1e-3,
                        betas=(0.5, 0.99), device="cpu", val_every=1)
    _, _, history = _run(tiny_cfg, data, tmp_path / "c.pt", stage=stage)
    assert history.metric("step") == [0, 1, 2, 3, 4]
    lrs = history.metric("lr")
    expected = [1e-3 * (1 + math.cos(math.pi * k / 4)) for k in range(5)]
    assert lrs == pytest.approx(expected, abs=1e-12)
    assert all(a > b for a, b in zip(lrs[:-1], lrs[1:], strict=True))
    assert history.metric("lr_discriminator") == pytest.approx([e / 2 for e in expected], abs=1e-12)
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    for opt in state["optimizers"]:
        assert tuple(opt["param_groups"][0]["betas"]) == (0.5, 0.99)
    flat = StageConfig(**{**stage.__dict__, "cosine": False})
    _, _, history = _run(tiny_cfg, data, None, stage=flat)
    assert history.metric("lr") == [2e-3] * 5


def test_history_has_validation_metrics(tiny_cfg, data) -> None:
    stage = StageConfig(**{**STAGE.__dict__, "steps": 3, "val_every": None})
    _, _, history = _run(tiny_cfg, data, None, stage=stage)
    assert history.metric("step") == [0, 3] and history.updates == 3
    record = history.last()
    for key in ("step", "lr", "g_loss", "d_loss", "train_ggd_nll", "val_mae", "val_psnr",
                "val_ssim", "val_sigma_mean"):
        assert key in record and math.isfinite(record[key]), key
    first = history[0]  # step 0: validated before any update, no training losses yet
    assert first["step"] == 0 and math.isnan(first["g_loss"]) and math.isnan(first["d_loss"])
    assert math.isfinite(first["val_mae"])
    assert history.selected() == history[[r["step"] for r in history].index(history.selected_step)]


# ---- a toy method: counts, scripted validation, exact weights -------------------------------------
class Toy(TrainingMethod):
    """A 3x3 conv generator and a 3x3 conv discriminator; counts every call."""

    def __init__(self, noise: float = 0.0) -> None:
        self.net = nn.Conv2d(1, 1, 3, padding=1)
        self.disc = nn.Conv2d(1, 1, 3, padding=1)
        self.noise = noise
        self.g_calls = 0
        self.d_calls = 0
        self.on_steps: list[tuple[int, int]] = []

    def generator_modules(self):
        return [self.net]

    def discriminator_modules(self):
        return [self.disc]

    def on_step(self, step, total):
        self.on_steps.append((step, total))

    def generator_loss(self, inputs, targets):
        self.g_calls += 1
        if self.noise:
            inputs = inputs + self.noise * torch.randn_like(inputs)  # exercises the RNG state
        fake = self.net(inputs)
        loss = F.l1_loss(fake, targets) + 0.1 * self.disc(fake).sub(1).square().mean()
        return loss, {"l1": F.l1_loss(fake, targets).detach()}, fake.detach()

    def discriminator_loss(self, inputs, targets, fake):
        self.d_calls += 1
        loss = self.disc(targets).sub(1).square().mean() + self.disc(fake).square().mean()
        return loss, {}

    def predict(self, inputs):
        return self.net(inputs)

    def states(self) -> list[dict[str, torch.Tensor]]:
        return [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in (self.net, self.disc)]


def _toy(seed: int = 0, noise: float = 0.0) -> Toy:
    torch.manual_seed(seed)
    return Toy(noise)


class StepCounter:
    """Counts optimiser ``step()`` calls of the generator and the discriminator optimisers."""

    def __init__(self, method: Toy) -> None:
        self.g_ids = {id(p) for p in method.net.parameters()}
        self.d_ids = {id(p) for p in method.disc.parameters()}
        self.g = self.d = 0

    def __call__(self, optimizer, args, kwargs) -> None:
        ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if ids & self.g_ids:
            self.g += 1
        if ids & self.d_ids:
            self.d += 1


# (steps, generator updates per iteration, val_every, the record steps, counted by hand):
# a record at step 0, after every iteration that reaches or passes a multiple of val_every,
# and at the end.
BUDGETS = [
    (7, 1, 2, [0, 2, 4, 6, 7]),
    (6, 1, 3, [0, 3, 6]),
    (5, 1, None, [0, 5]),
    (10, 3, None, [0, 10]),        # iterations of 3, 3, 3, 1 updates
    (10, 3, 3, [0, 3, 6, 9, 10]),
    (8, 3, 2, [0, 3, 6, 8]),       # 0->3 passes 2, 3->6 passes 4 and 6, 6->8 the end
    (2, 3, 1, [0, 2]),             # fewer steps than one iteration's worth
]


@pytest.mark.parametrize("steps,per_iteration,val_every,record_steps", BUDGETS)
def test_every_stage_makes_exactly_steps_generator_updates(
    data, steps: int, per_iteration: int, val_every: int | None, record_steps: list[int]
) -> None:
    method = _toy()
    counter = StepCounter(method)
    stage = StageConfig(name="b", steps=steps, batch_size=5, lr_generator=1e-3, device="cpu",
                        generator_steps_per_iteration=per_iteration, val_every=val_every)
    handle = register_optimizer_step_post_hook(counter)
    try:
        history = train_stage(method, data[0], data[1], stage, progress=False)
    finally:
        handle.remove()
    iterations = math.ceil(steps / per_iteration)
    assert method.g_calls == steps and counter.g == steps
    assert method.d_calls == iterations and counter.d == iterations
    assert method.on_steps == [(k, steps) for k in range(steps)]
    assert history.updates == steps
    assert history.metric("step") == record_steps
    assert all(math.isfinite(v) for v in history.metric("val_mae"))


def test_generator_steps_per_iteration_and_no_discriminator(data) -> None:
    """A method without a discriminator (engine generality): 10 iterations of 3 generator
    updates, the training loss falls between records; no d_loss is ever recorded."""

    class CountingL1(Toy):
        def discriminator_modules(self):
            return []

        def generator_loss(self, inputs, targets):
            self.g_calls += 1
            fake = self.net(inputs)
            loss = F.l1_loss(fake, targets)
            return loss, {"l1": loss.detach()}, fake.detach()

        def discriminator_loss(self, inputs, targets, fake):
            raise AssertionError("no discriminator")

    torch.manual_seed(0)
    method = CountingL1()
    stage = StageConfig(name="g3", steps=30, batch_size=5, lr_generator=1e-2, device="cpu",
                        generator_steps_per_iteration=3, val_every=15)
    history = train_stage(method, data[0], data[1], stage, progress=False)
    assert method.g_calls == 30 and history.updates == 30
    assert history.metric("step") == [0, 15, 30]
    assert all(math.isnan(d) for d in history.metric("d_loss"))
    assert all(math.isnan(d) for d in history.metric("lr_discriminator"))
    assert "train_l1" not in history[0]
    assert history[2]["train_l1"] < history[1]["train_l1"]


def test_batch_stream_crosses_epochs_and_is_stateless() -> None:
    """Iteration k takes positions [k B, (k + 1) B) of the concatenated seeded permutations."""
    n, b, seed = 5, 3, 7
    stream = BatchStream(n, b, seed)
    perms = [torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(seed, e)))
             for e in range(4)]
    flat = torch.cat(perms)
    for k in (0, 1, 2, 5, 3, 0):  # any order: stateless in k
        assert torch.equal(stream.indices(k), flat[k * b : (k + 1) * b]), k
    for e in range(4):  # every epoch is a permutation
        assert sorted(perms[e].tolist()) == list(range(n))


# ---- best-on-validation selection -----------------------------------------------------------------
def _scripted(monkeypatch, values: list[float]) -> list[float]:
    """Make the engine's validation return ``values`` in turn as val_mae."""
    queue = list(values)

    def fake_evaluate(method, batches, device, bf16=False, clip=(0.0, 1.0)):
        return {"val_mae": queue.pop(0), "val_psnr": 20.0, "val_ssim": 0.5}

    monkeypatch.setattr(engine, "evaluate_batches", fake_evaluate)
    return queue


def _train_toy_recording(data, stage, val=True, **kw):
    """Train a toy; return (method, history, weights seen at each record by step)."""
    method = kw.pop("method", None) or _toy()
    seen: dict[int, list[dict]] = {}

    def on_record(record: dict) -> None:
        seen[int(record["step"])] = method.states()

    history = train_stage(method, data[0], data[1] if val else None, stage, progress=False,
                          on_record=on_record, **kw)
    return method, history, seen


SEL_STAGE = StageConfig(name="sel", steps=8, batch_size=4, lr_generator=1e-2, lr_discriminator=1e-2,
                        device="cpu", val_every=2, seed=3)


@pytest.mark.parametrize(
    "curve,expected_keep_initial,expected_fresh",
    [
        ([0.5, 0.3, 0.1, 0.2, 0.4], 4, 4),                       # a minimum in the middle
        ([0.5, 0.2, 0.3, 0.2, 0.6], 2, 2),                       # ties: the earliest
        ([0.1, 0.5, 0.6, 0.7, 0.8], 0, 2),                       # untrained weights were best
        ([0.2, 0.2, 0.3, 0.4, 0.5], 0, 2),                       # a tie with step 0
        ([0.9, 0.8, 0.7, 0.6, 0.5], 8, 8),                       # the last
        ([math.nan, 0.4, math.inf, 0.3, math.nan], 6, 6),        # non-finite values never win
    ],
)
@pytest.mark.parametrize("keep_initial", [True, False])
def test_selected_step_is_the_validation_argmin_and_its_weights_are_kept(
    data, monkeypatch, curve: list[float], expected_keep_initial: int, expected_fresh: int,
    keep_initial: bool, same_states,
) -> None:
    """The kept step is the argmin of the scripted validation MAE (the earliest on ties); with
    ``keep_initial=False`` (stages from fresh networks) the step-0 record is not eligible."""
    expected = expected_keep_initial if keep_initial else expected_fresh
    queue = _scripted(monkeypatch, curve)
    stage = StageConfig(**{**SEL_STAGE.__dict__, "keep_initial": keep_initial})
    method, history, seen = _train_toy_recording(data, stage)
    assert queue == []  # one validation per record
    assert history.metric("step") == [0, 2, 4, 6, 8]
    assert history.selected_step == expected and history.updates == 8
    assert history.selected()["step"] == expected
    assert history.selected()["val_mae"] == curve[expected // 2]
    assert same_states(method.states(), seen[expected])  # generator AND discriminator
    if expected != 8:
        assert not same_states(method.states(), seen[8])  # not merely the final weights


def test_no_finite_validation_keeps_the_last_weights(data, monkeypatch, same_states) -> None:
    _scripted(monkeypatch, [math.nan] * 5)
    method, history, seen = _train_toy_recording(data, SEL_STAGE)
    assert history.selected_step == 8
    assert same_states(method.states(), seen[8])


def test_no_validation_data_keeps_the_last_weights(data, same_states) -> None:
    method, history, seen = _train_toy_recording(data, SEL_STAGE, val=False)
    assert history.metric("step") == [0, 2, 4, 6, 8]
    assert "val_mae" not in history.last()
    assert history.selected_step == 8 and history.selected() is history.last()
    assert same_states(method.states(), seen[8])
    assert not same_states(method.states(), seen[0])


def test_select_best_on_hand_built_records() -> None:
    rec = lambda s, v: {"step": s, "val_mae": v}  # noqa: E731
    assert select_best([rec(0, 0.4), rec(5, 0.2), rec(10, 0.2), rec(15, 0.3)]) == 5
    assert select_best([rec(0, math.nan), rec(5, math.inf), rec(10, 0.9)]) == 10
    assert select_best([rec(0, math.nan), rec(7, math.nan)]) == 7
    assert select_best([{"step": 0}, {"step": 3}]) == 3
    assert select_best([]) == 0
    assert select_best([rec(0, 0.1), {"step": 2, "val_ssim": 0.0}], key="val_ssim") == 2
    # without keep_initial, step 0 is not eligible (unless it is the only record)
    assert select_best([rec(0, 0.1), rec(5, 0.3), rec(10, 0.2)]) == 0
    assert select_best([rec(0, 0.1), rec(5, 0.3), rec(10, 0.2)], keep_initial=False) == 10
    assert select_best([rec(0, 0.1)], keep_initial=False) == 0
    assert select_best([rec(0, 0.1), rec(5, math.nan)], keep_initial=False) == 5


def test_toy_resume_is_bit_identical_and_restores_the_best(data, monkeypatch, tmp_path: Path, same_states) -> None:
    """Interrupted after its second record and resumed, a stage (batches crossing epochs, RNG in
    the loss, best weights found before the interruption) ends with exactly the uninterrupted
    run's weights, history and selection; the resumed run only makes the remaining updates."""
    curve = [0.5, 0.1, 0.3, 0.4, 0.2]  # best at step 2, before the interruption
    stage = StageConfig(**{**SEL_STAGE.__dict__, "batch_size": 5})  # 24 slices: crosses epochs

    _scripted(monkeypatch, curve)
    ref, h_ref, seen_ref = _train_toy_recording(data, stage, method=_toy(noise=0.05),
                                                checkpoint_path=tmp_path / "ref.pt")
    assert h_ref.selected_step == 2 and same_states(ref.states(), seen_ref[2])

    _scripted(monkeypatch, curve)
    first = _toy(noise=0.05)
    count = {"n": 0}

    def stop_after_second(record: dict) -> None:
        count["n"] += 1
        if count["n"] == 2:
            raise Interrupt

    path = tmp_path / "toy.pt"
    with pytest.raises(Interrupt):
        train_stage(first, data[0], data[1], stage, path, progress=False, on_record=stop_after_second)
    assert first.g_calls == 2 and torch.load(path, weights_only=True)["step"] == 2

    # resume in a fresh process-like state: fresh method with the same init, RNG disturbed
    _scripted(monkeypatch, curve[2:])
    torch.manual_seed(12345)
    resumed = _toy(noise=0.05)
    torch.rand(100)
    h_res = train_stage(resumed, data[0], data[1], stage, path, progress=False)
    assert resumed.g_calls == 6 and resumed.on_steps == [(k, 8) for k in range(2, 8)]
    assert h_res.resumed_from_step == 2
    assert _records_equal(h_res.records, h_ref.records)
    assert (h_res.updates, h_res.selected_step) == (8, 2)
    assert same_states(resumed.states(), ref.states())
