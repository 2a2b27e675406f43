"""[feeds] and [[feeds.sources]] in config.toml: typed, and refused at start-up by name when wrong."""

from __future__ import annotations

import re

import pytest

from syrena_core.config import ConfigError, load_settings


def _load(tmp_path, body: str):
    path = tmp_path / "config.toml"
    path.write_text(body)
    return load_settings(path, environ={})


def test_sources_are_read_with_their_defaults_and_geocodes(tmp_path):
    settings = _load(
        tmp_path,
        '[[feeds.sources]]\nname = "imgw"\nurl = "https://example.org/feed.atom"\n'
        'geocodes = {"EMMA_ID:PL015" = ["WILDA", "RATAJE"]}\n',
    )
    [source] = settings.feeds.sources
    assert source.poll_seconds == 300
    assert source.geocodes == {"EMMA_ID:PL015": ("WILDA", "RATAJE")}
    assert settings.feeds.source("imgw") is source and settings.feeds.timeout_seconds > 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[feeds.sources]]\nname = "a"\nurl = "https://x.org/"\npoll_every = 60\n', "unknown key"),
        ("[feeds]\ntimeout = 3\n", "unknown key(s) in [feeds]: timeout"),
        ('[[feeds.sources]]\nname = "a"\nurl = "ftp://x.org/"\n', "url"),
        ('[[feeds.sources]]\nname = "a"\nurl = "https://x.org/"\ngeocodes = {"PL015" = ["WILDA"]}\n', "valueName"),
        (
            '[[feeds.sources]]\nname = "a"\nurl = "https://x.org/"\n'
            '[[feeds.sources]]\nname = "a"\nurl = "https://y.org/"\n',
            "share a name",
        ),
    ],
)
def test_a_wrong_feeds_setting_stops_the_start_by_name(tmp_path, body, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _load(tmp_path, body)


def test_the_committed_config_loads():
    assert load_settings(environ={}).feeds.sources == ()
