#!/usr/bin/env bash
# Headless-Chromium screenshots of every built page, at a desktop width (1400 px) and a phone width (390 px), for a
# person to look at: `tools/screenshots.sh [_build/html] [_build/screenshots]`. Not part of the tests.
# Needs Debian's `chromium` package (apt-get install chromium).
set -euo pipefail
html=${1:-_build/html}
out=${2:-_build/screenshots}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then echo "error: no chromium on PATH (apt-get install chromium)" >&2; exit 2; fi
mkdir -p "$out"
find "$html" -maxdepth 2 -name '*.html' -not -path '*/_static/*' -not -path '*/_modules/*' -not -name 'search.html' -not -name 'genindex.html' |
sort | while read -r page; do
  name=$(realpath --relative-to="$html" "$page" | tr '/' '_' | sed 's/\.html$//')
  for size in 1400,4000 390,6000; do
    width=${size%,*}
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=8000 \
      --window-size="$size" --screenshot="$out/$name-$width.png" "file://$(realpath "$page")" >/dev/null 2>&1
  done
  echo "$out/$name-{1400,390}.png"
done
