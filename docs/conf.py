"""Sphinx configuration of the mgclassifier documentation.

``make docs`` builds it into ``docs/_build/html`` with every warning an error
(``sphinx-build -W``). The API reference is generated from the docstrings
(autosummary + numpydoc), the user guide is Markdown (MyST), the examples are
``examples/plot_*.py`` scripts that sphinx-gallery runs at build time.
"""

import os
import re
import sys
import urllib.request
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

import mgclassifier

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

project = "mgclassifier"
author = "The mgclassifier developers"
copyright = "the mgclassifier developers, BSD-3-Clause"  # noqa: A001
release = mgclassifier.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_templates", "auto_examples/*.ipynb", "**.ipynb"]
templates_path = ["_templates"]

# The API pages: one page per public object, written by autosummary from the
# public import paths (mgclassifier.X), never from a private module.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True


def _skip_member(app, what, name, obj, skip, options):
    """Leave out what scikit-learn adds to every estimator for metadata
    routing (``set_fit_request`` and the like): documented by scikit-learn."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


# ARCHITECTURE.md, CHANGELOG.md and benchmarks/README.md render in the site as
# they are (each page includes its file). Their links to the results files
# (benchmarks/results/*.md, *.png) become MyST `path:` links, which copy each
# file into the built site (a missing one is a warning); their links to each
# other point at the page that includes the file.
INCLUDED_PAGES = {
    "ARCHITECTURE.md": "architecture.md",
    "CHANGELOG.md": "changelog.md",
    "benchmarks/README.md": "benchmarks.md",
}


def _link_included_files(app, relative_path, parent_docname, content):
    text = content[0]
    folder = (DOCS / relative_path).resolve().parent
    prefix = os.path.relpath(folder, DOCS)
    text = re.sub(r"\]\((results/[^)#\s]+)\)", rf"](path:{prefix}/\1)", text)
    for source, page in INCLUDED_PAGES.items():
        target = os.path.relpath(ROOT / source, folder)
        text = text.replace(f"]({target})", f"]({page})")
        text = text.replace(f"]({target}#", f"]({page}#")
    content[0] = text


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("include-read", _link_included_files)


# MyST: the user guide, ARCHITECTURE.md, CHANGELOG.md, benchmarks/README.md.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# The example gallery. sphinx-gallery runs the examples in this process: one
# thread for torch and for BLAS, because on a 2-core machine shared with other
# work their threads wait on each other (a default ImCLEF07A fit then takes
# several times longer; see the user guide's Training page).
torch.set_num_threads(1)
threadpool_limits(1)

# The example gallery. Each example runs at build time and its figures are
# embedded in its page; the back-references put "Examples using X" on the
# API pages.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("mgclassifier",),
    "backreferences_dir": "gen_modules/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "abort_on_example_error": True,
    "show_memory": False,
    "within_subsection_order": "ExampleTitleSortKey",  # "A first fit" first
}

html_theme = "pydata_sphinx_theme"
html_title = f"mgclassifier {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": []}
html_favicon = "_static/favicon.svg"  # else browsers ask for a missing /favicon.ico
# The theme's colours on a first visit; without it the theme's script logs an
# error on every page ("Got invalid theme mode").
html_context = {"default_mode": "light"}


# Intersphinx: links into scikit-learn's, numpy's, torch's and skorch's
# documentation. Their inventories (objects.inv) are on their web sites and no
# installed package ships them, so a build without access to those sites
# cannot have them. Each inventory is fetched once into
# docs/_build/intersphinx/ (a cache the next build reads); where it cannot be
# fetched, that project is left out of intersphinx_mapping, its names render
# as plain code instead of links, and the build says so: intersphinx itself
# would warn, and -W would fail an offline build for a missing link.
# MGC_DOCS_INTERSPHINX=require makes a missing inventory an error (a build
# that is published), =off fetches nothing.
INTERSPHINX_PROJECTS = {
    "python": "https://docs.python.org/3/",
    "sklearn": "https://scikit-learn.org/stable/",
    "numpy": "https://numpy.org/doc/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "skorch": "https://skorch.readthedocs.io/en/stable/",
}
INTERSPHINX_CACHE = DOCS / "_build" / "intersphinx"
intersphinx_timeout = 10


def _inventory(name, url, mode):
    """The local path of ``name``'s objects.inv, fetched if need be, or None."""
    path = INTERSPHINX_CACHE / f"{name}-objects.inv"
    if path.is_file() or mode == "off":
        return path if path.is_file() else None
    try:
        with urllib.request.urlopen(f"{url}objects.inv", timeout=10) as response:
            data = response.read()
    except OSError as exc:
        print(f"intersphinx: {name}'s inventory not fetched ({exc})", file=sys.stderr)
        return None
    INTERSPHINX_CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# Every cross-reference must resolve (nitpicky), except those into a project
# whose inventory is missing, which render as plain code.
nitpicky = True
nitpick_ignore_regex = []
PACKAGES = {
    "python": r"(builtins|int|float|str|bool|dict|list|tuple|None)",
    "sklearn": r"sklearn",
    "numpy": r"(numpy|np)",
    "torch": r"torch",
    "skorch": r"skorch",
}


def _intersphinx_mapping():
    mode = os.environ.get("MGC_DOCS_INTERSPHINX", "auto")
    mapping, missing = {}, []
    for name, url in INTERSPHINX_PROJECTS.items():
        path = _inventory(name, url, mode)
        if path is None:
            missing.append(name)
            nitpick_ignore_regex.append((r"py:.*", rf"{PACKAGES[name]}(\..*)?"))
        else:
            mapping[name] = (url, str(path))
    if missing:
        message = (
            f"intersphinx: no inventory for {', '.join(missing)}: "
            "their names render as plain code, not as links"
        )
        if mode == "require":
            raise RuntimeError(message + " (MGC_DOCS_INTERSPHINX=require)")
        print(message, file=sys.stderr)
    return mapping


intersphinx_mapping = _intersphinx_mapping()
