"""Settings: a TOML file plus `CONNECTOR_<SECTION>__<NAME>` environment overrides.

The file is optional (built-in defaults run the demo); a value that fails validation
raises `ConfigError` naming the dotted setting, which the CLI turns into exit code 2.
Secrets are `SecretStr`, so a stray print or log of the settings shows `**********`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connector.money import normalize_currency

DEFAULT_CONFIG_NAME = "connector.toml"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = "sqlite:///connector.db"
    echo: bool = False
    # Migrate a schema that is behind on start. None: yes for `serve`, no for `sync`/`backfill`
    # (an empty database is always created; see `connector.store.db.prepare_schema`).
    migrate_on_start: bool | None = None

    def migrates_on_start(self, *, serving: bool) -> bool:
        """`migrate_on_start` as set, else the default: only the long-lived service migrates."""
        return serving if self.migrate_on_start is None else self.migrate_on_start

    @field_validator("url")
    @classmethod
    def _known_dialect(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        if v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v[len("postgresql://") :]
        return v


class HttpSettings(_Section):
    timeout_seconds: float = Field(default=30.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_initial_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=60.0, ge=0)
    retry_after_max_seconds: float = Field(default=120.0, ge=0)
    max_pages_per_stream: int = Field(default=1_000_000, ge=1)
    # A stored raw payload keeps at most this many characters of any one string; the payload
    # records what was cut (`_connector_capped`). Mapped columns are not affected.
    max_field_chars: int = Field(default=65_536, ge=256)


class PartnerStackSettings(_Section):
    base_url: str = "https://api.partnerstack.com/api/v2"
    public_key: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")
    page_size: int = Field(default=250, ge=1, le=250)
    overlap_seconds: int = Field(default=300, ge=0)
    trailing_window_days: int = Field(default=35, ge=1)
    trailing_reread_hours: int = Field(default=24, ge=0)  # 0: re-read the trailing window every run
    reward_description_prefix: str = "referral-connector"
    # Client-side limit shared by reads and the push; 0 = none. PartnerStack documents no rate
    # limit (shared/spec/partnerstack.md), so a conservative 10/s (README "Configuration": the
    # arithmetic, M's backfill push 2.2 h); 429s are still retried after their Retry-After.
    requests_per_second: float = Field(default=10.0, ge=0)  # not money: requests a second
    push_concurrency: int = Field(default=4, ge=1, le=32)  # partners pushed in parallel
    reward_currency: str = "usd"  # what rewards are pushed in; other currencies are converted

    @field_validator("reward_currency")
    @classmethod
    def _iso_currency(cls, v: str) -> str:
        return normalize_currency(v)  # UnknownCurrency is a ValueError: a bad setting, named


class StripeSettings(_Section):
    base_url: str = "https://api.stripe.com/v1"
    api_key: SecretStr = SecretStr("")
    api_version: str = "2026-10-28.endive"  # what the sandbox (and the stripe SDK) serve
    page_size: int = Field(default=100, ge=1, le=100)
    backfill_window_days: int = Field(default=30, ge=1)
    concurrency: int = Field(default=4, ge=1, le=32)
    event_retention_days: int = Field(default=30, ge=1)
    # Client-side limits shared by every concurrent reader; 0 = none. Unset: Stripe's documented
    # global limit less a margin: 25/s for test keys (sk_test_/rk_test_: Stripe allows 25), 90/s
    # for live keys (Stripe allows 100). Stripe limits each endpoint to 25/s unless it says otherwise.
    requests_per_second: float | None = Field(default=None, ge=0)  # not money
    requests_per_second_per_endpoint: float = Field(default=25.0, ge=0)  # not money
    # A record parked because a retry cannot fix it (a referenced object answers 404, a body that
    # stays unusable) is fetched again on this many later runs, then left to an operator.
    parked_retry_limit: int = Field(default=5, ge=0)

    def rate_per_second(self) -> float:  # not money
        """The global limit in force: the setting, else 25 for a test-mode key and 90 for a live one."""
        if self.requests_per_second is not None:
            return self.requests_per_second
        test_mode = self.api_key.get_secret_value().startswith(("sk_test_", "rk_test_"))
        return 25.0 if test_mode else 90.0


class ProgramSettings(_Section):
    file: str = "programs/consio.toml"


class FinanceSettings(_Section):
    marketing_costs_file: str | None = None
    # date,currency,rate: reward-currency units per unit of currency; `connector check` reads it
    fx_rates_file: str | None = None


class MappingSettings(_Section):
    # Directory holding partnerstack.toml and stripe.toml; unset = the bundled mappings/.
    dir: str | None = None


# Placeholders that shipped in earlier config examples: as public as no key at all.
KNOWN_FINGERPRINT_KEYS = frozenset({"change-me-fingerprint-key", "change-me", "CHANGE-ME"})
MIN_FINGERPRINT_KEY_CHARS = 16


class SecuritySettings(_Section):
    # Key of the HMAC that fingerprints tax ids and bank numbers. No default: a key everyone
    # knows lets anyone recover a tax id from its stored last four and fingerprint in seconds.
    fingerprint_key: SecretStr = SecretStr("")
    # Or a file holding the key (a mounted secret; `connector demo` writes one); the key wins.
    fingerprint_key_file: str | None = None

    @model_validator(mode="after")
    def _key_from_file(self) -> SecuritySettings:
        """Read `fingerprint_key_file` into `fingerprint_key` when no key is set directly."""
        if self.fingerprint_key.get_secret_value() or not self.fingerprint_key_file:
            return self
        try:
            key = Path(self.fingerprint_key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"fingerprint_key_file: cannot read {self.fingerprint_key_file} "
                             f"({type(exc).__name__})") from None
        self.fingerprint_key = SecretStr(key)
        return self


class ScheduleSettings(_Section):
    cron: str | None = None  # crontab expression; wins over interval when set
    interval_seconds: int = Field(default=3600, ge=1)
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    overdue_factor: float = Field(default=2.5, gt=1)  # not money: a ratio of intervals


class ServeSettings(_Section):
    # Loopback unless configured: the container image sets 0.0.0.0 itself (its port is published).
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    shutdown_grace_seconds: float = Field(default=300.0, ge=0)  # how long SIGTERM waits for the run in flight
    # When set, /metrics answers only `Authorization: Bearer <token>` (401 otherwise).
    metrics_token: SecretStr | None = None


class ReportSettings(_Section):
    output_dir: str = "reports"
    # Links in the reports: Stripe objects open in this dashboard (".../test" for test mode), a
    # partner opens at this address ({key} = the partnership key).
    # Empty turns that kind of link off.
    stripe_dashboard: str = "https://dashboard.stripe.com"
    partnerstack_partner_url: str = "https://app.partnerstack.com/partnerships/{key}"


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "text"] = "auto"
    # In JSON mode, a progress line per stage this often while a run goes (see connector.run.progress).
    progress_seconds: float = Field(default=10.0, gt=0)


class TaxSettings(_Section):
    # The 1099-NEC reporting threshold by year of payment, USD cents (`connector report --tax-year`):
    # $600 for payments made through 2025, $2,000 for payments made in 2026; indexed for inflation
    # from 2027, so a later year needs its own entry. A year before the first entry takes the first.
    nec_thresholds: dict[str, int] = Field(default_factory=lambda: {"2025": 60000, "2026": 200000})

    @field_validator("nec_thresholds")
    @classmethod
    def _years(cls, v: dict[str, int]) -> dict[str, int]:
        for year, minor in v.items():
            if not (len(year) == 4 and year.isdigit()) or minor < 0:
                raise ValueError(f"expected a year and USD cents >= 0, got {year!r} = {minor!r}")
        return v

    def nec_threshold(self, year: int) -> int:
        """The threshold for payments made in `year`; ConfigError when the year has none."""
        known = sorted((int(k), v) for k, v in self.nec_thresholds.items())
        for y, minor in known:
            if y == year:
                return minor
        if known and year < known[0][0]:
            return known[0][1]
        raise ConfigError(f"bad setting tax.nec_thresholds: no 1099-NEC threshold for {year} "
                          f"(it is indexed for inflation from 2027): add \"{year}\" = <USD cents>")


class PushSettings(_Section):
    # "required": nothing is pushed until a batch is approved (`connector payouts`, `approve`, `reject`;
    # connector.push.approval). "none" (the default) pushes every payable entry as it comes.
    approval: Literal["none", "required"] = "none"
    # A batch paying out more than this (minor units of the reward currency, the positive payouts
    # summed) needs a second, different approver; unset = one approver always suffices.
    second_approval_over: int | None = Field(default=None, ge=0)


class LockSettings(_Section):
    ttl_seconds: int = Field(default=3600, ge=10)
    # How often a run checks that it still holds the lock (and pushes a SQLite lease out); at most
    # a third of ttl_seconds. A lost lock is noticed within this, or at the run's next write.
    heartbeat_seconds: float = Field(default=5.0, gt=0)  # not money: seconds


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONNECTOR_",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    partnerstack: PartnerStackSettings = PartnerStackSettings()
    stripe: StripeSettings = StripeSettings()
    program: ProgramSettings = ProgramSettings()
    finance: FinanceSettings = FinanceSettings()
    mappings: MappingSettings = MappingSettings()
    security: SecuritySettings = SecuritySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    serve: ServeSettings = ServeSettings()
    report: ReportSettings = ReportSettings()
    log: LogSettings = LogSettings()
    lock: LockSettings = LockSettings()
    push: PushSettings = PushSettings()
    tax: TaxSettings = TaxSettings()

    # set per load by `load_settings`; not a file setting
    _toml_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _CURRENT_FILE.get("path")
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


_CURRENT_FILE: dict[str, Path | None] = {"path": None}


def resolve_config_path(config: str | Path | None) -> Path | None:
    """`--config FILE`, else `./connector.toml` if present, else built-in defaults."""
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate; raise `ConfigError` naming the first bad setting."""
    path = resolve_config_path(config)
    _CURRENT_FILE["path"] = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        src = f" (in {path})" if path else ""
        raise ConfigError(f"bad setting {where}: {err['msg']}{src}") from None
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    finally:
        _CURRENT_FILE["path"] = None


def env_name(section: str, name: str) -> str:
    """The environment variable that overrides `[section] name`."""
    return f"CONNECTOR_{section.upper()}__{name.upper()}"


API_KEYS = (("partnerstack", "public_key"), ("partnerstack", "secret_key"), ("stripe", "api_key"))


def require_api_keys(settings: Settings) -> None:
    """`ConfigError` naming the first API key that is empty or cannot travel in an HTTP header.

    Why here and not in the model: the defaults (no keys) still serve `report` and `demo`;
    only what talks to the APIs needs them. Without this an empty Stripe key surfaced as
    httpx's `Illegal header value b'Bearer '`, naming neither the setting nor the fix.
    """
    for section, name in API_KEYS:
        secret: SecretStr = getattr(getattr(settings, section), name)
        value = secret.get_secret_value()
        where = f"bad setting {section}.{name}"
        if not value.strip():
            raise ConfigError(f"{where}: empty; set it in the config file or {env_name(section, name)}")
        if not (value.isascii() and value.isprintable()) or any(ch.isspace() for ch in value):
            raise ConfigError(f"{where}: contains spaces, control or non-ASCII characters (a stray newline "
                              "or quote when it was pasted?)")
        if section == "partnerstack" and name == "public_key" and ":" in value:
            raise ConfigError(f"{where}: contains ':', which Basic auth cannot carry in the user name")


def require_fingerprint_key(settings: Settings) -> str:
    """The fingerprint key, or `ConfigError` naming `security.fingerprint_key` (the CLI exits 2).

    Why here and not a model default: `report` and `db` need no key, while anything that pulls
    (sync, backfill, serve) must never fingerprint with a key that is empty or publicly known.
    """
    key = settings.security.fingerprint_key.get_secret_value()
    where = "bad setting security.fingerprint_key"
    how = (f"set it (or security.fingerprint_key_file) in the config file or "
           f"{env_name('security', 'fingerprint_key')}, e.g. to the output of `openssl rand -hex 32`")
    if not key.strip():
        raise ConfigError(f"{where}: not set; {how}")
    if key in KNOWN_FINGERPRINT_KEYS:
        raise ConfigError(f"{where}: a published placeholder, which protects nothing; {how}")
    if len(key) < MIN_FINGERPRINT_KEY_CHARS:
        raise ConfigError(f"{where}: shorter than {MIN_FINGERPRINT_KEY_CHARS} characters; {how}")
    return key


def redacted_environ() -> dict[str, str]:
    """Connector variables with secret-looking values masked, for diagnostics."""
    out: dict[str, str] = {}
    for k, v in os.environ.items():
        if k.startswith("CONNECTOR_"):
            secret = any(w in k for w in ("KEY", "SECRET", "PASSWORD", "TOKEN"))
            out[k] = "**********" if secret else v
    return out
