"""Deep Image Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018) for denoising, SR and inpainting.

A randomly initialised encoder-decoder ``f(z; theta)`` is fitted to the degraded image alone by
minimising ``|| A(f(z)) - y ||^2`` with Adam, where ``A`` is the host's degradation operator
(identity, MATLAB bicubic downscaling, or the inpainting mask) and ``z`` a fixed noise image;
the network's structure is the prior and the number of iterations the regulariser.
Settings of the official notebooks (github.com/DmitryUlyanov/deep-image-prior), the full budget:

| task      | net (``skip``)                                   | iterations | input-noise std      |
|-----------|--------------------------------------------------|------------|----------------------|
| denoise   | 5 scales x 128 ch, 4 skip ch, bilinear up        | 3000       | 1/30 (1/20 at s 50)  |
| sr x4/x8  | same                                             | 2000/4000  | 0.03 / 0.05          |
| inpaint   | 5 scales x 128 ch, 128 skip ch, nearest up       | 6001       | 0.03                 |

Common: z has 32 channels, uniform noise x 0.1, fixed; each iteration adds fresh Gaussian noise
of the input-noise std to it (regularisation); reflection padding, stride-2 downsampling convs,
BatchNorm, LeakyReLU(0.2), sigmoid output; Adam, lr 0.01. Denoising averages the outputs
(exponential moving average, 0.99) and falls back to the previous weights when the fit to the
noisy image drops by more than 5 dB (the notebook's backtracking).

Budget scaling: the average's window (1 / (1 - 0.99) = 100 iterations, a thirtieth of the 3000)
stays the same fraction of the run, ``ema = 1 - 30 / iterations`` (0.99 at the full budget, 0.9 at
300): at a tenth of the budget a 100-iteration window would still be averaging in the blurry
outputs of the first iterations. Set ``ema`` to a value in [0, 1) to fix it instead.

Our adaptation: images whose sides are not multiples of 32 are not cropped (the notebooks crop
them); the network generates a reflection-sized canvas (sides rounded up to multiples of 32)
and its centre crop is the image. SR uses the host's bicubic operator instead of the notebook's
Lanczos2 downsampler, so every method sees the same degradation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench import Param, Problem, RestoreContext, Restorer, hookimpl


def conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    """Reflection-padded convolution (the notebooks' ``pad='reflection'``)."""
    pad = (k - 1) // 2
    layers = [nn.ReflectionPad2d(pad)] if pad else []
    return nn.Sequential(*layers, nn.Conv2d(cin, cout, k, stride=stride, bias=True))


def bn_act(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.LeakyReLU(0.2, inplace=True)]


class SkipLevel(nn.Module):
    """One scale of the ``skip`` encoder-decoder::

        x -> [skip: conv1x1-BN-act] ----------------------------------------\\
          -> [down: conv3x3/2-BN-act, conv3x3-BN-act, deeper level, upsample] -> concat -> BN
          -> conv3x3-BN-act -> conv1x1-BN-act
    """

    def __init__(self, cin: int, down: list[int], up: list[int], skip: list[int], upsample: str):
        super().__init__()
        d, u, s = down[0], up[0], skip[0]
        self.skip = nn.Sequential(conv(cin, s, 1), *bn_act(s)) if s else None
        deeper = [conv(cin, d, 3, stride=2), *bn_act(d), conv(d, d, 3), *bn_act(d)]
        if len(down) > 1:
            deeper.append(SkipLevel(d, down[1:], up[1:], skip[1:], upsample))
            k = up[1]
        else:
            k = d
        self.deeper = nn.Sequential(*deeper)
        self.upsample = upsample
        self.merge_bn = nn.BatchNorm2d(s + k)
        self.after = nn.Sequential(conv(s + k, u, 3), *bn_act(u), conv(u, u, 1), *bn_act(u))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin, H, W)
        deep = self.deeper(x)  # (B, k, H/2, W/2)
        mode = self.upsample
        deep = F.interpolate(
            deep, scale_factor=2, mode=mode, **({"align_corners": False} if mode == "bilinear" else {})
        )
        if self.skip is not None:
            deep = torch.cat([self.skip(x), deep], dim=1)  # (B, s + k, H, W)
        return self.after(self.merge_bn(deep))  # (B, u, H, W)


class Skip(nn.Module):
    """The DIP ``skip`` network: (B, input_depth, H, W) -> (B, out, H, W) in (0, 1); H, W
    multiples of 2 ** scales."""

    def __init__(
        self,
        input_depth: int,
        out_channels: int,
        channels: int = 128,
        skip: int = 4,
        scales: int = 5,
        upsample: str = "bilinear",
    ):
        super().__init__()
        self.levels = SkipLevel(input_depth, [channels] * scales, [channels] * scales, [skip] * scales, upsample)
        self.head = conv(channels, out_channels, 1)
        self.divisor = 2**scales

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.levels(z)))


def paper_setting(problem: Problem, budget) -> tuple[int, float]:
    """(iterations, input-noise std) of the official notebooks for this task."""
    if problem.task == "denoise":
        return budget["denoise_iterations"], (1 / 20 if problem.sigma >= 50 else 1 / 30)
    if problem.task == "sr":
        if problem.scale >= 8:
            return budget["sr8_iterations"], 0.05
        return budget["sr_iterations"], 0.03
    return budget["inpaint_iterations"], 0.03


class Backtracking:
    """The notebook's backtracking, on the device: when the fit to the noisy image drops by more
    than 5 dB since the last good iteration, the network returns to that iteration's weights
    (and BatchNorm statistics) and the iteration's update is skipped (the optimizer's state
    too). A declared deviation, kept as the evident intent: denoising.ipynb restores the
    parameters only (not BatchNorm's buffers), then still lets Adam step with the collapsed
    iteration's gradient (its closure returns ``total_loss * 0`` after ``backward``), and the
    collapsed output has already entered its average; here neither the step nor the output counts. Decided without a host sync: the optimizer always steps and :meth:`undo_if_collapsed` blends
    the kept copies back in with weight 1 (collapsed) or 0 (not), which is exact either way."""

    def __init__(self, net: nn.Module, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.live = list(net.state_dict().values())
        self.good = [t.detach().clone() for t in self.live]  # the last good iteration
        self.fit = torch.full((), -math.inf, device=self.live[0].device)
        self.state: list[torch.Tensor] = []  # optimizer state before the step
        self.state_before: list[torch.Tensor] = []

    def check(self, loss: torch.Tensor) -> torch.Tensor:
        """Call after backward, before the step: whether this iteration collapsed (a device bool);
        snapshots the weights of a good iteration and the optimizer's state before its step."""
        fit = -10 * torch.log10(loss.detach())
        collapsed = fit - self.fit < -5
        self._keep = keep = collapsed.to(self.fit.dtype)
        self.fit = torch.where(collapsed, self.fit, fit)
        _blend(self.good, self.live, 1 - keep)  # good := live unless collapsed
        state = [
            v
            for s in self.optimizer.state.values()
            for v in s.values()
            if isinstance(v, torch.Tensor) and v.device == self.fit.device
        ]  # (MPS: the step count stays on the CPU)
        if len(state) != len(self.state):  # the first step creates it
            self.state, self.state_before = state, [v.clone() for v in state]
        elif state:
            torch._foreach_copy_(self.state_before, self.state)
        return collapsed

    def undo_if_collapsed(self) -> None:
        """Call after the step: if the iteration collapsed, back to the last good weights and
        to the optimizer's state before this step."""
        _blend(self.live, self.good, self._keep)
        if self.state:
            _blend(self.state, self.state_before, self._keep)


def _blend(into: list[torch.Tensor], source: list[torch.Tensor], weight: torch.Tensor) -> None:
    """into := source where the device scalar ``weight`` is 1, unchanged where 0 (lerp is exact at
    both ends). The weight goes in as a tensor list: a lone tensor would be read back as a Scalar."""
    floats = [(a, b) for a, b in zip(into, source) if a.is_floating_point()]
    if floats:
        torch._foreach_lerp_([a for a, _ in floats], [b for _, b in floats], [weight] * len(floats))
    for a, b in zip(into, source):
        if not a.is_floating_point():  # BatchNorm's batch counters
            a.copy_(torch.where(weight.bool(), b, a))


def restore_dip(problem: Problem, ctx: RestoreContext) -> torch.Tensor:
    p = ctx.params
    device = ctx.device
    channels, height, width = problem.output_shape
    iterations, reg_noise = paper_setting(problem, ctx.budget)
    if p["reg_noise_std"] >= 0:
        reg_noise = p["reg_noise_std"]
    inpaint = problem.task == "inpaint"
    net = Skip(
        p["input_depth"],
        channels,
        channels=p["channels"],
        skip=p["inpaint_skip_channels"] if inpaint else p["skip_channels"],
        scales=p["scales"],
        upsample="nearest" if inpaint else "bilinear",
    )
    model = ctx.prepare(net)
    # The canvas: sides rounded up to multiples of 2 ** scales; the image is its centre crop.
    div = net.divisor
    ch, cw = math.ceil(height / div) * div, math.ceil(width / div) * div
    top, left = (ch - height) // 2, (cw - width) // 2
    z = ctx.layout(torch.rand((1, p["input_depth"], ch, cw), generator=ctx.generator, device=device) * p["input_scale"])
    target = problem.observed[None]  # (1, C, h, w)
    # capturable: Adam's step counter on the device, so backtracking can restore it without a sync.
    optimizer = torch.optim.Adam(net.parameters(), lr=p["lr"], capturable=device.type == "cuda")
    average = p["average"] == "always" or (p["average"] == "denoise" and problem.task == "denoise")
    ema = p["ema"] if p["ema"] >= 0 else min(0.99, max(0.0, 1 - 30 / max(iterations, 1)))
    backtrack = Backtracking(net, optimizer) if problem.task == "denoise" and p["backtrack"] else None
    out_avg = None

    def crop(x: torch.Tensor) -> torch.Tensor:
        return x[..., top : top + height, left : left + width]

    net.train()
    for i in ctx.iterations(iterations):
        optimizer.zero_grad(set_to_none=True)
        noise = torch.randn(z.shape, generator=ctx.generator, device=device) * reg_noise if reg_noise > 0 else 0
        with ctx.autocast():
            out = crop(model(ctx.layout(z + noise)))  # (1, C, H, W)
        out = out.float()
        loss = F.mse_loss(problem.forward(out), target)
        loss.backward()
        collapsed = backtrack.check(loss) if backtrack is not None and i % 100 else None
        optimizer.step()
        if collapsed is not None:
            backtrack.undo_if_collapsed()
        ctx.step(loss)
        if average:
            new_avg = out.detach() if out_avg is None else out_avg * ema + out.detach() * (1 - ema)
            out_avg = new_avg if collapsed is None or out_avg is None else torch.where(collapsed, out_avg, new_avg)
        if ctx.should_monitor(i) and not (collapsed is not None and collapsed.item()):  # the monitor syncs anyway
            ctx.monitor(i, out[0])
            if average:
                ctx.monitor(i, out_avg[0], tag="avg")
    if average and out_avg is not None:
        return out_avg[0].clamp(0, 1)
    # One more forward pass on the fixed input, no added noise. A declared deviation: the SR and
    # inpainting notebooks take net(net_input) after the loop, net_input being the last
    # iteration's perturbed input (super-resolution.ipynb's closure reassigns the global).
    with torch.no_grad(), ctx.autocast():
        return crop(model(z))[0].float().clamp(0, 1)


@hookimpl
def bench_register_methods(register):
    register(
        Restorer(
            name="dip",
            restore=restore_dip,
            restorations=("denoise", "sr", "inpaint"),
            check_params={"channels": 8, "scales": 2, "input_depth": 4, "skip_channels": 2, "inpaint_skip_channels": 4},
            budget={
                "denoise_iterations": 3000,
                "sr_iterations": 2000,
                "sr8_iterations": 4000,
                "inpaint_iterations": 6001,
            },
            params={
                "lr": Param(0.01, gt=0),
                "input_depth": Param(32, ge=1),
                "input_scale": Param(0.1, ge=0),
                "channels": Param(128, ge=1),
                "scales": Param(5, ge=1),
                "skip_channels": Param(4, ge=0),
                "inpaint_skip_channels": Param(128, ge=0),
                "reg_noise_std": -1.0,  # < 0: the notebooks' value for the task (table above)
                "average": Param(
                    "denoise",
                    choices=("denoise", "always", "never"),
                    help="exponential output averaging: for denoising only, always or never",
                ),
                "ema": Param(-1.0, lt=1),  # < 0: 1 - 30 / iterations (0.99 at the full budget)
                "backtrack": True,
            },
            description="Deep Image Prior: the official 'skip' encoder-decoder fitted to the single "
            "degraded image through the host's operator (Adam 0.01, input-noise regularisation, "
            "output averaging for denoising). Budget: iterations per task (paper: 3000 / 2000 / 4000 / 6001).",
            citation="Ulyanov, Vedaldi, Lempitsky, Deep Image Prior, CVPR 2018",
        )
    )
