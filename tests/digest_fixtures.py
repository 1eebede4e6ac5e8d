"""Shared data and fixtures of the digest tests (no tests here); rows go through readerd.store.

Test modules load it with `pytest_plugins`; the bench screenshot script imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from readerd import store
from readerd.config import Settings
from readerd.models import Link
from readerd.results import Analysis, Extracted, FetchedPage, LLMCall, SavedLink
from readerd.store.database import make_engine, upgrade_database

if TYPE_CHECKING:  # imported by pytest as a plugin; importing it here too would skip rewriting
    from tests.servers.smtp import SmtpServer, StartServer

SENDER = "readerd <digest@example.org>"
READER = "reader@example.org"


@dataclass(frozen=True)
class Sample:
    """One analysed article, as the tests want it stored."""

    url: str
    title: str
    language: str
    summary: str
    key_points: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    site: str | None = None
    words: int = 1150
    source_tags: tuple[str, ...] = ()


ENGLISH = [
    Sample(
        "https://gardenjournal.example/compost",
        "Home composting without the smell 🌱",
        "en",
        "A well-fed compost heap smells of forest floor, not rot. The trick is balance: two "
        "parts dry browns to one part wet greens, air every week, and no meat or dairy.",
        (
            "Mix browns (leaves, cardboard) and greens (peelings) about 2:1.",
            "Turn the heap weekly so it breathes; a smell means too wet.",
            "Ready in three to six months, when it is dark and crumbly.",
        ),
        ("gardening", "sustainability"),
        "The Garden Journal",
        1380,
    ),
    Sample(
        "https://sleep.example/why-we-sleep",
        "What happens in your brain while you sleep",
        "en",
        "Sleep is not time off: the brain replays the day, files memories away and clears "
        "waste. Regular hours matter more than an occasional long lie-in.",
        (
            "Deep sleep consolidates facts; REM sleep links them to each other.",
            "Keeping the same wake-up time steadies your body clock.",
        ),
        ("health", "science"),
        "Sleep Science Weekly",
        2070,
    ),
    Sample(
        "https://history.example/bicycle",
        "A short history of the bicycle",
        "en",
        "From the 1817 running machine to the safety bicycle of the 1880s, the bicycle "
        "changed how cities grew and gave women a new freedom of movement.",
        (
            "Karl Drais's 1817 Laufmaschine had no pedals.",
            "The chain-driven safety bicycle made cycling mainstream.",
        ),
        ("history", "transport"),
        None,
        1610,
    ),
]
SPANISH = [
    Sample(
        "https://energia.example/solar-en-casa",
        "Energía solar en casa: lo que hay que saber",
        "es",
        "Instalar placas en el tejado se amortiza en unos siete años en buena parte de España. "
        "Conviene revisar la orientación, la sombra y la tarifa de compensación de excedentes.",
        (
            "Un tejado orientado al sur rinde hasta un 20 % más.",
            "La compensación de excedentes reduce la factura de los meses de sol.",
            "Las baterías aún tardan más en amortizarse que las placas.",
        ),
        ("energía", "sostenibilidad"),
        "Energía Hoy",
        1840,
    ),
    Sample(
        "https://salud.example/dieta-mediterranea",
        "La dieta mediterránea, más allá del aceite",
        "es",
        "Más que un menú, es una forma de comer: legumbres varias veces por semana, verdura de "
        "temporada, pescado azul y comidas compartidas sin prisa.",
        (
            "Las legumbres son la proteína más barata y sostenible.",
            "Comer acompañado se asocia a mejores hábitos.",
        ),
        ("salud", "nutrición"),
        "Revista Salud",
        1290,
    ),
    Sample(
        "https://historia.example/ferrocarril",
        "El ferrocarril en España: 175 años sobre raíles",
        "es",
        "Desde el Barcelona–Mataró de 1848 hasta la alta velocidad, el tren ha dibujado el mapa "
        "económico del país y aún explica el ancho de vía ibérico.",
        ("El ancho ibérico se eligió en 1844 por razones técnicas, no militares.",),
        ("historia", "transporte"),
        None,
        2300,
    ),
    Sample(
        "https://energia.example/factura-luz",
        "Cómo bajar la factura de la luz este invierno",
        "es",
        "Ajustar la potencia contratada y mover la lavadora a las horas valle ahorra más que "
        "cambiar de compañía cada año.",
        ("Revisa la potencia contratada: muchos hogares pagan de más.",),
        ("energía", "ahorro"),
        "Energía Hoy",
        900,
    ),
]


def digest_settings(tmp_path: Path, server: SmtpServer | None = None, **overrides: Any) -> Settings:
    """Settings with a data dir under tmp_path, pointed at `server`; no environment files."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "digest_from": SENDER,
        "digest_to": [READER],
        "retry_base_seconds": 0,
        "digest_at": "00:00",
    }
    if server is not None:
        values.update(server.settings())
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def new_engine(settings: Settings) -> Engine:
    """A write engine on the settings' database, migrated to the current schema."""
    engine = make_engine(settings)
    upgrade_database(engine)
    return engine


def add_link(engine: Engine, url: str, title: str | None = None) -> int:
    """Import one link as a source would; returns its id."""
    store.import_links(engine, [SavedLink(source="test", source_id=url, url=url, title=title)])
    with Session(engine) as session:
        link_id = session.exec(select(Link.id).where(Link.source_id == url)).one()
    assert link_id is not None
    return link_id


def add_article(engine: Engine, sample: Sample, *, tokens: tuple[int, int] = (0, 0)) -> int:
    """Store an article and its analysis the way the pipeline does; returns the link id."""
    link_id = add_link(engine, sample.url, sample.title)
    text = " ".join(["palabra" if sample.language == "es" else "word"] * sample.words)
    extracted = Extracted(
        text=text,
        title=sample.title,
        site_name=sample.site,
        language=sample.language,
        word_count=sample.words,
    )
    page = FetchedPage(url=sample.url, status=200, content_type="text/html", body=b"")
    content_hash = store.save_article(engine, link_id, page, extracted)
    calls = [LLMCall("test-model", "127.0.0.1", "p1", "tools_required", *tokens, 10, "ok")]
    analysis = Analysis(
        tags=sample.tags,
        summary=sample.summary,
        key_points=sample.key_points,
        language=sample.language,
        analyzer="openai",
        model="test-model",
        prompt_version="p1",
        tokens_in=tokens[0],
        tokens_out=tokens[1],
        calls=calls if any(tokens) else [],
    )
    store.save_analysis(engine, link_id, analysis, content_hash)
    return link_id


def add_failure(engine: Engine, url: str, title: str, error: str) -> int:
    """A link that failed for good, with its last error."""
    link_id = add_link(engine, url, title)
    store.record_failure(
        engine, link_id, error, retryable=False, max_attempts=1, retry_base_seconds=0
    )
    return link_id


@pytest.fixture
def digest_engine(tmp_path: Path) -> Engine:
    """A fresh, migrated SQLite database file under tmp_path."""
    return new_engine(digest_settings(tmp_path))


# --- reading what arrived -------------------------------------------------------


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if tag == "a" and name == "href"]

    def handle_data(self, data: str) -> None:
        self.words += data.split()


def parse_html(html: str) -> _Html:
    """Links and visible words of an HTML document."""
    parser = _Html()
    parser.feed(html)
    return parser


def bodies(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a received digest, decoded."""
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def one_line(value: str) -> str:
    """Whitespace runs collapsed to one space."""
    return " ".join(value.split())


def setup(
    tmp_path: Path,
    start_smtp: StartServer,
    security: str = "none",
    cert: str = "server",
    drop_first: int = 0,
    login: bool = False,
    **overrides: Any,
) -> tuple[SmtpServer, Any, Engine]:
    """A server, settings pointing at it (with its login if asked), and a migrated database."""
    server = start_smtp(security, cert=cert, drop_first=drop_first)
    if login:
        overrides.update(smtp_user=server.user, smtp_password=server.password)
    settings = digest_settings(tmp_path, server, **overrides)
    return server, settings, new_engine(settings)
