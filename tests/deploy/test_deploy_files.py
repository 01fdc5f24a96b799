"""The deployment files are checked with the real tools: hadolint, `nginx -t` and a live nginx in front of
a live Vigilo, `systemd-analyze verify`; the image installs through the same script as `make install`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import free_port
from vigilo.config import load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def tool(name: str) -> str:
    search = os.pathsep.join([os.environ.get("PATH", ""), str(Path(sys.executable).parent), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=search)
    if found is None:
        pytest.skip(f"{name} is not installed (make install installs it)")
    return found


def test_image_installs_with_the_same_script_as_make_install() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert "scripts/install-python.sh /opt/vigilo" in dockerfile
    assert "scripts/install-python.sh $(VENV) --dev" in makefile
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_environment_names_are_real_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert {"vigilo", "redis", "nginx", "postgres"} <= set(compose["services"])
    environment = compose["services"]["vigilo"]["environment"]
    monkeypatch.chdir(tmp_path)
    for name, value in environment.items():
        if name != "VIGILO_CONFIG":
            monkeypatch.setenv(name, str(value))
    settings = load_settings(env_file=None)  # a misspelt VIGILO_* name would be an unknown key here
    assert settings.sessions.redis_url == "redis://redis:6379/0"
    assert settings.logging.format == "json"


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = tmp_path / "vigilo.service"
    text = (DEPLOY / "systemd" / "vigilo.service").read_text()
    unit.write_text(text.replace("/opt/vigilo/.venv/bin/vigilo", str(Path(sys.executable).parent / "vigilo")))
    result = subprocess.run([tool("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def nginx_site(tmp_path: Path, upstream_port: int, https_port: int, http_port: int) -> Path:
    """The shipped site config, pointed at a local upstream and ports, with a throw-away certificate."""
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(tls / "privkey.pem"), "-out", str(tls / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    site = (DEPLOY / "nginx" / "vigilo.conf").read_text()
    site = site.replace("server vigilo:8000;", f"server 127.0.0.1:{upstream_port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("/etc/nginx/tls/", f"{tls}/")
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path}/body;\n proxy_temp_path {tmp_path}/proxy;\n"
        f" include {tmp_path}/site.conf;\n}}\n"
    )
    return main


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    main = nginx_site(tmp_path, free_port(), free_port(), free_port())
    result = subprocess.run([tool("nginx"), "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def vigilo_behind_nginx(tmp_path: Path) -> Iterator[str]:
    nginx = tool("nginx")
    app_port, https_port = free_port(), free_port()
    app = subprocess.Popen(
        [sys.executable, "-m", "vigilo", "serve", "--port", str(app_port)],
        # Vigilo itself would take 50 MB here: a 413 for 11 MB can only come from nginx.
        cwd=tmp_path, env={**os.environ, "VIGILO_SERVER__MAX_BODY_MB": "50"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    proxy = subprocess.Popen(
        [nginx, "-c", str(nginx_site(tmp_path, app_port, https_port, free_port())), "-p", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"https://127.0.0.1:{https_port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", verify=False, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert app.poll() is None and proxy.poll() is None
            time.sleep(0.2)
        yield url
    finally:
        for process in (proxy, app):
            process.send_signal(signal.SIGINT if process is app else signal.SIGQUIT)
            process.wait(timeout=30)


def test_live_nginx_terminates_tls_and_enforces_limits(vigilo_behind_nginx: str) -> None:
    url = vigilo_behind_nginx
    assert httpx.get(f"{url}/healthz", verify=False).json() == {"status": "ok"}
    assert httpx.get(f"{url}/metrics", verify=False).status_code == 404  # scraped directly, not via nginx
    too_big = httpx.post(f"{url}/api/v1/detect", content=b"x" * (11 * 1024 * 1024), verify=False)
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "body_too_large"
    responses = [httpx.get(f"{url}/healthz", verify=False) for _ in range(80)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "20 r/s with a burst of 40 per client address"
    assert limited[0].json()["code"] == "rate_limited"
