"""Paths bench reads and writes inside a folder it owns (a results folder, the download cache):
never through a symbolic link planted below that folder, whose target could be anywhere.

The folder itself may be a link (``--results-dir /scratch/results`` that points elsewhere is the
user's choice); a link *inside* it was planted by someone, and following it would write records,
locks or extracted data outside, or copy an outside file into a published report.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path


class LinkRefused(ValueError):
    """A path below a folder bench owns passes through a symbolic link; the message names it."""


def first_link(root: str | Path, path: str | Path) -> Path | None:
    """The first existing symbolic link among the components of ``path`` below ``root`` (``path``
    itself included), or None. ``path`` must be ``root`` or lie under it, as written."""
    root, path = Path(root), Path(path)
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            return current
        if not os.path.lexists(current):
            return None  # nothing below a missing component exists yet
    return None


def refuse_links(root: str | Path, path: str | Path) -> Path:
    """``path``, or LinkRefused when it or a folder between ``root`` and it is a symbolic link."""
    link = first_link(root, path)
    if link is not None:
        raise LinkRefused(
            f"{link} is a symbolic link: bench does not read or write through links inside {root}; "
            "remove the link (or move the real folder there)"
        )
    return Path(path)


def absolute(path: str | Path) -> Path:
    """``path`` made absolute once, at start, against today's working directory (a method that
    calls ``os.chdir`` cannot move later records); links are kept as they are, not resolved."""
    return Path(os.path.abspath(path))


def bounded_name(name: str, limit: int = 100) -> str:
    """``name`` when at most ``limit`` characters, else its start and a hash of the whole (its
    extension kept): a file name the OS takes (255 bytes) from a value of any length, still
    distinct for distinct values."""
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    suffix = f".{extension}" if dot and stem and len(extension) <= 8 else ""
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: limit - len(digest) - len(suffix) - 1]}-{digest}{suffix}"


def safe_name(text: object) -> str:
    """One path component from any text (a record's included), keeping case and dots
    (``perturbed-2.png``): other characters become ``_``, never ``.``, ``..`` or empty (a
    record must not name a folder above the output), bounded as :func:`bounded_name`."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_")
    return bounded_name(name) if name.strip(".") else "_"


def umask() -> int:
    """The process's umask (read by setting it and putting it back: there is no getter)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def as_if_created(path: str | Path, directory: bool = False) -> None:
    """Give ``path`` the mode ``open``/``mkdir`` would have (0666 or 0777 less the umask), not the
    0600/0700 of a temporary file or folder it was made as: a results folder or report shared on a
    cluster is read by the group."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())
