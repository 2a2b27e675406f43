"""Settings: typed, frozen sections whose fields are the one home of every default.

config.toml (or the file SYRENA_CONFIG names) documents every key and overrides some; any key can be overridden
again by the environment as SYRENA_<SECTION>__<KEY>. Unknown sections or keys and values of the wrong type fail
at start-up, by name, rather than being silently ignored. Secrets never show in a repr (nor so in a log line).
Read by pydantic-settings (the TOML and environment sources) into pydantic models (types, checks).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar, get_origin
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "SYRENA_"


class ConfigError(ValueError):
    """The configuration names an unknown key or holds a value of the wrong type."""


DEFAULT_TIMEZONE = "Europe/Warsaw"
# Sections whose own `timezone` follows [app] timezone unless the file (or environment) sets it.
FOLLOW_APP_TIMEZONE = ("campaigns", "billing")


def check_timezone(section: str, name: str) -> None:
    """Refuse anything that is not an IANA time zone name (at start-up, naming the key)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f'[{section}] timezone: not a time zone name such as "Europe/Warsaw", got {name!r}') from None


class _Section(BaseModel):
    """One [section] of the configuration: frozen, no unknown keys; a bad value raises ConfigError naming it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    section: ClassVar[str] = ""  # its name in the file, for messages

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise ConfigError(_explain(e, self.section)) from None

    @field_validator("*", mode="before")
    @classmethod
    def _as_the_file_means_it(cls, value: Any, info: Any) -> Any:
        kind = cls.model_fields[info.field_name].annotation
        if kind is Decimal and isinstance(value, float):
            raise ValueError('write money as a quoted string, e.g. "0.18"')  # never through float
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError("a number, not true or false")
        if get_origin(kind) is tuple and isinstance(value, str):
            return [item.strip() for item in value.split(",")]  # from the environment: "PL,DE"
        return value


M = TypeVar("M", bound=BaseModel)


def replace(settings: M, **changes: Any) -> M:
    """A copy of a settings object (or section) with `changes`, checked like a loaded one."""
    values = {name: getattr(settings, name) for name in type(settings).model_fields}
    try:
        return type(settings).model_validate({**values, **changes})
    except ValidationError as e:
        raise ConfigError(_explain(e, getattr(settings, "section", ""))) from None


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


class AppSettings(_Section):
    section: ClassVar[str] = "app"
    # Signs the session cookies: whoever knows it can forge any staff session. "" (the default): in development
    # the key generated once into secret_key_file; outside development it must be set (SYRENA_APP__SECRET_KEY,
    # at least 32 characters). The key this repository once committed is refused everywhere (app.security).
    secret_key: str = Field(default="", repr=False)
    secret_key_file: str = "var/secret-key"  # relative to the checkout; written with mode 600 when missing
    # "development" (make run, tests) or anything else, e.g. "production": then a secret_key must be set, cookies
    # are sent over HTTPS only and approvers and admins need TOTP.
    environment: str = "development"
    default_language: str = "pl"
    languages: tuple[str, ...] = ("pl", "en", "uk")
    admin_email: str = "admin@syrena.local"
    # Reverse proxies (nginx, HAProxy) in front of the app that set X-Forwarded-For/-Proto: the audit trail and
    # the per-IP limits then see the client's address, not the proxy's. 0: none (never trust the headers).
    proxy_hops: int = 0
    # Where the public reaches this app: the base of every absolute link it publishes (the Atom feed, CAP
    # links). Never taken from the request's Host header, which any client can set.
    public_url: str = "http://localhost:5000"
    # The local time of the city (an IANA name): every time shown to people, every time typed into a form, the
    # quiet hours and the finance calendar. [campaigns] and [billing] timezone default to it.
    timezone: str = DEFAULT_TIMEZONE

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_timezone(self.section, self.timezone)
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(
                f'[app] public_url: expected an http(s) address such as "https://syrena.poznan.pl", '
                f"got {self.public_url!r}"
            )
        return self


class DatabaseSettings(_Section):
    section: ClassVar[str] = "database"
    url: str = "postgresql://postgres@127.0.0.1:5432/syrena"

    def __repr_args__(self) -> Any:
        yield "url", _without_password(self.url)  # a password in the URL never shows


class RedisSettings(_Section):
    section: ClassVar[str] = "redis"
    url: str = "redis://127.0.0.1:6379/0"

    def __repr_args__(self) -> Any:
        yield "url", _without_password(self.url)


DEFAULT_SMSC_VALIDITY_MINUTES = 2880  # what most SMSCs keep an undelivered SMS for when not told


class SmscSettings(_Section):
    """One SMPP connection. The [smsc] keys describe the first one (SYRENA_SMSC__* override them);
    further ones come as [[smsc.connections]] tables with the same keys."""

    section: ClassVar[str] = "smsc"
    name: str = "primary"
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = "syrena"
    password: str = Field(default="secret", repr=False)
    system_type: str = ""
    bind_mode: str = "transceiver"  # or "transmitter_receiver": two binds, one each way
    source_addr: str = "4800"
    source_ton: int = 3
    source_npi: int = 0
    tps: float = 100.0
    window: int = 50
    unrecorded_limit: int = 500  # parts sent but not yet recorded: what a killed worker may send twice
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    role: str = "primary"  # "primary" share traffic by tps (they pull); "failover" only when no primary is up
    weight: int = 1  # unused since traffic follows tps; kept so that older files still load
    validity_minutes: int = 0  # 0: the SMSC's default validity period
    flash: bool = False  # class 0: shown at once, not stored (alerts that must not wait)
    retry_statuses: tuple[str, ...] = ("ESME_RTHROTTLED", "ESME_RMSGQFUL", "ESME_RSYSERR", "ESME_RX_T_APPN")
    max_retries: int = 5  # per message, for the statuses above; then failed with the status name
    retry_delay: float = 0.5  # seconds, doubled on every retry of the same message (not for throttling)
    throttle_retries: int = 50  # ESME_RTHROTTLED/RMSGQFUL: the part alone is retried after 50 ms this often
    unknown_status_retries: int = 2  # a status smpplib does not know is temporary this many times
    receipt_id_base: str = "same"  # receipt text ids: "same" as submit_sm_resp, or "hex"/"dec" of a dec/hex id
    failover_after: float = 10.0  # unsent messages go back to the job (and another SMSC) after this long down
    reconnect_max_delay: float = 60.0
    # SMSC ids are unique only for a while: a receipt goes to the most recent part submitted with its id
    # within this long (0: validity_minutes, or the usual 48 h SMSC default, plus an hour's margin) ...
    receipt_id_ttl_minutes: int = 0
    receipt_id_map_size: int = 200_000  # ... and each session remembers at most this many id → part pairs
    connections: tuple[SmscSettings, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.bind_mode not in ("transceiver", "transmitter_receiver"):
            raise ValueError(
                f'[smsc] bind_mode: expected "transceiver" or "transmitter_receiver", got {self.bind_mode!r}'
            )
        if self.role not in ("primary", "failover"):
            raise ValueError(f'[smsc] role: expected "primary" or "failover", got {self.role!r}')
        if self.receipt_id_base not in ("same", "hex", "dec"):
            raise ValueError(f'[smsc] receipt_id_base: expected "same", "hex" or "dec", got {self.receipt_id_base!r}')
        if self.window < 1 or self.tps <= 0 or self.unrecorded_limit < 1:
            raise ValueError("[smsc] window, unrecorded_limit and tps must be positive")
        if self.throttle_retries < 0 or self.max_retries < 0:
            raise ValueError("[smsc] max_retries and throttle_retries must be 0 or more")
        return self

    def receipt_id_ttl(self) -> float:
        """Seconds during which an SMSC id names the part it was given to (until the SMSC may reuse it)."""
        minutes = self.receipt_id_ttl_minutes or (self.validity_minutes or DEFAULT_SMSC_VALIDITY_MINUTES) + 60
        return minutes * 60.0

    def all_connections(self) -> tuple[SmscSettings, ...]:
        """The first connection (these keys) and every [[smsc.connections]] one."""
        return (replace(self, connections=()), *self.connections)


class SimulatorSettings(_Section):
    section: ClassVar[str] = "simulator"
    control_port: int = 8025
    receipt_delay: float = 0.5  # seconds until the delivery receipt (the least, see receipt_delay_max)
    receipt_delay_max: float = 0.0  # > receipt_delay: each receipt waits a uniform random time in between
    delivered_ratio: float = 1.0  # share of messages that end DELIVRD ...
    expired_ratio: float = 0.0  # ... EXPIRED; the rest UNDELIV
    receipt_form: str = "both"  # "both", "tlv" (TLVs only) or "text" (text only)
    tps: float = 0.0  # its own limit, answered with ESME_RTHROTTLED; 0 = none
    error_ratio: float = 0.0  # share of submit_sm answered with a random error status
    throttle_ratio: float = 0.0  # share of submit_sm refused at random with ESME_RTHROTTLED (a busy SMSC)
    disconnect_ratio: float = 0.0  # share of submit_sm after which it drops the connection
    deliver_window: int = 0  # deliver_sm it leaves unanswered at most per bind; 0 = no limit
    wrap_ids_at: int = 0  # its message ids start again after this many (id reuse); 0 = never


class CampaignSettings(_Section):
    section: ClassVar[str] = "campaigns"
    require_approval: bool = True
    # With require_approval on, info campaigns need the four-eyes step too unless this is false (alerts always do).
    require_approval_info: bool = True
    # With require_approval on, an alert made from a pre-approved hazard template version whose texts nobody
    # changed (placeholder values may differ) needs no second approval; audited as such (issue 16).
    preapproved_templates_skip_approval: bool = False
    max_parts: int = 6  # longest text accepted, in SMS parts (per language variant)
    quiet_hours_start: str = "22:00"  # info campaigns are never sent from ... (local time)
    quiet_hours_end: str = "07:00"  # ... until; a send in between is scheduled for this time
    # The local time of quiet hours: [app] timezone unless set here (see Settings._one_timezone).
    timezone: str = DEFAULT_TIMEZONE
    cap_sender: str = "syrena@um.poznan.pl"  # CAP <sender>: who publishes the alerts
    chunk_size: int = 500
    slice_size: int = 250  # claimed at once; pause/cancel/priority are checked between slices
    max_attempts: int = 6  # submit attempts before a temporary failure counts as failed
    retry_delay: float = 5.0  # seconds until a temporary failure is retried, doubled per attempt
    retry_delay_max: float = 300.0  # ... up to this
    # A message left "submitting" by a job that no longer runs (it raised, its thread died) goes back to the
    # queue once its claim is this old; the sweeper runs on every worker's heartbeat (campaigns.jobs).
    stranded_after: float = 30.0

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_timezone(self.section, self.timezone)
        return self


class BillingSettings(_Section):
    section: ClassVar[str] = "billing"
    currency: str = "PLN"
    price_per_part: Decimal = Decimal("0.18")
    monthly_fee: Decimal = Decimal("400.00")
    setup_fee: Decimal = Decimal("20000.00")
    vat_rate: Decimal = Decimal("0.23")
    charge_on: str = "accepted"  # "accepted" (submit_sm_resp OK) or "delivered" (receipt DELIVRD)
    monthly_fee_mode: str = "prorated"  # "whole" or "prorated" by the time each tariff was in force
    # Finance months and days are local calendar months and days here: [app] timezone unless set here.
    timezone: str = DEFAULT_TIMEZONE

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_timezone(self.section, self.timezone)
        if self.charge_on not in ("accepted", "delivered"):
            raise ValueError(f'[billing] charge_on: expected "accepted" or "delivered", got {self.charge_on!r}')
        if self.monthly_fee_mode not in ("whole", "prorated"):
            raise ValueError(
                f'[billing] monthly_fee_mode: expected "whole" or "prorated", got {self.monthly_fee_mode!r}'
            )
        return self


class ZoneSettings(_Section):
    section: ClassVar[str] = "zones"
    max_vertices: int = 100_000  # per zone; real district boundaries have a few thousand
    max_area_km2: float = 3_000.0  # a whole city is a few hundred km²
    # (min lon, min lat, max lon, max lat) zones must lie in: Poland. Catches swapped lat/lon.
    service_area: tuple[float, ...] = (14.07, 49.00, 24.15, 54.84)
    # An area preview (zones, a campaign's drawn areas) is computed on every change while someone draws: it is
    # bounded more tightly than a saved zone, and limited per user, so that nobody can make it the server's work.
    preview_max_vertices: int = 10_000
    preview_max_area_km2: float = 1_000.0
    preview_limit: str = "30 per minute"

    @model_validator(mode="after")
    def _check(self) -> Self:
        try:
            parse_many(self.preview_limit)
        except ValueError:
            raise ValueError(
                f'[zones] preview_limit: not a rate such as "30 per minute", got {self.preview_limit!r}'
            ) from None
        return self

    def preview_limits(self) -> ZoneSettings:
        """These settings with the preview's bounds as the limits (never looser than a saved zone's)."""
        return replace(
            self,
            max_vertices=min(self.max_vertices, self.preview_max_vertices),
            max_area_km2=min(self.max_area_km2, self.preview_max_area_km2),
        )


class MapSettings(_Section):
    section: ClassVar[str] = "map"
    # Background tiles; "" switches them off. The zones are drawn without them when they cannot load.
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "&copy; OpenStreetMap contributors"


class SubscriberSettings(_Section):
    section: ClassVar[str] = "subscribers"
    # A flood of sign-ups for random numbers must not become a flood of paid SMS: a global cap.
    verification_sms_per_hour: int = 500
    code_ttl_minutes: int = 10
    code_attempts: int = 5
    retention_days: int = 30  # personal data kept after unsubscribing; then only a hashed phone
    purge_every_minutes: int = 60  # how often workers erase those whose retention ended
    import_max_mb: int = 20  # the largest registry CSV an admin may upload (imported by a worker job)
    geocoder: str = "gazetteer"  # "gazetteer": the local address gazetteer; or a geopy service, e.g. "nominatim"
    geocoder_url: str = ""  # an online geocoder's own server, e.g. "https://nominatim.example.org"
    geocoder_user_agent: str = "syrena-alerts"  # Nominatim's usage policy requires an identifying user agent
    geocoder_api_key: str = Field(default="", repr=False)  # for services that need one
    geocoder_timeout: float = 5.0  # seconds; after that the local gazetteer answers instead
    geocoder_country: str = "pl"  # online results limited to this country ("" = anywhere)
    geocoder_city: str = ""  # appended to typed addresses for an online geocoder, e.g. "Poznań"
    address_choice_minutes: int = 30  # how long a numbered reply ("2") picks from an ambiguous address's list
    consent_version: str = "2026-11"
    # Codes are only texted (and keyword SMS only answered) to numbers of these countries (ISO 3166 alpha-2):
    # anything else is how SMS pumping earns money (premium ranges, satellite numbers, far-away operators).
    allowed_countries: tuple[str, ...] = ("PL",)
    # Codes SMS, whichever public endpoint asks (sign-up, cancel, export): one budget each. Only a code that is
    # sent counts; a refused request takes nothing from anyone's budget.
    request_limit: str = "60 per hour"  # requests per IP to those endpoints together, refused ones included
    form_limit: str = "10 per hour"  # per client address (an IPv6 client: its /64)
    network_limit: str = "30 per hour"  # per IPv4 /24 or IPv6 /56: a botnet's neighbours, a provider's pool
    phone_limit: str = "3 per 10 minutes;5 per hour"  # codes sent to one phone
    verify_limit: str = "20 per hour"  # code checks per IP
    # Residents' reports (ZGLOS/REPORT <text>, subscribers.reports): how many one phone may file per hour, and how
    # many the whole city may (a pumping attack's ceiling: each report is answered with a paid SMS). Beyond them a
    # report is refused with one "limit reached" SMS per phone and hour; below them every report is kept.
    report_phone_per_hour: int = Field(default=10, ge=1, le=10_000)
    report_city_per_hour: int = Field(default=500, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not 1 <= self.import_max_mb <= 1024:
            raise ValueError(f"[subscribers] import_max_mb: megabytes between 1 and 1024, got {self.import_max_mb}")
        for country in self.allowed_countries:
            if not (isinstance(country, str) and len(country) == 2 and country.isascii() and country.isupper()):
                raise ValueError(
                    f'[subscribers] allowed_countries: ISO 3166 alpha-2 codes such as "PL", got {country!r}'
                )
        for name in ("request_limit", "form_limit", "network_limit", "phone_limit", "verify_limit"):
            try:
                parse_many(getattr(self, name))
            except ValueError:
                raise ValueError(
                    f'[subscribers] {name}: a rate such as "10 per hour" or '
                    f'"3 per 10 minutes;5 per hour", got {getattr(self, name)!r}'
                ) from None
        return self


class SecuritySettings(_Section):
    section: ClassVar[str] = "security"
    # Approvers and admins must use a second factor (TOTP) to log in; always on when [app] environment is not
    # "development" (app.security.totp_required).
    totp_required: bool = False
    totp_issuer: str = "Syrena"
    login_attempts: int = 5  # failed logins in a row for one e-mail from one address before it waits ...
    login_backoff_seconds: int = 30  # ... this long, doubled with every further failure ...
    lockout_minutes: int = 15  # ... up to this many minutes (other addresses are never affected)
    login_limit: str = "20 per minute"  # login form posts per IP
    session_minutes: int = 480  # a staff session ends after this long without a request
    api_limit: str = "3000 per minute"  # API requests per token (about what one sequential client can do)
    max_page_size: int = 500  # the most rows one API page returns
    max_body_mb: int = 16  # request bodies above this size get 413
    hsts_seconds: int = 31536000  # Strict-Transport-Security max-age, sent only over HTTPS

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.login_attempts < 1 or self.login_backoff_seconds < 1 or self.lockout_minutes < 1:
            raise ValueError("[security] login_attempts, login_backoff_seconds and lockout_minutes must be positive")
        return self


class LoggingSettings(_Section):
    section: ClassVar[str] = "logging"
    level: str = "INFO"  # DEBUG keeps phone numbers whole in the logs; INFO and up masks them
    format: str = "json"  # "json" (one object per line), "text" (readable lines) or "auto" (text on a terminal)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"[logging] level: expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {self.level!r}")
        if self.format not in ("json", "text", "auto"):
            raise ValueError(f'[logging] format: expected "json", "text" or "auto", got {self.format!r}')
        return self


class OperationsSettings(_Section):
    section: ClassVar[str] = "operations"
    # /metrics answers these networks without a token (Prometheus on the same host or the monitoring VLAN) ...
    metrics_allow_from: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_token: str = Field(
        default="", repr=False
    )  # ... and anyone sending "Authorization: Bearer <this>" when it is set
    receipt_lag_seconds: int = 300  # a submitted message without its receipt for longer counts as lagging
    backup_dir: str = "var/backups"  # where `flask backup` writes when given no path


class PublicSettings(_Section):
    """The public alert pages (/alerts, /alerts.atom, /alerts/<id>.xml) on the night everyone opens them."""

    section: ClassVar[str] = "public"
    # Browsers and proxies may keep a copy this long (Cache-Control: public, max-age=...); every copy carries
    # an ETag and Last-Modified, so a client asking again after that gets a 304 when nothing changed.
    cache_max_age: int = Field(default=30, ge=0, le=3600)
    # A directory where alerts.html, alerts.atom and alerts/<id>.xml are written after every change (and
    # expiry), for nginx or any static host to serve when the app is down; empty: none written.
    static_dir: str = ""


class FeedSource(_Section):
    """One official warning source ([[feeds.sources]]): a CAP 1.2 Atom/RSS feed or a single CAP document."""

    section: ClassVar[str] = "feeds.sources"
    name: str
    url: str
    poll_seconds: int = 300
    # A CAP <geocode> "valueName:value" (e.g. "EMMA_ID:PL015", a TERYT code) → the zone codes it covers.
    geocodes: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Self:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"[feeds.sources] url: expected an http(s) address, got {self.url!r} ({self.name})")
        if not self.name.strip() or len(self.name) > 64:
            raise ValueError(f"[feeds.sources] name: 1 to 64 characters, got {self.name!r}")
        if self.poll_seconds < 30:
            raise ValueError(f"[feeds.sources] poll_seconds: at least 30, got {self.poll_seconds} ({self.name})")
        for key in self.geocodes:
            if ":" not in key:
                raise ValueError(
                    f'[feeds.sources] geocodes: keys are "valueName:value" such as "EMMA_ID:PL015", got {key!r}'
                )
        return self


class FeedSettings(_Section):
    """Official warnings in (CAP 1.2): polled by the workers, each matching alert becomes a draft campaign."""

    section: ClassVar[str] = "feeds"
    sources: tuple[FeedSource, ...] = ()
    timeout_seconds: float = 10.0  # connecting, and between bytes: a slow source is given up after this
    max_bytes: int = 5_000_000  # a feed or CAP document larger than this is refused unread
    max_entries: int = 500  # entries read from one feed (the newest first, as feeds list them)
    max_points: int = 20_000  # vertices of one alert's polygons together; more is refused (never drawn)
    user_agent: str = "Syrena (crisis-management centre) CAP reader"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.timeout_seconds <= 0 or self.max_bytes < 1024 or self.max_entries < 1 or self.max_points < 4:
            raise ValueError(
                "[feeds] timeout_seconds, max_bytes (>= 1024), max_entries and max_points must be positive"
            )
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"[feeds] sources: two sources share a name ({', '.join(names)})")
        return self

    def source(self, name: str) -> FeedSource | None:
        return next((s for s in self.sources if s.name == name), None)


def _explain(error: ValidationError, section: str = "") -> str:
    """The first problem of a failed validation, named as the file names it: "[smsc] port: ..."."""
    problem = error.errors()[0]
    where = [str(part) for part in problem["loc"]]
    if section:
        where.insert(0, section)
    if problem["type"] == "extra_forbidden":
        if len(where) == 1:
            return f"unknown section(s): {where[0]}"
        return f"unknown key(s) in [{'.'.join(where[:-1])}]: {where[-1]}"
    cause = problem.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError) or (problem["type"] == "value_error" and str(cause).startswith("[")):
        return str(cause)  # a section's own explanation, or its own check (which names itself)
    name = f"[{where[0]}] {' '.join(where[1:])}" if len(where) > 1 else f"[{where[0]}]" if where else "settings"
    return f"{name}: {problem['msg'].removeprefix('Value error, ')}, got {problem['input']!r}"


class _Environment(EnvSettingsSource):
    """SYRENA_<SECTION>__<KEY> variables of the given mapping (load_settings' `environ`; os.environ by default).
    Lists come as commas ("PL,DE"), not JSON. A section no model has is refused by name (pydantic-settings
    would skip the variable)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        for key in environ:
            if key.upper().startswith(ENV_PREFIX) and "__" in key:
                section = key[len(ENV_PREFIX) :].lower().partition("__")[0]
                if section not in settings_cls.model_fields:
                    raise ConfigError(f"{key}: unknown section [{section}]")
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The TOML file read: SYRENA_CONFIG, else config.toml of the checkout."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(f"{ENV_PREFIX}CONFIG") or ROOT / "config.toml")


class Settings(BaseSettings):
    """Every section. Settings(**sections) takes only what it is given (the rest: the models' defaults);
    load_settings() reads the file and the environment through pydantic-settings' sources."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        enable_decoding=False,
    )

    app: AppSettings = Field(default_factory=AppSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    smsc: SmscSettings = Field(default_factory=SmscSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    subscribers: SubscriberSettings = Field(default_factory=SubscriberSettings)
    zones: ZoneSettings = Field(default_factory=ZoneSettings)
    map: MapSettings = Field(default_factory=MapSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    operations: OperationsSettings = Field(default_factory=OperationsSettings)
    public: PublicSettings = Field(default_factory=PublicSettings)
    feeds: FeedSettings = Field(default_factory=FeedSettings)

    @model_validator(mode="before")
    @classmethod
    def _one_timezone(cls, data: Any) -> Any:
        """[app] timezone is the one home of the local time: [campaigns] and [billing] take it unless their own
        `timezone` is set (an override, kept for a finance calendar that must differ)."""
        if not isinstance(data, dict):
            return data
        app = data.get("app")
        zone = (
            app.timezone
            if isinstance(app, AppSettings)
            else app.get("timezone", DEFAULT_TIMEZONE)
            if isinstance(app, dict)
            else DEFAULT_TIMEZONE
        )
        data = dict(data)
        for name in FOLLOW_APP_TIMEZONE:
            section = data.get(name)
            if section is None:
                data[name] = {"timezone": zone}
            elif isinstance(section, dict) and not section.get("timezone"):
                data[name] = {**section, "timezone": zone}
            elif isinstance(section, _Section) and "timezone" not in section.model_fields_set:
                data[name] = section.model_copy(update={"timezone": zone})
        return data

    @model_validator(mode="after")
    def _following(self) -> Self:
        # A section that holds [app]'s zone keeps following it through replace(settings, app=...).
        for name in FOLLOW_APP_TIMEZONE:
            section = getattr(self, name)
            if section.timezone == self.app.timezone:
                section.model_fields_set.discard("timezone")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the arguments: load_settings() passes what _sources() read, so that a test's own `environ` and
        # file are all that count (and replace() validates a copy without reading anything again).
        return (init_settings,)


def _sources(
    settings_cls: type[BaseSettings], path: Path, environ: Mapping[str, str]
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Where values come from, highest priority first: the environment, then the file."""
    try:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=path)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    return _Environment(settings_cls, environ), toml


def load_settings(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    path = Path(path) if path else config_path(environ)
    values: dict[str, Any] = {}
    for source in reversed(_sources(Settings, path, environ)):  # lowest first; a key set later wins
        for section, keys in source().items():
            known = values.get(section)
            values[section] = {**known, **keys} if isinstance(known, dict) and isinstance(keys, dict) else keys
    try:
        return Settings(**values)
    except ValidationError as e:
        message = _explain(e)
        raise ConfigError(f"{path}: {message}" if message.startswith("unknown section") else message) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
