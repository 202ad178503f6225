"""Ingest: turn the bytes a device gateway sent into a validated :class:`Reading`.

This is the one place input is validated. Anything that cannot become a reading
raises :class:`~detectors.errors.InvalidReading` with a stable ``code`` (the
dead-letter reason) and a message naming the field and the offending value.

Reason codes
------------
``empty_message``, ``invalid_json``, ``not_an_object``, ``missing_field``,
``unknown_unit``, ``unknown_field``, ``impossible_value``, ``invalid_type``, ``no_vitals``,
``invalid_reading`` (any other schema failure).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from detectors.errors import InvalidReading
from detectors.schemas import VITAL_STEMS, Reading

__all__ = ["decode_reading"]

_MAX_MESSAGE_BYTES = 64 * 1024


def decode_reading(raw: bytes | None) -> Reading:
    """Parse and validate one native JSON device message.

    Examples
    --------
    >>> decode_reading(b"")
    Traceback (most recent call last):
    ...
    detectors.errors.InvalidReading: empty_message: the message has no bytes
    """
    if raw is None or not raw.strip():
        raise InvalidReading("empty_message", "the message has no bytes")
    if len(raw) > _MAX_MESSAGE_BYTES:
        raise InvalidReading(
            "invalid_reading", f"message of {len(raw)} bytes exceeds {_MAX_MESSAGE_BYTES}"
        )
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidReading("invalid_json", f"not valid UTF-8 JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InvalidReading("not_an_object", f"expected a JSON object, got {type(doc).__name__}")
    try:
        # Validate from the JSON text so that strict mode follows JSON types
        # (an integer is a valid float, a string never is).
        return Reading.model_validate_json(raw)
    except ValidationError as exc:
        raise _explain(exc, doc) from None


def _explain(exc: ValidationError, doc: dict[str, Any]) -> InvalidReading:
    """Map pydantic's error list to one reason code and a readable message."""
    parts: list[str] = []
    codes: list[str] = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        value = err.get("input")
        if kind == "missing":
            codes.append("missing_field")
            parts.append(f"{loc}: required field is missing")
        elif kind == "extra_forbidden":
            name = str(err["loc"][-1])
            expected = _field_for_unknown_name(name) if err["loc"][0] == "vitals" else None
            if expected is not None:
                codes.append("unknown_unit")
                parts.append(f"{loc}={value!r}: unknown unit; this vital is accepted as '{expected}'")
            else:
                codes.append("unknown_field")
                parts.append(f"{loc}: unknown field")
        elif kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
            codes.append("impossible_value")
            parts.append(f"{loc}={value!r}: {err['msg'].lower()} (impossible value)")
        elif kind in {"finite_number"}:
            codes.append("impossible_value")
            parts.append(f"{loc}={value!r}: must be a finite number")
        elif kind.endswith("_type") or kind.endswith("_parsing") or kind == "literal_error":
            codes.append("invalid_type")
            parts.append(f"{loc}={value!r}: {err['msg']}")
        elif kind == "value_error" and "admitted before being measured" in err["msg"]:
            codes.append("impossible_value")
            parts.append(f"{err['msg'].removeprefix('Value error, ')} (impossible value)")
        elif kind == "value_error" and "at least one vital" in err["msg"]:
            codes.append("no_vitals")
            parts.append(f"{loc}: a reading needs at least one vital value")
        else:
            codes.append("invalid_reading")
            parts.append(f"{loc or 'message'}: {err['msg']}")
    # The most specific failure names the message; every failure is listed.
    order = ["missing_field", "unknown_unit", "impossible_value", "invalid_type", "unknown_field", "no_vitals"]
    code = next((c for c in order if c in codes), codes[0] if codes else "invalid_reading")
    return InvalidReading(code, "; ".join(parts))


def _field_for_unknown_name(name: str) -> str | None:
    """``temp_f`` → ``temp_c``: the accepted field for a vital sent in another unit."""
    lowered = name.lower()
    for stem in sorted(VITAL_STEMS, key=len, reverse=True):
        if lowered == stem or lowered.startswith(stem + "_"):
            return VITAL_STEMS[stem]
    return None
