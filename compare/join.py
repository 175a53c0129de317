#!/usr/bin/env python3
"""Joins the `ROW<TAB>framework<TAB>row<TAB>samples/s` lines of the benchmark, the compare crate
and peers.py (files given as arguments) into one table: retroprop's figure from the benchmark,
each peer's figure and retroprop / peer. Standard library only (called by compare/run.sh)."""

import datetime
import os
import sys

# Column order; frameworks not in the input are left out.
PEERS = ["candle", "dfdx", "pytorch", "jax jit", "jax scan"]


def cpu_description():
    """`AMD EPYC (family 25 model 1 = Zen 3), AVX2, no AVX-512, 2 cores` from /proc/cpuinfo."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown CPU"
    name = info.get("model name", "unknown CPU")
    family, model = info.get("cpu family"), info.get("model")
    core = ""
    if info.get("vendor_id") == "AuthenticAMD" and family and model:
        f, m = int(family), int(model)
        if f == 23:
            core = "Zen 2" if m >= 0x30 else "Zen / Zen+"
        elif f == 25:
            core = "Zen 4" if (0x10 <= m <= 0x1F or 0x60 <= m <= 0x7F or 0xA0 <= m <= 0xAF) else "Zen 3"
        elif f == 26:
            core = "Zen 5"
    if family and model:
        name += f" (family {family} model {model}" + (f" = {core})" if core else ")")
    flags = info.get("flags", "").split()
    simd = "AVX2" if "avx2" in flags else "no AVX2"
    simd += ", AVX-512" if "avx512f" in flags else ", no AVX-512"
    return f"{name}, {simd}, {os.cpu_count()} cores"


def main(paths):
    figures = {}  # (framework, row) -> samples/s
    order = []  # the benchmark's rows, in its order
    headers = []
    for path in paths:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if parts[0] == "ROW" and len(parts) == 4:
                    _, framework, row, value = parts
                    figures[(framework, row)] = float(value)
                    if framework == "retroprop" and row not in order:
                        order.append(row)
                elif line.startswith(("sgemm", "candle ", "torch ")):
                    headers.append(line.strip())
    peers = [p for p in PEERS if any(k[0] == p for k in figures)]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now}; {cpu_description()}; one thread, f32; samples/s (steps/s at batch 1)")
    for h in headers:
        print(h)
    print()
    width = max([len(r) for r in order] + [8]) + 1
    print(f"{'workload':<{width}}{'retroprop':>11}" + "".join(f"{p:>20}" for p in peers))
    for row in order:
        ours = figures[("retroprop", row)]
        # The step_each rows stand against the peers' batch-1 steps (they have no such API).
        peer_row = row.removesuffix(", step_each")
        line = f"{row:<{width}}{ours:>11.0f}"
        for p in peers:
            theirs = figures.get((p, peer_row))
            cell = "-" if theirs is None else f"{theirs:.0f} {ours / theirs:6.1f}x"
            line += f"{cell:>20}"
        print(line)
    print("\nEach peer column: the peer's figure and retroprop / peer. retroprop's figures are the")
    print("benchmark's; the step_each rows are against each peer's batch-1 training step.")
    own = [(row, figures[("retroprop (compare)", row)]) for row in order if ("retroprop (compare)", row) in figures]
    if own:
        print("retroprop inside the compare crate's run (same code, another moment):")
        for row, value in own:
            print(f"  {row:<{width}}{value:>11.0f}  ({value / figures[('retroprop', row)]:.2f} of the benchmark's)")


if __name__ == "__main__":
    main(sys.argv[1:])
