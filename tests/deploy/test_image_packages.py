"""What each image's project layer holds, built the way the Dockerfile builds it: the files
its build stage copies, `pip install . --no-deps --no-build-isolation --no-index --prefix`.

The production image must work without the sandbox (the emulated APIs): nothing in
connector/ or adapters/ may import it at module level (`connector sandbox` and
`connector demo` import it inside the command).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from tests.deploy.helpers import REPO, parse_dockerfile, stage

SITE = Path("lib") / "python{}.{}".format(*sys.version_info[:2]) / "site-packages"

IMPORT_ALL = textwrap.dedent(
    """
    import importlib, importlib.util, pkgutil, sys
    app = sys.argv[1]
    skip = {"connector.__main__", "connector.store.migrations.env"}
    names = []
    for package in ("connector", "adapters"):
        mod = importlib.import_module(package)
        assert mod.__file__.startswith(app), (package, mod.__file__)
        names += [m.name for m in pkgutil.walk_packages(mod.__path__, package + ".")
                  if ".versions." not in m.name and m.name not in skip]
    for name in names:
        importlib.import_module(name)
    assert "sandbox" not in sys.modules
    print(len(names), importlib.util.find_spec("sandbox") is not None)
    """
)


def build_like_the_dockerfile(stage_name: str, tmp_path: Path) -> Path:
    """The project installed under a prefix from exactly the files the stage copies."""
    src, prefix = tmp_path / "src", tmp_path / "app"
    src.mkdir()
    for copy in stage(parse_dockerfile(), stage_name).all("COPY"):
        if "from" in copy.flags:
            continue
        for word in copy.words[:-1]:
            origin = REPO / word.rstrip("/")
            if origin.is_dir():
                shutil.copytree(origin, src / origin.name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.db"))
            else:
                shutil.copy2(origin, src / origin.name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", ".", "--quiet", "--no-cache-dir", "--no-deps",
         "--no-build-isolation", "--no-index", "--ignore-installed", f"--prefix={prefix}"],
        cwd=src, capture_output=True, text=True, timeout=180,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_WARN_SCRIPT_LOCATION": "1"},
    )
    if proc.returncode != 0 and "setuptools" in proc.stderr and "No module named" in proc.stderr:
        pytest.skip("setuptools is not installed in this interpreter (the dev extra has it)")
    assert proc.returncode == 0, proc.stderr
    return prefix


def top_level(prefix: Path) -> set[str]:
    return {p.name for p in (prefix / SITE).iterdir() if not p.name.endswith(".dist-info")}


def run_isolated(prefix: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """This interpreter without site (so no editable install of the repo) and without the repo
    on sys.path: the installed project plus the third-party libraries only."""
    libs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CONNECTOR_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(prefix / SITE), *sorted(libs)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([sys.executable, "-S", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_production_image_has_no_sandbox_and_runs_without_it(tmp_path: Path) -> None:
    prefix = build_like_the_dockerfile("build", tmp_path)
    assert top_level(prefix) == {"connector", "adapters", "mappings", "programs"}
    site = prefix / SITE
    assert list((site / "mappings").glob("*.toml")) and list((site / "programs").glob("*.toml"))
    assert list((site / "connector/store/migrations/versions").glob("*.py"))
    assert (site / "connector/store/migrations/script.py.mako").is_file()
    assert any((site / "connector/report/templates").iterdir())
    assert (prefix / "bin" / "connector").is_file()  # /opt/app/bin is on the image's PATH

    proc = run_isolated(prefix, tmp_path, "-c", IMPORT_ALL, str(site))
    assert proc.returncode == 0, proc.stderr
    count, sandbox_found = proc.stdout.split()
    assert int(count) > 30 and sandbox_found == "False"

    help_ = run_isolated(prefix, tmp_path, "-m", "connector", "--help")
    assert help_.returncode == 0, help_.stderr
    for command in ("serve", "sync", "db"):
        assert command in help_.stdout
    for command in ("demo", "sandbox"):  # one line naming what is missing, exit 2, no traceback
        missing = run_isolated(prefix, tmp_path, "-m", "connector", command, *(["--scenario", "x.json"]
                               if command == "sandbox" else []))
        assert missing.returncode == 2, missing.stderr
        assert "Traceback" not in missing.stderr and "--target demo" in missing.stderr, missing.stderr


def test_demo_image_adds_the_sandbox_and_its_scenario(tmp_path: Path) -> None:
    prefix = build_like_the_dockerfile("build-demo", tmp_path)
    assert top_level(prefix) == {"connector", "adapters", "mappings", "programs", "sandbox"}
    assert (prefix / SITE / "sandbox" / "scenarios" / "demo.json").is_file()
    proc = run_isolated(prefix, tmp_path, "-c", "import sandbox.server, connector.run.demo as d; "
                        "print(d.demo_scenario_path())")
    assert proc.returncode == 0, proc.stderr
    assert str(prefix) in proc.stdout
