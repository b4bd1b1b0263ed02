// attention/transformer.cpp — pre-LN encoder blocks and the two small models.
#include "attention/transformer.h"

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_nn.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"

namespace attention {

using namespace core;

namespace {
LayerConfig layer_config(const ModelConfig& cfg) {
  LayerConfig lc;
  lc.d_model = cfg.d_model;
  lc.n_heads = cfg.n_heads;
  lc.max_len = cfg.max_len;
  lc.causal = cfg.causal;
  lc.seed = cfg.seed;
  lc.set = cfg.set;
  return lc;
}
}  // namespace

EncoderBlock::EncoderBlock(const ModelConfig& cfg, Rng& rng)
    : ln1(cfg.d_model),
      ln2(cfg.d_model),
      attn(find_scheme(cfg.scheme).make_layer(layer_config(cfg), rng)),
      mlp(cfg.d_model, cfg.d_ff, cfg.d_model, rng),
      dropout(cfg.dropout) {
  register_module("ln1", ln1);
  register_module("attn", *attn);
  register_module("ln2", ln2);
  register_module("mlp", mlp);
}

Tensor EncoderBlock::forward(const Tensor& x, const Tensor& key_padding_mask, Rng& dropout_rng) {
  const bool train = training();
  Tensor h = x + core::dropout(attn->forward(ln1.forward(x), key_padding_mask), dropout, dropout_rng, train);
  return h + core::dropout(mlp.forward(ln2.forward(h)), dropout, dropout_rng, train);  // (B, n, d_model)
}

Encoder::Encoder(const ModelConfig& cfg)
    : config(cfg),
      rng(cfg.seed),
      tokens(cfg.vocab, cfg.d_model, rng),
      positions(cfg.max_len, cfg.d_model, rng),
      ln_final(cfg.d_model) {
  AZ_CHECK(cfg.n_layers >= 1 && cfg.vocab >= 1 && cfg.max_len >= 1, "Encoder: n_layers, vocab and max_len must be >= 1");
  register_module("tokens", tokens);
  register_module("positions", positions);
  for (int64_t l = 0; l < cfg.n_layers; ++l) {
    blocks.push_back(std::make_unique<EncoderBlock>(cfg, rng));
    register_module("block" + std::to_string(l), *blocks.back());
  }
  register_module("ln_final", ln_final);
  // Embeddings start small (N(0, 1) tables would swamp the residual stream of a tiny model).
  NoGradGuard no_grad;
  for (Tensor t : {tokens.weight, positions.weight})
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] *= 0.1f;
}

Tensor Encoder::forward(const IntTensor& ids, const Tensor& key_padding_mask) {
  AZ_CHECK(ids.dim() == 2, "Encoder: ids must be (B, n), got ", ids.shape);
  const int64_t n = ids.shape[1];
  AZ_CHECK(n <= config.max_len, "Encoder: sequence length ", n, " exceeds max_len ", config.max_len);
  IntTensor pos({n});
  for (int64_t i = 0; i < n; ++i) pos.data[static_cast<size_t>(i)] = i;
  Tensor x = tokens.forward(ids) + positions.forward(pos);  // (B, n, d) + (n, d)
  for (auto& block : blocks) x = block->forward(x, key_padding_mask, rng);
  return ln_final.forward(x);  // (B, n, d_model)
}

SequenceClassifier::SequenceClassifier(const ModelConfig& cfg, int64_t num_classes)
    : encoder(cfg), head(cfg.d_model, num_classes, encoder.rng) {
  register_module("encoder", encoder);
  register_module("head", head);
}

Tensor SequenceClassifier::forward(const IntTensor& ids, const Tensor& key_padding_mask) {
  const Tensor h = encoder.forward(ids, key_padding_mask);  // (B, n, d)
  Tensor pooled;
  if (key_padding_mask.defined()) {
    // mean over real tokens only: sum(h * mask) / count
    const Tensor m = unsqueeze(key_padding_mask, -1);                          // (B, n, 1)
    pooled = sum(h * m, 1) / add(sum(key_padding_mask, 1, true), 1e-6f);      // (B, d)
  } else {
    pooled = mean(h, 1);  // (B, d)
  }
  return head.forward(pooled);  // (B, num_classes)
}

TokenClassifier::TokenClassifier(const ModelConfig& cfg, int64_t num_classes)
    : encoder(cfg), head(cfg.d_model, num_classes, encoder.rng) {
  register_module("encoder", encoder);
  register_module("head", head);
}

Tensor TokenClassifier::forward(const IntTensor& ids, const Tensor& key_padding_mask) {
  return head.forward(encoder.forward(ids, key_padding_mask));  // (B, n, num_classes)
}

}  // namespace attention
