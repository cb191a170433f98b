"""bench.paths: no symbolic link followed below a folder bench owns, bounded and safe file names,
modes as the umask says."""

import os
import stat

import pytest

from bench.paths import LinkRefused, as_if_created, bounded_name, first_link, refuse_links, safe_name


def test_an_image_name_becomes_the_folder_figures_look_in_never_one_above():
    assert safe_name("kodim01") == "kodim01" and safe_name("a b!") == "a_b"
    for name in ("..", ".", "a b!", "kodim01", "", "/../x"):
        assert safe_name(name) not in ("..", ".", "") and "/" not in safe_name(name)


def test_a_long_name_is_bounded_distinct_and_keeps_its_extension():
    a, b = "x" * 300 + "a.png", "x" * 300 + "b.png"
    assert bounded_name("short.png") == "short.png"
    assert len(bounded_name(a)) == 100 and bounded_name(a).endswith(".png")
    assert bounded_name(a) != bounded_name(b)
    assert len(safe_name("y" * 1000)) <= 100


def test_a_link_below_the_root_is_found_and_refused_but_the_root_itself_may_be_one(tmp_path):
    real, outside = tmp_path / "real", tmp_path / "outside"
    (real / "a").mkdir(parents=True)
    outside.mkdir()
    root = tmp_path / "root"
    os.symlink(real, root)  # the folder itself: the user's choice
    assert first_link(root, root / "a" / "b.json") is None
    assert refuse_links(root, root / "a" / "b.json") == root / "a" / "b.json"
    os.symlink(outside, root / "a" / "link")
    assert first_link(root, root / "a" / "link" / "deeper" / "c.json") == root / "a" / "link"
    with pytest.raises(LinkRefused, match=r"a/link is a symbolic link"):
        refuse_links(root, root / "a" / "link" / "c.json")


def test_a_file_made_private_gets_the_mode_open_would_have_given(tmp_path):
    path, folder = tmp_path / "f", tmp_path / "d"
    path.write_text("")
    folder.mkdir()
    os.chmod(path, 0o600)
    os.chmod(folder, 0o700)
    old = os.umask(0o022)
    try:
        as_if_created(path)
        as_if_created(folder, directory=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and stat.S_IMODE(folder.stat().st_mode) == 0o755
