#!/usr/bin/env bash
# Extracts the example program and its expected output from a manual page:
# by default the installed ASYNC_start_job(3ssl) (Debian package
# libssl-doc), or the page file given, such as rustasync(7).
#
#   tools/manpage-example.sh OUTDIR [PAGE]  -> OUTDIR/example.c, OUTDIR/expected.txt
#
# The page renders with groff; code lines are indented by 8 columns, prose
# by 7, which is what tells them apart.
set -euo pipefail
out=${1:?usage: $0 OUTDIR [PAGE]}
page=${2:-}
if [ -z "$page" ]; then
    page=$(man -w 3ssl ASYNC_start_job 2>/dev/null || true)
    [ -n "$page" ] || page=/usr/share/man/man3/ASYNC_start_job.3ssl.gz
fi
if [ ! -r "$page" ]; then
    echo "manual page $page missing (ASYNC_start_job(3ssl): apt-get install -y libssl-doc groff-base)" >&2
    exit 1
fi
mkdir -p "$out"
zcat -f "$page" | groff -man -Tascii -P-cbou 2>/dev/null | expand > "$out/page.txt"

# The program: from the first code line after EXAMPLES to the line that
# announces the expected output.
awk '
    /^EXAMPLES/ { in_examples = 1; next }
    in_examples && /expected output/ { exit }
    in_examples && /^        / { started = 1 }
    started && (/^        / || /^$/) { print substr($0, 9); next }
    started { exit }
' "$out/page.txt" > "$out/example.c"

awk '
    /expected output/ { found = 1; next }
    found && /^        / { print substr($0, 9); seen = 1; next }
    found && seen && !/^$/ { exit }
' "$out/page.txt" > "$out/expected.txt"

if ! grep -q 'ASYNC_start_job' "$out/example.c" || [ ! -s "$out/expected.txt" ]; then
    echo "could not find the example in $page" >&2
    exit 1
fi
