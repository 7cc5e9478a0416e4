"""Config: TOML in, typed settings out, one clear line naming the key when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    DocumentsSource,
    MailboxSource,
    MaildirSource,
    ManualSource,
    Settings,
    SqlSource,
    SqlTable,
    load_settings,
    parse_settings,
)

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


def test_no_config_file_gives_the_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOXBOT_CONFIG", raising=False)
    settings = load_settings()
    assert settings.database.url == "sqlite:///noxbot.db"
    assert settings.imap is None and settings.smtp is None and settings.telegram is None
    assert settings.organisation.email == "info@noxconsulting.se"
    assert settings.source == "built-in defaults"


def test_config_is_found_through_the_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.toml"
    path.write_text('[database]\nurl = "sqlite:///x.db"\n')
    monkeypatch.setenv("NOXBOT_CONFIG", str(path))
    assert load_settings().database.url == "sqlite:///x.db"


def test_config_toml_in_the_working_directory_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOXBOT_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text("[verification]\nmax_attempts = 3\n")
    assert load_settings().verification.max_attempts == 3


def test_explicit_file_wins_over_the_environment(tmp_path, monkeypatch):
    env_file = tmp_path / "env.toml"
    env_file.write_text("[verification]\nmax_attempts = 2\n")
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[verification]\nmax_attempts = 9\n")
    monkeypatch.setenv("NOXBOT_CONFIG", str(env_file))
    assert load_settings(explicit).verification.max_attempts == 9


def test_the_example_config_is_valid_and_documents_every_key():
    import tomllib

    data = tomllib.loads(EXAMPLE.read_text())
    settings = parse_settings(data, "config.example.toml")
    assert settings.imap is not None and settings.smtp is not None
    assert settings.telegram is not None
    text = EXAMPLE.read_text()
    for section_name, field in Settings.model_fields.items():
        if section_name == "source":
            continue
        assert f"[{section_name}]" in text, f"[{section_name}] missing from the example"
        model = field.annotation
        model = next(a for a in getattr(model, "__args__", (model,)) if a is not type(None))
        models = [model]
        if section_name == "sources":  # a list of tables, one kind per `type`
            models = [
                DocumentsSource,
                MailboxSource,
                MaildirSource,
                SqlSource,
                SqlTable,
                ManualSource,
            ]
            assert [s.type for s in settings.sources] == [
                "documents",
                "mailbox",
                "maildir",
                "sql",
                "manual",
            ]
        for model in models:
            for key in model.model_fields:
                spellings = (f"\n{key} =", f"\n# {key} =", f"{{ {key} =", f", {key} =")
                assert any(s in text for s in spellings), f"{section_name}.{key}"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        pytest.param(
            '[imap]\nhost = "h"\nusername = "u"\nport = "abc"\n',
            "[imap] port = 'abc': expected a valid integer",
            id="wrong-type",
        ),
        pytest.param(
            '[imap]\nhots = "h"\n',
            "unknown key [imap] hots (expected one of: host, port",
            id="unknown-key-names-the-known-ones",
        ),
        pytest.param(
            '[imapp]\nhost = "h"\n',
            "unknown key imapp (expected one of: [organisation], [database], [imap]",
            id="unknown-section",
        ),
        pytest.param(
            "[smtp]\nport = 25\n",
            "[smtp] host is missing",
            id="missing-required",
        ),
        pytest.param(
            '[smtp]\nhost = "h"\ntls = "yes"\n',
            "[smtp] tls = 'yes': expected 'ssl', 'starttls' or 'none'",
            id="bad-choice",
        ),
        pytest.param(
            '[imap]\nhost = "h"\nusername = "u"\ntls = "starttls"\n',
            "[imap] tls = 'starttls': expected 'ssl' (port 993) or 'none'; STARTTLS is not",
            id="imap-starttls-is-refused-up-front",
        ),
        pytest.param(
            "[smtp]\nhost = 'h'\nport = \"587\"\n",
            "[smtp] port = '587': expected a valid integer, not text: write it without the"
            " quotes (port = 587)",
            id="a-number-in-quotes-is-not-guessed-at-but-named",
        ),
        pytest.param(
            '[imap]\nhost = "h"\nusername = "u"\nidle = "yes"\n',
            "[imap] idle = 'yes': expected a valid boolean",
            id="a-flag-in-quotes-is-not-guessed-at",
        ),
        pytest.param(
            "[smtp]\nhost = 'h'\nport = true\n",
            "[smtp] port = True: expected a valid integer",
            id="true-is-no-port",
        ),
        pytest.param(
            '[telegram]\nbase_url = "https://api.telegram.org"\n',
            "[telegram] base_url = 'https://api.telegram.org': expected an http(s) URL ending",
            id="bot-api-url-without-bot",
        ),
        pytest.param(
            '[telegram]\ntoken_env = "123456:AAH-secret"\n',
            "[telegram] token_env (value not shown): expected the name of an environment",
            id="a-token-pasted-instead-of-a-variable-name",
        ),
        pytest.param(
            '[organisation]\ntimezone = "Mars/Olympus"\n',
            "[organisation] timezone = 'Mars/Olympus': expected an IANA time zone name",
            id="bad-timezone",
        ),
        pytest.param(
            "[classifier]\nbudget_seconds = 0\n",
            "[classifier] budget_seconds = 0: expected greater than 0",
            id="no-time-to-read-mail",
        ),
        pytest.param(
            '[database]\nurl = "mysql://x"\n',
            "[database] url = 'mysql://x': expected a URL starting with sqlite:// or postgresql://",
            id="unsupported-database",
        ),
    ],
)
def test_a_config_mistake_is_one_line_naming_key_value_and_expectation(tmp_path, toml, expected):
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "\n" not in message and "AAH-secret" not in message
    assert message.startswith(str(path))
    assert expected in message


def test_broken_toml_says_where(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[imap\nhost = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_missing_explicit_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_come_from_the_environment_variable_the_file_names(monkeypatch):
    settings = parse_settings({"imap": {"host": "h", "username": "u", "password_env": "MY_PW"}})
    monkeypatch.setenv("MY_PW", "s3cret")
    assert settings.secret(settings.imap.password_env) == "s3cret"
    monkeypatch.delenv("MY_PW")
    assert settings.secret("MY_PW") is None
