"""A Vision Transformer for small images, shared by the plugins that need one (MAE; 1p-frac later).

Pre-norm blocks (LayerNorm -> multi-head self-attention -> residual, LayerNorm -> GELU MLP ->
residual), a class token, fixed 2-D sine-cosine position embeddings (as MAE), a final LayerNorm.
Tokens are (B, 1 + L, D): the class token first, then the L = (H/p) * (W/p) patches in raster order.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"ViT: dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, h, N, d/h)
        out = nn.functional.scaled_dot_product_attention(q, k, v)  # (B, h, N, d/h)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero the residual branch of each sample with probability ``rate`` (global
    RNG, seeded by the host), scaling the kept ones by 1 / (1 - rate), in training mode only."""
    if not rate or not training:
        return x
    keep = torch.rand(x.shape[0], *(1,) * (x.ndim - 1), device=x.device) >= rate
    return x * keep.to(x.dtype) / (1 - rate)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.drop_path = 0.0  # stochastic-depth rate of both residual branches (fine-tuning only)
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


def sincos_2d(dim: int, grid_h: int, grid_w: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine embeddings (grid_h * grid_w, dim): half the channels encode the row,
    half the column, each as sin/cos of the position at geometric frequencies 1 / 10000^(i / (dim/4))."""
    if dim % 4:
        raise ValueError(f"ViT: dim {dim} must be divisible by 4 for 2-D sine-cosine position embeddings")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    rows, cols = torch.meshgrid(
        torch.arange(grid_h, dtype=torch.float64), torch.arange(grid_w, dtype=torch.float64), indexing="ij"
    )

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.reshape(-1)[:, None] * omega[None, :]  # (L, dim/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (L, dim/2)

    return torch.cat([encode(rows), encode(cols)], dim=1).float()  # (L, dim)


def init_weights(module: nn.Module) -> None:
    """MAE's initialisation: Xavier-uniform linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class ViTEncoder(nn.Module):
    """Images (B, C, H, W) -> features (B, dim): the class token (``pool="cls"``) or the mean of the
    patch tokens (``pool="mean"``) after the final LayerNorm. ``tokens`` exposes the sequence."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        patch_size: int,
        dim: int,
        depth: int,
        heads: int,
        pool: str = "cls",
        mlp_ratio: float = 4.0,
    ):
        super().__init__()
        channels, height, width = image_shape
        if height % patch_size or width % patch_size:
            raise ValueError(f"ViT: image size {height}x{width} is not divisible by patch_size {patch_size}")
        if pool not in ("cls", "mean"):
            raise ValueError(f"ViT: pool must be 'cls' or 'mean', got {pool!r}")
        self.patch_size, self.pool = patch_size, pool
        self.grid = (height // patch_size, width // patch_size)
        self.patch_embed = nn.Conv2d(channels, dim, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos_embed", sincos_2d(dim, *self.grid)[None], persistent=False)  # (1, L, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.apply(init_weights)
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Patch embeddings plus positions, no class token: (B, L, dim)."""
        return self.patch_embed(images).flatten(2).transpose(1, 2) + self.pos_embed

    def tokens(self, patches: torch.Tensor) -> torch.Tensor:
        """Embedded patches (B, L', dim) -> normalised tokens (B, 1 + L', dim), class token first."""
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        x = torch.cat([cls, patches], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    # The host's optional encoder interface for fine-tuning (bench.protocols.finetune):
    def no_weight_decay(self) -> set[str]:
        """Parameters never decayed besides the 1-D ones (timm's convention; the position
        embeddings are a fixed buffer here)."""
        return {"cls_token"}

    def layer_groups(self) -> list[list[str]]:
        """Parameter names by depth for layer-wise LR decay: the embeddings, then each block; the
        final norm (and the host's head) sit above them (MAE's util/lr_decay.py)."""
        names = [n for n, _ in self.named_parameters()]
        embed = [n for n in names if n.startswith("patch_embed.") or n == "cls_token"]
        return [embed] + [[n for n in names if n.startswith(f"blocks.{i}.")] for i in range(len(self.blocks))]

    def set_drop_path(self, rate: float) -> None:
        """Stochastic depth rising linearly from 0 at the first block to ``rate`` at the last (timm)."""
        for i, block in enumerate(self.blocks):
            block.drop_path = rate * i / max(1, len(self.blocks) - 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.tokens(self.embed(images))  # (B, 1 + L, dim): every patch, no masking
        return x[:, 0] if self.pool == "cls" else x[:, 1:].mean(1)


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p * p * C), patches in raster order, pixels (row, col, channel)."""
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


def param_groups(model: nn.Module, weight_decay: float, skip: tuple[str, ...] = ()) -> list[dict]:
    """No weight decay on biases and norms (1-D parameters), as MAE's optimiser, nor on the
    parameters whose names end with one of ``skip`` (timm's ``no_weight_decay``, e.g. "cls_token")."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 or name.endswith(".bias") or name.endswith(skip) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then half-cosine to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
