#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the workbench's browser tests when they are
# missing and we may (root, apt-get present: CI, a fresh container). Elsewhere this prints
# how to install them; the browser tests then skip with that reason (never when CI=true).
set -u
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing chromium and chromium-driver from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq chromium chromium-driver >/dev/null
  exit 0
fi
echo "ensure-chromium: /usr/bin/chromium is missing; the browser tests will skip" \
  "(install Debian's chromium and chromium-driver packages to run them)" >&2
exit 0
