"""bench.html.cdplot: average ranks across a suite's leaderboards and the critical-difference plot."""

import re

from bench.html.cdplot import choose


def test_ranks_by_image_and_the_critical_difference_plot_across_the_suites_leaderboards(planted_site):
    html = planted_site.index.read_text()
    assert "planted · across 2 leaderboards" in html
    ranks = re.search(r'id="across-planted">(.*?)</section>', html, re.S).group(1)
    assert [m for m in re.findall(r"<tr><td>([a-z]+)</td>", ranks)] == ["good", "fair", "floor"]
    svg = planted_site.root / "plots/suite-planted-critical-difference.svg"
    assert svg.is_file() and "CD = 2.34" in svg.read_text()  # q(3) = 2.343, N = 2: 2.343 * sqrt(12 / 12)
    board = html[html.index("planted · set12 · restore · denoise sigma 25") :]
    ranks = re.findall(r'<tr data-row="[^"]+"><td class="num" data-value="\d">([^<]+)</td>', board)
    assert ranks[:3] == ["1", "2", "3"]  # 12 images that all agree: significant after Holm
    assert "Wilcoxon signed-rank test by image; two-sided, Holm-corrected" in board


def test_the_cd_plot_takes_the_tables_that_share_the_most_methods(planted_site):
    tables = planted_site.report.tables
    chosen, labels = choose(tables)
    assert len(chosen) == 2 and labels == ["fair", "floor", "good"]
    assert choose(tables[:1]) == ([], [])
