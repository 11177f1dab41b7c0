#!/usr/bin/env bash
# Put a local copy of 3Dmol.js (the JavaScript behind py3Dmol) at data/vendor/3Dmol-min.js,
# so the 3D structure view of `fm ui` works without internet access. Uses npm (the npm
# registry); without it the app loads 3Dmol.js from its CDN instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION="${1:-2.5.5}"
DEST=data/vendor
if [ -f "$DEST/3Dmol-min.js" ]; then
  echo "3Dmol.js already at $DEST/3Dmol-min.js"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm not found: the app will use the CDN" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "3dmol@$VERSION" >/dev/null)
mkdir -p "$DEST"
tar -xzf "$TMP/3dmol-$VERSION.tgz" -C "$DEST" --strip-components=2 \
  package/build/3Dmol-min.js package/build/3Dmol-min.js.LICENSE.txt
echo "3Dmol.js $VERSION -> $DEST/3Dmol-min.js"
