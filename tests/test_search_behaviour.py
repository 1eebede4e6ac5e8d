"""What a user notices of search: accents, prefixes, phrases, exclusions, ranking, snippets.

Both read paths (store.lite for the CLI, store.views for the engine) must answer alike,
and so must PostgreSQL (its tsvector search, on a throwaway cluster): these pin what
search does so a faster query, or another backend, cannot quietly change it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from readerd import store
from readerd.config import load_settings
from readerd.results import Analysis, Extracted, FetchedPage, LinkView, SavedLink
from readerd.store import lite
from readerd.store.database import make_engine, upgrade_database
from readerd.store.queue import AnalysisWrite, ArticleWrite, Write, save_batch
from readerd.store.views import EngineLibrary
from tests.conftest import BACKENDS
from tests.servers.postgres import PostgresCluster

FILLER = "Un texto cualquiera sobre otra cosa, con palabras de relleno y nada más. " * 8
# title, summary, tags, text
ARTICLES = [
    (
        "Energía solar en casa",
        "Placas en el tejado.",
        ("energía",),
        "Las placas solares producen energía limpia. " + FILLER,
    ),
    (
        "Recetas de cocina",
        "Pan y aceite.",
        ("cocina",),
        FILLER + "Al final, una nota: la energia del horno importa poco.",
    ),
    (
        "Home composting",
        "Kitchen scraps to soil.",
        ("gardening",),
        "Composting at home turns kitchen scraps into soil. " + FILLER,
    ),
    (
        "Coches eléctricos",
        "Baterías y carga.",
        ("coche",),
        "El coche eléctrico carga con energía solar en casa. " + FILLER,
    ),
    (
        "Trenes nocturnos",
        "Literas nuevas.",
        ("tren",),
        "Los trenes nocturnos vuelven: solares y placas no salen aquí. " + FILLER,
    ),
]


@pytest.fixture(scope="module", params=BACKENDS)
def libraries(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[lite.Reader]]:
    data_dir: Path = tmp_path_factory.mktemp("search")
    database_url = None
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        database_url = cluster.url(cluster.fresh_database())
    settings = load_settings(data_dir=data_dir, database_url=database_url, _env_file=None)
    engine = make_engine(settings)
    upgrade_database(engine)
    urls = [f"https://example.org/{i}" for i in range(len(ARTICLES))]
    store.import_links(engine, [SavedLink("import", u, u) for u in urls])
    writes: list[Write] = []
    for i, (title, summary, tags, text) in enumerate(ARTICLES):
        page = FetchedPage(urls[i], 200, "text/html", b"")
        writes.append(ArticleWrite(i + 1, page, Extracted(text=text, title=title, language="es")))
        analysis = Analysis(
            tags=tags,
            summary=summary,
            key_points=(),
            language="es",
            analyzer="offline",
            model="offline",
            prompt_version="t",
        )
        writes.append(AnalysisWrite(i + 1, analysis, store.hash_text(text)))
    assert all(r.error is None for r in save_batch(engine, writes))
    engine.dispose()
    readers: list[lite.Reader] = [EngineLibrary(make_engine(settings, write=False))]
    if request.param == "sqlite":
        fast = lite.open_library(settings.db_url)
        assert fast is not None
        readers.insert(0, fast)
    yield readers
    for reader in readers:
        reader.__exit__()


def found(libraries: list[lite.Reader], query: str) -> list[LinkView]:
    first, *others = (library.search(query) for library in libraries)
    assert all(other == first for other in others), query
    return first


def test_accents_do_not_matter_either_way(libraries: list[lite.Reader]) -> None:
    with_accent = {row["id"] for row in found(libraries, "energía")}
    without = {row["id"] for row in found(libraries, "energia")}
    assert with_accent == without == {1, 2, 4}


def test_a_plain_word_matches_as_a_prefix(libraries: list[lite.Reader]) -> None:
    assert [row["title"] for row in found(libraries, "compost")] == ["Home composting"]
    assert {row["title"] for row in found(libraries, "tren*")} == {"Trenes nocturnos"}


def test_a_phrase_needs_its_words_together(libraries: list[lite.Reader]) -> None:
    assert [row["id"] for row in found(libraries, '"placas solares"')] == [1]
    assert {row["id"] for row in found(libraries, "placas solares")} == {1, 5}


def test_excluded_and_alternative_words(libraries: list[lite.Reader]) -> None:
    assert {row["id"] for row in found(libraries, "energia -coche")} == {1, 2}
    assert {row["id"] for row in found(libraries, "compost OR literas")} == {3, 5}


def test_title_and_tag_matches_rank_above_a_mention_in_the_text(
    libraries: list[lite.Reader],
) -> None:
    ids = [row["id"] for row in found(libraries, "energia")]
    assert ids[0] == 1  # in the title, the tags and the text
    assert ids[-1] == 2  # one mention, deep in the text of a cooking article
    assert [row["id"] for row in found(libraries, "solar casa")] == [1, 4]


def test_the_snippet_shows_the_matched_words(libraries: list[lite.Reader]) -> None:
    rows = found(libraries, "placas")
    assert rows[0]["id"] == 1
    snippet = rows[0].get("snippet", "")
    assert "[Placas]" in snippet or "[placas]" in snippet
    assert all("[" in row.get("snippet", "") for row in rows)


def test_a_limit_keeps_the_best(libraries: list[lite.Reader]) -> None:
    first, *others = (library.search("energia", limit=1) for library in libraries)
    assert all(other == first for other in others)
    assert [row["id"] for row in first] == [1]
