"""Human-readable dates in many formats → ISO dates (``"Tuesday, 3rd of March 2021"`` →
``"2021-03-03"``).

Dates are drawn uniformly from 1950-01-01 to 2049-12-31, so a two-digit year is unambiguous:
``00``–``49`` mean 2000–2049 and ``50``–``99`` mean 1950–1999. All-numeric formats put the
day before the month (``03/04/21`` is the 3rd of April), except the year-first ones.
"""

from __future__ import annotations

import datetime
import random
import string

from attention_lab.tasks.task import Seq2SeqTask

FIRST_DAY = datetime.date(1950, 1, 1)
LAST_DAY = datetime.date(2049, 12, 31)


def ordinal(day: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th`` … ``11th``, ``12th``, ``13th`` … ``21st``."""
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# Spelled out rather than taken from strftime, whose names follow the machine's locale.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _month(d: datetime.date) -> str:
    return MONTHS[d.month - 1]


def _mon(d: datetime.date) -> str:
    return _month(d)[:3]


def _weekday(d: datetime.date) -> str:
    return WEEKDAYS[d.weekday()]


# Each format writes a date one way; the year is always the last digits of the source except
# in the year-first formats.
FORMATS = (
    lambda d: f"{_weekday(d)}, {ordinal(d.day)} of {_month(d)} {d.year}",
    lambda d: f"{d.day} {_month(d)} {d.year}",
    lambda d: f"{_month(d).lower()} {d.day} {d.year}",
    lambda d: f"{_month(d)} {d.day}, {d.year}",
    lambda d: f"{_month(d).upper()} {d.day}, {d.year}",
    lambda d: f"{_mon(d)} {d.day} {d.year}",
    lambda d: f"{d.day} {_mon(d)} {d.year}",
    lambda d: f"{_weekday(d)[:3]} {d.day} {_mon(d)} {d.year}",
    lambda d: f"{_weekday(d)} {_month(d)} {d.day} {d.year}",
    lambda d: f"{ordinal(d.day)} {_month(d).lower()} {d.year}",
    lambda d: f"the {ordinal(d.day)} of {_month(d)}, {d.year}",
    lambda d: f"{d.day}-{_mon(d).upper()}-{d.year % 100:02d}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"{d.day}.{d.month}.{d.year}",
    lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
)


def generate(rng: random.Random) -> tuple[str, str]:
    """One ``(human-readable date, ISO date)`` pair in a randomly chosen format."""
    date = FIRST_DAY + datetime.timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
    return rng.choice(FORMATS)(date), date.isoformat()


DATES = Seq2SeqTask(
    name="dates",
    description="human-readable dates in 17 formats -> ISO YYYY-MM-DD",
    source_alphabet=" ,-./" + string.digits + string.ascii_letters,
    target_alphabet="-" + string.digits,
    max_source_len=40,
    max_target_len=10,
    generate=generate,
)
