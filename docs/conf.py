"""Sphinx configuration for the gmscore documentation.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(``pip install '.[docs]'`` first). Nothing here needs the network: no
intersphinx, no remote images, and no example is executed during the build
(tests/test_docs_snippets.py runs the pages' code blocks instead).
"""
import importlib.util
import os
import sys

# Document the installed (compiled) package: drop the repository root from
# the path if it is there (``python -m sphinx`` run from the root puts it
# first), so the source tree without its extension modules cannot shadow it.
_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _root]

import gmscore  # noqa: E402

project = "gmscore"
author = "the gmscore developers"
copyright = "the gmscore developers"
release = gmscore.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]

# gmscore.dask imports dask at import time; the docs extra does not pull it
# in, so without it the module is documented against a stand-in
autodoc_mock_imports = [m for m in ("dask", "distributed")
                        if importlib.util.find_spec(m) is None]

# autosummary writes one stub page per public name into api/generated
# (regenerated on every build; not committed)
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"

# numpydoc lists methods and attributes itself; autosummary tables of
# class members would point at pages that are not generated
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

templates_path = ["_templates"]
exclude_patterns = ["_build"]
default_role = "literal"
nitpicky = False

html_theme = "furo"
html_title = f"gmscore {release}"
html_static_path = []
html_show_sourcelink = False
