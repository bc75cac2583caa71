"""The HTTP app: ``create_app(settings)`` puts the JSON routers, the pages and the admin room
together; no work at import time, no disk work until the first request."""

from __future__ import annotations

from fastapi import FastAPI

from api.http import admin, documents, search, similar
from api.http.docs import install_docs
from api.http.errors import install_error_handlers
from api.http.guard import RequestGuard
from api.pages import install_pages
from api.settings import Settings
from search.engines import LiveEngine, Place


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Over de schutting",
        description="Zoek hoe andere gemeenten dezelfde beleidsvraag regelen.",
        version="0.1.0",
        docs_url=None,  # served by install_docs with local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.live = LiveEngine(Place.of(settings))  # files under data_dir, or PostgreSQL
    app.state.admin = admin.Admin(settings)
    install_error_handlers(app)
    for module in (search, similar, documents, admin):
        app.include_router(module.router)
    install_pages(app, settings)
    install_docs(app)
    app.add_middleware(RequestGuard, settings=settings)
    return app
