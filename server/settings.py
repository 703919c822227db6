"""Settings from environment variables. Every variable is listed in the README."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from resolvers.attachment_policy import DEFAULT_ALLOWED_TYPES
from resolvers.signing import derive_key

DEFAULT_DATA_DIR = ".helpdesk"
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR}/helpdesk.db"
DEFAULT_BROADCAST_URL = "memory://"
MIN_SECRET_LENGTH = 32
# GraphQL's Int (byteSize) is 32-bit.
MAX_ATTACHMENT_BYTES = 2**31 - 1


class SettingsError(ValueError):
    """A setting is missing, malformed, or unsafe for the chosen environment."""


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {value!r}")


def _int(value: str, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {number}")
    return number


def _choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    lowered = value.strip().lower()
    if lowered not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return lowered


def _language(value: str) -> str:
    name = value.strip().lower()
    if not re.fullmatch(r"[a-z_]{1,63}", name):
        raise ValueError(
            f"KNOWLEDGE_BASE_LANGUAGE must name a PostgreSQL text search configuration "
            f"(e.g. english, german, simple), got {value!r}"
        )
    return name


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


DEV_SECRET_FILE = "dev-jwt-secret"
DEV_ATTACHMENT_KEY_FILE = "dev-attachment-key"


def read_development_secret(data_dir: Path) -> str | None:
    """The development HS256 secret kept in the data folder, if one was made there."""
    path = data_dir / DEV_SECRET_FILE
    return path.read_text().strip() if path.is_file() else None


def development_attachment_key(data_dir: Path) -> str:
    """The key of attachment links in development without a shared secret (JWT_JWKS_URL and no
    ATTACHMENT_SIGNING_KEY): made on first use and kept in the data folder, so every worker
    signs alike. Making it anywhere is harmless: at worst it ends links of a few minutes."""
    path = data_dir / DEV_ATTACHMENT_KEY_FILE
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def create_development_secret(data_dir: Path) -> str:
    """Make (or reuse) the random development secret in the data folder, never in the repo.

    Only `helpdesk seed --demo` (which `make run` calls) makes one, and says so: every other
    command only reads it, so a command run from the wrong folder never mints a new secret
    that silently invalidates the tokens handed out so far. Production refuses to run with it.
    """
    existing = read_development_secret(data_dir)
    if existing:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path = data_dir / DEV_SECRET_FILE
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret


def default_database_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in the data folder."""
    return f"sqlite+aiosqlite:///{data_dir / 'helpdesk.db'}"


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    broadcast_url: str = DEFAULT_BROADCAST_URL
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    jwt_secret: str | None = None
    jwt_jwks_url: str | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = 30
    cors_origins: tuple[str, ...] = ()
    graphiql: bool = True
    dashboard: bool = True
    persisted_queries: str = "auto"
    persisted_queries_manifest: Path | None = None
    persisted_queries_cache_size: int = 1_000
    introspection: bool = True
    max_query_depth: int = 12
    max_query_aliases: int = 30
    max_query_tokens: int = 1_500
    max_query_cost: int = 10_000
    max_query_field_merges: int = 5_000
    max_body_bytes: int = 262_144
    field_suggestions: bool = True
    rate_limit_per_minute: int = 600
    actor_cache_seconds: int = 10
    ws_max_subscriptions: int = 20
    ws_max_message_bytes: int = 65_536
    subscriber_queue_size: int = 256
    shared_fanout: bool = True
    compiled_queries: bool = True
    compiled_writes: bool = True
    db_pool_size: int = 10
    db_max_overflow: int = 10
    require_row_security: bool = False
    log_level: str = "info"
    log_format: str = "text"
    metrics: bool = True
    tracing: bool = False
    public_url: str | None = None
    # PostgreSQL text-search configuration of knowledge-base search (stemming, stop words).
    knowledge_base_language: str = "english"
    attachment_storage_url: str = ""
    attachment_s3_endpoint: str | None = None
    attachment_s3_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    attachment_signing_key: str | None = field(default=None, repr=False)
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_max_per_response: int = 10
    attachment_allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    attachment_upload_url_seconds: int = 900
    attachment_unattached_seconds: int = 86_400
    attachment_cleanup_interval_seconds: int = 300
    # First sign-in (README, "Administering your helpdesk"): the token claims that carry the
    # user's email and whether the identity provider verified it ("" trusts every email).
    jwt_email_claim: str = "email"
    jwt_email_verified_claim: str = "email_verified"
    customer_self_signup: bool = False
    uses_development_secret: bool = field(default=False, compare=False)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def attachment_key(self) -> bytes:
        """The key of signed attachment URLs: ATTACHMENT_SIGNING_KEY, else derived from the
        JWT secret, else (development with a JWKS URL) one kept in the data directory."""
        if self.attachment_signing_key:
            return derive_key(self.attachment_signing_key, "helpdesk attachment signing key")
        if self.jwt_secret:
            return derive_key(self.jwt_secret)
        return derive_key(development_attachment_key(self.data_dir))

    def require_token_key(self) -> None:
        """Refuse to serve when no token could ever be verified (no secret, no JWKS URL)."""
        if self.jwt_secret is None and self.jwt_jwks_url is None:
            raise SettingsError(
                "no JWT secret: set JWT_SECRET or JWT_JWKS_URL, or run `helpdesk seed --demo` "
                f"to create a development secret in {self.data_dir}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from the environment, filling development defaults and checking safety."""
        env = os.environ if env is None else env
        environment = env.get("HELPDESK_ENV", "development").strip().lower()
        if environment not in ("development", "production"):
            raise SettingsError(
                f"HELPDESK_ENV must be development or production, got {environment!r}"
            )
        production = environment == "production"
        # Absolute, so every process (uvicorn workers too) agrees wherever it runs.
        data_dir = Path(env.get("HELPDESK_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()

        jwks_url = env.get("JWT_JWKS_URL") or None
        secret = env.get("JWT_SECRET") or None
        uses_dev_secret = False
        if secret is None and jwks_url is None:
            if production:
                raise SettingsError(
                    "production needs JWT_SECRET (HS256, at least 32 characters) or JWT_JWKS_URL; "
                    "it will not run on the development secret"
                )
            secret = read_development_secret(data_dir)
            uses_dev_secret = secret is not None
        if production and secret is not None:
            if len(secret) < MIN_SECRET_LENGTH:
                raise SettingsError(f"JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
            if read_development_secret(data_dir) == secret:
                raise SettingsError("JWT_SECRET is the development secret; set a real one")

        signing_key = env.get("ATTACHMENT_SIGNING_KEY") or None
        if signing_key is not None and len(signing_key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"ATTACHMENT_SIGNING_KEY must be at least {MIN_SECRET_LENGTH} characters"
            )
        if production and jwks_url and signing_key is None:
            raise SettingsError(
                "production with JWT_JWKS_URL needs ATTACHMENT_SIGNING_KEY (at least "
                f"{MIN_SECRET_LENGTH} characters) to sign attachment URLs"
            )
        public_url = (env.get("PUBLIC_URL") or "").strip().rstrip("/") or None
        if public_url and not public_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"PUBLIC_URL must start with http:// or https://, got {public_url!r}"
            )
        allowed_types = _list(env.get("ATTACHMENT_ALLOWED_TYPES", ",".join(DEFAULT_ALLOWED_TYPES)))
        max_bytes = _int(
            env.get("ATTACHMENT_MAX_BYTES", str(25 * 1024 * 1024)),
            "ATTACHMENT_MAX_BYTES",
            minimum=1,
        )
        if max_bytes > MAX_ATTACHMENT_BYTES:
            raise SettingsError(f"ATTACHMENT_MAX_BYTES must be at most {MAX_ATTACHMENT_BYTES}")

        persisted = env.get("PERSISTED_QUERIES", "auto").strip().lower()
        if persisted not in ("auto", "off", "allowlist"):
            raise SettingsError(
                f"PERSISTED_QUERIES must be auto, off or allowlist, got {persisted!r}"
            )
        manifest = env.get("PERSISTED_QUERIES_MANIFEST") or None
        # Relative paths are taken from the data folder, like every path the app keeps.
        manifest_path = data_dir / Path(manifest).expanduser() if manifest else None
        if persisted == "allowlist" and manifest_path is None:
            raise SettingsError("PERSISTED_QUERIES=allowlist needs PERSISTED_QUERIES_MANIFEST")

        default_algorithms = "RS256" if jwks_url else "HS256"
        algorithms = _list(env.get("JWT_ALGORITHMS", default_algorithms))
        if jwks_url and any(a.startswith("HS") for a in algorithms):
            raise SettingsError(
                "JWT_ALGORITHMS with JWT_JWKS_URL must be asymmetric (RS256, ES256, ...)"
            )

        return cls(
            environment=environment,
            database_url=env.get("DATABASE_URL") or default_database_url(data_dir),
            broadcast_url=env.get("BROADCAST_URL", DEFAULT_BROADCAST_URL),
            data_dir=data_dir,
            jwt_secret=secret if not jwks_url else None,
            jwt_jwks_url=jwks_url,
            jwt_algorithms=algorithms,
            jwt_issuer=env.get("JWT_ISSUER") or None,
            jwt_audience=env.get("JWT_AUDIENCE") or None,
            jwt_leeway_seconds=_int(env.get("JWT_LEEWAY_SECONDS", "30"), "JWT_LEEWAY_SECONDS"),
            cors_origins=_list(env.get("CORS_ORIGINS", "")),
            graphiql=_bool(env.get("GRAPHIQL", "false" if production else "true"), "GRAPHIQL"),
            dashboard=_bool(env.get("DASHBOARD", "false" if production else "true"), "DASHBOARD"),
            persisted_queries=persisted,
            persisted_queries_manifest=manifest_path,
            persisted_queries_cache_size=_int(
                env.get("PERSISTED_QUERIES_CACHE_SIZE", "1000"), "PERSISTED_QUERIES_CACHE_SIZE"
            ),
            introspection=_bool(
                env.get("INTROSPECTION", "false" if production else "true"), "INTROSPECTION"
            ),
            max_query_depth=_int(env.get("MAX_QUERY_DEPTH", "12"), "MAX_QUERY_DEPTH", minimum=2),
            max_query_aliases=_int(env.get("MAX_QUERY_ALIASES", "30"), "MAX_QUERY_ALIASES"),
            max_query_tokens=_int(
                env.get("MAX_QUERY_TOKENS", "1500"), "MAX_QUERY_TOKENS", minimum=10
            ),
            max_query_cost=_int(env.get("MAX_QUERY_COST", "10000"), "MAX_QUERY_COST", minimum=1),
            max_query_field_merges=_int(
                env.get("MAX_QUERY_FIELD_MERGES", "5000"), "MAX_QUERY_FIELD_MERGES", minimum=100
            ),
            max_body_bytes=_int(
                env.get("MAX_BODY_BYTES", "262144"), "MAX_BODY_BYTES", minimum=1024
            ),
            field_suggestions=_bool(
                env.get("FIELD_SUGGESTIONS", "false" if production else "true"),
                "FIELD_SUGGESTIONS",
            ),
            rate_limit_per_minute=_int(
                env.get("RATE_LIMIT_PER_MINUTE", "600"), "RATE_LIMIT_PER_MINUTE"
            ),
            actor_cache_seconds=_int(env.get("ACTOR_CACHE_SECONDS", "10"), "ACTOR_CACHE_SECONDS"),
            ws_max_subscriptions=_int(
                env.get("WS_MAX_SUBSCRIPTIONS", "20"), "WS_MAX_SUBSCRIPTIONS", minimum=1
            ),
            ws_max_message_bytes=_int(
                env.get("WS_MAX_MESSAGE_BYTES", "65536"), "WS_MAX_MESSAGE_BYTES", minimum=1024
            ),
            subscriber_queue_size=_int(
                env.get("SUBSCRIBER_QUEUE_SIZE", "256"), "SUBSCRIBER_QUEUE_SIZE", minimum=1
            ),
            shared_fanout=_bool(env.get("SHARED_FANOUT", "true"), "SHARED_FANOUT"),
            compiled_queries=_bool(env.get("COMPILED_QUERIES", "true"), "COMPILED_QUERIES"),
            compiled_writes=_bool(env.get("COMPILED_WRITES", "true"), "COMPILED_WRITES"),
            db_pool_size=_int(env.get("DB_POOL_SIZE", "10"), "DB_POOL_SIZE", minimum=1),
            db_max_overflow=_int(env.get("DB_MAX_OVERFLOW", "10"), "DB_MAX_OVERFLOW"),
            require_row_security=_bool(
                env.get("HELPDESK_REQUIRE_ROW_SECURITY", "false"), "HELPDESK_REQUIRE_ROW_SECURITY"
            ),
            log_level=_choice(
                env.get("LOG_LEVEL", "info"), "LOG_LEVEL", ("debug", "info", "warning", "error")
            ),
            log_format=_choice(env.get("LOG_FORMAT", "text"), "LOG_FORMAT", ("text", "json")),
            metrics=_bool(env.get("METRICS", "true"), "METRICS"),
            tracing=_bool(env.get("TRACING", "false"), "TRACING"),
            public_url=public_url,
            knowledge_base_language=_language(env.get("KNOWLEDGE_BASE_LANGUAGE", "english")),
            attachment_storage_url=env.get("ATTACHMENT_STORAGE_URL", "").strip(),
            attachment_s3_endpoint=env.get("ATTACHMENT_S3_ENDPOINT") or None,
            attachment_s3_region=env.get("ATTACHMENT_S3_REGION") or env.get("AWS_REGION") or None,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            attachment_signing_key=signing_key,
            attachment_max_bytes=max_bytes,
            attachment_max_per_response=_int(
                env.get("ATTACHMENT_MAX_PER_RESPONSE", "10"),
                "ATTACHMENT_MAX_PER_RESPONSE",
                minimum=1,
            ),
            attachment_allowed_types=tuple(t.lower() for t in allowed_types),
            attachment_upload_url_seconds=_int(
                env.get("ATTACHMENT_UPLOAD_URL_SECONDS", "900"),
                "ATTACHMENT_UPLOAD_URL_SECONDS",
                minimum=10,
            ),
            attachment_unattached_seconds=_int(
                env.get("ATTACHMENT_UNATTACHED_SECONDS", "86400"),
                "ATTACHMENT_UNATTACHED_SECONDS",
                minimum=60,
            ),
            attachment_cleanup_interval_seconds=_int(
                env.get("ATTACHMENT_CLEANUP_INTERVAL_SECONDS", "300"),
                "ATTACHMENT_CLEANUP_INTERVAL_SECONDS",
            ),
            jwt_email_claim=(env.get("JWT_EMAIL_CLAIM", "email").strip() or "email"),
            jwt_email_verified_claim=env.get("JWT_EMAIL_VERIFIED_CLAIM", "email_verified").strip(),
            customer_self_signup=_bool(
                env.get("CUSTOMER_SELF_SIGNUP", "false"), "CUSTOMER_SELF_SIGNUP"
            ),
            uses_development_secret=uses_dev_secret,
        )
