"""How every `strideguard` command group is built, so all help reads alike.

Plain (non-rich) help: paragraphs are reflowed to the terminal instead of keeping the
docstring's line breaks, flags show no `<bool>`, and a command list shows each command's whole
first sentence, wrapped, where click would cut it off with "...".
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from typer import _click as click  # typer ships its own click; its groups use these types
from typer.core import TyperGroup


def first_sentence(text: str) -> str:
    """The help's first sentence, on one line."""
    paragraph = " ".join(inspect.cleandoc(text).split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


class WholeSentenceGroup(TyperGroup):
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.short_help or first_sentence(command.help or "")))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def command_group(**options: Any) -> typer.Typer:
    """A `typer.Typer` with the shared help style; `options` as for `typer.Typer`."""
    options.setdefault("no_args_is_help", True)
    return typer.Typer(cls=WholeSentenceGroup, rich_markup_mode=None, **options)
