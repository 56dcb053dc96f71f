"""Running Rapport's commands as an operator would: separate processes, configured by environment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from backend.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
LIMIT_SECONDS = 120  # a hung command fails its test instead of the whole run


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without any RAPPORT_* variable, plus `settings` (RAPPORT_ + upper name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update({f"RAPPORT_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass(frozen=True)
class Finished:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        """stderr, asserted to be exactly one line."""
        lines = self.stderr.splitlines()
        assert len(lines) == 1, f"{self.args}: expected one line on stderr, got:\n{self.stderr}"
        return lines[0]


async def run(*args: str, env: dict[str, str]) -> Finished:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(LIMIT_SECONDS):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(args, process.returncode, stdout.decode(), stderr.decode())


async def cli(*args: str, env: dict[str, str]) -> Finished:
    """`python -m backend.cli ARGS`."""
    return await run(sys.executable, "-m", "backend.cli", *args, env=env)


async def start(*args: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """A long-running command (a server), its output in `log`; the caller stops it."""
    with log.open("w") as out:
        return await asyncio.create_subprocess_exec(*args, cwd=ROOT, env=env, stdout=out, stderr=out)


async def wait_until_listening(client: httpx.AsyncClient, server: asyncio.subprocess.Process, log: Path) -> None:
    """Return once the server behind `client` answers /healthz; fail if it exits first."""
    for _ in range(LIMIT_SECONDS * 10):
        if server.returncode is not None:
            raise AssertionError("the server exited:\n" + await asyncio.to_thread(log.read_text))
        try:
            await client.get("/healthz")
            return
        except httpx.ConnectError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"the server did not listen within {LIMIT_SECONDS} s")


def cli_commands(parser: argparse.ArgumentParser | None = None, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of `python -m backend.cli`: (), ("migrate",), ("tenant",), ("tenant", "create")..."""
    found = [prefix]
    for action in (parser or build_parser())._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += cli_commands(sub, (*prefix, name))
    return found
