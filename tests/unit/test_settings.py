"""Settings from the environment: development defaults, production safety, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.engine import normalize_database_url
from server.settings import Settings, SettingsError, create_development_secret

STRONG = "s" * 48


def test_development_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"HELPDESK_DATA_DIR": str(tmp_path)})

    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/helpdesk.db"
    assert settings.broadcast_url == "memory://"
    assert settings.graphiql
    assert settings.introspection
    # Reading settings never makes a secret: only `helpdesk seed --demo` does.
    assert settings.jwt_secret is None
    assert not settings.uses_development_secret
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SettingsError, match="helpdesk seed --demo"):
        settings.require_token_key()


def test_development_secret_is_random_private_and_stable(tmp_path: Path) -> None:
    made = create_development_secret(tmp_path)
    settings = Settings.from_env({"HELPDESK_DATA_DIR": str(tmp_path)})

    assert settings.uses_development_secret
    assert settings.jwt_secret == made
    assert len(made) >= 32
    assert (tmp_path / "dev-jwt-secret").stat().st_mode & 0o077 == 0
    assert create_development_secret(tmp_path) == made
    assert create_development_secret(tmp_path / "other") != made


def test_data_dir_is_absolute_and_carries_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    default = Settings.from_env({})
    moved = Settings.from_env({"HELPDESK_DATA_DIR": "elsewhere"})
    explicit = Settings.from_env(
        {"HELPDESK_DATA_DIR": "elsewhere", "DATABASE_URL": "sqlite:///x.db"}
    )

    assert default.data_dir == tmp_path / ".helpdesk"
    assert default.database_url == f"sqlite+aiosqlite:///{tmp_path}/.helpdesk/helpdesk.db"
    assert moved.data_dir == tmp_path / "elsewhere"
    assert moved.database_url == f"sqlite+aiosqlite:///{tmp_path}/elsewhere/helpdesk.db"
    assert explicit.database_url == "sqlite:///x.db"


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="development secret"):
        Settings.from_env({"HELPDESK_ENV": "production", "HELPDESK_DATA_DIR": str(tmp_path)})


def test_production_refuses_the_development_secret(tmp_path: Path) -> None:
    env = {
        "HELPDESK_ENV": "production",
        "HELPDESK_DATA_DIR": str(tmp_path),
        "JWT_SECRET": create_development_secret(tmp_path),
    }

    with pytest.raises(SettingsError, match="is the development secret"):
        Settings.from_env(env)


def test_production_refuses_a_short_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        Settings.from_env({"HELPDESK_ENV": "production", "JWT_SECRET": "short"})


def test_production_defaults_hide_graphiql_and_introspection() -> None:
    settings = Settings.from_env({"HELPDESK_ENV": "production", "JWT_SECRET": STRONG})

    assert settings.is_production
    assert not settings.graphiql
    assert not settings.introspection
    assert not settings.uses_development_secret


def test_jwks_selects_asymmetric_algorithms() -> None:
    settings = Settings.from_env(
        {
            "HELPDESK_ENV": "production",
            "JWT_JWKS_URL": "https://id.example.com/jwks.json",
            "ATTACHMENT_SIGNING_KEY": STRONG,
        }
    )

    assert settings.jwt_algorithms == ("RS256",)
    assert settings.jwt_secret is None


def test_jwks_refuses_symmetric_algorithms() -> None:
    with pytest.raises(SettingsError, match="asymmetric"):
        Settings.from_env(
            {"JWT_JWKS_URL": "https://id.example.com/jwks", "JWT_ALGORITHMS": "HS256"}
        )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"HELPDESK_ENV": "staging"}, "HELPDESK_ENV"),
        ({"GRAPHIQL": "maybe"}, "GRAPHIQL must be true or false"),
        ({"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE must be at least 1"),
        ({"JWT_LEEWAY_SECONDS": "ten"}, "whole number"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        Settings.from_env({"HELPDESK_DATA_DIR": str(tmp_path), "JWT_SECRET": STRONG, **env})


def test_lists_are_comma_separated() -> None:
    settings = Settings.from_env(
        {"JWT_SECRET": STRONG, "CORS_ORIGINS": "https://a.example, https://b.example,"}
    )

    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg"),
        ("sqlite:///x.db", "sqlite+aiosqlite"),
    ],
)
def test_database_urls_get_the_async_driver(url: str, driver: str) -> None:
    assert normalize_database_url(url).drivername == driver


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        normalize_database_url("mysql://u@h/db")


def test_attachment_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = Settings.from_env({"HELPDESK_DATA_DIR": str(tmp_path)})

    assert settings.attachment_storage_url == ""
    assert settings.attachment_max_bytes == 25 * 1024 * 1024
    assert settings.attachment_max_per_response == 10
    assert "image/png" in settings.attachment_allowed_types
    # Derived from the JWT secret, and not the secret itself.
    assert len(settings.attachment_key()) == 32
    assert settings.attachment_key() != (settings.jwt_secret or "").encode()


def test_production_with_jwks_needs_an_attachment_signing_key() -> None:
    with pytest.raises(SettingsError, match="ATTACHMENT_SIGNING_KEY"):
        Settings.from_env(
            {"HELPDESK_ENV": "production", "JWT_JWKS_URL": "https://id.example.com/jwks.json"}
        )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"ATTACHMENT_SIGNING_KEY": "short"}, "ATTACHMENT_SIGNING_KEY"),
        ({"ATTACHMENT_MAX_BYTES": "0"}, "ATTACHMENT_MAX_BYTES"),
        ({"ATTACHMENT_MAX_BYTES": str(2**31)}, "ATTACHMENT_MAX_BYTES"),
        ({"ATTACHMENT_MAX_PER_RESPONSE": "many"}, "ATTACHMENT_MAX_PER_RESPONSE"),
        ({"ATTACHMENT_UPLOAD_URL_SECONDS": "1"}, "ATTACHMENT_UPLOAD_URL_SECONDS"),
        ({"PUBLIC_URL": "support.example.com"}, "PUBLIC_URL"),
    ],
)
def test_bad_attachment_settings_are_named(tmp_path: Path, env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        Settings.from_env({"HELPDESK_DATA_DIR": str(tmp_path), "JWT_SECRET": STRONG, **env})


def test_a_separate_signing_key_changes_the_attachment_key(tmp_path: Path) -> None:
    base = {"HELPDESK_DATA_DIR": str(tmp_path), "JWT_SECRET": STRONG}
    derived = Settings.from_env(base).attachment_key()
    own = Settings.from_env({**base, "ATTACHMENT_SIGNING_KEY": "k" * 40}).attachment_key()

    assert derived != own
