"""Running Rapport's commands as an operator would: separate processes, configured by environment."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

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
