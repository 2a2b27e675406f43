"""Settings: config.toml parsed once into frozen, typed sections.

Every key can be overridden by SYRENA_<SECTION>__<KEY>; SYRENA_CONFIG names
another TOML file. Unknown sections or keys and values of the wrong type fail
at start-up, by name, rather than being silently ignored.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, get_args, get_origin, get_type_hints

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "SYRENA_"


class ConfigError(ValueError):
    """The configuration names an unknown key or holds a value of the wrong type."""


@dataclass(frozen=True)
class AppSettings:
    secret_key: str = "dev-only-change-me"
    default_language: str = "pl"
    languages: tuple[str, ...] = ("pl", "en")
    admin_email: str = "admin@syrena.local"


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "postgresql://postgres@127.0.0.1:5432/syrena"


@dataclass(frozen=True)
class RedisSettings:
    url: str = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class SmscSettings:
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = "syrena"
    password: str = "secret"
    system_type: str = ""
    source_addr: str = "4800"
    source_ton: int = 3
    source_npi: int = 0
    tps: float = 100.0
    window: int = 50
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0


@dataclass(frozen=True)
class SimulatorSettings:
    control_port: int = 8025
    receipt_delay: float = 0.5
    delivered_ratio: float = 1.0


@dataclass(frozen=True)
class CampaignSettings:
    require_approval: bool = True
    chunk_size: int = 500


@dataclass(frozen=True)
class BillingSettings:
    currency: str = "PLN"
    price_per_part: Decimal = Decimal("0.18")
    monthly_fee: Decimal = Decimal("400.00")
    setup_fee: Decimal = Decimal("20000.00")


@dataclass(frozen=True)
class Settings:
    app: AppSettings = field(default_factory=AppSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    smsc: SmscSettings = field(default_factory=SmscSettings)
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    campaigns: CampaignSettings = field(default_factory=CampaignSettings)
    billing: BillingSettings = field(default_factory=BillingSettings)


def _coerce(value: Any, kind: Any, where: str) -> Any:
    """Turn a TOML value or an environment string into the field's type."""
    from_env = isinstance(value, str)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if from_env and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if from_env and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is Decimal:
            # Money: never through float.
            if isinstance(value, float):
                raise ValueError("write money as a quoted string, e.g. \"0.18\"")
            return Decimal(str(value))
        if kind is str:
            if not isinstance(value, str):
                raise ValueError(value)
            return value
        if get_origin(kind) is tuple:
            items = value.split(",") if from_env else value
            if not isinstance(items, list | tuple):
                raise ValueError(value)
            (item_kind, *_rest) = get_args(kind)
            return tuple(_coerce(i.strip() if isinstance(i, str) else i, item_kind, where) for i in items)
    except (ValueError, TypeError, InvalidOperation) as e:
        raise ConfigError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r} ({e})") from None
    raise ConfigError(f"{where}: unsupported type {kind}")


def _build_section(cls: type, raw: Mapping[str, Any], section: str) -> Any:
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) in [{section}]: {', '.join(unknown)}")
    return cls(**{k: _coerce(v, hints[k], f"[{section}] {k}") for k, v in raw.items()})


def load_settings(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get(f"{ENV_PREFIX}CONFIG") or ROOT / "config.toml")
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    sections = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s): {', '.join(unknown)}")
    merged: dict[str, dict[str, Any]] = {name: dict(raw.get(name, {})) for name in sections}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        section, _, name = key[len(ENV_PREFIX):].lower().partition("__")
        if section not in sections:
            raise ConfigError(f"{key}: unknown section [{section}]")
        merged[section][name] = value
    hints = get_type_hints(Settings)
    return Settings(**{name: _build_section(hints[name], merged[name], name) for name in sections})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
