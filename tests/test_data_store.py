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

from bench.data.store import Archive, DataError, DataStore, RemoteFile

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


def test_a_read_only_mirror_is_never_modified(mirror, server):
    (mirror / "set").chmod(0o755)
    (mirror / "set" / "a.bin").chmod(0o644)
    (mirror / "set" / "a.bin").write_bytes(b"corrupt")
    (mirror / "set").chmod(0o555)
    server.files["/a.bin"] = PAYLOAD
    store = DataStore(mirror, offline=False, log=lambda text: None)
    with pytest.raises(DataError, match="read-only"):
        store.fetch(RemoteFile("set/a.bin", server.url + "/a.bin", MD5))
    with pytest.raises(DataError, match="read-only"):
        store.fetch(RemoteFile("set/b.bin", server.url + "/a.bin", MD5))
    assert (mirror / "set" / "a.bin").read_bytes() == b"corrupt" and server.hits == {}
    assert not (mirror / "set" / "b.bin").exists()


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
    tar = make_tar([("set-py/a", tarfile.REGTYPE, b"A"), ("set-py/b", tarfile.REGTYPE, b"B"),
                    ("set-py/readme", tarfile.REGTYPE, b"unused")])
    archive = archive_for(server, tar, {"a": b"A", "b": b"B"})
    assert store.fetch_member(archive, "a").read_bytes() == b"A"
    assert store.fetch_member(archive, "b").read_bytes() == b"B"
    assert server.hits["/set.tar.gz"] == 1
    assert not (store.root / "set" / "readme").exists(), "only declared members are extracted"
    assert "set/a" in store.used and store.used["set/a"]["url"].endswith("#a")


@pytest.mark.parametrize("entry", [
    ("../../escape", tarfile.REGTYPE, b"x"),
    ("/tmp/absolute-escape", tarfile.REGTYPE, b"x"),
    ("set-py/a", tarfile.SYMTYPE, b"/etc/passwd"),
])
def test_unsafe_archives_are_refused(server, store, tmp_path, entry):
    tar = make_tar([entry, ("set-py/a", tarfile.REGTYPE, b"A")])
    archive = archive_for(server, tar, {"a": b"A"})
    with pytest.raises(DataError, match="unsafe archive entry"):
        store.fetch_member(archive, "a")
    assert not (tmp_path / "escape").exists() and not (store.root / "set" / "a").exists()


def test_offline_missing_member_says_where_the_archive_or_member_goes(tmp_path):
    archive = Archive(RemoteFile("c/c.tar.gz", "https://example.org/c.tar.gz", MD5), {"batch": MD5}, strip="c/")
    with pytest.raises(DataError) as error:
        DataStore(tmp_path, offline=True).fetch_member(archive, "batch")
    text = str(error.value)
    assert "https://example.org/c.tar.gz" in text and str(tmp_path / "c" / "c.tar.gz") in text
    assert str(tmp_path / "c" / "batch") in text


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
