"""Claims with leases, on SQLite and on PostgreSQL (a throwaway cluster): the row is the queue.

The tests marked `workers` (several processes, a minute or more) run as a CI step of
their own: `.venv/bin/pytest -n 0 -m workers tests/test_leases.py`.

Two workers never hold one link; an expired lease is claimable again; a worker whose
lease passed to another writes nothing; several `readerd process` runs against one
database analyse every link exactly once (each LLM request counted at the server).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from readerd import store
from readerd.config import load_settings
from readerd.errors import LeaseLostError
from readerd.results import Analysis, Extracted, FetchedPage, SavedLink
from readerd.store import leases, views
from readerd.store.database import make_engine, upgrade_database
from tests.conftest import BACKENDS, ReaderdCLI
from tests.servers.openai_compat import MODEL, AnalysisResponder, OpenAICompatServer, article_text
from tests.servers.postgres import PostgresCluster


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'readerd.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.url(cluster.fresh_database())


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(load_settings(data_dir=tmp_path, database_url=database_url))
    upgrade_database(made)
    yield made
    made.dispose()


def _add_links(engine: Engine, count: int) -> None:
    page = "<html><head><title>Story {n}</title></head><body><article>{body}</article></body>"
    links = [
        SavedLink(
            "import",
            f"https://example.org/{n}",
            f"https://example.org/{n}",
            content=page.format(
                n=n, body=f"<p>Story {n}: gardeners plant tomatoes beside railway tracks.</p>" * 6
            ).encode(),
            content_type="text/html",
        )
        for n in range(count)
    ]
    store.import_links(engine, links)


def _analysis(summary: str) -> Analysis:
    return Analysis(
        tags=("gardens",),
        summary=summary,
        key_points=(),
        language="en",
        analyzer="offline",
        model="offline",
        prompt_version="t",
    )


def test_two_workers_never_hold_the_same_link(engine: Engine) -> None:
    _add_links(engine, 30)
    first = leases.claim_due(engine, "a", 20)
    second = leases.claim_due(engine, "b", 20)
    assert len(first) == 20 and len(second) == 10
    assert not {d.id for d in first} & {d.id for d in second}
    assert leases.claim_due(engine, "c", 20) == []  # every due link is held
    assert [d.id for d in first] == sorted(d.id for d in first)  # oldest first


def test_an_expired_lease_is_claimable_and_the_late_worker_writes_nothing(
    engine: Engine,
) -> None:
    _add_links(engine, 1)
    (due,) = leases.claim_due(engine, "slow", 1, lease=timedelta(seconds=0.2))
    time.sleep(0.3)
    (rescued,) = leases.claim_due(engine, "rescuer", 1)
    assert rescued.id == due.id
    page = FetchedPage(due.url, 200, "text/html", b"")
    text = "The rescuer's text about gardens."
    article = store.ArticleWrite(due.id, page, Extracted(text=text), owner="rescuer")
    done = store.AnalysisWrite(
        due.id, _analysis("The rescuer's."), store.hash_text(text), owner="rescuer"
    )
    assert all(w.error is None for w in store.save_batch(engine, [article, done]))

    late = store.AnalysisWrite(due.id, _analysis("The late one's."), "x", owner="slow")
    with pytest.raises(LeaseLostError):
        store.save_batch(engine, [late])
    with pytest.raises(LeaseLostError):
        store.record_failure(
            engine, due.id, "late", retryable=True, max_attempts=3, retry_base_seconds=1,
            owner="slow",
        )  # fmt: skip
    (view,) = views.list_links(engine, ids=[due.id], limit=1)
    assert view["status"] == "done" and view["summary"] == "The rescuer's."
    assert view["attempts"] == 0


def test_renewal_keeps_a_claim_and_only_its_owner_renews(engine: Engine) -> None:
    _add_links(engine, 2)
    held = leases.claim_due(engine, "a", 2, lease=timedelta(seconds=0.3))
    time.sleep(0.2)
    assert leases.renew(engine, "a", [d.id for d in held], timedelta(seconds=5)) == 2
    assert leases.renew(engine, "b", [d.id for d in held]) == 0
    time.sleep(0.2)
    assert leases.claim_due(engine, "b", 2) == []  # renewed: still a's


def test_the_claims_of_a_killed_worker_on_this_machine_are_freed_at_once(
    engine: Engine,
) -> None:
    _add_links(engine, 3)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    host = leases.new_owner().split(":")[0]
    leases.claim_due(engine, f"{host}:{gone.stdout.strip()}:dead", 3)
    leases.claim_due(engine, "another-machine:1:x", 3)  # nothing left to take
    assert leases.release_dead(engine) == 3
    assert len(leases.claim_due(engine, "next", 3)) == 3


@pytest.mark.workers
def test_four_processes_on_one_database_analyse_every_link_once(
    database_url: str, tmp_path: Path
) -> None:
    """Four `readerd process` runs, each with its own data directory, share one database."""
    count = 2000
    seeding = make_engine(load_settings(data_dir=tmp_path, database_url=database_url))
    upgrade_database(seeding)
    _add_links(seeding, count)
    asked: Counter[str] = Counter()
    responder = AnalysisResponder()

    def respond(request: dict[str, object]) -> object:
        text = article_text(request)  # type: ignore[arg-type]
        asked[text.split("Story ")[1].split(":")[0]] += 1
        time.sleep(0.05)  # a model takes a while: the runs overlap
        return responder(request)  # type: ignore[arg-type]

    with OpenAICompatServer() as llm:
        llm.respond_with(respond)
        runs = []
        for n in range(4):
            cli = ReaderdCLI(tmp_path / f"worker{n}", {})
            cli.data_dir.mkdir()
            env = {
                **cli.base_env(),
                "READERD_DATABASE_URL": database_url,
                "READERD_SOURCE": "none",
                "READERD_LLM_BASE_URL": llm.base_url,
                "READERD_LLM_MODEL": MODEL,
                "READERD_LLM_CONCURRENCY": "4",
            }
            runs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "readerd", "process"],
                    env=env,
                    cwd=cli.data_dir,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [run.communicate(timeout=600) for run in runs]
    failures = [
        (run.returncode, err[-3000:]) for run, (_out, err) in zip(runs, outputs, strict=True)
        if run.returncode
    ]
    assert not failures, failures
    per_run = [int(out.split("processed: ")[1].split()[0]) for out, _ in outputs]
    assert sum(per_run) == count, per_run  # each link analysed by exactly one run
    assert sum(1 for n in per_run if n) >= 2, per_run  # the work was shared
    assert len(asked) == count and set(asked.values()) == {1}, asked.most_common(3)
    done = views.list_links(seeding, status="done", limit=count + 1)
    assert len(done) == count
    seeding.dispose()


def test_workers_split_by_stage_hand_links_over(
    database_url: str, tmp_path: Path, llm_server: OpenAICompatServer
) -> None:
    seeding = make_engine(load_settings(data_dir=tmp_path, database_url=database_url))
    upgrade_database(seeding)
    _add_links(seeding, 12)
    seeding.dispose()
    llm_server.respond_with(AnalysisResponder())
    env = {
        "READERD_DATABASE_URL": database_url,
        "READERD_SOURCE": "none",
        "READERD_LLM_BASE_URL": llm_server.base_url,
        "READERD_LLM_MODEL": MODEL,
    }
    (tmp_path / "home").mkdir()
    (tmp_path / "gpu").mkdir()
    home, gpu = ReaderdCLI(tmp_path / "home", env), ReaderdCLI(tmp_path / "gpu", env)

    fetched = home("worker", "--stages", "fetch,extract", "--once").stdout
    assert "0 analysed, 12 extracted for analysis" in fetched
    assert llm_server.requests == []  # the home server never calls the model
    assert {row["stage"] for row in json.loads(home("list", "--json").stdout)} == {"analyze"}

    analysed = gpu("worker", "--stages", "analyze", "--once").stdout
    assert "12 analysed, 0 extracted" in analysed
    rows = json.loads(gpu("list", "--json").stdout)
    assert {row["status"] for row in rows} == {"done"} and len(rows) == 12

    wrong = gpu("worker", "--stages", "summarise", check=False)
    assert wrong.returncode == 2 and "--stages takes fetch, extract and analyze" in wrong.stderr


@pytest.mark.workers
@pytest.mark.parametrize("fate", ["stalled", "killed"])
def test_a_worker_stopped_mid_analysis_leaves_its_link_to_another_finished_once(
    fate: str, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """Worker A is mid-analysis. Killed (kill -9): B, on the same machine, takes the link
    at once. Stalled (SIGSTOP): its lease expires, B claims and finishes, A wakes, its
    model answers, and its save is refused. Either way one analysis, B's."""
    database_url = postgres_cluster.url(postgres_cluster.fresh_database())
    seeding = make_engine(load_settings(data_dir=tmp_path, database_url=database_url))
    upgrade_database(seeding)
    _add_links(seeding, 1)
    first_asked, let_first_answer = threading.Event(), threading.Event()
    replies = {"n": 0}

    def respond(request: dict[str, object]) -> object:
        replies["n"] += 1
        mine = replies["n"]
        if mine == 1:
            first_asked.set()
            let_first_answer.wait(60)
        reply = AnalysisResponder()(request)  # type: ignore[arg-type]
        for tool_call in reply["choices"][0]["message"]["tool_calls"]:
            if tool_call["function"]["name"] == "summarize_article":
                arguments = json.loads(tool_call["function"]["arguments"])
                arguments["summary"] = f"Written by request {mine}. " + arguments["summary"]
                tool_call["function"]["arguments"] = json.dumps(arguments)
        return reply

    with OpenAICompatServer() as llm:
        llm.respond_with(respond)
        env = {
            "READERD_DATABASE_URL": database_url,
            "READERD_SOURCE": "none",
            "READERD_LLM_BASE_URL": llm.base_url,
            "READERD_LLM_MODEL": MODEL,
            "READERD_LEASE_SECONDS": "2",
            "READERD_LLM_TIMEOUT": "120",
        }
        clis = [ReaderdCLI(tmp_path / name, env) for name in ("a", "b")]
        for cli in clis:
            cli.data_dir.mkdir()
        a = subprocess.Popen(
            [sys.executable, "-m", "readerd", "process"],
            env={**clis[0].base_env(), **env},
            cwd=clis[0].data_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert first_asked.wait(60), "worker A never asked the model"
        os.kill(a.pid, signal.SIGKILL if fate == "killed" else signal.SIGSTOP)
        try:
            if fate == "stalled":
                time.sleep(3)  # no renewals: A's 2 s lease runs out
            else:
                a.wait(timeout=30)  # reaped, as systemd reaps it: its pid is gone
            rescue = clis[1]("process")
            assert "1 analysed" in rescue.stdout
        finally:
            if fate == "stalled":
                os.kill(a.pid, signal.SIGCONT)
            let_first_answer.set()
        out, err = a.communicate(timeout=120)
    if fate == "stalled":
        assert "0 analysed" in out, out + err
        assert "lease passed to another worker" in err
    assert replies["n"] == 2  # A's request and B's: nothing asked twice beyond the rescue
    (view,) = views.list_links(seeding, limit=1)
    assert view["status"] == "done" and view["summary"].startswith("Written by request 2.")
    seeding.dispose()


def test_one_readerd_at_a_time_syncs_and_mails_a_shared_database(
    database_url: str, tmp_path: Path
) -> None:
    from readerd.store.singleton import singleton

    settings = load_settings(data_dir=tmp_path, database_url=database_url)
    first, second = make_engine(settings), make_engine(settings)  # two daemons' engines
    upgrade_database(first)
    shared = first.dialect.name == "postgresql"
    with singleton(first, "digest") as mine:
        assert mine
        with singleton(second, "digest") as theirs:
            assert theirs is not shared  # SQLite: the data directory's lock already decides
        with singleton(second, "sync") as other_job:
            assert other_job  # a lock per job
    with singleton(second, "digest") as now_free:
        assert now_free  # released when the job ends
    first.dispose()
    second.dispose()
