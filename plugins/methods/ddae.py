"""DDAE: denoising diffusion autoencoders (Xiang et al., "Denoising Diffusion Autoencoders are
Unified Self-supervised Learners", ICCV 2023), with the DDPM UNet and schedule.

Plain DDPM pre-training; the EMA network, given the clean image noised to ``timestep``, is read at
one decoder block, averaged over space. The full-budget defaults are the official run's effective
4-GPU recipe; the settings, the published numbers (``PUBLISHED``: which checkpoint each is) and the
warm-up deviation are in docs/METHODS.md#ddae.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench import Augment, Param, PretrainData, Published, RepresentationLearner, RunContext, hookimpl, param_defaults
from bench_plugins.methods.official_probes import OFFICIAL_PROBES


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels)


class TimeEmbedding(nn.Module):
    """Sinusoidal embedding of the scalar time (t / T here) followed by a 2-layer SiLU MLP."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.mlp = nn.Sequential(nn.Linear(channels // 4, channels), nn.SiLU(), nn.Linear(channels, channels))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.channels // 8
        freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / (half - 1))
        angles = t.float()[:, None] * freqs[None]  # (B, half)
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=1))  # (B, channels)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv, + time embedding, GroupNorm-SiLU-dropout-conv, + (1x1) shortcut;
    optionally followed by single-head self-attention."""

    def __init__(self, cin: int, cout: int, time_channels: int, dropout: float, attention: bool):
        super().__init__()
        self.in_layers = nn.Sequential(norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.time = nn.Sequential(nn.SiLU(), nn.Linear(time_channels, cout))
        self.out_layers = nn.Sequential(norm(cout), nn.SiLU(), nn.Dropout(dropout), nn.Conv2d(cout, cout, 3, padding=1))
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.attention = Attention(cout) if attention else None

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x) + self.time(t)[:, :, None, None]
        x = self.out_layers(h) + self.shortcut(x)
        return self.attention(x) if self.attention is not None else x


class Attention(nn.Module):
    """Single-head self-attention over positions (d_k = channels), with a residual."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = norm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        q, k, v = self.qkv(seq)[:, None].chunk(3, dim=-1)  # 3 x (B, 1, HW, C)
        out = nn.functional.scaled_dot_product_attention(q, k, v)[:, 0]  # (B, HW, C)
        return x + self.out(out).transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """The DDPM UNet: eps prediction (B, C, H, W) from x_t and t / T (B,).

    ``levels`` resolutions with ``n_channels * ch_mults[i]`` channels; ``n_blocks`` residual blocks
    per level going down (strided-conv downsampling between levels), a middle block (res, attention,
    res), ``n_blocks + 1`` blocks per level going up, each taking the matching skip activation
    (nearest upsampling + conv between levels). Up-path blocks are named ``out_1``, ``out_2``, ...
    """

    def __init__(self, image_shape, n_channels: int, ch_mults, attention_levels, n_blocks: int, dropout: float):
        super().__init__()
        channels, height, width = image_shape
        factor = 2 ** (len(ch_mults) - 1)
        if height % factor or width % factor:
            raise ValueError(
                f"DDAE UNet: image size {height}x{width} must be divisible by {factor} "
                f"for {len(ch_mults)} levels (ch_mults {list(ch_mults)}); use fewer levels"
            )
        if n_channels % 32:
            raise ValueError(
                f"DDAE UNet: n_channels must be a multiple of 32 (GroupNorm with 32 groups), got {n_channels}"
            )
        tc = 4 * n_channels
        self.time = TimeEmbedding(tc)
        self.image_proj = nn.Conv2d(channels, n_channels, 3, padding=1)
        self.down = nn.ModuleList()
        skips, cin = [n_channels], n_channels
        for i, mult in enumerate(ch_mults):
            cout = n_channels * mult
            for _ in range(n_blocks):
                self.down.append(ResBlock(cin, cout, tc, dropout, i in attention_levels))
                skips.append(cout)
                cin = cout
            if i < len(ch_mults) - 1:
                self.down.append(nn.Conv2d(cout, cout, 3, stride=2, padding=1))
                skips.append(cout)
        self.middle = nn.ModuleList([ResBlock(cin, cin, tc, dropout, True), ResBlock(cin, cin, tc, dropout, False)])
        self.up = nn.ModuleList()
        self.block_names: list[str] = []
        for i in reversed(range(len(ch_mults))):
            cout = n_channels * ch_mults[i]
            for _ in range(n_blocks + 1):
                self.up.append(ResBlock(cin + skips.pop(), cout, tc, dropout, i in attention_levels))
                self.block_names.append(f"out_{len(self.block_names) + 1}")
                cin = cout
            if i > 0:
                self.up.append(
                    nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cout, cout, 3, padding=1))
                )
        self.final = nn.Sequential(nn.GroupNorm(8, cin), nn.SiLU(), nn.Conv2d(cin, channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, stop_at: str | None = None) -> torch.Tensor:
        """eps (B, C, H, W); with ``stop_at`` the activation (B, c, h, w) of that up-path block."""
        if stop_at is not None:
            return self.activations(x, t, {stop_at})[stop_at]
        return self._run(x, t, set())[1]

    def activations(self, x: torch.Tensor, t: torch.Tensor, names: set[str]) -> dict[str, torch.Tensor]:
        """The activations of the up-path blocks ``names`` from one pass, stopping at the last."""
        unknown = set(names) - set(self.block_names)
        if unknown:
            raise ValueError(f"DDAE: unknown block {sorted(unknown)[0]!r}; this UNet has {', '.join(self.block_names)}")
        return self._run(x, t, set(names))[0]

    def _run(self, x: torch.Tensor, t: torch.Tensor, names: set[str]):
        temb = self.time(t)
        x = self.image_proj(x)
        skips = [x]
        for m in self.down:
            x = m(x, temb) if isinstance(m, ResBlock) else m(x)
            skips.append(x)
        x = self.middle[1](self.middle[0](x, temb), temb)
        found, named = {}, 0
        for m in self.up:
            if isinstance(m, ResBlock):
                x = m(torch.cat([x, skips.pop()], dim=1), temb)
                named += 1
                if f"out_{named}" in names:
                    found[f"out_{named}"] = x
                    if len(found) == len(names):
                        return found, None
            else:
                x = m(x)
        return found, self.final(x)


def linear_schedule(steps: int, beta_1: float, beta_T: float) -> tuple[torch.Tensor, torch.Tensor]:
    """sqrt(abar_t) and sqrt(1 - abar_t) for t = 0..T (index t; t = 0 is the clean image)."""
    betas = torch.cat([torch.zeros(1, dtype=torch.float64), torch.linspace(beta_1, beta_T, steps, dtype=torch.float64)])
    abar = torch.cumprod(1 - betas, dim=0)
    return abar.sqrt().float(), (1 - abar).sqrt().float()


class DDAEEncoder(nn.Module):
    """Normalised images (B, C, H, W) -> features (B, c): noise to ``timestep``, run the UNet to
    ``block``, average over space. Noise is drawn from the global generator (seeded by the host).
    Holds the host normalisation to map images back to [-1, 1], the DDPM input range."""

    def __init__(self, unet: UNet, timestep: int, block: str, steps: int, betas, mean, std):
        super().__init__()
        if not 0 <= timestep <= steps:
            raise ValueError(f"DDAE: timestep must be in 0..{steps}, got {timestep}")
        if block not in unet.block_names:
            raise ValueError(f"DDAE: unknown block {block!r}; this UNet has {', '.join(unet.block_names)}")
        self.unet, self.timestep, self.block, self.steps = unet, timestep, block, steps
        sqrt_abar, sqrt_one_minus = linear_schedule(steps, *betas)
        self.register_buffer("sqrt_abar", sqrt_abar, persistent=False)
        self.register_buffer("sqrt_one_minus", sqrt_one_minus, persistent=False)
        self.register_buffer("mean", torch.tensor(mean)[None, :, None, None], persistent=False)
        self.register_buffer("std", torch.tensor(std)[None, :, None, None], persistent=False)

    def to_unit_range(self, images: torch.Tensor) -> torch.Tensor:
        """Host-normalised images -> [-1, 1]."""
        return (images * self.std + self.mean) * 2 - 1

    def noised(self, x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.sqrt_abar[t, None, None, None] * x + self.sqrt_one_minus[t, None, None, None] * noise

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.read_outs(images, [{}])[0]

    def read_outs(self, images: torch.Tensor, choices: list[dict]) -> list[torch.Tensor]:
        """Features (B, c) for each read-out in ``choices`` (dicts of ``timestep`` and/or ``block``;
        missing keys: this encoder's), as encoders built with them would give, from one noise draw
        and one UNet pass per timestep (as the official linear.py). The host's optional interface
        for probing many read-outs at once (bench.protocols.linear_probe)."""
        x = self.to_unit_range(images)
        wanted = [(c.get("timestep", self.timestep), c.get("block", self.block)) for c in choices]
        features = {}
        for timestep in dict.fromkeys(t for t, _ in wanted):
            if not 0 <= timestep <= self.steps:
                raise ValueError(f"DDAE: timestep must be in 0..{self.steps}, got {timestep}")
            t = torch.full((x.shape[0],), timestep, device=x.device, dtype=torch.long)
            x_t = self.noised(x, t, torch.randn_like(x))
            acts = self.unet.activations(x_t, t.float() / self.steps, {b for s, b in wanted if s == timestep})
            features.update({(timestep, b): a.float().mean(dim=(2, 3)) for b, a in acts.items()})  # (B, c)
        return [features[w] for w in wanted]


def build_encoder(image_shape, ctx: RunContext) -> DDAEEncoder:
    p = ctx.params
    unet = UNet(
        tuple(image_shape),
        p["n_channels"],
        tuple(p["ch_mults"]),
        tuple(p["attention_levels"]),
        p["n_blocks"],
        p["dropout"],
    )
    encoder = DDAEEncoder(
        unet, p["timestep"], p["block"], p["T"], (p["beta_1"], p["beta_T"]), ctx.normalize.mean, ctx.normalize.std
    )
    return encoder.to(ctx.device)


class EMA:
    """Exponential moving average of parameters with the warm-up of ema_pytorch (which the official
    code uses): decay = min(ema, 1 - (1 + step)^(-2/3)), so short runs are not frozen at init."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay, self.step = decay, 0
        self.shadow = [p.detach().clone() for p in model.parameters()]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.step += 1
        d = min(self.decay, 1 - (1 + self.step) ** (-2 / 3))
        torch._foreach_lerp_(self.shadow, [p.detach() for p in model.parameters()], 1 - d)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        for shadow, p in zip(self.shadow, model.parameters()):
            p.copy_(shadow)


def fit_ddae(data: PretrainData, ctx: RunContext) -> DDAEEncoder:
    p = ctx.params
    encoder = build_encoder(data.image_shape, ctx)
    unet = ctx.prepare(encoder.unet)
    ema = EMA(unet, p["ema"])
    batch_size = min(p["batch_size"], len(data))
    steps_per_epoch = math.ceil(len(data) / batch_size)
    total = max(1, round(ctx.budget.epochs * steps_per_epoch))  # fractional epochs allowed
    warmup = max(1, round(p["warmup_fraction"] * total))
    optimizer = torch.optim.Adam(unet.parameters(), lr=p["lr"])
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warmup, 1.0))
    augment = Augment(flip=p["flip"])
    steps, gen = p["T"], ctx.generator
    unet.train()
    step = 0
    for _ in ctx.epochs(math.ceil(total / steps_per_epoch)):
        for images in ctx.image_batches(data.images, batch_size, augment=augment):
            if step == total:
                break
            x = ctx.layout(encoder.to_unit_range(images))
            t = torch.randint(1, steps + 1, (x.shape[0],), device=x.device, generator=gen)
            noise = torch.randn(x.shape, device=x.device, generator=gen)
            with ctx.autocast():
                pred = unet(encoder.noised(x, t, noise), t.float() / steps)
            loss = nn.functional.mse_loss(pred.float(), noise)
            ctx.optimize(loss, optimizer, schedule, n=len(images), clip_grad_norm=1.0)
            ema.update(unet)
            step += 1
    ema.copy_to(unet)
    return encoder.eval()


#: Every hyper-parameter with its default and the values it allows (checked when a suite loads).
DECLARED_PARAMS = {
    "n_channels": Param(128, ge=1),
    "ch_mults": Param([1, 2, 2, 2], ge=1),
    "attention_levels": Param([1], ge=0),
    "n_blocks": Param(2, ge=1),
    "dropout": Param(0.1, ge=0, lt=1),
    "T": Param(1000, ge=1),
    "beta_1": Param(1e-4, gt=0, lt=1),
    "beta_T": Param(0.02, gt=0, lt=1),
    # the official run's effective batch and LR (128 and 1e-4 per GPU x 4 GPUs)
    "batch_size": Param(512, ge=1),
    "lr": Param(4e-4, gt=0),
    "warmup_fraction": Param(0.0065, ge=0, le=1),  # 13 of 2000 epochs
    "ema": Param(0.9999, ge=0, le=1),
    "flip": True,
    "timestep": Param(11, ge=0),
    "block": "out_6",  # the official best for DDPM on CIFAR-10
}
PARAMS = param_defaults(DECLARED_PARAMS)  # the defaults: what ctx.params holds unless a suite says otherwise


#: The official repository's DDPM_ddpm.yaml row (35.7M UNet, this architecture). The paper's 95.9%
#: is the EDM / DDPM++ (56.5M) setup with data augmentation, not this UNet: it is not declared here.
_OFFICIAL = (
    "FutureXiang/ddae README, DDPM_ddpm.yaml: pre-trained on 4 GPUs (effective batch 512, LR 4e-4, EMA 0.9999, "
    "flip); linear.py: t = 11, block out_6, features re-extracted at every step with fresh noise, flip + "
    "RandomCrop(32, pad 4), Adam LR 4e-3 at effective batch 512, 15 epochs, per-epoch cosine, no feature "
    "normalisation, all 50,000 training images"
)
PUBLISHED = (
    Published(
        "cifar10",
        "test_accuracy",
        90.05,
        protocol="linear-probe",
        setting="probe ddae-official",
        epoch=800,
        weights="pretrained",
        source="DDAE official repository, DDPM UNet 35.7M, best linear-probe checkpoint (docs/METHODS.md#ddae)",
        note="the epoch-800 checkpoint, chosen among checkpoints on test accuracy; " + _OFFICIAL,
    ),
    Published(
        "cifar10",
        "test_accuracy",
        88.23,
        protocol="linear-probe",
        setting="probe ddae-official",
        epoch=1999,
        weights="pretrained",
        source="DDAE official repository, DDPM UNet 35.7M, the last checkpoint (docs/METHODS.md#ddae)",
        note="the last checkpoint (epoch index 1999, counted from 0: after all 2000 epochs); " + _OFFICIAL,
    ),
)


def param_rules(p) -> str | None:
    """What :class:`UNet` and :class:`DDAEFeatures` would refuse at run time, said at load: a block
    the UNet has (``ch_mults`` levels x ``n_blocks + 1`` up blocks each) and a timestep up to T."""
    blocks = len(p["ch_mults"]) * (p["n_blocks"] + 1)
    if p["block"] not in {f"out_{i}" for i in range(1, blocks + 1)}:
        return f"block {p['block']!r} is not a block of this UNet; expected out_1 .. out_{blocks}"
    if not 0 <= p["timestep"] <= p["T"]:
        return f"timestep {p['timestep']} is past the diffusion's T = {p['T']}; expected 0 .. {p['T']}"
    return None


@hookimpl
def bench_register_methods(register):
    register(
        RepresentationLearner(
            name="ddae",
            pretrain=fit_ddae,
            check_params={
                "n_channels": 32,
                "ch_mults": [1, 2],
                "attention_levels": [1],
                "n_blocks": 1,
                "batch_size": 32,
                "block": "out_2",
            },
            build=build_encoder,
            budget={"epochs": 2000.0},  # a float: fractional epochs are allowed
            params=DECLARED_PARAMS,
            feature_params=("timestep", "block"),
            validate_params=param_rules,
            description="Denoising diffusion autoencoder: a DDPM UNet trained to predict noise "
            "(T = 1000, linear betas); features are spatially pooled activations of one decoder block "
            "at a small noise level.",
            citation="Xiang et al., Denoising Diffusion Autoencoders are Unified Self-supervised Learners, ICCV 2023",
            published=PUBLISHED,
            probes=OFFICIAL_PROBES,
        )
    )
