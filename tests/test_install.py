"""The package installs from a wheel: `schutting` works outside the repo, with its package data.

The wheel is built from this checkout and installed with ``--no-deps`` into a fresh virtualenv
outside the repo; the dependencies (numpy, faiss, torch, ...) come from the test's own environment
through a ``.pth`` file, so the test needs no registry and proves what it is about: that the
package itself (code, templates, static files, the municipality list) is complete.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only our wheel installed; returns its bin folder."""
    root = tmp_path_factory.mktemp("install")
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                  str(root / "wheels"), str(REPO)], cwd=root)  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (root / "wheels").glob("over_de_schutting-*.whl")
    venv.EnvBuilder(with_pip=False).create(root / "env")
    env_python = root / "env" / "bin" / "python"
    site = _run(
        [str(env_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root
    )
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = _run([sys.executable, "-m", "pip", "--python", str(env_python), "install", "--no-deps",
                    "--no-index", str(wheel)], cwd=root)  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    return root / "env" / "bin"


def test_installed_wheel_runs_help_and_a_small_ingest(installed: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elders"
    outside.mkdir()
    (outside / "rioolheffing.txt").write_text(
        "Verordening rioolheffing\n\nArtikel 1\nDe gemeente heft een rioolheffing van eigenaren.\n"
    )
    env = {**os.environ, "SCHUTTING_DATA_DIR": str(outside / "data"), "SCHUTTING_MODEL": "use-multilingual"}
    env.pop("PYTHONPATH", None)

    help_text = _run([str(installed / "schutting"), "--help"], cwd=outside, env=env)
    assert help_text.returncode == 0 and "ingest" in help_text.stdout and "harvest" in help_text.stdout

    ingest = _run([str(installed / "schutting"), "ingest", "rioolheffing.txt", "--municipality", "Venlo",
                   "--json"], cwd=outside, env=env)  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    assert json.loads(ingest.stdout)["added"] == ["GM0983-rioolheffing"]

    where = _run([str(installed / "python"), "-c", "import api; print(api.__file__)"], cwd=outside, env=env)
    assert not where.stdout.strip().startswith(str(REPO)), "the test must run the installed package"

    found = _run([str(installed / "schutting"), "search", "rioolheffing", "--json"], cwd=outside, env=env)
    assert found.returncode == 0, found.stderr[-2000:]
    (result,) = json.loads(found.stdout)["results"]
    assert (result["municipality"], result["province"]) == ("Venlo", "Limburg")
