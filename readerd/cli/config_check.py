"""Settings that do nothing: misspelt READERD_* names, and values that cannot take effect.

`readerd` warns about each once per command, on stderr, so a typo such as
READERD_LLM_MODLE is never silently ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from readerd.environment import ENV_FILE, PREFIX, given_names, setting_fields

if TYPE_CHECKING:
    from readerd.config import Settings

SERVICES = ("pocket", "wallabag", "linkding", "karakeep", "readeck")
HINTS = {"READERD_DB": "READERD_DATABASE_URL", "READERD_DATABASE": "READERD_DATABASE_URL"}


def known_names() -> set[str]:
    """Every READERD_* variable readerd reads."""
    return {name for name in setting_fields() if name.startswith(PREFIX)}


def unknown_variables(
    environ: Mapping[str, str] | None = None, env_file: Path = ENV_FILE
) -> list[str]:
    """One warning per READERD_* name readerd does not know, with the closest known one."""
    known = known_names()
    warnings = []
    for name, (_, where) in sorted(given_names(environ, env_file).items()):
        if name in known:
            continue
        close = HINTS.get(name) or next(iter(difflib.get_close_matches(name, known, n=1)), None)
        hint = f"did you mean {close}?" if close else "see .env.example for the settings"
        warnings.append(f"{name} (in the {where}) is not a readerd setting and is ignored; {hint}")
    return warnings


def ineffective_settings(settings: Settings) -> list[str]:
    """One warning per setting that is set but cannot change anything with the others."""
    given = settings.model_fields_set
    warnings = []
    if settings.summary_language != "auto" and not settings.use_llm:
        warnings.append(
            f"READERD_SUMMARY_LANGUAGE={settings.summary_language} has no effect with the "
            "offline analyser, which cannot translate: summaries stay in each article's language"
        )
    if "folder" in given and settings.source != "folder":
        warnings.append(f"READERD_FOLDER has no effect with READERD_SOURCE={settings.source}")
    for service in SERVICES:
        mine = sorted(f for f in given if f.startswith(service + "_"))
        if mine and settings.source != service:
            names = ", ".join(PREFIX + f.upper() for f in mine)
            warnings.append(
                f"{names} {'has' if len(mine) == 1 else 'have'} no effect with "
                f"READERD_SOURCE={settings.source} (set READERD_SOURCE={service} to use it)"
            )
    llm = sorted(f for f in given if f.startswith("llm_"))
    if llm and settings.analyzer == "offline":
        names = ", ".join(PREFIX + f.upper() for f in llm)
        warnings.append(f"{names}: no effect with READERD_ANALYZER=offline")
    elif settings.llm_api_key and not settings.use_llm:
        warnings.append(
            "an LLM API key is set but READERD_LLM_MODEL is not: the offline analyser is used"
        )
    return warnings
