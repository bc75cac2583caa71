"""Index settings: what search/ needs to open and rank an index, from SCHUTTING_* variables.

Server concerns (admin token, upload limits, OCR) live with the server, in ``api.settings``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from search.embedders import DEFAULT_MODEL


class IndexSettings(BaseSettings):
    """Constructed only at the edges (the CLI entry point, ``create_app``); passed down explicitly."""

    model_config = SettingsConfigDict(env_prefix="SCHUTTING_", env_file=None)

    data_dir: Path = Path("data")
    model: str = DEFAULT_MODEL
    batch_size: int = 16  # documents per index write
    search_mode: str = "hybrid"
    database_url: str = ""  # postgresql://...: the PostgreSQL engine instead of files under data_dir
    database_read_url: str = ""  # a streaming replica that serves searches (optional)
