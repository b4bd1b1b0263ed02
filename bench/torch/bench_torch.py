#!/usr/bin/env python3
"""The same measurements as attnzoo's, in PyTorch, for `make bench-torch` (optional: needs python3-torch).

Prints one JSON object per line on stdout, e.g.
  {"what": "attention", "impl": "torch", "n": 4096, "causal": false, "seconds": 1.7, "peak_mib": 1510.0}
  {"what": "train_step", "impl": "torch", "seconds": 2.0}

    attention:  exact softmax attention forward + backward, B=1, H=4, d=64 (materialised, as a user writes it:
                softmax(q kᵀ/√d) v), median of a few runs; peak memory = growth of the process's max RSS,
                measured in a fresh subprocess per n.
    train_step: a ListOps-sized step (B=32, n=512, d_model=64, 4 heads, 2 layers, pre-LN encoder, mean pool,
                10 classes, AdamW): forward, backward and optimiser update.
Both use the same thread count as attnzoo (2 by default, or ATTNZOO_THREADS).
usage: bench_torch.py [n-list]  |  --one N CAUSAL (one attention size)  |  --train-only (the training step)
"""
import json
import os
import resource
import subprocess
import sys
import time

import torch

THREADS = int(os.environ.get("ATTNZOO_THREADS", "2"))
torch.set_num_threads(THREADS)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def attention_once(n, causal, reps):
    torch.manual_seed(0)
    B, H, d = 1, 4, 64
    q, k, v = (torch.randn(B, H, n, d, requires_grad=True) for _ in range(3))
    g = torch.randn(B, H, n, d)
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), 1) if causal else None

    def step():
        s = (q @ k.transpose(-1, -2)) / d ** 0.5
        if mask is not None:
            s = s.masked_fill(mask, float("-inf"))
        out = torch.softmax(s, -1) @ v
        (out * g).sum().backward()
        q.grad = k.grad = v.grad = None

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return median(times), (rss1 - rss0) / 1024.0  # ru_maxrss is in KiB on Linux


class Block(torch.nn.Module):
    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.attn = torch.nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(d, d_ff), torch.nn.GELU(), torch.nn.Linear(d_ff, d))

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


def train_step_seconds(reps=5):
    torch.manual_seed(0)
    B, n, d, heads, layers, vocab, classes = 32, 512, 64, 4, 2, 20, 10
    emb, pos = torch.nn.Embedding(vocab, d), torch.nn.Embedding(n, d)
    blocks = torch.nn.ModuleList([Block(d, heads, 128) for _ in range(layers)])
    ln, head = torch.nn.LayerNorm(d), torch.nn.Linear(d, classes)
    params = [p for m in (emb, pos, blocks, ln, head) for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3)
    ids = torch.randint(0, vocab, (B, n))
    labels = torch.randint(0, classes, (B,))

    def step():
        x = emb(ids) + pos(torch.arange(n))
        for b in blocks:
            x = b(x)
        loss = torch.nn.functional.cross_entropy(head(ln(x).mean(1)), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return median(times)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--one":  # child process: one attention size
        n, causal = int(sys.argv[2]), sys.argv[3] == "1"
        sec, mib = attention_once(n, causal, reps=3 if n <= 4096 else 1)
        print(json.dumps({"what": "attention", "impl": "torch", "n": n, "causal": causal, "seconds": sec, "peak_mib": mib}))
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--train-only":  # the training step alone (compare.py's rounds)
        print(json.dumps({"what": "train_step", "impl": "torch", "seconds": train_step_seconds()}), flush=True)
        return
    ns = [int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "1024,2048,4096,8192").split(",")]
    for n in ns:
        print(f"torch attention n={n} ...", file=sys.stderr, flush=True)
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "0"], capture_output=True, text=True)
        if out.returncode != 0:
            print(json.dumps({"what": "attention", "impl": "torch", "n": n, "error": out.stderr.strip()[-200:]}))
        else:
            print(out.stdout.strip(), flush=True)
    print("torch train step ...", file=sys.stderr, flush=True)
    print(json.dumps({"what": "train_step", "impl": "torch", "seconds": train_step_seconds()}), flush=True)


if __name__ == "__main__":
    main()
