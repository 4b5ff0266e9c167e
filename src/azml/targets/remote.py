"""What the two AzureML targets show the same way (standard library only).

The v1 and v2 targets stay independent of each other; what they print alike lives
here: the ``curl`` request for a published endpoint, the log tail that
``azml logs --follow`` prints as logs grow, and following a run to its end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, TextIO


def curl_request(url: str, body: Mapping[str, Any], audience: str) -> str:
    """A ``curl`` command that POSTs ``body`` to ``url`` with a token from ``az`` for ``audience``.

    The token is fetched when the command runs, so no secret is ever printed.
    """
    return ("curl -X POST " + json.dumps(url) +
            ' -H "Authorization: Bearer $(az account get-access-token --resource '
            f'{audience} --query accessToken -o tsv)" -H "Content-Type: application/json" '
            f"-d '{json.dumps(dict(body))}'")


class LogTail:
    """Prints each log once from the start and then only what was added since.

    Like ``tail -f`` on several files, a log's header comes again whenever the output
    switches to it from another log, after a blank line, so that every part can be told
    apart while several logs grow at once. ``shown`` lists the log names printed, in the
    order they first appeared.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown: list[str] = []
        self._printed: dict[str, int] = {}
        self._last: str | None = None
        self._line_open = False

    def show(self, key: str, name: str, header: str, text: str) -> None:
        """Print what ``text`` (log ``name``, identified by ``key``) gained since last time;
        ``header`` goes before each part that follows another log's."""
        done = self._printed.get(key, 0)
        if not name or len(text) <= done:
            return
        if key not in self._printed:
            self.shown.append(name)
        if key != self._last:
            gap = ("\n" if self._line_open else "") + ("\n" if self._last is not None else "")
            self.out.write(gap + header + "\n")
            self._last = key
        part = text[done:]
        self.out.write(part)
        self.out.flush()
        self._line_open = not part.endswith("\n")
        self._printed[key] = len(text)


def follow(poll_status: Callable[[], str], final: Collection[str], label: str, out: TextIO, *,
           poll: float, timeout: float | None = None,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> str:
    """Call ``poll_status`` every ``poll`` seconds until it returns a state in ``final`` (or
    ``timeout`` seconds have passed), printing ``label: STATUS`` each time it changes; returns
    the last status."""
    deadline = None if timeout is None else clock() + timeout
    last = ""
    while True:
        status = poll_status()
        if status != last:
            print(f"{label}: {status}", file=out, flush=True)
            last = status
        if status in final or (deadline is not None and clock() >= deadline):
            return status
        sleep(poll)
