"""Web pages for civil servants, in Dutch: search, similar policy, document, side by side, beheer.

Server-rendered Jinja2 (``routes``, ``rendering``, ``templates/``); every asset is served from
/static (``static/``), nothing from outside (closed municipal networks).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.pages.rendering import HERE, render, templates
from api.pages.routes import router
from api.settings import Settings


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Add the pages and /static to the app."""
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router())


ERROR_PAGES = {
    404: (
        "Pagina niet gevonden",
        "Deze pagina bestaat niet (meer). Controleer het adres, of begin opnieuw bij Zoeken.",
    ),
    405: (
        "Dat kan hier niet",
        "Deze pagina kan niet op deze manier worden gebruikt. Begin opnieuw bij Zoeken.",
    ),
    500: (
        "Er ging iets mis",
        "Er ging bij ons iets mis. Probeer het opnieuw; blijft het misgaan, meld het dan.",
    ),
}


def error_page(request: Request, status: int, request_id: str = "") -> HTMLResponse:
    """A Dutch page for an unknown address or an unexpected error, with the request id to report."""
    kop, uitleg = ERROR_PAGES.get(status, ERROR_PAGES[500])
    context = {"nav": "", "kop": kop, "uitleg": uitleg, "verzoek": request_id}
    return render(request, "fout.html", context, status)


__all__ = ["error_page", "install_pages"]
