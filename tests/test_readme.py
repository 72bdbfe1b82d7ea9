"""The README's Python examples run as written, in order, in one namespace."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples():
    assert len(python_blocks()) >= 6


def test_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples write model.skops and a PNG
    namespace = {"__name__": "readme"}
    for number, block in enumerate(python_blocks(), start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as exc:  # name the block that broke
            pytest.fail(f"README python block {number} failed: {exc!r}\n{block}")
    assert (tmp_path / "model.skops").exists()
    assert (tmp_path / "mgclassifier_plots.png").stat().st_size > 0
