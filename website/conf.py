"""Sphinx's settings for the course website (`make site`: course_tools.website writes the pages).

The site is built from notebooks that course_tools.website has already executed and cleared of
answers, so MyST-NB renders them as they are (nb_execution_mode "off"). It must work offline, when
built and when read: the theme bundles its own assets, MathJax is served from _static/mathjax
(copied from the sphinx-mathjax-offline package), and no widget JavaScript is loaded (the labs'
tqdm bars are turned into HTML <progress> elements before rendering).
"""
from importlib import metadata
from pathlib import Path

project = "Neural networks for sentiment analysis"
author = "the course's instructors"
copyright = "the course's instructors"

extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3            # links to a notebook's section: notebooks/04_grad.ipynb#adam
nb_execution_mode = "off"           # executed beforehand, answers cleared (course_tools.website)
nb_ipywidgets_js = {}               # no widget JavaScript from a CDN
nb_merge_streams = True
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # a notebook's first heading may be a level 2 or 3

html_theme = "sphinx_book_theme"
html_title = project
html_copy_source = False            # no _sources/: the notebooks are on the site as pages
html_show_sourcelink = False
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_static_path = ["_static"]

# MathJax 3, offline: the files that a TeX page needs, from the sphinx-mathjax-offline package.
_MATHJAX = Path(metadata.distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline/static/mathjax"))
_MATHJAX_PARTS = ["tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y"]
mathjax_path = "mathjax/tex-chtml.js"


def _copy_mathjax(app, exception):
    from sphinx.util.fileutil import copy_asset
    if exception is None:
        for part in _MATHJAX_PARTS:
            source, target = _MATHJAX / part, Path(app.outdir) / "_static" / "mathjax" / part
            if source.is_dir():
                copy_asset(str(source), str(target))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())


def setup(app):
    app.connect("build-finished", _copy_mathjax)
