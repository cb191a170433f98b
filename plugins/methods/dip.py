"""Deep Image Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018) for denoising, SR and inpainting.

A randomly initialised encoder-decoder ``f(z; theta)`` is fitted to the degraded image alone by
minimising ``|| A(f(z)) - y ||^2`` with Adam, ``A`` being the host's degradation operator; the
network's structure is the prior and the number of iterations the regulariser. Each case runs its
official notebook's configuration (:data:`CONFIGURATIONS`, recorded per image). The settings, the
notebook cells they come from, the published numbers and the declared deviations are in
docs/METHODS.md#deep-image-prior.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from bench import Param, Problem, Published, RestoreContext, Restorer, hookimpl


def conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    """Reflection-padded convolution (the notebooks' ``pad='reflection'``)."""
    pad = (k - 1) // 2
    layers = [nn.ReflectionPad2d(pad)] if pad else []
    return nn.Sequential(*layers, nn.Conv2d(cin, cout, k, stride=stride, bias=True))


def bn_act(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.LeakyReLU(0.2, inplace=True)]


class SkipLevel(nn.Module):
    """One scale of the ``skip`` encoder-decoder (models/skip.py)::

        x -> [skip: conv1x1-BN-act] ----------------------------------------\\
          -> [down: convKd/2-BN-act, convKd-BN-act, deeper level, upsample] -> concat -> BN
          -> convKu-BN-act [-> conv1x1-BN-act if need1x1_up]
    """

    def __init__(
        self,
        cin: int,
        down: list[int],
        up: list[int],
        skip: list[int],
        upsample: str,
        filter_down: int = 3,
        filter_up: int = 3,
        need1x1_up: bool = True,
    ):
        super().__init__()
        d, u, s = down[0], up[0], skip[0]
        self.skip = nn.Sequential(conv(cin, s, 1), *bn_act(s)) if s else None
        deeper = [conv(cin, d, filter_down, stride=2), *bn_act(d), conv(d, d, filter_down), *bn_act(d)]
        if len(down) > 1:
            deeper.append(SkipLevel(d, down[1:], up[1:], skip[1:], upsample, filter_down, filter_up, need1x1_up))
            k = up[1]
        else:
            k = d
        self.deeper = nn.Sequential(*deeper)
        self.upsample = upsample
        self.merge_bn = nn.BatchNorm2d(s + k)
        after = [conv(s + k, u, filter_up), *bn_act(u)]
        if need1x1_up:
            after += [conv(u, u, 1), *bn_act(u)]
        self.after = nn.Sequential(*after)

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
    multiples of 2 ** scales. ``channels`` and ``skip``: one width for every scale or one per
    scale (then ``scales`` is their length); the up widths equal the down widths, as in every
    notebook configuration."""

    def __init__(
        self,
        input_depth: int,
        out_channels: int,
        channels: int | Sequence[int] = 128,
        skip: int | Sequence[int] = 4,
        scales: int = 5,
        upsample: str = "bilinear",
        filter_down: int = 3,
        filter_up: int = 3,
        need1x1_up: bool = True,
    ):
        super().__init__()
        down = [channels] * scales if isinstance(channels, int) else list(channels)
        skips = [skip] * len(down) if isinstance(skip, int) else list(skip)
        if len(skips) != len(down):
            raise ValueError(f"Skip: {len(down)} scales of channels but {len(skips)} skip widths")
        self.levels = SkipLevel(input_depth, down, down, skips, upsample, filter_down, filter_up, need1x1_up)
        self.head = conv(down[0], out_channels, 1)
        self.divisor = 2 ** len(down)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.levels(z)))


def _except_every_100th(i: int) -> bool:
    return i % 100 != 0  # denoising.ipynb:10: ``if i % show_every:`` (show_every = 100)


def _every_50th(i: int) -> bool:
    return i % 50 == 0  # restoration.ipynb:9: ``if PLOT and i % show_every == 0:`` (show_every = 50)


@dataclass(frozen=True)
class Configuration:
    """One notebook's settings (the table in docs/METHODS.md#deep-image-prior). ``iterations``
    names the budget key that holds its iteration count; ``backtrack`` says at which iterations the fit is
    checked (None: no backtracking)."""

    name: str
    source: str
    iterations: str
    lr: float = 0.01
    input: str = "noise"  # or "meshgrid" (2 channels)
    input_depth: int = 32
    channels: tuple[int, ...] = (128,) * 5
    skip: int = 4
    upsample: str = "bilinear"
    filter_down: int = 3
    filter_up: int = 3
    need1x1_up: bool = True
    reg_noise: float = 0.03
    param_noise: float = 0.0  # per iteration, in units of each conv weight's std
    average: bool = False
    backtrack: Callable[[int], bool] | None = None

    def describe(self) -> dict:
        """What the record says ran (the resolved values, after the params' overrides)."""
        return {
            "configuration": self.name,
            "source": self.source,
            "lr": self.lr,
            "iterations_key": self.iterations,
            "input": f"{self.input_depth}-channel {self.input}",
            "channels": list(self.channels),
            "skip_channels": self.skip,
            "filters": f"{self.filter_down}/{self.filter_up}",
            "upsample": self.upsample,
            "need1x1_up": self.need1x1_up,
            "reg_noise_std": self.reg_noise,
            "param_noise": self.param_noise,
        }


_DENOISE = Configuration(
    "denoise",
    "denoising.ipynb:8,10 (F16)",
    "denoise_iterations",
    reg_noise=1 / 30,
    average=True,
    backtrack=_except_every_100th,
)
CONFIGURATIONS = {
    "denoise": _DENOISE,
    "denoise-sigma50": replace(_DENOISE, name="denoise-sigma50", reg_noise=1 / 20),  # "1./20. for sigma=50"
    "sr": Configuration("sr", "super-resolution.ipynb:7,8 (x4)", "sr_iterations"),
    "sr-x8": Configuration("sr-x8", "super-resolution.ipynb:7,8 (x8)", "sr8_iterations", reg_noise=0.05),
    "random-pixel": Configuration(
        "random-pixel",
        "restoration.ipynb:5,7,9 (barbara, 50% random pixels)",
        "inpaint_iterations",
        lr=0.001,
        backtrack=_every_50th,
    ),
    "kate": Configuration(
        "kate", "inpainting.ipynb:14 (kate, peppers)", "inpaint_kate_iterations", skip=128, upsample="nearest"
    ),
    "vase": Configuration(
        "vase",
        "inpainting.ipynb:14 (vase)",
        "inpaint_vase_iterations",
        input="meshgrid",
        input_depth=2,
        skip=0,
        upsample="nearest",
    ),
    "library": Configuration(
        "library",
        "inpainting.ipynb:5,14,17 (library, NET_TYPE skip_depth6)",
        "inpaint_library_iterations",
        input_depth=1,
        channels=(16, 32, 64, 128, 128, 128),
        skip=0,
        upsample="nearest",
        filter_down=5,
        need1x1_up=False,
        reg_noise=0.0,
        param_noise=1 / 50,
    ),
}
INPAINT_SETTINGS = ("auto", "random-pixel", "kate", "vase", "library")


def configuration(problem: Problem, params) -> Configuration:
    """The notebook configuration for this case, with the params' overrides applied."""
    if problem.task == "denoise":
        config = CONFIGURATIONS["denoise-sigma50" if problem.sigma >= 50 else "denoise"]
    elif problem.task == "sr":
        config = CONFIGURATIONS["sr-x8" if problem.scale >= 8 else "sr"]
    else:
        name = params["inpaint_setting"]
        if name == "auto":
            if problem.mask_kind == "random":
                name = "random-pixel"
            else:  # the set's masks: the notebook written for this image, kate's for the others
                name = problem.name if problem.name in ("kate", "vase", "library") else "kate"
        config = CONFIGURATIONS[name]
    return _overridden(config, params, inpaint=problem.task == "inpaint")


def _overridden(config: Configuration, p, inpaint: bool) -> Configuration:
    """Params that are set (not their 'the configuration's' default) replace its values."""
    changes = {}
    scales = p["scales"] or len(config.channels)
    channels = [p["channels"]] * scales if p["channels"] else list(config.channels)
    channels = (channels + [channels[-1]] * scales)[:scales]  # a deeper net repeats the last width
    changes["channels"] = tuple(channels)
    skip = p["inpaint_skip_channels"] if inpaint else p["skip_channels"]
    if skip >= 0:
        changes["skip"] = skip
    if p["lr"] > 0:
        changes["lr"] = p["lr"]
    if p["input_depth"] and config.input == "noise":
        changes["input_depth"] = p["input_depth"]
    if p["reg_noise_std"] >= 0:
        changes["reg_noise"] = p["reg_noise_std"]
    if p["param_noise"] >= 0:
        changes["param_noise"] = p["param_noise"]
    return replace(config, **changes)


def meshgrid_input(height: int, width: int, canvas: tuple[int, int], offset: tuple[int, int]) -> torch.Tensor:
    """The notebooks' ``get_noise(2, 'meshgrid', ...)``: channel 0 = x / (W - 1), channel 1 =
    y / (H - 1), so the image's own pixels span 0..1; over a larger canvas (the image at
    ``offset``) the ramps extend linearly. (1, 2, canvas_h, canvas_w), float32."""
    ch, cw = canvas
    top, left = offset
    ys = (torch.arange(ch, dtype=torch.float64) - top) / max(height - 1, 1)
    xs = (torch.arange(cw, dtype=torch.float64) - left) / max(width - 1, 1)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x, y])[None].float()


def add_param_noise(net: nn.Module, scale: float, generator: torch.Generator) -> None:
    """Each conv weight (4-D) += N(0, 1) * std(weight) * scale, in place (why: the declared
    deviations in docs/METHODS.md#deep-image-prior)."""
    weights = [w for w in net.parameters() if w.dim() == 4]
    with torch.no_grad():
        noise = [torch.randn(w.shape, generator=generator, device=w.device, dtype=w.dtype) for w in weights]
        stds = [w.std() * scale for w in weights]  # device scalars: no sync
        torch._foreach_mul_(noise, stds)
        torch._foreach_add_(weights, noise)


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
    config = configuration(problem, p)
    iterations = ctx.budget[config.iterations]
    problem.info.update(config.describe())
    net = Skip(
        config.input_depth,
        channels,
        channels=config.channels,
        skip=config.skip,
        upsample=config.upsample,
        filter_down=config.filter_down,
        filter_up=config.filter_up,
        need1x1_up=config.need1x1_up,
    )
    model = ctx.prepare(net)
    # The canvas: sides rounded up to multiples of 2 ** scales, and large enough that the deepest
    # scale's reflection padding fits (library's 5x5 convs: at least 3 pixels there); the image is
    # its centre crop.
    div, least = net.divisor, (config.filter_down - 1) // 2 + 1
    ch, cw = (max(math.ceil(side / div), least) * div for side in (height, width))
    top, left = (ch - height) // 2, (cw - width) // 2
    if config.input == "meshgrid":
        z = meshgrid_input(height, width, (ch, cw), (top, left)).to(device)
    else:
        z = torch.rand((1, config.input_depth, ch, cw), generator=ctx.generator, device=device) * p["input_scale"]
    z = ctx.layout(z)
    target = problem.observed[None]  # (1, C, h, w)
    # capturable: Adam's step counter on the device, so backtracking can restore it without a sync.
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, capturable=device.type == "cuda")
    average = p["average"] == "always" or (p["average"] == "denoise" and config.average)
    ema = p["ema"] if p["ema"] >= 0 else min(0.99, max(0.0, 1 - 30 / max(iterations, 1)))
    checks = config.backtrack if p["backtrack"] else None
    backtrack = Backtracking(net, optimizer) if checks is not None else None
    reg_noise = config.reg_noise
    out_avg = None

    def crop(x: torch.Tensor) -> torch.Tensor:
        return x[..., top : top + height, left : left + width]

    net.train()
    for i in ctx.iterations(iterations):
        optimizer.zero_grad(set_to_none=True)
        if config.param_noise > 0:
            add_param_noise(net, config.param_noise, ctx.generator)
        noise = torch.randn(z.shape, generator=ctx.generator, device=device) * reg_noise if reg_noise > 0 else 0
        with ctx.autocast():
            out = crop(model(ctx.layout(z + noise)))  # (1, C, H, W)
        out = out.float()
        loss = F.mse_loss(problem.forward(out), target)
        loss.backward()
        collapsed = backtrack.check(loss) if backtrack is not None and checks(i) else None
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


#: The paper's text (CVPR 2018, section 3 "Super-resolution"; docs/METHODS.md#deep-image-prior).
PUBLISHED = tuple(
    Published(
        dataset,
        "psnr",
        value,
        setting="sr x4",
        protocol="restore",
        source="Ulyanov et al., Deep Image Prior, CVPR 2018, sec. 3 (super-resolution)",
        note="2000 iterations per image; PSNR on the Y channel inside DIP's 32-divisible output "
        "minus 4 pixels a side (super-resolution_eval_script.py); ours: the whole modcropped "
        f"image, Y, 4 pixels shaved. Bicubic in the same evaluation: {bicubic}",
    )
    for dataset, value, bicubic in (("set5", 29.90, 28.43), ("set14", 27.00, 26.05))
)


@hookimpl
def bench_register_methods(register):
    register(
        Restorer(
            name="dip",
            restore=restore_dip,
            restorations=("denoise", "sr", "inpaint"),
            check_params={"channels": 8, "scales": 2, "input_depth": 4, "skip_channels": 2, "inpaint_skip_channels": 4},
            published=PUBLISHED,
            budget={
                "denoise_iterations": 3000,
                "sr_iterations": 2000,
                "sr8_iterations": 4000,
                "inpaint_iterations": 11000,  # random-pixel masks (restoration.ipynb)
                "inpaint_kate_iterations": 6001,
                "inpaint_vase_iterations": 5001,
                "inpaint_library_iterations": 3001,
            },
            params={
                "inpaint_setting": Param(
                    "auto",
                    choices=INPAINT_SETTINGS,
                    help="inpainting notebook configuration; auto: random-pixel for random masks, "
                    "else the one named after the image (kate's for others)",
                ),
                "lr": Param(-1.0, help="Adam learning rate; <= 0: the configuration's (0.01; random-pixel 0.001)"),
                "input_depth": Param(0, ge=0, help="noise input channels; 0: the configuration's (32; library 1)"),
                "input_scale": Param(0.1, ge=0),
                "channels": Param(0, ge=0, help="width of every scale; 0: the configuration's (128; library 16..128)"),
                "scales": Param(0, ge=0, help="scales of the net; 0: the configuration's (5; library 6)"),
                "skip_channels": Param(-1, ge=-1, help="denoise/SR skip channels; -1: the configuration's (4)"),
                "inpaint_skip_channels": Param(
                    -1, ge=-1, help="inpainting skip channels; -1: the configuration's (4 / 128 / 0 / 0)"
                ),
                "reg_noise_std": -1.0,  # < 0: the configuration's input-noise std (table above)
                "param_noise": Param(-1.0, help="per-iteration weight noise / weight std; < 0: the configuration's"),
                "average": Param(
                    "denoise",
                    choices=("denoise", "always", "never"),
                    help="exponential output averaging: for denoising only, always or never",
                ),
                "ema": Param(-1.0, lt=1),  # < 0: 1 - 30 / iterations (0.99 at the full budget)
                "backtrack": True,
            },
            description="Deep Image Prior: the official 'skip' encoder-decoder fitted to the single "
            "degraded image through the host's operator, each case with its notebook's configuration "
            "(recorded per image). Budget: iterations per configuration (paper: denoise 3000, SR 2000 / "
            "4000, inpainting random-pixel 11000, kate 6001, vase 5001, library 3001).",
            citation="Ulyanov, Vedaldi, Lempitsky, Deep Image Prior, CVPR 2018",
        )
    )
