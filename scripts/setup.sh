#!/usr/bin/env bash
# Installs what Osprey needs to build, test and run its demo on a Debian machine that has the
# Swift toolchain: the C libraries behind the system-library targets, kcat (the independent
# Kafka client the tests use), promtool (checks the metrics format), and for the tests pandas
# (an independent feature oracle) and jsonschema (validates alerts against their schema).
# Installs only what is missing, so a second run is quick.
set -euo pipefail

debian_packages=(
    pkg-config
    librdkafka-dev
    libopenblas-dev
    libsimdjson-dev
    zlib1g-dev
    kcat
    prometheus
    systemd
)

missing=()
for package in "${debian_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--test" ]; then
    # pandas: the tests' independent feature oracle; jsonschema: validates alerts against
    # config/alert.schema.json with a validator that is not ours.
    for module in pandas jsonschema; do
        if ! python3 -c "import $module" 2>/dev/null; then
            echo "setup: installing $module for the tests" >&2
            python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
                "$module"
        fi
    done
fi
