"""The OpenAI-compatible analyser: function calling with validation, repair and fallbacks.

One request per article carries both tools with tool_choice "required". Invalid
calls are answered with a tool message naming the error and asked again; a
missing tool is asked for by name. A server that rejects tools or tool_choice
makes the client walk down the ladder (named choice, auto, JSON mode, text), and
what worked is remembered per (base URL, model) and re-tested from the top daily.
Every request carries a completion-token bound sized to the tools it asks for; an
answer cut at that bound is asked for once more, shorter. Long articles are
chunked, summarised per part, then combined; nothing is cut silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from readerd.analyze.extractive import select_sentences
from readerd.analyze.openai.client import ChatClient, LLMProblemError, cached_tokens, model_listed
from readerd.analyze.openai.profiles import (
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
from readerd.analyze.openai.prompts import (
    PROMPT_VERSION,
    WHOLE,
    WRONG_LANGUAGE,
    Scope,
    failed_generation_messages,
    json_messages,
    repair_messages,
    tool_messages,
    wrong_language_error,
)
from readerd.analyze.openai.reply import Reply, ToolCall, parse_reply, text_calls
from readerd.analyze.openai.summary_language import wanted_language, written_language
from readerd.analyze.registry import analysis_fields
from readerd.analyze.tools import (
    ALL_TOOLS,
    SUMMARY_TOOL,
    TOOL_MODELS,
    SummarizeArticle,
    describe_error,
    max_tokens_for,
    salvage,
    tool_specs,
    validate_arguments,
)
from readerd.config import Settings
from readerd.errors import AnalysisError, ConfigError
from readerd.results import Analysis, ArticleInput, LLMCall
from readerd.text.passages import estimate_tokens

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
    salvaged: dict[str, BaseModel] = field(default_factory=dict)  # valid parts of rejected calls
    shortened: bool = False  # an answer cut at max_tokens was asked for again, shorter
    worked_mode: str | None = None  # the request mode of the first valid result

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
        except AnalysisError as exc:  # the same error, carrying the requests it cost
            raise exc.with_calls(run.calls).with_traceback(exc.__traceback__) from exc.__cause__
        finally:
            if self.profiles_file and self.profiles.snapshot() != before:
                save_profiles(self.profiles, self.profiles_file)

    async def check_model(self) -> str | None:
        """A plain problem when the endpoint's model list lacks the model, else None.

        The model's entry is remembered, so a model swapped under the same name sends
        the tool-choice ladder back to the top.
        """
        entries = await self.client.model_entries()
        if entries is None:
            return None
        ids = [str(e["id"]) for e in entries]
        if not model_listed(self.model, ids):
            offered = ", ".join(ids[:12])
            return (
                f'llm: model "{self.model}" not found at {self.client.host}; available: {offered}'
            )
        entry = next(e for e in entries if model_listed(self.model, [str(e["id"])]))
        self.profile.saw_model(json.dumps(entry, sort_keys=True, default=str))
        return None

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
        room = budget - estimate_tokens(frame + tools) - max_tokens_for(ALL_TOOLS)
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
        summary = got.get(SUMMARY_TOOL)
        if not isinstance(summary, SummarizeArticle):
            raise AnalysisError(f"llm: no valid summary of part {scope.index}/{scope.total}")
        return summary

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
        for mode in LADDER[LADDER.index(self.profile.start_rung()) :]:
            if not task.missing or task.requests >= self.request_cap:
                break
            try:
                await self._run_mode(mode, task)
                rejected = False
            except LLMProblemError as exc:  # the server refused this rung: go down
                if exc.problem.kind not in ("unsupported", "tool_use_failed"):
                    raise
                rejected = True
            if task.got and not rejected:
                break  # the rung works; what is still missing after its re-asks stays missing
        if task.worked_mode:
            # The request mode that first gave a result: a "required" rung whose results
            # all came from its named re-asks is remembered as the named rung.
            self.profile.mode = task.worked_mode
        if SUMMARY_TOOL in task.missing and task.wrong_language is not None:
            task.got[SUMMARY_TOOL] = task.wrong_language  # asked once; better than nothing
        for name in task.missing & task.salvaged.keys():
            task.got[name] = task.salvaged[name]  # re-asked already; keep the valid parts
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
            before = len(task.got)
            seen, errors = self._accept(task, reply)
            if len(task.got) > before:
                task.worked_mode = task.worked_mode or mode
            cached = cached_tokens(exchange.body)
            self.calls.append(
                self._record(mode, exchange.latency_ms, reply, names, task, errors, cached)
            )
            if not errors:
                return
            if reply.finish_reason == "length":
                if task.shortened:
                    return  # cut off twice: keep what is valid
                task.shortened = True
            messages = messages + repair_messages(
                reply, seen, errors, mode not in TOOL_MODES, cut_off=reply.finish_reason == "length"
            )

    def _ask_again(self, task: _Task, exc: LLMProblemError, round_: int) -> bool:
        """After a refused request: True to retry in this conversation, False to end it.

        Raises to leave the rung (unsupported feature, context overflow) or the article.
        """
        problem = exc.problem
        if problem.status == 400 and self._token_param_fix(problem.message):
            return True
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

    def _token_param_fix(self, message: str) -> bool:
        """Switch to max_completion_tokens when the server asks for it (OpenAI's newer models)."""
        if "max_completion_tokens" not in message or self.profile.token_param != "max_tokens":
            return False
        self.profile.token_param = "max_completion_tokens"
        return True

    def _messages(self, mode: str, task: _Task, names: set[str]) -> list[dict[str, Any]]:
        """The opening messages of a conversation."""
        build = tool_messages if mode in TOOL_MODES else json_messages
        return build(self.article, task.text, names, task.scope)

    def _payload(
        self, mode: str, messages: list[dict[str, Any]], names: set[str], choice: Any
    ) -> dict[str, Any]:
        """The request body for one mode."""
        payload: dict[str, Any] = {"model": self.client.model, "messages": messages}
        payload[self.profile.token_param] = max_tokens_for(names)
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
                kept = salvage(call.name, call.arguments)
                if kept is not None:
                    task.salvaged[call.name] = kept  # the latest answered the error
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
        cached: int = 0,
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
            tokens_cached=cached,
        )

    def _analysis(self, got: dict[str, BaseModel], coverage: float, text: str) -> Analysis:
        """The Analysis, with offline tags (and saying so) when no tag_article call was valid."""
        fields, missing = analysis_fields(got, self.article, text)
        if missing:
            raise AnalysisError(f"llm: no valid {missing[0]} call after retries: {self._facts()}")
        summary = got[SUMMARY_TOOL]
        assert isinstance(summary, SummarizeArticle)  # analysis_fields checked it
        fields["language"] = self._summary_language(summary)  # the run's language policy
        return Analysis(
            **fields,
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
