"""bench.restoration.figures: side-by-side pictures (clean, degraded, each method's restoration)
and their scores, from the records' saved images."""

import json

from PIL import Image

from bench.restoration import figures
from planted import restore_dict


def test_figures_draw_a_schema_valid_record_whose_per_image_has_no_seconds(tmp_path):
    """``seconds`` is not part of the per-image schema: a record without it still gets its picture."""
    path = tmp_path / "results" / "s" / "set5" / "dip" / "seed0-r0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(restore_dict(0)))
    folder = path.with_suffix("") / "a"
    folder.mkdir(parents=True)
    for name in ("clean", "degraded", "restored"):
        Image.new("RGB", (8, 8)).save(folder / f"{name}.png")
    written = figures.side_by_side(tmp_path / "results", tmp_path / "fig", curves=False)
    scores = json.loads(written[0].with_suffix(".json").read_text())
    assert [s["seconds"] for s in scores.values()] == [None]
