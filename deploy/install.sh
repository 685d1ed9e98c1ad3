#!/bin/sh
# Build the wheel from a source folder and install it (not editable), with optional extras.
# deploy/Dockerfile runs this, and the test suite runs the same script on the same files into a
# fresh virtual environment outside the checkout (tests/packaging), so what CI proves is what the
# image contains.
#   sh deploy/install.sh SOURCE_DIR [EXTRAS]        e.g. sh deploy/install.sh . postgres
# Uses the `python` found on PATH. With WHEEL_DIR=DIR the built wheel is kept in DIR.
set -eu
src=${1:?usage: sh deploy/install.sh SOURCE_DIR [EXTRAS]}
extras=${2:-}
dist=${WHEEL_DIR:-$(mktemp -d)}
python -m pip wheel --no-deps --wheel-dir "$dist" "$src"
wheel=$(ls "$dist"/gtm_plan_tracker-*.whl)
python -m pip install "$wheel${extras:+[$extras]}"
[ -n "${WHEEL_DIR:-}" ] || rm -rf "$dist"
