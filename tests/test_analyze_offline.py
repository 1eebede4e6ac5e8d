"""The embedded offline analyser: extractive summary, key points and keyword tags."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from readerd.analyze import make_analyzer
from readerd.analyze.extractive import keyword_tags
from readerd.analyze.offline import analyze_offline
from readerd.analyze.sentences import is_continuation, split_sentences
from readerd.analyze.wordlists import is_generic
from readerd.config import Settings
from readerd.results import ArticleInput

FIXTURES = Path(__file__).parent / "fixtures" / "llm"
ENGLISH = (FIXTURES / "article_en.txt").read_text()
SPANISH = (FIXTURES / "article_es.txt").read_text()


def article(text: str, language: str | None = None, **extra: object) -> ArticleInput:
    return ArticleInput(
        url="https://example.org/a",
        title=extra.pop("title", None),
        text=text,
        language=language,
        **extra,
    )  # type: ignore[arg-type]


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("text", "language", "stopwords", "expected_tag"),
    [
        (ENGLISH, "en", {"the", "and", "that"}, "bike lanes"),
        (SPANISH, "es", {"que", "los", "del"}, "sequía"),
    ],
)
def test_summary_and_tags_come_from_the_article(
    text: str, language: str, stopwords: set[str], expected_tag: str
) -> None:
    result = analyze_offline(article(text))  # language detected, not given
    assert result.language == language
    assert (result.analyzer, result.model, result.coverage) == ("offline", "offline-v2", 1.0)
    summary_sentences = split_sentences(result.summary)
    assert 2 <= len(summary_sentences) <= 4
    assert all(s in flat(text) for s in summary_sentences)
    assert 3 <= len(result.key_points) <= 5
    assert all(p.rstrip("…") in flat(text) for p in result.key_points)
    assert not set(result.key_points) & set(summary_sentences)
    assert 3 <= len(result.tags) <= 5 and expected_tag in result.tags
    assert not set(result.tags) & stopwords
    assert all(word in text.lower() for tag in result.tags for word in tag.split())


def test_summary_keeps_the_original_order() -> None:
    result = analyze_offline(article(ENGLISH, "en"))
    positions = [flat(ENGLISH).index(s) for s in split_sentences(result.summary)]
    assert positions == sorted(positions)


def test_existing_vocabulary_is_preferred_when_it_appears() -> None:
    vocabulary = ("urbanism", "Traffic", "Bike Lane", "Air Pollution")
    result = analyze_offline(article(ENGLISH, "en", vocabulary=vocabulary))
    assert result.tags[0] == "bike lane"  # the existing spelling, not the text's "bike lanes"
    assert "urbanism" not in result.tags  # absent from the text
    assert "air pollution" not in result.tags  # mentioned only once
    assert "traffic" not in result.tags  # an existing tag, but one of the commonest words


def test_spanish_sentences_split_at_inverted_marks_not_abbreviations() -> None:
    text = (
        "El Sr. García llegó ayer a la ciudad. ¿Qué pasó después? ¡Nada de nada! "
        "La Dra. Ruiz lo confirmó."
    )
    assert split_sentences(text) == [
        "El Sr. García llegó ayer a la ciudad.",
        "¿Qué pasó después?",
        "¡Nada de nada!",
        "La Dra. Ruiz lo confirmó.",
    ]


def test_english_initials_and_abbreviations_do_not_split() -> None:
    text = "J. K. Rowling met Dr. Smith, e.g. at 9 a.m. on Monday. Then they left."
    assert split_sentences(text) == [
        "J. K. Rowling met Dr. Smith, e.g. at 9 a.m. on Monday.",
        "Then they left.",
    ]


def test_japanese_does_not_break() -> None:
    text = "東京は日本の首都です。東京の人口は約千四百万人です。東京タワーは有名な観光地です。"
    result = analyze_offline(article(text))
    assert result.language == "ja"
    assert all(s in text for s in split_sentences(result.summary))
    assert result.tags and all(tag in text for tag in result.tags)
    assert "観光地" in result.tags and "東京" not in result.tags  # among the commonest words


def test_german_without_a_full_list_does_not_break() -> None:
    text = (
        "Die Stadt Berlin baut neue Radwege entlang der großen Straßen. Der Senat hat beschlossen, "
        "dass bis 2030 alle Hauptstraßen geschützte Radwege bekommen. Die Radfahrer freuen sich "
        "über die neuen Radwege. Autofahrer sind weniger begeistert, weil viele Parkplätze "
        "verschwinden."
    )
    result = analyze_offline(article(text))
    assert result.language == "de" and "radwege" in result.tags
    assert not set(result.tags) & {"die", "der", "und", "dass"}


@pytest.mark.parametrize("text", ["", "   \n\n  ", "Hi.", "12345 67890"])
def test_empty_ish_text_is_handled(text: str) -> None:
    result = analyze_offline(article(text, title="A saved link"))
    assert result.summary  # the text itself, or the title when there is none
    assert isinstance(result.tags, tuple) and len(result.tags) <= 5
    assert result.language


def test_deterministic() -> None:
    assert analyze_offline(article(SPANISH, "es")) == analyze_offline(article(SPANISH, "es"))


def test_generic_words_cover_both_languages_and_file_names() -> None:
    assert all(is_generic(w, "en") for w in ("the", "and", "year", "jpg", "png", "2024", "ai"))
    assert all(is_generic(w, "es") for w in ("que", "aquí", "imágenes", "modelos", "dice"))
    assert not any(is_generic(w, "es") for w in ("ferrocarril", "mixtral", "compostaje"))


def test_make_analyzer_defaults_to_offline() -> None:
    analyzer = make_analyzer(Settings(_env_file=None, analyzer="auto", llm_model=None))  # type: ignore[call-arg]
    assert (analyzer.name, analyzer.model, analyzer.prompt_version) == (
        "offline",
        "offline-v2",
        "offline-2",
    )
    result = asyncio.run(analyzer.analyze(article(ENGLISH, "en")))
    assert result.summary and result.tags


MIXTRAL = "\n".join(
    [
        "Cuando Mistral AI publicó Mixtral, muchos se fijaron en una cifra: el modelo tiene casi "
        "47.000 millones de parámetros, pero en cada paso solo usa unos 13.000 millones. El truco "
        "se llama mezcla de expertos, y está cambiando la forma de construir modelos de lenguaje.",
        "Imagen: esquema_moe.png",
        "Una mezcla de expertos divide una capa de la red en varios bloques, los expertos, y añade "
        "un enrutador que decide qué expertos procesan cada fragmento de texto. Aquí está la clave "
        "del ahorro.",
        'Los investigadores lo resumen con una frase en inglés: "the router is the part that we '
        'understand the least, and it had been like that for years". Si el enrutador envía todo '
        "al mismo experto, el modelo pierde capacidad, y por eso el entrenamiento reparte la carga "
        "entre los expertos.",
        "Pero la ventaja no es gratuita: todos los expertos deben estar en memoria, así que la "
        "mezcla de expertos ahorra cálculo, no memoria. Un modelo con mezcla de expertos responde "
        "con la velocidad de uno pequeño. Las imágenes del artículo están en formato jpg y png.",
        "Seguir leyendo",
    ]
)
MIXTRAL_TITLE = "Mixtral y la mezcla de expertos: modelos que no se activan enteros"


def test_spanish_page_gets_its_names_and_terms_not_generic_or_english_words() -> None:
    result = analyze_offline(article(MIXTRAL, "es", title=MIXTRAL_TITLE))
    assert "mixtral" in result.tags  # the named entity of the title
    assert "mezcla de expertos" in result.tags  # the multi-word term, not "mezcla" and "expertos"
    assert 3 <= len(result.tags) <= 5
    words = {word for tag in result.tags for word in tag.split()}
    assert not words & {"the", "had", "part", "router", "years", "jpg", "png", "aquí", "imágenes"}
    assert not words & {"modelo", "modelos", "mezcla", "expertos"} - {"mezcla", "expertos"}


def test_english_article_tags_a_multi_word_name_and_never_year() -> None:
    text = (
        "Stable Diffusion is an image model that removes noise step by step, guided by a "
        "prompt. Every year since its release, Stable Diffusion has gained new front ends.\n"
        "The model runs on a gaming graphics card. Stable Diffusion saves each picture as a "
        "png file, and the prompt that made it travels inside the file.\n"
        "Fine-tuning with LoRA adapters teaches the model a style from a few hundred images, "
        "and a LoRA file is only a few megabytes. This year the lawsuits by artists go on."
    )
    tags = keyword_tags(text, "en", title="How Stable Diffusion turns noise into pictures")
    assert tags[0] == "stable diffusion"
    assert "lora" in tags
    assert not set(tags) & {"year", "the", "png", "front", "model", "image"}


def test_summary_starts_on_its_own_and_skips_captions_and_read_more() -> None:
    result = analyze_offline(article(MIXTRAL, "es", title=MIXTRAL_TITLE))
    assert result.summary.startswith("Cuando Mistral AI publicó Mixtral")
    assert "Imagen:" not in result.summary and "Seguir leyendo" not in result.summary
    for point in result.key_points:
        assert point[-1] in ".!?" and not is_continuation(point)  # whole, self-standing
        assert not point.startswith(("Pero", "Imagen", "Seguir"))


def test_a_lead_that_leans_on_nothing_else_is_chosen() -> None:
    text = (
        "Pero antes conviene recordar cómo empezó todo aquello en la comarca.\n"
        "La cooperativa de Villanueva nació en 1962 para vender juntos el aceite de sus socios.\n"
        "Sin embargo, la cooperativa tardó una década en tener su propia almazara.\n"
        "Hoy la cooperativa embotella aceite para tiendas de media Europa, con su propia marca.\n"
        "Esto ha permitido que los socios cobren un precio más estable por su aceituna."
    )
    result = analyze_offline(article(text, "es"))
    assert result.summary.startswith("La cooperativa de Villanueva nació en 1962")
    assert not is_continuation(result.summary)


def test_plural_and_singular_are_one_tag() -> None:
    text = (
        "Los enlaces guardados se leen solos. Cada enlace pasa por el extractor, y los enlaces "
        "rotos se reintentan. Un enlace caído no bloquea la cola del extractor.\n"
        "El extractor guarda el texto de cada enlace y los enlaces duplicados se descartan."
    )
    tags = keyword_tags(text, "es", title="Qué pasa con tus enlaces guardados")
    assert len([t for t in tags if t.startswith("enlace")]) == 1
