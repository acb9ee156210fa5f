#!/bin/sh
# Recompose cemscan-ds.xml, the SCAP 1.2 source data stream cemscan scans by
# default, from cemscan-xccdf.xml and cemscan-oval.xml, then validate it.
# Run it from any directory:  sh cemscan/content/compose.sh
# Component timestamps are the sources' modification times; set
# SOURCE_DATE_EPOCH to pin them instead.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
cd "$here"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# oscap 1.3.7 (Debian 12) resolves <cpe-lang:check-fact-ref> platforms in a data
# stream only when the data stream has a CPE dictionary component (OpenSCAP issue
# 1962, fixed upstream by PR 2142). Without one, the /etc/crontab and sshd rules
# come out notapplicable on every host and oscap prints "Can't import OVAL
# definition model 'cemscan-oval.xml' for CPE applicability checking". This
# minimal dictionary (one item, no check) is added for that reason only.
cat >"$tmp/cemscan-cpe-dictionary.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<cpe-list xmlns="http://cpe.mitre.org/dictionary/2.0">
  <cpe-item name="cpe:/a:cemscan:cemscan">
    <title xml:lang="en-us">cemscan</title>
  </cpe-item>
</cpe-list>
EOF
touch -r cemscan-xccdf.xml "$tmp/cemscan-cpe-dictionary.xml"

oscap oval validate cemscan-oval.xml
oscap ds sds-compose cemscan-xccdf.xml "$tmp/cemscan-ds.xml"
# sds-add names the component after the path it is given: pass a bare file name.
(cd "$tmp" && oscap ds sds-add cemscan-cpe-dictionary.xml cemscan-ds.xml)
oscap ds sds-validate "$tmp/cemscan-ds.xml"
mv "$tmp/cemscan-ds.xml" cemscan-ds.xml
echo "composed and validated $here/cemscan-ds.xml"
