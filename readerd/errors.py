"""The exception tree. Every message starts with its subsystem.

ReaderdError
├── ConfigError      settings missing or contradictory
├── SourceError      a read-later service or export file failed
│   └── SourceAuthError   401/403: credentials wrong, stop syncing
├── FetchError       a page could not be fetched (network, limits, SSRF guard)
│   └── BlockedAddressError  the URL points at a private/loopback address
├── ExtractError     fetched bytes held no article text
│   └── UnsupportedContentError  not HTML, not PDF
├── AnalysisError    the analyser gave no valid result
│   ├── LLMUnavailableError  the endpoint/model is unusable; stop the stage
│   └── LLMOutageError   5xx, timeout, dropped connection: counts toward the breaker
├── StoreError       the database refused
└── MailError        the digest could not be sent
"""


class ReaderdError(Exception):
    """Base class of every error readerd raises on purpose."""

    #: Whether retrying the same item later can help.
    retryable: bool = False


class ConfigError(ReaderdError):
    pass


class SourceError(ReaderdError):
    retryable = True


class SourceAuthError(SourceError):
    retryable = False


class FetchError(ReaderdError):
    retryable = True


class BlockedAddressError(FetchError):
    retryable = False


class ExtractError(ReaderdError):
    pass


class UnsupportedContentError(ExtractError):
    pass


class AnalysisError(ReaderdError):
    retryable = True


class LLMUnavailableError(AnalysisError):
    pass


class LLMOutageError(AnalysisError):
    pass


class StoreError(ReaderdError):
    pass


class MailError(ReaderdError):
    retryable = True
