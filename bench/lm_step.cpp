// bench/lm_step.cpp — attnzoo's side of `make bench-torch`'s language-model step: one training step of the causal
// byte LM (lm::ByteLM, lm/model.h) as `attnzoo lm train` takes it (lm/train.cpp), timed, printed as the JSON line
// bench/torch/bench_torch.py prints for the same model in PyTorch.
//
//   the model:  bytes (vocabulary 256), causal, d_model 128, 4 heads, 2 layers, d_ff 512, scheme flash (exact
//               attention in O(n) memory); token + position embeddings, pre-LN blocks, final LN, head to 256 logits.
//   the step:   forward, cross-entropy over every position, backward, gradient clipping at 1, AdamW update.
//   the batch:  8192 bytes per step at every context n (B = 8192 / n: n=512 -> B=16, n=2048 -> B=4), random bytes:
//               the time of a step does not depend on what the bytes say.
//   the result: the median step (after a warm-up step), and tokens/s = 8192 / median; also the medians of its
//               three phases (forward + loss, backward, clip + AdamW), to see where the time goes.
//
//   build/bench/lm_step [--n 512,2048] [--scheme flash] [--steps 4] [--warmup 1]
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "core/core.h"
#include "lm/model.h"

using namespace core;

namespace {

constexpr int64_t kBytesPerStep = 8192;  // B · n at every context

std::vector<int64_t> split_ints(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoll(item));
  return out;
}

struct StepTimes {
  double step = 0, forward = 0, backward = 0, update = 0;  // medians, seconds
};

StepTimes lm_step_seconds(const std::string& scheme, int64_t n, int steps, int warmup) {
  AZ_CHECK(n >= 2 && kBytesPerStep % n == 0, "lm_step: the context must divide ", kBytesPerStep, ", got ", n);
  const int64_t B = kBytesPerStep / n;
  lm::LMConfig cfg;
  cfg.context = n;
  cfg.model.scheme = scheme;
  cfg.model.d_model = 128;
  cfg.model.n_heads = 4;
  cfg.model.n_layers = 2;
  cfg.model.d_ff = 512;
  lm::ByteLM model(cfg);
  model.train();
  const std::vector<Tensor> params = model.parameters();
  optim::AdamW opt(params, 2e-3f, 0.9f, 0.98f, 1e-8f, 0.01f);  // lm::TrainOptions' defaults
  Rng rng(0);
  const IntTensor ids = randint({B, n}, rng, 0, lm::kByteValues);          // (B, n)
  const IntTensor targets = randint({B * n}, rng, 0, lm::kByteValues);     // (B·n): the next bytes

  std::vector<double> t_step, t_fwd, t_bwd, t_upd;
  for (int i = 0; i < warmup + steps; ++i) {
    Stopwatch clock;
    const Tensor logits = model.forward(ids);                                                    // (B, n, 256)
    const Tensor loss = cross_entropy(reshape(logits, {B * n, lm::kByteValues}), targets);      // () nats
    const double fwd = clock.seconds();
    loss.backward();
    const double bwd = clock.seconds();
    optim::clip_grad_norm(params, 1.0f);
    opt.step();
    opt.zero_grad();
    const double all = clock.seconds();
    if (i < warmup) continue;  // the first steps pay for page faults, OpenBLAS start-up, AdamW's moments
    t_step.push_back(all);
    t_fwd.push_back(fwd);
    t_bwd.push_back(bwd - fwd);
    t_upd.push_back(all - bwd);
  }
  return {median(t_step), median(t_fwd), median(t_bwd), median(t_upd)};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<int64_t> ns = {512, 2048};
    std::string scheme = "flash";
    int steps = 4, warmup = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--n" && i + 1 < argc) ns = split_ints(argv[++i]);
      else if (a == "--scheme" && i + 1 < argc) scheme = argv[++i];
      else if (a == "--steps" && i + 1 < argc) steps = std::stoi(argv[++i]);
      else if (a == "--warmup" && i + 1 < argc) warmup = std::stoi(argv[++i]);
      else {
        std::fprintf(stderr, "lm_step: unknown argument '%s'\n", a.c_str());
        return 2;
      }
    }
    AZ_CHECK(steps >= 1 && warmup >= 0, "lm_step: need --steps >= 1 and --warmup >= 0");
    for (const int64_t n : ns) {
      std::fprintf(stderr, "attnzoo lm step (%s) n=%lld ...\n", scheme.c_str(), static_cast<long long>(n));
      const StepTimes t = lm_step_seconds(scheme, n, steps, warmup);
      std::printf("{\"what\": \"lm_step\", \"impl\": \"attnzoo-%s\", \"n\": %lld, \"batch\": %lld, \"seconds\": %.6f, "
                  "\"tokens_per_s\": %.1f, \"forward\": %.6f, \"backward\": %.6f, \"update\": %.6f}\n",
                  scheme.c_str(), static_cast<long long>(n), static_cast<long long>(kBytesPerStep / n), t.step,
                  kBytesPerStep / t.step, t.forward, t.backward, t.update);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lm_step: %s\n", e.what());
    return 2;
  }
}
