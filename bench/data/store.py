"""The data directory: download once, verify by checksum, write atomically, extract safely.

A dataset plugin declares its files (:class:`RemoteFile`, :class:`Archive`) with canonical URLs
and checksums and asks the :class:`DataStore` for local paths. The store

- uses a file already in the data directory if its checksum matches, in place: a read-only
  mirror such as ``../shared/data`` works without copying;
- otherwise downloads it (canonical URL, then mirrors, with retries) to a temporary file in the
  same directory, verifies it and moves it into place with ``os.replace``, so an interrupted
  or corrupt download never leaves a file that looks finished;
- extracts archive members itself, writing only the member paths the plugin declared, so no
  archive entry can land outside the data directory;
- records every file it handed out (``used``), so a result names the exact data it came from.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

CHUNK = 1 << 20
DEFAULT_ROOT = pathlib.Path("~/.cache/bench/data")


class DataError(RuntimeError):
    """A dataset file is missing, corrupt or cannot be fetched; the message says what to do."""


def _check_relative(kind: str, path: str) -> None:
    parts = pathlib.PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts or "\\" in path:
        raise ValueError(f"{kind} {path!r} must be a relative path inside the data directory")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it lives in the data directory and where it comes from.

    ``path`` is relative to the data directory (``"mnist/train-images-idx3-ubyte.gz"``);
    ``md5`` is the canonical checksum (the one the dataset's authors or torchvision publish).
    """

    path: str
    url: str
    md5: str
    sha256: str | None = None
    mirrors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_relative("file path", self.path)

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.mirrors)


@dataclass(frozen=True)
class Archive:
    """A tar archive whose members are extracted next to it.

    ``members`` maps each member's name (after removing the ``strip`` prefix) to its md5; a
    member ``m`` of archive ``cifar-10/cifar-10-python.tar.gz`` is extracted to ``cifar-10/m``.
    Only declared members are extracted.
    """

    file: RemoteFile
    members: Mapping[str, str]
    strip: str = ""

    def __post_init__(self) -> None:
        for name in self.members:
            _check_relative("archive member", name)

    def member_path(self, member: str) -> str:
        return str(pathlib.PurePosixPath(self.file.path).parent / member)


@dataclass
class _Digest:
    md5: str
    sha256: str
    size: int


def digest(path: pathlib.Path) -> _Digest:
    md5, sha = hashlib.md5(), hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return _Digest(md5.hexdigest(), sha.hexdigest(), size)


def writable(folder: pathlib.Path) -> bool:
    """Whether we may write in ``folder``: permission bits count even for root, so a mirror
    marked read-only (``chmod a-w``) is never modified."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent  # a folder we would create: its first existing ancestor decides
    return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & stat.S_IWUSR)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class DataStore:
    """Local paths for remote dataset files.

    ``root``: the data directory (default ``$BENCH_DATA_DIR``, else ``~/.cache/bench/data``).
    ``offline``: never download (default ``$BENCH_OFFLINE``); a missing file is an error that
    names the file, its URL and the directory to put it in.
    """

    root: pathlib.Path | str | None = None
    offline: bool | None = None
    retries: int = 3
    timeout: float = 60.0
    log: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr, flush=True))
    used: dict[str, dict] = field(default_factory=dict)
    _verified: dict[tuple, _Digest] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        root = self.root or os.environ.get("BENCH_DATA_DIR") or DEFAULT_ROOT
        self.root = pathlib.Path(root).expanduser().resolve()
        if self.offline is None:
            self.offline = _env_flag("BENCH_OFFLINE")

    # -- public ------------------------------------------------------------------------------
    def fetch(self, file: RemoteFile) -> pathlib.Path:
        """The verified local path of ``file``, downloading it if needed."""
        path, found = self._ensure(file)
        self._record(file.path, found, file.url)
        return path

    def fetch_member(self, archive: Archive, member: str) -> pathlib.Path:
        """The verified local path of one archive member, extracting the archive if needed."""
        if member not in archive.members:
            raise KeyError(f"{member!r} is not a declared member of {archive.file.path}")
        path = self.root / archive.member_path(member)
        found = self._verify(path, archive.members[member])
        if found is None:
            try:
                self._ensure(archive.file)  # not recorded: the members are what a result reads
            except DataError as error:
                raise DataError(
                    f"{error}\n(or put the extracted file {path.name} at {path})"
                ) from None
            self._extract(archive)
            found = self._verify(path, archive.members[member])
            if found is None:  # pragma: no cover - the archive's checksum matched, so this is a plugin bug
                raise DataError(f"{archive.file.path}: member {member} does not match its checksum")
        self._record(archive.member_path(member), found, f"{archive.file.url}#{member}")
        return path

    def _ensure(self, file: RemoteFile) -> tuple[pathlib.Path, _Digest]:
        path = self.root / file.path
        found = self._verify(path, file.md5, file.sha256)
        return path, found if found is not None else self._download(file, path)

    # -- verification ------------------------------------------------------------------------
    def _verify(self, path: pathlib.Path, md5: str, sha256: str | None = None) -> _Digest | None:
        """The file's digest if it exists and matches; a corrupt file we own is removed."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        found = self._verified.get(key) or digest(path)
        if found.md5 == md5.lower() and (sha256 is None or found.sha256 == sha256.lower()):
            self._verified[key] = found
            return found
        self.log(f"data: {path} does not match its checksum (md5 {found.md5}, expected {md5})")
        if writable(path.parent):
            path.unlink(missing_ok=True)
            return None
        raise DataError(
            f"{path} is corrupt (md5 {found.md5}, expected {md5}) and its directory is read-only; "
            "replace it or point --data-dir / BENCH_DATA_DIR at a writable directory"
        )

    def _record(self, rel: str, found: _Digest, url: str) -> None:
        self.used[rel] = {"md5": found.md5, "sha256": found.sha256, "bytes": found.size, "url": url}

    # -- download ----------------------------------------------------------------------------
    def _download(self, file: RemoteFile, path: pathlib.Path) -> _Digest:
        if self.offline:
            raise DataError(
                f"{file.path} is not in the data directory and downloads are off (offline).\n"
                f"  download: {file.url}\n  put it at: {path}\n"
                f"  (data directory {self.root}: set --data-dir or BENCH_DATA_DIR; md5 {file.md5})"
            )
        if not writable(path.parent):
            raise DataError(
                f"{file.path} is not in the data directory, which is read-only.\n"
                f"  download: {file.url}\n  put it at: {path}\n"
                f"  (or point --data-dir / BENCH_DATA_DIR at a writable directory)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        failures = []
        for attempt in range(1, self.retries + 1):
            for url in file.urls:
                try:
                    return self._download_once(url, file, path)
                except (OSError, urllib.error.URLError, DataError) as error:
                    failures.append(f"attempt {attempt}, {url}: {error}")
                    self.log(f"data: {failures[-1]}")
            if attempt < self.retries:
                time.sleep(min(2 ** attempt, 30))
        raise DataError(
            f"could not fetch {file.path} into {path.parent}:\n  " + "\n  ".join(failures)
        )

    def _download_once(self, url: str, file: RemoteFile, path: pathlib.Path) -> _Digest:
        self.log(f"data: downloading {url}")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "bench/0.1"})
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=self.timeout) as response:
                shutil.copyfileobj(response, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            found = digest(pathlib.Path(tmp))
            if found.md5 != file.md5.lower() or (file.sha256 and found.sha256 != file.sha256.lower()):
                raise DataError(f"checksum mismatch (md5 {found.md5}, expected {file.md5})")
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            self.log(f"data: {file.path} ({found.size / 1e6:.1f} MB) verified")
            return found
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # -- extraction --------------------------------------------------------------------------
    def _extract(self, archive: Archive) -> None:
        """Extract every declared member; refuse archives with entries that could escape."""
        source = self.root / archive.file.path
        if not writable(source.parent):
            raise DataError(
                f"{source.parent} is read-only, so {source.name} cannot be extracted there; extract "
                f"its members {', '.join(archive.members)} into it, or use a writable --data-dir"
            )
        self.log(f"data: extracting {archive.file.path}")
        wanted = dict(archive.members)
        with tarfile.open(source) as tar:
            for entry in tar:
                name = entry.name
                parts = pathlib.PurePosixPath(name).parts
                if name.startswith("/") or ".." in parts or entry.issym() or entry.islnk() or entry.isdev():
                    raise DataError(f"{source}: unsafe archive entry {name!r} (refusing to extract)")
                if not entry.isfile() or not name.startswith(archive.strip):
                    continue
                member = name[len(archive.strip):]
                if member not in wanted:
                    continue
                target = self.root / archive.member_path(member)
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
                try:
                    with os.fdopen(fd, "wb") as out, tar.extractfile(entry) as data:
                        shutil.copyfileobj(data, out, CHUNK)
                    if digest(pathlib.Path(tmp)).md5 != wanted[member].lower():
                        raise DataError(f"{source}: member {member} does not match its checksum")
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, target)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                del wanted[member]
        if wanted:
            raise DataError(f"{source}: members missing from the archive: {', '.join(sorted(wanted))}")
