"""Settings: TOML file → typed, validated values; secrets come from environment variables.

Where the file is found: `-c FILE`, else `$NOXBOT_CONFIG`, else `./config.toml`, else the
built-in defaults of the embedded mode (SQLite, no accounts). A mistake gives one line that
names the key, the value and what was expected (`ConfigError`), never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, unquote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from bot.errors import NoxbotError

CONFIG_ENV = "NOXBOT_CONFIG"
DEFAULT_CONFIG_PATH = Path("config.toml")
PUBLIC_TELEGRAM_API = "https://api.telegram.org/bot"


class ConfigError(NoxbotError):
    """A config file that cannot be used; the message is one line for the person who wrote it."""


class _Section(BaseModel):
    # strict: TOML has real types, so "587" for a port or "yes" for a flag is a mistake to
    # name, not a value to guess at.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class OrganisationSettings(_Section):
    name: str = "NOX Consulting AB"
    email: str = "info@noxconsulting.se"
    website: str = "www.noxconsulting.se"
    supervisory_authority: str = "Integritetsskyddsmyndigheten (IMY), imy.se"
    timezone: str = "Europe/Stockholm"
    #: Who signs replies (a name or a role); none: replies are signed with the name above.
    signatory: str | None = None
    #: A phone number people may call; none: no reply ever suggests phoning.
    phone: str | None = None
    #: Postal address, shown under the signature (a multi-line TOML string keeps its lines).
    postal_address: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("an IANA time zone name such as 'Europe/Stockholm'") from exc
        return value


# A URL's password as SQLAlchemy reads it (user, then ":password@"), and one given as a query
# parameter (libpq reads "?password=").
# (To the URL's last @: a password with an @ not written %40 is masked whole.)
_URL_PASSWORD = re.compile(r"^(?P<head>[\w+]+://[^:/@]*):(?P<password>.*)@(?=[^@]*$)")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:ssl)?password=)(?P<password>[^&#]*)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL as it may be shown: any password in it as ***, read or not by SQLAlchemy."""
    url = _URL_PASSWORD.sub(r"\g<head>:***@", url, count=1)
    return _QUERY_PASSWORD.sub(r"\g<head>***", url)


#: A password shorter than this is masked only where it stands alone (not inside a word):
#: a password "nox" masked everywhere made "noxbot" "***bot", and "p" every p of a message.
_MASKED_INSIDE_WORDS_FROM = 8


def without_passwords(text: str, url: str) -> str:
    """A driver's message about `url` with the URL's passwords (as written and %-decoded)
    replaced by ***: a message may quote what it could not use."""
    matches = [_URL_PASSWORD.match(url), *_QUERY_PASSWORD.finditer(url)]
    written = {m["password"] for m in matches if m and m["password"]}
    decoded = {unquote(w) for w in written} | {unquote_plus(w) for w in written}
    for password in sorted(written | decoded, key=len, reverse=True):
        if len(password) >= _MASKED_INSIDE_WORDS_FROM:
            text = text.replace(password, "***")
        else:
            alone = rf"(?<![^\W_]){re.escape(password)}(?![^\W_])"
            text = re.sub(alone, "***", text)
    return text


def readable_url(value: str, example: str) -> str:
    """`value` when SQLAlchemy reads it as written. An @ in a password not written %40 ends
    the password there, and the rest of it became part of the host name, which a driver's
    error then quotes: refused, as a port that is no number is (the library's words might
    hold the password, so ours are given)."""
    try:
        host = make_url(value).host or ""
    except Exception:
        host = "@"
    if "@" in host:
        raise ValueError(
            f"a URL such as {example}; this one cannot be read (a port must be a number; "
            "an @ in the password is written %40)"
        )
    return value


class DatabaseSettings(_Section):
    url: str = "sqlite:///noxbot.db"

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("a URL starting with sqlite:// or postgresql://")
        return readable_url(value, "postgresql://user@host:5432/noxbot")


TlsMode = Literal["ssl", "starttls", "none"]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_name(value: str) -> str:
    # A secret pasted here instead of a variable's name must not be echoed back anywhere.
    if not _ENV_NAME.match(value):
        raise ValueError(
            "the name of an environment variable that holds the secret (letters, digits and "
            "_, such as NOXBOT_SECRET), not the secret itself"
        )
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]


class ImapSettings(_Section):
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    tls: Literal["ssl", "none"] = "ssl"
    username: str
    password_env: EnvName = "NOXBOT_IMAP_PASSWORD"
    mailbox: str = "INBOX"
    idle: bool = True
    poll_seconds: float = Field(default=60.0, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    #: On the first start, or when the mailbox's UIDVALIDITY changes, only mail that arrived
    #: this many days before is read: what is older was handled before noxbot.
    backlog_days: int = Field(default=7, ge=0)

    @field_validator("tls", mode="before")
    @classmethod
    def _no_imap_starttls(cls, value: object) -> object:
        if value == "starttls":
            raise ValueError(
                "'ssl' (port 993) or 'none'; STARTTLS is not supported for IMAP, use 'ssl'"
            )
        return value


class SmtpSettings(_Section):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    tls: TlsMode = "starttls"
    username: str | None = None
    password_env: EnvName = "NOXBOT_SMTP_PASSWORD"
    from_address: str = "info@noxconsulting.se"
    timeout_seconds: float = Field(default=30.0, gt=0)


class TelegramSettings(_Section):
    token_env: EnvName = "NOXBOT_TELEGRAM_TOKEN"
    base_url: str = PUBLIC_TELEGRAM_API

    @field_validator("base_url")
    @classmethod
    def _bot_api_url(cls, value: str) -> str:
        # The token is appended to this URL: anything but ".../bot" would put it where
        # error messages show it (a port, a host name).
        if not value.startswith(("https://", "http://")) or not value.endswith("/bot"):
            raise ValueError("an http(s) URL ending in /bot, like https://api.telegram.org/bot")
        return value

    staff_chat_id: int | None = None
    staff_user_ids: list[int] = Field(default_factory=list)
    poll_timeout_seconds: int = Field(default=30, ge=0, le=50)
    #: The language of what the staff chat is shown (cards, buttons, answers).
    staff_language: Literal["sv", "en"] = "sv"


class VerificationSettings(_Section):
    code_ttl_hours: float = Field(default=72.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    secret_env: EnvName = "NOXBOT_VERIFICATION_SECRET"
    #: Send the acknowledgement of a request that needs verification at once, without
    #: approval: its words are the same for everyone and hold no personal data.
    acknowledge_at_once: bool = True


class RetentionSettings(_Section):
    closed_request_days: int = Field(default=365 * 3, ge=1)
    unrelated_message_days: int = Field(default=30, ge=1)


class DeadlineSettings(_Section):
    internal_target_days: int = Field(default=14, ge=1, le=30)
    remind_days_before: list[int] = Field(default_factory=lambda: [7, 2, 0])


class ClassifierSettings(_Section):
    triage_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    #: Longest time parsing one mail of 64 KB or more may take (bot.runtime.mail_reader);
    #: a mail that takes longer is kept raw for staff and the watcher goes on.
    budget_seconds: float = Field(default=5.0, gt=0, le=600)


class DocumentsSource(_Section):
    """A folder of CVs and profiles (PDF, DOCX, ODT, plain text), searched file by file."""

    type: Literal["documents"]
    name: str
    folder: str
    #: The records-of-processing category its files belong to.
    category: str = "documents"
    #: What an approved erasure does with a matching file: "move" it to `holding_folder`
    #: (kept out of use, for staff to dispose of) or "delete" it.
    erase: Literal["move", "delete"] = "move"
    holding_folder: str | None = None
    #: Largest file read, in bytes: a bigger one is reported on the case, never read whole.
    max_bytes: int = Field(default=20_000_000, ge=1)

    def model_post_init(self, context: Any, /) -> None:
        if self.erase == "move" and not self.holding_folder:
            raise ValueError(
                f"[[sources]] {self.name}: erase = 'move' needs holding_folder "
                "(or erase = 'delete')"
            )


class MailboxSource(_Section):
    """Folders of the [imap] mailbox, searched on the server for the person's addresses."""

    type: Literal["mailbox"]
    name: str
    folders: list[str] = Field(default_factory=lambda: ["INBOX"])
    category: str = "correspondence"
    #: Where an approved erasure moves the person's mail (created if missing).
    erase_folder: str = "Raderat-GDPR"


class MaildirSource(_Section):
    """A mail archive on disk in Maildir format, searched like the mailbox."""

    type: Literal["maildir"]
    name: str
    path: str
    category: str = "correspondence"
    #: The Maildir an approved erasure moves the person's mail into (created if missing).
    erase_folder: str


#: The register fields an approved rectification changes (handlers.rectification.EDITABLE):
#: what an SQL table's `update` statements are keyed by.
RECTIFIABLE_FIELDS = ("name", "company", "org_number", "phone", "email")


class SqlTable(_Section):
    """One table's statements. They bind :name, :emails and :phones (lists), never format
    them in; `erase`, `update` and `restrict` run once per row found, with the row's `key`
    column bound (`update` also binds :new and :old, the approved change's values)."""

    label: str
    lookup: str
    erase: str | None = None
    #: Per register field, the statement an approved rectification of that field runs.
    update: dict[str, str] = Field(default_factory=dict)
    #: The statement an approved restriction (Art. 18) runs, e.g. setting a flag column.
    restrict: str | None = None
    #: The row column that identifies a row (bound by that name into erase).
    key: str = "id"
    #: The columns shown in the access reply (default: all that lookup returns).
    show: list[str] = Field(default_factory=list)

    @field_validator("update")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = [name for name in value if name not in RECTIFIABLE_FIELDS]
        if unknown:
            raise ValueError(
                f"update keys among {', '.join(RECTIFIABLE_FIELDS)} (not {', '.join(unknown)})"
            )
        return value


class SqlSource(_Section):
    """A database reachable by an SQLAlchemy URL, with statements declared per table."""

    type: Literal["sql"]
    name: str
    url: str
    category: str = "profile"

    @field_validator("url")
    @classmethod
    def _readable_url(cls, value: str) -> str:
        return readable_url(value, "postgresql://user@host:5432/crm")

    tables: list[SqlTable] = Field(default_factory=list)
    #: A SELECT returning person, recipient, recipient_email, date, what: who received whose
    #: data, read by `noxbot disclosures import --source NAME`.
    disclosures: str | None = None


class ManualSource(_Section):
    """A system noxbot cannot reach: a checklist item on each case staff tick off."""

    type: Literal["manual"]
    name: str
    #: What staff must do there (the same words for access and erasure cases).
    task: str


SourceSettings = Annotated[
    DocumentsSource | MailboxSource | MaildirSource | SqlSource | ManualSource,
    Field(discriminator="type"),
]


class ProcessingSettings(_Section):
    #: The records-of-processing TOML file the DPO edits (README: "Records of processing");
    #: none: the shipped default written from NOX's privacy policy.
    records: str | None = None


class TemplateSettings(_Section):
    directory: str | None = None


def console_url(host: str, port: int) -> str:
    """The address a browser opens for a console listening on host:port: one listening on
    every address (0.0.0.0, ::) is reached on this machine at 127.0.0.1; an IPv6 address
    is bracketed."""
    bare = host.strip().removeprefix("[").removesuffix("]")
    address, _, zone = bare.partition("%")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a host name
        return f"http://{bare or '127.0.0.1'}:{port}"
    if ip.is_unspecified:
        return f"http://127.0.0.1:{port}"
    if ip.version == 6:
        return f"http://[{address}{'%25' + zone if zone else ''}]:{port}"
    return f"http://{address}:{port}"


class WebSettings(_Section):
    """The staff console (bot.web): where it listens and how long a login lasts. It listens
    on the loopback address by default; put a TLS reverse proxy in front to reach it from
    elsewhere (README)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8470, ge=1, le=65535)
    #: The address staff open (the one-time setup links printed by `noxbot staff add`).
    #: Unless set, it follows host and port (`console_url`), so the link reaches the console.
    base_url: str = "http://127.0.0.1:8470"
    session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)
    setup_link_hours: int = Field(default=48, ge=1, le=24 * 14)
    #: Wrong passwords allowed per account and per client address within the window.
    login_attempts: int = Field(default=5, ge=1, le=100)
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    #: Send the session cookie only over HTTPS. Unless set, it follows base_url: true when
    #: staff open an https:// address (the TLS reverse proxy), false for plain http.
    secure_cookies: bool = False

    @model_validator(mode="before")
    @classmethod
    def _secure_cookies_follow_base_url(cls, data: Any) -> Any:
        """Behind TLS the cookie must not travel in the clear: an operator who sets an
        https base_url and forgets secure_cookies still gets a Secure cookie. A base_url
        left out follows host and port: a console moved to port 9000 gets setup links to
        port 9000, not to the default's 8470."""
        if isinstance(data, dict) and "base_url" not in data:
            host, port = data.get("host", "127.0.0.1"), data.get("port", 8470)
            if isinstance(host, str) and isinstance(port, int) and not isinstance(port, bool):
                data = {**data, "base_url": console_url(host, port)}
        if isinstance(data, dict) and "secure_cookies" not in data:
            base_url = data.get("base_url", cls.model_fields["base_url"].default)
            if isinstance(base_url, str):
                data = {**data, "secure_cookies": base_url.lower().startswith("https://")}
        return data


class Settings(_Section):
    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    imap: ImapSettings | None = None
    smtp: SmtpSettings | None = None
    telegram: TelegramSettings | None = None
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    web: WebSettings | None = None
    processing: ProcessingSettings = Field(default_factory=ProcessingSettings)
    #: Where else a person's data lives ([[sources]]; README "Sources").
    sources: list[SourceSettings] = Field(default_factory=list)

    @field_validator("sources")
    @classmethod
    def _usable_sources(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        names = [source.name for source in value]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"sources with different names; {', '.join(doubled)} is used twice")
        if info.data.get("imap") is None and any(s.type == "mailbox" for s in value):
            raise ValueError(
                "an [imap] section: type = 'mailbox' searches the [imap] account (a mail "
                "archive on disk is type = 'maildir')"
            )
        return value

    #: Where the settings came from, for messages ("built-in defaults" or a path).
    source: str = Field(default="built-in defaults", exclude=True)

    def secret(self, env_name: str) -> str | None:
        """The secret held in the environment variable the config names (None when unset)."""
        value = os.environ.get(env_name)
        return value or None

    def unset_secrets(self) -> list[str]:
        """The keys ("[imap] password_env") naming an environment variable that is not set,
        of every secret a configured channel needs to log in."""
        needed = [
            ("imap", "password_env", self.imap.password_env if self.imap else None),
            ("smtp", "password_env", self.smtp.password_env if self.smtp else None),
            ("telegram", "token_env", self.telegram.token_env if self.telegram else None),
        ]
        if self.smtp is not None and not self.smtp.username:  # a relay without a login
            needed.pop(1)
        return [
            f"[{section}] {key}"
            for section, key, env_name in needed
            if env_name is not None and self.secret(env_name) is None
        ]

    @property
    def own_addresses(self) -> tuple[str, ...]:
        """Addresses whose mail is ours: never a request, always a loop to avoid."""
        addresses = {self.organisation.email.lower()}
        if self.smtp is not None:
            addresses.add(self.smtp.from_address.lower())
        return tuple(sorted(addresses))


_SOURCE_TYPES: dict[str, type[_Section]] = {
    "documents": DocumentsSource,
    "mailbox": MailboxSource,
    "maildir": MaildirSource,
    "sql": SqlSource,
    "manual": ManualSource,
}


def _describe_source(error: Any, source: str) -> str:
    """One line about a [[sources]] entry: which one (by number and type), which key."""
    loc = list(error["loc"])
    kind = error["type"]
    if len(loc) == 1:  # the list as a whole (a rule across entries): its message alone
        message = error["msg"].removeprefix("Value error, ")
        return f"{source}: [[sources]] expected {message}"
    number = f"[[sources]] number {int(loc[1]) + 1}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = error.get("input", {}).get("type") if isinstance(error.get("input"), dict) else None
        known = ", ".join(repr(name) for name in _SOURCE_TYPES)
        shown = f"type = {tag!r}" if tag is not None else "no type"
        return f"{source}: {number} has {shown}: expected type = one of {known}"
    tag = str(loc[2]) if len(loc) > 2 else ""
    key = ".".join(str(part) for part in loc[3:])
    model = _SOURCE_TYPES.get(tag)
    where = f"{number} (type = {tag!r})"
    if kind == "extra_forbidden" and model is not None:
        known = ", ".join(name for name in model.model_fields if name != "type")
        return f"{source}: {where}: unknown key {key} (expected one of: {known})"
    if kind == "missing":
        return f"{source}: {where}: {key} is missing (a {tag} source needs it)"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    if not key:
        return f"{source}: {where}: {message.removeprefix('[[sources]] ')}"
    return f"{source}: {where}: {key}: expected {message[0].lower()}{message[1:]}"


def _describe(error: Any, source: str) -> str:
    """One line naming the key, its value and what was expected."""
    if error["loc"] and error["loc"][0] == "sources":
        return _describe_source(error, source)
    loc = [str(part) for part in error["loc"]]
    section, key = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("", loc[0])
    where = f"[{section}] {key}" if section else key
    kind = error["type"]
    if kind == "extra_forbidden":
        model = Settings
        if section and section in Settings.model_fields:
            annotation = Settings.model_fields[section].annotation
            model = next(
                (a for a in getattr(annotation, "__args__", (annotation,)) if a is not type(None)),
                Settings,
            )
            known = ", ".join(model.model_fields)
        else:
            known = ", ".join(f"[{name}]" for name in Settings.model_fields if name != "source")
        return f"{source}: unknown key {where} (expected one of: {known})"
    if kind == "missing":
        return f"{source}: {where} is missing (it is required when [{section}] is present)"
    value = error.get("input")
    expected = error["msg"]
    expected = expected.removeprefix("Value error, ").removeprefix("Input should be ")
    expected = f"{expected[0].lower()}{expected[1:]}"
    if key.endswith("_env"):  # what stands there may be a secret pasted by mistake
        return f"{source}: {where} (value not shown): expected {expected}"
    if isinstance(value, str):  # a URL's password is never shown
        value = redact_url(value)
        if kind in _UNQUOTED_TYPES and _reads_unquoted(value):
            return (
                f"{source}: {where} = {value!r}: expected {expected}, not text: write it "
                f"without the quotes ({key} = {value.strip()})"
            )
    return f"{source}: {where} = {value!r}: expected {expected}"


#: Errors of a value that TOML would have read as wanted without its quotes.
_UNQUOTED_TYPES = frozenset({"int_type", "float_type", "bool_type"})


def _reads_unquoted(value: str) -> bool:
    """Whether `value` is a number or a boolean as TOML writes one."""
    try:
        unquoted = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return False
    return isinstance(unquoted, int | float | bool)


def parse_settings(data: dict[str, Any], source: str = "config") -> Settings:
    """Validate a TOML document's contents into Settings, or raise ConfigError."""
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # An unknown key is usually a typo that also explains a "missing" one: report it first.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise ConfigError(_describe(errors[0], source)) from None
    return settings.model_copy(update={"source": source})


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The file to read: the one given, else $NOXBOT_CONFIG, else ./config.toml if present."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def load_settings(explicit: str | Path | None = None) -> Settings:
    """Load settings from the file `config_path()` picks, or the built-in defaults."""
    path = config_path(explicit)
    if path is None:
        return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_settings(data, str(path))
