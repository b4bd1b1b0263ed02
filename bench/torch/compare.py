#!/usr/bin/env python3
"""`make bench-torch`: attnzoo vs PyTorch in the same run, as ratios (the machine is shared and noisy).

Runs bench/torch/bench_torch.py (PyTorch) and build/bench/train_step (attnzoo) one after the other, then writes
out/bench/torch.md and prints it:
  - exact attention forward+backward (B=1, H=4, d=64): seconds and peak MiB per n, speed-up of full and flash
    over PyTorch, and flash's useful FLOP/s (12·n²·d·H per forward+backward) as a share of the machine's peak;
  - the ListOps-sized training step: seconds and speed-up.
usage: compare.py BUILD_DIR OUT_DIR [n-list]      (needs python3-torch; exits 0 with a note when it is missing)
"""
import json
import os
import subprocess
import sys

PEAK_GFLOPS = float(os.environ.get("ATTNZOO_PEAK_GFLOPS", "200"))  # this 2-core AVX-512 machine's fp32 limit


def lines(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    if out.returncode != 0:
        raise SystemExit(f"compare: {' '.join(cmd)} failed with status {out.returncode}")
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def main():
    build, out_dir = sys.argv[1], sys.argv[2]
    ns = sys.argv[3] if len(sys.argv) > 3 else "1024,2048,4096,8192"
    try:
        import torch  # noqa: F401
    except ImportError:
        print("bench-torch: python3-torch is not installed (make deps-torch); nothing to compare")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    torch_rows = lines([sys.executable, os.path.join(here, "bench_torch.py"), ns])
    ours = lines([os.path.join(build, "bench", "train_step"), "--n", ns, "--schemes", "full,flash"])
    att = {}
    for r in torch_rows + ours:
        if r["what"] == "attention" and "seconds" in r:
            att.setdefault(r["n"], {})[r["impl"]] = r
    md = ["Exact attention forward + backward, B=1, H=4, d=64, 2 threads; one run, medians of a few repetitions.",
          "", "| n | PyTorch | attnzoo full | attnzoo flash | full speed-up | flash speed-up | flash GFLOP/s (share of peak) |",
          "|---|---|---|---|---|---|---|"]
    for n in sorted(att):
        t, f, fl = att[n].get("torch"), att[n].get("attnzoo-full"), att[n].get("attnzoo-flash")
        cell = lambda r: f"{r['seconds']*1e3:.0f} ms, {r['peak_mib']:.0f} MiB" if r else "–"
        sp = lambda r: f"{t['seconds']/r['seconds']:.1f}×" if r and t else "–"
        gf = "–"
        if fl:
            g = 12.0 * n * n * 64 * 4 / fl["seconds"] / 1e9
            gf = f"{g:.0f} ({100*g/PEAK_GFLOPS:.0f}%)"
        md.append(f"| {n} | {cell(t)} | {cell(f)} | {cell(fl)} | {sp(f)} | {sp(fl)} | {gf} |")
    steps = {r["impl"]: r["seconds"] for r in torch_rows + ours if r["what"] == "train_step"}
    md += ["", "ListOps-sized training step (B=32, n=512, d_model=64, 4 heads, 2 layers, AdamW):", "",
           "| | seconds per step | speed-up |", "|---|---|---|"]
    for impl, sec in steps.items():
        sp = f"{steps['torch']/sec:.1f}×" if "torch" in steps else "–"
        md.append(f"| {impl} | {sec:.3f} | {sp} |")
    text = "\n".join(md) + "\n"
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "torch.md"), "w") as fh:
        fh.write(text)
    print(text)
    print(f"wrote {os.path.join(out_dir, 'torch.md')}")


if __name__ == "__main__":
    main()
