#!/usr/bin/env python3
"""Golden forward and backward values from PyTorch for attnzoo's ops (tests/test_reference.cpp reads them).

Run with Debian's interpreter and python3-torch:   make reference   (or /usr/bin/python3 tests/reference/make_reference.py)
The tests never need PyTorch: the .npy files this writes are committed.

For every case NAME it writes tests/reference/golden/NAME/:
    x0.npy, x1.npy ...   float32 inputs (differentiable)
    i0.npy ...           int64 inputs (indices, targets), when the op has any
    out.npy              the op's output (float32)
    gout.npy             the upstream gradient used for backward (same shape as out)
    g0.npy, g1.npy ...   d(sum(out * gout))/d x_k computed by torch.autograd (float32)
Inputs come from a seeded NumPy generator, so rerunning reproduces the same files.
"""
import os
import shutil

import numpy as np
import torch

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden")
rng = np.random.default_rng(20261128)


def rand(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def away_from_zero(*shape):
    """Values in [-2, -0.2] U [0.2, 2]: no input sits on a kink (relu, abs) by accident."""
    x = rand(*shape, lo=0.2, hi=2.0)
    sign = np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0).astype(np.float32)
    return x * sign


CASES = []


def case(name, fn, xs, ints=()):
    CASES.append((name, fn, xs, ints))


# ---- elementwise (with broadcasting) ----
case("add_broadcast", lambda a, b: a + b, [rand(2, 3, 4), rand(3, 1)])
case("sub_broadcast", lambda a, b: a - b, [rand(4, 1, 3), rand(5, 3)])
case("mul_broadcast", lambda a, b: a * b, [rand(2, 3, 4), rand(4)])
case("div_broadcast", lambda a, b: a / b, [rand(3, 4), rand(3, 1, lo=0.5, hi=2.0)])
case("pow3", lambda a: a ** 3.0, [rand(3, 4)])
case("sqrt", torch.sqrt, [rand(3, 4, lo=0.1, hi=3.0)])
case("exp", torch.exp, [rand(3, 4)])
case("log", torch.log, [rand(3, 4, lo=0.1, hi=3.0)])
case("abs", torch.abs, [away_from_zero(3, 4)])
case("relu", torch.relu, [away_from_zero(3, 4)])
case("gelu", lambda a: torch.nn.functional.gelu(a), [rand(3, 5, lo=-4, hi=4)])
case("elu", lambda a: torch.nn.functional.elu(a), [away_from_zero(3, 4)])
case("sigmoid", torch.sigmoid, [rand(3, 4, lo=-8, hi=8)])
case("tanh", torch.tanh, [rand(3, 4, lo=-4, hi=4)])
# boundary inputs: exactly 0 for relu/abs (PyTorch's subgradient is 0)
case("relu_at_zero", torch.relu, [np.array([-1.0, 0.0, 0.0, 2.0], dtype=np.float32)])
case("abs_at_zero", torch.abs, [np.array([-1.0, 0.0, 3.0], dtype=np.float32)])

# ---- reductions ----
case("sum_axis1", lambda a: a.sum(dim=1), [rand(2, 3, 4)])
case("sum_axis0_keepdim", lambda a: a.sum(dim=0, keepdim=True), [rand(3, 4)])
case("mean_axis2", lambda a: a.mean(dim=2), [rand(2, 3, 4)])
case("mean_all", lambda a: a.mean(), [rand(3, 4)])
case("max_axis1", lambda a: a.amax(dim=1), [rand(3, 5)])
# ties: two equal maxima share the gradient (amax's convention)
case("max_ties", lambda a: a.amax(dim=1), [np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0]], dtype=np.float32)])

# ---- shape ----
case("permute", lambda a: a.permute(2, 0, 1), [rand(2, 3, 4)])
case("slice_step2", lambda a: a[:, 1:6:2], [rand(3, 7)])
case("concat_axis1", lambda a, b: torch.cat([a, b], dim=1), [rand(2, 3), rand(2, 2)])
case("stack_axis0", lambda a, b: torch.stack([a, b], dim=0), [rand(2, 3), rand(2, 3)])
case("pad_axis1", lambda a: torch.nn.functional.pad(a, (2, 1), value=0.5), [rand(2, 3)])
case("expand", lambda a: a.expand(2, 3, 4), [rand(3, 1)])

# ---- indexing ----
case("gather_axis1", lambda a, i0: torch.gather(a, 1, i0), [rand(3, 5)],
     [np.array([[0, 4, 4], [1, 1, 2], [3, 0, 0]], dtype=np.int64)])
case("index_select_axis0", lambda a, i0: torch.index_select(a, 0, i0), [rand(4, 3)],
     [np.array([3, 0, 3, 1], dtype=np.int64)])
case("scatter_add_axis1", lambda a, b, i0: a.scatter_add(1, i0, b), [rand(2, 4), rand(2, 3)],
     [np.array([[0, 0, 3], [2, 1, 2]], dtype=np.int64)])
case("masked_fill", lambda a, m: a.masked_fill(m > 0, -3.0), [rand(2, 3, 4), np.array([[1, 0, 0, 1]], dtype=np.float32)])
case("where", lambda c, a, b: torch.where(c > 0, a, b),
     [np.array([[1, 0, 1]], dtype=np.float32), rand(2, 3), rand(3)])
case("embedding", lambda w, i0: torch.nn.functional.embedding(i0, w), [rand(5, 3)],
     [np.array([[4, 0, 4], [2, 2, 1]], dtype=np.int64)])

# ---- linear algebra ----
case("matmul", lambda a, b: a @ b, [rand(5, 7), rand(7, 3)])
case("matmul_ta", lambda a, b: a.transpose(-1, -2) @ b, [rand(7, 5), rand(7, 3)])
case("matmul_tb", lambda a, b: a @ b.transpose(-1, -2), [rand(5, 7), rand(3, 7)])
case("matmul_ta_tb", lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2), [rand(2, 7, 5), rand(2, 3, 7)])
case("matmul_batch_broadcast", lambda a, b: a @ b, [rand(2, 1, 4, 6), rand(3, 6, 5)])
case("matmul_shared_weight", lambda a, b: a @ b.transpose(-1, -2), [rand(2, 3, 6), rand(4, 6)])

# ---- neural-net ops ----
case("softmax_last", lambda a: torch.softmax(a, dim=-1), [rand(2, 3, 6)])
case("softmax_axis0", lambda a: torch.softmax(a, dim=0), [rand(4, 3)])
case("softmax_large_logits", lambda a: torch.softmax(a, dim=-1),
     [np.array([[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4, -1e4]], dtype=np.float32)])
case("log_softmax_last", lambda a: torch.log_softmax(a, dim=-1), [rand(3, 5)])
case("layer_norm", lambda a, g, b: torch.nn.functional.layer_norm(a, (6,), g, b, eps=1e-5),
     [rand(2, 3, 6), rand(6), rand(6)])
case("cross_entropy_ignore", lambda a, i0: torch.nn.functional.cross_entropy(a, i0, ignore_index=-100),
     [rand(5, 4)], [np.array([1, -100, 3, 0, 3], dtype=np.int64)])
case("cross_entropy_large_logits", lambda a, i0: torch.nn.functional.cross_entropy(a, i0),
     [np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=np.float32)], [np.array([1, 2], dtype=np.int64)])
case("cumsum_axis1", lambda a: torch.cumsum(a, dim=1), [rand(2, 5, 3)])

# ---- attention (the dense reference): softmax(q kᵀ / sqrt(d)) v, causal ----
def causal_attention(q, k, v):
    n, d = q.shape[-2], q.shape[-1]
    s = (q @ k.transpose(-1, -2)) / d ** 0.5
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    return torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v


case("attention_full", lambda q, k, v: torch.softmax((q @ k.transpose(-1, -2)) / 8 ** 0.5, dim=-1) @ v,
     [rand(1, 2, 5, 8), rand(1, 2, 5, 8), rand(1, 2, 5, 8)])
case("attention_causal", causal_attention, [rand(2, 1, 6, 4), rand(2, 1, 6, 4), rand(2, 1, 6, 4)])


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for name, fn, xs, ints in CASES:
        d = os.path.join(OUT, name)
        os.makedirs(d)
        ts = [torch.tensor(x, requires_grad=True) for x in xs]
        its = [torch.tensor(i) for i in ints]
        out = fn(*ts, *its)
        gout = rng.uniform(-1.0, 1.0, size=tuple(out.shape)).astype(np.float32)
        (out * torch.tensor(gout)).sum().backward()
        for k, x in enumerate(xs):
            np.save(os.path.join(d, f"x{k}.npy"), x)
            g = ts[k].grad
            np.save(os.path.join(d, f"g{k}.npy"), (g if g is not None else torch.zeros_like(ts[k])).numpy())
        for k, i in enumerate(ints):
            np.save(os.path.join(d, f"i{k}.npy"), i)
        np.save(os.path.join(d, "out.npy"), out.detach().numpy().astype(np.float32))
        np.save(os.path.join(d, "gout.npy"), gout)
    print(f"wrote {len(CASES)} cases to {OUT} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
