"""mmcrl.optim.Adam against torch.optim.Adam: the same parameters step by step, and an exact resume."""

import torch

from mmcrl.optim import Adam


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3), torch.nn.Linear(3, 2))


def _loss(model: torch.nn.Module, step: int, skip_last: bool) -> torch.Tensor:
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(step))
    hidden = model[2](model[1](model[0](x)))
    return hidden.pow(2).mean() if skip_last else model[3](hidden).pow(2).mean()


def test_adam_matches_torch_including_steps_where_a_parameter_gets_no_gradient():
    ours, reference = _model(), _model()
    ours_optimizer = Adam(ours.parameters(), lr=0.01)
    torch_optimizer = torch.optim.Adam(reference.parameters(), lr=0.01)
    for step in range(30):
        lr = 0.01 * (1 + step % 3)  # a schedule, as in training
        ours_optimizer.lr = lr
        for group in torch_optimizer.param_groups:
            group["lr"] = lr
        skip_last = step % 4 == 1  # the last layer gets no gradient at these steps
        for model, optimizer in ((ours, ours_optimizer), (reference, torch_optimizer)):
            optimizer.zero_grad()
            _loss(model, step, skip_last).backward()
            optimizer.step()
    for (name, value), expected in zip(ours.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-7, msg=name)
    assert not torch.equal(ours[3].weight, _model()[3].weight)  # the layer with intermittent gradients did move


def test_state_dict_resumes_exactly():
    straight, resumed = _model(), _model()
    straight_optimizer = Adam(straight.parameters(), lr=0.01)
    for step in range(10):
        straight_optimizer.zero_grad()
        _loss(straight, step, False).backward()
        straight_optimizer.step()
        if step == 4:
            resumed.load_state_dict(straight.state_dict())
            state = straight_optimizer.state_dict()
    resumed_optimizer = Adam(resumed.parameters(), lr=0.5)
    resumed_optimizer.load_state_dict(state)
    for step in range(5, 10):
        resumed_optimizer.zero_grad()
        _loss(resumed, step, False).backward()
        resumed_optimizer.step()
    for value, expected in zip(resumed.parameters(), straight.parameters(), strict=True):
        torch.testing.assert_close(value, expected, rtol=0, atol=0)
