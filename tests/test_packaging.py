"""The release artefacts: an sdist and a wheel that build, pass ``twine
check``, and install into a fresh virtual environment where the README's
quickstart runs.

It takes minutes (torch and the dependencies are installed into the new
environment), so it runs only when ``MGC_TEST_PACKAGING=1``, as ``make
test-docs`` (and CI) set it; ``TORCH_SPEC`` and ``TORCH_INDEX`` pick the
torch build as for ``make``.
"""

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from test_readme import README, python_blocks

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    os.environ.get("MGC_TEST_PACKAGING") != "1",
    reason="builds and installs the wheel in a new virtual environment (minutes): "
    "set MGC_TEST_PACKAGING=1, as `make test-docs` does",
)


def run(*command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and the wheel (built from the sdist), as ``python -m build``
    makes them."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", str(out), str(ROOT))
    (sdist,) = out.glob("mgclassifier-*.tar.gz")
    (wheel,) = out.glob("mgclassifier-*-py3-none-any.whl")
    return sdist, wheel


def test_twine_accepts_both(dist):
    output = run(sys.executable, "-m", "twine", "check", "--strict", *map(str, dist))
    assert output.count("PASSED") == 2


def test_the_artefacts_hold_the_package_and_its_data(dist):
    sdist, wheel = dist
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "mgclassifier/__init__.py" in names
    assert "mgclassifier/data/imclef07a.npz" in names
    assert not any(
        name.startswith(("tests/", "docs/", "benchmarks/")) for name in names
    )
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(metadata).decode()
    assert "Provides-Extra: onnx" in text
    assert "Description-Content-Type: text/markdown" in text
    with tarfile.open(sdist) as archive:
        members = {
            Path(name).relative_to(Path(name).parts[0]).as_posix()
            for name in archive.getnames()
            if len(Path(name).parts) > 1
        }
    for name in (
        "README.md",
        "LICENSE",
        "pyproject.toml",
        "mgclassifier/data/imclef07a.npz",
    ):
        assert name in members, name


def test_the_wheel_installs_and_runs_the_quickstart(dist, tmp_path):
    _, wheel = dist
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    torch = [os.environ.get("TORCH_SPEC") or "torch==2.13.0"]
    if os.environ.get("TORCH_INDEX"):
        torch += ["--index-url", os.environ["TORCH_INDEX"]]
    run(python, "-m", "pip", "install", "-q", *torch)
    run(python, "-m", "pip", "install", "-q", str(wheel))
    ((quickstart, _),) = python_blocks(README)
    script = tmp_path / "quickstart.py"
    script.write_text(
        "import mgclassifier, torch\n"
        "torch.set_num_threads(1)\n"
        "print(mgclassifier.__file__)\n" + quickstart
    )
    # Away from the clone, so that the installed package is the one imported.
    output = run(python, str(script), cwd=tmp_path).splitlines()
    assert str(venv) in output[0] and str(ROOT) not in output[0]
    accuracy, f1 = float(output[1]), float(output[2])
    assert accuracy > 0.8 and f1 > 0.85
