"""Sphinx configuration of fastbp's documentation.

Build it with ``pip install -e ".[docs]" && python -m sphinx -W -b html docs docs/_build/html``.
The build reads no network: no intersphinx, and the example gallery runs locally (a Dask
``LocalCluster`` on this machine included).
"""

import os
from importlib.metadata import version as _version
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The examples and the studies' fits print the compile notice once per process; the gallery
# captures stderr into its pages, where it is noise. The kernels still compile (or load from the
# cache) as usual.
os.environ.setdefault("FASTBP_QUIET", "1")
# The gallery runs its scripts in this process: matplotlib draws to files (Agg), never to a display.
os.environ.setdefault("MPLBACKEND", "Agg")

# -- Project ---------------------------------------------------------------------------------------
project = "fastbp"
author = "fastbp contributors"
copyright = "fastbp contributors"
release = _version("fastbp")
version = ".".join(release.split(".")[:2])

# -- General ---------------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Markdown pages (MyST): fenced directives, ``$...$`` maths off (the pages use none), anchors for
# the headings so that ``[text](page.md#heading)`` links resolve.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- API reference ---------------------------------------------------------------------------------
# One page per public name (autosummary's stubs under api/generated/, ignored by git); numpydoc
# renders the docstrings' sections. Its own member tables are off: the class template lists the
# members with autodoc, so nothing is described twice.
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- HTML ------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fastbp {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False

# -- Example gallery -------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # every script runs at build time (its output and figures go into its page)
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "abort_on_example_error": True,
    "show_memory": False,
    "capture_repr": (),
}
