"""The py3langid model, loaded from an uncompressed copy in the cache directory.

py3langid ships its model LZMA-compressed and decompresses all 68 MB of it (through a
temporary file) in every process that loads it: about half a second of CPU, paid by
each worker pool's start (every daemon pass) and by every CLI command that detects a
language. The first load writes the arrays, uncompressed, to the cache directory;
later loads read them in tens of milliseconds. The copy holds plain arrays only
(numpy's format without pickles), is named after the model file it came from, and is
written atomically; when it cannot be read or written, the model loads as shipped.

The cache directory is systemd's $CACHE_DIRECTORY (CacheDirectory= in the unit),
else $XDG_CACHE_HOME/readerd, else ~/.cache/readerd.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import zipfile
from array import array
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

log = logging.getLogger(__name__)
# What reading a missing, cut-short or foreign copy raises: the model then loads as shipped.
_DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def cache_dir() -> Path:
    """Where readerd keeps what it can rebuild (systemd's, else the XDG location)."""
    if systemd := os.environ.get("CACHE_DIRECTORY"):
        return Path(systemd.split(":")[0])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "readerd"


def load_identifier() -> LanguageIdentifier:
    """The model with normalised probabilities, from the cache when it holds this model."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    shipped = Path(MODEL_DIR) / MODEL_FILE
    copy = _copy_path(shipped)
    if copy is not None:
        with contextlib.suppress(*_DAMAGED):
            return _read_copy(copy, LanguageIdentifier)
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if copy is not None:
        _write_copy(copy, identifier)
    return identifier


def _copy_path(shipped: Path) -> Path | None:
    """The copy's path: py3langid's version and the shipped file's size and time."""
    try:
        stat = shipped.stat()
        name = f"langid-{version('py3langid')}-{stat.st_size}-{stat.st_mtime_ns}.npz"
        return cache_dir() / name
    except (OSError, ValueError):
        return None


def _read_copy(path: Path, cls: type[LanguageIdentifier]) -> LanguageIdentifier:
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return cls(
            data["nb_ptc"],
            data["nb_pc"],
            data["nb_classes"].tolist(),
            _unsigned(data["tk_nextmove"]),
            data["tk_output"].tolist(),
            norm_probs=True,
            tk_row=_unsigned(data["tk_row"]),
        )


def _unsigned(values: object) -> array[int]:
    """A numpy array of unsigned integers as the stdlib array py3langid walks."""
    import numpy as np

    arr = np.ascontiguousarray(values)
    typecode = {2: "H", 4: "I", 8: "L"}[arr.dtype.itemsize]
    out = array(typecode)
    out.frombytes(arr.data.cast("B"))
    return out


def _write_copy(path: Path, identifier: LanguageIdentifier) -> None:
    """Write the copy atomically; a read-only or full disk only costs the next load."""
    import numpy as np

    arrays: dict[str, Any] = {
        "nb_ptc": np.asarray(identifier.nb_ptc),
        "nb_pc": np.asarray(identifier.nb_pc),
        "nb_classes": np.array(identifier.nb_classes),
        "tk_nextmove": np.asarray(identifier.tk_nextmove),  # the buffer keeps its type
        "tk_row": np.asarray(identifier.tk_row),
        "tk_output": np.asarray(identifier.tk_output, dtype=np.int32),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, **arrays)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        log.debug("language model: no cached copy in %s: %s", path.parent, exc)

