"""Keyset pagination shared by every list endpoint: a page resumes after the last
item it showed, named by (created_at, id), in an opaque cursor the client echoes."""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from webinar_contracts.errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EPOCH_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)
_CURSOR_TEXT = re.compile(r"(?P<millis>[0-9]{1,15})\.(?P<id>[0-9a-f]{24})")
_NOT_OURS = "cursor is not one this API gave out"


@dataclass(frozen=True)
class PagePosition:
    """Where the previous page stopped: its last item's creation time (to the
    millisecond, as MongoDB keeps it) and id (an ObjectId in hex)."""

    created_at: datetime
    id: str


def check_limit(limit: int, maximum: int) -> int:
    """`limit` when it is from 1 to `maximum`, else InvalidInput naming `limit`."""
    if not 1 <= limit <= maximum:
        raise InvalidInput(f"limit must be between 1 and {maximum}", field="limit")
    return limit


def encode_cursor(position: PagePosition) -> str:
    millis = (position.created_at - EPOCH) // timedelta(milliseconds=1)
    return base64.urlsafe_b64encode(f"{millis}.{position.id}".encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> PagePosition:
    """The position a cursor from a previous page names; InvalidInput for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(_NOT_OURS, field="cursor") from None
    found = _CURSOR_TEXT.fullmatch(text)
    if not found or int(found["millis"]) > MAX_EPOCH_MS:
        raise InvalidInput(_NOT_OURS, field="cursor")
    return PagePosition(created_at=EPOCH + timedelta(milliseconds=int(found["millis"])), id=found["id"])
