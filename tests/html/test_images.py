"""bench.html.images: the pictures the runs saved, copied beside the page by kind, and a listed picture
that is missing said, not drawn."""

import re
import shutil

from bench import cli


def test_the_pictures_are_files_beside_the_page_grouped_by_kind_and_captioned(site):
    html = site.index.read_text()
    pngs = [s for s in re.findall(r'<img src="([^"]+)"', html) if s.endswith(".png")]
    assert pngs and all((site.root / s).is_file() for s in pngs)
    assert len([s for s in pngs if "/restoration/" in s]) == 4  # 2 images x (sr x2, denoise)
    fractals = [s for s in pngs if "/fractal/" in s]
    assert len(fractals) == 12  # 4 pictures x 3 seeds of toy-painter
    assert "The fractal and its perturbations" in html and "perturbation 3" in html
    assert re.search(r"gray: .*dip \(denoise_iterations=4\): [\d.]+ dB / [\d.]+", html)  # PSNR captions


def test_a_listed_picture_that_is_missing_is_said_not_drawn(results, tmp_path, capsys):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    victim = next(copy.rglob("images/fractal/perturbed-2.png"))
    victim.unlink()
    assert cli.main(["report", str(copy), "-o", str(tmp_path / "site"), "--suite", "board"]) == 0
    assert "missing: toy-painter seed" in capsys.readouterr().err
    assert "missing from the results folder" in (tmp_path / "site" / "index.html").read_text()
