"""Printing the check: one green/yellow/red line per result with its fix, or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from telephony.pbx_check.results import CheckResult, Status, exit_status

_STYLE = {
    Status.OK: ("green", "OK  "),
    Status.WARN: ("yellow", "WARN"),
    Status.FAIL: ("red", "FAIL"),
}


def print_results(results: Sequence[CheckResult], console: Console) -> None:
    for result in results:
        colour, word = _STYLE[result.status]
        console.print(
            f"[bold {colour}]{word}[/] [bold]{escape(result.check)}[/]  {escape(result.found)}",
            highlight=False,
            soft_wrap=True,
        )
        if result.fix and result.status is not Status.OK:
            console.print(
                f"     [{colour}]fix:[/] {escape(result.fix)}", highlight=False, soft_wrap=True
            )
    failed = sum(r.status is Status.FAIL for r in results)
    warned = sum(r.status is Status.WARN for r in results)
    summary = f"{len(results)} checks: {failed} failed, {warned} warnings"
    console.print(f"[bold {'red' if failed else 'green'}]{summary}[/]", highlight=False)


def results_json(results: Sequence[CheckResult]) -> str:
    return json.dumps(
        {"exit_status": exit_status(results), "results": [r.as_json() for r in results]},
        ensure_ascii=False,
        indent=2,
    )
