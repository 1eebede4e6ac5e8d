"""The language model's cached copy: written on the first load, the same model after."""

from __future__ import annotations

from pathlib import Path

import pytest

from readerd.environment import default_cache_dir
from readerd.text.language_model import load_identifier

TEXTS = [
    "The train arrived late. Nobody on the platform knew why.",
    "El compost necesita aire y agua. Remuévelo cada semana.",
    "Le train est arrivé en retard. Personne ne savait pourquoi.",
    "Der Zug kam zu spät. Niemand auf dem Bahnsteig wusste warum.",
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "readerd"


def _copies(directory: Path) -> list[Path]:
    return sorted(directory.glob("langid-*")) if directory.is_dir() else []


def test_the_first_load_leaves_a_copy_that_gives_the_same_answers(cache: Path) -> None:
    shipped = load_identifier()
    [copy] = _copies(cache)
    assert not list(cache.glob(".part-*"))  # written beside and renamed: nothing half-done
    cached = load_identifier()
    assert _copies(cache) == [copy]
    assert isinstance(cached.tk_nextmove, memoryview)  # mapped from the copy, not decompressed
    for text in TEXTS:
        assert cached.rank(text) == shipped.rank(text)


def test_a_new_copy_replaces_an_older_models_copy(cache: Path) -> None:
    stale = cache / "langid-0.3.0-4586000"
    stale.mkdir(parents=True)
    (stale / "nb_ptc.npy").write_bytes(b"an older model's arrays")
    load_identifier()
    [copy] = _copies(cache)  # this model's; upgrades do not leave 68 MB behind each
    assert copy != stale and not stale.exists()


def test_a_damaged_copy_is_replaced_and_detection_still_works(cache: Path) -> None:
    load_identifier()
    [copy] = _copies(cache)
    automaton = copy / "tk_nextmove.npy"
    automaton.write_bytes(automaton.read_bytes()[:1000])  # cut short by a full disk, say
    identifier = load_identifier()
    assert identifier.classify(TEXTS[1])[0] == "es"
    assert automaton.stat().st_size > 1_000_000  # the copy was written again, whole
    assert isinstance(load_identifier().tk_nextmove, memoryview)


def test_an_unwritable_cache_costs_only_the_copy(cache: Path) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the cache directory should be")
    assert load_identifier().classify(TEXTS[0])[0] == "en"
    assert cache.read_text().startswith("a file")


def test_systemd_cache_directory_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHE_DIRECTORY", "/var/cache/readerd")
    monkeypatch.setenv("XDG_CACHE_HOME", "/elsewhere")
    assert default_cache_dir() == Path("/var/cache/readerd")


def test_no_home_and_no_cache_directory_still_detects(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CACHE_DIRECTORY", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", _no_home)
    assert load_identifier().classify(TEXTS[0])[0] == "en"


def _no_home() -> Path:
    raise RuntimeError("Could not determine home directory")
