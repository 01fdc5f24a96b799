#!/usr/bin/env bash
# Installs the Debian packages Vigilo and its tests need, when missing and when we may (root + apt).
# Prints a hint instead when it cannot install.
set -u
PYTHON="${1:-python3.11}"
need=()
"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=("python3-venv")
command -v redis-server >/dev/null 2>&1 || need+=("redis-server")
# tests/scale: events and the alert outbox on a real PostgreSQL server the tests start themselves.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=("postgresql")
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=("nginx")
command -v openssl >/dev/null 2>&1 || need+=("openssl")
# tests/web: the H5 liveness page in Debian's Chromium (Playwright never downloads a browser), and a CJK
# font so that its screenshots show the zh-CN text.
command -v chromium >/dev/null 2>&1 || need+=("chromium")
{ command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; } || need+=("fonts-wqy-microhei")
# tests/watch: a real RTSP camera (ffmpeg publishes a clip to RTSP::Server, a relay with no system service).
command -v ffmpeg >/dev/null 2>&1 || need+=("ffmpeg")
perl -MRTSP::Server -e1 >/dev/null 2>&1 || need+=("librtsp-server-perl")
# miniprogram/: the WeChat mini-program's unit tests (jest + miniprogram-simulate) run in Node.
{ command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || need+=("nodejs" "npm")
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "note: please install these Debian packages: ${need[*]} (sudo apt-get install ${need[*]})"
fi
