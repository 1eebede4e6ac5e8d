"""detect_language and count_words: right on English and Spanish, sane on everything else."""

from __future__ import annotations

from importlib import resources

import pytest

from readerd.extract import extract_article
from readerd.results import FetchedPage
from readerd.text.language import _identifier, count_words, detect_language

SHORT_EN = [
    "The train arrived late. Nobody on the platform knew why.",
    "Compost needs air and water. Turn the heap every week.",
    "Sleep matters more than we think. Adults need about eight hours.",
    "I tried the new recipe last night. It was better than expected.",
    "Prices rose again in March. Economists expect a slowdown soon.",
    "The bicycle changed how cities grew. Workers could live further away.",
    "Open the window before you go to bed.",
]
SHORT_ES = [
    "El tren llegó tarde a la estación. Nadie sabía por qué.",
    "El compost necesita aire y agua. Remuévelo cada semana.",
    "¿Dónde está la biblioteca? Tengo que devolver dos libros.",
    "La energía solar es cada vez más barata. Muchos hogares instalan paneles.",
    "Los precios subieron otra vez en marzo. Se espera una desaceleración.",
    "Mi abuela cocinaba con aceite de oliva. Nunca usaba mantequilla.",
    "El perro come en la cocina todos los dias con los ninos de la casa.",  # no accents
    "Hoy hace mucho calor en Sevilla.",
]
OTHERS = {
    "fr": "Le chat dort sur le canapé depuis ce matin. Il ne veut pas sortir sous la pluie.",
    "de": "Der Hund schläft seit heute Morgen auf dem Sofa. Er will bei Regen nicht hinaus.",
    "ja": "今日は天気がとても良いので、公園まで散歩に行きました。",
    "pt": "O comboio chegou atrasado à estação. Ninguém sabia porquê.",
    "it": "Il treno è arrivato in ritardo alla stazione. Nessuno sapeva perché.",
    "ru": "Поезд опоздал на станцию. Никто не знал почему.",
    "zh": "火车晚点到达车站，没有人知道为什么。",
}


def _sample_text(name: str) -> str:
    body = resources.files("readerd.samples").joinpath(name).read_bytes()
    return extract_article(FetchedPage("https://example.org/", 200, "text/html", body)).text


@pytest.mark.parametrize("text", SHORT_EN)
def test_short_english(text: str) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize("text", SHORT_ES)
def test_short_spanish(text: str) -> None:
    assert detect_language(text) == "es"


@pytest.mark.parametrize(
    ("name", "code"),
    [("en-sleep-science.html", "en"), ("es-ferrocarril-en-espana.html", "es"),
     ("en-history-of-the-bicycle.html", "en"), ("es-energia-solar-en-casa.html", "es")],
)  # fmt: skip
def test_long_articles(name: str, code: str) -> None:
    text = _sample_text(name)
    assert len(text) > 3000 and detect_language(text) == code


@pytest.mark.parametrize(("code", "text"), OTHERS.items())
def test_other_languages_get_their_code(code: str, text: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize(
    "text", ["", "   ", "Hola", "OK", "12345 678 90", "https://example.com/a?b=c"]
)
def test_too_little_to_tell_is_none(text: str) -> None:
    assert detect_language(text) is None


def test_hint_settles_ambiguous_text_but_never_overrides_clear_text() -> None:
    assert detect_language("Hello world", hint="en") == "en"
    assert detect_language(SHORT_ES[0], hint="en") == "es"
    assert detect_language(SHORT_EN[0], hint="es-ES") == "en"


def test_model_loads_once_per_process() -> None:
    detect_language(SHORT_EN[0])
    text = _sample_text("en-home-composting.html")
    for _ in range(50):
        assert detect_language(text) == "en"
    assert _identifier.cache_info().misses == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [("", 0), (" ... — ¡! ", 0), ("¿Dónde está el niño? ¡Allí, junto a la vía férrea!", 10),
     ("Pingüino, cigüeña y ñandú: tres aves.", 6), ("don't stop — it's well-known", 4),
     ("L'été à Paris, c'est beau.", 5), ("In 1848, 29 km cost 1.668,5 reales.", 7),
     ("今日は天気", 5), ("Tab\tseparated\nnew-line", 3)],
)  # fmt: skip
def test_count_words(text: str, words: int) -> None:
    assert count_words(text) == words
