#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each (default 10s).
set -euo pipefail
t=${1:-10s}
n=0
while IFS= read -r f; do
	dir=$(dirname "$f")
	for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		echo "fuzz ./$dir $name ($t)"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "./$dir" >/tmp/cvpn-fuzz.log 2>&1 || { cat /tmp/cvpn-fuzz.log; exit 1; }
		n=$((n + 1))
	done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
echo "fuzz: $n targets ran $t each without a failure"
