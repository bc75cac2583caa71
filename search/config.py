"""Settings: one class, read from SCHUTTING_* environment variables, defaults that work."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from search.embedders import DEFAULT_MODEL


class Settings(BaseSettings):
    """Constructed only by the CLI entry point and ``create_app``; passed down explicitly."""

    model_config = SettingsConfigDict(env_prefix="SCHUTTING_", env_file=None)

    data_dir: Path = Path("data")
    model: str = DEFAULT_MODEL
    admin_token: str = ""  # empty: admin endpoints are closed
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pages: int = 2000
    ocr: bool = True
    ocr_page_limit: int | None = None
    batch_size: int = 16  # documents per index write
    search_mode: str = "hybrid"
