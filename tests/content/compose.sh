#!/bin/sh
# Recompose test-ds.xml, the SCAP 1.2 source data stream of the cemscan test
# benchmark, from test-xccdf.xml and test-oval.xml, then validate it.
# Run it from any directory:  sh tests/content/compose.sh
# Component timestamps are the sources' modification times; set
# SOURCE_DATE_EPOCH to pin them instead. After changing the content, refresh
# test-arf.xml and EXPECTED.md as EXPECTED.md describes.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
cd "$here"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

oscap oval validate test-oval.xml
oscap ds sds-compose test-xccdf.xml "$tmp/test-ds.xml"
oscap ds sds-validate "$tmp/test-ds.xml"
mv "$tmp/test-ds.xml" test-ds.xml
echo "composed and validated $here/test-ds.xml"
