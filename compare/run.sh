#!/usr/bin/env bash
# The whole comparison in one go: the speed benchmark (retroprop), this crate (candle, dfdx) and
# peers.py (PyTorch, JAX), back to back, then one table of every figure beside retroprop's with
# the ratios retroprop / peer (compare/join.py).
#
#     compare/run.sh                  # every row
#     compare/run.sh W4               # rows whose name contains "W4" (passed to all three)
#     PYTHON=/path/to/venv/bin/python compare/run.sh
#
# PYTHON (default: python3) must have compare/requirements.txt installed. CARGO_TARGET_DIR, if
# set, is the benchmark's; the compare crate keeps its own (compare/target, or
# COMPARE_TARGET_DIR), so that one setting never rebuilds candle and dfdx elsewhere. The outputs
# of the three programs are kept in a temporary directory, printed at the end. CI never runs
# this.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
out=$(mktemp -d "${TMPDIR:-/tmp}/retroprop-compare.XXXXXX")
filter=("$@")

echo "== benchmark (cargo bench --bench speed -- --passes 3)" >&2
(cd "$root" && cargo bench --bench speed -- --passes 3 --rows "${filter[@]}") | tee "$out/bench.txt"

echo "== compare crate (candle, dfdx)" >&2
(cd "$root/compare" && CARGO_TARGET_DIR="${COMPARE_TARGET_DIR:-$root/compare/target}" \
    cargo run --release --quiet -- --rows "${filter[@]}") | tee "$out/compare.txt"

echo "== peers.py (PyTorch, JAX)" >&2
"$python" "$root/compare/peers.py" --rows "${filter[@]}" | tee "$out/peers.txt"

echo
"$python" "$root/compare/join.py" "$out/bench.txt" "$out/compare.txt" "$out/peers.txt" | tee "$out/table.txt"
echo "(outputs in $out)" >&2
