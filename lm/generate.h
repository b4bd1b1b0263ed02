// lm/generate.h — a causal byte LM writing text one byte at a time (`attnzoo generate`, lesson 19).
//
// Legend: n = the model's context (bytes it reads at once), t = bytes in the window so far, V = 256 byte values.
//
// Training reads n bytes at once; generating produces byte t + 1 only after byte t exists. At every byte the
// model needs its logits at the last position. Two ways to get them, which give the same logits:
//
//   cached     (ByteLMDecoder with cache = true) every block keeps its attention layer's state (a KV cache, a
//              ring buffer, a recurrent state: attention/decode.h) and the new byte alone goes through the model:
//              token embedding + position t, then each block's layer decoder, MLP and norms on one row.
//   recompute  (cache = false) the whole model runs again over the window, padded to n (the length it was trained
//              at: some schemes' patterns depend on n), and row t of the logits is read. This is what a generate()
//              without a cache does, and what the cached path is checked against.
//
// A window holds at most n bytes (the model has n learned positions). When it is full, generation goes on in a
// new window that starts with the last n/2 bytes written (they are read again, "prefilled"); both ways do this at
// the same bytes, so the same seed gives the same text with and without the cache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attention/decode.h"
#include "core/random.h"
#include "lm/model.h"

namespace lm {

// The model's state after the bytes fed so far in one window: feed(byte) -> logits (V) for the byte after it.
class ByteLMDecoder {
 public:
  // The model must be a causal LM in eval mode; refused in one line otherwise.
  ByteLMDecoder(ByteLM& model, bool cache);
  std::vector<float> feed(int byte);  // byte in [0, 256); at most n bytes per window -> the next byte's V logits
  int64_t tokens() const { return t_; }
  int64_t context() const { return n_; }
  // Floats held by every block's attention state now (the KV cache, ring, recurrent state; 0 with cache = false,
  // which keeps the window's bytes only), and what the first block's state is, in words.
  int64_t state_floats() const;
  std::string state() const;

 private:
  ByteLM& model_;
  bool cache_;
  int64_t n_, t_ = 0;
  std::vector<std::unique_ptr<attention::LayerDecoder>> layers_;  // one per block (cache = true)
  std::vector<int64_t> window_;                                    // the bytes so far (cache = false)
};

struct GenerateOptions {
  int64_t tokens = 200;       // bytes to write after the prompt
  float temperature = 1.0f;   // logits / T before the softmax; 0 = greedy (the most likely byte)
  int64_t top_k = 0;          // sample among the k most likely bytes only; 0 = all 256
  uint64_t seed = 0;          // the sampler's seed
  bool cache = true;          // false: recompute the whole window at every byte (the comparison)
};

struct GenerateStats {
  int64_t bytes = 0;            // written after the prompt
  int64_t fed = 0;              // bytes that went through the model (prompt, written, and every refill)
  int64_t windows = 1;          // windows used (a new one each time n bytes were reached)
  double seconds = 0;           // wall time of the whole generation, prompt included
  int64_t peak_state_floats = 0;  // the largest state the model held (state_floats)
  std::string state;            // what that state is, in words
};

// Writes o.tokens bytes after `prompt` (at least one byte, every byte allowed) and returns them; on_byte, if set,
// is called with each as it comes. One-line errors: an empty prompt, tokens <= 0, temperature < 0 or not finite,
// top_k < 0 or > 256, a model that is not a causal LM.
std::string generate(ByteLM& model, const std::string& prompt, const GenerateOptions& o,
                     const std::function<void(char)>& on_byte = nullptr, GenerateStats* stats = nullptr);

// The byte drawn from V logits: greedy when temperature == 0, else softmax(logits / T) over the top_k (0 = all).
int sample_byte(const std::vector<float>& logits, float temperature, int64_t top_k, core::Rng& rng);

}  // namespace lm
