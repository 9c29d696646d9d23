"""Fresh networks never keep their step-0 weights; fine-tuning may keep the weights it started from."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from upgan.training import SlicePairs, StageConfig, TrainingMethod, train_stage
from upgan.training.history import select_best


class _Drift(TrainingMethod):
    """A 1x1 conv trained towards a target that is *worse* than the initial weights: every update
    raises the validation error, so only the step-0 weights are best."""

    def __init__(self) -> None:
        self.net = nn.Conv2d(1, 1, 1, bias=False)
        nn.init.ones_(self.net.weight)  # the identity: perfect on targets == inputs

    def generator_modules(self) -> list[nn.Module]:
        return [self.net]

    def discriminator_modules(self) -> list[nn.Module]:
        return []

    def generator_loss(self, inputs: Tensor, targets: Tensor):
        return (self.net(inputs) - 0.5 * targets).abs().mean(), {}, None

    def discriminator_loss(self, inputs: Tensor, targets: Tensor, fake):
        raise AssertionError("no discriminator")

    def predict(self, inputs: Tensor) -> Tensor:
        return self.net(inputs)


def _data() -> SlicePairs:
    x = torch.rand(16, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    return SlicePairs(x, x.clone())


def test_select_best_skips_step_zero_unless_allowed():
    records = [{"step": 0, "val_mae": 0.1}, {"step": 5, "val_mae": 0.3}, {"step": 10, "val_mae": 0.2}]
    assert select_best(records, keep_initial=True) == 0
    assert select_best(records, keep_initial=False) == 10
    assert select_best(records[:1], keep_initial=False) == 0  # nothing else to choose


def test_fresh_stage_keeps_a_trained_step_fine_tuning_may_keep_its_start():
    for keep_initial, expected in ((False, None), (True, 0)):
        method = _Drift()
        config = StageConfig(name="drift", steps=6, batch_size=4, lr_generator=0.05, lr_discriminator=0.05,
                             cosine=False, device="cpu", val_every=2, keep_initial=keep_initial)
        history = train_stage(method, _data(), _data(), config, progress=False)
        maes = {int(r["step"]): r["val_mae"] for r in history}
        assert maes[0] < min(v for s, v in maes.items() if s > 0)  # the start really is best
        if expected is None:
            trained = {s: v for s, v in maes.items() if s > 0}
            assert history.selected_step == min(trained, key=trained.get)
            assert not torch.equal(method.net.weight, torch.ones_like(method.net.weight))
        else:
            assert history.selected_step == 0
            assert torch.equal(method.net.weight, torch.ones_like(method.net.weight))
