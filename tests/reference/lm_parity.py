#!/usr/bin/python3
"""tests/reference/lm_parity.py — rebuild an attnzoo byte-level language model in PyTorch and check its logits.

The interop proof of `attnzoo lm train`: model.safetensors and config.json are all another framework needs.
This script reads both with a few lines of NumPy (no `safetensors` package), builds the same network in PyTorch —
token + position embeddings, pre-LN blocks x + Attn(LN(x)), x + MLP(LN(x)) with exact-erf GELU, a final LN, a
linear head to 256 byte logits — runs it on the window that `attnzoo lm eval --logits` saved, and compares.

Exact attention only (schemes full and flash: softmax(q kᵀ/√d) v, causal or not). The efficient schemes differ
from it by design; attnzoo's own tests compare each with dense attention.

    /usr/bin/python3 tests/reference/lm_parity.py BUILD_DIR     # trains a tiny model with BUILD_DIR/attnzoo
    /usr/bin/python3 tests/reference/lm_parity.py BUILD_DIR --model DIR --text FILE

Exit status 0 when the largest |difference| of the logits is below 1e-3 (float32, two implementations), 1 when
it is not, 2 when PyTorch is missing or the input is unusable.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:  # the suite runs without PyTorch; this check needs it
    print(f"lm_parity: skipped: {e.name} is not installed (make deps-torch installs python3-torch, python3-numpy)")
    sys.exit(2)


def read_safetensors(path):
    """{name: np.ndarray} and the metadata, from the format's definition: u64 header length, JSON, raw data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": "<f4", "I64": "<i8"}
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtypes[t["dtype"]]).reshape(t["shape"])
    return tensors, meta


class ByteLM(torch.nn.Module):
    """The network of lm/model.h and attention/transformer.h, in PyTorch, for exact attention."""

    def __init__(self, cfg, weights):
        super().__init__()
        self.cfg = cfg
        self.w = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def layer_norm(self, x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[name + ".gamma"], self.w[name + ".beta"], 1e-5)

    def forward(self, ids):  # ids (B, n) -> logits (B, n, 256)
        cfg, p = self.cfg, "net.encoder."
        B, n = ids.shape
        H, d_model = cfg["n_heads"], cfg["d_model"]
        x = self.w[p + "tokens.weight"][ids] + self.w[p + "positions.weight"][:n]
        for i in range(cfg["n_layers"]):
            b = f"{p}block{i}."
            h = self.layer_norm(x, b + "ln1")
            q, k, v = (self.linear(h, b + "attn." + w).view(B, n, H, -1).transpose(1, 2) for w in ("w_q", "w_k", "w_v"))
            s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5            # (B, H, n, n)
            if cfg["objective"] == "causal":
                s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
            a = torch.softmax(s, -1) @ v                                 # (B, H, n, d)
            x = x + self.linear(a.transpose(1, 2).reshape(B, n, d_model), b + "attn.w_o")
            h = self.layer_norm(x, b + "ln2")
            x = x + self.linear(torch.nn.functional.gelu(self.linear(h, b + "mlp.fc1")), b + "mlp.fc2")
        return self.linear(self.layer_norm(x, p + "ln_final"), "net.head")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    build = argv[1]
    cli = os.path.join(build, "attnzoo")
    work = tempfile.mkdtemp(prefix="lm_parity_")
    if "--model" in argv:
        model_dir, text = argv[argv.index("--model") + 1], argv[argv.index("--text") + 1]
    else:  # a tiny model on a made-up text, trained for a few steps: enough to make the weights non-trivial
        text = os.path.join(work, "text.txt")
        with open(text, "w") as f:
            for i in range(400):
                f.write(f"  {i} the light was good and he said unto them {i * 7 % 13}.\n")
        model_dir = os.path.join(work, "model")
        subprocess.run([cli, "lm", "train", "--corpus", text, "--scheme", "flash", "--context", "64", "--d-model",
                        "32", "--heads", "4", "--layers", "2", "--steps", "10", "--batch", "4", "--eval-every", "10",
                        "--progress", "quiet", "--no-compressors", "--out", model_dir], check=True,
                       stdout=subprocess.DEVNULL)
    logits_path = os.path.join(work, "logits.npy")
    subprocess.run([cli, "lm", "eval", "--model", model_dir, "--text", text, "--logits", logits_path], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg["scheme"] not in ("full", "flash"):
        print(f"lm_parity: the model's scheme is {cfg['scheme']}; this check rebuilds exact attention only "
              "(full, flash)")
        return 2
    weights, meta = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    assert json.loads(meta["config"]) == cfg, "the config in the safetensors metadata differs from config.json"
    ours = np.load(logits_path)
    ids = torch.from_numpy(np.load(logits_path + ".inputs.npy"))
    with torch.no_grad():
        theirs = ByteLM(cfg, weights)(ids).numpy()
    diff = float(np.abs(theirs - ours).max())
    scale = float(np.abs(ours).max())
    ok = ours.shape == theirs.shape and diff < 1e-3
    print(f"lm_parity: {cfg['scheme']} {cfg['objective']} LM, {len(weights)} tensors, logits {ours.shape}: "
          f"max |attnzoo - PyTorch| = {diff:.2e} (logits up to {scale:.2f}) -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
