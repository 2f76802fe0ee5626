"""Times: records are stamped in UTC; people read and choose days and months in Beijing time.

The housing bureau's month (the monthly dispatch, 月调度) and its working days are China Standard
Time, so a record written at 2021-07-31T17:00Z belongs to August in a report. Everything stored is
an ISO 8601 UTC string with a fixed width ("2021-07-31T17:00:00.000000Z"), which sorts as text the
same way on both engines.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from ..errors import InvalidParameter

# Xuecheng District, Zaozhuang: China has one time zone and no daylight saving.
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def utc_iso(moment: dt.datetime | None = None) -> str:
    """A moment (default now) as the stored UTC text; naive datetimes are taken as UTC."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> dt.datetime:
    """Stored or ISO text (with Z or an offset; naive = UTC) -> an aware datetime."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def local_text(text: str | None) -> str:
    """A stored UTC time as Beijing time for a page: "2021-07-20 14:03"."""
    if not text:
        return ""
    return parse_utc(text).astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def local_day_start(day: str, parameter: str) -> str:
    """The UTC text of 00:00 Beijing time on a "YYYY-MM-DD" day; a 400 naming the parameter otherwise."""
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise InvalidParameter(f"{parameter} must be a date YYYY-MM-DD, got {day!r}", parameter=parameter) from None
    return utc_iso(dt.datetime.combine(date, dt.time(), LOCAL_ZONE))


def parse_month(text: str | None, parameter: str = "month") -> tuple[int, int]:
    """"2021-07" -> (2021, 7); the current Beijing month when empty; a 400 when malformed."""
    if not text:
        today = dt.datetime.now(LOCAL_ZONE)
        return today.year, today.month
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2100:
        raise InvalidParameter(f"{parameter} must be a month YYYY-MM (e.g. 2021-07), got {text!r}",
                               parameter=parameter)
    return int(match.group(1)), int(match.group(2))


def month_bounds(year: int, month: int) -> tuple[str, str]:
    """UTC texts of the first moment of a Beijing-time month and of the month after it."""
    start = dt.datetime(year, month, 1, tzinfo=LOCAL_ZONE)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=LOCAL_ZONE)
    return utc_iso(start), utc_iso(end)


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)
