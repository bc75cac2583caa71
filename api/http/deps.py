"""What every JSON route shares: the live index (or NoIndex), the settings, the chosen mode."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.settings import Settings
from search.engines import OpenedIndex
from search.errors import InvalidInput
from search.retrieval import MODES

FilterList = Annotated[list[str], Query()]


def current_index(request: Request) -> OpenedIndex:
    index: OpenedIndex = request.app.state.live.require()
    return index


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


LiveIndex = Annotated[OpenedIndex, Depends(current_index)]
AppSettings = Annotated[Settings, Depends(settings_of)]


def chosen_mode(mode: str | None, settings: Settings) -> str:
    """The ranking mode asked for, or the configured default; InvalidInput for an unknown one."""
    if not mode:
        return settings.search_mode
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode
