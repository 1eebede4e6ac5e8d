"""The tool registry: every tool has an entry, and the Analysis is assembled from it."""

from __future__ import annotations

from readerd.analyze.registry import TOOLS, analysis_fields, ask_lines, uses_vocabulary
from readerd.analyze.tools import ALL_TOOLS, SUMMARY_TOOL, TAG_TOOL, SummarizeArticle, TagArticle
from readerd.results import ArticleInput

TEXT = (
    "Home composting turns kitchen scraps into soil. A compost heap needs air, water and a "
    "mix of green and brown waste. Turning the compost every week keeps it working."
)
ARTICLE = ArticleInput(
    url="https://example.org/compost", title="Composting", text=TEXT, language="en"
)


def test_every_tool_has_an_entry_in_request_order() -> None:
    assert tuple(TOOLS) == ALL_TOOLS
    for tool in TOOLS.values():
        assert tool.name in tool.ask("the whole article", False)  # "Call NAME with …"
        assert tool.name not in tool.ask("the whole article", True)  # JSON mode names fields


def test_ask_lines_follow_the_requested_tools() -> None:
    both = ask_lines({SUMMARY_TOOL, TAG_TOOL}, "the whole article", False)
    assert [line.split()[2] for line in both] == [SUMMARY_TOOL, TAG_TOOL]
    assert len(ask_lines({SUMMARY_TOOL}, "this part only", False)) == 1
    assert "this part only" in ask_lines({SUMMARY_TOOL}, "this part only", False)[0]
    assert uses_vocabulary({TAG_TOOL}) and not uses_vocabulary({SUMMARY_TOOL})


def test_fields_come_from_valid_results_and_offline_tags_fill_in() -> None:
    summary = SummarizeArticle(
        summary="Composting turns scraps into soil.",
        key_points=["A heap needs air and water.", "Turn it every week."],
        language="en",
    )
    fields, missing = analysis_fields({SUMMARY_TOOL: summary}, ARTICLE, TEXT)
    assert missing == [] and fields["summary"] == summary.summary
    assert fields["tags"]  # tag_article never called: key-phrase tags instead
    assert fields["fallbacks"] == (TAG_TOOL,)  # and the analysis says so
    tagged = TagArticle(tags=["composting", "gardening"])
    fields, _ = analysis_fields({SUMMARY_TOOL: summary, TAG_TOOL: tagged}, ARTICLE, TEXT)
    assert fields["tags"] == ("composting", "gardening") and fields["fallbacks"] == ()


def test_a_required_tool_without_a_valid_call_is_missing() -> None:
    _, missing = analysis_fields({}, ARTICLE, TEXT)
    assert missing == [SUMMARY_TOOL]
