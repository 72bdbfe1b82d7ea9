"""The Python examples of the README and of the user guide run as written.

Each page's blocks run in order in a namespace of their own, so a page never
leans on another page's names; a python block followed directly by a
```text block must print that text. The README's quickstart is the first
block of the getting-started page, word for word, so it runs (in a fresh
namespace) there rather than twice.
"""

import contextlib
import io
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
USER_GUIDE = ROOT / "docs" / "user_guide"
PAGES = [README, *sorted(USER_GUIDE.glob("*.md"))]
GUIDE_PAGES = PAGES[1:]  # the README's one block runs with getting_started.md


def python_blocks(page):
    """``(code, expected output or None)`` of each python block, in order."""
    pattern = r"```python\n(.*?)```(?:\s*```text\n(.*?)```)?"
    return re.findall(pattern, page.read_text(), flags=re.DOTALL)


def page_id(page):
    return str(page.relative_to(ROOT))


def test_the_pages_have_examples():
    blocks = {page.name: python_blocks(page) for page in PAGES}
    assert blocks["README.md"], "the README's quickstart"
    for name in ("getting_started.md", "taxonomies.md", "text.md", "saving.md"):
        assert blocks[name], name
    everything = [block for page in blocks.values() for block in page]
    assert len(everything) >= 15
    assert any("min_path_probability" in code and out for code, out in everything)
    assert any(
        "module=TinyCNN" in code and "module__n_filters" in code
        for code, _ in everything
    )


def test_the_readme_is_a_front_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    # The two set-up commands come first.
    assert text.splitlines()[2:6] == [
        "```bash",
        "make demo   # sets up .venv (torch first, see below), trains on ImCLEF07A,"
        " prints the results table",
        "make test   # sets up .venv, runs the whole test suite",
        "```",
    ]
    # The parameters are described in the docstrings, not in a table here.
    assert "| `hidden_layer_sizes` |" not in text


def test_the_readme_quickstart_is_the_getting_started_one():
    (readme_block,) = python_blocks(README)
    assert python_blocks(USER_GUIDE / "getting_started.md")[0] == readme_block


def run_page(page, tmp_path, monkeypatch):
    """Run ``page``'s python blocks in one fresh namespace; return it."""
    monkeypatch.chdir(tmp_path)  # examples write model files and plots
    namespace = {"__name__": f"docs_{page.stem}"}
    for number, (block, expected) in enumerate(python_blocks(page), start=1):
        printed = io.StringIO()
        name = f"{page_id(page)} python block {number}"
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(block, name, "exec"), namespace)
        except Exception as exc:  # name the block that broke
            pytest.fail(f"{name} failed: {exc!r}\n{block}")
        if expected:
            assert printed.getvalue().strip() == expected.strip(), name
    return namespace


@pytest.mark.slow  # trains every model the pages show
@pytest.mark.parametrize("page", GUIDE_PAGES, ids=page_id)
def test_page_examples_run(page, tmp_path, monkeypatch):
    namespace = run_page(page, tmp_path, monkeypatch)
    if page.name == "saving.md":
        assert (tmp_path / "model.skops").exists()
        assert (tmp_path / "mgclassifier.onnx").exists()
    if page.name == "metrics_and_plots.md":
        assert (tmp_path / "mgclassifier_plots.png").stat().st_size > 0
    if page.name == "custom_network.md":
        # The example trained a CNN trunk and searched its width.
        cnn = namespace["cnn"]
        assert type(cnn.net_.module_.trunk).__name__ == "TinyCNN"
        assert cnn.score(namespace["images"][1500:], namespace["Y_digits"][1500:]) > 0.5
        assert namespace["cnn_search"].best_params_["module__n_filters"] in (4, 8)
