from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vigilo.config import ConfigError, load_settings


def write(tmp_path: Path, text: str, name: str = "vigilo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.server.port == 8000
    assert settings.detector.classes == ["cell phone"]
    assert settings.storage.resolved_database_url() == "sqlite:///var/vigilo.db"
    assert settings.sessions.redis_url is None


def test_yaml_then_dotenv_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "detector:\n  threshold: 0.4\n  batch_size: 4\nserver:\n  port: 9000\n")
    write(tmp_path, "VIGILO_DETECTOR__BATCH_SIZE=2\nUNRELATED=1\nVIGILO_SERVER__PORT=9100\n", ".env")
    monkeypatch.setenv("VIGILO_SERVER__PORT", "9200")
    settings = load_settings()  # ./vigilo.yaml is picked up by default
    assert settings.detector.threshold == 0.4  # YAML
    assert settings.detector.batch_size == 2  # .env beats YAML
    assert settings.server.port == 9200  # environment beats .env


def test_seed_environment_names_still_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "DINGTALK_WEBHOOK=https://oapi.example/robot/send?access_token=abc\n", ".env")
    monkeypatch.setenv("NOTIFICATION_ENABLED", "false")
    monkeypatch.setenv("NOTIFICATION_THRESHOLD", "0.8")
    monkeypatch.setenv("WECOM_CORP_ID", "ww123")
    monkeypatch.setenv("WECOM_AGENT_ID", "1000002")
    monkeypatch.setenv("WECOM_SECRET", "s3cr3t-value")
    monkeypatch.setenv("DINGTALK_SECRET", "SECdingding")
    settings = load_settings()
    assert settings.notification.enabled is False
    assert settings.notification.threshold == 0.8
    assert settings.wecom.corp_id == "ww123" and settings.wecom.agent_id == 1000002
    assert settings.wecom.secret is not None and settings.wecom.secret.get_secret_value() == "s3cr3t-value"
    assert settings.dingtalk.webhook is not None
    assert "s3cr3t-value" not in repr(settings)
    assert set(settings.secret_values()) >= {"s3cr3t-value", "SECdingding"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("detector:\n  treshold: 0.5\n", "detector.treshold: unknown key"),
        ("detector:\n  threshold: 2\n", "detector.threshold: Input should be less than or equal to 1"),
        ("server:\n  port: http\n", "server.port: Input should be a valid integer"),
        ("detector: [1\n", "at line 2"),
        ("- just a list\n", "the top level must be a mapping"),
    ],
)
def test_bad_files_name_the_key_and_why(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_cli_reports_bad_config_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, "detector:\n  treshold: 0.5\n")
    result = subprocess.run(
        [sys.executable, "-m", "vigilo", "detect", str(tmp_path), "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "detector.treshold: unknown key" in lines[0]
    assert "Traceback" not in result.stderr


def test_generated_reference_is_a_valid_config(tmp_path: Path) -> None:
    from vigilo.config.describe import default_yaml

    text = default_yaml()
    assert "detector:\n" in text and "  threshold: 0.35" in text
    path = write(tmp_path, text)
    assert load_settings(path, env_file=None).detector.threshold == 0.35


def test_config_check_command(tmp_path: Path) -> None:
    good = write(tmp_path, "server:\n  port: 9000\n")
    ok = subprocess.run(
        [sys.executable, "-m", "vigilo", "config", "check", "--config", str(good)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0 and ok.stdout.strip() == "configuration ok"


def test_configuration_doc_is_up_to_date() -> None:
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "gen_config_doc.py"
    spec = importlib.util.spec_from_file_location("gen_config_doc", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGET.read_text(encoding="utf-8") == module.render(), (
        "docs/configuration.md is stale: run .venv/bin/python scripts/gen_config_doc.py"
    )
