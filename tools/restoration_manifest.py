"""Record the pixel checksums of the restoration images in plugins/datasets/restoration_manifest.tsv
from a data folder holding verified copies of the pinned files.

    python tools/restoration_manifest.py --pixels ../shared/data

For every row whose file is at DATA/restoration/<set>/<file> with the pinned md5, the sha256 of its
decoded pixels (bench.restoration.images.pixel_checksum) is written into the row's ``pixels``
column (lossless formats only: a JPEG's pixels depend on the decoder); other rows are kept as they
are. The file is replaced atomically.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from bench.restoration.images import LOSSLESS_SUFFIXES, decode_pixels, pixel_checksum
from bench_plugins.datasets._restoration_manifest import COLUMNS, MANIFEST, read_rows


def with_pixels(rows: list[dict[str, str]], data: Path) -> tuple[list[dict[str, str]], int]:
    """The rows with the pixel checksum of every file ``data`` holds a verified copy of."""
    added = 0
    for row in rows:
        path = data / "restoration" / row["set"] / row["file"]
        if path.suffix.lower() not in LOSSLESS_SUFFIXES:
            row["pixels"] = ""
            continue
        if not path.is_file() or hashlib.md5(path.read_bytes()).hexdigest() != row["md5"]:
            continue
        image = decode_pixels(path)
        if image is not None:
            added += row["pixels"] != pixel_checksum(image)
            row["pixels"] = pixel_checksum(image)
    return rows, added


def write(rows: list[dict[str, str]], path: Path = MANIFEST) -> None:
    lines = ["\t".join(COLUMNS), *("\t".join(row[c] for c in COLUMNS) for row in rows)]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pixels", type=Path, required=True, metavar="DATA", help="a data folder with verified copies")
    args = parser.parse_args()
    rows, added = with_pixels(read_rows(), args.pixels)
    write(rows)
    print(f"{added} pixel checksums recorded; {sum(1 for r in rows if r['pixels'])} of {len(rows)} rows have one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
