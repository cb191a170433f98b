"""Floors and a classical reference for single-image restoration.

- ``bicubic`` (SR): MATLAB bicubic upscaling of the LR image (the host's operator), the number
  every SR table starts from.
- ``degraded-input`` (denoising, inpainting): the degraded image itself, unchanged.
- ``bm3d`` (denoising): BM3D (Dabov et al., TIP 2007) from the maintained ``bm3d`` package
  (Mäkinen, Azzari, Foi), both stages, told the true noise level; ``bm3d_rgb`` (the YCbCr/opp.
  colour variant, CBM3D) for colour images.
"""

from __future__ import annotations

import numpy as np
import torch

from bench import Param, Problem, Published, RestoreContext, Restorer, hookimpl, imresize


def restore_bicubic(problem: Problem, ctx: RestoreContext) -> torch.Tensor:
    if problem.task != "sr":
        raise ValueError(f"bicubic restores SR only, not {problem.task!r}")
    _, h, w = problem.output_shape
    return imresize(problem.observed.double(), float(problem.scale), (h, w)).float()


def restore_identity(problem: Problem, ctx: RestoreContext) -> torch.Tensor:
    if problem.task == "sr":
        raise ValueError("degraded-input has no SR output (the LR image is smaller); use bicubic")
    return problem.observed.clone()


def restore_bm3d(problem: Problem, ctx: RestoreContext) -> torch.Tensor:
    import bm3d

    if problem.task != "denoise":
        raise ValueError(f"bm3d denoises only, not {problem.task!r}")
    noisy = problem.observed.detach().cpu().double().numpy()  # (C, H, W), 0..1 scale
    sigma = problem.sigma / 255.0
    stages = bm3d.BM3DStages.ALL_STAGES if ctx.params["stages"] == "all" else bm3d.BM3DStages.HARD_THRESHOLDING
    if noisy.shape[0] == 1:
        out = bm3d.bm3d(noisy[0], sigma_psd=sigma, stage_arg=stages)[None]
    else:
        # CBM3D always runs both stages.
        out = bm3d.bm3d_rgb(noisy.transpose(1, 2, 0), sigma_psd=sigma).transpose(2, 0, 1)
    ctx.step()
    return torch.from_numpy(np.ascontiguousarray(out)).float()


#: The bicubic SR reference table every SR paper since VDSR/EDSR reports: PSNR dB / SSIM,
#: Y channel, border = scale shaved (docs/METHODS.md#bicubic-sr-reference). Matching it proves degradation and metric.
BICUBIC_TABLE = {
    "set5": {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)},
    "set14": {2: (30.24, 0.8688), 3: (27.55, 0.7742), 4: (26.00, 0.7027)},
    "b100": {2: (29.56, 0.8431), 3: (27.21, 0.7385), 4: (25.96, 0.6675)},
    "urban100": {2: (26.88, 0.8403), 3: (24.46, 0.7349), 4: (23.14, 0.6577)},
}
BICUBIC_SOURCE = "bicubic reference table of the SR literature (VDSR / EDSR papers), Y channel, border = scale"
BICUBIC_PUBLISHED = tuple(
    Published(dataset, metric, value, setting=f"sr x{scale}", source=BICUBIC_SOURCE)
    for dataset, scales in BICUBIC_TABLE.items()
    for scale, values in scales.items()
    for metric, value in zip(("psnr", "ssim"), values)
)


@hookimpl
def bench_register_methods(register):
    register(
        Restorer(
            name="bicubic",
            restore=restore_bicubic,
            restorations=("sr",),
            description="MATLAB bicubic upscaling of the LR image: the SR floor.",
            published=BICUBIC_PUBLISHED,
        )
    )
    register(
        Restorer(
            name="degraded-input",
            restore=restore_identity,
            restorations=("denoise", "inpaint"),
            description="The degraded image itself (noisy, or masked with zeros): the floor.",
        )
    )
    register(
        Restorer(
            name="bm3d",
            restore=restore_bm3d,
            restorations=("denoise",),
            params={
                "stages": Param(
                    "all", choices=("all", "hard"), help="hard: the hard-thresholding stage only (gray only)"
                )
            },
            description="BM3D / CBM3D (bm3d package) with the true sigma; stages: all | hard (gray only)",
            citation="Dabov et al., Image denoising by sparse 3-D transform-domain collaborative filtering, TIP 2007",
        )
    )
