"""Circuit breaker for the LLM stage: analyses failing in a row on the endpoint stop the stage.

A server that answers 5xx, times out or drops connections fails every article the
same way; asking on costs each remaining article its retries and timeouts. After
THRESHOLD analyses in a row failed like that, the caller stops the LLM stage for
this run (items stay pending, fetching goes on) and the next run tries again.
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLD = 3


@dataclass
class CircuitBreaker:
    """Counts endpoint failures in a row; any analysis that gets through resets the count."""

    threshold: int = THRESHOLD
    failures: int = 0

    def success(self) -> None:
        """An analysis got an answer: start counting again."""
        self.failures = 0

    def failure(self, error: str) -> str | None:
        """Count one endpoint failure; the reason to stop the stage once the threshold is hit."""
        self.failures += 1
        if self.failures < self.threshold:
            return None
        return f"llm: {self.failures} analyses in a row failed on the endpoint (last: {error})"
