"""The report site: ``bench report RESULTS -o report/`` writes one static folder (leaderboards,
plots, pictures, a page per row's records) built from the result records alone.

- :mod:`bench.html.collect`: records -> tables of rows, published numbers, baseline verdicts
  (the numbers are :mod:`bench.report`'s, the verdicts :mod:`bench.compare`'s)
- :mod:`bench.html.plots`: quality against throughput with its Pareto front, per-seed spread,
  training curves, PSNR-by-iteration curves (matplotlib, SVG)
- :mod:`bench.html.images`: restoration side-by-side pictures and the methods' own pictures
- :mod:`bench.html.page`: the HTML; :mod:`bench.html.assets`: inline CSS and the sorting script
- :mod:`bench.html.site`: :func:`build`, which writes the folder
"""

from bench.html.site import MARKER, Site, SiteError, build

__all__ = ["build", "Site", "SiteError", "MARKER"]
