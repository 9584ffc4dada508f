#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each (default
# 10s) and prints the executions each reached.
set -euo pipefail
t=${1:-10s}
n=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while IFS= read -r f; do
	dir=$(dirname "$f")
	for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "./$dir" >"$log" 2>&1; then
			cat "$log"
			echo "fuzz: ./$dir $name FAILED"
			exit 1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		echo "fuzz ./$dir $name: ${execs:-?} executions in $t, no failure"
		n=$((n + 1))
	done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
echo "fuzz: $n targets ran $t each without a failure"
