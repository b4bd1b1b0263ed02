// attention/reversible.h — the Reformer's memory savers besides LSH attention (Kitaev, Kaiser, Levskaya 2020,
// Reformer: The Efficient Transformer, section 3; the reversible block is Gomez et al. 2017's RevNet).
//
// Legend: B = batch, n = sequence length, d_model = model width, d_ff = feed-forward width, L = layers.
//
// 1. Reversible residual blocks. The activations are split in two halves X1, X2 (both start as the input x):
//        Y1 = X1 + F(X2)        F = dropout(LSH attention(LayerNorm(.)))
//        Y2 = X2 + G(Y1)        G = dropout(feed-forward(LayerNorm(.)))
//    The inputs follow from the outputs:  X2 = Y2 - G(Y1),  X1 = Y1 - F(X2).
//    So the forward pass keeps NO layer's activations: ReformerStack records ONE autograd op for the whole
//    stack, whose backward walks the layers from the top, rebuilds each layer's inputs from its outputs,
//    recomputes F and G with recording on (replaying the same dropout seeds and the same LSH buckets as the
//    forward), and backpropagates through them. Activation memory stops growing with depth: only the bucket ids
//    (B·H·n_hashes·n integers per layer) are kept per layer. The price is one more forward pass per layer.
//    The stack's output is (Y1 + Y2) / 2 of the last layer.
//
// 2. Chunked feed-forward. The feed-forward works on each position alone, so it can run c positions at a time:
//    chunked_feed_forward is one op whose forward never holds more than c × d_ff hidden units, and whose
//    backward recomputes each chunk's hidden units instead of storing (B, n, d_ff) of them. Same result, lower
//    peak: O(B·c·d_ff) instead of O(B·n·d_ff) for those activations.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "attention/reformer.h"
#include "core/nn.h"
#include "core/random.h"

namespace attention {

// y = W2 gelu(W1 x + b1) + b2 for x (B, n, d_in), `chunk` positions at a time, with a hand-written backward
// that recomputes the hidden units chunk by chunk. fc1 and fc2 must have biases.
Tensor chunked_feed_forward(const Tensor& x, const core::nn::Linear& fc1, const core::nn::Linear& fc2,
                            int64_t chunk);

// The position-wise feed-forward Linear -> GELU -> Linear. chunk = 0: plain ops (autograd keeps the (B, n, d_ff)
// hidden units for the backward); chunk >= 1: chunked_feed_forward.
class FeedForward : public core::nn::Module {
 public:
  FeedForward(int64_t d_model, int64_t d_ff, core::Rng& rng, int64_t chunk = 0);
  Tensor forward(const Tensor& x) const;  // (B, n, d_model) -> (B, n, d_model)
  core::nn::Linear fc1, fc2;
  int64_t chunk;
};

struct ReformerConfig {
  int64_t d_model = 64;
  int64_t n_heads = 4;
  int64_t d_ff = 256;
  int64_t n_layers = 2;
  int64_t ff_chunk = 0;     // positions per feed-forward chunk; 0 = unchunked
  float dropout = 0.0f;     // after attention and after the feed-forward
  bool causal = false;
  bool reversible = true;   // false: the same blocks as an ordinary residual stack (autograd keeps everything)
  uint64_t seed = 0;        // parameters, LSH rotations (layer l hashes with seed·1000003 + l), dropout seeds
  std::vector<std::string> set;  // LSH attention settings: n_hashes=..., n_buckets=..., chunk=...
};

class ReformerBlock : public core::nn::Module {
 public:
  ReformerBlock(const ReformerConfig& cfg, int64_t index, core::Rng& rng);
  // F(x2) = dropout(attention(LN(x2))). buckets/replay as in LSHAttentionLayer::forward_lsh.
  Tensor F(const Tensor& x2, const Tensor& key_padding_mask, uint64_t dropout_seed, bool training,
           IntTensor* buckets = nullptr, bool replay = false);
  // G(y1) = dropout(feed_forward(LN(y1)))
  Tensor G(const Tensor& y1, uint64_t dropout_seed, bool training);
  core::nn::LayerNorm ln_f, ln_g;
  LSHAttentionLayer attn;
  FeedForward ff;
  float dropout;
};

// L Reformer blocks: x (B, n, d_model) -> (B, n, d_model). With cfg.reversible the whole stack is one autograd
// op (see above); the stack must outlive the backward pass of what it computed.
class ReformerStack : public core::nn::Module {
 public:
  explicit ReformerStack(const ReformerConfig& cfg);
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor());
  ReformerConfig config;
  core::Rng rng;  // parameter initialisation, then one dropout seed per block, sublayer and forward call
  std::vector<std::unique_ptr<ReformerBlock>> blocks;

 private:
  Tensor forward_reversible(const Tensor& x, const Tensor& key_padding_mask,
                            const std::vector<std::pair<uint64_t, uint64_t>>& seeds);
};

}  // namespace attention
