"""`python -m schema` writes schema/schema.graphql, the SDL generated from the code.

The file is committed so that API changes show up in review; tests/api/test_schema.py fails
when it no longer matches the code (`--check` does the same from the shell).
"""

from __future__ import annotations

import sys
from pathlib import Path

from schema import schema

SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"


def sdl() -> str:
    return str(schema) + "\n"


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if SDL_PATH.read_text() != sdl():
            print("schema/schema.graphql is out of date: run `python -m schema`", file=sys.stderr)
            return 1
        return 0
    SDL_PATH.write_text(sdl())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
