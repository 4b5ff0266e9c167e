"""Schedules as typed on the command line: a cron expression or an interval like ``1d``.

``--cron`` takes the five-field expression AzureML v2's ``CronTrigger`` takes (NCrontab:
minute, hour, day of month, month, day of week; ``*``, numbers, ``a-b`` ranges,
``*/n`` and ``a-b/n`` steps, comma lists, month and day names). azure-ai-ml sends the
text as it is and leaves checking to the service, so azml checks it here and a bad
expression is one line naming the field at fault, before any request.

``--every`` takes a count and a unit (``30m``, ``6h``, ``1d``, ``2w``), the
frequency/interval pair both SDKs' recurrences are built from.

AzureML v1's ``ScheduleRecurrence`` has no cron; :func:`v1_recurrence` maps the
expressions it can express exactly (fixed minutes and hours, every day or chosen week
days) and refuses the rest, saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from azml.errors import UsageError

#: (name, lowest, highest) of the five fields
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
          ("day of week", 0, 7))
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
WEEK_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
UNITS = {"m": "Minute", "min": "Minute", "h": "Hour", "d": "Day", "w": "Week"}
_PART = re.compile(r"(\*|\w+(?:-\w+)?)(?:/(\d+))?")
_EVERY = re.compile(r"\s*(\d+)\s*([a-z]+)\s*")


@dataclass(frozen=True)
class Cron:
    """A checked cron expression: its text and the values each field allows."""

    expression: str
    fields: tuple[frozenset[int], ...]
    wildcard: tuple[bool, ...]


@dataclass(frozen=True)
class Every:
    """A recurrence: ``frequency`` (Minute, Hour, Day, Week) and ``interval``."""

    frequency: str
    interval: int

    def __str__(self) -> str:
        return f"every {self.interval} {self.frequency.lower()}{'s' if self.interval != 1 else ''}"


def parse_cron(expression: str) -> Cron:
    """The checked expression; UsageError naming the field and what it expected."""
    parts = expression.split()
    if len(parts) != 5:
        raise UsageError(f"cron expression {expression!r}: expected 5 fields (minute hour "
                         f"day-of-month month day-of-week), got {len(parts)}")
    values = []
    for text, (name, low, high) in zip(parts, FIELDS):
        values.append(frozenset(_field(expression, text, name, low, high)))
    return Cron(expression.strip(), tuple(values), tuple(p == "*" for p in parts))


def parse_every(text: str) -> Every:
    """``"6h"`` -> Every("Hour", 6); UsageError for anything else."""
    match = _EVERY.fullmatch(text.lower())
    unit = UNITS.get(match.group(2)) if match else None
    if not match or unit is None or int(match.group(1)) < 1:
        raise UsageError(f"--every {text!r}: expected a count and a unit, such as 30m, 6h, 1d or 2w")
    return Every(unit, int(match.group(1)))


def v1_recurrence(cron: Cron) -> tuple[str, list[int], list[int], list[str]]:
    """``(frequency, hours, minutes, week_days)`` of the v1 recurrence firing as ``cron`` does.

    ScheduleRecurrence fires at every combination of its ``hours`` and ``minutes``,
    every day (frequency Day) or on chosen ``week_days`` (Week), so a cron expression
    with ``*`` for day of month and month maps exactly. Anything else does not.
    """
    minute, hour, _dom, _month, dow = cron.fields
    if not (cron.wildcard[2] and cron.wildcard[3]):
        raise UsageError(f"cron expression {cron.expression!r} has no AzureML v1 equivalent: v1's "
                         "ScheduleRecurrence has no cron and no days of the month or months (azml "
                         "maps 'MINUTES HOURS * * DAYS'); use --every, or --target azureml-v2 (a "
                         "JobSchedule with a CronTrigger)")
    if cron.wildcard[4] or {d % 7 for d in dow} == set(range(7)):
        return "Day", sorted(hour), sorted(minute), []
    return "Week", sorted(hour), sorted(minute), [WEEK_DAYS[d % 7] for d in sorted({d % 7 for d in dow})]


def _field(expression: str, text: str, name: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for item in text.split(","):
        match = _PART.fullmatch(item)
        if not match:
            raise _bad(expression, name, item, low, high)
        span, step = match.group(1), int(match.group(2) or 1)
        if step < 1:
            raise _bad(expression, name, item, low, high)
        if span == "*":
            first, last = low, high
        else:
            first_text, _, last_text = span.partition("-")
            first = _number(expression, name, first_text, low, high)
            last = _number(expression, name, last_text, low, high) if last_text else (
                high if match.group(2) else first)
            if last < first:
                raise UsageError(f"cron expression {expression!r}: {name} range {item!r} runs backwards")
        found.update(range(first, last + 1, step))
    return found


def _number(expression: str, name: str, text: str, low: int, high: int) -> int:
    names = MONTHS if name == "month" else DAYS if name == "day of week" else ()
    if text.upper() in names:
        return names.index(text.upper()) + (1 if name == "month" else 0)
    if not text.isdigit() or not low <= int(text) <= high:
        raise _bad(expression, name, text, low, high)
    return int(text)


def _bad(expression: str, name: str, text: str, low: int, high: int) -> UsageError:
    extra = " or JAN-DEC" if name == "month" else " or SUN-SAT" if name == "day of week" else ""
    return UsageError(f"cron expression {expression!r}: {name} {text!r} is not valid; expected "
                      f"*, a number {low}-{high}{extra}, a range a-b, a step */n, or a comma list")
