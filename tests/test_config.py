"""Settings come from environment variables only; a bad value stops start-up, clearly."""

from __future__ import annotations

import click
import pytest

from movieclassifier import create_app
from movieclassifier.config import DEV_SECRET_KEY, ENV_VARS, ConfigError, Settings

REVIEW = "A wonderful film, brilliant acting and a great story. Loved it."


def test_defaults_from_an_empty_environment():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url.startswith("sqlite:///") and settings.is_sqlite
    assert settings.model_dir.is_absolute()
    assert (settings.ratelimit_enabled, settings.ratelimit_storage_uri) == (True, "memory://")


def test_every_setting_has_an_environment_variable():
    expected = {
        "DATABASE_URL",
        "MODEL_DIR",
        "SECRET_KEY",
        "MODEL_RELOAD_SECONDS",
        "MAX_REVIEW_CHARS",
        "MIN_REVIEW_CHARS",
        "MAX_BATCH",
        "RATELIMIT_ENABLED",
        "RATELIMIT_STORAGE_URI",
        "RATELIMIT_PREDICT",
        "RATELIMIT_FEEDBACK",
        "RATELIMIT_KEY_PREFIX",
        "TRUSTED_PROXIES",
        "WEB_CONCURRENCY",
    }
    assert expected <= set(ENV_VARS)


def test_values_are_parsed():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgres://u:p@db.example:5432/reviews",
            "MODEL_RELOAD_SECONDS": "0",
            "MAX_BATCH": "7",
            "RATELIMIT_ENABLED": "false",
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/2",
            "RATELIMIT_PREDICT": "10/second",
            "TRUSTED_PROXIES": "1",
            "RETRAIN_EVERY": "10m",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u:p@db.example:5432/reviews"
    assert settings.model_reload_seconds == 0
    assert settings.max_batch == 7
    assert settings.ratelimit_enabled is False
    assert settings.ratelimit_storage_uri == "redis://127.0.0.1:6379/2"
    assert settings.ratelimit_predict == "10/second"
    assert settings.trusted_proxies == 1
    assert settings.retrain_every == 600
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("MAX_REVIEW_CHARS", "abc", "a positive integer"),
        ("MAX_BATCH", "0", "a positive integer"),
        ("MODEL_RELOAD_SECONDS", "-1", "a number of at least 0"),
        ("RATELIMIT_ENABLED", "maybe", "true or false"),
        ("RATELIMIT_STORAGE_URI", "mysql://x", "memory://"),
        ("RATELIMIT_PREDICT", "lots", "120 per minute"),
        ("TRUSTED_PROXIES", "-2", "an integer of at least 0"),
        ("DATABASE_URL", "mysql://x/y", "sqlite:///"),
        ("APP_ENV", "staging", '"production"'),
        ("LOG_LEVEL", "LOUD", '"INFO"'),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_is_accepted(name, value, accepted):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(name)
    assert f'"{value}"' in message
    assert accepted in message


def test_a_bad_database_url_is_named_without_its_password():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://mc:s3cret@db.example.com/reviews"})
    assert str(caught.value) == (
        'DATABASE_URL must be a sqlite:/// or postgres:// URL, got "mysql://mc:***@db.example.com/'
        'reviews"'
    )


def test_production_refuses_the_development_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        Settings.from_env({"APP_ENV": "production"})
    settings = Settings.from_env({"APP_ENV": "production", "SECRET_KEY": "s3cret-from-env"})
    assert settings.secret_key == "s3cret-from-env" != DEV_SECRET_KEY


def test_min_above_max_review_length_is_refused():
    with pytest.raises(ConfigError, match="MIN_REVIEW_CHARS"):
        Settings.from_env({"MIN_REVIEW_CHARS": "50", "MAX_REVIEW_CHARS": "40"})


def test_create_app_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MAX_BATCH", "3")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app()
    try:
        assert app.config["SECRET_KEY"] == "from-the-environment"
        schema = app.test_client().get("/api/v1/openapi.json").get_json()
        assert (
            schema["components"]["schemas"]["PredictRequest"]["properties"]["reviews"]["maxItems"]
            == 3
        )
    finally:
        app.extensions["movieclassifier.engine"].dispose()


def test_create_app_stops_on_a_bad_value(monkeypatch):
    monkeypatch.setenv("MAX_BATCH", "many")
    with pytest.raises(ConfigError, match='MAX_BATCH must be a positive integer, got "many"'):
        create_app()


def test_create_app_under_a_command_line_stops_in_one_line(monkeypatch, capsys):
    """``flask --app movieclassifier ...`` builds the app inside click: a bad value is one
    line and exit 1 there (a SystemExit, which ``flask --help``'s listing does not print as a
    traceback), and a ConfigError with its traceback elsewhere."""
    monkeypatch.setenv("MAX_BATCH", "many")
    with click.Context(click.Command("flask")):
        with pytest.raises(SystemExit) as caught:
            create_app()
    assert caught.value.code == 1
    assert capsys.readouterr().err == 'Error: MAX_BATCH must be a positive integer, got "many"\n'


def test_trusted_proxy_makes_limits_count_per_client(make_app, seed_model):
    app = make_app(ratelimit_enabled=True, ratelimit_predict="1 per minute", trusted_proxies=1)
    client = app.test_client()

    def predict(address):
        headers = {"X-Forwarded-For": address}
        return client.post("/api/v1/predict", json={"review": REVIEW}, headers=headers).status_code

    assert [predict("203.0.113.1"), predict("203.0.113.2"), predict("203.0.113.1")] == [
        200,
        200,
        429,
    ]


@pytest.mark.parametrize(
    ("environ", "https_only"),
    [
        ({"APP_ENV": "production", "SECRET_KEY": "k" * 32}, True),
        ({"APP_ENV": "production", "SECRET_KEY": "k" * 32, "HTTPS_ONLY": "false"}, False),
        ({"APP_ENV": "development"}, False),
        ({"APP_ENV": "development", "HTTPS_ONLY": "true"}, True),
    ],
)
def test_production_is_https_only_unless_told_otherwise(environ, https_only):
    assert Settings.from_env(environ).https_only is https_only
