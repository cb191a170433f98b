"""The data directory: downloads over real HTTP (a local server), checksums, retries, mirrors,
offline errors and safe extraction."""

import hashlib
import http.server
import io
import os
import pathlib
import tarfile
import threading

import pytest

from bench.data.store import CACHE_TAG, Archive, DataError, DataStore, RemoteFile

PAYLOAD = b"real bytes " * 1000
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class Server:
    """Serves ``files`` (path -> bytes or a list of bytes served in turn); counts requests."""

    def __init__(self):
        self.files: dict[str, object] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                body = server.files.get(self.path)
                if isinstance(body, list):
                    body = body[min(server.hits[self.path], len(body)) - 1]
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)  # retries back off; not in tests
    return DataStore(tmp_path / "data", offline=False, retries=2, log=lambda text: None)


def leftovers(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part"))


def test_download_is_verified_written_and_recorded(server, store):
    server.files["/a.bin"] = PAYLOAD
    path = store.fetch(RemoteFile("set/a.bin", server.url + "/a.bin", MD5))
    assert path == store.root / "set" / "a.bin" and path.read_bytes() == PAYLOAD
    assert store.used["set/a.bin"]["md5"] == MD5 and store.used["set/a.bin"]["bytes"] == len(PAYLOAD)
    store.fetch(RemoteFile("set/a.bin", server.url + "/a.bin", MD5))
    assert server.hits["/a.bin"] == 1, "a verified file is downloaded once"


def test_corrupt_download_is_detected_and_retried(server, store):
    server.files["/a.bin"] = [b"truncated", PAYLOAD]
    path = store.fetch(RemoteFile("a.bin", server.url + "/a.bin", MD5))
    assert path.read_bytes() == PAYLOAD and server.hits["/a.bin"] == 2
    assert leftovers(store.root) == []


def test_a_download_that_never_verifies_fails_and_leaves_nothing(server, store):
    server.files["/a.bin"] = b"wrong"
    with pytest.raises(DataError, match="checksum mismatch") as error:
        store.fetch(RemoteFile("a.bin", server.url + "/a.bin", MD5))
    assert "attempt 2" in str(error.value)
    assert not (store.root / "a.bin").exists() and leftovers(store.root) == []


def test_mirrors_are_tried_when_the_canonical_url_fails(server, store):
    server.files["/mirror/a.bin"] = PAYLOAD
    path = store.fetch(RemoteFile("a.bin", server.url + "/gone/a.bin", MD5, mirrors=(server.url + "/mirror/a.bin",)))
    assert path.read_bytes() == PAYLOAD and server.hits["/gone/a.bin"] == 1


def test_a_corrupt_cached_file_is_replaced(server, store):
    server.files["/a.bin"] = PAYLOAD
    (store.root / "a.bin").parent.mkdir(parents=True)
    (store.root / "a.bin").write_bytes(PAYLOAD[:-1] + b"!")
    assert store.fetch(RemoteFile("a.bin", server.url + "/a.bin", MD5)).read_bytes() == PAYLOAD
    assert server.hits["/a.bin"] == 1


def test_offline_missing_file_names_file_url_and_directory(tmp_path):
    store = DataStore(tmp_path / "data", offline=True)
    with pytest.raises(DataError) as error:
        store.fetch(RemoteFile("mnist/x.gz", "https://example.org/x.gz", MD5))
    text = str(error.value)
    assert "mnist/x.gz" in text and "https://example.org/x.gz" in text and str(tmp_path / "data" / "mnist") in text


def test_offline_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "env-data"))
    store = DataStore()
    assert store.offline and store.root == tmp_path / "env-data"


@pytest.fixture
def mirror(tmp_path):
    folder = tmp_path / "mirror" / "set"
    folder.mkdir(parents=True)
    (folder / "a.bin").write_bytes(PAYLOAD)
    (folder / "a.bin").chmod(0o444)
    folder.chmod(0o555)
    yield folder.parent
    folder.chmod(0o755)


def test_a_read_only_mirror_is_used_in_place(mirror, server):
    before = sorted(mirror.rglob("*"))
    store = DataStore(mirror, offline=False, log=lambda text: None)
    path = store.fetch(RemoteFile("set/a.bin", server.url + "/a.bin", MD5))
    assert path == mirror / "set" / "a.bin" and server.hits == {}
    assert sorted(mirror.rglob("*")) == before


def test_a_mirror_is_never_modified_even_when_writable(mirror, server, tmp_path):
    """root may write in a 0755 folder: the permission bits must not decide what a mirror is."""
    (mirror / "set").chmod(0o755)
    (mirror / "set" / "a.bin").chmod(0o644)
    (mirror / "set" / "a.bin").write_bytes(b"corrupt")
    server.files["/a.bin"] = PAYLOAD
    cache = tmp_path / "cache"
    store = DataStore(mirror, offline=False, cache=cache, log=lambda text: None)
    assert store.mirrors == (mirror.resolve(),) and store.cache == cache.resolve()
    assert store.fetch(RemoteFile("set/a.bin", server.url + "/a.bin", MD5)) == cache.resolve() / "set" / "a.bin"
    assert store.fetch(RemoteFile("set/b.bin", server.url + "/a.bin", MD5)).read_bytes() == PAYLOAD
    assert (mirror / "set" / "a.bin").read_bytes() == b"corrupt", "the mirror's file is left alone"
    assert sorted(p.name for p in (mirror / "set").iterdir()) == ["a.bin"], "nothing is written in a mirror"
    assert (cache / CACHE_TAG).is_file() and not (mirror / CACHE_TAG).exists()


def test_a_folder_of_files_without_a_tag_is_a_mirror_and_the_default_cache_takes_downloads(
    mirror, monkeypatch, tmp_path
):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "env-cache"))
    store = DataStore(mirror)
    assert store.root == mirror.resolve() and store.cache == (tmp_path / "env-cache").resolve()
    tagged = tmp_path / "tagged"
    tagged.mkdir()
    (tagged / "old.bin").write_bytes(b"x")
    (tagged / CACHE_TAG).write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    assert DataStore(tagged).cache == tagged.resolve() and DataStore(tagged).mirrors == ()
    monkeypatch.setenv("BENCH_MIRRORS", f"{mirror}{os.pathsep}{tmp_path / 'other'}")
    assert DataStore(tagged).mirrors == (mirror.resolve(), (tmp_path / "other").resolve())


def test_offline_corrupt_mirror_file_says_what_is_wrong_and_where_a_good_copy_goes(mirror, tmp_path):
    (mirror / "set").chmod(0o755)
    (mirror / "set" / "a.bin").chmod(0o644)
    (mirror / "set" / "a.bin").write_bytes(b"corrupt")
    store = DataStore(mirror, offline=True, cache=tmp_path / "cache", log=lambda text: None)
    with pytest.raises(DataError) as error:
        store.fetch(RemoteFile("set/a.bin", "https://example.org/a.bin", MD5))
    text = str(error.value)
    assert "\n" not in text, "one line: the console and the record show the same message"
    assert "is corrupt" in text and str(mirror / "set" / "a.bin") in text and "offline" in text
    assert "https://example.org/a.bin" in text and MD5 in text and str((tmp_path / "cache" / "set").resolve()) in text
    assert (mirror / "set" / "a.bin").read_bytes() == b"corrupt"


def test_offline_corrupt_cached_file_is_reported_as_corrupt_not_missing(tmp_path):
    store = DataStore(tmp_path / "data", offline=True, log=lambda text: None)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.bin").write_bytes(b"truncated")
    with pytest.raises(DataError, match="is corrupt .*downloads are off"):
        store.fetch(RemoteFile("a.bin", "https://example.org/a.bin", MD5))


def test_a_failed_download_is_one_message_with_file_url_checksum_and_folder(server, store):
    with pytest.raises(DataError) as error:
        store.fetch(RemoteFile("mnist/t10k.gz", server.url + "/missing.gz", MD5))
    text = str(error.value)
    assert "\n" not in text and "2 download attempts failed" in text and "404" in text
    assert text.startswith("mnist/t10k.gz:") and server.url + "/missing.gz" in text and MD5 in text
    assert str(store.root / "mnist") in text


def test_a_data_dir_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        DataStore(tmp_path / "file")


def test_an_archive_in_a_mirror_is_extracted_into_the_cache(server, tmp_path):
    tar = make_tar([("set-py/a", tarfile.REGTYPE, b"A")])
    archive = archive_for(server, tar, {"a": b"A"})
    mirror = tmp_path / "mirror"
    (mirror / "set").mkdir(parents=True)
    (mirror / "set" / "set.tar.gz").write_bytes(tar)
    store = DataStore(mirror, offline=True, cache=tmp_path / "cache", log=lambda text: None)
    assert store.fetch_member(archive, "a") == (tmp_path / "cache" / "set" / "a").resolve()
    assert sorted(p.name for p in (mirror / "set").iterdir()) == ["set.tar.gz"] and server.hits == {}


def make_tar(entries: list[tuple[str, bytes, bytes]]) -> bytes:
    """entries: (name, type, payload-or-linkname)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                info.linkname = payload.decode()
                tar.addfile(info)
    return buffer.getvalue()


def archive_for(server, tar: bytes, members: dict[str, bytes]) -> Archive:
    server.files["/set.tar.gz"] = tar
    return Archive(
        RemoteFile("set/set.tar.gz", server.url + "/set.tar.gz", hashlib.md5(tar).hexdigest()),
        members={m: hashlib.md5(b).hexdigest() for m, b in members.items()},
        strip="set-py/",
    )


def test_archive_members_are_extracted_once_and_verified(server, store):
    tar = make_tar(
        [
            ("set-py/a", tarfile.REGTYPE, b"A"),
            ("set-py/b", tarfile.REGTYPE, b"B"),
            ("set-py/readme", tarfile.REGTYPE, b"unused"),
        ]
    )
    archive = archive_for(server, tar, {"a": b"A", "b": b"B"})
    assert store.fetch_member(archive, "a").read_bytes() == b"A"
    assert store.fetch_member(archive, "b").read_bytes() == b"B"
    assert server.hits["/set.tar.gz"] == 1
    assert not (store.root / "set" / "readme").exists(), "only declared members are extracted"
    assert "set/a" in store.used and store.used["set/a"]["url"].endswith("#a")


@pytest.mark.parametrize(
    "entry",
    [
        ("../../escape", tarfile.REGTYPE, b"x"),
        ("/tmp/absolute-escape", tarfile.REGTYPE, b"x"),
        ("set-py/a", tarfile.SYMTYPE, b"/etc/passwd"),
    ],
)
def test_unsafe_archives_are_refused(server, store, tmp_path, entry):
    tar = make_tar([entry, ("set-py/a", tarfile.REGTYPE, b"A")])
    archive = archive_for(server, tar, {"a": b"A"})
    with pytest.raises(DataError, match="unsafe archive entry"):
        store.fetch_member(archive, "a")
    assert not (tmp_path / "escape").exists() and not (store.root / "set" / "a").exists()


def test_extraction_refuses_a_folder_linked_outside_the_cache(tmp_path):
    tar = make_tar([("set-py/a", tarfile.REGTYPE, b"A")])
    archive = Archive(
        RemoteFile("set/set.tar.gz", "https://example.org/set.tar.gz", hashlib.md5(tar).hexdigest()),
        members={"a": hashlib.md5(b"A").hexdigest()},
        strip="set-py/",
    )
    mirror, cache, outside = tmp_path / "mirror", tmp_path / "cache", tmp_path / "outside"
    (mirror / "set").mkdir(parents=True)
    (mirror / "set" / "set.tar.gz").write_bytes(tar)
    outside.mkdir()
    cache.mkdir()
    os.symlink(outside, cache / "set")
    store = DataStore(mirror, offline=True, cache=cache, log=lambda text: None)
    with pytest.raises(DataError, match=r"cache/set is a symbolic link"):
        store.fetch_member(archive, "a")
    assert not [p for p in outside.rglob("*")]


def test_offline_missing_member_says_where_the_archive_or_member_goes(tmp_path):
    archive = Archive(RemoteFile("c/c.tar.gz", "https://example.org/c.tar.gz", MD5), {"batch": MD5}, strip="c/")
    with pytest.raises(DataError) as error:
        DataStore(tmp_path, offline=True).fetch_member(archive, "batch")
    text = str(error.value)
    assert "https://example.org/c.tar.gz" in text and f"put it in {tmp_path / 'c'}" in text
    assert str(tmp_path / "c" / "batch") in text and "\n" not in text


def test_declarations_reject_paths_outside_the_data_directory():
    with pytest.raises(ValueError):
        RemoteFile("../x", "https://example.org/x", MD5)
    with pytest.raises(ValueError):
        Archive(RemoteFile("a/x.tar", "https://example.org/x", MD5), {"/etc/passwd": MD5})


def test_two_stores_downloading_at_once_both_end_with_the_verified_file(server, tmp_path):
    server.files["/a.bin"] = PAYLOAD
    stores = [DataStore(tmp_path / "data", offline=False, log=lambda text: None) for _ in range(4)]
    file = RemoteFile("a.bin", server.url + "/a.bin", MD5)
    threads = [threading.Thread(target=s.fetch, args=(file,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (tmp_path / "data" / "a.bin").read_bytes() == PAYLOAD and leftovers(tmp_path / "data") == []
    assert os.stat(tmp_path / "data" / "a.bin").st_mode & 0o777 == 0o644
