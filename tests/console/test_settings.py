"""The ``console`` settings: off unless ``listen`` is set, and then never without a password."""

from cmsync.config.secrets import secret_values
from tests.config.builders import errors_of, load, with_settings


def test_the_console_is_off_by_default() -> None:
    assert load(with_settings()).console.listen is None


def test_listening_without_a_password_is_refused_with_the_setting_named() -> None:
    (error,) = errors_of(with_settings(console={"listen": "127.0.0.1:9466"}))
    assert "console" in error and "listen is set but password is not" in error


def test_the_password_is_a_secret_like_the_others(monkeypatch) -> None:
    monkeypatch.setenv("CONSOLE_PASSWORD", "from the environment")
    settings = load(with_settings(console={"listen": "[::1]:9466", "password": "${CONSOLE_PASSWORD}"}))
    assert settings.console.password.get_secret_value() == "from the environment"
    assert "from the environment" not in repr(settings)
    assert "from the environment" in secret_values(settings)
    (error,) = errors_of(with_settings(console={"listen": "127.0.0.1:9466", "password": "short"}))
    assert "console.password" in error and "too short" in error and "'short'" not in error
