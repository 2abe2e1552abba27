"""Packaging: the built wheel works on its own, the lock file is complete, one version everywhere.

The slow tests build the sdist and the wheel with `python -m build` (from a copy of the
sources, so the checkout gets no build/ or egg-info), install the WHEEL into a fresh venv with
constraints.txt, and run that venv's `vaultsync --version`, `validate`, its own dev-server and
a `plan` from a folder outside the checkout. They need `build` (dev extras) and PyPI (or pip's
cache); under CI=true they never skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import vaultsync
from tests.conftest import Server, run_cli, write_desired

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "vaultsync"]
NOISE = re.compile(r"warning|deprecat", re.IGNORECASE)


def pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def pins() -> dict[str, str]:
    result = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
        assert m, f"constraints.txt: not an exact pin: {line!r}"
        result[canonicalize_name(m.group(1))] = m.group(2)
    return result


# --------------------------------------------------------------------------- fast checks


def test_constraints_pin_every_dependency_within_its_range() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pinned = pins()
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not in constraints.txt: run `make lock`"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pinned[name]}, outside {req.specifier}: run `make lock`"
        )
    assert "vaultsync" not in pinned


def test_make_and_ci_install_with_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-c constraints.txt -e '.[dev]'" in makefile
    assert re.search(r"^\$\(STAMP\): .*constraints\.txt", makefile, re.M), "a new lock reinstalls the venv"
    assert re.search(r"^lock:\n\t.*\.ci/lock\.sh", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lock = (ROOT / ".ci" / "lock.sh").read_text(encoding="utf-8")
    assert "--dry-run" in lock and "--report" in lock and "'.[dev]'" in lock


def test_one_version_source() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    assert "version" not in project and project["dynamic"] == ["version"]
    tool = pyproject()["tool"]
    assert isinstance(tool, dict)
    assert tool["setuptools"]["dynamic"]["version"] == {"attr": "vaultsync.__version__"}
    Version(vaultsync.__version__)  # a valid version
    result = run_cli("--version")
    assert result.out.strip() == f"vaultsync {vaultsync.__version__}"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, re.M)
    assert released and Version(released[0]) <= Version(vaultsync.__version__)


def test_json_plan_names_the_tool_and_its_version(devserver: Server, tmp_path: Path) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "1"})
    result = run_cli("plan", str(desired), "--format", "json", env={"EDC_MANAGEMENT_URL": devserver.url})
    assert result.code == 0, result.err
    assert json.loads(result.out)["tool"] == {"name": "vaultsync", "version": vaultsync.__version__}


def test_pyproject_packaging_config() -> None:
    data = pyproject()
    project = data["project"]
    assert isinstance(project, dict)
    assert project["license"] == "Apache-2.0"  # SPDX string, no deprecated table form
    requires = data["build-system"]["requires"]  # type: ignore[index]
    assert requires == ["setuptools>=77"], "the SPDX license string needs setuptools 77"
    setuptools = data["tool"]["setuptools"]  # type: ignore[index]
    # Discovery (not a list of packages), so that new subpackages ship without editing pyproject.toml.
    assert setuptools["packages"] == {"find": {"include": ["vaultsync*"], "exclude": ["*.__pycache__"]}}
    assert setuptools["package-data"]["vaultsync.schemas"] == ["*.json"]


def test_readme_recommends_pipx_and_states_the_compatibility_promise() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("## Install\n", 1)[1].split("\n## ", 1)[0]
    assert "recommended install is [pipx]" in install and "pipx install" in install
    assert "make lock" in install and "-c constraints.txt" in install
    promise = readme.split("## Releases and compatibility promise\n", 1)[1].split("\n## ", 1)[0]
    for words in ['"version": 1', '"format_version": "1"', "May be added", "Never changes", "CHANGELOG.md"]:
        assert words in promise, words


# --------------------------------------------------------------------------- the built wheel


def need(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        message = f"{module} is not installed (pip install -c constraints.txt -e '.[dev]')"
        if IN_CI:
            pytest.fail(message + " (CI=true: the built wheel must be tested)")
        pytest.skip(message)


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        # As from a user's shell: under `make test` the parent make's variables would make a nested make print
        # "Entering directory" lines that `make demo` never prints for a user.
        env={k: v for k, v in {**os.environ, **(env or {})}.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def copy_sources(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    dest.mkdir(parents=True)
    for name in [*SOURCES, "constraints.txt", "action"]:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    return dest


class Built:
    def __init__(self, base: Path) -> None:
        self.src = copy_sources(base / "src")
        self.dist = base / "dist"
        # PYTHONDONTWRITEBYTECODE (set by some test setups) makes setuptools warn that it skips byte-compiling.
        env = {"PYTHONDONTWRITEBYTECODE": ""}
        self.log = run(sys.executable, "-m", "build", "--outdir", self.dist, self.src, cwd=base, env=env)
        (self.wheel,) = self.dist.glob("vaultsync-*.whl")
        (self.sdist,) = self.dist.glob("vaultsync-*.tar.gz")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    need("build")
    return Built(tmp_path_factory.mktemp("build"))


def source_files() -> list[str]:
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "vaultsync").rglob("*")
        if p.is_file() and p.suffix in {".py", ".json", ".typed"} and "__pycache__" not in p.parts
    )


@pytest.mark.slow
def test_build_makes_a_wheel_and_sdist_with_the_schemas_and_no_warnings(built: Built) -> None:
    noise = [line for line in built.log.splitlines() if NOISE.search(line)]
    assert noise == [], "python -m build printed warnings:\n" + "\n".join(noise)
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"vaultsync-{vaultsync.__version__}.dist-info/METADATA").decode()
    schemas = [f for f in source_files() if f.startswith("vaultsync/schemas/")]
    assert {"vaultsync/schemas/desired-state.schema.json", "vaultsync/schemas/plan.schema.json"} <= set(schemas)
    missing = [f for f in source_files() if f not in names]
    assert missing == [], f"the wheel lacks {missing}"
    assert f"Version: {vaultsync.__version__}\n" in metadata
    assert "License-Expression: Apache-2.0\n" in metadata
    assert built.wheel.name == f"vaultsync-{vaultsync.__version__}-py3-none-any.whl"
    with tarfile.open(built.sdist) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert set(schemas) <= members


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the built wheel (not the checkout), with the locked versions."""
    env_dir = tmp_path_factory.mktemp("wheel-venv") / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    log = run(
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", ROOT / "constraints.txt", built.wheel, cwd=env_dir,
    )  # fmt: skip
    assert not [line for line in log.splitlines() if NOISE.search(line)], log
    return env_dir


@contextlib.contextmanager
def venv_devserver(env_dir: Path, cwd: Path) -> Iterator[str]:
    """`vaultsync dev-server` of the venv, stopped on the way out whatever happens."""
    out = cwd / "server.out"
    with out.open("w") as sink:
        server = subprocess.Popen(
            [str(env_dir / "bin" / "vaultsync"), "dev-server", "--port", "0"],
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not out.read_text().strip() and time.monotonic() < deadline:
            assert server.poll() is None, out.read_text()
            time.sleep(0.05)
        line = out.read_text().splitlines()[0]
        assert line.startswith("EDC_MANAGEMENT_URL=http://127.0.0.1:"), line
        yield line.split("=", 1)[1]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.slow
def test_the_installed_wheel_validates_and_plans_on_its_own(installed: Path, tmp_path: Path) -> None:
    bin_dir = installed / "bin"
    # Outside the checkout, nothing of it on the path: only the wheel can answer.
    env = {"PYTHONPATH": "", "PYTHONSAFEPATH": "1"}
    where = run(bin_dir / "python", "-c", "import vaultsync; print(vaultsync.__file__)", cwd=tmp_path, env=env)
    assert Path(where.strip()).is_relative_to(installed), where

    assert run(bin_dir / "vaultsync", "--version", cwd=tmp_path, env=env).strip() == (
        f"vaultsync {vaultsync.__version__}"
    )
    desired = write_desired(tmp_path / "connector.json", {"api-token": "token-1", "oauth": {"fromEnv": "CLIENT"}})
    env["CLIENT"] = "client-secret"
    assert "valid (2 secrets)" in run(bin_dir / "vaultsync", "validate", desired, cwd=tmp_path, env=env)
    # The schema the wheel carries is the one that judges: a nested value is refused with its message.
    nested = write_desired(tmp_path / "nested.json", {"s3": {"accessKeyId": "A", "secretAccessKey": "B"}})
    result = subprocess.run(
        [str(bin_dir / "vaultsync"), "validate", str(nested)],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "s3" in result.stderr and "Traceback" not in result.stderr

    with venv_devserver(installed, tmp_path) as url:
        env["EDC_MANAGEMENT_URL"] = url
        # -q: run() joins stdout and stderr, where a first plan notes that no state exists yet.
        doc = json.loads(run(bin_dir / "vaultsync", "plan", desired, "--format", "json", "-q", cwd=tmp_path, env=env))
    assert doc["tool"] == {"name": "vaultsync", "version": vaultsync.__version__}
    assert doc["summary"] == {"create": 2, "update": 0, "delete": 0, "conflict": 0, "unchanged": 0}


@pytest.mark.slow
def test_pipx_installs_the_wheel(built: Built, tmp_path: Path) -> None:
    need("pipx")
    env = {"PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"), "PIPX_MAN_DIR": str(tmp_path)}
    run(sys.executable, "-m", "pipx", "install", built.wheel, cwd=tmp_path, env=env)
    version = run(tmp_path / "bin" / "vaultsync", "--version", cwd=tmp_path, env={"PYTHONPATH": ""})
    assert version.strip() == f"vaultsync {vaultsync.__version__}"


@pytest.mark.slow
def test_the_action_installs_from_its_checkout_with_the_lock(built: Built, tmp_path: Path) -> None:
    """action/install.sh, as the action's install step runs it; a second use reuses the venv."""
    output = tmp_path / "github-output"
    env = {
        "GITHUB_ACTION_PATH": str(built.src),
        "VAULTSYNC_PYTHON": sys.executable,
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
    }
    log = run("bash", built.src / "action" / "install.sh", cwd=tmp_path, env=env)
    assert log.strip() == f"vaultsync {vaultsync.__version__}", "a quiet install: the version, nothing else"
    (line,) = output.read_text().splitlines()
    command = Path(line.removeprefix("vaultsync="))
    assert command == tmp_path / "vaultsync-action-venv" / "bin" / "vaultsync"
    frozen = run(command.parent / "python", "-m", "pip", "freeze", "--exclude", "vaultsync", cwd=tmp_path)
    pinned = pins()
    for req in frozen.split():
        name, version = req.split("==")
        assert pinned[canonicalize_name(name)] == version, req
    started = time.monotonic()
    run("bash", built.src / "action" / "install.sh", cwd=tmp_path, env=env)
    assert time.monotonic() - started < 10, "the second use reinstalled"


@pytest.mark.slow
def test_make_demo_prints_no_install_noise(tmp_path: Path) -> None:
    """`make demo` on a fresh copy: a fresh venv, the locked install, the demo; nothing from pip or setuptools."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    project = copy_sources(tmp_path / "project")
    for name in ["Makefile", "examples", ".ci"]:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("bin"))
        else:
            shutil.copy2(src, project / name)
    python = Path(sys.base_prefix) / "bin" / "python3"
    out = re.sub(r"\x1b\[[0-9;]*m", "", run("make", "demo", f"PYTHON={python}", cwd=project, timeout=900))
    install, _, demo = out.partition("== vaultsync dev-server")
    assert [line for line in out.splitlines() if NOISE.search(line)] == [], out
    assert [line for line in install.splitlines() if line.strip()] == [
        "Installing vaultsync and its pinned dependencies into .venv ..."
    ], out
    assert "Demo complete" in demo
