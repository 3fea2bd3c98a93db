#!/usr/bin/env bash
# Installs the Debian packages the tests use, when missing: an RTMP server (nginx with its RTMP
# module), the espeak-ng speech program and Chromium (the browser tests drive it with Playwright).
set -euo pipefail
packages=()
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || packages+=(nginx-light libnginx-mod-rtmp)
command -v espeak-ng >/dev/null || packages+=(espeak-ng)
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "warning: the streaming and browser tests need ${packages[*]}; install them as root with apt-get" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# The package starts a default nginx on port 80; the tests start their own on free ports.
(service nginx stop || pkill -x nginx || true) >/dev/null 2>&1
