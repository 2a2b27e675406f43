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
    path = write(tmp_path, '[smsc]\nport = 2775\n[campaigns]\nrequire_approval = true\n')
    settings = load_settings(path, environ={"SYRENA_SMSC__PORT": "2776", "SYRENA_CAMPAIGNS__REQUIRE_APPROVAL": "false",
                                            "SYRENA_BILLING__PRICE_PER_PART": "0.15", "SYRENA_SMSC__TPS": "50"})
    assert settings.smsc.port == 2776
    assert settings.campaigns.require_approval is False
    assert settings.billing.price_per_part == Decimal("0.15")
    assert settings.smsc.tps == 50.0


def test_syrena_config_names_another_file(tmp_path):
    path = write(tmp_path, '[database]\nurl = "postgresql://elsewhere/db"\n')
    assert load_settings(environ={"SYRENA_CONFIG": str(path)}).database.url == "postgresql://elsewhere/db"


@pytest.mark.parametrize("toml, environ, named", [
    ("[smsc]\nprot = 1\n", {}, "prot"),
    ("[smcs]\nport = 1\n", {}, "smcs"),
    ("", {"SYRENA_SMSC__PROT": "1"}, "prot"),
    ("", {"SYRENA_NOPE__X": "1"}, "nope"),
    ("[smsc]\nport = \"many\"\n", {}, "port"),
    ("", {"SYRENA_CAMPAIGNS__REQUIRE_APPROVAL": "maybe"}, "require_approval"),
    ("[billing]\nprice_per_part = 0.18\n", {}, "price_per_part"),  # money never as a float
    ("[smsc\n", {}, "syrena.toml"),
    ('[subscribers]\nallowed_countries = ["Poland"]\n', {}, "allowed_countries"),
    ('[subscribers]\nnetwork_limit = "lots"\n', {}, "network_limit"),
])
def test_mistakes_fail_at_start_up_by_name(tmp_path, toml, environ, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(write(tmp_path, toml), environ=environ)
