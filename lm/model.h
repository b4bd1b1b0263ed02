// lm/model.h — byte-level language models on any attention scheme: the model, its training examples (causal
// next-byte prediction, or BERT-style masked bytes) and its score, bits per byte.
//
// The vocabulary is the 256 byte values (plus one [MASK] id for the masked LM), as in enwik8 and LRA's text task:
// nothing is lost, and no tokenizer stands between the text and the lesson. A model reads n bytes and gives, at
// every position, 256 logits:
//
//   causal LM  (GPT-style)   input  x_0 .. x_{n-1}, target x_1 .. x_n: position t predicts the next byte from
//                            x_0..x_t (the scheme's causal variant: t sees no later byte).
//   masked LM  (BERT-style)  15 % of the positions are chosen; of those 80 % become [MASK], 10 % a random byte,
//                            10 % stay; the model predicts the original byte at the chosen positions only, seeing
//                            both sides. Every scheme has a masked LM, so Linformer, Star, ... are pretrained too.
//
// Bits per byte (bpc, "bits per character" for byte-level text): the mean cross-entropy of the predicted bytes,
// in bits, = nats / ln 2. A model at 8 bpc knows nothing; gzip spends ~2.6 bpc on the KJV Bible. A masked LM's
// bpc is NOT comparable with a causal LM's: it predicts a byte from both sides and 85 % of the text around it.
//
// Evaluation reads a text in consecutive windows of n bytes (causal: n + 1, so that every byte after the first is
// predicted exactly once, from the bytes before it in its window — a byte early in a window sees little context,
// which costs a little: the usual price of evaluating without a sliding window). Masked: the masking of each
// window comes from a fixed seed, so the same model and text give the same bpc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "attention/transformer.h"
#include "core/random.h"

namespace lm {

using core::IntTensor;
using core::Tensor;

constexpr int64_t kByteValues = 256;   // the classes a model predicts
constexpr int64_t kMaskId = 256;       // the [MASK] input id of the masked LM (vocab 257)

struct LMConfig {
  attention::ModelConfig model;  // scheme, set, d_model, n_heads, n_layers, d_ff, dropout, seed; vocab, max_len
                                 // and causal are set from the fields below
  bool masked = false;           // false: causal LM; true: masked LM
  int64_t context = 256;         // n, the bytes a model reads at once
  float mask_fraction = 0.15f;   // masked LM: the share of positions predicted
};

// The model: token + position embeddings, pre-LN blocks with the chosen scheme, a linear head to 256 logits.
// Its parameters are named like "encoder.blocks.0.attn.w_q" (core::nn::Module::named_parameters()).
class ByteLM : public core::nn::Module {
 public:
  explicit ByteLM(const LMConfig& cfg);
  Tensor forward(const IntTensor& ids);  // (B, n) byte ids (or kMaskId) -> logits (B, n, 256)
  LMConfig config;
  attention::TokenClassifier net;
};

// One batch of training examples: inputs (B, n) and targets (B, n), -100 where nothing is predicted.
struct Example {
  IntTensor inputs, targets;
};

// B windows at uniformly random offsets of `text` (which must be longer than context + 1 bytes).
Example random_batch(const std::string& text, const LMConfig& cfg, int64_t batch_size, core::Rng& rng);
// The window of n (+1 when causal) bytes starting at `offset`; masked: masking drawn from rng.
Example window(const std::string& text, int64_t offset, const LMConfig& cfg, core::Rng& rng);

struct BpcResult {
  double bpc = 0;             // bits per predicted byte
  int64_t predicted = 0;      // bytes predicted
  int64_t windows = 0;
};

// The model's bits per byte on `text` (its first max_bytes bytes if > 0), in eval mode without a graph.
// Restores the training flag afterwards. Throws core::Error when the text is shorter than one window.
BpcResult evaluate_bpc(ByteLM& model, const std::string& text, int64_t max_bytes = 0, int64_t batch_size = 16,
                       uint64_t mask_seed = 1234);

}  // namespace lm
