"""CLI command groups that live beside readerd/cli.py, each registering itself on the app."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Attach every command module's commands to the `readerd` app."""
    # Each module exposes register(app); add one import + call per module.
    from readerd.commands import daemon

    daemon.register(app)

    from readerd.commands import digest

    digest.register(app)

    from readerd.commands import llm, tags

    llm.register(app)
    tags.register(app)
