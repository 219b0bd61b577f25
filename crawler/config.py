"""One configuration object per process: where the corpus is, which sources, which topic profile.

Built once, at the edge (the command line, ``scrapy crawl``, the daemon), with one precedence:
defaults → environment (``AI4S_DB``, ``AI4S_SOURCES_FILE``, ``AI4S_TOPICS_FILE``) → command-line
flags. The sources file and the topic profile are each read and validated once, when the process
builds its configuration (or, for a file a command does not need up front, when first used); every
component then gets the loaded values from this object instead of reading the files again.

A crawl's Scrapy components receive it through the crawl context (``crawler.crawl.context``):
the runner puts it in the ``AI4S_CONFIG`` setting, and ``scrapy crawl news -s AI4S_DB=...`` builds
it from the ``AI4S_*`` settings instead.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from crawler.relevance.profile import TopicProfile, load_profile
from crawler.sources import Source, SourcesError, load_sources
from seeds import DEFAULT_PROFILE, DEFAULT_SOURCES_FILE
from storage.db import ENV_DB, resolve_db_url

ENV_SOURCES_FILE = "AI4S_SOURCES_FILE"
ENV_TOPICS_FILE = "AI4S_TOPICS_FILE"
#: The ``-s`` setting naming the sources to crawl, comma-separated (a setting only: no environment variable).
SOURCE_NAMES_SETTING = "AI4S_SOURCE_NAMES"


class ConfigError(ValueError):
    """Options that contradict each other, with a message saying which."""


@dataclass(frozen=True)
class Config:
    """What a process works on, resolved: the database URL, the sources file and the sources chosen in
    it, the topic profile, and the raw ``-s NAME=VALUE`` overrides of Scrapy settings.

    :attr:`sources` and :attr:`profile` are read on first use and kept: a file is read once per process.
    """

    db_url: str
    sources_file: Path
    topics_file: Path
    chosen_sources: tuple[str, ...] = ()  # names given on the command line; none: every source of the file
    settings: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def sources(self) -> tuple[Source, ...]:
        """The chosen sources (all of the file's when none were named); :class:`SourcesError` for a bad file."""
        return tuple(load_sources(self.sources_file, list(self.chosen_sources)))

    @cached_property
    def profile(self) -> TopicProfile:
        """The topic profile; :class:`crawler.relevance.profile.TopicsError` for a bad file."""
        return load_profile(self.topics_file)

    @property
    def source_names(self) -> list[str]:
        """The names of the chosen sources, in the file's order (or the order they were named)."""
        return [source.name for source in self.sources]

    def __deepcopy__(self, memo: dict[int, object]) -> Config:
        """The same object: a loaded configuration is immutable, and Scrapy deep-copies its settings."""
        return self

    def only(self, names: Iterable[str]) -> Config:
        """This configuration with only the chosen sources among ``names`` (nothing is read again)."""
        keep = set(names)
        narrowed = replace(self, chosen_sources=tuple(name for name in self.source_names if name in keep))
        narrowed.__dict__["sources"] = tuple(source for source in self.sources if source.name in keep)
        if "profile" in self.__dict__:
            narrowed.__dict__["profile"] = self.__dict__["profile"]
        return narrowed

    def source(self, name: str) -> Source:
        """The chosen source called ``name``; :class:`KeyError` if it is not one of them."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


def parse_setting_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` as a dict; raises :class:`ConfigError` for a pair without ``=``."""
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"-s expects NAME=VALUE, got {pair!r}")
        overrides[name.strip()] = value
    return overrides


def _choose(flag: Path | str | None, setting: str | None, env: str | None, default: Path, what: str) -> Path:
    """One value from its flag, its ``-s`` setting, its environment variable or its default, in that order.

    The flag and the ``-s`` setting are both command-line input: two different values is a mistake.
    """
    if flag and setting and Path(flag) != Path(setting):
        raise ConfigError(f"{what} given twice with different values: {flag} and {setting}")
    chosen = flag or setting or env
    return Path(chosen).expanduser() if chosen else default


def load_config(
    *,
    db: str | None = None,
    sources_file: Path | str | None = None,
    source_names: Sequence[str] = (),
    topics_file: Path | str | None = None,
    settings: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    needs: Collection[str] = ("sources", "profile"),
) -> Config:
    """Resolve the options (defaults → environment → flags), then read and validate what the command
    ``needs`` (``"sources"``, ``"profile"``) now, so that a broken file stops it before it starts; what
    it does not need is read only if it is used.

    Raises :class:`crawler.sources.SourcesError`, :class:`crawler.relevance.profile.TopicsError` or
    :class:`ConfigError` (all ``ValueError``) with a message naming the file and the mistake.
    """
    env = os.environ if environ is None else environ
    overrides = dict(settings or {})
    names_setting = overrides.get(SOURCE_NAMES_SETTING)
    if names_setting and not source_names:
        source_names = [name.strip() for name in names_setting.split(",") if name.strip()]
    sources_path = _choose(
        sources_file, overrides.get(ENV_SOURCES_FILE), env.get(ENV_SOURCES_FILE), DEFAULT_SOURCES_FILE, "sources file"
    )
    topics_path = _choose(
        topics_file, overrides.get(ENV_TOPICS_FILE), env.get(ENV_TOPICS_FILE), DEFAULT_PROFILE, "topic profile"
    )
    db_setting = overrides.get(ENV_DB)
    if db and db_setting and db != db_setting:
        raise ConfigError(f"database given twice with different values: {db} and {db_setting}")
    # the resolved values replace whatever -s said, so no component can see another one
    for name in (ENV_SOURCES_FILE, ENV_TOPICS_FILE, ENV_DB, SOURCE_NAMES_SETTING):
        overrides.pop(name, None)
    config = Config(
        db_url=resolve_db_url(db or db_setting, env),
        sources_file=sources_path,
        topics_file=topics_path,
        chosen_sources=tuple(source_names),
        settings=overrides,
    )
    unknown = set(needs) - {"sources", "profile"}
    if unknown:
        raise ValueError(f"load_config needs 'sources' and/or 'profile', not {sorted(unknown)}")
    for part in ("sources", "profile"):  # in this order: a sources mistake is reported first
        if part in needs:
            getattr(config, part)
    return config


__all__ = ["Config", "ConfigError", "SourcesError", "load_config", "parse_setting_overrides"]
