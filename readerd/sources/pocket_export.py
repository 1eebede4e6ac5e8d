"""Read the files users exported from Pocket (CSV, ZIP of CSVs, legacy HTML) or URL lists."""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from readerd.errors import SourceError
from readerd.results import LinkState, SavedLink
from readerd.sources.pocket import unix_to_datetime
from readerd.sources.urls import normalize_url, parse_url_list, unsupported_link
from readerd.text.urls import redact_userinfo

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024 * 1024  # a plain export file, or one ZIP member
MAX_ZIP_TOTAL_BYTES = 512 * 1024 * 1024  # all CSV members of one ZIP, uncompressed
_ARCHIVED = {"archive", "archived", "read"}


class ImportResult(list[SavedLink]):
    """The links read from an import file (a list), plus `skipped`: rows with no usable URL.

    `refused` holds the skipped rows that were URLs of another scheme (file:, ftp:,
    javascript:, mailto:…) as SavedLinks with a `problem`: stored as failed items.
    """

    def __init__(
        self,
        links: Iterable[SavedLink] = (),
        skipped: Iterable[str] = (),
        refused: Iterable[SavedLink] = (),
    ) -> None:
        super().__init__(links)
        self.skipped: list[str] = list(skipped)
        self.refused: list[SavedLink] = list(refused)

    def extend_from(self, other: ImportResult) -> None:
        """Append another result's links (first occurrence of a URL wins) and skipped rows."""
        known = {link.source_id for link in self}
        self.extend(link for link in other if link.source_id not in known)
        self.skipped.extend(other.skipped)
        refused = {link.source_id for link in self.refused}
        self.refused.extend(link for link in other.refused if link.source_id not in refused)


def make_link(
    url: str,
    title: str | None = None,
    tags: Iterable[str] = (),
    state: LinkState = LinkState.UNREAD,
    added_at: datetime | None = None,
) -> SavedLink | None:
    """An import SavedLink keyed by the normalised URL, or None when the URL is not http(s).

    A URL of another scheme comes back as a SavedLink with a `problem` (a failed item).
    """
    source_id = normalize_url(url)
    if source_id is None:
        return unsupported_link("import", url, state=state, added_at=added_at)
    clean_tags = dict.fromkeys(t.strip() for t in tags if t.strip())
    return SavedLink(
        source="import",
        source_id=source_id,
        url=url.strip(),
        title=" ".join((title or "").split()) or None,
        tags=tuple(clean_tags),
        state=state,
        added_at=added_at,
    )


def _collect(rows: Iterable[tuple[str, SavedLink | None]]) -> ImportResult:
    """Build a result from (row description, link or None) pairs, dropping repeated URLs."""
    result, known = ImportResult(), set()
    for where, link in rows:
        if link is None or link.problem:
            result.skipped.append(redact_userinfo(where))
            if link is not None and link.source_id not in known:
                known.add(link.source_id)
                result.refused.append(link)
        elif link.source_id not in known:
            known.add(link.source_id)
            result.append(link)
    return result


def parse_pocket_csv(text: str) -> ImportResult:
    """Parse a Pocket CSV export; columns are found by header name, in any order."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if "url" not in header:
            raise SourceError(f"import: CSV has no 'url' column (columns: {','.join(header)})")
        col = {name: i for i, name in reversed(list(enumerate(header)))}
        rows = []
        for row in reader:
            if any(cell.strip() for cell in row):
                values = {name: row[i].strip() for name, i in col.items() if i < len(row)}
                shown = redact_userinfo(values.get("url") or "(no url)")
                where = f"line {reader.line_num}: {shown}"
                rows.append((where, _csv_link(values)))
    except csv.Error as exc:
        raise SourceError(f"import: CSV unreadable at line {reader.line_num}: {exc}") from None
    return _collect(rows)


def _csv_link(values: dict[str, str]) -> SavedLink | None:
    archived = values.get("status", "").lower() in _ARCHIVED
    return make_link(
        values.get("url", ""),
        title=values.get("title"),
        tags=values.get("tags", "").split("|"),
        state=LinkState.ARCHIVED if archived else LinkState.UNREAD,
        added_at=unix_to_datetime(values.get("time_added")),
    )


def parse_legacy_html(text: str) -> ImportResult:
    """Parse Pocket's legacy `ril_export.html` (links under "Unread" / "Read Archive" headings)."""
    # Here, not at the top: every source imports this module, and lxml costs the daemon's
    # main process 6 MiB that only an HTML import needs (extraction runs in its workers).
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(encoding="utf-8")
    try:
        doc = lxml_html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise SourceError(f"import: HTML unreadable: {exc}") from None
    state, rows = LinkState.UNREAD, []
    for el in doc.iter("h1", "a"):
        if el.tag == "h1":
            heading = el.text_content().strip().lower()
            if "unread" in heading:
                state = LinkState.UNREAD
            elif "archive" in heading or "read" in heading:
                state = LinkState.ARCHIVED
            continue
        href = (el.get("href") or "").strip()
        added = unix_to_datetime(el.get("time_added") or el.get("add_date"))
        tags = (el.get("tags") or "").split(",")
        link = make_link(href, el.text_content(), tags, state, added)
        rows.append((f"link: {redact_userinfo(href) or '(no href)'}", link))
    return _collect(rows)


def parse_url_text(text: str) -> ImportResult:
    """Parse a plain list of URLs or a Windows `.url` InternetShortcut file."""
    found = parse_url_list(text)
    rows = [(url, make_link(url)) for url in found.urls]
    result = _collect([*rows, *((line, None) for line in found.skipped)])
    refused = (make_link(url) for url in dict.fromkeys(found.refused))
    result.refused = [link for link in refused if link is not None]
    return result


def decode_text(data: bytes, name: str) -> str:
    """Decode an export file: UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        if b"\x00" in data[:8192]:
            raise SourceError(f"import: unknown format: {name} is a binary file")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise SourceError(f"import: {name}: not UTF-8 or Windows-1252 text") from None
    log.warning("import: %s is not UTF-8; read it as Windows-1252", name)
    return text


def parse_zip(
    path: Path, *, max_member: int = MAX_FILE_BYTES, max_total: int = MAX_ZIP_TOTAL_BYTES
) -> ImportResult:
    """Read every CSV inside a Pocket export ZIP, with size caps against zip bombs."""
    result, total = ImportResult(), 0
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                m
                for m in archive.infolist()
                if not m.is_dir()
                and m.filename.lower().endswith(".csv")
                and not m.filename.startswith("__MACOSX/")
            ]
            if not members:
                raise SourceError(f"import: {path.name}: ZIP holds no .csv file")
            for member in sorted(members, key=lambda m: m.filename):
                with archive.open(member) as fh:
                    data = fh.read(max_member + 1)  # never trust the declared size
                total += len(data)
                if len(data) > max_member or total > max_total:
                    raise SourceError(
                        f"import: {path.name}: ZIP member too large: {member.filename} "
                        f"limit={max_member} bytes per file, {max_total} in all"
                    )
                result.extend_from(parse_pocket_csv(decode_text(data, member.filename)))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, OSError) as exc:
        raise SourceError(f"import: {path.name}: unreadable ZIP: {exc}") from None
    return result


def parse_export_text(text: str, name: str) -> ImportResult:
    """Detect the format of a decoded export (HTML, CSV, URL list) and parse it."""
    head = text.lstrip("\ufeff \t\r\n")
    suffix = Path(name).suffix.lower()
    if not head:
        return ImportResult()
    if head[:18].lower() == "[internetshortcut]":
        return parse_url_text(text)
    if head.startswith("<") or suffix in (".html", ".htm"):
        return parse_legacy_html(text)
    if head.startswith(("{", "[")):
        raise SourceError(f"import: unknown format: {name} looks like JSON, which is not read")
    first_line = head.splitlines()[0]
    columns = [c.strip().lower() for c in next(csv.reader([first_line]), [])]
    if "url" in columns or suffix == ".csv":
        return parse_pocket_csv(head)
    result = parse_url_text(text)
    if not result and result.skipped:
        raise SourceError(
            f"import: unknown format: {name}: not a Pocket export, and no line is an http(s) "
            f"URL (first line: {result.skipped[0][:80]!r})"
        )
    return result


def read_import_file(path: Path) -> ImportResult:
    """Read an export file of any supported format; the result is a list of SavedLink."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            return parse_zip(path)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SourceError(f"import: {path.name}: too large: limit={MAX_FILE_BYTES >> 20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"import: cannot read {path}: {exc.strerror or exc}") from None
    return parse_export_text(decode_text(data, path.name), path.name)
