from __future__ import annotations

from schema.__main__ import SDL_PATH, sdl


def test_committed_sdl_matches_the_code() -> None:
    assert SDL_PATH.read_text() == sdl(), "schema/schema.graphql is out of date: run `python -m schema`"
