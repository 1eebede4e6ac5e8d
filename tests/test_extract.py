"""extract_article: golden files for the bundled samples, PDFs, content types and charsets."""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from readerd.errors import ExtractError, UnsupportedContentError
from readerd.extract import decode_body, extract_article
from readerd.results import Extracted, FetchedPage

SAMPLES = resources.files("readerd.samples")
GOLDEN = Path(__file__).parent / "golden"
SAMPLE_NAMES = sorted(p.name for p in SAMPLES.iterdir() if p.name.endswith((".html", ".pdf")))
ES_HTML = SAMPLES.joinpath("es-dieta-mediterranea.html").read_bytes()
EN_HTML = SAMPLES.joinpath("en-home-composting.html").read_bytes()
PDF = SAMPLES.joinpath("en-rainwater-harvesting.pdf").read_bytes()


def page(body: bytes, content_type: str = "text/html", charset: str | None = None) -> FetchedPage:
    return FetchedPage("https://example.org/a", 200, content_type, body, charset)


def extract(body: bytes, content_type: str = "text/html", charset: str | None = None) -> Extracted:
    return extract_article(page(body, content_type, charset))


# --- golden files


def test_samples_are_three_english_three_spanish_and_one_pdf() -> None:
    assert sum(n.startswith("en-") and n.endswith(".html") for n in SAMPLE_NAMES) == 3
    assert sum(n.startswith("es-") and n.endswith(".html") for n in SAMPLE_NAMES) == 3
    assert sum(n.endswith(".pdf") for n in SAMPLE_NAMES) == 1
    assert {p.stem.removesuffix(".expected") for p in GOLDEN.glob("*.expected.json")} == {
        n.rsplit(".", 1)[0] for n in SAMPLE_NAMES
    }


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_matches_its_golden_file(name: str) -> None:
    expected = json.loads((GOLDEN / f"{name.rsplit('.', 1)[0]}.expected.json").read_text("utf-8"))
    body = SAMPLES.joinpath(name).read_bytes()
    got = extract(body, "application/pdf" if name.endswith(".pdf") else "text/html")
    fields = ("kind", "title", "author", "published", "site_name", "language")
    assert {f: getattr(got, f) for f in fields} == {f: expected[f] for f in fields}
    assert got.text.startswith(expected["first_sentence"])
    assert got.text.endswith(expected["last_sentence"])
    assert len(got.text.split("\n\n")) == expected["paragraphs"]
    assert abs(got.word_count - expected["word_count"]) <= expected["word_count"] * 0.03
    for boilerplate in expected["absent"]:
        assert boilerplate not in got.text


@pytest.mark.parametrize("name", [n for n in SAMPLE_NAMES if n.endswith(".html")])
def test_html_samples_are_article_sized(name: str) -> None:
    got = extract(SAMPLES.joinpath(name).read_bytes())
    assert 400 <= got.word_count <= 900


# --- PDF


def test_pdf_is_recognised_by_its_magic_whatever_the_label() -> None:
    assert extract(PDF, "application/octet-stream").kind == "pdf"
    assert extract(PDF, "").title == "Rainwater Harvesting for Small Homes"


def test_pdf_text_spans_every_page() -> None:
    assert len(PdfReader(io.BytesIO(PDF)).pages) == 2
    assert "Collecting rain will not solve a water shortage" in extract(PDF, "application/pdf").text


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(PDF))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdf_is_an_extract_error() -> None:
    with pytest.raises(ExtractError, match="encrypted pdf"):
        extract(_encrypted("secret"), "application/pdf")


def test_pdf_with_only_an_owner_password_still_reads() -> None:
    assert extract(_encrypted(""), "application/pdf").word_count > 400


@pytest.mark.parametrize("body", [b"%PDF-1.7\nnot really a pdf", PDF[: len(PDF) // 3]])
def test_broken_pdf_is_an_extract_error(body: bytes) -> None:
    with pytest.raises(ExtractError, match=r"^extract: "):
        extract(body, "application/pdf")


# --- content types


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"), (b"PK\x03\x04zip", "application/zip"),
     (b'{"a": 1}', "application/json"), (b"\x00\x01\x02binary", "application/octet-stream")],
)  # fmt: skip
def test_unsupported_types(body: bytes, content_type: str) -> None:
    with pytest.raises(UnsupportedContentError) as caught:
        extract(body, content_type)
    assert str(caught.value) == (
        f"extract: unsupported content type: {content_type} url=https://example.org/a"
    )


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/octet-stream"])
def test_mislabelled_html_is_sniffed(content_type: str) -> None:
    got = extract(EN_HTML, content_type)
    assert (got.kind, got.title) == ("html", "Home Composting Without the Smell")


def test_xhtml_is_html() -> None:
    assert extract(EN_HTML, "application/xhtml+xml").author == "Margaret Okafor"


def test_plain_text_is_its_own_article() -> None:
    text = "Rain fell all night on the valley.\n\nBy morning the river had risen two metres."
    got = extract(text.encode(), "text/plain")
    assert (got.kind, got.text, got.word_count, got.language) == ("text", text, 15, "en")


@pytest.mark.parametrize("body", [b"", b"   \n\t "])
def test_empty_body(body: bytes) -> None:
    with pytest.raises(ExtractError, match="empty body"):
        extract(body)


def test_page_without_article_text() -> None:
    with pytest.raises(ExtractError) as caught:
        extract(b"<html><head><title>x</title></head><body><img src=a.png></body></html>")
    assert str(caught.value) == "extract: no article text found: url=https://example.org/a"


# --- charsets and language


def _without_meta_charset(html: bytes) -> str:
    return html.decode("utf-8").replace('<meta charset="utf-8">', "")


def test_latin1_labelled_utf8_is_decoded_as_latin1() -> None:
    got = extract(_without_meta_charset(ES_HTML).encode("latin-1"), charset="utf-8")
    assert got.title == "La dieta mediterránea, más allá del aceite de oliva"
    assert "¿Y el vino?" in got.text and "\ufffd" not in got.text


def test_meta_charset_is_used_without_a_header() -> None:
    html = _without_meta_charset(ES_HTML).replace("<head>", '<head><meta charset="windows-1252">')
    assert "puñado" in extract(html.encode("cp1252")).text


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_wins_over_a_wrong_label(codec: str) -> None:
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    got = extract(bom + _without_meta_charset(ES_HTML).encode(codec), charset="iso-8859-1")
    assert got.author == "Lucía Fernández Ortega" and got.language == "es"


def test_a_few_bad_bytes_in_utf8_are_replaced_not_the_whole_page_misread() -> None:
    text = decode_body("Año, niño, café y \x00".encode().replace(b"\x00", b"\xff"), "utf-8")
    assert text == "Año, niño, café y \ufffd"


@pytest.mark.parametrize(
    ("text", "codec", "label"),
    [("数据库中文测试，镕", "gbk", "gb2312"), ("日本語のテキスト①", "cp932", "Shift_JIS"),
     ("Türkçe ğüşıöç", "cp1254", "ISO-8859-9"), ("Ein “Zitat” – 5 €", "cp1252", "iso-8859-1")],
)  # fmt: skip
def test_labels_mean_what_browsers_take_them_to_mean(text: str, codec: str, label: str) -> None:
    assert decode_body(text.encode(codec), label) == text


def test_language_comes_from_the_text_not_a_wrong_html_lang() -> None:
    got = extract(ES_HTML.replace(b'<html lang="es">', b'<html lang="en">'))
    assert got.language == "es"


def test_declared_language_is_the_fallback_for_undecidable_text() -> None:
    html = b'<html lang="de"><body><article><p>OK 123 456 789 OK</p></article></body></html>'
    assert extract(html).language == "de"
