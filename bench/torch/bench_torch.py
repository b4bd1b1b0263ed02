#!/usr/bin/env python3
"""The same measurements as attnzoo's, in PyTorch, for `make bench-torch` (optional: needs python3-torch).

Prints one JSON object per line on stdout, e.g.
  {"what": "attention", "impl": "torch", "n": 4096, "causal": false, "seconds": 1.7, "peak_mib": 1510.0}
  {"what": "train_step", "impl": "torch", "seconds": 2.0}
  {"what": "lm_step", "impl": "torch", "n": 512, "batch": 16, "seconds": 1.1, "tokens_per_s": 7400.0, ...}

    attention:  exact softmax attention forward + backward, B=1, H=4, d=64 (materialised, as a user writes it:
                softmax(q kᵀ/√d) v), median of a few runs; peak memory = growth of the process's max RSS,
                measured in a fresh subprocess per n.
    train_step: a ListOps-sized step (B=32, n=512, d_model=64, 4 heads, 2 layers, pre-LN encoder, mean pool,
                10 classes, AdamW): forward, backward and optimiser update.
    lm_step:    one training step of attnzoo's causal byte LM (lm::ByteLM, as `attnzoo lm train` takes it): bytes
                (vocabulary 256), d_model 128, 4 heads, 2 layers, d_ff 512, pre-LN, exact-erf GELU, final LN, head
                to 256 logits; cross-entropy over every position, backward, clipping at 1, AdamW. 8192 bytes per
                step (n=512: B=16; n=2048: B=4); tokens/s = 8192 / median of 4 steps after 1 warm-up step.
                Attention is PyTorch 1.13's fastest exact causal kernel,
                torch.nn.functional._scaled_dot_product_attention(..., is_causal=True) (on the CPU its math path:
                softmax(q kᵀ/√d) v with the n×n scores materialised; measured a little faster than writing it out
                here); where a torch lacks it, the same written out with matmul, masked_fill and softmax.
    decode:     greedy generation with the same LM (context t + tokens) and a KV cache written the usual way (as
                Hugging Face's GPT-2 does): the prompt of t random bytes in one forward pass that returns every
                layer's keys and values (not timed), then per token: embed it at its position, each block appends
                its k, v to the cache with torch.cat and attends with its one query, the logits' argmax.
                tokens/s = tokens / their wall time, median of 3 runs; under torch.no_grad().
Both use the same thread count as attnzoo (2 by default, or ATTNZOO_THREADS).
usage: bench_torch.py [n-list]  |  --one N CAUSAL (one attention size)  |  --train-only (the training step)
       |  --lm-only [n-list] (the LM step at each context, default 512,2048)
       |  --decode-only T TOKENS (greedy decoding with a KV cache after T bytes, default 1024 64)
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


LM_BYTES_PER_STEP = 8192  # B·n at every context, as bench/lm_step.cpp


def causal_attention(q, k, v):
    """(B, H, n, d) -> (B, H, n, d): exact causal softmax attention, by PyTorch's fastest exact kernel at hand."""
    sdpa = getattr(torch.nn.functional, "_scaled_dot_product_attention", None)
    if sdpa is not None:  # torch 1.13: (q, k, v, attn_mask, dropout_p, need_attn_weights, is_causal) -> (out, w)
        return sdpa(q, k, v, None, 0.0, False, True)[0]
    n = q.shape[-2]
    s = (q @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
    s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, -1) @ v


class LMBlock(torch.nn.Module):
    """x + Attn(LN(x)), x + MLP(LN(x)): attention/transformer.h's pre-LN block (tests/reference/lm_parity.py)."""

    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.w_q, self.w_k, self.w_v, self.w_o = (torch.nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = torch.nn.Linear(d, d_ff), torch.nn.Linear(d_ff, d)

    def forward(self, x):  # (B, n, d)
        B, n, d = x.shape
        h = self.ln1(x)
        q, k, v = (w(h).view(B, n, self.heads, -1).transpose(1, 2) for w in (self.w_q, self.w_k, self.w_v))
        a = causal_attention(q, k, v).transpose(1, 2).reshape(B, n, d)   # (B, n, d)
        x = x + self.w_o(a)
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))  # exact-erf GELU (the default)


class ByteLM(torch.nn.Module):
    """lm::ByteLM's causal network: token + position embeddings, pre-LN blocks, final LN, head to 256 logits."""

    def __init__(self, n, d=128, heads=4, layers=2, d_ff=512, vocab=256):
        super().__init__()
        self.tokens, self.positions = torch.nn.Embedding(vocab, d), torch.nn.Embedding(n, d)
        self.blocks = torch.nn.ModuleList([LMBlock(d, heads, d_ff) for _ in range(layers)])
        self.ln_final, self.head = torch.nn.LayerNorm(d), torch.nn.Linear(d, vocab)

    def forward(self, ids):  # (B, n) -> (B, n, 256)
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_final(x))


def lm_step(n, steps=4, warmup=1):
    """{median step, forward + loss, backward, clip + AdamW} seconds of the LM's training step at context n."""
    torch.manual_seed(0)
    B = LM_BYTES_PER_STEP // n
    model = ByteLM(n)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.01)
    ids = torch.randint(0, 256, (B, n))
    targets = torch.randint(0, 256, (B * n,))
    times = {"seconds": [], "forward": [], "backward": [], "update": []}
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(ids).reshape(B * n, 256), targets)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        t3 = time.perf_counter()
        if i >= warmup:
            for k, t in (("seconds", t3 - t0), ("forward", t1 - t0), ("backward", t2 - t1), ("update", t3 - t2)):
                times[k].append(t)
    out = {"what": "lm_step", "impl": "torch", "n": n, "batch": B}
    out.update({k: median(v) for k, v in times.items()})
    out["tokens_per_s"] = LM_BYTES_PER_STEP / out["seconds"]
    return out


def decode_tokens_per_s(t, tokens, repeats=3):
    """{tokens/s, seconds} of greedy decoding with a KV cache after a prompt of t bytes (see the docstring)."""
    torch.manual_seed(0)
    model = ByteLM(t + tokens).eval()
    prompt = torch.randint(0, 256, (1, t))

    def block_step(b, x, cache):  # x (1, m, d): m new positions; cache: [k, v] (1, H, seen, dh) or None
        _, m, d = x.shape
        h = b.ln1(x)
        q, k, v = (w(h).view(1, m, b.heads, -1).transpose(1, 2) for w in (b.w_q, b.w_k, b.w_v))
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5                     # (1, H, m, seen + m)
        if m > 1:  # the prompt: causal within it
            s = s.masked_fill(torch.ones(m, m, dtype=torch.bool).triu(1), float("-inf"))
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(1, m, d)
        x = x + b.w_o(a)
        return x + b.fc2(torch.nn.functional.gelu(b.fc1(b.ln2(x)))), [k, v]

    def forward(ids, start, caches):  # ids (1, m) at positions start.. -> last logits, new caches
        x = model.tokens(ids) + model.positions(torch.arange(start, start + ids.shape[1]))
        new = []
        for b, c in zip(model.blocks, caches):
            x, kv = block_step(b, x, c)
            new.append(kv)
        return model.head(model.ln_final(x[:, -1])), new

    times = []
    with torch.no_grad():
        for _ in range(repeats):
            logits, caches = forward(prompt, 0, [None] * len(model.blocks))
            t0 = time.perf_counter()
            for i in range(tokens):
                nxt = logits.argmax(-1, keepdim=True)                         # (1, 1)
                logits, caches = forward(nxt, t + i, caches)
            times.append(time.perf_counter() - t0)
    sec = median(times)
    return {"what": "decode", "impl": "torch", "t": t, "tokens": tokens, "seconds": sec, "tokens_per_s": tokens / sec}


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--one":  # child process: one attention size
        n, causal = int(sys.argv[2]), sys.argv[3] == "1"
        sec, mib = attention_once(n, causal, reps=3 if n <= 4096 else 1)
        print(json.dumps({"what": "attention", "impl": "torch", "n": n, "causal": causal, "seconds": sec, "peak_mib": mib}))
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--train-only":  # the training step alone (compare.py's rounds)
        print(json.dumps({"what": "train_step", "impl": "torch", "seconds": train_step_seconds()}), flush=True)
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--decode-only":  # greedy decoding alone (compare.py's rounds)
        t = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
        tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 64
        print(f"torch decode t={t}, {tokens} greedy tokens ...", file=sys.stderr, flush=True)
        print(json.dumps(decode_tokens_per_s(t, tokens)), flush=True)
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--lm-only":  # the LM step alone (compare.py's rounds)
        for n in [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "512,2048").split(",")]:
            print(f"torch lm step n={n} ...", file=sys.stderr, flush=True)
            print(json.dumps(lm_step(n)), flush=True)
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
    for n in (512, 2048):
        print(f"torch lm step n={n} ...", file=sys.stderr, flush=True)
        print(json.dumps(lm_step(n)), flush=True)


if __name__ == "__main__":
    main()
