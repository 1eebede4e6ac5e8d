"""The digest's words in English and Spanish, and dates written the way each language does."""

from __future__ import annotations

from datetime import date

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "heading": "Your reading digest",
        "subject": "{count} new to read · {day}",
        "subject_note": "Nothing new to read · {day}",
        "new_one": "1 new article",
        "new_many": "{count} new articles",
        "minutes": "{minutes} min of reading",
        "read_time": "{minutes} min read",
        "key_points": "Key points",
        "tags": "Tags",
        "other": "Other",
        "more": "And {count} more — tomorrow.",
        "nothing": "Nothing new was read since the last digest.",
        "failed": "Could not be read",
        "failed_more": "and {count} more",
        "tokens": "LLM usage in the last 24 hours: {tokens_in} tokens in, {tokens_out} out.",
        "cost": " Cost: {cost} (at your configured prices).",
        "footer": "readerd — your saved links, read for you. No images, no tracking.",
        "sent_to": "Sent to {recipient}.",
        "open": "Open the original",
    },
    "es": {
        "heading": "Tu resumen de lecturas",
        "subject": "{count} para leer · {day}",
        "subject_note": "Nada nuevo para leer · {day}",
        "new_one": "1 artículo nuevo",
        "new_many": "{count} artículos nuevos",
        "minutes": "{minutes} min de lectura",
        "read_time": "{minutes} min de lectura",
        "key_points": "Ideas clave",
        "tags": "Etiquetas",
        "other": "Otros",
        "more": "Y {count} más — mañana.",
        "nothing": "No hay lecturas nuevas desde el último resumen.",
        "failed": "No se pudieron leer",
        "failed_more": "y {count} más",
        "tokens": "Uso del LLM en las últimas 24 horas: {tokens_in} tokens de entrada, "
        "{tokens_out} de salida.",
        "cost": " Coste: {cost} (según tus precios configurados).",
        "footer": "readerd — tus enlaces guardados, leídos por ti. Sin imágenes, sin rastreo.",
        "sent_to": "Enviado a {recipient}.",
        "open": "Abrir el original",
    },
}

_WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
}
_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
}


def long_date(day: date, lang: str) -> str:
    """'Sunday, 22 November 2026' or 'domingo, 22 de noviembre de 2026'."""
    weekday, month = _WEEKDAYS[lang][day.weekday()], _MONTHS[lang][day.month - 1]
    if lang == "es":
        return f"{weekday}, {day.day} de {month} de {day.year}"
    return f"{weekday}, {day.day} {month} {day.year}"


def short_date(day: date, lang: str) -> str:
    """'Sun 22 Nov' or 'dom 22 nov', for the subject line."""
    weekday, month = _WEEKDAYS[lang][day.weekday()][:3], _MONTHS[lang][day.month - 1][:3]
    return f"{weekday} {day.day} {month}"


def pick_language(summary_languages: list[str | None]) -> str:
    """Spanish when most summaries are Spanish, else English."""
    spanish = sum(1 for lang in summary_languages if (lang or "").lower().startswith("es"))
    return "es" if summary_languages and spanish * 2 > len(summary_languages) else "en"


def number(value: int, lang: str) -> str:
    """'12,345' in English; '12 345' in Spanish (RAE: a thin space, none for four digits)."""
    if lang != "es":
        return f"{value:,}"
    return str(value) if value < 10_000 else f"{value:,}".replace(",", "\u202f")
