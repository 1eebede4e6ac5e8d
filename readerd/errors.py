"""The exception tree. Every message starts with its subsystem.

ReaderdError         facts as constructor arguments: retryable=, retry_after= (seconds)
├── ConfigError      settings missing or contradictory
│   └── DataDirError     the data directory/database cannot be created or written
├── SourceError      a read-later service or export file failed
│   ├── SourceAuthError   401/403: credentials wrong, stop syncing
│   └── TransientError    429, 5xx, network: retried at once with backoff (sources.service_http)
├── FetchError       a page could not be fetched (network, limits, SSRF guard)
│   └── BlockedAddressError  the URL points at a private/loopback address
├── ExtractError     fetched bytes held no article text
│   └── UnsupportedContentError  not HTML, not PDF
├── AnalysisError    the analyser gave no valid result; calls= the LLM requests it made
│   ├── LLMUnavailableError  the endpoint/model is unusable; stop the stage
│   └── LLMOutageError   5xx, timeout, dropped connection: counts toward the breaker
├── StoreError       the database refused
├── LeaseLostError   another worker holds the link now: this worker's result is dropped
└── MailError        the digest could not be sent

Outside the tree, on purpose: `LLMProblemError` (analyze/openai/client.py) carries one classified
HTTP problem between the chat client and the conversation that decides what it means; it
never leaves analyze/, where it becomes an AnalysisError.

No code sets a fact on an exception after construction, and none reads one with getattr.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from readerd.results import LLMCall


class ReaderdError(Exception):
    """Base class of every error readerd raises on purpose.

    `retryable` (whether retrying the same item later can help) defaults per class;
    `retry_after` is how long the other side asked us to wait (a rate limit), if it said.
    """

    #: The class's default for `retryable`.
    retryable: bool = False

    def __init__(
        self, message: str = "", *, retryable: bool | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after


class ConfigError(ReaderdError):
    pass


class DataDirError(ConfigError):
    """Where READERD_DATA_DIR (or the database URL) points cannot hold a database."""


class SourceError(ReaderdError):
    retryable = True


class SourceAuthError(SourceError):
    retryable = False


class TransientError(SourceError):
    """429, 5xx or a network failure: retried at once with backoff, later by the daemon."""


class FetchError(ReaderdError):
    retryable = True


class BlockedAddressError(FetchError):
    retryable = False


class ExtractError(ReaderdError):
    pass


class UnsupportedContentError(ExtractError):
    pass


class AnalysisError(ReaderdError):
    """`calls`: the LLM requests made before the failure, for the call log."""

    retryable = True

    def __init__(
        self,
        message: str = "",
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        calls: Sequence[LLMCall] = (),
    ) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.calls: list[LLMCall] = list(calls)

    def with_calls(self, calls: Sequence[LLMCall]) -> AnalysisError:
        """The same error (same class, message and facts) carrying these LLM requests."""
        twin = type(self)(
            str(self), retryable=self.retryable, retry_after=self.retry_after, calls=calls
        )
        twin.__cause__ = self.__cause__
        return twin


class LLMUnavailableError(AnalysisError):
    pass


class LLMOutageError(AnalysisError):
    pass


class StoreError(ReaderdError):
    pass


class LeaseLostError(ReaderdError):
    """The link's lease expired and another worker claimed it: nothing of ours is written.

    Per item, unlike a StoreError: the database is fine and the run goes on.
    """

    retryable = False


class MailError(ReaderdError):
    retryable = True
