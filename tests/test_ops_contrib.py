"""The systemd unit and the container file in contrib/ are checked, since CI may have no builder."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import EXIT_CONFIG, EXIT_USAGE, cli
from bot.config import SETTINGS
from bot.schedule import SHUTDOWN_GRACE
from tests.conftest import REPO

UNIT = REPO / "contrib" / "watchbot.service"
CONTAINERFILE = REPO / "contrib" / "Containerfile"
KNOWN_ENV = {s.name for s in SETTINGS} | {"WATCHBOT_CONFIG"}


def _unit() -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def _watchbot_commands(argv: list[str]) -> None:
    """The invocation names a real watchbot command, and click accepts its options."""
    assert Path(argv[0]).name == "watchbot", argv
    name, *rest = argv[1:]
    assert name in cli.commands, argv
    cli.commands[name].make_context(name, list(rest))  # raises on an unknown option


def test_systemd_unit_runs_check_then_run_and_stops_in_time():
    """The unit checks before running, reads the config and the environment file, does not restart on exit 2 or 64, and waits longer than the shutdown grace."""
    service = dict(_unit()["Service"])
    multi = [v for k, v in _unit()["Service"] if k == "Environment"]
    envs = dict(v.split("=", 1) for v in multi)
    assert set(envs) <= KNOWN_ENV and envs["WATCHBOT_CONFIG"].endswith("watchbot.toml")
    assert service["EnvironmentFile"].lstrip("-").endswith("watchbot.env")
    _watchbot_commands(shlex.split(service["ExecStartPre"]))
    _watchbot_commands(shlex.split(service["ExecStart"]))
    assert shlex.split(service["ExecStart"])[1] == "run" and shlex.split(service["ExecStartPre"])[1] == "check"
    assert set(service["RestartPreventExitStatus"].split()) == {str(EXIT_CONFIG), str(EXIT_USAGE)}
    assert int(service["TimeoutStopSec"]) > SHUTDOWN_GRACE
    assert envs["WATCHBOT_STATE"] in service["ReadWritePaths"].split()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    """`systemd-analyze verify` accepts the unit (every key known), with the binary path pointed at this venv's watchbot."""
    script = Path(sys.executable).parent / "watchbot"
    unit = tmp_path / "watchbot.service"
    unit.write_text(UNIT.read_text().replace("/opt/watchbot/bin/watchbot", str(script)))
    run = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Unknown" not in run.stderr, run.stderr


def _instructions() -> list[tuple[str, str]]:
    text = CONTAINERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_containerfile_lints_clean():
    """Every COPY source exists, the build stage gets every file the wheel's build step needs, ENV names are settings, and ENTRYPOINT/CMD/HEALTHCHECK call real commands as a non-root user."""
    import ast

    # setup.py's DEFAULT_FILES: the files its build step copies into the wheel (read, not run).
    tree = ast.parse((REPO / "setup.py").read_text())
    default_files = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                         and getattr(node.targets[0], "id", "") == "DEFAULT_FILES")
    steps = _instructions()
    copied = set()
    for op, rest in steps:
        if op == "COPY" and not rest.startswith("--from"):
            *sources, _dest = rest.split()
            for src in sources:
                assert (REPO / src).exists(), f"COPY {src}: not in the repository"
                copied.add(src)
    needed = set(default_files) | {"pyproject.toml", "setup.py", "README.md", "bot", "watchlists"}
    assert needed <= copied, needed - copied
    env_keys = set()
    for op, rest in steps:
        if op == "ENV":
            env_keys |= {pair.split("=", 1)[0] for pair in shlex.split(rest)}
    assert {k for k in env_keys if k.startswith(("WATCHBOT_", "TELEGRAM_"))} <= KNOWN_ENV
    assert "TELEGRAM_BOT_TOKEN" not in env_keys  # secrets never baked into an image
    last = {op: rest for op, rest in steps}
    entry = json.loads(last["ENTRYPOINT"])
    _watchbot_commands(entry + json.loads(last["CMD"]))
    health = last["HEALTHCHECK"]
    _watchbot_commands(json.loads(health[health.index("CMD") + 3:].strip()))
    assert last["USER"] not in ("root", "0")
    assert any(op == "RUN" and "watchbot init /etc/watchbot" in rest for op, rest in steps)


def _builder() -> list[str] | None:
    for tool in ("podman", "docker"):
        if shutil.which(tool) and subprocess.run([tool, "info"], capture_output=True, timeout=30).returncode == 0:
            return [tool]
    return None


@pytest.mark.skipif(_builder() is None, reason="no container builder running (podman/docker)")
def test_container_builds_and_checks_its_shipped_configuration():
    """Where a builder runs, the image builds and `watchbot check` passes inside it."""
    tool = _builder()
    build = subprocess.run(tool + ["build", "-q", "-f", str(CONTAINERFILE), "-t", "watchbot-test", str(REPO)],
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run(tool + ["run", "--rm", "watchbot-test", "check"], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr


def test_shell_completion_as_documented_completes_commands():
    """The README's bash completion line produces a script, and completing `watchbot fe` offers `feeds`."""
    import os

    script = str(Path(sys.executable).parent / "watchbot")
    readme = (REPO / "README.md").read_text()
    assert '_WATCHBOT_COMPLETE=bash_source watchbot' in readme
    env = {**os.environ, "_WATCHBOT_COMPLETE": "bash_source"}
    source = subprocess.run([script], capture_output=True, text=True, env=env, timeout=60)
    assert source.returncode == 0 and "complete -o nosort -F" in source.stdout, source.stderr
    env = {**os.environ, "_WATCHBOT_COMPLETE": "bash_complete", "COMP_WORDS": "watchbot fe", "COMP_CWORD": "1"}
    words = subprocess.run([script], capture_output=True, text=True, env=env, timeout=60)
    assert "plain,feeds" in words.stdout.split(), words.stdout
