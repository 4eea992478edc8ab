#!/usr/bin/env bash
# Headless-Chromium screenshots of every built page, at a desktop width (1400 px) and a phone width (390 px), for a
# person to look at: `tools/screenshots.sh [_build/html] [_build/screenshots]`. Not part of the tests.
# Needs Debian's `chromium` package (apt-get install chromium). Equations render only where the page can load MathJax
# (it comes from a CDN); offline, display math shows as TeX source.
set -euo pipefail
html=${1:-_build/html}
out=${2:-_build/screenshots}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then echo "error: no chromium on PATH (apt-get install chromium)" >&2; exit 2; fi
mkdir -p "$out"
find "$html" -maxdepth 2 -name '*.html' -not -path '*/_static/*' -not -path '*/_modules/*' -not -name 'search.html' -not -name 'genindex.html' |
sort | while read -r page; do
  name=$(realpath --relative-to="$html" "$page" | tr '/' '_' | sed 's/\.html$//')
  shoot() {  # URL WIDTH HEIGHT PNG
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=8000 \
      --window-size="$2,$3" --screenshot="$4" "$1" >/dev/null 2>&1
  }
  shoot "file://$(realpath "$page")" 1400 4000 "$out/$name-1400.png"
  # Headless Chromium never lays a window out narrower than 500 px: a phone is a 390 px frame inside a wrapper page.
  wrapper="$out/.$name-390.html"
  printf '<html><body style="margin:0"><iframe src="file://%s" style="width:390px;height:8000px;border:0">' \
    "$(realpath "$page")" > "$wrapper"
  printf '</iframe></body></html>\n' >> "$wrapper"
  shoot "file://$(realpath "$wrapper")" 390 8000 "$out/$name-390.png"
  rm -f "$wrapper"
  echo "$out/$name-{1400,390}.png"
done
