"""The standard restoration sets from the copies people have: an image is identified by its decoded
pixels, so any lossless copy in the field's layouts loads, and a missing or different one is
named with the copies accepted and the pixel checksum expected (issue 32, item 8); the real sets
load verified, and a set missing or without pinned checksums says where to get it
(bench_plugins.datasets.restoration)."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench import cli, registry
from bench.data.store import DataError, DataStore
from bench.records import ResultStore
from bench.restoration.images import decode_pixels, pixel_checksum, read_image
from bench.suite import load_suite
from bench_plugins.datasets import _restoration_manifest as manifest
from bench_plugins.datasets.restoration import load_manifest_set

SET5 = ("baby", "bird", "butterfly", "head", "woman")


def save(image: torch.Tensor, path, **options) -> None:
    array = image.numpy()
    array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path, **options)


def test_a_pixel_checksum_is_the_same_for_every_lossless_encoding_and_a_gray_image_saved_as_rgb(tmp_path):
    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(rng.integers(0, 256, (3, 7, 5), dtype=np.uint8))
    for name, options in (
        ("a.png", {}),
        ("a.bmp", {}),
        ("a.tif", {"compression": "tiff_lzw"}),
        ("b.png", {"optimize": True}),
    ):
        save(rgb, tmp_path / name, **options)
        assert pixel_checksum(decode_pixels(tmp_path / name)) == pixel_checksum(rgb)
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()  # other bytes, same pixels
    gray = rgb[:1]
    save(gray.expand(3, -1, -1).contiguous(), tmp_path / "gray-as-rgb.bmp")
    from bench.restoration.images import PinnedImage

    pinned = PinnedImage("Set", "gray", pixel_checksum(gray), ())
    assert torch.equal(pinned.matches(decode_pixels(tmp_path / "gray-as-rgb.bmp")), gray)
    assert pinned.matches(rgb) is None


def fake_set(monkeypatch, images: dict[str, torch.Tensor], folder: str = "Set14") -> dict[str, bytes]:
    """Pin ``images`` as the set's PNG files (file and pixel checksums); returns the PNG bytes."""
    import io

    files, pixels = {}, {}
    for name, image in images.items():
        buffer = io.BytesIO()
        array = image.numpy()
        Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)).save(buffer, format="PNG")
        files[f"{name}.png"] = buffer.getvalue()
        pixels[(folder, f"{name}.png")] = pixel_checksum(image)
    checksums = {f: (hashlib.md5(b).hexdigest(), hashlib.sha256(b).hexdigest()) for f, b in files.items()}
    monkeypatch.setitem(manifest.SETS, folder, ("owner/repo", "0" * 40, "CSet14", checksums))
    monkeypatch.setattr(manifest, "PIXELS", pixels)
    from bench_plugins.datasets import restoration

    monkeypatch.setattr(restoration, "PIXELS", pixels)
    return files


def test_a_bmp_copy_and_an_hr_folder_load_and_a_different_copy_is_named_with_the_pixels_expected(monkeypatch, tmp_path):
    rng = np.random.default_rng(1)
    baboon = torch.from_numpy(rng.integers(0, 256, (3, 12, 10), dtype=np.uint8))
    bridge = torch.from_numpy(rng.integers(0, 256, (1, 8, 8), dtype=np.uint8))
    fake_set(monkeypatch, {"baboon": baboon, "bridge": bridge})
    data = tmp_path / "data"
    save(baboon, data / "testsets" / "Set14" / "baboon.bmp")  # DnCNN's test sets: BMP
    save(bridge, data / "restoration" / "set14" / "HR" / "bridge.tif")  # an HR folder, another format
    store = DataStore(data, offline=True)
    images = load_manifest_set("set14", "Set14", "test", store)
    assert [(im.name, torch.equal(im.image, ref)) for im, ref in zip(images, (baboon, bridge))] == [
        ("baboon", True),
        ("bridge", True),
    ]
    assert store.used["testsets/Set14/baboon.bmp"]["pixels"] == pixel_checksum(baboon)
    assert "restoration/set14/HR/bridge.tif" in store.used

    other = baboon.clone()
    other[0, 0, 0] ^= 1  # one value off: not the image
    save(other, data / "testsets" / "Set14" / "baboon.bmp")
    with pytest.raises(DataError) as error:
        load_manifest_set("set14", "Set14", "test", DataStore(data, offline=True))
    text = str(error.value)
    assert "\n" not in text
    assert f"Set14/baboon: no copy with its pixels (pixel sha256 {pixel_checksum(baboon)})" in text
    assert "{restoration,restoration/benchmark,benchmark,testsets}/{Set14,set14}[/HR]/baboon[_GT].{png,bmp" in text
    assert f"found with other pixels: {data / 'testsets' / 'Set14' / 'baboon.bmp'}" in text
    assert "restoration/Set14/baboon.png" in text and "downloads are off" in text  # the pinned file's line


def test_an_image_without_a_recorded_pixel_checksum_says_only_its_pinned_file_is_accepted(monkeypatch, tmp_path):
    fake_set(monkeypatch, {"baboon": torch.zeros(3, 4, 4, dtype=torch.uint8)})
    monkeypatch.setattr("bench_plugins.datasets.restoration.PIXELS", {})
    with pytest.raises(DataError, match="no pixel checksum is recorded for Set14/baboon.png yet"):
        load_manifest_set("set14", "Set14", "test", DataStore(tmp_path, offline=True))


def test_the_manifest_is_package_data_with_pixel_checksums_of_the_sets_at_hand():
    rows = manifest.read_rows()
    assert len(rows) == 283 and len(manifest.SETS["Set14"][3]) == 14 and len(manifest.SETS["Urban100"][3]) == 100
    with_pixels = {row["set"] for row in rows if row["pixels"]}
    assert with_pixels == {"Set5", "Set12", "BSD68", "CBSD68", "deep-image-prior"}
    assert not any(row["pixels"] for row in rows if row["file"].endswith(".jpg"))  # a decoder's pixels


@pytest.fixture
def set5_as_png(shared_data, tmp_path):
    """Set5 as its PNG copies in the EDSR benchmark layout (woman as a TIFF in an HR folder)."""
    restoration = shared_data / "restoration"
    if not (restoration / "Set5").is_dir():
        pytest.skip(f"restoration image sets not found at {restoration}")
    data = tmp_path / "data"
    for stem in SET5:
        image = read_image(restoration / "Set5" / f"{stem}.bmp")
        if stem == "woman":
            save(image, data / "restoration" / "set5" / "HR" / f"{stem}.tif")
        else:
            save(image, data / "restoration" / "benchmark" / "Set5" / "HR" / f"{stem}.png")
    return data


@pytest.mark.real_data
def test_set5_from_other_lossless_copies_gives_the_published_bicubic_x2_through_the_host(set5_as_png, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: copies\nseeds: [0]\ndevice: cpu\nruns:\n"
        "  - {datasets: [set5], methods: [bicubic], protocol: {name: restore, task: sr, scale: 2}}\n"
    )
    results = tmp_path / "results"
    argv = ["run", str(suite), "--data-dir", str(set5_as_png), "--offline", "--results-dir", str(results), "--quiet"]
    assert cli.main(argv) == 0
    (spec,) = load_suite(suite, registry.load()).runs
    record = ResultStore(results).read(spec)
    assert abs(record.metrics["psnr"] - 33.66) <= 0.05, record.metrics
    assert sorted(record.data_files) == sorted(
        [f"restoration/benchmark/Set5/HR/{s}.png" for s in SET5[:-1]] + ["restoration/set5/HR/woman.tif"]
    )
    assert all(len(entry["pixels"]) == 64 for entry in record.data_files.values())


@pytest.mark.real_data
def test_set12_as_bmp_loads_the_same_pixels_as_its_pinned_pngs(shared_data, tmp_path):
    if not (shared_data / "restoration" / "Set12").is_dir():
        pytest.skip(f"restoration image sets not found at {shared_data / 'restoration'}")
    pinned = load_manifest_set("set12", "Set12", "test", DataStore(shared_data, offline=True))
    data = tmp_path / "data"
    for item in pinned:
        save(item.image, data / "testsets" / "Set12" / f"{item.name}.bmp")
    copies = load_manifest_set("set12", "Set12", "test", DataStore(data, offline=True))
    assert [(a.name, torch.equal(a.image, b.image)) for a, b in zip(pinned, copies)] == [
        (item.name, True) for item in pinned
    ]


# -- the sets' sources: real copies, pinned checksums, the EDSR archive ---------------------------


@pytest.fixture
def restoration_data(shared_data) -> Path:
    if not (shared_data / "restoration" / "Set5").is_dir():
        pytest.skip(f"restoration image sets not found at {shared_data / 'restoration'}")
    return shared_data


@pytest.mark.real_data
def test_restoration_sets_load_verified_with_real_sizes_and_modes(restoration_data):
    from bench_plugins.datasets.restoration import load_dip_inpainting, load_manifest_set

    store = DataStore(restoration_data, offline=True)
    set12 = load_manifest_set("set12", "Set12", "test", store)
    assert len(set12) == 12 and {im.image.shape for im in set12} == {(1, 256, 256), (1, 512, 512)}
    assert all(path.startswith("restoration/Set12/") for path in store.used)
    dip = load_dip_inpainting("test", store)
    assert [im.name for im in dip] == ["kate", "library", "vase"]
    assert dip.images[1].image.shape == (3, 448, 704) and dip.images[1].mask.shape == (1, 448, 704)
    assert 0 < dip.images[0].mask.float().mean() < 1


def test_sets_without_pinned_checksums_say_where_to_get_them(tmp_path):
    from bench.data.store import DataError
    from bench_plugins.datasets.restoration import load_local_manifest_set

    with pytest.raises(DataError, match="r0k.us"):
        load_local_manifest_set("kodak24", "Kodak24", "test", DataStore(tmp_path, offline=True))


def _png(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _small_set(rng) -> dict[str, bytes]:
    """Two PNGs in the formats the real Set14 copy holds: an RGB image and a 1-channel one."""
    return {
        "baboon.png": _png(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)),
        "bridge.png": _png(rng.integers(0, 256, (8, 8), dtype=np.uint8)),
    }


def test_set14_loads_from_its_own_image_folder_pinned_by_checksum(tmp_path, monkeypatch):
    import hashlib

    from bench_plugins.datasets import _restoration_manifest as manifest
    from bench_plugins.datasets.restoration import load_sr_set

    files = _small_set(np.random.default_rng(0))
    monkeypatch.setitem(
        manifest.SETS,
        "Set14",
        (
            "owner/repo",
            "0" * 40,
            "CSet14",
            {name: (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()) for name, data in files.items()},
        ),
    )
    folder = tmp_path / "data" / "restoration" / "Set14"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    store = DataStore(tmp_path / "data", offline=True)
    images = load_sr_set("set14", "Set14", "test", store)
    assert [(im.name, tuple(im.image.shape)) for im in images] == [("baboon", (3, 12, 10)), ("bridge", (1, 8, 8))]
    assert sorted(store.used) == ["restoration/Set14/baboon.png", "restoration/Set14/bridge.png"]
    assert (
        store.used["restoration/Set14/baboon.png"]["url"]
        == "https://raw.githubusercontent.com/owner/repo/" + "0" * 40 + "/CSet14/baboon.png"
    )


def test_set14_falls_back_to_the_edsr_archive_and_says_where_both_go_when_neither_is_there(tmp_path, monkeypatch):
    import hashlib
    import io
    import tarfile

    from bench.data.store import DataError, RemoteFile
    from bench_plugins.datasets import _restoration_manifest as manifest
    from bench_plugins.datasets import restoration
    from bench_plugins.datasets.restoration import load_sr_set

    files = _small_set(np.random.default_rng(1))
    monkeypatch.setitem(
        manifest.SETS,
        "Set14",
        (
            "owner/repo",
            "0" * 40,
            "CSet14",
            {name: (hashlib.md5(data).hexdigest(), None) for name, data in files.items()},
        ),
    )
    data = tmp_path / "data"
    with pytest.raises(DataError) as error:
        load_sr_set("set14", "Set14", "test", DataStore(data, offline=True))
    text = str(error.value)
    assert "\n" not in text and str(data / "restoration" / "Set14") in text and "edsr-benchmark.tar" in text

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(f"benchmark/Set14/HR/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    (data / "restoration").mkdir(parents=True)
    (data / "restoration" / "edsr-benchmark.tar").write_bytes(buffer.getvalue())
    monkeypatch.setattr(
        restoration,
        "EDSR_BENCHMARK",
        RemoteFile(
            "restoration/edsr-benchmark.tar",
            "https://example.org/benchmark.tar",
            hashlib.md5(buffer.getvalue()).hexdigest(),
        ),
    )
    store = DataStore(data, offline=True)
    images = load_sr_set("set14", "Set14", "test", store)
    assert [(im.name, tuple(im.image.shape)) for im in images] == [("baboon", (3, 12, 10)), ("bridge", (1, 8, 8))]
    assert list(store.used) == ["restoration/edsr-benchmark.tar"], "the record names the source that was read"


def test_sr_sets_are_pinned_to_plain_files_and_b100_says_where_its_images_go(tmp_path):
    from bench.data.store import DataError
    from bench_plugins.datasets._restoration_manifest import SETS
    from bench_plugins.datasets.restoration import load_local_or_edsr_set

    assert len(SETS["Set14"][3]) == 14 and len(SETS["Urban100"][3]) == 100
    assert SETS["Set14"][:3] == (
        "majedelhelou/denoising_datasets",
        "58234876fef6f1b56306705c78dfd40cdb837b86",
        "CSet14",
    )
    with pytest.raises(DataError) as error:
        load_local_or_edsr_set("b100", "B100", "test", DataStore(tmp_path / "data", offline=True))
    assert "MANIFEST.tsv" in str(error.value) and str(tmp_path / "data" / "restoration" / "B100") in str(error.value)
