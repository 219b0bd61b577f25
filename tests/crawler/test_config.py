"""The configuration object: one precedence (defaults, environment, flags), files read and checked once."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import ConfigError, load_config, parse_setting_overrides
from crawler.relevance.profile import TopicsError
from crawler.sources import SourcesError
from seeds import DEFAULT_PROFILE, DEFAULT_SOURCES_FILE

SOURCES = """
[[source]]
name = "{name}"
feeds = ["https://{name}.example.org/rss.xml"]
"""


def _sources(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(SOURCES.format(name=name), encoding="utf-8")
    return path


def test_defaults_are_the_shipped_sources_and_profile_and_a_database_in_the_data_directory(tmp_path: Path) -> None:
    config = load_config(environ={})
    assert config.sources_file == DEFAULT_SOURCES_FILE
    assert config.topics_file == DEFAULT_PROFILE
    assert config.sources and config.profile.terms
    assert config.db_url.startswith("sqlite:///") and config.db_url.endswith("corpus.sqlite3")


def test_environment_overrides_defaults_and_flags_override_the_environment(tmp_path: Path) -> None:
    env = {"AI4S_SOURCES_FILE": str(_sources(tmp_path, "fromenv")), "AI4S_DB": f"sqlite:///{tmp_path}/env.db"}
    from_env = load_config(environ=env)
    assert from_env.source_names == ["fromenv"]
    assert from_env.db_url == f"sqlite:///{tmp_path}/env.db"
    from_flags = load_config(
        sources_file=_sources(tmp_path, "fromflag"), db=f"sqlite:///{tmp_path}/flag.db", environ=env
    )
    assert from_flags.source_names == ["fromflag"]
    assert from_flags.db_url == f"sqlite:///{tmp_path}/flag.db"


def test_a_scrapy_setting_naming_the_sources_file_is_the_same_input_as_the_flag(tmp_path: Path) -> None:
    only_setting = load_config(settings={"AI4S_SOURCES_FILE": str(_sources(tmp_path, "viasetting"))}, environ={})
    assert only_setting.source_names == ["viasetting"]
    assert "AI4S_SOURCES_FILE" not in only_setting.settings  # no component can read another file than the config's
    with pytest.raises(ConfigError, match="sources file given twice"):
        load_config(
            sources_file=_sources(tmp_path, "a"),
            settings={"AI4S_SOURCES_FILE": str(_sources(tmp_path, "b"))},
            environ={},
        )


def test_chosen_sources_are_checked_against_the_file(tmp_path: Path) -> None:
    path = _sources(tmp_path, "one")
    assert load_config(sources_file=path, source_names=["one"], environ={}).source("one").name == "one"
    with pytest.raises(SourcesError, match="no source named 'two'"):
        load_config(sources_file=path, source_names=["two"], environ={})


def test_broken_files_are_refused_with_the_file_named(tmp_path: Path) -> None:
    broken = tmp_path / "topics.toml"
    broken.write_text("[[term]\n", encoding="utf-8")
    with pytest.raises(TopicsError, match="topics.toml"):
        load_config(topics_file=broken, environ={})
    with pytest.raises(SourcesError, match="missing.toml"):
        load_config(sources_file=tmp_path / "missing.toml", environ={})


def test_setting_overrides_need_a_name_and_an_equals_sign() -> None:
    assert parse_setting_overrides(["A=1", "B==2", "C="]) == {"A": "1", "B": "=2", "C": ""}
    for bad in ("novalue", "=x"):
        with pytest.raises(ConfigError, match="NAME=VALUE"):
            parse_setting_overrides([bad])


def test_a_command_checks_only_the_files_it_needs_and_reads_each_file_once(tmp_path: Path) -> None:
    broken = tmp_path / "topics.toml"
    broken.write_text("[[term]\n", encoding="utf-8")
    config = load_config(sources_file=_sources(tmp_path, "only"), topics_file=broken, needs=("sources",), environ={})
    assert config.source_names == ["only"]  # `ai4s sources` works whatever the state of the profile
    with pytest.raises(TopicsError):
        config.profile  # noqa: B018 - the profile is read, and refused, when something uses it
    sources_path = _sources(tmp_path, "once")
    config = load_config(sources_file=sources_path, environ={})
    first = config.sources
    sources_path.write_text("not toml at all [", encoding="utf-8")
    assert config.sources is first  # kept: the file is not read again in this process


def test_the_configuration_is_shared_not_copied_by_scrapy_settings(tmp_path: Path) -> None:
    import copy

    config = load_config(sources_file=_sources(tmp_path, "shared"), environ={})
    assert copy.deepcopy({"AI4S_CONFIG": config})["AI4S_CONFIG"] is config


def test_a_configuration_narrowed_to_some_sources_reads_nothing_again(tmp_path: Path) -> None:
    path = tmp_path / "three.toml"
    path.write_text("".join(SOURCES.format(name=name) for name in ("one", "two", "three")), encoding="utf-8")
    config = load_config(sources_file=path, environ={})
    assert config.source_names == ["one", "two", "three"]
    path.write_text("not toml at all [", encoding="utf-8")
    narrowed = config.only(["three", "one"])
    assert narrowed.source_names == ["one", "three"]  # the file's order, the sources as read
    assert narrowed.source("three") is config.source("three")
    assert narrowed.db_url == config.db_url and config.source_names == ["one", "two", "three"]
    assert config.only([]).sources == ()
