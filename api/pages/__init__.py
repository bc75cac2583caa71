"""Web pages for civil servants, in Dutch: search, similar policy, document, side by side, beheer.

Server-rendered Jinja2 (``routes``, ``rendering``, ``templates/``); every asset is served from
/static (``static/``), nothing from outside (closed municipal networks).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.pages.rendering import HERE, templates
from api.pages.routes import router
from api.settings import Settings


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Add the pages and /static to the app."""
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router())


__all__ = ["install_pages"]
