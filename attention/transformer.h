// attention/transformer.h — the pre-LN Transformer encoder built on any registered attention scheme, and the
// two small models the lessons and the Long Range Arena train: a sequence classifier and a per-token tagger.
//
//   block(x) = x + Attention(LN(x));  x + MLP(LN(x))         (pre-LN: Xiong et al. 2020, stable without warmup)
//   Encoder(ids) = LN(block_L(...block_1(Embed(ids) + Pos)))  (B, n) -> (B, n, d_model)
//
// The scheme is chosen by name through the registry, with its key=value settings, so every scheme of the
// course can be trained and compared by changing one string.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "attention/scheme.h"
#include "core/nn.h"
#include "core/random.h"

namespace attention {

struct ModelConfig {
  std::string scheme = "flash";  // exact softmax attention in O(n) memory; "full" materialises the n×n matrix
  std::vector<std::string> set;  // the scheme's key=value settings
  int64_t vocab = 16;            // token ids are in [0, vocab)
  int64_t max_len = 128;         // longest sequence (learned positional embeddings)
  int64_t d_model = 64;
  int64_t n_heads = 4;
  int64_t n_layers = 2;
  int64_t d_ff = 128;            // hidden size of the feed-forward block
  float dropout = 0.0f;
  bool causal = false;
  uint64_t seed = 0;             // parameters, dropout masks and the scheme's random parts
};

class EncoderBlock : public core::nn::Module {
 public:
  EncoderBlock(const ModelConfig& cfg, core::Rng& rng);
  // x (B, n, d_model); key_padding_mask (B, n) 1 = token, 0 = padding (or undefined)
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask, core::Rng& dropout_rng);
  core::nn::LayerNorm ln1, ln2;
  std::unique_ptr<AttentionLayer> attn;
  core::nn::MLP mlp;
  float dropout;
};

class Encoder : public core::nn::Module {
 public:
  explicit Encoder(const ModelConfig& cfg);
  Tensor forward(const IntTensor& ids, const Tensor& key_padding_mask = Tensor());  // -> (B, n, d_model)
  ModelConfig config;
  core::Rng rng;  // parameter init, then dropout masks
  core::nn::Embedding tokens, positions;
  std::vector<std::unique_ptr<EncoderBlock>> blocks;
  core::nn::LayerNorm ln_final;
};

// Mean-pools the encoder's output over real tokens, then a linear layer: (B, n) -> (B, num_classes).
class SequenceClassifier : public core::nn::Module {
 public:
  SequenceClassifier(const ModelConfig& cfg, int64_t num_classes);
  Tensor forward(const IntTensor& ids, const Tensor& key_padding_mask = Tensor());
  Encoder encoder;
  core::nn::Linear head;
};

// One prediction per position: (B, n) -> (B, n, num_classes).
class TokenClassifier : public core::nn::Module {
 public:
  TokenClassifier(const ModelConfig& cfg, int64_t num_classes);
  Tensor forward(const IntTensor& ids, const Tensor& key_padding_mask = Tensor());
  Encoder encoder;
  core::nn::Linear head;
};

}  // namespace attention
