"""The Makefile's setup of .venv, run with a stand-in Python that only logs.

``make`` gets ``PYTHON=<stub>``: ``<stub> -m venv DIR`` creates ``DIR/bin/python``
as another copy of the stub, and every call appends its arguments to a log,
so the tests see which pip commands a ``make`` run would issue, and nothing
is installed.
"""

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or not os.path.exists("/bin/sh"),
    reason="needs GNU make and a POSIX shell",
)

STUB = """#!/bin/sh
echo "$*" >> "$MAKE_TEST_LOG"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
fi
"""


@pytest.fixture
def make(tmp_path):
    """Run make in the repository with the stub; return the logged calls."""
    stub = tmp_path / "python3"
    stub.write_text(STUB)
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.log"
    venv = tmp_path / "venv"

    # A make that runs these tests (`make test TORCH_INDEX=...`) hands its
    # command-line variables down through MAKEFLAGS: they would override the
    # ones each test gives. The test's make gets none of them.
    inherited = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "TORCH_SPEC", "TORCH_INDEX"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}

    def run(*args):
        log.write_text("")
        subprocess.run(
            ["make", "-s", "-C", str(ROOT), *args, f"PYTHON={stub}", f"VENV={venv}"],
            check=True,
            capture_output=True,
            env={**env, "MAKE_TEST_LOG": str(log)},
        )
        return log.read_text().splitlines()

    return run


def torch_installs(calls):
    return [call for call in calls if re.match(r"-m pip install -q torch", call)]


def test_changing_the_torch_spec_or_index_reinstalls_torch(make):
    first = make("test")
    assert torch_installs(first) == ["-m pip install -q torch==2.13.0"]
    assert "-m pip install -q -e .[dev]" in first
    assert first[-1] == "-m pytest"
    assert make("test") == ["-m pytest"]  # installed: nothing to do

    changed = make("test", "TORCH_SPEC=torch")
    assert "-m pip uninstall -q -y torch" in changed
    assert torch_installs(changed) == ["-m pip install -q torch"]
    assert "-m pip install -q -e .[dev]" in changed
    assert make("test", "TORCH_SPEC=torch") == ["-m pytest"]

    cpu = "https://download.pytorch.org/whl/cpu"
    assert torch_installs(
        make("test", "TORCH_SPEC=torch==2.13.0", f"TORCH_INDEX={cpu}")
    ) == [f"-m pip install -q torch==2.13.0 --index-url {cpu}"]
    assert make("test", f"TORCH_INDEX={cpu}") == ["-m pytest"]
    # Back to pip's own index: the stamp of the default build is gone, reinstall.
    assert torch_installs(make("test", "TORCH_INDEX=")) == [
        "-m pip install -q torch==2.13.0"
    ]


def test_the_torch_choice_is_remembered_until_changed(make):
    cpu = "https://download.pytorch.org/whl/cpu"
    assert torch_installs(make("test", f"TORCH_INDEX={cpu}")) == [
        f"-m pip install -q torch==2.13.0 --index-url {cpu}"
    ]
    # Later calls without the variable keep the CPU build: nothing reinstalled.
    assert make("test") == ["-m pytest"]
    # A new spec keeps the remembered index.
    assert torch_installs(make("test", "TORCH_SPEC=torch==2.13.*")) == [
        f"-m pip install -q torch==2.13.* --index-url {cpu}"
    ]
    assert make("test") == ["-m pytest"]


def test_every_phony_target_has_a_rule(make):
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, flags=re.MULTILINE).group(1)
    rules = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    assert set(phony.split()) <= rules
    for target in phony.split():
        make("-n", target)


def test_readme_torch_commands_install_what_the_readme_says(make):
    # The README's make commands for choosing a torch build pass their
    # variables on to pip.
    readme = (ROOT / "README.md").read_text()
    commands = set(re.findall(r"`(make \w+ TORCH_\w+=\S+)`", readme))
    assert "make test TORCH_INDEX=https://download.pytorch.org/whl/cpu" in commands
    for command in commands:
        _, target, *assignments = command.split()
        calls = torch_installs(make(target, *assignments))
        assert len(calls) == 1
        for name, value in (a.split("=", 1) for a in assignments):
            if name == "TORCH_INDEX":
                assert calls[0].endswith(f"--index-url {value}")
            else:
                assert calls[0].startswith(f"-m pip install -q {value}")
