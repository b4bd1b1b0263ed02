// bench/decode_step.cpp — attnzoo's side of `make bench-torch`'s decoding comparison: greedy generation with the
// causal byte LM (lm::ByteLM, lm/model.h) and its KV cache (lm/generate.h), timed, printed as the JSON line
// bench/torch/bench_torch.py prints for the same model decoding in PyTorch with a KV cache written the usual way.
//
//   the model:  bytes (vocabulary 256), causal, d_model 128, 4 heads, 2 layers, d_ff 512, scheme flash (its
//               decoder: the KV cache); context t + tokens; random weights (the time does not depend on them).
//   the run:    a prompt of t random bytes fed through the model (the prefill, not timed), then `tokens` greedy
//               steps, each: the last byte through every block with its cache, the logits, their argmax.
//   the result: tokens/s = tokens / (their wall time), the median of `repeats` runs.
//
//   build/bench/decode_step [--t 1024] [--tokens 64] [--scheme flash] [--repeats 3]
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/core.h"
#include "core/timing.h"
#include "lm/generate.h"

using namespace core;

int main(int argc, char** argv) {
  try {
    int64_t t = 1024, tokens = 64;
    std::string scheme = "flash";
    int repeats = 3;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--t" && i + 1 < argc) t = std::stoll(argv[++i]);
      else if (a == "--tokens" && i + 1 < argc) tokens = std::stoll(argv[++i]);
      else if (a == "--scheme" && i + 1 < argc) scheme = argv[++i];
      else if (a == "--repeats" && i + 1 < argc) repeats = std::stoi(argv[++i]);
      else {
        std::fprintf(stderr, "decode_step: unknown argument '%s'\n", a.c_str());
        return 2;
      }
    }
    AZ_CHECK(t >= 1 && tokens >= 1 && repeats >= 1, "decode_step: need --t, --tokens and --repeats >= 1");
    lm::LMConfig cfg;
    cfg.context = t + tokens;
    cfg.model.scheme = scheme;
    cfg.model.d_model = 128;
    cfg.model.n_heads = 4;
    cfg.model.n_layers = 2;
    cfg.model.d_ff = 512;
    lm::ByteLM model(cfg);
    model.eval();
    Rng rng(0);
    std::vector<int> prompt(static_cast<size_t>(t));
    for (int& b : prompt) b = static_cast<int>(rng.next_u64() % 256);
    std::fprintf(stderr, "attnzoo decode (%s) t=%lld, %lld greedy tokens ...\n", scheme.c_str(),
                 static_cast<long long>(t), static_cast<long long>(tokens));
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) {
      lm::ByteLMDecoder dec(model, /*cache=*/true);
      std::vector<float> logits;
      for (int b : prompt) logits = dec.feed(b);  // the prefill: t bytes into the cache
      const Stopwatch clock;
      for (int64_t i = 0; i < tokens; ++i) {
        const int next = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        logits = dec.feed(next);
      }
      seconds.push_back(clock.seconds());
    }
    const double s = median(seconds);
    std::printf("{\"what\": \"decode\", \"impl\": \"attnzoo-%s\", \"t\": %lld, \"tokens\": %lld, \"seconds\": %.6f, "
                "\"tokens_per_s\": %.1f}\n",
                scheme.c_str(), static_cast<long long>(t), static_cast<long long>(tokens), s, tokens / s);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_step: %s\n", e.what());
    return 2;
  }
}
