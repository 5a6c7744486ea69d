"""The README's examples work as printed: its runnable quick start runs, line by line, against a
live service (the address is the only thing changed, to the test service's port)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.live import ROOT, LiveService

pytestmark = pytest.mark.slow

README = ROOT / "README.md"


def runnable(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- runnable: {name} -->\n```sh\n(.*?)```", text, re.S)
    assert found, f"no runnable block {name!r} in the README"
    return found[1]


async def test_the_quick_start_runs_as_printed(fresh_database) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    service = LiveService(await fresh_database())
    await asyncio.to_thread(service.start)
    try:
        script = runnable("quickstart").replace("http://127.0.0.1:8000", service.url)
        env = {k: v for k, v in service.env.items() if k != "REGISTRY_MIGRATE_ON_START"}
        done = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        await asyncio.to_thread(service.stop)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert '"code":"direct_marketing"' in out.replace(" ", ""), "the purposes were listed"
    assert "purpose,activity,legal_bases" in out, "the record of processing as CSV"
    assert out.count('"access_token"') == 2, "a client token and a user token over HTTP"
    assert '"due"' in out, "the retention dry run"
    assert "CLIENT_SECRET" not in out, "eval took the secret; it was never printed"


def test_every_command_of_the_readmes_table_exists_with_its_options() -> None:
    """Each row of the `registry` table names a command that exists, with the options it shows."""
    from typer.testing import CliRunner

    from app.cli import cli

    text = README.read_text(encoding="utf-8")
    table = text.split("## The `registry` command")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `registry ([^`]+)`", table, re.M)
    assert len(rows) >= 10
    for row in rows:
        for variant in row.split("` / `"):
            words = [w for w in re.split(r"\s+", variant) if w and not w.startswith(("[", "-"))]
            words = [w for w in words if w.isidentifier() or w.replace("-", "").isalpha()]
            command = [w for w in words if w.islower()][:2]
            shown = runner_help(CliRunner(), cli, command)
            for option in re.findall(r"--[a-z-]+", variant):
                assert option in shown, (row, option)


def runner_help(runner, cli, command: list[str]) -> str:  # type: ignore[no-untyped-def]
    for size in (len(command), 1):
        result = runner.invoke(cli, [*command[:size], "--help"], terminal_width=200)
        if result.exit_code == 0:
            return str(result.stdout)
    raise AssertionError(f"`registry {' '.join(command)}` does not exist")
