"""Settings: one TOML file, typed, overridable from the environment, strict about mistakes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from syrena_core.config import ConfigError, load_settings


def write(tmp_path, text: str):
    path = tmp_path / "syrena.toml"
    path.write_text(text)
    return path


def test_the_committed_config_loads_with_the_reference_tariff():
    settings = load_settings(environ={})
    assert settings.billing.price_per_part == Decimal("0.18")
    assert settings.billing.monthly_fee == Decimal("400.00")
    assert settings.billing.setup_fee == Decimal("20000.00")
    assert settings.app.default_language == "pl"


def test_environment_overrides_win_and_are_typed(tmp_path):
    path = write(tmp_path, "[smsc]\nport = 2775\n[campaigns]\nrequire_approval = true\n")
    settings = load_settings(
        path,
        environ={
            "SYRENA_SMSC__PORT": "2776",
            "SYRENA_CAMPAIGNS__REQUIRE_APPROVAL": "false",
            "SYRENA_BILLING__PRICE_PER_PART": "0.15",
            "SYRENA_SMSC__TPS": "50",
        },
    )
    assert settings.smsc.port == 2776
    assert settings.campaigns.require_approval is False
    assert settings.billing.price_per_part == Decimal("0.15")
    assert settings.smsc.tps == 50.0


def test_syrena_config_names_another_file(tmp_path):
    path = write(tmp_path, '[database]\nurl = "postgresql://elsewhere/db"\n')
    assert load_settings(environ={"SYRENA_CONFIG": str(path)}).database.url == "postgresql://elsewhere/db"


@pytest.mark.parametrize(
    "toml, environ, named",
    [
        ("[smsc]\nprot = 1\n", {}, "prot"),
        ("[smcs]\nport = 1\n", {}, "smcs"),
        ("", {"SYRENA_SMSC__PROT": "1"}, "prot"),
        ("", {"SYRENA_NOPE__X": "1"}, "nope"),
        ('[smsc]\nport = "many"\n', {}, "port"),
        ("", {"SYRENA_CAMPAIGNS__REQUIRE_APPROVAL": "maybe"}, "require_approval"),
        ("[billing]\nprice_per_part = 0.18\n", {}, "price_per_part"),  # money never as a float
        ("[smsc\n", {}, "syrena.toml"),
        ('[subscribers]\nallowed_countries = ["Poland"]\n', {}, "allowed_countries"),
        ('[subscribers]\nnetwork_limit = "lots"\n', {}, "network_limit"),
        ("[subscribers]\nimport_max_mb = 0\n", {}, "import_max_mb"),
    ],
)
def test_mistakes_fail_at_start_up_by_name(tmp_path, toml, environ, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(write(tmp_path, toml), environ=environ)


def _documented(path) -> dict[tuple[str, str], tuple[object, bool]]:
    """Every key config.toml names: (section, key) → (value, whether the line is active or a commented default)."""
    import re
    import tomllib

    keys, section = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if heading := re.match(r"^\[(\w+)\]", line):
            section = heading.group(1)
        elif entry := re.match(r"^(# )?(\w+ = .*)$", line):
            ((key, value),) = tomllib.loads(entry.group(2)).items()
            keys[(section, key)] = (value, entry.group(1) is None)
    return keys


def test_config_toml_documents_every_key_with_the_models_default_and_sets_only_overrides():
    """The defaults live in the models only: config.toml lists each key commented out with that same default, and
    an active line is an override (today only [campaigns] require_approval, off for the contract test)."""
    from syrena_core.config import ROOT, Settings

    documented = _documented(ROOT / "config.toml")
    defaults = Settings()
    for section in type(defaults).model_fields:
        model = getattr(defaults, section)
        for key in type(model).model_fields:
            if key == "connections":  # [[smsc.connections]]: tables, shown as an example
                continue
            assert (section, key) in documented, f"config.toml does not document [{section}] {key}"
            value, active = documented.pop((section, key))
            if not active:
                shown = type(model).model_validate({key: value})
                assert getattr(shown, key) == getattr(model, key), f"another default in config.toml: [{section}] {key}"
    assert not documented, f"config.toml names keys no model has: {sorted(documented)}"
    overrides = {k for k, (_v, active) in _documented(ROOT / "config.toml").items() if active}
    assert overrides == {("campaigns", "require_approval")}


def test_the_running_app_keeps_approval_off_as_config_toml_says_while_the_default_stays_on(tmp_path):
    assert load_settings(environ={}).campaigns.require_approval is False
    assert load_settings(write(tmp_path, ""), environ={}).campaigns.require_approval is True


def test_secrets_never_show_in_a_repr():
    settings = load_settings(
        environ={
            "SYRENA_APP__SECRET_KEY": "k" * 40,
            "SYRENA_SMSC__PASSWORD": "pa55word",
            "SYRENA_OPERATIONS__METRICS_TOKEN": "scrape-me",
            "SYRENA_SUBSCRIBERS__GEOCODER_API_KEY": "api-key-1",
            "SYRENA_DATABASE__URL": "postgresql://syrena:db-pass@db.example:5432/syrena",
            "SYRENA_REDIS__URL": "redis://:redis-pass@cache.example:6379/0",
        }
    )
    shown = repr(settings)
    for secret in ("k" * 40, "pa55word", "scrape-me", "api-key-1", "db-pass", "redis-pass"):
        assert secret not in shown
    assert "db.example" in shown and settings.database.url.endswith("@db.example:5432/syrena")
    assert settings.smsc.password == "pa55word"  # masked in the repr only


def test_replace_is_a_checked_copy():
    from syrena_core.config import replace

    settings = load_settings(environ={})
    tuned = replace(settings, smsc=replace(settings.smsc, tps=40))
    assert tuned.smsc.tps == 40.0 and settings.smsc.tps == 100.0
    with pytest.raises(ConfigError, match="bind_mode"):
        replace(settings.smsc, bind_mode="sideways")


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"SYRENA_SUBSCRIBERS__ALLOWED_COUNTRIES": "PL, DE"}, ("PL", "DE")),
        ({"syrena_subscribers__allowed_countries": "CZ"}, ("CZ",)),
    ],
)
def test_lists_come_from_the_environment_as_commas(environ, expected):
    assert load_settings(environ=environ).subscribers.allowed_countries == expected
