"""The OpenAI-compatible analyser: function calling with validation, repair and fallbacks.

One request per article carries both tools with tool_choice "required". Invalid
calls are answered with a tool message naming the error and asked again; a
missing tool is asked for by name. A server that rejects tools or tool_choice
makes the client walk down the ladder (named choice, auto, JSON mode, text), and
what worked is remembered per (base URL, model). Long articles are chunked,
summarised per part, then combined; nothing is cut silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from readerd.analyze.llm_client import ChatClient, LLMProblemError, model_listed
from readerd.analyze.llm_parse import Reply, ToolCall, parse_reply, text_calls
from readerd.analyze.llm_plan import (
    LADDER,
    PROFILES,
    PROFILES_FILE,
    TOOL_MODES,
    ServerProfiles,
    load_profiles,
    pack_texts,
    partial_text,
    plan_requests,
    save_profiles,
    split_text,
)
from readerd.analyze.offline import article_language, keyword_tags, select_sentences
from readerd.analyze.prompts import (
    PROMPT_VERSION,
    WHOLE,
    WRONG_LANGUAGE,
    Scope,
    estimate_tokens,
    failed_generation_messages,
    json_messages,
    repair_messages,
    tool_messages,
    wanted_language,
    written_language,
    wrong_language_error,
)
from readerd.analyze.tools import (
    ALL_TOOLS,
    SUMMARY_TOOL,
    TAG_TOOL,
    TOOL_MODELS,
    SummarizeArticle,
    TagArticle,
    describe_error,
    tool_specs,
    validate_arguments,
)
from readerd.config import Settings
from readerd.errors import AnalysisError, ConfigError, ReaderdError
from readerd.results import Analysis, ArticleInput, LLMCall

ANSWER_TOKENS = 1500  # room left for the answer (summary, key points, tags, JSON)
MIN_TEXT_TOKENS = 256
MAX_CHUNKS = 16  # beyond this, the text is first compressed extractively
MAX_SHRINKS = 4


@dataclass
class _Task:
    """One piece of work: a text, its scope, and the tools whose results are wanted."""

    text: str
    scope: Scope
    wanted: frozenset[str]
    got: dict[str, BaseModel] = field(default_factory=dict)
    requests: int = 0
    wrong_language: BaseModel | None = None  # kept in case the re-ask brings nothing better

    @property
    def missing(self) -> set[str]:
        """Wanted tools without a valid result yet."""
        return set(self.wanted) - self.got.keys()


class OpenAIAnalyzer:
    """Analyser over any OpenAI-compatible chat-completions endpoint."""

    name = "openai"
    prompt_version = PROMPT_VERSION

    def __init__(
        self, settings: Settings, *, profiles: ServerProfiles | None = None, backoff: float = 0.5
    ) -> None:
        if not settings.llm_model:
            raise ConfigError("analyze: analyzer=openai needs a model: set READERD_LLM_MODEL")
        self.settings = settings
        self.model = settings.llm_model
        self.client = ChatClient(settings, backoff=backoff)
        self.profiles = profiles if profiles is not None else PROFILES
        # The shared profiles persist in the data dir, so a learnt rung survives restarts.
        self.profiles_file = None if profiles is not None else settings.data_dir / PROFILES_FILE
        if self.profiles_file:
            load_profiles(self.profiles, self.profiles_file)
        self.profile = self.profiles.get(self.client.base_url, self.model)

    async def analyze(self, article: ArticleInput) -> Analysis:
        """Tags, summary and key points of one article; a failure carries its requests (.calls)."""
        run = _Run(self, article)
        before = self.profiles.snapshot()
        try:
            return await run.analyze()
        except ReaderdError as exc:
            exc.calls = run.calls  # type: ignore[attr-defined]
            raise
        finally:
            if self.profiles_file and self.profiles.snapshot() != before:
                save_profiles(self.profiles, self.profiles_file)

    async def check_model(self) -> str | None:
        """A plain problem when the endpoint's model list lacks the model, else None."""
        ids = await self.client.list_models()
        if ids is None or model_listed(self.model, ids):
            return None
        offered = ", ".join(ids[:12])
        return f'llm: model "{self.model}" not found at {self.client.host}; available: {offered}'

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.aclose()


class _Run:
    """The analysis of one article: its requests, their log, and the results."""

    def __init__(self, owner: OpenAIAnalyzer, article: ArticleInput) -> None:
        self.owner = owner
        self.article = article
        self.client = owner.client
        self.profile = owner.profile
        self.max_repairs = owner.settings.llm_max_repairs
        self.request_cap = 4 + 4 * self.max_repairs
        self.calls: list[LLMCall] = []
        self.language = wanted_language(article)
        self.language_asked = False  # a summary in the wrong language is asked for once more

    async def analyze(self) -> Analysis:
        """Analyse the article, shrinking the requests when the context overflows."""
        text = self.article.text.strip()
        if not text:
            raise AnalysisError(f"llm: article has no text: url={self.article.url}")
        for _ in range(MAX_SHRINKS + 1):
            try:
                got, coverage = await self._analyse_text(text)
                return self._analysis(got, coverage, text)
            except LLMProblemError as exc:
                if exc.problem.kind != "context":
                    raise
                self._shrink(exc.problem.limit_tokens)
        raise AnalysisError(f"llm: context overflow persists: {self._facts()}")

    def _facts(self) -> str:
        return f"host={self.client.host} model={self.client.model}"

    def _budget(self) -> int:
        """Context tokens one request may use."""
        learned = self.profile.context_tokens
        configured = self.owner.settings.llm_context_tokens
        return min(configured, learned) if learned else configured

    def _shrink(self, limit: int | None) -> None:
        """Halve the request size (or go under the server's stated limit) after an overflow."""
        budget = self._budget() // 2
        if limit:
            budget = min(budget, int(limit * 0.9))
        if budget < 1024:
            raise AnalysisError(f"llm: context too small even for a short part: {self._facts()}")
        self.profile.context_tokens = budget

    def _text_tokens(self) -> int:
        """Tokens of article text one request can carry, after prompt, tools and answer."""
        budget = self._budget()
        frame = json.dumps(tool_messages(self.article, "", ALL_TOOLS), ensure_ascii=False)
        tools = json.dumps(tool_specs(ALL_TOOLS), ensure_ascii=False)
        room = budget - estimate_tokens(frame + tools) - min(ANSWER_TOKENS, budget // 4)
        if room < MIN_TEXT_TOKENS:
            raise AnalysisError(f"llm: context of {budget} tokens leaves no room: {self._facts()}")
        return room

    async def _analyse_text(self, text: str) -> tuple[dict[str, BaseModel], float]:
        """Results for the whole text, in one request or chunked and combined; and coverage."""
        room = self._text_tokens()
        if estimate_tokens(text) <= room:
            return await self._obtain(_Task(text, WHOLE, frozenset(ALL_TOOLS))), 1.0
        seen, coverage = text, 1.0
        if estimate_tokens(text) > room * MAX_CHUNKS:
            chars_per_token = len(text) / estimate_tokens(text)
            seen = select_sentences(text, int(room * MAX_CHUNKS * chars_per_token * 0.9))
            coverage = len(seen) / len(text)
        chunks = split_text(seen, room)
        partials = []
        for i, chunk in enumerate(chunks, 1):
            partials.append(await self._summary(chunk, Scope("part", i, len(chunks))))
        return await self._combine(partials, room), coverage

    async def _summary(self, text: str, scope: Scope) -> SummarizeArticle:
        """The summary of one part, or AnalysisError."""
        got = await self._obtain(_Task(text, scope, frozenset({SUMMARY_TOOL})))
        if SUMMARY_TOOL not in got:
            raise AnalysisError(f"llm: no valid summary of part {scope.index}/{scope.total}")
        return got[SUMMARY_TOOL]  # type: ignore[return-value]

    async def _combine(self, partials: list[SummarizeArticle], room: int) -> dict[str, BaseModel]:
        """Summary and tags of the whole from the parts' summaries (reduced in rounds if long)."""
        texts = [partial_text(i, p) for i, p in enumerate(partials, 1)]
        groups = pack_texts(texts, room)
        while 1 < len(groups) < len(texts):  # too long to combine at once: reduce in rounds
            partials = [
                await self._summary("\n\n".join(g), Scope("combine", 0, len(g))) for g in groups
            ]
            texts = [partial_text(i, p) for i, p in enumerate(partials, 1)]
            groups = pack_texts(texts, room)
        scope = Scope("combine", 0, len(texts))
        return await self._obtain(_Task("\n\n".join(texts), scope, frozenset(ALL_TOOLS)))

    async def _obtain(self, task: _Task) -> dict[str, BaseModel]:
        """Walk the ladder from the remembered rung; remember the first rung that gave results."""
        worked: str | None = None
        for mode in LADDER[LADDER.index(self.profile.mode) :]:
            if not task.missing or task.requests >= self.request_cap:
                break
            before = len(task.got)
            try:
                await self._run_mode(mode, task)
                rejected = False
            except LLMProblemError as exc:  # the server refused this rung: go down
                if exc.problem.kind not in ("unsupported", "tool_use_failed"):
                    raise
                rejected = True
            if len(task.got) > before:
                worked = worked or mode
            if task.got and not rejected:
                break  # the rung works; what is still missing after its re-asks stays missing
        if worked:
            self.profile.mode = worked
        if SUMMARY_TOOL in task.missing and task.wrong_language is not None:
            task.got[SUMMARY_TOOL] = task.wrong_language  # asked once; better than nothing
        return task.got

    async def _run_mode(self, mode: str, task: _Task) -> None:
        """First request, then bounded re-asks for the tools still missing."""
        for attempt in range(self.max_repairs + 1):
            if not task.missing or task.requests >= self.request_cap:
                return
            for names, request_mode, choice in plan_requests(mode, task.missing, attempt == 0):
                await self._converse(task, names, request_mode, choice)

    async def _converse(self, task: _Task, names: set[str], mode: str, choice: Any) -> None:
        """One request and up to max_repairs repairs of invalid calls in the same conversation."""
        messages = self._messages(mode, task, names)
        for round_ in range(self.max_repairs + 1):
            if task.requests >= self.request_cap:
                return
            task.requests += 1
            try:
                payload = self._payload(mode, messages, names, choice)
                exchange = await self.client.send(payload, mode, self.calls)
            except LLMProblemError as exc:
                if not self._ask_again(task, exc, round_):
                    return
                problem = exc.problem
                retry = failed_generation_messages(problem.message, problem.failed_generation)
                messages = messages + retry
                continue
            reply = parse_reply(exchange.body)
            seen, errors = self._accept(task, reply)
            self.calls.append(self._record(mode, exchange.latency_ms, reply, names, task, errors))
            if not errors:
                return
            messages = messages + repair_messages(reply, seen, errors, mode not in TOOL_MODES)

    def _ask_again(self, task: _Task, exc: LLMProblemError, round_: int) -> bool:
        """After a refused request: True to retry in this conversation, False to end it.

        Raises to leave the rung (unsupported feature, context overflow) or the article.
        """
        problem = exc.problem
        if self._recover(task, exc):
            return False
        if problem.kind == "tool_use_failed":  # the model's generation failed server-side:
            if round_ < self.max_repairs:  # a retry often succeeds; persisting, go down
                return True
            raise exc
        if round_ > 0:
            return False  # a repair the server refused: keep what is valid, re-ask afresh
        if problem.kind == "rejected":
            raise AnalysisError(
                f"llm: request rejected: status={problem.status} {self._facts()}: "
                f"{self.client.redact(problem.message)}"
            ) from None
        raise exc

    def _messages(self, mode: str, task: _Task, names: set[str]) -> list[dict[str, Any]]:
        """The opening messages of a conversation."""
        build = tool_messages if mode in TOOL_MODES else json_messages
        return build(self.article, task.text, names, task.scope)

    def _payload(
        self, mode: str, messages: list[dict[str, Any]], names: set[str], choice: Any
    ) -> dict[str, Any]:
        """The request body for one mode."""
        payload: dict[str, Any] = {"model": self.client.model, "messages": messages}
        if mode in TOOL_MODES:
            payload["tools"] = tool_specs(names)
            payload["tool_choice"] = choice
        elif mode == "json":
            payload["response_format"] = {"type": "json_object"}
        return payload

    def _recover(self, task: _Task, exc: LLMProblemError) -> bool:
        """Valid calls from a tool_use_failed error's failed_generation, if any."""
        generation = exc.problem.failed_generation
        if exc.problem.kind != "tool_use_failed" or not generation:
            return False
        before = len(task.got)
        self._accept(task, Reply(calls=text_calls(generation)))
        return len(task.got) > before

    def _accept(self, task: _Task, reply: Reply) -> tuple[list[ToolCall], dict[str, str]]:
        """Validate every call to our tools (unknown tools are ignored, never executed)."""
        seen: list[ToolCall] = []
        errors: dict[str, str] = {}
        for call in reply.calls:
            if call.name not in TOOL_MODELS:
                continue
            seen.append(call)
            if call.name in task.got:
                continue
            if call.error is not None or call.arguments is None:
                errors[call.id] = call.error or "arguments missing"
                continue
            try:
                result = validate_arguments(call.name, call.arguments)
            except ValidationError as exc:
                errors[call.id] = describe_error(exc)
                continue
            problem = self._wrong_language(task, result)
            if problem:
                errors[call.id] = problem
            else:
                task.got[call.name] = result
        errors = {i: e for i, e in errors.items() if _name_of(seen, i) not in task.got}
        return seen, errors

    def _wrong_language(self, task: _Task, result: BaseModel) -> str | None:
        """The error to send back, once per article, when a summary is in the wrong language."""
        if not isinstance(result, SummarizeArticle) or task.scope.kind == "part":
            return None
        if self.language_asked or not self.language:
            return None
        written = written_language(result.summary, result.key_points)
        if written is None or written == self.language:
            return None
        self.language_asked, task.wrong_language = True, result
        return wrong_language_error(written, self.language)

    def _summary_language(self, summary: SummarizeArticle) -> str:
        """The wanted language when the summary is seen to be in it, else the model's code."""
        written = written_language(summary.summary, summary.key_points)
        return written if written and written == self.language else summary.language

    def _record(
        self,
        mode: str,
        latency: int,
        reply: Reply,
        names: set[str],
        task: _Task,
        errors: dict[str, str],
    ) -> LLMCall:
        """The call-log entry of one answered request."""
        missing = sorted(n for n in names if n not in task.got)
        if errors:
            outcome, error = "invalid", "; ".join(errors.values())
            if all(e.startswith(WRONG_LANGUAGE) for e in errors.values()):
                outcome = "wrong_language"
        elif missing:
            outcome, error = "missing", "not called: " + ", ".join(missing)
        else:
            outcome, error = "ok", None
        if reply.finish_reason == "length" and error:
            error += " (finish_reason=length)"
        return self.client.record(
            mode,
            latency,
            outcome,
            error=error,
            tokens_in=reply.tokens_in,
            tokens_out=reply.tokens_out,
        )

    def _analysis(self, got: dict[str, BaseModel], coverage: float, text: str) -> Analysis:
        """The Analysis, with offline tags when the model never called tag_article."""
        summary = got.get(SUMMARY_TOOL)
        if not isinstance(summary, SummarizeArticle):
            raise AnalysisError(f"llm: no valid {SUMMARY_TOOL} call after retries: {self._facts()}")
        tagged = got.get(TAG_TOOL)
        if isinstance(tagged, TagArticle):
            tags = tuple(tagged.tags)
        else:
            language = article_language(self.article)
            tags = keyword_tags(
                text, language, title=self.article.title, vocabulary=self.article.vocabulary
            )
        return Analysis(
            tags=tags,
            summary=summary.summary,
            key_points=tuple(summary.key_points),
            language=self._summary_language(summary),
            analyzer="openai",
            model=self.client.model,
            prompt_version=PROMPT_VERSION,
            tokens_in=sum(c.tokens_in for c in self.calls),
            tokens_out=sum(c.tokens_out for c in self.calls),
            latency_ms=sum(c.latency_ms for c in self.calls),
            coverage=coverage,
            calls=self.calls,
        )


def _name_of(calls: list[ToolCall], call_id: str) -> str:
    """The tool name of the call with this id."""
    return next((c.name for c in calls if c.id == call_id), "")
