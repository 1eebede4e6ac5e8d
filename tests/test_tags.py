"""Tag vocabulary: normalisation and matching, origins, relevance, `readerd tags` and merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from readerd import store
from readerd.cli import app
from readerd.results import Analysis, Extracted, FetchedPage, SavedLink
from readerd.store import views
from readerd.store.database import upgrade_database
from readerd.text.tags import TagIndex, display_tag, relevant_vocabulary, similar_tags, tag_key
from tests.backends import open_engine
from tests.conftest import ReaderdCLI


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Machine-Learning", "machine learning"),
        ("machine_learning", "Machine Learning"),
        ("Recetas", "receta"),
        ("energía", "energia"),
        ("Energías renovables", "energia renovable"),
        ("cities", "city"),
        ("ciudades", "ciudad"),
        ("canciones", "canción"),
        ("países", "país"),
        ("boxes", "box"),
        ("databases", "Database"),
        ("self-hosting", "Self Hosting"),
    ],
)
def test_spellings_of_one_tag_share_a_key(a: str, b: str) -> None:
    assert tag_key(a) == tag_key(b)


@pytest.mark.parametrize(
    ("a", "b"), [("cook", "cooking"), ("policy", "police"), ("salud", "salad"), ("bus", "bu")]
)
def test_different_tags_are_not_matched(a: str, b: str) -> None:
    assert TagIndex([(a, 5)]).match(b) is None  # short keys match exactly or not at all


def test_display_form_stays_readable() -> None:
    assert display_tag("  #Energía_Solar  ") == "energía solar"
    assert display_tag("Machine-Learning") == "machine-learning"


def test_typos_in_long_tags_match_the_existing_tag() -> None:
    index = TagIndex([("machine learning", 9), ("photography", 3), ("fotografía", 1)])
    assert index.match("machne learning") == "machine learning"
    assert index.match("Machine Lerning") == "machine learning"
    assert index.match("photograhpy") == "photography"  # a transposition is one edit
    assert index.match("Fotografias") == "fotografía"
    assert index.match("astronomy") is None


def test_near_duplicates_are_flagged() -> None:
    similar = similar_tags(["Machine-Learning", "machine learning", "photografy", "photography"])
    assert similar["machine learning"] == ["Machine-Learning"]
    assert similar["photography"] == ["photografy"]
    assert "cooking" not in similar_tags(["cooking", "travel"])


def test_vocabulary_offers_tags_the_article_mentions_first() -> None:
    popular = [(f"topic number {i}", 100 - i) for i in range(60)]
    rare = [("compost", 1), ("energía solar", 1), ("gardening", 1)]
    text = "Home composting: a compost heap and solar energy. Energia solar en casa."
    offered = relevant_vocabulary(popular + rare, "Compost at home", text, limit=40)
    assert offered[:2] == ["compost", "energía solar"]  # the title counts more
    assert offered[2:4] == ["topic number 0", "topic number 1"]
    assert len(offered) == 40 and "gardening" not in offered


def test_vocabulary_counts_each_mention_once() -> None:
    # "transit" (most used) is named once, last; "bicycles" twice: more mentions rank first
    tags = [("transit", 9), ("transit policy", 9), ("bicycle", 1)]
    text = "Bicycles in town. More bicycles every year, and better transit"
    assert relevant_vocabulary(tags, None, text, limit=2) == ["bicycle", "transit"]


def test_accents_fold_in_any_script() -> None:
    assert tag_key("Energía Solar") == tag_key("energia solar") == "energiasolar"
    assert tag_key("Straße") == tag_key("strasse")
    assert tag_key("東京の観光地") == "東京の観光地"  # no accents to fold, nothing lost


# --- the store, on SQLite and on PostgreSQL ---------------------------------------


def new_engine(url: str, data_dir: Path) -> Engine:
    """readerd's engine on the database at `url`, migrated (an empty one gets the schema)."""
    engine = open_engine(url, data_dir)
    upgrade_database(engine)
    return engine


def add_link(
    engine: Engine, n: int, source_tags: tuple[str, ...] = (), ai_tags: tuple[str, ...] = ()
) -> int:
    """One analysed link with these tags; returns its id."""
    url = f"https://example.org/{n}"
    store.import_links(engine, [SavedLink("import", url, url, title=f"Link {n}", tags=source_tags)])
    link_id = views.list_links(engine, limit=1)[0]["id"]
    text = f"Article {n} about things."
    digest = store.save_article(
        engine, link_id, FetchedPage(url, 200, "text/html", b""), Extracted(text=text)
    )
    analyse(engine, link_id, ai_tags, digest)
    return link_id


def analyse(engine: Engine, link_id: int, ai_tags: tuple[str, ...], digest: str = "h") -> None:
    """Store an analysis with these AI tags."""
    analysis = Analysis(ai_tags, "Summary.", ("a", "b"), "en", "openai", "m", "tools-1")
    store.save_analysis(engine, link_id, analysis, digest)


def tags_of(engine: Engine, link_id: int) -> tuple[list[str], list[str]]:
    """(source tags, AI tags) of a link."""
    view = views.get_link(engine, link_id)
    assert view is not None
    return view["source_tags"], view["ai_tags"]


def test_ai_tags_reuse_existing_spellings(backend_url: str, tmp_path: Path) -> None:
    engine = new_engine(backend_url, tmp_path)
    first = add_link(engine, 1, source_tags=("Jardín",), ai_tags=("Machine-Learning", "receta"))
    second = add_link(engine, 2, ai_tags=("machine learning", "JARDIN", "Recetas", "recipes"))
    assert tags_of(engine, first) == (["Jardín"], ["machine-learning", "receta"])
    assert tags_of(engine, second) == ([], ["Jardín", "machine-learning", "receta", "recipes"])
    assert len(views.tag_counts(engine)) == 4


def test_reanalysis_replaces_only_ai_tags(backend_url: str, tmp_path: Path) -> None:
    engine = new_engine(backend_url, tmp_path)
    link = add_link(engine, 1, source_tags=("inbox", "Cocina"), ai_tags=("pasta", "italia"))
    analyse(engine, link, ("recetas",))
    assert tags_of(engine, link) == (["Cocina", "inbox"], ["recetas"])
    assert {row["tag"] for row in views.tag_counts(engine)} == {"Cocina", "inbox", "recetas"}
    assert "pasta" not in store.vocabulary(engine)  # unused AI tags are gone


def test_a_tag_first_spelt_wrong_still_draws_the_typos_of_its_right_spelling(
    backend_url: str, tmp_path: Path
) -> None:
    engine = new_engine(backend_url, tmp_path)
    first = add_link(engine, 1, ai_tags=("machne learning",))
    add_link(engine, 2, ai_tags=("Machine Learning",))  # one edit away: same tag
    third = add_link(engine, 3, ai_tags=("machine lerning",))  # two from the name, one from 2
    assert tags_of(engine, third) == tags_of(engine, first) == ([], ["machne learning"])


def test_merge_teaches_the_analyser(backend_url: str, tmp_path: Path) -> None:
    engine = new_engine(backend_url, tmp_path)
    add_link(engine, 1, ai_tags=("ml",))
    add_link(engine, 2, ai_tags=("machine learning",))
    assert store.merge_tags(engine, "ml", "machine learning") == 1
    later = add_link(engine, 3, ai_tags=("ML", "python"))
    assert tags_of(engine, later) == ([], ["machine learning", "python"])


def test_store_vocabulary_ranks_by_relevance(backend_url: str, tmp_path: Path) -> None:
    engine = new_engine(backend_url, tmp_path)
    add_link(engine, 1, ai_tags=("compost",))
    for n in range(2, 5):
        add_link(engine, n, ai_tags=("python",))
    assert store.vocabulary(engine) == ["python", "compost"]
    assert store.vocabulary(engine, "Composting", "A compost heap.") == ["compost", "python"]


# --- the CLI ------------------------------------------------------------------


def cli_env(cli: ReaderdCLI) -> dict[str, str]:
    """What the CLI of `cli` is told of its library: the data dir and its database's URL."""
    return {"READERD_DATA_DIR": str(cli.data_dir), "READERD_DATABASE_URL": cli.database_url}


def cli_json(cli: ReaderdCLI, *args: str) -> Any:
    """A --json command of the same CLI run in this process (quicker than a subprocess)."""
    result = CliRunner().invoke(app, list(args), env=cli_env(cli))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_tags_command_flags_near_duplicates_and_merges(backend_cli: ReaderdCLI) -> None:
    engine = new_engine(backend_cli.database_url, backend_cli.data_dir)
    add_link(engine, 1, source_tags=("Machine-Learning",), ai_tags=("cooking",))
    add_link(engine, 2, source_tags=("photografy",))
    add_link(
        engine, 3, source_tags=("photography", "machine learning"), ai_tags=("machine learning",)
    )
    engine.dispose()
    env = cli_env(backend_cli)

    rows = {r["tag"]: r for r in cli_json(backend_cli, "tags", "--json")}
    counts = {k: rows["machine learning"][k] for k in ("count", "ai", "source")}
    assert counts == {"count": 1, "ai": 1, "source": 1}  # one link, tagged by both
    assert rows["machine learning"]["similar"] == ["Machine-Learning"]
    assert rows["photografy"]["similar"] == ["photography"] and rows["cooking"]["similar"] == []
    table = backend_cli("tags").stdout
    assert "similar to" in table and "near-duplicates" in table

    merged = backend_cli("tags", "merge", "photografy", "photography")
    assert "1 links relabelled" in merged.stdout
    CliRunner().invoke(app, ["tags", "merge", "Machine-Learning", "machine learning"], env=env)
    rows = {r["tag"]: r for r in cli_json(backend_cli, "tags", "--json")}
    assert "photografy" not in rows and "Machine-Learning" not in rows
    assert (rows["photography"]["source"], rows["machine learning"]["source"]) == (2, 2)
    assert rows["machine learning"]["ai"] == 1 and rows["cooking"]["ai"] == 1  # origins kept
    found = cli_json(backend_cli, "search", "photography", "--json")
    assert sorted(link["id"] for link in found) == [2, 3]  # search follows the merge

    missing = backend_cli("tags", "merge", "nope", "x", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: tags: no tag named 'nope' (see `readerd tags`)"
    ]
