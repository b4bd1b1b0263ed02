// lm/model.cpp — see model.h. Legend: B = batch, n = context (bytes per window), V = 256 byte values.
#include "lm/model.h"

#include <algorithm>
#include <cmath>

#include "core/core.h"

namespace lm {

using namespace core;

namespace {

attention::ModelConfig model_config(const LMConfig& cfg) {
  AZ_CHECK(cfg.context >= 2, "lm: the context must be >= 2 bytes, got ", cfg.context);
  AZ_CHECK(!cfg.masked || (cfg.mask_fraction > 0 && cfg.mask_fraction <= 1),
           "lm: the mask fraction must be in (0, 1], got ", cfg.mask_fraction);
  attention::ModelConfig m = cfg.model;
  m.vocab = cfg.masked ? kByteValues + 1 : kByteValues;  // + [MASK]
  m.max_len = cfg.context;
  m.causal = !cfg.masked;
  return m;
}

}  // namespace

ByteLM::ByteLM(const LMConfig& cfg) : config(cfg), net(model_config(cfg), kByteValues) {
  config.model = model_config(cfg);
  register_module("net", net);
}

Tensor ByteLM::forward(const IntTensor& ids) {
  AZ_CHECK(ids.dim() == 2 && ids.shape[1] <= config.context, "ByteLM: ids must be (B, n) with n <= context ",
           config.context, ", got ", ids.shape);
  return net.forward(ids);  // (B, n, V)
}

Example window(const std::string& text, int64_t offset, const LMConfig& cfg, Rng& rng) {
  const int64_t n = cfg.context;
  const int64_t need = cfg.masked ? n : n + 1;
  AZ_CHECK(offset >= 0 && offset + need <= static_cast<int64_t>(text.size()), "lm: a window of ", need,
           " bytes at offset ", offset, " does not fit a text of ", text.size(), " bytes");
  Example e{IntTensor({1, n}), IntTensor({1, n})};
  const auto byte = [&](int64_t i) { return static_cast<int64_t>(static_cast<unsigned char>(text[offset + i])); };
  for (int64_t t = 0; t < n; ++t) {
    e.inputs.data[t] = byte(t);
    e.targets.data[t] = cfg.masked ? -100 : byte(t + 1);  // causal: the next byte
  }
  if (cfg.masked) {
    // BERT's recipe: choose each position with probability mask_fraction (at least one per window); a chosen
    // position becomes [MASK] (80 %), a random byte (10 %) or stays (10 %), and is the only kind predicted.
    int64_t chosen = 0;
    for (int64_t t = 0; t < n; ++t) {
      if (rng.uniform(0.0f, 1.0f) >= cfg.mask_fraction) continue;
      ++chosen;
      e.targets.data[t] = byte(t);
      const float r = rng.uniform(0.0f, 1.0f);
      if (r < 0.8f) e.inputs.data[t] = kMaskId;
      else if (r < 0.9f) e.inputs.data[t] = rng.randint(0, kByteValues);
    }
    if (chosen == 0) {
      const int64_t t = rng.randint(0, n);
      e.targets.data[t] = byte(t);
      e.inputs.data[t] = kMaskId;
    }
  }
  return e;
}

Example random_batch(const std::string& text, const LMConfig& cfg, int64_t batch_size, Rng& rng) {
  const int64_t n = cfg.context, need = cfg.masked ? n : n + 1;
  AZ_CHECK(static_cast<int64_t>(text.size()) > need, "lm: the training text (", text.size(),
           " bytes) is shorter than one window of ", need, " bytes");
  Example b{IntTensor({batch_size, n}), IntTensor({batch_size, n})};
  for (int64_t i = 0; i < batch_size; ++i) {
    const int64_t offset = rng.randint(0, static_cast<int64_t>(text.size()) - need + 1);
    const Example e = window(text, offset, cfg, rng);
    std::copy(e.inputs.data.begin(), e.inputs.data.end(), b.inputs.data.begin() + i * n);
    std::copy(e.targets.data.begin(), e.targets.data.end(), b.targets.data.begin() + i * n);
  }
  return b;
}

BpcResult evaluate_bpc(ByteLM& model, const std::string& text, int64_t max_bytes, int64_t batch_size,
                       uint64_t mask_seed) {
  const LMConfig& cfg = model.config;
  const int64_t n = cfg.context, need = cfg.masked ? n : n + 1;
  const int64_t len = max_bytes > 0 ? std::min<int64_t>(max_bytes, text.size()) : static_cast<int64_t>(text.size());
  AZ_CHECK(len >= need, "lm eval: the text has ", len, " bytes, fewer than one window of ", need,
           " bytes (the model's context", cfg.masked ? "" : " + 1", ")");
  // Windows start every n bytes: causal windows overlap by one byte, so every byte after the first is a target once.
  std::vector<int64_t> offsets;
  for (int64_t o = 0; o + need <= len; o += n) offsets.push_back(o);
  const bool was_training = model.training();
  model.eval();
  NoGradGuard no_grad;
  Rng mask_rng(mask_seed);
  double nats = 0;
  BpcResult r;
  for (size_t first = 0; first < offsets.size(); first += static_cast<size_t>(batch_size)) {
    const int64_t B = std::min<int64_t>(batch_size, static_cast<int64_t>(offsets.size() - first));
    IntTensor inputs({B, n}), targets({B, n});
    for (int64_t i = 0; i < B; ++i) {
      const Example e = window(text, offsets[first + i], cfg, mask_rng);
      std::copy(e.inputs.data.begin(), e.inputs.data.end(), inputs.data.begin() + i * n);
      std::copy(e.targets.data.begin(), e.targets.data.end(), targets.data.begin() + i * n);
    }
    const Tensor logits = model.forward(inputs);                        // (B, n, V)
    const Tensor logp = log_softmax(reshape(logits, {B * n, kByteValues}), -1);  // (B·n, V)
    const float* lp = logp.data();
    for (int64_t e = 0; e < B * n; ++e) {
      const int64_t y = targets.data[e];
      if (y < 0) continue;
      nats -= lp[e * kByteValues + y];
      ++r.predicted;
    }
    r.windows += B;
  }
  model.train(was_training);
  r.bpc = nats / std::max<int64_t>(r.predicted, 1) / std::log(2.0);
  return r;
}

}  // namespace lm
