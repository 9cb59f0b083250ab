#!/usr/bin/env bash
# Reproducible builds of the function for both clouds:
#   dist/main, dist/main.zip         Tencent SCF, runtime Go1, handler "main" (binary at the zip root)
#   dist/bootstrap.zip               AWS Lambda, runtime provided.al2023 (same binary named bootstrap)
# The same source and Go version give the same bytes: no cgo, -trimpath, no
# build id, no VCS stamping, stripped, fixed zip timestamps.
# VERSION and COMMIT may be given; by default they come from git.
# ./build.sh bench measures the build on the built-in emulator (README: Performance).
set -euo pipefail
cd "$(dirname "$0")"

# The benchmark calls this script again, without arguments, to build.
if [[ "${1:-}" == bench ]]; then
  shift
  exec go run ./function bench "$@"
fi

VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
COMMIT="${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
export CGO_ENABLED=0 GOOS="${GOOS:-linux}" GOARCH="${GOARCH:-amd64}" GOFLAGS=-buildvcs=false

pkg=github.com/mpgw-keyrotator/mpgw-keyrotator/internal/version
rm -rf dist
mkdir -p dist
go build -trimpath \
  -ldflags "-s -w -buildid= -X ${pkg}.Version=${VERSION} -X ${pkg}.Commit=${COMMIT}" \
  -o dist/main ./function
chmod 0755 dist/main

# The zipper runs on this machine, whatever GOOS/GOARCH the function targets.
GOOS= GOARCH= go run ./tools/detzip dist/main.zip main=dist/main
GOOS= GOARCH= go run ./tools/detzip dist/bootstrap.zip bootstrap=dist/main

sha256sum dist/main dist/main.zip dist/bootstrap.zip
