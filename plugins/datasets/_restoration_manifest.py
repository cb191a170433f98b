"""Where the restoration image sets come from and what their images are: the sources in code, one
row per file in the package data file ``restoration_manifest.tsv`` (set, file, md5, sha256 of the
pinned file, and ``pixels``: the sha256 of its decoded pixels, ``bench.restoration.images
.pixel_checksum``, empty where no verified copy was at hand to compute it).

The file checksums were generated from the MANIFEST.tsv/SOURCE.txt of the verified copies (each
file's git blob re-computed and matched at the named commit); Set14 and Urban100 from the git
objects of the named commit itself (CSet14: 14 PNG, 13 RGB and bridge.png 1-channel, man.png RGB
with equal channels; CUrban100: 100 RGB PNG at their original sizes). ``python
tools/restoration_manifest.py --pixels DATA_DIR`` records the pixel checksums of the files a data
folder holds verified copies of.

SETS[name] = (repository, commit, source folder in the repository, {file: (md5, sha256)});
PIXELS[(name, file)] = pixel checksum.
"""

from __future__ import annotations

import csv
from pathlib import Path

#: set -> (repository, commit, folder in the repository) the pinned files are taken from.
SOURCES = {
    "BSD68": ("cszn/DnCNN", "e93b27812d3ff523a3a79d19e5e50d233d7a8d0a", "testsets/BSD68"),
    "CBSD68": ("cszn/FFDNet", "e787f46df2f374ff3591186706229cb9a0591fea", "testsets/CBSD68"),
    "Set12": ("cszn/KAIR", "fc1732f4a4514e42ce15e5b3a1e18c828af47a1e", "testsets/set12"),
    "Set14": ("majedelhelou/denoising_datasets", "58234876fef6f1b56306705c78dfd40cdb837b86", "CSet14"),
    "Urban100": ("majedelhelou/denoising_datasets", "58234876fef6f1b56306705c78dfd40cdb837b86", "CUrban100"),
    "Set5": ("cszn/KAIR", "fc1732f4a4514e42ce15e5b3a1e18c828af47a1e", "testsets/set5"),
    "deep-image-prior": ("DmitryUlyanov/deep-image-prior", "042e0d4c1e93f4b1eb0932781de55b8cff5e0f40", "data"),
}
MANIFEST = Path(__file__).with_name("restoration_manifest.tsv")
COLUMNS = ("set", "file", "md5", "sha256", "pixels")


def read_rows(path: Path = MANIFEST) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for number, row in enumerate(rows, 2):
        if tuple(row) != COLUMNS or row["set"] not in SOURCES or not all(row[c] for c in ("file", "md5")):
            raise ValueError(f"{path}:{number}: expected the columns {', '.join(COLUMNS)} of a known set, got {row}")
    return rows


def _sets(rows: list[dict[str, str]]) -> dict[str, tuple]:
    files: dict[str, dict] = {name: {} for name in SOURCES}
    for row in rows:
        files[row["set"]][row["file"]] = (row["md5"], row["sha256"] or None)
    return {name: (*SOURCES[name], files[name]) for name in SOURCES}


ROWS = read_rows()
SETS = _sets(ROWS)
PIXELS = {(row["set"], row["file"]): row["pixels"] for row in ROWS if row["pixels"]}
