#!/bin/sh
# Install HAProxy (the Debian package `haproxy`) when it is absent: the replica test
# (tests/e2e/test_replicas.py) and benchmark (bench/replicas.py) run the services behind it.
# Exit 0 when `haproxy` is on the PATH afterwards, 1 (with the reason) when it cannot be had.
set -u
if command -v haproxy >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_haproxy: no apt-get here; install HAProxy with your package manager" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "install_haproxy: not root and no password-less sudo: run 'apt-get install haproxy' as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine: update once if the first try fails.
if ! $SUDO apt-get install -y -q --no-install-recommends haproxy >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null 2>&1
    if ! $SUDO apt-get install -y -q --no-install-recommends haproxy >/dev/null; then
        echo "install_haproxy: apt-get install haproxy failed" >&2
        exit 1
    fi
fi
# The package enables a system service; we run our own instances, not that one.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now haproxy >/dev/null 2>&1 || true
fi
command -v haproxy >/dev/null 2>&1
