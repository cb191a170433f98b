"""Restoration image sets: SR (Set5, Set14, B100, Urban100), denoising (Set12, BSD68, CBSD68,
Kodak24, McMaster) and the Deep Image Prior images (with inpainting masks).

Every file is declared with its checksum and a stable source: a raw file at a pinned commit of
the repository the set is usually taken from, or the EDSR benchmark archive. A copy of
``restoration/<set>/<file>`` in the data directory (``../shared/data`` works in place) is used
when it matches. Images keep their sizes and modes (gray sets are 1-channel, colour sets RGB).

An image whose pixel checksum is recorded (``restoration_manifest.tsv``) is identified by what it
is: any lossless copy with its pixels is accepted (a BMP of a pinned PNG, a TIFF), in the layouts
the field distributes: the plain folder (``restoration/Set5/baby.png``, DnCNN's ``baby_GT.bmp``),
its ``HR/`` folder, the EDSR benchmark archive extracted (``restoration/benchmark/Set5/HR/``) and
KAIR/DnCNN's ``testsets/``; the record names the copy read and its pixel checksum.

Set14 and Urban100 are plain image folders (``restoration/Set14/baboon.png``, ...) pinned to
majedelhelou/denoising_datasets (folders CSet14, CUrban100), with the EDSR benchmark archive as
the alternative source when those files are not there. B100 has no plain-file source pinned
(the copies found were Git LFS pointers): it is read from a local folder with a MANIFEST.tsv,
else from the archive. Which files a run read is in its record (``data_files``).
"""

from __future__ import annotations

import csv
import functools
import io
import tarfile
from pathlib import Path, PurePosixPath

from bench import (
    DataError,
    DatasetSpec,
    ImageSet,
    PinnedImage,
    RemoteFile,
    RestorationImage,
    fetch_image,
    hookimpl,
    mask_from_image,
    read_image,
)
from bench_plugins.datasets._restoration_manifest import PIXELS, SETS

RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def manifest_files(folder: str, names: list[str] | None = None) -> dict[str, RemoteFile]:
    """{file name: RemoteFile} for a set whose files are pinned in the manifest."""
    repo, commit, source, files = SETS[folder]
    out = {}
    for name, (md5, sha256) in files.items():
        if names is not None and name not in names:
            continue
        out[name] = RemoteFile(
            path=f"restoration/{folder}/{name}",
            url=RAW.format(repo=repo, commit=commit, path=f"{source}/{name}"),
            md5=md5,
            sha256=sha256,
        )
    return out


def _check_split(name: str, split: str) -> None:
    if split != "test":
        raise ValueError(f"{name} has only a 'test' split (the images to restore), not {split!r}")


# -- copies identified by their pixels ----------------------------------------------------------

#: The names the field's copies give a set's folder.
FOLDER_NAMES = {
    "Set5": ("Set5", "set5"),
    "Set14": ("Set14", "set14"),
    "Urban100": ("Urban100", "urban100"),
    "Set12": ("Set12", "set12"),
    "BSD68": ("BSD68", "bsd68"),
    "CBSD68": ("CBSD68", "cbsd68"),
}
#: Where the field's distributions keep a set's images, relative to the data folder: the plain
#: folder (KAIR, DnCNN, an HR folder), its HR/ folder, the EDSR benchmark archive extracted, a
#: checkout's testsets/.
LAYOUTS = ("restoration/{}", "restoration/{}/HR", "restoration/benchmark/{}/HR", "benchmark/{}/HR", "testsets/{}")
#: File names: the image's own, or DnCNN's ground-truth name (Set5/baby_GT.bmp).
STEMS = ("{}", "{}_GT")
LOSSLESS = (".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


def copies(folder: str, file_name: str) -> tuple[tuple[str, ...], str]:
    """The paths where a lossless copy of a set's image may be, and the same for a message."""
    path = PurePosixPath(file_name)
    names = FOLDER_NAMES.get(folder, (folder,))
    if folder not in FOLDER_NAMES:  # a repository's own tree (deep-image-prior): that path, any format
        base = f"restoration/{folder}/{path.parent}/{path.stem}".replace("/./", "/")
        return tuple(base + suffix for suffix in LOSSLESS), f"{base}.{{{','.join(s[1:] for s in LOSSLESS)}}}"
    found = tuple(
        f"{layout.format(name)}/{stem.format(path.stem)}{suffix}"
        for layout in LAYOUTS
        for name in names
        for stem in STEMS
        for suffix in LOSSLESS
    )
    shown = (
        f"{{restoration,restoration/benchmark,benchmark,testsets}}/{{{','.join(names)}}}[/HR]/"
        f"{path.stem}[_GT].{{{','.join(s[1:] for s in LOSSLESS)}}}"
    )
    return found, shown


def fetch_set_image(folder: str, file_name: str, file: RemoteFile, store):
    """A set's image: by its pixels when their checksum is recorded, else the pinned file."""
    pixels = PIXELS.get((folder, file_name))
    if pixels is None:
        try:
            return read_image(store.fetch(file))
        except DataError as error:
            raise DataError(
                f"{error} (no pixel checksum is recorded for {folder}/{file_name} yet, so only this file is "
                "accepted; `python tools/restoration_manifest.py --pixels DATA` records them from a verified copy)"
            ) from None
    paths, shown = copies(folder, file_name)
    stem = PurePosixPath(file_name).stem
    return fetch_image(store, PinnedImage(folder, stem, pixels, paths, file, shown))


def load_manifest_set(name: str, folder: str, split: str, store, suffixes=LOSSLESS) -> ImageSet:
    _check_split(name, split)
    files = manifest_files(folder)
    images = []
    for file_name in sorted(files):
        if not file_name.lower().endswith(suffixes):
            continue
        image = fetch_set_image(folder, file_name, files[file_name], store)
        images.append(RestorationImage(PurePosixPath(file_name).stem, image))
    return ImageSet(name, images)


# -- the Deep Image Prior images ----------------------------------------------------------------

DIP_INPAINTING = ("kate", "library", "vase")


def load_dip_inpainting(split: str, store) -> ImageSet:
    _check_split("dip-inpainting", split)
    files = manifest_files("deep-image-prior")
    images = []
    for stem in DIP_INPAINTING:
        image = fetch_set_image("deep-image-prior", f"inpainting/{stem}.png", files[f"inpainting/{stem}.png"], store)
        mask = mask_from_image(read_image(store.fetch(files[f"inpainting/{stem}_mask.png"]), mask=True))
        images.append(RestorationImage(stem, image, mask))
    return ImageSet("dip-inpainting", images)


def load_dip_denoising(split: str, store) -> ImageSet:
    _check_split("dip-denoising", split)
    files = manifest_files("deep-image-prior")
    f16 = fetch_set_image("deep-image-prior", "denoising/F16_GT.png", files["denoising/F16_GT.png"], store)
    return ImageSet("dip-denoising", [RestorationImage("F16", f16)])


# -- sets from the EDSR benchmark archive ---------------------------------------------------------
# The archive EDSR-PyTorch links to (HR images plus MATLAB LR images of Set5, Set14, B100,
# Urban100); md5 as published with torchSR's dataset classes. Members are read from the verified
# archive directly (its checksum covers them); only the HR images are used, the host makes the LR.
EDSR_BENCHMARK = RemoteFile(
    path="restoration/edsr-benchmark.tar",
    url="https://cv.snu.ac.kr/research/EDSR/benchmark.tar",
    md5="4ace41d33c2384b97e6b320cd0afd6ba",
)


def load_edsr_set(name: str, folder: str, split: str, store) -> ImageSet:
    _check_split(name, split)
    local = Path(store.root) / "restoration" / folder
    archive = store.fetch(EDSR_BENCHMARK)
    prefix = f"benchmark/{folder}/HR/"
    images = []
    with tarfile.open(archive) as tar:
        for entry in sorted(tar.getmembers(), key=lambda e: e.name):
            if entry.isfile() and entry.name.startswith(prefix) and entry.name.lower().endswith(".png"):
                data = tar.extractfile(entry).read()
                stem = PurePosixPath(entry.name).stem
                images.append(RestorationImage(stem, read_image(io.BytesIO(data))))
    if not images:
        raise DataError(f"{archive}: no images under {prefix} (local copy expected at {local})")
    return ImageSet(name, images)


def load_sr_set(name: str, folder: str, split: str, store) -> ImageSet:
    """A set from its own pinned image files, else (not there, cannot download) the archive."""
    try:
        return load_manifest_set(name, folder, split, store)
    except DataError as plain:
        try:
            return load_edsr_set(name, folder, split, store)
        except DataError:
            raise DataError(
                f"{plain} (or put the EDSR benchmark archive {EDSR_BENCHMARK.url}, md5 "
                f"{EDSR_BENCHMARK.md5}, at {Path(store.root) / EDSR_BENCHMARK.path})"
            ) from None


def load_local_or_edsr_set(name: str, folder: str, split: str, store) -> ImageSet:
    """A set with no pinned plain-file source: a local folder with a MANIFEST.tsv, else the archive."""
    if (Path(store.root) / "restoration" / folder / "MANIFEST.tsv").exists():
        return load_local_manifest_set(name, folder, split, store)
    try:
        return load_edsr_set(name, folder, split, store)
    except DataError as error:
        raise DataError(
            f"{error} (or put the images and a MANIFEST.tsv (columns filename, md5) in "
            f"{Path(store.root) / 'restoration' / folder})"
        ) from None


# -- sets without pinned checksums ---------------------------------------------------------------
UNPINNED_SOURCES = {
    "B100": "https://cv.snu.ac.kr/research/EDSR/benchmark.tar (benchmark/B100/HR: 100 PNG)",
    "Kodak24": "http://r0k.us/graphics/kodak/ (kodim01.png .. kodim24.png)",
    "McMaster": "https://www4.comp.polyu.edu.hk/~cslzhang/CDM_Dataset.htm (18 TIF images)",
}


def load_local_manifest_set(name: str, folder: str, split: str, store) -> ImageSet:
    """A set read from ``restoration/<folder>`` in the data directory, verified against the
    folder's MANIFEST.tsv (file, md5 columns), the format of the shared mirrors."""
    _check_split(name, split)
    base = Path(store.root) / "restoration" / folder
    manifest = base / "MANIFEST.tsv"
    if not manifest.exists():
        raise DataError(  # one line: the console and the record show the first line only
            f"{name}: no checksums are pinned for this set yet, so it is read from a local copy only: "
            f"put the images from {UNPINNED_SOURCES[folder]} and a MANIFEST.tsv (columns filename, md5) in {base}"
        )
    images = []
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            file = RemoteFile(
                path=f"restoration/{folder}/{row['filename']}",
                url=f"{UNPINNED_SOURCES[folder].split()[0]}{row['filename']}",
                md5=row["md5"],
            )
            images.append(RestorationImage(PurePosixPath(row["filename"]).stem, read_image(store.fetch(file))))
    return ImageSet(name, images)


def _spec(name: str, load, description: str, citation: str) -> DatasetSpec:
    return DatasetSpec(
        name=name, task="restoration", load=load, description=description, citation=citation, splits=("test",)
    )


# name, loader(name, folder, split, store), folder, description, citation: one registration each
_SETS = (
    (
        "set5",
        load_manifest_set,
        "Set5",
        "SR: 5 RGB HR images (BMP), 228x344 to 512x512",
        "Bevilacqua et al., BMVC 2012",
    ),
    (
        "set12",
        load_manifest_set,
        "Set12",
        "denoising: 12 gray images, 256x256 and 512x512",
        "Zhang et al., DnCNN, TIP 2017",
    ),
    (
        "bsd68",
        load_manifest_set,
        "BSD68",
        "denoising: 68 gray BSD images, 481x321",
        "Roth and Black, Fields of Experts, 2009; Martin et al., ICCV 2001",
    ),
    (
        "cbsd68",
        load_manifest_set,
        "CBSD68",
        "colour denoising: 68 RGB BSD images, 481x321",
        "Martin et al., ICCV 2001; Zhang et al., FFDNet, TIP 2018",
    ),
    (
        "set14",
        load_sr_set,
        "Set14",
        "SR: 14 HR images (PNG; bridge 1-channel), else the EDSR benchmark archive",
        "Zeyde et al., Curves and Surfaces 2010",
    ),
    (
        "b100",
        load_local_or_edsr_set,
        "B100",
        "SR: 100 BSD HR images (local copy with MANIFEST.tsv, else the EDSR benchmark archive)",
        "Martin et al., ICCV 2001",
    ),
    (
        "urban100",
        load_sr_set,
        "Urban100",
        "SR: 100 urban HR images (RGB PNG), else the EDSR benchmark archive",
        "Huang et al., CVPR 2015",
    ),
    (
        "kodak24",
        load_local_manifest_set,
        "Kodak24",
        "colour denoising: 24 Kodak PhotoCD images as r0k.us serves them, 768x512 or 512x768 "
        "(not the 500x500 crops some repositories ship; no checksums pinned: a local copy with MANIFEST.tsv)",
        "Franzen, Kodak Lossless True Color Image Suite",
    ),
    (
        "mcmaster",
        load_local_manifest_set,
        "McMaster",
        "colour denoising: 18 images, 500x500 (local copy with MANIFEST.tsv)",
        "Zhang et al., J. Electronic Imaging 2011",
    ),
)


@hookimpl
def bench_register_datasets(register):
    for name, load, folder, description, citation in _SETS:
        register(_spec(name, functools.partial(load, name, folder), description, citation))
    register(
        _spec(
            "dip-inpainting",
            load_dip_inpainting,
            "Deep Image Prior inpainting images kate, library, vase with their masks",
            "Ulyanov et al., Deep Image Prior, CVPR 2018",
        )
    )
    register(
        _spec(
            "dip-denoising",
            load_dip_denoising,
            "Deep Image Prior denoising image F16 (512x512 RGB)",
            "Ulyanov et al., Deep Image Prior, CVPR 2018",
        )
    )
