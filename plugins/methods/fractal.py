"""Fractals from iterated function systems (IFS), rendered by the chaos game on the device.

Systems are sampled as Anderson & Farrell's sampler (WACV 2022, which the 1p-frac code uses); the
chaos game's points come from a parallel prefix scan of the map compositions (no Python loop over
points or images); rendering follows the 1p-frac code's ``draw_patch``. The sampler, the scan and
the renderer's correspondence to the official code are in docs/METHODS.md#1p-frac.
"""

from __future__ import annotations

import math

import torch

#: Value of a set pixel (the official renderer pastes gray 127 patches on black).
GRAY = 127
#: The pasted patch is PATCH x PATCH pixels, its top-left corner one pixel past the point.
PATCH = 3


def sample_singular_values(n: int, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """(n, 2) singular values, s1 >= s2 in [0, 1] per map, with sum_j (s1_j + 2 s2_j) = sigma.

    Each of the first n - 1 pairs is drawn uniformly within what still leaves the remaining pairs
    able to reach sigma; the last pair takes what is left (Anderson & Farrell's sampler).
    """
    if not 0 < sigma < 3 * n:
        raise ValueError(f"fractal: sigma must be in (0, {3 * n}) for {n} maps, got {sigma}")

    def uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * torch.rand((), generator=generator, dtype=torch.float64).item()

    out = torch.empty(n, 2, dtype=torch.float64)
    p, q = sigma, sigma - 3 * n + 3  # what is left to reach sigma; the least this pair must take
    for i in range(n - 1):
        s1 = uniform(max(0.0, q / 3), min(1.0, p))
        q, p = q - s1, p - s1
        s2 = uniform(max(0.0, q / 2), min(s1, p / 2))
        q, p = q - 2 * s2 + 3, p - 2 * s2
        out[i] = torch.tensor([s1, s2], dtype=torch.float64)
    s2 = uniform(max(0.0, (p - 1) / 2), p / 3)
    out[n - 1] = torch.tensor([p - 2 * s2, s2], dtype=torch.float64)
    return out


def _rotation_reflection(count: int, generator: torch.Generator) -> torch.Tensor:
    """(count, 2, 2) random rotations times random axis reflections diag(+-1, +-1)."""
    angle = (torch.rand(count, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
    signs = torch.where(torch.rand(count, 2, generator=generator, dtype=torch.float64) < 0.5, -1.0, 1.0)
    cos, sin = angle.cos(), angle.sin()
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (count, 2, 2)
    return rotation * signs[:, None, :]  # rotation @ diag(signs)


def sample_system(
    n_maps: int, sigma: float, generator: torch.Generator, margin: float = 0.1
) -> tuple[torch.Tensor, float]:
    """One random IFS: (maps (n_maps, 2, 3) float64 on the CPU, the sigma-factor drawn).

    The sigma-factor is drawn from U(sigma - margin, sigma + margin) (the 1p-frac code's margin 0.1).
    """
    drawn = sigma + margin * (2 * torch.rand((), generator=generator, dtype=torch.float64).item() - 1)
    uv = _rotation_reflection(2 * n_maps, generator)
    u, v = uv[:n_maps], uv[n_maps:]
    s = sample_singular_values(n_maps, drawn, generator)  # (N, 2)
    maps = torch.empty(n_maps, 2, 3, dtype=torch.float64)
    maps[:, :, :2] = (u * s[:, None, :]) @ v  # U diag(s) V
    maps[:, :, 2] = torch.rand(n_maps, 2, generator=generator, dtype=torch.float64) * 2 - 1
    return maps, drawn


def map_probabilities(maps: torch.Tensor) -> torch.Tensor:
    """(..., N) probabilities of the maps (..., N, 2, 3): proportional to |det A_j|."""
    det = (maps[..., 0, 0] * maps[..., 1, 1] - maps[..., 0, 1] * maps[..., 1, 0]).abs()
    return det / det.sum(-1, keepdim=True)


def perturb(maps: torch.Tensor, copies: int, delta: float, generator: torch.Generator) -> torch.Tensor:
    """(copies, N, 2, 3): each of the six parameters of each map times its own U(1 - delta, 1 + delta)
    (the 1p-frac code's local perturbation). delta = 0 returns exact copies."""
    if delta < 0:
        raise ValueError(f"fractal: delta must be >= 0, got {delta}")
    noise = 1 + delta * (2 * torch.rand(copies, *maps.shape, generator=generator, dtype=maps.dtype) - 1)
    return maps[None] * noise


def _compose(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """outer o inner for affine maps stored as (..., 6) = (a, b, c, d, e, f): p -> [[a, b], [c, d]] p + (e, f)."""
    a2, b2, c2, d2, e2, f2 = outer.unbind(-1)
    a1, b1, c1, d1, e1, f1 = inner.unbind(-1)
    return torch.stack(
        [
            a2 * a1 + b2 * c1,
            a2 * b1 + b2 * d1,
            c2 * a1 + d2 * c1,
            c2 * b1 + d2 * d1,
            a2 * e1 + b2 * f1 + e2,
            c2 * e1 + d2 * f1 + f2,
        ],
        -1,
    )


def prefix_compositions(steps: torch.Tensor) -> torch.Tensor:
    """(B, C, 6) maps applied at steps 0..C-1 -> (B, C, 6) with entry t = step_t o ... o step_0
    (Hillis-Steele scan: after the round with offset s, entry t covers steps max(0, t - 2s + 1)..t)."""
    offset = 1
    while offset < steps.shape[1]:
        steps = torch.cat([steps[:, :offset], _compose(steps[:, offset:], steps[:, :-offset])], dim=1)
        offset *= 2
    return steps


def _map_uniforms(points: int, seed: int, device: torch.device) -> torch.Tensor:
    """The uniforms that pick the maps (points - 1,), from ``seed``."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return torch.rand(points - 1, generator=generator, device=device)


def chaos_game(
    maps: torch.Tensor, probs: torch.Tensor, points: int, seed: int = 100, chunk: int = 1024
) -> torch.Tensor:
    """(B, points, 2) float32 chaos-game points of B systems (B, N, 2, 3) with map probabilities
    (B, N), on the maps' device; point 0 is the origin. Step t uses map j for the first j whose
    cumulative probability reaches the step's uniform, one uniform per step shared by all images."""
    device = maps.device
    b, n = maps.shape[:2]
    uniforms = _map_uniforms(points, seed, device)
    cdf = probs.to(device, torch.float32).cumsum(-1)  # (B, N)
    choice = torch.searchsorted(cdf.contiguous(), uniforms.expand(b, -1).contiguous()).clamp_max(n - 1)  # (B, T-1)
    flat = torch.cat([maps[..., 0, :2], maps[..., 1, :2], maps[..., :, 2]], -1).to(
        torch.float32
    )  # (B, N, 6) a b c d e f
    out = torch.empty(b, points, 2, device=device)
    out[:, 0] = 0.0
    carry = torch.zeros(b, 2, device=device)
    for start in range(0, points - 1, chunk):
        index = choice[:, start : start + chunk]  # (B, C)
        steps = torch.gather(flat, 1, index[..., None].expand(-1, -1, 6))  # (B, C, 6)
        prefix = prefix_compositions(steps)
        a, bb, c, d, e, f = prefix.unbind(-1)
        x, y = carry[:, 0:1], carry[:, 1:2]
        chunk_points = torch.stack([a * x + bb * y + e, c * x + d * y + f], -1)  # (B, C, 2)
        out[:, 1 + start : 1 + start + index.shape[1]] = chunk_points
        carry = chunk_points[:, -1]
    return out


def pixel_coordinates(points: torch.Tensor, size: int, pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer (x, y) in [pad, size - pad] of points (B, T, 2), min-max scaled per image and axis
    over its finite points, and the mask of finite points (B, T)."""
    valid = torch.isfinite(points).all(-1)  # (B, T)
    big = torch.finfo(points.dtype).max
    lo = torch.where(valid[..., None], points, big).amin(1, keepdim=True)  # (B, 1, 2)
    hi = torch.where(valid[..., None], points, -big).amax(1, keepdim=True)
    span = (hi - lo).clamp_min(1e-12)
    scaled = ((points - lo) / span).clamp(0, 1).nan_to_num(0.0)
    pixels = (scaled * (size - 2 * pad) + pad).floor().long()
    return pixels[..., 0], pixels[..., 1], valid


def rasterize(
    points: torch.Tensor, masks: torch.Tensor, size: int, pad: int, max_elements: int = 1 << 24
) -> torch.Tensor:
    """uint8 (B, 1, size, size) pictures of points (B, T, 2) with patch masks (B, T) in 1..511: each
    point pastes its 3x3 patch over what is under it in point order (the last point wins). Points
    are pasted in chunks of at most ``max_elements`` (image, point, cell) triples."""
    if pad < PATCH + 1:
        raise ValueError(
            f"fractal: pad must be at least {PATCH + 1} pixels so that the {PATCH}x{PATCH} patches fit, got {pad}"
        )
    b, t = points.shape[:2]
    device = points.device
    x, y, valid = pixel_coordinates(points, size, pad)
    corner = (y + 1) * size + (x + 1)  # (B, T) patch's top-left pixel
    cells = PATCH * PATCH
    cell = torch.arange(cells, device=device)
    offset = (cell // PATCH) * size + cell % PATCH  # (9,) pixel offsets in the patch
    last = torch.full((b, size * size), -1, dtype=torch.long, device=device)  # last (point, cell) per pixel
    chunk = max(1, max_elements // (b * cells))
    for start in range(0, t, chunk):
        stop = min(t, start + chunk)
        pixel = corner[:, start:stop, None] + offset  # (B, c, 9)
        key = torch.arange(start * cells, stop * cells, device=device).view(1, -1, cells)  # point * 9 + cell
        key = torch.where(valid[:, start:stop, None], key, -1)  # (B, c, 9)
        last.scatter_reduce_(1, pixel.view(b, -1), key.view(b, -1), reduce="amax")
    point, cell = last.clamp_min(0) // cells, last.clamp_min(0) % cells
    bit = (masks.gather(1, point).long() >> (cells - 1 - cell)) & 1  # mask '{:09b}': cell 0 is the top bit
    image = torch.where(last >= 0, bit * GRAY, 0).to(torch.uint8).view(b, 1, size, size)
    return image.flip(-2)  # y up


def render(
    maps: torch.Tensor,
    probs: torch.Tensor,
    *,
    size: int,
    points: int,
    pad: int = 6,
    seed: int = 100,
    device: torch.device | str = "cpu",
    mask_generator: torch.Generator | None = None,
    max_points_per_batch: int = 1 << 24,
) -> torch.Tensor:
    """uint8 (B, 1, size, size) pictures of B systems (B, N, 2, 3) with map probabilities (B, N),
    rendered on ``device`` in batches of images holding at most ``max_points_per_batch`` points.
    The patch masks come from ``mask_generator`` (a generator on ``device``; when None, one seeded
    with ``seed``), a fresh mask per point and image."""
    if points < 2:
        raise ValueError(f"fractal: points must be at least 2, got {points}")
    device = torch.device(device)
    if mask_generator is None:
        mask_generator = torch.Generator(device=device).manual_seed(seed)
    per_batch = max(1, max_points_per_batch // points)
    out = []
    for start in range(0, maps.shape[0], per_batch):
        batch = maps[start : start + per_batch].to(device)
        pts = chaos_game(batch, probs[start : start + per_batch].to(device), points, seed)
        masks = torch.randint(1, 512, (len(batch), points), generator=mask_generator, device=device, dtype=torch.int16)
        out.append(rasterize(pts, masks, size, pad))
    return torch.cat(out)


def fill_rate(images: torch.Tensor) -> torch.Tensor:
    """(B,) fraction of set pixels of uint8 pictures (B, C, H, W) (the 1p-frac code rejects a render
    below 5%)."""
    return (images > 1).flatten(1).float().mean(1)
