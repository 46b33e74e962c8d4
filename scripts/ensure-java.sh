#!/usr/bin/env bash
# Install Debian's Java 17 runtime for the spark engine's tests when java is missing and we may
# (root, apt-get present: CI, a fresh container). Elsewhere this prints how to install it; the
# spark tests then skip with that reason (never when CI=true).
set -u
if command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-java: installing openjdk-17-jre-headless from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Debian's slim images lack the man folder the JRE's postinst writes into.
  mkdir -p /usr/share/man/man1
  apt-get update -qq >&2 && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  exit 0
fi
echo "ensure-java: java is missing; the spark engine's tests will skip" \
  "(install Debian's openjdk-17-jre-headless package to run them)" >&2
exit 0
