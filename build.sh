#!/usr/bin/env bash
# Reproducible builds of the function for both clouds:
#   dist/main, dist/main.zip         Tencent SCF, runtime Go1, handler "main" (binary at the zip root)
#   dist/bootstrap-amd64.zip         AWS Lambda, runtime provided.al2023, x86_64 (bootstrap at the zip root)
#   dist/bootstrap-arm64.zip         AWS Lambda, runtime provided.al2023, arm64 (template.yaml: Architecture)
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
ldflags="-s -w -buildid= -X ${pkg}.Version=${VERSION} -X ${pkg}.Commit=${COMMIT}"
rm -rf dist
mkdir -p dist
go build -trimpath -ldflags "$ldflags" -o dist/main ./function
chmod 0755 dist/main

# Lambda: always linux, both architectures, whatever GOARCH dist/main has.
for arch in amd64 arm64; do
  GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "dist/lambda-$arch/bootstrap" ./function
  chmod 0755 "dist/lambda-$arch/bootstrap"
done

# The zipper runs on this machine, whatever GOOS/GOARCH the function targets.
GOOS= GOARCH= go run ./tools/detzip dist/main.zip main=dist/main
for arch in amd64 arm64; do
  GOOS= GOARCH= go run ./tools/detzip "dist/bootstrap-$arch.zip" "bootstrap=dist/lambda-$arch/bootstrap"
done

sha256sum dist/main dist/main.zip dist/lambda-amd64/bootstrap dist/lambda-arm64/bootstrap dist/bootstrap-amd64.zip dist/bootstrap-arm64.zip
