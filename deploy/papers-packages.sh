#!/usr/bin/env bash
# Makes sure this machine can print the papers (PDF): WeasyPrint's libraries (Pango, HarfBuzz, fontconfig) and
# Debian's Noto CJK fonts — without the fonts every Chinese character prints as an empty box. With --with-poppler
# also poppler-utils (pdftotext, pdfinfo, pdftoppm), which the tests use to read the PDFs back.
# Installs what is missing from Debian's packages when it can (root or sudo, apt-get); otherwise names what is
# missing and exits 1. Safe to run repeatedly: nothing is installed when nothing is missing.
set -euo pipefail

need=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib libpango-1.0.so.0 || need+=(libpango-1.0-0)
have_lib libpangoft2-1.0.so.0 || need+=(libpangoft2-1.0-0)
have_lib libharfbuzz.so.0 || need+=(libharfbuzz0b)
have_lib libharfbuzz-subset.so.0 || need+=(libharfbuzz-subset0)
have_lib libfontconfig.so.1 || need+=(libfontconfig1)
command -v fc-list >/dev/null 2>&1 || need+=(fontconfig)
if ! fc-list :lang=zh family 2>/dev/null | grep -q "Noto .*CJK SC"; then need+=(fonts-noto-cjk); fi
if [ "${1:-}" = "--with-poppler" ] && ! command -v pdftotext >/dev/null 2>&1; then need+=(poppler-utils); fi

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then as_root=(); elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n); else as_root=(none); fi
if [ "${as_root[0]:-}" = none ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "papers: cannot install ${need[*]} here (needs apt-get as root); PDF papers stay unavailable until it is" >&2
  exit 1
fi
echo "papers: installing ${need[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
