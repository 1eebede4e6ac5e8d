"""Settings: READERD_* environment variables (and a .env file), typed and built once."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from readerd.environment import database_url, default_data_dir

SAMPLES_DIR = Path(__file__).parent / "samples"


CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every knob readerd has. `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="READERD_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # --- storage
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None

    # --- source
    # Unset (and no READERD_FOLDER): the quick start, the bundled samples into an empty
    # library only. "none": imports only, nothing is synced.
    source: Literal["folder", "pocket", "wallabag", "linkding", "karakeep", "readeck", "none"] = (
        "folder"
    )
    folder: Path = SAMPLES_DIR
    pocket_url: str = "https://getpocket.com"
    pocket_consumer_key: SecretStr | None = None
    pocket_access_token: SecretStr | None = None
    pocket_page_size: int = Field(default=30, ge=1, le=30)
    wallabag_url: str | None = None
    wallabag_client_id: str | None = None
    wallabag_client_secret: SecretStr | None = None
    wallabag_username: str | None = None
    wallabag_password: SecretStr | None = None
    linkding_url: str | None = None
    linkding_token: SecretStr | None = None
    karakeep_url: str | None = None
    karakeep_api_key: SecretStr | None = None
    readeck_url: str | None = None
    readeck_token: SecretStr | None = None
    # Write-back to the source (store/writeback.py): off, readerd's tags, or tags and archiving.
    writeback: Literal["off", "tags", "tags+archive"] = "off"
    writeback_rate: float = Field(default=2.0, gt=0)  # requests per second to the source

    # --- fetch
    fetch_allow: CommaList = Field(default_factory=list)
    fetch_timeout: float = Field(default=30.0, gt=0)
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    fetch_max_redirects: int = Field(default=5, ge=0)
    fetch_concurrency: int = Field(default=8, ge=1)
    # per page in an extraction worker, and per article in the offline analysis there
    extract_timeout: float = Field(default=30.0, gt=0)
    extract_memory_mb: int = Field(default=1024, ge=128)
    user_agent: str = "readerd/0.1 (+https://github.com/readerd/readerd)"

    # --- analysis
    analyzer: Literal["auto", "offline", "openai"] = "auto"
    llm_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("READERD_LLM_BASE_URL", "OPENAI_BASE_URL")
    )
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("READERD_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_model: str | None = None
    llm_concurrency: int = Field(default=2, ge=1)
    llm_timeout: float = Field(default=120.0, gt=0)
    llm_max_repairs: int = Field(default=2, ge=0)
    llm_context_tokens: int = Field(default=8192, ge=1024)
    summary_language: str = "auto"
    # Optional price table (currency units per million tokens) for costs in `readerd llm-log`,
    # and a daily cap on LLM tokens (in + out) after which the LLM stage waits for tomorrow.
    llm_price_in: float | None = Field(default=None, ge=0)
    llm_price_out: float | None = Field(default=None, ge=0)
    llm_daily_token_budget: int | None = Field(default=None, ge=1)

    # --- embeddings for `search --semantic` and `ask` (opt-in): any /v1/embeddings endpoint.
    # The key defaults to the LLM's; prefixes are what some models want before a query
    # or a document (nomic-embed-text: "search_query: " and "search_document: ").
    embed_base_url: str | None = None
    embed_model: str | None = None
    embed_api_key: SecretStr | None = None
    embed_dimensions: int | None = Field(default=None, ge=1)
    embed_query_prefix: str = ""
    embed_document_prefix: str = ""
    embed_max_chars: int = Field(default=2000, ge=200)  # readerd caps the input itself

    @property
    def use_embeddings(self) -> bool:
        """True when an embeddings endpoint and model are configured."""
        return bool(self.embed_base_url and self.embed_model)

    @field_validator("llm_price_in", "llm_price_out", "llm_daily_token_budget", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    # --- processing
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=300.0, ge=0)
    #: how long a worker's claim on a due link lasts without renewal (renewed while it works)
    lease_seconds: float = Field(default=120.0, ge=1)
    log_level: str = "INFO"

    # --- daemon (`readerd run`): seconds, or a duration such as "30m", "1h30m", "45s"
    sync_interval: float = Field(default=1800.0, gt=0)
    process_interval: float = Field(default=600.0, gt=0)
    stop_timeout: float = Field(default=20.0, gt=0)  # keep below systemd's TimeoutStopSec

    @field_validator("sync_interval", "process_interval", "stop_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        import re  # local: keeps this block self-contained

        if not isinstance(value, str) or not value.strip():
            return value
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError("must be seconds or a duration such as 30m, 1h30m, 45s")
        units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        return sum(float(number) * units[unit] for number, unit in parts)

    # --- digest email (readerd/digest/) and its Atom feed
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # None: by security
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout: float = Field(default=30.0, gt=0)
    smtp_ca_file: Path | None = None  # extra CA bundle; verification stays on
    digest_to: CommaList = Field(default_factory=list)
    digest_from: str | None = None
    digest_max_items: int = Field(default=20, ge=1, le=200)
    digest_empty: Literal["skip", "note"] = "skip"
    digest_at: str = "07:00"  # HH:MM, local time
    feed_path: Path | None = None

    @field_validator("digest_to", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("digest_to", "digest_from")
    @classmethod
    def _one_line(cls, value: object) -> object:
        # Addresses end up in headers: a CR/LF would start a header of its own.
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str) and ("@" not in item or any(c in item for c in "\r\n")):
                raise ValueError(f"not a single e-mail address: {item!r}")
        return value

    @field_validator("digest_at")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        hour, _, minute = value.strip().partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError("must be HH:MM, e.g. 07:00")
        return f"{int(hour):02d}:{int(minute):02d}"

    @property
    def smtp_port_or_default(self) -> int:
        """SMTP_PORT, else the usual port of SMTP_SECURITY (587, 465 or 25)."""
        return self.smtp_port or {"starttls": 587, "ssl": 465, "none": 25}[self.smtp_security]

    @property
    def digest_time(self) -> tuple[int, int]:
        """DIGEST_AT as (hour, minute), local time."""
        hour, minute = self.digest_at.split(":")
        return int(hour), int(minute)

    @field_validator("fetch_allow", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("summary_language")
    @classmethod
    def _language_code(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "auto" and not (len(value) == 2 and value.isalpha()):
            raise ValueError("must be 'auto' or an ISO 639-1 code such as 'es'")
        return value

    @property
    def quick_start(self) -> bool:
        """True when neither READERD_SOURCE nor READERD_FOLDER is set: the bundled samples."""
        return not ({"source", "folder"} & self.model_fields_set)

    @cached_property
    def db_url(self) -> str:
        """The SQLAlchemy URL of the database."""
        return database_url(self.database_url, self.data_dir)

    @property
    def use_llm(self) -> bool:
        """True when analysis goes to an OpenAI-compatible endpoint."""
        if self.analyzer == "offline":
            return False
        if self.analyzer == "openai":
            return True
        # An endpoint set is a wish for the LLM, model or not (see readerd/llm_model.py).
        return bool(self.llm_base_url or (self.llm_model and self.llm_api_key))

    def secrets(self) -> list[str]:
        """Configured secret values, for log redaction: every SecretStr field that is set."""
        values = (getattr(self, name) for name in type(self).model_fields)
        return [
            v.get_secret_value()
            for v in values
            if isinstance(v, SecretStr) and v.get_secret_value()
        ]


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, .env and explicit overrides."""
    return Settings(**overrides)  # type: ignore[arg-type]


def load_checked_settings() -> Settings:
    """The settings from the environment and .env, or a ConfigError naming every bad one.

    The one loader of every command (the CLI's context, doctor and status alike).
    """
    from pydantic import ValidationError

    from readerd.errors import ConfigError

    try:
        return load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"READERD_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"config: {problems}") from None
