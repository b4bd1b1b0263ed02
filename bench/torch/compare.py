#!/usr/bin/env python3
"""`make bench-torch`: attnzoo vs PyTorch in the same run, as ratios (the machine is shared and noisy).

Runs bench/torch/bench_torch.py (PyTorch) and build/bench/train_step (attnzoo) in alternation, ROUNDS times: in each
round, for each n, PyTorch's attention then ours, then PyTorch's training step then ours. A speed-up is the ratio
of the two measurements of one round, taken back to back, so that a slow minute of this shared machine hits both
sides; the table gives the median ratio over the rounds and its range. Writes out/bench/torch.md (and every raw
measurement to out/bench/torch.csv) and prints the table:
  - exact attention forward+backward (B=1, H=4, d=64): seconds and peak MiB per n, speed-up of full and flash
    over PyTorch, and flash's useful FLOP/s (12·n²·d·H per forward+backward) as a share of the machine's peak;
  - the ListOps-sized training step: seconds and speed-up;
  - the byte LM's training step (lm::ByteLM, bench/lm_step.cpp; 8192 bytes per step) at contexts 512 and 2048:
    tokens/s of both, the speed-up against its target (LM_TARGETS: issue 15) and whether it is met, and the step's
    phases (forward + loss, backward, clip + AdamW), so that a shortfall shows where the time goes;
  - greedy decoding with the same LM and a KV cache (bench/decode_step.cpp; PyTorch's cache written the usual way,
    with torch.cat) after a prompt of 1024 bytes: tokens/s of both and the speed-up against its target
    (DECODE_TARGET: issue 17).
usage: compare.py BUILD_DIR OUT_DIR [n-list] [--rounds R] [--lm-only | --decode-only]  (R: 3, or ATTNZOO_ROUNDS)
       --lm-only: the LM step alone (~2 minutes), written to OUT_DIR/torch_lm.md and torch_lm.csv
       --decode-only: the decoding comparison alone (~1 minute), to OUT_DIR/torch_decode.md and .csv
       (needs python3-torch; exits 0 with a note when it is missing)
"""
import csv
import json
import os
import statistics
import subprocess
import sys

LM_CONTEXTS = (512, 2048)
LM_TARGETS = {512: 3.0, 2048: 5.0}  # speed-up over PyTorch the LM step aims at (issue 15, "Performance")
DECODE_T, DECODE_TOKENS = 1024, 64   # greedy decoding after a prompt of DECODE_T bytes, DECODE_TOKENS timed
DECODE_TARGET = 2.0                  # speed-up of attnzoo's tokens/s over PyTorch's the decoding aims at (issue 17)


def machine_peak(out_dir):
    """This machine's fp32 peak (GFLOP/s) and where it came from: the fastest raw cblas_sgemm of `make bench`'s
    OUT/bench/ops.csv (bench/ops.cpp, same OUT), else ATTNZOO_PEAK_GFLOPS, else unknown (None): a fixed number
    would be another machine's."""
    path = os.path.join(out_dir, "ops.csv")
    if os.path.exists(path):
        with open(path, newline="") as f:
            raw = [float(r["raw_sgemm_gflops"]) for r in csv.DictReader(f) if float(r["raw_sgemm_gflops"] or 0) > 0]
        if raw:
            return max(raw), f"the fastest raw cblas_sgemm in {path}"
    if os.environ.get("ATTNZOO_PEAK_GFLOPS"):
        return float(os.environ["ATTNZOO_PEAK_GFLOPS"]), "ATTNZOO_PEAK_GFLOPS"
    return None, "unknown (run `make bench` first, or set ATTNZOO_PEAK_GFLOPS)"


def lines(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    if out.returncode != 0:
        raise SystemExit(f"compare: {' '.join(cmd)} failed with status {out.returncode}")
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def max_rss_mib(cmd):
    """The whole peak resident memory of a child process running cmd (MiB): code, libraries, buffers and all."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"compare: {' '.join(cmd)} failed with status {proc.returncode}")
    return usage.ru_maxrss / 1024.0  # KiB on Linux


def ratio_cell(ratios):
    """'3.1× (2.8–3.4)': the median over the rounds and the range."""
    if not ratios:
        return "–"
    med = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{med:.1f}×"
    return f"{med:.1f}× ({min(ratios):.1f}–{max(ratios):.1f})"


def parse_args(argv):
    if len(argv) < 3:
        raise SystemExit("usage: compare.py BUILD_DIR OUT_DIR [n-list] [--rounds R]")
    build, out_dir, rest = argv[1], argv[2], argv[3:]
    ns, rounds = "1024,2048,4096,8192", int(os.environ.get("ATTNZOO_ROUNDS", "3"))
    lm_only = decode_only = False
    i = 0
    while i < len(rest):
        if rest[i] == "--lm-only":
            lm_only = True
            i += 1
        elif rest[i] == "--decode-only":
            decode_only = True
            i += 1
        elif rest[i] == "--rounds" and i + 1 < len(rest):
            rounds = int(rest[i + 1])
            i += 2
        else:
            ns = rest[i]
            i += 1
    if rounds < 1:
        raise SystemExit(f"compare: --rounds must be >= 1, got {rounds}")
    return build, out_dir, [int(x) for x in ns.split(",")], rounds, lm_only, decode_only


def lm_table(rows, rounds):
    """The LM step's section of the report: tokens/s per context, speed-up vs target, and the phases."""
    def runs(impl, n):
        return {x["round"]: x for x in rows if x["what"] == "lm_step" and x["impl"] == impl and x["n"] == n}

    md = [f"Byte LM training step (lm::ByteLM, causal, d_model 128, 4 heads, 2 layers, d_ff 512; 8192 bytes per "
          "step; forward, cross-entropy over every position, backward, clipping, AdamW); attnzoo with scheme flash, "
          "PyTorch with its fastest exact causal attention (_scaled_dot_product_attention, is_causal=True); "
          f"{rounds} rounds, each PyTorch then attnzoo back to back per context. tokens/s = 8192 / median step "
          "(median over the rounds); speed-up: median of the rounds' ratios (range).", "",
          "| context | batch | PyTorch tokens/s | attnzoo tokens/s | speed-up | target | met |",
          "|---|---|---|---|---|---|---|"]
    phases = ["", "Where a step's time goes (ms, median over the rounds): forward + loss / backward / clip + AdamW.",
              "", "| context | PyTorch | attnzoo |", "|---|---|---|"]
    for n in LM_CONTEXTS:
        t, o = runs("torch", n), runs("attnzoo-flash", n)
        r = [t[k]["seconds"] / o[k]["seconds"] for k in t if k in o]
        tok = lambda s: f"{statistics.median(x['tokens_per_s'] for x in s.values()):.0f}" if s else "–"
        batch = next(iter((t or o).values()), {}).get("batch", "–")
        met = "–" if not r else ("yes" if statistics.median(r) >= LM_TARGETS[n] else "no")
        md.append(f"| {n} | {batch} | {tok(t)} | {tok(o)} | {ratio_cell(r)} | ≥ {LM_TARGETS[n]:.0f}× | {met} |")

        def split(s):
            if not s:
                return "–"
            return " / ".join(f"{statistics.median(x[k] for x in s.values())*1e3:.0f}"
                              for k in ("forward", "backward", "update"))
        phases.append(f"| {n} | {split(t)} | {split(o)} |")
    return md + phases


def lm_rounds(build, rounds):
    """The LM step, ROUNDS times: per context, PyTorch then attnzoo back to back."""
    here = os.path.dirname(os.path.abspath(__file__))
    rows = []
    for r in range(1, rounds + 1):
        for n in LM_CONTEXTS:
            print(f"round {r}/{rounds}: LM step n={n}, PyTorch then attnzoo ...", file=sys.stderr, flush=True)
            rows += [dict(x, round=r) for x in lines([sys.executable, os.path.join(here, "bench_torch.py"),
                                                      "--lm-only", str(n)])]
            rows += [dict(x, round=r) for x in lines([os.path.join(build, "bench", "lm_step"), "--n", str(n)])]
    return rows


def decode_rounds(build, rounds):
    """Greedy decoding, ROUNDS times: PyTorch then attnzoo back to back."""
    here = os.path.dirname(os.path.abspath(__file__))
    rows = []
    for r in range(1, rounds + 1):
        print(f"round {r}/{rounds}: decoding at t={DECODE_T}, PyTorch then attnzoo ...", file=sys.stderr, flush=True)
        rows += [dict(x, round=r) for x in lines([sys.executable, os.path.join(here, "bench_torch.py"),
                                                  "--decode-only", str(DECODE_T), str(DECODE_TOKENS)])]
        rows += [dict(x, round=r) for x in lines([os.path.join(build, "bench", "decode_step"), "--t", str(DECODE_T),
                                                  "--tokens", str(DECODE_TOKENS)])]
    return rows


def decode_table(rows, rounds):
    """The decoding section: tokens/s of both, the speed-up against its target."""
    t = {x["round"]: x for x in rows if x["what"] == "decode" and x["impl"] == "torch"}
    o = {x["round"]: x for x in rows if x["what"] == "decode" and x["impl"] == "attnzoo-flash"}
    r = [o[k]["tokens_per_s"] / t[k]["tokens_per_s"] for k in t if k in o]
    tok = lambda s: f"{statistics.median(x['tokens_per_s'] for x in s.values()):.0f}" if s else "–"
    met = "–" if not r else ("yes" if statistics.median(r) >= DECODE_TARGET else "no")
    return [f"Greedy decoding with the same byte LM (causal, d_model 128, 4 heads, 2 layers, d_ff 512) and a KV cache, "
            f"batch 1, after a prompt of {DECODE_T} bytes: {DECODE_TOKENS} tokens timed (median of 3 runs per round); "
            "attnzoo: lm::ByteLMDecoder with scheme flash's KV cache; PyTorch: the cache written the usual way "
            f"(torch.cat per token, as Hugging Face's GPT-2), under no_grad. {rounds} rounds, PyTorch then attnzoo "
            "back to back; speed-up: median of the rounds' ratios (range).", "",
            "| t | PyTorch tokens/s | attnzoo tokens/s | speed-up | target | met |", "|---|---|---|---|---|---|",
            f"| {DECODE_T} | {tok(t)} | {tok(o)} | {ratio_cell(r)} | ≥ {DECODE_TARGET:.0f}× | {met} |"]


def write_report(out_dir, stem, rows, text):
    os.makedirs(out_dir, exist_ok=True)
    csv = ["round,what,impl,n,seconds,peak_mib"] + [
        f"{x['round']},{x['what']},{x['impl']},{x.get('n', x.get('t', ''))},{x.get('seconds', '')},{x.get('peak_mib', '')}"
        for x in rows]
    for name, content in ((stem + ".csv", "\n".join(csv) + "\n"), (stem + ".md", text)):
        path = os.path.join(out_dir, name)
        with open(path + ".tmp", "w") as fh:  # written whole, then renamed: never a half-written report
            fh.write(content)
        os.replace(path + ".tmp", path)
    print(text)
    print(f"wrote {os.path.join(out_dir, stem + '.md')} and {stem}.csv")


def main():
    build, out_dir, ns, rounds, lm_only, decode_only = parse_args(sys.argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("bench-torch: python3-torch is not installed (make deps-torch); nothing to compare")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    torch_script = os.path.join(here, "bench_torch.py")
    ours_bin = os.path.join(build, "bench", "train_step")
    if lm_only:
        rows = lm_rounds(build, rounds)
        write_report(out_dir, "torch_lm", rows, "\n".join(lm_table(rows, rounds)) + "\n")
        return
    if decode_only:
        rows = decode_rounds(build, rounds)
        write_report(out_dir, "torch_decode", rows, "\n".join(decode_table(rows, rounds)) + "\n")
        return

    # PyTorch's peak is the growth of its process's max RSS; ours is the bytes of live tensors. To compare like
    # with like, `full` also runs alone once per n in a process of its own, whose WHOLE max RSS (binary, OpenBLAS
    # buffers, q, k, v included) is an upper bound of what it needs: if that is below PyTorch's growth, ours is.
    full_rss = {}
    for n in ns:
        print(f"n={n}: attnzoo full alone, for its process's max RSS ...", file=sys.stderr, flush=True)
        full_rss[n] = max_rss_mib([ours_bin, "--n", str(n), "--schemes", "full", "--no-train"])

    rows = []  # every measurement, tagged with its round
    for r in range(1, rounds + 1):
        for n in ns:
            print(f"round {r}/{rounds}: n={n} PyTorch, then attnzoo full and flash ...", file=sys.stderr, flush=True)
            rows += [dict(x, round=r) for x in lines([sys.executable, torch_script, "--one", str(n), "0"])]
            rows += [dict(x, round=r) for x in lines([ours_bin, "--n", str(n), "--schemes", "full,flash", "--no-train"])]
        print(f"round {r}/{rounds}: training step, PyTorch then attnzoo ...", file=sys.stderr, flush=True)
        rows += [dict(x, round=r) for x in lines([sys.executable, torch_script, "--train-only"])]
        rows += [dict(x, round=r) for x in lines([ours_bin, "--no-attention"])]
    rows += lm_rounds(build, rounds)
    rows += decode_rounds(build, rounds)

    def seconds(what, impl, n=None):
        """{round: seconds} of one implementation."""
        return {x["round"]: x["seconds"] for x in rows
                if x["what"] == what and x["impl"] == impl and x.get("n") == n and "seconds" in x}

    def ratios(base, other):
        return [base[r] / other[r] for r in base if r in other]

    def peak(impl, n):
        return max((x["peak_mib"] for x in rows if x["what"] == "attention" and x["impl"] == impl and x["n"] == n
                    and "peak_mib" in x), default=None)

    peak_gflops, peak_source = machine_peak(out_dir)
    md = [f"Exact attention forward + backward, B=1, H=4, d=64, 2 threads; {rounds} rounds, each PyTorch then "
          "attnzoo back to back. Times: median over the rounds (each a median of a few repetitions); speed-up: "
          "median of the rounds' ratios (range). MiB: PyTorch, growth of the process's max RSS; attnzoo, peak bytes "
          "of live tensors; and, like for like, the whole max RSS of a process running attnzoo full alone. "
          + (f"Peak: {peak_gflops:.0f} GFLOP/s, {peak_source}." if peak_gflops else f"Peak: {peak_source}."),
          "", "| n | PyTorch | attnzoo full | attnzoo flash | full: process max RSS | full speed-up | flash speed-up | "
          "flash GFLOP/s (share of peak) |", "|---|---|---|---|---|---|---|---|"]
    for n in ns:
        t, f, fl = (seconds("attention", i, n) for i in ("torch", "attnzoo-full", "attnzoo-flash"))

        def cell(s, impl):
            return f"{statistics.median(s.values())*1e3:.0f} ms, {peak(impl, n):.0f} MiB" if s else "–"

        gf = "–"
        if fl:
            g = 12.0 * n * n * 64 * 4 / statistics.median(fl.values()) / 1e9
            gf = f"{g:.0f} ({100*g/peak_gflops:.0f}%)" if peak_gflops else f"{g:.0f}"
        md.append(f"| {n} | {cell(t, 'torch')} | {cell(f, 'attnzoo-full')} | {cell(fl, 'attnzoo-flash')} | "
                  f"{full_rss[n]:.0f} MiB | {ratio_cell(ratios(t, f))} | {ratio_cell(ratios(t, fl))} | {gf} |")
    ts, ours = seconds("train_step", "torch"), seconds("train_step", "attnzoo-flash")
    md += ["", "ListOps-sized training step (B=32, n=512, d_model=64, 4 heads, 2 layers, AdamW):", "",
           "| | seconds per step (median over rounds) | speed-up |", "|---|---|---|"]
    if ts:
        md.append(f"| torch | {statistics.median(ts.values()):.3f} | 1.0× |")
    if ours:
        md.append(f"| attnzoo-flash | {statistics.median(ours.values()):.3f} | {ratio_cell(ratios(ts, ours))} |")
    md += [""] + lm_table(rows, rounds) + [""] + decode_table(rows, rounds)
    write_report(out_dir, "torch", rows, "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
