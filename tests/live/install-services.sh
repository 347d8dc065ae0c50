#!/usr/bin/env bash
# What the live tests need from Debian, installed when missing (`make test` runs this):
# GStreamer's RTSP server for the system python3 (the camera), mosquitto (the MQTT broker)
# and redis-server (the scale-out job queue). PostgreSQL with pgvector and SeaweedFS come
# from PyPI (the test extra). The tests start and stop each server themselves, on loopback;
# a server the package starts on install is stopped again.
set -euo pipefail
packages=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
          gstreamer1.0-plugins-good gstreamer1.0-plugins-bad mosquitto redis-server)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing for the live stream tests: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
for service in mosquitto redis-server; do
    $sudo service "$service" stop >/dev/null 2>&1 || true
done
