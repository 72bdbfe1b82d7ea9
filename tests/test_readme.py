"""The README's Python examples run as written, in order, in one namespace.

A python block followed directly by a ```text block must print that text.
"""

import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    """``(code, expected output or None)`` of each python block, in order."""
    pattern = r"```python\n(.*?)```(?:\s*```text\n(.*?)```)?"
    return re.findall(pattern, README.read_text(), flags=re.DOTALL)


def test_readme_has_examples():
    blocks = python_blocks()
    assert len(blocks) >= 6
    assert any("min_path_probability" in code and out for code, out in blocks)
    assert any(
        "module=TinyCNN" in code and "module__n_filters" in code for code, _ in blocks
    )


@pytest.mark.slow  # trains every model the README shows
def test_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples write model.skops and a PNG
    namespace = {"__name__": "readme"}
    for number, (block, expected) in enumerate(python_blocks(), start=1):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(
                    compile(block, f"README.md python block {number}", "exec"),
                    namespace,
                )
        except Exception as exc:  # name the block that broke
            pytest.fail(f"README python block {number} failed: {exc!r}\n{block}")
        if expected:
            assert printed.getvalue().strip() == expected.strip(), f"block {number}"
    assert (tmp_path / "model.skops").exists()
    assert (tmp_path / "mgclassifier_plots.png").stat().st_size > 0
    # The "Your own network" example trained a CNN trunk and searched its width.
    cnn = namespace["cnn"]
    assert type(cnn.net_.module_.trunk).__name__ == "TinyCNN"
    assert cnn.score(namespace["images"][1500:], namespace["Y_digits"][1500:]) > 0.5
    assert namespace["cnn_search"].best_params_["module__n_filters"] in (4, 8)
