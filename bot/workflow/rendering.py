"""Rendering replies from Jinja2 templates, in the requester's language.

Undefined variables are errors (a reply with a hole in it must never reach anyone). Staff
may point `[templates] directory` at their own folder: a file there overrides the built-in
one of the same name, file by file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError

from bot.config import OrganisationSettings
from bot.errors import NoxbotError
from bot.rules.deadlines import MONTH_NAMES
from bot.store.register import as_written

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LANGUAGES = ("sv", "en")


class TemplateProblem(NoxbotError):
    """A template that is missing or cannot be rendered; names the template and why."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


def humanjoin(items: list[str], language: str) -> str:
    """'a', 'a och b', 'a, b och c' — how a person lists things."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    word = "och" if language == "sv" else "and"
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def longdate(value: date, language: str) -> str:
    return f"{value.day} {MONTH_NAMES[language][value.month - 1]} {value.year}"


def as_sentence(value: object) -> str:
    """Text staff typed (a reason for the person), as one or more sentences: its first
    letter a capital and a full stop at its end unless it ends with one already."""
    text = " ".join(str(value).split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


#: The supervisory authority as configured by default, and as an English letter names it.
_IMY_IN_SWEDISH = "Integritetsskyddsmyndigheten (IMY), imy.se"
_IMY_IN_ENGLISH = "the Swedish Authority for Privacy Protection (IMY), imy.se"


class Drafter:
    """Renders `templates/<lang>/<name>` with the variables every template may rely on."""

    def __init__(self, organisation: OrganisationSettings, override_dir: str | Path | None = None):
        self.organisation = organisation
        if override_dir is not None and not Path(override_dir).is_dir():
            # Silently drafting from the built-in templates would hide the mistake.
            raise TemplateProblem(
                f"[templates] directory = {str(override_dir)!r}: no such folder; expected a "
                "folder with sv/ and en/ templates"
            )
        self._environments: dict[str, Environment] = {}
        for language in LANGUAGES:
            loaders = []
            if override_dir is not None:
                loaders.append(FileSystemLoader(str(Path(override_dir) / language)))
            loaders.append(FileSystemLoader(str(BUILTIN_TEMPLATES / language)))
            env = Environment(
                loader=ChoiceLoader(loaders),
                undefined=StrictUndefined,
                autoescape=False,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
            )
            env.filters["longdate"] = lambda value, _lang=language: longdate(value, _lang)
            env.filters["humanjoin"] = lambda items, _lang=language: humanjoin(items, _lang)
            # Staff's reason as sentences of its own, however they typed it ("vi måste …",
            # "Vi måste ….", "The request is …").
            env.filters["sentence"] = as_sentence
            env.filters["as_written"] = lambda value, field, _lang=language: as_written(
                value, field, _lang
            )
            self._environments[language] = env

    def render_text(self, template: str, language: str, **context: Any) -> str:
        """The template's whole output (for sections composed into a reply)."""
        env = self._environments.get(language) or self._environments["sv"]
        org = self.organisation
        if language == "en" and org.supervisory_authority == _IMY_IN_SWEDISH:
            # The access reply's Art. 15 facts name IMY in English; so does every letter.
            org = org.model_copy(update={"supervisory_authority": _IMY_IN_ENGLISH})
        try:
            return env.get_template(template).render(org=org, language=language, **context)
        except TemplateError as exc:
            raise TemplateProblem(f"template {language}/{template}: {exc}") from exc

    def render(self, template: str, language: str, **context: Any) -> Rendered:
        """A message: the first line `Subject: …` becomes the subject, the rest the text."""
        output = self.render_text(template, language, **context)
        first, _, rest = output.partition("\n")
        if not first.startswith("Subject:"):
            raise TemplateProblem(f"template {language}/{template} must start with 'Subject: …'")
        return Rendered(subject=first.removeprefix("Subject:").strip(), text=rest.lstrip("\n"))
