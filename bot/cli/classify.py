"""`noxbot classify`: what the classifier makes of .eml files (email) and text files (chat)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from bot.cli.app import ConfigOption, app, console
from bot.cli.output import Column, print_table
from bot.config import load_settings
from bot.reading.automated import detect_automated
from bot.reading.classifier import Classification, classify
from bot.reading.language import detect_language
from bot.reading.mail import MalformedEmail, parse_email
from bot.reading.safe_text import printable_json
from bot.rules.kinds import RequestKind
from bot.workflow.words import name_words


class ClassifyFormat(StrEnum):
    TEXT = "text"
    JSONL = "jsonl"


@dataclass(frozen=True)
class FileResult:
    path: str
    result: dict[str, Any]


def classify_email_bytes(raw: bytes) -> Classification:
    """Classify one RFC 822 message; auto-replies, bounces and lists are `none` by header."""
    parsed = parse_email(raw)
    automated = detect_automated(parsed.headers, content_type=parsed.content_type)
    if automated is not None:
        return Classification(
            kinds=(RequestKind.NONE,),
            language=detect_language(f"{parsed.subject}\n{parsed.text}"),
            confidence=0.99,
            evidence=(automated.reason,),
        )
    return classify(parsed.body, subject=parsed.subject, channel="email")


def classify_path(path: Path) -> FileResult:
    """One input file → its result object, or an object with "error"; never raises."""
    try:
        raw = path.read_bytes()
        if path.suffix.lower() == ".eml":
            result = classify_email_bytes(raw)
        else:
            result = classify(raw.decode("utf-8"), channel="chat")
    except IsADirectoryError:
        return FileResult(str(path), {"path": str(path), "error": "is a directory"})
    except FileNotFoundError:
        return FileResult(str(path), {"path": str(path), "error": "no such file"})
    except PermissionError:
        return FileResult(str(path), {"path": str(path), "error": "permission denied"})
    except UnicodeDecodeError as exc:
        error = f"not UTF-8 text (byte {exc.start}); chat messages must be UTF-8"
        return FileResult(str(path), {"path": str(path), "error": error})
    except MalformedEmail as exc:
        return FileResult(str(path), {"path": str(path), "error": f"not an email: {exc}"})
    except OSError as exc:
        return FileResult(str(path), {"path": str(path), "error": exc.strerror or str(exc)})
    return FileResult(str(path), {"path": str(path), **result.to_json()})


@app.command("classify", short_help="Which rights messages ask for, and how sure it is.")
def classify_command(
    paths: Annotated[list[Path], typer.Argument(help=".eml files (email) or UTF-8 text (chat).")],
    output_format: Annotated[
        ClassifyFormat,
        typer.Option("--format", help="text: a table; jsonl: one JSON object per input, in order."),
    ] = ClassifyFormat.TEXT,
    config: ConfigOption = None,
) -> None:
    """Classify messages: which rights they ask for, in which language, and why (a
    confidence under the config's [classifier] triage_threshold is marked "to triage")."""
    if output_format is ClassifyFormat.JSONL:
        for path in paths:
            line = printable_json(json.dumps(classify_path(path).result, ensure_ascii=False))
            typer.echo(line)
        return
    columns = (
        Column("file", key=True),
        Column("kinds", whole_lines=True),
        Column("lang"),
        Column("conf."),
        Column("evidence"),
    )
    threshold = load_settings(config).classifier.triage_threshold
    rows = []
    for path in paths:
        result = classify_path(path).result
        if "error" in result:
            rows.append((str(path), Text(f"error: {result['error']}", style="red"), "", "", ""))
            continue
        confidence = result["confidence"]
        unsure = "\nto triage" if confidence < threshold else ""
        rows.append(
            (
                str(path),
                "\n".join(name_words(k) for k in result["kinds"]),
                result["language"],
                f"{confidence:.2f}{unsure}",
                "; ".join(result["evidence"]),
            )
        )
    print_table(console, columns, rows)
    if any(str(row[3]).endswith("to triage") for row in rows):
        console.print(
            f"to triage: a confidence under {threshold} ([classifier] triage_threshold): "
            "staff would choose the kinds."
        )
