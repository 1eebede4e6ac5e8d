"""The py3langid model, mapped from an uncompressed copy in the cache directory.

py3langid ships its model LZMA-compressed and decompresses all 68 MB of it (through a
temporary file) into every process that loads it: about half a second of CPU, paid
by each worker pool's start (every daemon pass) and by every CLI command that detects
a language, and 68 MB of private memory in each. The first load writes the arrays,
uncompressed, to the cache directory; later loads map the two large ones (the
byte automaton and the per-feature probabilities) from there. A mapped page is read
only when a text walks through it and is shared by every process that maps the
file, so a load takes milliseconds and the model costs the memory of the parts used.

The copy holds plain arrays only (numpy's format, no pickles), is named after the
model file it came from (py3langid's version and the file's size), and appears
atomically (written beside, then renamed); writing it removes the copies of models
an upgrade replaced. When it cannot be read or written, the model loads as shipped.

The cache directory is readerd.environment.default_cache_dir(): systemd's $CACHE_DIRECTORY
(CacheDirectory= in the unit), else $XDG_CACHE_HOME/readerd, else ~/.cache/readerd.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from array import array
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readerd.environment import default_cache_dir

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

log = logging.getLogger(__name__)

MAPPED = ("nb_ptc", "tk_nextmove")  # the large arrays, tens of MB each: mapped, not read


def load_identifier() -> LanguageIdentifier:
    """The model with normalised probabilities, from the cache when it holds this model."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    copy = _copy_path(Path(MODEL_DIR) / MODEL_FILE)
    if copy is not None and copy.is_dir():
        try:
            return _read_copy(copy, LanguageIdentifier)
        except Exception as exc:  # cut short, foreign, or a py3langid that changed
            log.debug("language model: cached copy %s unusable: %r", copy, exc)
            shutil.rmtree(copy, ignore_errors=True)
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if copy is not None:
        _write_copy(copy, identifier)
    return identifier


def _copy_path(shipped: Path) -> Path | None:
    """The copy's directory, named by py3langid's version and the shipped file's size
    (not its time: every install of one version, each venv, shares one copy)."""
    try:
        name = f"langid-{version('py3langid')}-{shipped.stat().st_size}"
        return default_cache_dir() / name
    except (OSError, ValueError, RuntimeError):  # RuntimeError: no home directory at all
        return None


def _read_copy(directory: Path, cls: type[LanguageIdentifier]) -> LanguageIdentifier:
    import numpy as np

    def part(name: str) -> Any:
        path = directory / f"{name}.npy"
        if name in MAPPED:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return np.load(path, allow_pickle=False)

    automaton = part("tk_nextmove")
    identifier = cls(
        part("nb_ptc"),
        part("nb_pc"),
        part("nb_classes").tolist(),
        # py3langid walks the automaton one index at a time; a memoryview answers each
        # with a plain int, as its own array does, straight from the mapped file.
        memoryview(automaton),
        part("tk_output").tolist(),
        norm_probs=True,
        tk_row=_unsigned(part("tk_row")),
    )
    identifier.rank("a")  # a copy that cannot score fails here, not on the first page
    return identifier


def _unsigned(values: Any) -> array[int]:
    """A numpy array of unsigned integers as the stdlib array py3langid expects."""
    out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    out.frombytes(values.tobytes())
    return out


def _write_copy(directory: Path, identifier: LanguageIdentifier) -> None:
    """Write the copy beside, then rename it in place; a read-only or full disk only
    costs the next process the slow load."""
    import numpy as np

    arrays: dict[str, Any] = {
        "nb_ptc": np.asarray(identifier.nb_ptc),
        "nb_pc": np.asarray(identifier.nb_pc),
        "nb_classes": np.array(identifier.nb_classes),
        "tk_nextmove": np.asarray(identifier.tk_nextmove),  # the buffer keeps its type
        "tk_row": np.asarray(identifier.tk_row),
        "tk_output": np.asarray(identifier.tk_output, dtype=np.int32),
    }
    temporary: str | None = None
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        temporary = tempfile.mkdtemp(dir=directory.parent, prefix=".part-")
        for name, values in arrays.items():
            np.save(Path(temporary) / f"{name}.npy", values, allow_pickle=False)
        os.rename(temporary, directory)  # another process may have written it first
        temporary = None
        _remove_stale_copies(directory)
    except OSError as exc:
        log.debug("language model: no cached copy in %s: %s", directory.parent, exc)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _remove_stale_copies(current: Path) -> None:
    """Remove the copies of models that py3langid upgrades have replaced (68 MB each)."""
    for other in current.parent.glob("langid-*"):
        if other != current and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
