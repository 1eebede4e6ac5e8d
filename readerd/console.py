"""How the CLI shows things: JSON for scripts, tables and panels for people."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    """One JSON document on stdout, UTF-8, nothing else."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def print_error(message: str) -> None:
    """One clear line on stderr."""
    # The message may quote a server or a page: escaped, "[/]" in it is text, not markup.
    err.print(
        f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True
    )


def print_links(links: list[dict[str, Any]]) -> None:
    if not links:
        out.print("No links yet.")
        return
    table = Table(show_lines=False, pad_edge=False, expand=False)
    table.add_column("id", justify="right")
    table.add_column("status")
    table.add_column("lang")
    table.add_column("title", overflow="fold", max_width=60)
    table.add_column("tags", overflow="fold", max_width=40)
    for link in links:
        table.add_row(
            str(link["id"]),
            _status(link),
            link["language"] or "",
            Text(link["title"] or link["url"]),  # Text: a page's title is never markup
            Text(", ".join(link["tags"])),
        )
    out.print(table)


def _status(link: dict[str, Any]) -> str:
    if link["deleted"]:
        return "deleted"
    if link["status"] == "pending" and link["attempts"]:
        return f"retry ({link['attempts']})"
    return str(link["status"])


def print_link(link: dict[str, Any]) -> None:
    out.print(f"[bold]{_escape(link['title'] or link['url'])}[/]")
    out.print(link["url"], markup=False)
    facts = [
        link["site_name"],
        link["author"],
        link["published"],
        link["language"],
        f"{link['word_count']} words" if link["word_count"] else None,
    ]
    out.print(" · ".join(f for f in facts if f), markup=False)
    out.print(f"status: {_status(link)} (stage {link['stage']})", markup=False)
    if link["last_error"]:
        out.print(f"last error: {link['last_error']}", markup=False)
    if link["tags"]:
        out.print("tags: " + ", ".join(link["tags"]), markup=False)
    if link["summary"]:
        out.print()
        out.print(link["summary"], markup=False)
    for point in link["key_points"]:
        out.print(f"  • {point}", markup=False)
    analysis = link.get("analysis")
    if analysis:
        out.print()
        out.print(
            f"analysed by {analysis['analyzer']} {analysis['model']} "
            f"(prompt {analysis['prompt_version']}, {analysis['tokens_in']}+"
            f"{analysis['tokens_out']} tokens, {analysis['latency_ms']} ms, "
            f"coverage {analysis['coverage']:.0%})",
            markup=False,
        )


def print_stats(stats: dict[str, Any]) -> None:
    out.print(f"links: {stats['links']} (+{stats['deleted']} deleted)", markup=False)
    for label in ("by_status", "by_stage", "languages"):
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(stats[label].items()))
        out.print(f"{label.replace('_', ' ')}: {parts or '-'}", markup=False)
    out.print(f"words extracted: {stats['words']}", markup=False)
    out.print(f"LLM tokens: {stats['tokens_in']} in, {stats['tokens_out']} out", markup=False)
    for source in stats["sources"]:
        out.print(
            f"source {source['source']}: last sync {source['last_sync_at'] or 'never'} "
            f"({source['last_result'] or '-'})",
            markup=False,
        )


def _escape(value: str) -> str:
    return value.replace("[", r"\[")
