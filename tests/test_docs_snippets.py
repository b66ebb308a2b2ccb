"""The documentation's code cannot rot: every ``.. code-block:: python``
in docs/**/*.rst runs here, the blocks of a page in order in one namespace
(so a page reads like one session), in a temporary directory.

Pages say what they check with plain ``assert`` lines next to the numbers
they describe, so a behaviour that changes fails here, not only code that
no longer runs. Blocks in other languages (bash, text) are not run.
"""
import importlib.util
import re
import warnings
from pathlib import Path

import pytest

from gmscore import (ConvergenceWarning, DegenerateComponentWarning,
                     LikelihoodDecreaseWarning)

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if not {"_build", "_templates"} & set(p.parts)
               and "generated" not in p.parts)
# optional packages a page may import (test extras); a page whose imports
# are missing is skipped with the reason, never silently passed
OPTIONAL = ("sklearn", "hmmlearn", "pandas", "polars", "pyarrow", "dask", "distributed",
            "h5py", "zarr")

_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block::\s*(\S+)\s*$")


def python_blocks(text):
    """[(first line number, dedented code)] of the page's python blocks."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        i += 1
        if not m:
            continue
        indent, language = len(m.group(1)), m.group(2)
        while i < len(lines) and re.match(r"^\s+:\w[\w-]*:", lines[i]):  # options
            i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
        body, start = [], i + 1
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        if language not in ("python", "py"):
            continue
        pad = min(len(b) - len(b.lstrip()) for b in body if b.strip())
        blocks.append((start, "\n".join(b[pad:] for b in body) + "\n"))
    return blocks


def test_extractor_reads_blocks_and_options():
    text = ("Title\n\n.. code-block:: python\n   :caption: x\n\n   a = 1\n\n"
            "   b = a + 1\n\ntext\n\n.. code-block:: bash\n\n   ls\n\n"
            ".. note::\n\n   .. code-block:: python\n\n      c = 3\n\n   after\n")
    blocks = python_blocks(text)
    assert [code for _, code in blocks] == ["a = 1\n\nb = a + 1\n", "c = 3\n"]
    assert [start for start, _ in blocks] == [6, 20]


def test_pages_have_code():
    """The pages this suite is meant to guard exist and hold python blocks
    (an extractor that found nothing would make every page pass)."""
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    for page in ("getting_started.rst", "guide/mixtures.rst", "guide/hmms.rst",
                 "guide/persistence.rst", "coming_from_sklearn.rst",
                 "coming_from_hmmlearn.rst"):
        assert page in names, page
        assert python_blocks((DOCS / page).read_text("utf-8")), page


def test_api_reference_lists_every_public_name():
    """Every name of ``gmscore.__all__`` has an entry in the API reference
    (autosummary under ``.. currentmodule:: gmscore``), so a new public name
    cannot go undocumented."""
    import gmscore

    text = (DOCS / "api" / "index.rst").read_text("utf-8")
    listed = set(re.findall(r"^   ([A-Za-z_][\w.]*)\s*$", text, re.M))
    missing = sorted(set(gmscore.__all__) - {"__version__"} - listed)
    assert not missing, f"add these public names to docs/api/index.rst: {missing}"


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p.read_text("utf-8"))],
                         ids=lambda p: p.relative_to(DOCS).as_posix())
def test_page_snippets_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page.read_text("utf-8"))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    for line, code in blocks:
        where = f"{page.relative_to(DOCS)}:{line}"
        for name in OPTIONAL:   # the blocks before this one have run
            if re.search(rf"^\s*(import|from)\s+{name}\b", code, re.M) \
                    and importlib.util.find_spec(name) is None:
                pytest.skip(f"{where} and what follows need {name}, which is not installed")
        with warnings.catch_warnings():
            # gmscore's own warnings are errors unless the page catches them:
            # an example that warns by accident is a broken example
            for category in (ConvergenceWarning, DegenerateComponentWarning,
                             LikelihoodDecreaseWarning):
                warnings.simplefilter("error", category)
            try:
                # padded so that tracebacks give the page's own line numbers
                exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
            except Exception as exc:   # name the block, keep the traceback
                raise AssertionError(f"the code block at {where} failed: {exc!r}") from exc
