"""The official repositories' per-step linear probes, as named probe settings (``probe: ...``).

MAE and DDAE both register both, so each method is measured under the other's official probe too
(suites/representation-mnist-cpu.yaml): a change here makes the records of both stale.
"""

from __future__ import annotations

from bench import Setting

OFFICIAL_PROBES = {
    # FutureXiang/ddae linear.py with DDPM_ddpm.yaml's linear section, on 4 GPUs: batch 128 and LR
    # 1e-3 per GPU x 4; flip + RandomCrop(32, pad 4), no feature normalisation, a Linear head
    # (PyTorch's init), Adam, cosine stepped per epoch.
    "ddae-official": Setting(
        options={
            "epochs": 15,
            "batch_size": 512,
            "lrs": [4e-3],
            "weight_decays": [0.0],
            "flip": True,
            "crop_padding": 4,
        },
        source="FutureXiang/ddae linear.py, DDPM_ddpm.yaml's linear section (4 GPUs x batch 128, LR 1e-3 each)",
    ),
    # facebookresearch/mae main_linprobe.py defaults + FINETUNE.md's "Linear Probing" command: batch
    # 512 on 4 nodes x 8 GPUs, --blr 0.1; RandomResizedCrop + flip, BatchNorm1d without affine before
    # a Linear initialised trunc-normal 0.01 (MoCo v3's), LARS without weight decay (util/lars.py),
    # 10 epochs of linear warm-up then a half-cosine to 0, per step (util/lr_sched.py).
    "mae-official": Setting(
        options={
            "epochs": 90,
            "batch_size": 16384,
            "lrs": [0.1 * 16384 / 256],
            "weight_decays": [0.0],
            "flip": True,
            "crop_padding": 0,
            "resized_crop": [0.08, 1.0],
            "optimizer": "lars",
            "head_norm": "batchnorm",
            "head_init_std": 0.01,
            "lr_schedule": "step",
            "warmup_epochs": 10.0,
        },
        missing=(
            "the official crop draws once and clamps the box to the image (util/crop.py); ours re-draws as torchvision's",
            "evaluation resize 256 + centre crop 224 (images are scored at their own size)",
        ),
        source="facebookresearch/mae main_linprobe.py with FINETUNE.md's Linear Probing command (32 GPUs x 512)",
    ),
}
