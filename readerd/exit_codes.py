"""The exit codes of every `readerd` command, so cron jobs and scripts can tell what happened."""

from __future__ import annotations

OK = 0  # everything worked, or there was nothing to do
ITEMS_FAILED = 1  # the command ran, but some items failed (or a check failed, a lookup missed)
USAGE = 2  # configuration or usage: a bad setting or option, an unusable data directory
STAGE_STOPPED = 3  # a stage stopped: sync failed, the LLM stage or the store gave up mid-run
INTERRUPTED = 130  # Ctrl-C

EPILOG = (
    "Exit codes: 0 all fine or nothing to do; 1 some items failed; "
    "2 configuration or usage error; 3 a stage stopped (sync failed, LLM stage or "
    "database gave up)."
)


def for_process(*, failed: int, stopped: bool) -> int:
    """The code of a processing run: a stopped stage outranks failed items."""
    if stopped:
        return STAGE_STOPPED
    return ITEMS_FAILED if failed else OK
