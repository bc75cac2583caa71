"""The JSON API over HTTP: the app factory (``app``), one router per resource (``search``,
``similar``, ``documents``, ``admin``), the admin token check and the JSON error answers."""

from api.http.app import create_app

__all__ = ["create_app"]
