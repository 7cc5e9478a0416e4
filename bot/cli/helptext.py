"""How `--help` reads: click's plain layout (text wraps between words, never inside one, at
the terminal's width up to 80), with metavars a person reads as what to type — `--from
TEXT`, `-c, --config FILE`, `--format [text|json]`, `REFERENCE`, `PATH...` — instead of
typer's Python types (`<str>`, `<list[Path]>`, `<bool>` on a flag).

Every command and group of the CLI is made with `NoxTyper`, which uses these classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperCommand, TyperGroup

#: Metavars by the annotation typer keeps for a parameter.
_METAVARS: dict[Any, str] = {str: "TEXT", int: "N", float: "NUMBER", Path: "FILE"}


def metavar(param: click.Parameter) -> str:
    """What to type for `param`: its own metavar if it has one, else its choices, else a
    word for its type; an argument is its name in capitals."""
    if param.metavar:
        return param.metavar
    if param.param_type_name == "argument":
        word = (param.name or "value").upper()
    else:
        descriptor = getattr(param, "type_descriptor", None)
        word = "TEXT"
        if descriptor is not None and descriptor.is_choice and descriptor.choices:
            values = [str(getattr(c, "value", c)) for c in descriptor.choices]
            word = "[" + "|".join(values) + "]"
        elif descriptor is not None:
            annotation = descriptor.annotation
            if descriptor.is_list:
                annotation = getattr(annotation, "__args__", (str,))[0]
            word = _METAVARS.get(annotation, "TEXT")
    return word + ("..." if param.nargs == -1 else "")


def _label(param: click.Parameter) -> str:
    """The left column of a parameter's line in --help."""
    if param.param_type_name == "argument":
        return metavar(param)
    names, _ = click.formatting.join_options(param.opts)
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return names
    return f"{names} {metavar(param)}"


def plain(text: str) -> str:
    """Help text as written: docstrings escape a section name for Rich ("\\[deadlines]")."""
    return text.replace("\\[", "[")


#: A full stop that ends no sentence: "Art. 12(3)", "e.g. phone".
_ABBREVIATIONS = ("Art.", "e.g.", "i.e.", "cf.")


def short_help(text: str, limit: int) -> str:
    """A command's line in its group's list: its first sentence ("Art. 12(3)" does not end
    one), cut between words with "..." when longer than `limit`."""
    words: list[str] = []
    for word in plain(text).split("\n\n")[0].split():
        words.append(word)
        if word.endswith(".") and word.lstrip("(") not in _ABBREVIATIONS:
            break
    line = " ".join(words)
    if len(line) <= limit:
        return line
    cut = line[: limit - 3].rsplit(" ", 1)[0]
    return cut.rstrip(",;:(.") + "..."


def _format_parameters(
    command: click.Command, ctx: click.Context, out: click.HelpFormatter
) -> None:
    arguments, options = [], []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        row = (_label(param), plain(record[1]))
        (arguments if param.param_type_name == "argument" else options).append(row)
    if arguments:
        with out.section("Arguments"):
            out.write_dl(arguments)
    if options:
        with out.section("Options"):
            out.write_dl(options)


def _usage(command: click.Command, ctx: click.Context) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            word = metavar(param)
            pieces.append(word if param.required else f"[{word}]")
    return pieces


class _PlainHelp:
    """What a command and a group share in --help: their text as written, metavars."""

    help: str | None
    short_help: str | None

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.help:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(plain(self.help))

    def get_short_help_str(self, limit: int = 45) -> str:
        return plain(self.short_help) if self.short_help else short_help(self.help or "", limit)


class NoxCommand(_PlainHelp, TyperCommand):
    """A command whose --help shows metavars, not Python types."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_parameters(self, ctx, formatter)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return _usage(self, ctx)


class NoxGroup(_PlainHelp, TyperGroup):
    """A group of commands whose --help shows metavars, not Python types."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_parameters(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [*_usage(self, ctx), self.subcommand_metavar]


class NoxTyper(typer.Typer):
    """typer.Typer with plain, word-wrapped --help (no Rich boxes, which fold a long
    choice list mid-word at 80 columns) and metavars for every command."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", NoxGroup)
        kwargs.setdefault("rich_markup_mode", None)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", NoxCommand)
        return super().command(*args, **kwargs)

    def callback(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", NoxGroup)
        return super().callback(*args, **kwargs)
