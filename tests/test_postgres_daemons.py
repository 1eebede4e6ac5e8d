"""readerd on two machines sharing one PostgreSQL library, as real processes.

Each machine has its own data directory (state file, instance lock) and the same
READERD_DATABASE_URL. Two `readerd run` daemons: between them every link is analysed
exactly once (each article's LLM request counted at the scripted server), the digest
is mailed once. A home server and a GPU box: `readerd run --stages fetch,extract`
syncs, fetches and mails, `readerd worker --stages analyze` analyses with the model.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ReaderdCLI
from tests.daemon_process import Daemon
from tests.servers.openai_compat import MODEL, AnalysisResponder, OpenAICompatServer, article_text
from tests.servers.postgres import PostgresCluster
from tests.servers.smtp import StartServer

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]


def write_stories(folder: Path, count: int) -> None:
    """`count` short articles the scripted model analyses in one request each."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        body = f"<p>Story {n}: gardeners plant tomatoes beside railway tracks.</p>" * 6
        (folder / f"story-{n:03d}.html").write_text(
            f"<html><head><title>Story {n}</title></head><body><article>{body}</article></body>",
            encoding="utf-8",
        )


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar() or 0)
    except Exception as exc:  # the schema is not there until a daemon has migrated it
        if "does not exist" in str(exc):
            return 0
        raise
    finally:
        engine.dispose()


def _wait(condition: object, what: str, daemons: list[Daemon], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        for daemon in daemons:
            if daemon.proc.poll() is not None:
                pytest.fail(f"a daemon exited {daemon.proc.returncode} before {what}\n{daemon.log}")
        time.sleep(0.2)
    logs = "\n-----\n".join(d.log[-3000:] for d in daemons)
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{logs}")


def _machine(tmp_path: Path, name: str, url: str, inbox: Path, smtp_port: int) -> ReaderdCLI:
    cli = ReaderdCLI(tmp_path / name)
    cli.data_dir.mkdir()
    cli.env.update(
        READERD_DATABASE_URL=url,
        READERD_SOURCE="folder",
        READERD_FOLDER=str(inbox),
        READERD_SYNC_INTERVAL="1",
        READERD_PROCESS_INTERVAL="1",
        READERD_STOP_TIMEOUT="6",
        READERD_LOG_LEVEL="INFO",
        READERD_DIGEST_FROM="readerd@example.org",
        READERD_DIGEST_TO="me@example.org",
        READERD_DIGEST_AT="00:00",  # due at start-up
        READERD_DIGEST_EMPTY="note",  # sent even before any article is ready
        READERD_SMTP_HOST="127.0.0.1",
        READERD_SMTP_PORT=str(smtp_port),
        READERD_SMTP_SECURITY="none",
    )
    return cli


def test_the_home_server_fetches_and_mails_while_the_gpu_box_analyses(
    postgres_cluster: PostgresCluster, start_smtp: StartServer, tmp_path: Path
) -> None:
    url = postgres_cluster.url(postgres_cluster.fresh_database())
    inbox = tmp_path / "inbox"
    write_stories(inbox, 10)
    smtp = start_smtp()
    home = _machine(tmp_path, "home-server", url, inbox, smtp.port)  # no model configured
    with OpenAICompatServer() as llm:
        llm.respond_with(AnalysisResponder())
        gpu = _machine(tmp_path, "gpu-box", url, inbox, smtp.port)
        gpu.env.update(READERD_LLM_BASE_URL=llm.base_url, READERD_LLM_MODEL=MODEL)
        daemon = Daemon(home, args=("--stages", "fetch,extract"))
        try:
            extracted = "SELECT count(*) FROM link WHERE stage = 'analyze'"
            _wait(lambda: _count(url, extracted) == 10, "10 links fetched and extracted", [daemon])
            time.sleep(2)  # more process ticks: the home server must leave them alone
            assert _count(url, "SELECT count(*) FROM analysis") == 0
            assert "(fetch,extract only)" in daemon.log
            result = gpu("worker", "--stages", "analyze", "--once")
            assert "10 analysed" in result.stdout
            _wait(lambda: len(smtp.messages) >= 1, "the digest", [daemon])
        finally:
            code = daemon.stop(signal.SIGTERM)
            daemon.kill()
    assert code == 0, daemon.log
    assert _count(url, "SELECT count(*) FROM analysis WHERE analyzer = 'openai'") == 10
    assert len(smtp.messages) == 1
    assert "Traceback" not in daemon.log, daemon.log


def test_two_daemons_share_a_postgresql_library_and_do_each_job_once(
    postgres_cluster: PostgresCluster, start_smtp: StartServer, tmp_path: Path
) -> None:
    url = postgres_cluster.url(postgres_cluster.fresh_database())  # empty: they migrate it
    inbox = tmp_path / "inbox"
    write_stories(inbox, 12)
    smtp = start_smtp()
    asked: Counter[str] = Counter()
    responder = AnalysisResponder()

    def respond(request: dict[str, object]) -> object:
        found = re.search(r"Story (\d+):", article_text(request))  # type: ignore[arg-type]
        asked[found.group(1) if found else "?"] += 1
        time.sleep(0.1)  # a model takes a while: both daemons have work in flight
        return responder(request)  # type: ignore[arg-type]

    with OpenAICompatServer() as llm:
        llm.respond_with(respond)
        clis, daemons = [], []
        for name in ("home-server", "gpu-box"):
            cli = _machine(tmp_path, name, url, inbox, smtp.port)
            cli.env.update(
                READERD_LLM_BASE_URL=llm.base_url,
                READERD_LLM_MODEL=MODEL,
                READERD_LLM_CONCURRENCY="2",
            )
            clis.append(cli)
        try:
            for cli in clis:
                daemons.append(Daemon(cli))
            done = "SELECT count(*) FROM link WHERE status = 'done'"
            _wait(lambda: _count(url, done) == 12, "the first 12 links analysed", daemons)
            write_stories(inbox, 20)  # 8 more, saved while both run
            _wait(lambda: _count(url, done) == 20, "all 20 links analysed", daemons)
            _wait(lambda: len(smtp.messages) >= 1, "the digest", daemons)
            time.sleep(3)  # several more ticks of both daemons' jobs
            for cli in clis:  # either machine's CLI reads the same library
                assert '"status": "done"' in cli("show", "20", "--json").stdout
            assert clis[1]("stats").stdout.startswith("links: 20 (")
        finally:
            codes = [daemon.stop(signal.SIGTERM) for daemon in daemons]
            for daemon in daemons:
                daemon.kill()
    logs = [daemon.log for daemon in daemons]
    assert codes == [0, 0], logs
    assert len(asked) == 20 and set(asked.values()) == {1}, asked.most_common(3)
    assert _count(url, "SELECT count(*) FROM analysis") == 20
    assert len(smtp.messages) == 1, [m.subject for m in smtp.messages]  # one digest, not two
    assert "Traceback" not in "".join(logs), logs
