// attention/decode.h — generating one token at a time: a scheme's causal attention as a recurrence with a state.
//
// Legend: B = batch, H = heads, d = head size, t = tokens seen so far, n = the whole sequence's length.
//
// Training sees the whole sequence at once; generation sees token t only after it has produced token t - 1. At
// step t the layer has token t's q, k, v and must give row t of the causal attention over tokens 0..t. What it
// keeps between steps — its state — is where the schemes differ most at inference:
//
//   full, flash        a KV cache: every k and v so far, 2·t·d floats per head, growing with t; a step reads all
//                      of it (O(t·d) time)
//   longformer         a ring buffer of the last w·δ + 1 keys and values (plus the global tokens'): constant in t
//   sparse             fixed: the summary cells and the current block; strided: every key (a step reads ~t/l + l)
//   bigbird            a KV cache read through its block pattern (window, global, random blocks): O(t) memory,
//                      a step reads only its row's keys
//   linear, performer  the recurrent state S = Σ φ(k) vᵀ (m × d) and z = Σ φ(k) (m): constant in t; a step is
//                      O(m·d) whatever t — the "Transformers are RNNs" form
//   the others         the documented fallback (RecomputeDecoder): keep q, k, v of every token so far and run the
//                      whole causal kernel again at every step, so that the data-dependent parts (LSH buckets,
//                      clusters, sorted blocks, relative biases) are what the kernel would compute
//
// The contract, tested for every causal scheme (tests/test_decode.cpp): feeding tokens 0..n-1 one by one gives
// kernel(q, k, v, causal) over the whole sequence, row by row, to 1e-4. `attnzoo run SCHEME --causal --decode`
// computes its output this way. No gradients: decoding is inference.
//
// A layer decodes the same way (LayerDecoder): the standard layer projects token t and steps its scheme's
// Decoder; a layer whose attention brings its own parameters (Longformer's global projections, routing's
// centroids, BigBird's random graph, ...) recomputes, unless it says how to do better (Performer's current draw).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attention/scheme.h"

namespace attention {

class Decoder {
 public:
  // n: the length of the whole sequence the steps will build (the kernel's n; some schemes' patterns depend on it).
  Decoder(std::string scheme, int64_t n) : scheme_(std::move(scheme)), n_(n) {}
  virtual ~Decoder() = default;

  // Token t's q, k, v: each (B, H, 1, d), the same B, H, d at every step -> (B, H, 1, d), row t of the causal
  // kernel. One-line errors for a wrong shape or a step past n.
  Tensor step(const Tensor& q, const Tensor& k, const Tensor& v);
  // Tokens t .. t + T - 1 at once, (B, H, T, d) each, without their outputs: the state a prompt leaves (what a
  // benchmark needs before timing step t). Equal to T steps; a decoder that can copy rows into its state does so.
  void prefill(const Tensor& q, const Tensor& k, const Tensor& v);

  int64_t tokens() const { return t_; }   // t: steps done
  int64_t length() const { return n_; }   // n
  // Floats the state holds now (after tokens() steps), and what it is, in words with its growth in t.
  virtual int64_t state_floats() const = 0;
  virtual std::string state() const = 0;

 protected:
  // The scheme's step: q, k, v checked (B, H, 1, d); tokens() is t, the index of this token.
  virtual Tensor do_step(const Tensor& q, const Tensor& k, const Tensor& v) = 0;
  // prefill's fast path: take tokens tokens()..tokens() + T - 1 into the state and return true, or return false
  // (the default) to have them stepped one by one. B, H, d are set.
  virtual bool do_prefill(const Tensor& q, const Tensor& k, const Tensor& v) { return false; }
  int64_t B = 0, H = 0, d = 0;  // fixed by the first step

 private:
  std::string scheme_;
  int64_t n_, t_ = 0;
};

// One query over cached rows — the step of every cache-based decoder: out = Σ_j softmax_j(q·k_j / √d) v_j over
// the key and value rows keys[j], values[j] (d floats each, j < keys.size()), as one softmax. out: d floats.
void attend_cached(const float* q, const std::vector<const float*>& keys, const std::vector<const float*>& values,
                   int64_t d, float* out);

// Exact softmax attention over a cache of every key and value so far (full and flash): row t of
// softmax(q_t K_{0..t}ᵀ / √d) V_{0..t}. State: 2·B·H·t·d floats.
class KvCacheDecoder : public Decoder {
 public:
  KvCacheDecoder(std::string scheme, int64_t n);
  int64_t state_floats() const override;
  std::string state() const override;

 protected:
  Tensor do_step(const Tensor& q, const Tensor& k, const Tensor& v) override;
  bool do_prefill(const Tensor& q, const Tensor& k, const Tensor& v) override;  // copies k, v into the cache
  void store(const Tensor& k, const Tensor& v);  // k, v (B, H, T, d) into rows t .. t + T - 1 (allocating at t = 0)

  std::vector<float> K_, V_;  // (B, H, n, d) each, rows 0..t filled
};

// A KV cache read through a pattern's key lists (BigBird): every key and value is kept (2·B·H·t·d floats, as a KV
// cache: a later query's random or global blocks may reach any of them), but step t reads only the keys of row t
// of the scheme's index — softmax over those — so a step costs O(K·d), not O(t·d). `index_for(H)` gives the key
// lists (1, 1 or H, n, K), -1 = no key, made once the first step fixes H.
class IndexKvDecoder : public KvCacheDecoder {
 public:
  IndexKvDecoder(std::string scheme, int64_t n, std::function<core::IntTensor(int64_t H)> index_for,
                 std::string what);
  std::string state() const override;

 protected:
  Tensor do_step(const Tensor& q, const Tensor& k, const Tensor& v) override;

 private:
  std::function<core::IntTensor(int64_t H)> index_for_;
  std::string what_;
  core::IntTensor index_;  // (1, Hi, n, K)
};

// The fallback: q, k, v of every token so far in (B, H, n, d) buffers (later rows zero), and at step t the
// scheme's whole causal kernel on them, of which row t is returned. Exact for any causal kernel — row t of a
// causal kernel does not depend on rows after t — at the kernel's full cost per token. State: 3·B·H·t·d floats.
class RecomputeDecoder : public Decoder {
 public:
  RecomputeDecoder(const Scheme& scheme, const Config& cfg, int64_t n);
  int64_t state_floats() const override;
  std::string state() const override;

 protected:
  Tensor do_step(const Tensor& q, const Tensor& k, const Tensor& v) override;
  bool do_prefill(const Tensor& q, const Tensor& k, const Tensor& v) override;  // copies q, k, v

 private:
  const Scheme& scheme_;
  Config cfg_;
  Tensor Q_, K_, V_;  // (B, H, n, d)
};

// ---- a whole layer, one token at a time ---------------------------------------------------------------------
// A model generates with one LayerDecoder per block: token t's input x_t (B, 1, d_model) -> the layer's output at
// t (B, 1, d_model), equal to row t of layer.forward(x_0..x_{n-1}) for a causal layer.
class LayerDecoder {
 public:
  LayerDecoder(std::string who, int64_t n) : who_(std::move(who)), n_(n) {}
  virtual ~LayerDecoder() = default;
  Tensor step(const Tensor& x);  // (B, 1, d_model), the same B at every step -> (B, 1, d_model)
  int64_t tokens() const { return t_; }
  int64_t length() const { return n_; }
  virtual int64_t state_floats() const = 0;
  virtual std::string state() const = 0;

 protected:
  virtual Tensor do_step(const Tensor& x) = 0;  // x checked; tokens() is t
  const std::string& who() const { return who_; }

 private:
  std::string who_;
  int64_t n_, t_ = 0, B_ = 0, width_ = 0;
};

// The standard layer's step: w_q, w_k, w_v of x_t, split into heads, the scheme's Decoder, merge, w_o. Its state
// is the Decoder's.
class ProjectedLayerDecoder : public LayerDecoder {
 public:
  ProjectedLayerDecoder(ProjectedAttention& layer, std::unique_ptr<Decoder> decoder);
  int64_t state_floats() const override;
  std::string state() const override;

 protected:
  Tensor do_step(const Tensor& x) override;

 private:
  ProjectedAttention& layer_;
  std::unique_ptr<Decoder> decoder_;
};

// The fallback for any causal layer: its inputs so far in a (B, n, d_model) buffer (later rows zero), and at step t
// layer.forward on all of it, of which row t is returned — the layer's full cost per token. State: B·t·d_model.
class RecomputeLayerDecoder : public LayerDecoder {
 public:
  RecomputeLayerDecoder(AttentionLayer& layer, std::string who, int64_t n);
  int64_t state_floats() const override;
  std::string state() const override;

 protected:
  Tensor do_step(const Tensor& x) override;

 private:
  AttentionLayer& layer_;
  Tensor X_;  // (B, n, d_model)
};

// The decoder of a registered scheme for a sequence of n tokens: scheme.make_decoder(cfg, n), after the checks
// every caller needs (the scheme has a causal variant, cfg.causal is set, no padding mask, n >= 1).
std::unique_ptr<Decoder> make_decoder(const Scheme& scheme, const Config& cfg, int64_t n);

// Runs q, k, v (B, H, n, d) through the decoder token by token: (B, H, n, d), equal to the causal kernel's output.
Tensor decode_all(Decoder& decoder, const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace attention
