// attention/reversible.cpp — the chunked feed-forward op, Reformer blocks, and the reversible stack whose
// backward rebuilds every layer's inputs from its outputs.
//
// Legend: B = batch, n = sequence length, d = d_model, d_ff = feed-forward width, c = chunk of positions.
#include "attention/reversible.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"

namespace attention {

using namespace core;

namespace {

// The engine runs backward functions with graph recording switched off. The reversible stack's backward must
// RECORD F and G again to differentiate them, so it switches recording back on for that work.
template <class F>
void with_recording(F&& f) {
  core::EnableGradGuard recording;
  f();
}

// dst += src, elementwise (same number of elements).
void add_into(Tensor& dst, const Tensor& src) {
  float* d = dst.data();
  const float* s = src.data();
  for (int64_t i = 0, n = dst.numel(); i < n; ++i) d[i] += s[i];
}

// Rows [s, e) of a (B, n, w) tensor, from a (B, e - s, w) one: dst[:, s:e] = src.
void write_rows(Tensor& dst, const Tensor& src, int64_t s) {
  const int64_t B = dst.size(0), n = dst.size(1), w = dst.size(2), c = src.size(1);
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(dst.data() + (b * n + s) * w, src.data() + b * c * w, sizeof(float) * static_cast<size_t>(c * w));
}

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

}  // namespace

// ---- chunked feed-forward -------------------------------------------------------------------------------------
Tensor chunked_feed_forward(const Tensor& x, const nn::Linear& fc1, const nn::Linear& fc2, int64_t chunk) {
  AZ_CHECK(chunk >= 1, "chunked_feed_forward: chunk must be >= 1, got ", chunk);
  AZ_CHECK(x.dim() == 3 && x.size(2) == fc1.in_features, "chunked_feed_forward: x must be (B, n, ", fc1.in_features,
           "), got ", x.shape());
  AZ_CHECK(fc2.in_features == fc1.out_features && fc1.bias.defined() && fc2.bias.defined(),
           "chunked_feed_forward: needs fc1 (d -> d_ff) and fc2 (d_ff -> d) with biases");
  const int64_t B = x.size(0), n = x.size(1);
  Tensor out = Tensor::empty({B, n, fc2.out_features});  // (B, n, d_out)
  {
    NoGradGuard no_grad;
    for (int64_t s = 0; s < n; s += chunk) {
      const int64_t e = std::min(n, s + chunk);
      const Tensor xc = slice(x, 1, s, e);                                     // (B, c, d)
      const Tensor h = matmul(xc, fc1.weight, false, true) + fc1.bias;         // (B, c, d_ff)
      write_rows(out, matmul(gelu(h), fc2.weight, false, true) + fc2.bias, s);  // (B, c, d_out)
    }
  }
  return record(out, "chunked_feed_forward", {x, fc1.weight, fc1.bias, fc2.weight, fc2.bias},
                [chunk](BackwardContext& c) {
                  const Tensor &x = c.inputs[0], &W1 = c.inputs[1], &b1 = c.inputs[2], &W2 = c.inputs[3],
                               &b2 = c.inputs[4];
                  const int64_t B = x.size(0), n = x.size(1), d = x.size(2), d_ff = W1.size(0), d_out = W2.size(0);
                  Tensor dx = Tensor::empty(x.shape());
                  Tensor dW1 = Tensor::zeros(W1.shape()), db1 = Tensor::zeros(b1.shape());
                  Tensor dW2 = Tensor::zeros(W2.shape()), db2 = Tensor::zeros(b2.shape());
                  for (int64_t s = 0; s < n; s += chunk) {
                    const int64_t e = std::min(n, s + chunk), rows = B * (e - s);
                    // Recompute this chunk's hidden units (they were never stored).
                    const Tensor xc = reshape(slice(x, 1, s, e), {rows, d});       // (B·c, d)
                    const Tensor h = matmul(xc, W1, false, true) + b1;             // (B·c, d_ff)
                    const Tensor a = gelu(h);                                       // (B·c, d_ff)
                    const Tensor g = reshape(slice(c.grad_out, 1, s, e), {rows, d_out});  // (B·c, d_out)
                    // forward: y = a W2ᵀ + b2  =>  dW2 += gᵀ a,  db2 += Σ_rows g,  da = g W2
                    add_into(dW2, matmul(g, a, true, false));                       // (d_out, d_ff)
                    add_into(db2, sum(g, 0));
                    Tensor dh = matmul(g, W2);                                      // (B·c, d_ff)
                    // forward: a = gelu(h) = h Φ(h)  =>  dh = da (Φ(h) + h φ(h))
                    float* pdh = dh.data();
                    const float* ph = h.data();
                    for (int64_t i = 0; i < rows * d_ff; ++i) {
                      const float cdf = 0.5f * (1.0f + std::erf(ph[i] * kInvSqrt2));
                      const float pdf = kInvSqrt2Pi * std::exp(-0.5f * ph[i] * ph[i]);
                      pdh[i] *= cdf + ph[i] * pdf;
                    }
                    // forward: h = x W1ᵀ + b1  =>  dW1 += dhᵀ x,  db1 += Σ_rows dh,  dx = dh W1
                    add_into(dW1, matmul(dh, xc, true, false));                     // (d_ff, d)
                    add_into(db1, sum(dh, 0));
                    write_rows(dx, reshape(matmul(dh, W1), {B, e - s, d}), s);      // (B, c, d)
                  }
                  c.add_grad(0, dx);
                  c.add_grad(1, dW1);
                  c.add_grad(2, db1);
                  c.add_grad(3, dW2);
                  c.add_grad(4, db2);
                });
}

FeedForward::FeedForward(int64_t d_model, int64_t d_ff, Rng& rng, int64_t chunk_)
    : fc1(d_model, d_ff, rng), fc2(d_ff, d_model, rng), chunk(chunk_) {
  AZ_CHECK(chunk_ >= 0, "reformer: ff_chunk must be >= 0 (0 = unchunked), got ", chunk_);
  register_module("fc1", fc1);
  register_module("fc2", fc2);
}

Tensor FeedForward::forward(const Tensor& x) const {
  if (chunk == 0) return fc2.forward(gelu(fc1.forward(x)));  // (B, n, d_ff) hidden units kept by autograd
  return chunked_feed_forward(x, fc1, fc2, chunk);
}

// ---- Reformer blocks ------------------------------------------------------------------------------------------
namespace {
LayerConfig block_layer_config(const ReformerConfig& cfg, int64_t index) {
  LayerConfig lc;
  lc.d_model = cfg.d_model;
  lc.n_heads = cfg.n_heads;
  lc.causal = cfg.causal;
  lc.seed = cfg.seed * 1000003ULL + static_cast<uint64_t>(index);  // each layer its own rotations
  lc.set = cfg.set;
  return lc;
}
}  // namespace

ReformerBlock::ReformerBlock(const ReformerConfig& cfg, int64_t index, Rng& rng)
    : ln_f(cfg.d_model),
      ln_g(cfg.d_model),
      attn(block_layer_config(cfg, index), rng),
      ff(cfg.d_model, cfg.d_ff, rng, cfg.ff_chunk),
      dropout(cfg.dropout) {
  AZ_CHECK(cfg.dropout >= 0.0f && cfg.dropout < 1.0f, "reformer: dropout must be in [0, 1), got ", cfg.dropout);
  register_module("ln_f", ln_f);
  register_module("attn", attn);
  register_module("ln_g", ln_g);
  register_module("ff", ff);
}

Tensor ReformerBlock::F(const Tensor& x2, const Tensor& key_padding_mask, uint64_t dropout_seed, bool training,
                        IntTensor* buckets, bool replay) {
  Rng mask_rng(dropout_seed);  // a fresh generator from the saved seed: the recomputation draws the same mask
  return core::dropout(attn.forward_lsh(ln_f.forward(x2), key_padding_mask, buckets, replay), dropout, mask_rng,
                       training);
}

Tensor ReformerBlock::G(const Tensor& y1, uint64_t dropout_seed, bool training) {
  Rng mask_rng(dropout_seed);
  return core::dropout(ff.forward(ln_g.forward(y1)), dropout, mask_rng, training);
}

// ---- the stack ------------------------------------------------------------------------------------------------
ReformerStack::ReformerStack(const ReformerConfig& cfg) : config(cfg), rng(cfg.seed) {
  AZ_CHECK(cfg.n_layers >= 1, "reformer: n_layers must be >= 1, got ", cfg.n_layers);
  for (int64_t l = 0; l < cfg.n_layers; ++l) {
    blocks.push_back(std::make_unique<ReformerBlock>(cfg, l, rng));
    register_module("block" + std::to_string(l), *blocks.back());
  }
}

Tensor ReformerStack::forward(const Tensor& x, const Tensor& key_padding_mask) {
  AZ_CHECK(x.dim() == 3 && x.size(2) == config.d_model, "reformer stack: x must be (B, n, ", config.d_model,
           "), got ", x.shape());
  std::vector<std::pair<uint64_t, uint64_t>> seeds;  // (F, G) dropout seeds of each block, for this call
  for (size_t l = 0; l < blocks.size(); ++l) {
    const uint64_t f = rng.next_u64();
    seeds.emplace_back(f, rng.next_u64());
  }
  if (config.reversible) return forward_reversible(x, key_padding_mask, seeds);
  // The ordinary way: every layer's activations stay in the autograd graph until backward.
  const bool train = training();
  Tensor x1 = x, x2 = x;
  for (size_t l = 0; l < blocks.size(); ++l) {
    const Tensor y1 = x1 + blocks[l]->F(x2, key_padding_mask, seeds[l].first, train);  // Y1 = X1 + F(X2)
    const Tensor y2 = x2 + blocks[l]->G(y1, seeds[l].second, train);                   // Y2 = X2 + G(Y1)
    x1 = y1;
    x2 = y2;
  }
  return (x1 + x2) * 0.5f;  // (B, n, d)
}

Tensor ReformerStack::forward_reversible(const Tensor& x, const Tensor& key_padding_mask,
                                         const std::vector<std::pair<uint64_t, uint64_t>>& seeds) {
  // What the backward needs: the seeds, the padding mask, the training flag and each layer's bucket ids.
  struct Saved {
    std::vector<std::pair<uint64_t, uint64_t>> seeds;
    std::vector<IntTensor> buckets;  // (B, H, n_hashes, n) per layer
    Tensor key_padding_mask;
    bool training;
  };
  auto saved = std::make_shared<Saved>(Saved{seeds, std::vector<IntTensor>(blocks.size()), key_padding_mask, training()});
  const int64_t d = config.d_model;
  Tensor Y;  // (B, n, 2d) = [Y1, Y2] of the last layer
  {
    NoGradGuard no_grad;  // nothing is recorded: each layer's activations die as soon as the next layer has run
    Tensor x1 = x.detach(), x2 = x.detach();
    for (size_t l = 0; l < blocks.size(); ++l) {
      Tensor y1 = x1 + blocks[l]->F(x2, key_padding_mask, seeds[l].first, saved->training, &saved->buckets[l]);
      Tensor y2 = x2 + blocks[l]->G(y1, seeds[l].second, saved->training);
      x1 = y1;
      x2 = y2;
    }
    Y = concat({x1, x2}, 2);
  }
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : parameters()) inputs.push_back(p);
  // Parameters are inputs so that the op is recorded when only they require grad; their gradients are not
  // returned through the context but accumulated straight into their .grad by the backward passes through the
  // recomputed F and G (parameters are leaves: += is what the engine would do).
  Y = record(Y, "reversible_stack", inputs, [this, saved, d](BackwardContext& c) {
    // (the backward runs with recording off: slices here are plain copies)
    Tensor y1 = slice(c.out, 2, 0, d), y2 = slice(c.out, 2, d, 2 * d);                // (B, n, d) each
    Tensor dy1 = slice(c.grad_out, 2, 0, d), dy2 = slice(c.grad_out, 2, d, 2 * d);   // dLoss/dY1, dLoss/dY2
    with_recording([&] {
      for (int64_t l = static_cast<int64_t>(blocks.size()) - 1; l >= 0; --l) {
        ReformerBlock& block = *blocks[static_cast<size_t>(l)];
        // forward: Y2 = X2 + G(Y1)  =>  X2 = Y2 - G(Y1);  dY1 += (dG/dY1)ᵀ dY2;  dX2 = dY2 + ...
        Tensor y1_leaf = y1.detach();
        y1_leaf.set_requires_grad();
        const Tensor g = block.G(y1_leaf, saved->seeds[l].second, saved->training);
        g.backward(dy2);  // G's parameters get their gradients here
        Tensor x2, dy1_total;
        {
          NoGradGuard no_grad;
          x2 = y2 - g.detach();
          dy1_total = dy1 + y1_leaf.grad();
        }
        // forward: Y1 = X1 + F(X2)  =>  X1 = Y1 - F(X2);  dX1 = dY1;  dX2 = dY2 + (dF/dX2)ᵀ dY1
        x2.set_requires_grad();
        const Tensor f = block.F(x2, saved->key_padding_mask, saved->seeds[l].first, saved->training,
                                 &saved->buckets[static_cast<size_t>(l)], /*replay=*/true);
        f.backward(dy1_total);  // F's parameters get their gradients here
        NoGradGuard no_grad;
        const Tensor x1 = y1 - f.detach();
        const Tensor dx2 = dy2 + x2.grad();
        y1 = x1;
        y2 = x2.detach();
        dy1 = dy1_total;
        dy2 = dx2;
      }
    });
    c.add_grad(0, dy1 + dy2);  // X1 = X2 = x
  });
  return (slice(Y, 2, 0, d) + slice(Y, 2, d, 2 * d)) * 0.5f;  // (B, n, d)
}

}  // namespace attention
