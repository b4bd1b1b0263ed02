// cli/main.cpp — attnzoo, the command-line tool over the scheme registry (attention/scheme.h).
//
// It lets you use every attention scheme of the course without writing C++:
//   attnzoo list                       what schemes exist, their hyperparameters, what each supports
//   attnzoo show SCHEME ...            draw the attention matrix a scheme applies (and its sparsity pattern)
//   attnzoo run SCHEME --q --k --v ... apply a scheme's kernel to your own .npy tensors (e.g. to cross-check
//                                      against NumPy/PyTorch), optionally with gradients
//   attnzoo lra TASK --scheme S ...    train a Transformer classifier with any scheme on a Long Range Arena task
//                                      (lra/train.h); `lra suite` is `make lra` (lra/suite.h)
//   attnzoo lm train|eval|attention .. pretrain a byte-level language model on real text, score one, show where it
//                                      looks (lm/train.h, lm/attention_maps.h)
//   attnzoo generate --model --prompt  a causal LM writes text one byte at a time, with its attention state cached
//                                      (lm/generate.h)
//
// Legend: B = batch, H = heads, n = number of queries, m = number of keys, d = head size.
//   q: (B, H, n, d)   k, v: (B, H, m, d)   out: (B, H, n, d)   A: (B, H, n, m) with out == A @ v
//
// Error handling is part of the contract: bad input (a missing or malformed file, wrong shapes, an unknown
// scheme, option or setting) prints ONE line "attnzoo: <what is wrong>" to stderr and exits with status 2.
// Nothing is written in that case: every command computes all its results first and writes files last.
//
// One file per command (cli/commands.h); cli/args.h parses options, cli/files.h reads and writes tensors.
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"

namespace cli {
namespace {

const char* const kUsage = R"(attnzoo - efficient attention schemes from the command line

usage:
  attnzoo list
      every scheme: name, summary, paper, hyperparameters with defaults, whether it supports
      causal masking and a sparsity pattern, and its presets for lra and lm

  attnzoo show SCHEME [--n N] [--d D] [--heads H] [--causal] [--seed S] [--set key=value]... [--out FILE.png]
      draw the effective attention A of each head for random q, k, v ~ N(0,1) of shape (1, H, n, d),
      plus the 0/1 sparsity pattern where the scheme has one; prints the path of the PNG
      --n N            sequence length (default 64, at most 4096)
      --d D            head size (default 16)
      --heads H        number of heads (default 2, at most 16)
      --causal         query i may only look at keys j <= i
      --seed S         seed of q, k, v and of the scheme's random parts (default 0)
      --set key=value  a hyperparameter of the scheme (repeatable; see `attnzoo list`)
      --out FILE.png   where to write the figure (default out/show/SCHEME.png)

  attnzoo run SCHEME --q Q.npy --k K.npy --v V.npy --out O.npy [options]
      apply the scheme's kernel alone (no projections) to float32 C-order tensors
      q (B, H, n, d) and k, v (B, H, m, d); writes out (B, H, n, d)
      --causal            query i may only look at keys j <= i
      --seed S            seed of the scheme's random parts (default 0)
      --set key=value     a hyperparameter of the scheme (repeatable)
      --grad-out G.npy    backpropagate G (the shape of out) through the kernel, i.e. the gradients of
      --grads DIR           sum(out * G); writes DIR/dq.npy, DIR/dk.npy, DIR/dv.npy (both options together)
      --save-attn A.npy   the effective attention A (B, H, n, m): out == A @ v
      --save-mask M.npy   the 0/1 sparsity pattern (B, H, n, m), for schemes that have one
      --decode            with --causal: compute out one token at a time through the scheme's decoder
                          (KV cache, ring buffer, recurrent state: see `attnzoo list`); same out, no gradients

  attnzoo bench [--schemes a,b] [--n 1024,2048,4096] [--out DIR] [options]
      time and peak activation memory of each scheme's kernel, forward + backward, on random q, k, v
      of shape (B, H, n, d); one progress line per configuration; writes DIR/attention.csv, .md
      (with the fitted growth exponents) and .png (log-log time and memory vs n)
      --schemes a,b    which schemes (default: every scheme `run` accepts)
      --n 1024,2048    sequence lengths (default 1024,2048,4096)
      --out DIR        where to write (default out/bench)
      --batch B --heads H --d D   shape (default 1, 4, 64)
      --causal         measure the causal variants (schemes without one are skipped)
      --repeats R      timed runs per point, median taken (default 3)
      --seed S         seed of q, k, v and of the schemes' random parts (default 0)
      --no-roofline    skip measuring this machine first (sgemm peak, triad bandwidth: ~2 s); without it,
                       attention.md also gives each point's % of roofline and DIR/roofline.png draws them
                       (roofline = max(FLOPs / peak, compulsory bytes / bandwidth), core/machine.h)
      --thread-speedup time every point with 1 thread too, just before the timing with all of them;
                       attention.md gives each kernel's speed-up (1 thread / all threads)

  attnzoo bench --decode [--schemes a,b] [--t 256,1024] [--long-t 65536] [--out DIR] [options]
      what one generated token costs against the context length t, for every causal scheme: its
      decoder's time per token and state (KV cache, ring buffer, recurrent state) after a prefill of
      t tokens, and the time and peak memory of recomputing the causal kernel over all t + 1 tokens
      instead; writes DIR/decode.csv, .md (exponents, the cache's speed-up, the crossover against
      exact attention with a KV cache) and .png (log-log)
      --t L1,L2        context lengths (default 256,512,...,16384)
      --long-t L1,L2   longer lengths for the schemes whose state is constant in t (default 32768,65536;
                       none = skip)
      --steps N        timed steps per point (default 8); --no-recompute: the decoders only
      --heads H --d D --seed S   as above (batch 1)

  attnzoo lra TASK --scheme S [--steps N] [--seq-len L] [--seed S] [--data PATH] [--init DIR] [--out DIR] [options]
      train the Transformer classifier with attention scheme S on a Long Range Arena task; prints a
      progress line (step, loss, accuracy, steps/s, ETA); the score is the test accuracy of the
      checkpoint with the best validation accuracy; writes DIR/log.csv, curves.png, result.json, result.md
      TASK             listops, pathfinder (--size 16/32/64/128), pathfinder16..pathfinder128, pathx
                       (generated); text, retrieval, image: offline data from Debian packages without
                       --data (which KJV book?, same KJV book?, Fashion-MNIST), the benchmark's own
                       downloaded files with --data PATH
      --scheme S       any scheme of `attnzoo list`; --set key=value for its settings (repeatable)
      --steps N        optimiser steps (default: the mini suite's, listops 1000, pathfinder 600)
      --seq-len L      listops: longest expression (L/4 < length <= L; default 100); text, retrieval:
                       bytes kept per document
      --seed S         parameters, batch order, the scheme's random parts (default 0)
      --data PATH      the benchmark's downloaded data (text: aclImdb, retrieval: the tsv directory,
                       image: cifar-10-batches-bin; listops: optional directory of basic_*.tsv)
      --init DIR       fine-tune: start the encoder from a model of `attnzoo lm train --out DIR` (its
                       embeddings and blocks; a new head; sizes from DIR; the scheme may differ: new
                       parameters are freshly initialised and listed). Byte tasks only (text, retrieval)
      --self-pretrain N  "never train from scratch": first N steps of a causal LM on the task's own
                       training inputs (token ids as bytes, no labels; any task), written to
                       OUT/self_lm, then fine-tune from it (Amos, Berant, Gupta 2023)
      --out DIR        default out/lra/runs/TASK/SCHEME
      --batch B --eval-every K --lr LR --warmup W --d-model D --heads H --layers L --d-ff F
      --train N --val N --test N    split sizes of generated and offline data (capped by what the
                       data have); --data-seed S their seed (default 1)
      --size S         pathfinder image side (16, 32, 64, 128; default 16)
      --time-limit SEC stop training after SEC seconds (then evaluate)
      --progress MODE  bar (one line rewritten in place), lines, quiet (default: bar on a terminal)

  attnzoo lra listops --generate N --out FILE.tsv [--seq-len L] [--seed S] [--no-parens]
      N generated examples in the official layout: header Source<TAB>Target, one line per expression.
      Default: the benchmark's 500 < length < 2000 and the original generator's printed form with
      parentheses, "( ( [MAX 2 ) 9 ) ]"; --no-parens prints "[MAX 2 9 ]" (both read back the same)
  attnzoo lra pathfinder --generate N [--size S] --out DIR [--seed S]
      N images DIR/0000.png ... (S x S gray, default 32) and DIR/labels.csv (file,label)

  attnzoo lra suite [--out DIR] [--schemes a,b] [--tasks a,b|five] [--time-limit SEC] [--no-efficiency]
                    [--lengths 1024,2048] [--init LM_DIR[,PATTERN]] [--no-scratch] [--seq-lens 256,1024,4096]
                    [--self-pretrain N]
      the mini suite of `make lra`: every scheme on the benchmark's five tasks — ListOps (<= 100
      tokens), text (which book? 512 bytes), retrieval (same book? 2 x 512 bytes), image
      (Fashion-MNIST) and Pathfinder 16x16; the three real-data ones read the offline Debian data
      of `lra TASK` — then one training step per scheme at 1K..4K tokens; writes DIR/results.md,
      results.csv, results.json, efficiency.md, efficiency.csv, bubbles.png (default DIR out/lra);
      a run that takes longer than --time-limit (default 420 s, 0 = none) stops there and says so;
      --tasks picks some of them (listops, pathfinder, text, retrieval, image; five = all), or
      pathfinder32 (the benchmark's 32x32 = 1024 tokens)
      --init LM_DIR: pretraining vs scratch — each byte task (default: text) twice with the sizes
      of the language model in LM_DIR (`attnzoo lm train`) and the same budget: from scratch, and
      fine-tuned from that model with every scheme (task "text+pretrained"); no efficiency runs;
      default DIR out/lra-pretrained (make lra-pretrained);
      a directory with {scheme} in it, e.g. out/lm/runs/schemes/{scheme}_mlm_n512, fine-tunes each
      scheme from the model pretrained with its own attention (task "text+own"); --no-scratch
      leaves out the scratch runs (an earlier --init run at the same sizes has them)
      --self-pretrain N: "never train from scratch" — each task (default: pathfinder) from scratch
      and after N steps of a causal LM on its own training inputs (task "pathfinder16+self"; lra
      TASK --self-pretrain); default DIR out/lra-self-pretrained
      --seq-lens L1,L2: accuracy vs input length — each task (default: text; text, retrieval: bytes
      per passage; listops: its longest expression) once per length, as task "text@L"; default DIR
      out/lra-lengths
  attnzoo lm train --corpus C --scheme S [--set k=v] [--mlm] [--context N] [--steps N] [--out DIR] [options]
      pretrain a byte-level language model with attention scheme S on real text; prints a progress
      line (step, train and validation bits per byte, tokens/s, ETA), then the test split's bits per
      byte of the best-validation checkpoint beside what gzip -9, bzip2 -9 and xz -9e spend on it;
      writes DIR/model.safetensors, config.json, result.json, log.csv, curves.png
      --corpus C       kjv (King James Bible), fortunes, gcide (Webster's 1913) from Debian packages
                       (make deps-text), or a file's path; split 90/5/5 % by contiguous ranges
      --mlm            a masked LM (BERT-style, 15 % of the bytes) instead of a causal one: for the
                       schemes without a causal variant too
      --context N      bytes per window (default 256); --steps N (default 1000); --batch B (16)
      --d-model D --heads H --layers L --d-ff F   model size (default 128, 4, 2, 4·D)
      --lr LR --warmup W --eval-every K --eval-bytes N (valid bytes read per evaluation, default 131072)
      --seed S --time-limit SEC --progress MODE   as for lra; --no-compressors skips the reference rows
      --set k=v        a scheme setting; the scheme's LM preset (about 64 keys per query, e.g.
                       longformer window=64; `attnzoo list` shows them) fills in the keys not given
      --out DIR        default out/lm/runs/SCHEME (SCHEME_mlm for --mlm)
  attnzoo lm eval --model DIR --text FILE [--logits OUT.npy]
      the bits per byte of the model in DIR (from lm train) on FILE; prints one line bpc=...
      --logits OUT.npy also writes the logits (1, n, 256) of FILE's first window, and its input
                       ids as OUT.npy.inputs.npy (tests/reference/lm_parity.py compares them with PyTorch)
  attnzoo lm suite [--corpus C] [--schemes a,b] [--experiments 1,2,3,4] [--quick] [--out DIR] [options]
      the experiments of `make lm` (default DIR out/lm): 1. every scheme as a causal and a masked LM
      at --context N (default 512) -> results.md/.csv with gzip, bzip2, xz as reference rows;
      2. test bpc vs context 128..4096 at a fixed budget -> context.md, context.png; 3. Linformer's
      masked-LM bpc vs k at n = 512 -> linformer_k.md; 4. the long run: flash at n = 256 on 12.3M
      bytes (about 10 minutes here) against the compressors -> long_run.md (left out when --schemes
      has no flash). Each scheme runs with its LM preset. --budget N training bytes per run,
      --contexts a,b, --time-limit SEC per run (default 300, 0 = none), --quick a few minutes' version
  attnzoo lm attention --model DIR [--model DIR2 ...] (--text FILE | --corpus C) --out DIR [options]
      where the models look on one passage: every layer's and head's attention weights; writes
      DIR/heatmaps.png (one head of every model, the passage's characters on the axes),
      DIR/distance.png (every head's mean attention distance) and DIR/attention.html (interactive:
      hover a character to see where it looks); prints the distances
      --text FILE | --corpus C   the passage's source (--corpus: its test split)
      --offset N --length N      the passage: N bytes (default min(context, 128)) from byte N (default 0)
      --layer L --head H         the head heatmaps.png shows (default the last layer, head 0)
  attnzoo claims [--lm-runs FILE] [--lra FILE] [--pretrained FILE] [--out FILE]
      each paper's headline claim (declared in its scheme's file) beside what make lm, make lra and
      make lra-pretrained measured, and whether the direction reproduced: yes, no, not measured
      yet (which target measures it) or not measurable here (why); prints it and writes --out
      (default out/claims.md); reads out/lm/all_runs.csv, out/lra/results.csv and
      out/lra-pretrained/results.csv unless told otherwise
  attnzoo generate --model DIR --prompt TEXT [--tokens N] [--temperature T] [--top-k K] [--seed S] [--no-cache]
      a causal LM of `attnzoo lm train` writes N bytes (default 200) after TEXT, printed as they come,
      then on stderr the bytes/s and the largest attention state it held (KV cache, ring buffer or
      recurrent state per block: attention/decode.h); same seed, same text
      --temperature T  softmax(logits / T) (default 0.8; 0 = always the most likely byte)
      --top-k K        sample among the K most likely bytes only (default 0 = all 256)
      --no-cache       recompute the whole window at every byte (the comparison: same text, slower)
      A window holds the model's context; when it is full, generation goes on from its last half.
  attnzoo help          this text (also: attnzoo --help, attnzoo COMMAND --help)

examples:
  attnzoo show full --n 32 --causal --out full.png
  attnzoo run full --q q.npy --k k.npy --v v.npy --causal --out o.npy --save-attn a.npy

Bad input prints one line starting with "attnzoo: " to stderr and exits with status 2;
no output file is written then.
)";

// The length of the well-formed UTF-8 sequence at s[i] (2-4 bytes) that is not a C1 control (U+0080-U+009F),
// or 0 when the bytes there are not one.
size_t printable_utf8_length(const std::string& s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  const size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  if (c == 0xC2 && byte(i + 1) < 0xA0) return 0;  // U+0080..U+009F: C1 control codes
  if (c == 0xE0 && byte(i + 1) < 0xA0) return 0;  // overlong
  if (c == 0xED && byte(i + 1) >= 0xA0) return 0;  // UTF-16 surrogates
  if (c == 0xF0 && byte(i + 1) < 0x90) return 0;  // overlong
  if (c == 0xF4 && byte(i + 1) >= 0x90) return 0;  // beyond U+10FFFF
  return len;
}

// One printable line, whatever the message holds: messages quote file names, settings and file contents, and a
// control byte from a file (ESC, BEL, a vertical tab, NUL...) must not reach the terminal. Line breaks become
// spaces; other control bytes and bytes that are not well-formed UTF-8 become \xNN; text in UTF-8 stays.
std::string one_line(const std::string& s) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\r') {
      out += ' ';
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (const size_t len = c >= 0x80 ? printable_utf8_length(s, i) : 0) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    }
  }
  return out;
}

int dispatch(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "help" || argv[0] == "--help" || argv[0] == "-h") {
    std::cout << kUsage;
    return kExitOk;
  }
  const std::string command = argv[0];
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  try {
    if (command == "list") return cmd_list(rest);
    if (command == "show") return cmd_show(rest);
    if (command == "run") return cmd_run(rest);
    if (command == "bench") return cmd_bench(rest);
    if (command == "lra") return cmd_lra(rest);
    if (command == "lm") return cmd_lm(rest);
    if (command == "claims") return cmd_claims(rest);
    if (command == "generate") return cmd_generate(rest);
  } catch (const HelpRequested&) {
    std::cout << kUsage;
    return kExitOk;
  }
  AZ_FAIL("unknown command '", command, "' (commands: list, show, run, bench, lra, lm, claims, generate, help)");
}

}  // namespace
}  // namespace cli

int main(int argc, char** argv) {
  try {
    return cli::dispatch(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const core::Error& e) {
    std::cerr << "attnzoo: " << cli::one_line(e.what()) << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "attnzoo: out of memory (try a smaller n or batch)\n";
  } catch (const std::exception& e) {
    std::cerr << "attnzoo: " << cli::one_line(e.what()) << "\n";
  }
  return cli::kExitBadInput;
}
