"""The one settings object, from environment variables, validated at start-up.

Read by entry points only (the dashboard, the command lines); everything below them takes
plain arguments.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACNE_", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="database and photo folder")
    weights_dir: Path = Field(default=PROJECT_ROOT / "weights")
    # DATABASE_URL is the conventional name, so it is read without the prefix.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    session_minutes: int = Field(default=60, ge=1, le=24 * 60)
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f"DATABASE_URL {value!r} must start with sqlite or postgresql")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'acne.db').resolve()}"

    @property
    def photo_dir(self) -> Path:
        return self.data_dir / "photos"


def load_settings() -> Settings:
    """Build the settings from the environment; invalid values raise at once (fail fast)."""
    return Settings()
