#!/usr/bin/env bash
# Installs what neurolens needs on Debian 12 with Node.js 20: the Debian packages (Fashion-MNIST
# data, ffmpeg for video clips, redis-server for BullMQ scale-out, chromium for the dashboard's
# browser tests) and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
need=()
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi
npm ci --no-audit --no-fund
