"""Print pip constraints pinning each dependency to the floor pyproject.toml
declares (``pkg>=1.6`` becomes ``pkg==1.6.*``), for the minimum-versions test
run (``make test-min``).

torch is left out: the run uses the torch build the Makefile's TORCH_SPEC
names (CI machines have the CPU build of one release on disk), so its floor
is tested on the GPU machine instead.
"""

import re
import sys
import tomllib
from pathlib import Path

pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
for requirement in dependencies:
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)(,<[0-9.]+)?", requirement)
    if match is None:
        sys.exit(f"cannot read a floor from {requirement!r}")
    name, floor = match.group(1), match.group(2)
    if name != "torch":
        print(f"{name}=={floor}.*")
