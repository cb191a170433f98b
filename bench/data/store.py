"""The data directory: download once, verify by checksum, write atomically, extract safely.

A dataset plugin declares its files (:class:`RemoteFile`, :class:`Archive`) with canonical URLs
and checksums and asks the :class:`DataStore` for local paths. The store

- uses a file already in the data directory if its checksum matches, in place;
- never modifies a **mirror**: a data directory that is not a download cache (it holds files
  but no ``CACHEDIR.TAG``, e.g. ``../shared/data``) and every folder in ``$BENCH_MIRRORS``. A
  file missing from a mirror, or corrupt there, is fetched into the **download cache**
  (``$BENCH_CACHE_DIR``, else ``~/.cache/bench/data``); nothing is deleted or written in a mirror
  whatever its permission bits say (root may write anywhere);
- downloads (canonical URL, then URL mirrors, with retries) to a temporary file in the cache,
  verifies it and moves it into place with ``os.replace``, so an interrupted or corrupt
  download never leaves a file that looks finished;
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

from bench.paths import LinkRefused, refuse_links

CHUNK = 1 << 20
DEFAULT_ROOT = pathlib.Path("~/.cache/bench/data")
#: Marks a folder as bench's download cache (https://bford.info/cachedir/: backup tools skip it).
CACHE_TAG = "CACHEDIR.TAG"
_CACHE_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is a download cache of bench: files here are re-fetched when missing or corrupt.\n"
)


class DataError(RuntimeError):
    """A dataset file is missing, corrupt or cannot be fetched; the message says what to do."""


def _unlinked(cache: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
    """``path`` in the cache, refused (DataError) when a link planted there would send a write outside."""
    try:
        return refuse_links(cache, path)
    except LinkRefused as exc:
        raise DataError(str(exc)) from None


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
class PackagedFile:
    """A file shipped inside an installed Python package (a plugin's wheel): read where it is
    installed, never copied or downloaded, so it works offline; verified by checksum and recorded
    as ``package://<package>/<resource>`` like any other file a run read.

    ``package`` is the importable package (``"bench_digits"``), ``resource`` the file's path
    inside it (``"data/digits.npz"``; list it in the wheel's package data), ``md5`` its checksum.
    """

    package: str
    resource: str
    md5: str
    sha256: str | None = None

    def __post_init__(self) -> None:
        _check_relative("packaged file", self.resource)

    @property
    def path(self) -> str:
        """How records name it."""
        return f"package://{self.package}/{self.resource}"

    def locate(self) -> pathlib.Path:
        """Where the installed package holds it (a DataError when it does not)."""
        from importlib import resources

        try:
            where = resources.files(self.package).joinpath(self.resource)
        except (ModuleNotFoundError, TypeError) as exc:
            raise DataError(f"{self.path}: package {self.package!r} is not installed ({exc})") from None
        if not isinstance(where, pathlib.Path) or not where.is_file():
            raise DataError(
                f"{self.path}: not a file in the installed package {self.package!r} (looked at {where}); "
                "list it in the wheel's package data"
            )
        return where


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
    """Whether we may write in ``folder`` (permission bits count even for root)."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent  # a folder we would create: its first existing ancestor decides
    return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & stat.S_IWUSR)


def is_cache(folder: pathlib.Path) -> bool:
    """Whether ``folder`` may serve as a download cache: tagged as one, or new or empty (it is
    tagged when first written). A folder that already holds files and no tag is a mirror."""
    if (folder / CACHE_TAG).is_file():
        return True
    try:
        return not any(folder.iterdir())
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        return False


def _folders(value: str | None) -> tuple[pathlib.Path, ...]:
    return tuple(pathlib.Path(p).expanduser().resolve() for p in (value or "").split(os.pathsep) if p.strip())


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class DataStore:
    """Local paths for remote dataset files.

    ``root``: the data directory (default ``$BENCH_DATA_DIR``, else the cache). It is the cache
    itself when it is one (see :func:`is_cache`), otherwise a mirror read in place.
    ``cache``: where fetched files go (default ``$BENCH_CACHE_DIR``, else
    ``~/.cache/bench/data``); when ``root`` is a cache, ``root``.
    ``mirrors``: more read-only folders to look in (default ``$BENCH_MIRRORS``, ``:``-separated).
    ``offline``: never download (default ``$BENCH_OFFLINE``); a missing file is an error that
    names the file, its URL, its checksum and the folder to put it in.
    """

    root: pathlib.Path | str | None = None
    offline: bool | None = None
    retries: int = 3
    timeout: float = 60.0
    log: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr, flush=True))
    cache: pathlib.Path | str | None = None
    mirrors: tuple[pathlib.Path | str, ...] | None = None
    used: dict[str, dict] = field(default_factory=dict)
    _verified: dict[tuple, _Digest] = field(default_factory=dict, repr=False)
    _corrupt: dict[str, str] = field(default_factory=dict, repr=False)  # relative path -> what was wrong

    def __post_init__(self) -> None:
        default_cache = pathlib.Path(os.environ.get("BENCH_CACHE_DIR") or DEFAULT_ROOT).expanduser().resolve()
        root = self.root or os.environ.get("BENCH_DATA_DIR") or self.cache or default_cache
        self.root = pathlib.Path(root).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise DataError(
                f"data directory {self.root} is a file, not a folder: point --data-dir / BENCH_DATA_DIR at a folder"
            )
        if self.cache is not None:
            self.cache = pathlib.Path(self.cache).expanduser().resolve()
        else:
            self.cache = self.root if (self.root == default_cache or is_cache(self.root)) else default_cache
        mirrors = (
            _folders(os.environ.get("BENCH_MIRRORS"))
            if self.mirrors is None
            else tuple(pathlib.Path(m).expanduser().resolve() for m in self.mirrors)
        )
        # Read-only folders, looked in before the cache, in this order.
        self.mirrors = tuple(
            dict.fromkeys(f for f in ((self.root,) if self.root != self.cache else ()) + mirrors if f != self.cache)
        )
        if self.offline is None:
            self.offline = _env_flag("BENCH_OFFLINE")

    # -- public ------------------------------------------------------------------------------
    def fetch(self, file: RemoteFile | PackagedFile) -> pathlib.Path:
        """The verified local path of ``file``, downloading it into the cache if needed (a
        :class:`PackagedFile` is read where its package is installed, online or offline)."""
        if isinstance(file, PackagedFile):
            return self._packaged(file)
        path, found = self._ensure(file)
        self._record(file.path, found, file.url)
        return path

    @property
    def folders(self) -> tuple[pathlib.Path, ...]:
        """Where files are looked for, in order: the mirrors (read-only), then the cache."""
        return (*self._mirrors, self._cache)

    # The fields as given may be text or None; __post_init__ resolved them to folders.
    @property
    def data_dir(self) -> pathlib.Path:
        """``root`` resolved: the data directory."""
        assert isinstance(self.root, pathlib.Path), "resolved in __post_init__"
        return self.root

    @property
    def _cache(self) -> pathlib.Path:
        assert isinstance(self.cache, pathlib.Path), "resolved in __post_init__"
        return self.cache

    @property
    def _mirrors(self) -> tuple[pathlib.Path, ...]:
        assert self.mirrors is not None, "resolved in __post_init__"
        return tuple(pathlib.Path(m) for m in self.mirrors)

    def find(self, file: RemoteFile) -> pathlib.Path | None:
        """A copy of ``file`` matching its checksum in the mirrors or the cache, recorded; None
        when there is none (nothing is downloaded, logged or removed: a copy that differs may be
        another encoding of the same image, see :func:`bench.restoration.images.fetch_image`)."""
        for folder in self.folders:
            path = folder / file.path
            if not path.is_file():
                continue
            found = digest(path)
            if found.md5 == file.md5.lower() and (file.sha256 is None or found.sha256 == file.sha256.lower()):
                self._record(file.path, found, file.url)
                return path
        return None

    def record(self, rel: str, path: pathlib.Path, url: str, **extra) -> None:
        """Record a file a loader verified itself (by what it holds, e.g. its decoded pixels):
        its checksums, size, where it came from and ``extra`` go into every result that read it."""
        self._record(rel, digest(path), url)
        self.used[rel].update(extra)

    def _packaged(self, file: PackagedFile) -> pathlib.Path:
        path = file.locate()
        found = digest(path)
        if found.md5 != file.md5.lower() or (file.sha256 and found.sha256 != file.sha256.lower()):
            raise DataError(
                f"{file.path}: {path} does not match its checksum (md5 {found.md5}, expected {file.md5}); "
                "reinstall the package that ships it"
            )
        self._record(file.path, found, file.path)
        return path

    def fetch_member(self, archive: Archive, member: str) -> pathlib.Path:
        """The verified local path of one archive member, extracting the archive (into the
        cache) if needed."""
        if member not in archive.members:
            raise KeyError(f"{member!r} is not a declared member of {archive.file.path}")
        rel = archive.member_path(member)
        located = self._locate(rel, archive.members[member])
        if located is None:
            try:
                source, _ = self._ensure(archive.file)  # not recorded: the members are what a result reads
            except DataError as error:
                raise DataError(f"{error} (or put the extracted member {member} at {self._cache / rel})") from None
            self._extract(archive, source)
            located = self._locate(rel, archive.members[member])
            if located is None:  # pragma: no cover - the archive's checksum matched, so this is a plugin bug
                raise DataError(f"{archive.file.path}: member {member} does not match its checksum")
        path, found = located
        self._record(rel, found, f"{archive.file.url}#{member}")
        return path

    def _ensure(self, file: RemoteFile) -> tuple[pathlib.Path, _Digest]:
        located = self._locate(file.path, file.md5, file.sha256)
        if located is not None:
            return located
        path = _unlinked(self._cache, self._cache / file.path)
        return path, self._download(file, path)

    # -- verification ------------------------------------------------------------------------
    def _locate(self, rel: str, md5: str, sha256: str | None = None) -> tuple[pathlib.Path, _Digest] | None:
        """The first verified copy of ``rel``: in the mirrors (never touched), then in the cache
        (where a corrupt copy is removed, to be fetched again)."""
        for folder in (*self._mirrors, self._cache):
            path = folder / rel
            found = self._verify(path, md5, sha256)
            if found is not None:
                return path, found
            if folder == self._cache and path.is_file() and writable(path.parent):
                path.unlink(missing_ok=True)  # ours and corrupt: fetch it again
        return None

    def _verify(self, path: pathlib.Path, md5: str, sha256: str | None = None) -> _Digest | None:
        """The file's digest if it exists and matches; a mismatch is logged and remembered."""
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        found = self._verified.get(key) or digest(path)
        if found.md5 == md5.lower() and (sha256 is None or found.sha256 == sha256.lower()):
            self._verified[key] = found
            return found
        self.log(f"data: {path} does not match its checksum (md5 {found.md5}, expected {md5}); not used")
        for folder in (*self._mirrors, self._cache):
            if folder in path.parents:
                self._corrupt[str(path.relative_to(folder))] = f"{path} is corrupt (md5 {found.md5})"
        return None

    def _record(self, rel: str, found: _Digest, url: str) -> None:
        self.used[rel] = {"md5": found.md5, "sha256": found.sha256, "bytes": found.size, "url": url}

    # -- download ----------------------------------------------------------------------------
    def _missing(self, file: RemoteFile, path: pathlib.Path, why: str) -> DataError:
        """One message with everything a person needs: the file, why, its URL, its checksum and
        the folder to put it in (runners show the first line only, so it is one line)."""
        corrupt = self._corrupt.get(file.path)
        state = f"{corrupt}, and {why}" if corrupt else f"not in {self._where()}, and {why}"
        return DataError(f"{file.path}: {state}; download {file.url} (md5 {file.md5}) and put it in {path.parent}")

    def _where(self) -> str:
        folders = [*self._mirrors, self._cache]
        return " or ".join(str(f) for f in folders)

    def _download(self, file: RemoteFile, path: pathlib.Path) -> _Digest:
        if self.offline:
            raise self._missing(file, path, "downloads are off (offline)")
        if not writable(path.parent):
            raise self._missing(
                file, path, f"the download cache {self._cache} is read-only (set BENCH_CACHE_DIR to a writable folder)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tag_cache()
        failures = []
        for attempt in range(1, self.retries + 1):
            for url in file.urls:
                try:
                    return self._download_once(url, file, path)
                except (OSError, urllib.error.URLError, DataError) as error:
                    failures.append(f"attempt {attempt}, {url}: {error}")
                    self.log(f"data: {failures[-1]}")
            if attempt < self.retries:
                time.sleep(min(2**attempt, 30))
        raise self._missing(file, path, f"{len(failures)} download attempts failed (last: {failures[-1]})")

    def _tag_cache(self) -> None:
        tag = self._cache / CACHE_TAG
        if not tag.exists():
            self._cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tag.", suffix=".part", dir=self._cache)
            with os.fdopen(fd, "w") as out:
                out.write(_CACHE_TAG_TEXT)
            os.chmod(tmp, 0o644)
            os.replace(tmp, tag)

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
    def _extract(self, archive: Archive, source: pathlib.Path) -> None:
        """Extract every declared member into the cache (the archive itself may be in a mirror);
        refuse archives with entries that could escape."""
        folder = self._cache / pathlib.PurePosixPath(archive.file.path).parent
        if not writable(folder):
            raise DataError(
                f"the download cache {self._cache} is read-only, so {source.name} cannot be extracted into "
                f"{folder}; extract its members {', '.join(archive.members)} there, or set BENCH_CACHE_DIR "
                "to a writable folder"
            )
        self._tag_cache()
        self.log(f"data: extracting {source}")
        wanted = dict(archive.members)
        with tarfile.open(source) as tar:
            for entry in tar:
                name = entry.name
                parts = pathlib.PurePosixPath(name).parts
                if name.startswith("/") or ".." in parts or entry.issym() or entry.islnk() or entry.isdev():
                    raise DataError(f"{source}: unsafe archive entry {name!r} (refusing to extract)")
                if not entry.isfile() or not name.startswith(archive.strip):
                    continue
                member = name[len(archive.strip) :]
                if member not in wanted:
                    continue
                target = _unlinked(self._cache, self._cache / archive.member_path(member))
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
                try:
                    with os.fdopen(fd, "wb") as out:
                        data = tar.extractfile(entry)
                        assert data is not None, "a regular file (checked above) has its data"
                        with data:
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
