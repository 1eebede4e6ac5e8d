"""`readerd doctor`: one line per check — `OK  <check>`, `FAIL <check>: <problem>`, `SKIP …`.

Every check talks to the real thing (the database file, the source, the LLM
endpoint, the SMTP server) the way the daemon would, and reports the exact
problem instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from pydantic import ValidationError
from sqlalchemy import text

from readerd.config import Settings, load_settings
from readerd.errors import ConfigError, ReaderdError
from readerd.logs import add_secrets

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


def load_checked_settings() -> Settings:
    """Settings, or a ConfigError naming every bad READERD_* variable."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"READERD_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"config: {problems}") from None
    add_secrets(settings.secrets())
    return settings


def run_checks() -> list[CheckResult]:
    """Run every check in order; a broken config skips the rest."""
    try:
        settings = load_checked_settings()
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
    from readerd.daemon_state import sqlite_path
    from readerd.database import make_engine, schema_revisions

    path = sqlite_path(settings)
    if path is not None:
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
        # A write that is rolled back: proves the file, its directory (for the WAL) and
        # the write lock (BEGIN IMMEDIATE) are all usable, and changes nothing.
        with engine.connect() as connection, connection.begin() as transaction:
            connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
            transaction.rollback()
    except Exception as exc:
        reason = getattr(exc, "orig", None) or exc
        return fail("database", f"{engine.url.render_as_string()}: {reason}")
    finally:
        engine.dispose()
    return ok("database", f"{engine.url.render_as_string()}, writable, schema {head}")


def check_source(settings: Settings) -> CheckResult:
    """The source is configured, reachable and accepts our credentials."""
    from readerd.sources import make_source

    try:
        make_source(settings)
    except ConfigError as exc:
        return fail("source", str(exc))
    if settings.source == "folder":
        return _check_folder(settings)
    if settings.source == "pocket":
        return _check_pocket(settings)
    return skip("source", f"no reachability check for READERD_SOURCE={settings.source} yet")


def _check_folder(settings: Settings) -> CheckResult:
    folder = settings.folder.expanduser()
    if not os.access(folder, os.R_OK | os.X_OK):
        return fail("source", f"folder: {folder} is not readable by uid {os.getuid()}")
    try:
        with os.scandir(folder) as entries:
            count = sum(1 for _ in entries)
    except OSError as exc:
        return fail("source", f"folder: cannot list {folder}: {exc.strerror}")
    return ok("source", f"folder {folder}, {count} entries")


def _check_pocket(settings: Settings) -> CheckResult:
    from readerd.sources.pocket import parse_get_response

    assert settings.pocket_consumer_key and settings.pocket_access_token  # make_source checked
    url = settings.pocket_url.rstrip("/") + "/v3/get"
    body = {
        "consumer_key": settings.pocket_consumer_key.get_secret_value().strip(),
        "access_token": settings.pocket_access_token.get_secret_value().strip(),
        "count": 1,
        "detailType": "simple",
        "state": "all",
    }
    headers = {"X-Accept": "application/json", "User-Agent": settings.user_agent}
    timeout = min(settings.fetch_timeout, NET_TIMEOUT)
    try:
        with httpx.Client(timeout=timeout, trust_env=False, headers=headers) as client:
            response = client.post(url, json=body)
    except httpx.HTTPError as exc:
        return fail("source", f"pocket: cannot reach {url}: {type(exc).__name__}: {exc}")
    if response.status_code in (401, 403):
        return fail(
            "source",
            f"pocket: not authorised by {url}: status={response.status_code} "
            f"X-Error={response.headers.get('X-Error', '')!r}",
        )
    if response.status_code != 200:
        return fail(
            "source",
            f"pocket: {url} answered status={response.status_code} "
            f"X-Error={response.headers.get('X-Error', '')!r}",
        )
    try:
        parse_get_response(response.json())
    except (ValueError, ReaderdError) as exc:
        return fail("source", f"pocket: {url} answered something else than Pocket JSON: {exc}")
    return ok("source", f"pocket {url}, authorised")


def check_llm(settings: Settings) -> CheckResult:
    """The LLM endpoint answers GET /models and serves the configured model."""
    if not settings.use_llm:
        return skip(
            "llm",
            "the offline analyser is used (READERD_ANALYZER="
            f"{settings.analyzer}, no LLM endpoint configured)",
        )
    from readerd.analyze.llm_client import DEFAULT_BASE_URL

    model = settings.llm_model
    if not model:
        return fail("llm", "READERD_LLM_MODEL is not set")
    base = (settings.llm_base_url or DEFAULT_BASE_URL).rstrip("/")
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with httpx.Client(timeout=min(settings.llm_timeout, NET_TIMEOUT)) as client:
            response = client.get(f"{base}/models", headers=headers)
    except httpx.HTTPError as exc:
        return fail("llm", f"cannot reach {base}: {type(exc).__name__}: {exc}")
    if response.status_code != 200:
        return fail(
            "llm",
            f"GET {base}/models answered {response.status_code}: "
            f"{' '.join(response.text.split())[:200]}",
        )
    try:
        ids = [str(m.get("id")) for m in response.json().get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError):
        return fail("llm", f"GET {base}/models did not answer an OpenAI model list")
    if model not in ids:
        offered = ", ".join(ids[:10]) or "none"
        return fail("llm", f"model {model!r} is not served by {base} (it serves: {offered})")
    return ok("llm", f"{model} at {base}")


def check_smtp(settings: Settings) -> CheckResult:
    """Connect and log in to the SMTP server exactly as the digest mailer does."""
    if not getattr(settings, "smtp_host", None):
        return skip("smtp", "READERD_SMTP_HOST is not set (no digest e-mail)")
    from readerd.digest.send import SmtpMailer
    from readerd.errors import MailError

    try:
        mailer = SmtpMailer(settings)  # refuses what sending would refuse
        connect = getattr(mailer, "_connect", None)
        if connect is None:
            return skip("smtp", "this readerd's mailer offers no connection check")
        try:
            client = connect()
        except MailError:
            raise
        except Exception as exc:
            raise mailer._translate(exc) from exc
    except MailError as exc:
        return fail("smtp", str(exc))
    try:
        client.quit()
    except Exception:
        client.close()
    login = f"logged in as {mailer.user}" if mailer.user else "no login configured"
    return ok("smtp", f"{mailer.where}, {mailer.security}, {login}")


CHECKS: dict[str, Callable[[Settings], CheckResult]] = {
    "database": check_database,
    "source": check_source,
    "llm": check_llm,
    "smtp": check_smtp,
}
