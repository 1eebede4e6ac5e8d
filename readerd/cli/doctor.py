"""`readerd doctor`: one line per check — `OK  <check>`, `FAIL <check>: <problem>`, `SKIP …`.

Every check talks to the real thing (the database file, the source, the LLM
endpoint, the SMTP server) the way the daemon would, and reports the exact
problem instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from readerd.config import Settings
from readerd.errors import ConfigError, ReaderdError

NET_TIMEOUT = 15.0


@dataclass(frozen=True)
class CheckResult:
    state: str  # "OK" | "FAIL" | "SKIP"
    check: str
    detail: str = ""

    def line(self) -> str:
        """The line doctor prints."""
        if self.state == "OK":
            return f"OK  {self.check}" + (f" ({self.detail})" if self.detail else "")
        return f"{self.state} {self.check}: {self.detail}"


def ok(check: str, detail: str = "") -> CheckResult:
    return CheckResult("OK", check, detail)


def fail(check: str, detail: str) -> CheckResult:
    return CheckResult("FAIL", check, detail)


def skip(check: str, detail: str) -> CheckResult:
    return CheckResult("SKIP", check, detail)


def run_checks() -> list[CheckResult]:
    """Run every check in order; a broken config skips the rest."""
    from readerd.cli import context  # the one settings loader of every command

    try:
        settings = context.settings()
    except ConfigError as exc:
        rest = [skip(name, "the configuration is invalid") for name in CHECKS]
        return [fail("config", str(exc).removeprefix("config: ")), *rest]
    results = [ok("config", f"source {settings.source}, data dir {settings.data_dir}")]
    for name, check in CHECKS.items():
        try:
            results.append(check(settings))
        except Exception as exc:  # a check must report, never crash the doctor
            results.append(fail(name, f"unexpected {type(exc).__name__}: {exc}"))
    return results


def check_database(settings: Settings) -> CheckResult:
    """The database exists, is writable, and has this readerd's schema."""
    from readerd.store.database import (
        check_writable,
        directory_problem,
        make_engine,
        schema_revisions,
        sqlite_path,
    )

    path = sqlite_path(settings)
    if path is not None:
        if problem := directory_problem(path.parent):
            return fail("database", f"cannot use data directory {path.parent}: {problem}")
        if not path.exists():
            return fail("database", f"{path} does not exist; run `readerd db upgrade`")
        for target in (path, path.parent):
            if not os.access(target, os.W_OK):
                return fail("database", f"{target} is not writable by uid {os.getuid()}")
    engine = make_engine(settings)
    try:
        current, head = schema_revisions(engine)
        if current != head:
            return fail(
                "database",
                f"schema is at {current or 'nothing'}, this readerd needs "
                f"{head}; run `readerd db upgrade`",
            )
        check_writable(engine)  # a write that is rolled back: the file, WAL and lock work
    except Exception as exc:
        reason = getattr(exc, "orig", None) or exc
        return fail("database", f"{engine.url.render_as_string()}: {reason}")
    finally:
        engine.dispose()
    return ok("database", f"{engine.url.render_as_string()}, writable, schema {head}")


def check_source(settings: Settings) -> CheckResult:
    """The source is configured, reachable and accepts our credentials.

    Each source class checks itself with the very client a sync uses (one attempt).
    """
    import asyncio

    from readerd.sources import make_source

    try:
        source = make_source(settings)
        detail = asyncio.run(source.check())
    except ReaderdError as exc:
        return fail("source", str(exc))
    if settings.quick_start:
        detail += " (the bundled samples: set READERD_SOURCE for your own links)"
    return ok("source", detail)


def check_llm(settings: Settings) -> CheckResult:
    """The endpoint lists the model (as the daemon checks it) and which tool choice works."""
    if not settings.use_llm:
        return skip(
            "llm",
            "the offline analyser is used (READERD_ANALYZER="
            f"{settings.analyzer}, no LLM endpoint configured)",
        )
    if not settings.llm_model:
        return fail("llm", "READERD_LLM_MODEL is not set")
    import asyncio

    from readerd.analyze.openai.client import ChatClient, model_listed
    from readerd.analyze.openai.probe import probe_tool_choice

    client = ChatClient(settings)

    async def check() -> CheckResult:
        try:
            entries = await client.model_entries()
            ids = [str(e["id"]) for e in entries or []]
            if entries is not None and not model_listed(client.model, ids):
                offered = ", ".join(ids[:10]) or "none"
                return fail(
                    "llm", f"model {client.model!r} is not served by {client.host} ({offered})"
                )
            probe = await probe_tool_choice(client)
        finally:
            await client.aclose()
        listed = "listed" if entries is not None else "GET /models not answered"
        line = f"{client.model} at {client.base_url} ({listed}); tool choice: {probe.summary()}"
        return ok("llm", line) if probe.mode else fail("llm", line)

    return asyncio.run(check())


def check_smtp(settings: Settings) -> CheckResult:
    """Connect and log in to the SMTP server exactly as the digest mailer does."""
    if not settings.smtp_host:
        return skip("smtp", "READERD_SMTP_HOST is not set (no digest e-mail)")
    from readerd.digest.send import SmtpMailer
    from readerd.errors import MailError

    try:
        mailer = SmtpMailer(settings)  # refuses what sending would refuse
        mailer.check()  # connect, secure and log in as send() does, then quit
    except MailError as exc:
        return fail("smtp", str(exc))
    login = f"logged in as {mailer.user}" if mailer.user else "no login configured"
    return ok("smtp", f"{mailer.where}, {mailer.security}, {login}")


def check_llm_model(settings: Settings) -> CheckResult:
    """check_llm, after asking an endpoint set without READERD_LLM_MODEL for its only model."""
    from readerd.analyze.openai.model_choice import resolve_model

    try:
        resolved, note = resolve_model(settings)
    except ConfigError as exc:
        return fail("llm", str(exc).removeprefix("llm: "))
    result = check_llm(resolved)
    if note and result.state == "OK":
        return ok("llm", f"{result.detail}; the only model served, READERD_LLM_MODEL unset")
    return result


def check_writeback(settings: Settings) -> CheckResult:
    """Write-back's state per source: FAIL when it is paused (a refused credential)."""
    if settings.writeback == "off":
        return skip("writeback", "off (READERD_WRITEBACK=tags writes readerd's tags back)")
    from readerd.cli.status import writeback_line
    from readerd.store.database import make_engine
    from readerd.store.writeback import status

    rows = status(make_engine(settings, write=False))
    if not rows:
        return ok("writeback", f"{settings.writeback}: nothing written yet")
    detail = "; ".join(writeback_line(row).removeprefix("write-back ") for row in rows)
    return (fail if any(row.get("paused") for row in rows) else ok)("writeback", detail)


CHECKS: dict[str, Callable[[Settings], CheckResult]] = {
    "database": check_database,
    "source": check_source,
    "llm": check_llm_model,
    "smtp": check_smtp,
    "writeback": check_writeback,
}
