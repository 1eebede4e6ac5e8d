"""The daemon writes readerd's tags back after a sync, when READERD_WRITEBACK asks it to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ReaderdCLI
from tests.hostile.helpers import daemon
from tests.servers.openai_compat import OpenAICompatServer
from tests.servers.read_later import LinkdingFake, serve
from tests.servers.web import WebServer
from tests.test_writeback import SAMPLES, TaggingResponder, configure, fake_service


@pytest.fixture
def linkding() -> Iterator[LinkdingFake]:
    with serve("linkding") as fake:
        assert isinstance(fake, LinkdingFake)
        yield fake


def test_the_daemon_writes_tags_back_after_a_sync_and_keeps_the_users(
    readerd_cli: ReaderdCLI, linkding: LinkdingFake, web_server: WebServer
) -> None:
    compost = web_server.add("/compost.html", (SAMPLES / "en-home-composting.html").read_text())
    sleep = web_server.add("/sleep.html", (SAMPLES / "en-sleep-science.html").read_text())
    ids = [linkding.add(compost, "Compost", tags=("Garden",)), linkding.add(sleep, "Sleep")]
    with OpenAICompatServer() as llm:
        llm.respond_with(TaggingResponder())
        configure(readerd_cli, fake_service(linkding), llm)
        with daemon(
            readerd_cli, READERD_SYNC_INTERVAL="1", READERD_PROCESS_INTERVAL="1"
        ) as running:
            running.wait_for(
                lambda: all("composting" in linkding.items[i]["tag_names"] for i in ids),
                "readerd's shared tag written back to both bookmarks",
                timeout=60,
            )
            assert running.stop() == 0, running.log
    assert "Garden" in linkding.items[ids[0]]["tag_names"]  # the user's tag stays
    status = readerd_cli("status").stdout
    assert "written back" in status
