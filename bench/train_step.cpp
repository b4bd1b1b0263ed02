// bench/train_step.cpp — attnzoo's side of `make bench-torch`: the same measurements bench/torch/bench_torch.py
// makes in PyTorch, printed as the same JSON lines.
//
//   attention:  forward + backward of one scheme's kernel, B=1, H=4, d=64, n given (median of a few runs),
//               with the activation memory the counting allocator saw.
//   train_step: a ListOps-sized step (B=32, n=512, d_model=64, 4 heads, 2 layers, pre-LN encoder, mean pool,
//               10 classes, AdamW): forward, backward and optimiser update.
//
//   build/bench/train_step [--n 1024,2048,4096] [--schemes full,flash] [--train-scheme flash] [--no-attention]
//                          [--no-train]
#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "attention/benchmark.h"
#include "attention/transformer.h"
#include "core/core.h"

using namespace core;

namespace {
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

double train_step_seconds(const std::string& scheme, int reps) {
  attention::ModelConfig c;
  c.scheme = scheme;
  c.vocab = 20;
  c.max_len = 512;
  c.d_model = 64;
  c.n_heads = 4;
  c.n_layers = 2;
  c.d_ff = 128;
  attention::SequenceClassifier model(c, 10);
  optim::AdamW opt(model.parameters(), 1e-3f);
  Rng rng(0);
  const IntTensor ids = randint({32, 512}, rng, 0, 20);
  const IntTensor labels = randint({32}, rng, 0, 10);
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = cross_entropy(model.forward(ids), labels);
    loss.backward();
    opt.step();
  };
  return measure(step, reps, std::numeric_limits<double>::infinity()).seconds;  // one warm-up step, then reps
}
}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<int64_t> ns = {1024, 2048, 4096};
    std::vector<std::string> schemes = {"full", "flash"};
    std::string train_scheme = "flash";
    bool attention = true, train = true;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--n" && i + 1 < argc) {
        ns.clear();
        for (const auto& s : split(argv[++i])) ns.push_back(std::stoll(s));
      } else if (a == "--schemes" && i + 1 < argc) {
        schemes = split(argv[++i]);
      } else if (a == "--train-scheme" && i + 1 < argc) {
        train_scheme = argv[++i];
      } else if (a == "--no-attention") {
        attention = false;
      } else if (a == "--no-train") {
        train = false;
      } else {
        std::fprintf(stderr, "train_step: unknown argument '%s'\n", a.c_str());
        return 2;
      }
    }
    if (attention) {
      attention::BenchOptions o;
      o.schemes = schemes;
      o.ns = ns;
      o.progress = [](const std::string& line) { std::fprintf(stderr, "attnzoo %s\n", line.c_str()); };
      for (const auto& p : attention::run_benchmark(o))
        if (p.skipped.empty())
          std::printf("{\"what\": \"attention\", \"impl\": \"attnzoo-%s\", \"n\": %lld, \"causal\": false, "
                      "\"seconds\": %.6f, \"peak_mib\": %.3f}\n",
                      p.scheme.c_str(), static_cast<long long>(p.n), p.seconds, p.peak_mib);
      std::fflush(stdout);
    }
    if (!train) return 0;
    std::fprintf(stderr, "attnzoo train step (%s) ...\n", train_scheme.c_str());
    std::printf("{\"what\": \"train_step\", \"impl\": \"attnzoo-%s\", \"seconds\": %.6f}\n", train_scheme.c_str(),
                train_step_seconds(train_scheme, 5));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_step: %s\n", e.what());
    return 2;
  }
}
