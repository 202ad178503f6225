"""Hot reload of the clinician threshold file, with an audit trail in Redis.

The worker checks the file every ``interval_s``. A changed file that validates replaces
the running thresholds; one that does not is rejected, its errors logged, and the running
thresholds kept. Either way an entry is appended to the ``<prefix>:config:audit`` Stream:
``status`` (applied / rejected), ``changed_by``, ``change_note``, ``ts_ms``, ``sha256``,
``diff`` (unified diff against the running file) and ``error``.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import redis.asyncio as aioredis

from detectors.errors import ConfigError
from detectors.thresholds import Thresholds, parse_thresholds

__all__ = ["ThresholdsWatcher", "load_thresholds"]

log = logging.getLogger(__name__)


def load_thresholds(path: Path) -> tuple[Thresholds, str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the threshold file ({exc})") from None
    return parse_thresholds(text, str(path)), text


class ThresholdsWatcher:
    def __init__(self, path: Path, redis: aioredis.Redis, audit_key: str,
                 apply: Callable[[Thresholds], None]) -> None:
        self.path = path
        self._redis = redis
        self._key = audit_key
        self._apply = apply
        self.thresholds, self._text = load_thresholds(path)
        self._seen = self._digest(self._text)

    @staticmethod
    def _digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    async def record_start(self) -> None:
        await self._audit("loaded", self.thresholds, self._text, "", None)

    async def check(self) -> str | None:
        """Reload if the file changed. Returns ``applied``, ``rejected`` or None."""
        try:
            text = self.path.read_text()
        except OSError as exc:
            log.error("threshold file unreadable, keeping the running thresholds: %s", exc)
            return None
        digest = self._digest(text)
        if digest == self._seen:
            return None
        self._seen = digest
        diff = "".join(difflib.unified_diff(self._text.splitlines(True), text.splitlines(True),
                                            "running", "new"))
        try:
            new = parse_thresholds(text, str(self.path))
        except ConfigError as exc:
            log.error("threshold file rejected, keeping the running thresholds: %s", exc)
            await self._audit("rejected", None, text, diff, str(exc))
            return "rejected"
        self._apply(new)
        self.thresholds, self._text = new, text
        log.warning("thresholds reloaded from %s (changed by %s)", self.path, new.changed_by or "unknown")
        await self._audit("applied", new, text, diff, None)
        return "applied"

    async def _audit(self, status: str, t: Thresholds | None, text: str, diff: str, error: str | None) -> None:
        entry = {
            "status": status,
            "path": str(self.path),
            "changed_by": (t.changed_by if t else None) or "unknown",
            "change_note": (t.change_note if t else None) or "",
            "ts_ms": str(int(time.time() * 1000)),
            "sha256": self._digest(text),
            "diff": diff[-20_000:],
            "error": error or "",
        }
        try:
            await self._redis.xadd(self._key, entry, maxlen=10_000, approximate=True)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - the audit must not stop the reload itself
            log.error("could not write the threshold audit entry: %s", exc)
