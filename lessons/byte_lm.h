// lessons/byte_lm.h — what the lessons on real text (17, 18, 19) share: the small causal byte LM they train live
// (exact attention, d_model 64, 4 heads, 2 layers: a few seconds at --quick size) and a passage shown on one line.
//
//   lm::TrainOptions run = lesson::small_byte_lm(128, 400, 16, L.seed());   // context, steps, batch, seed
//   L.say("\"", lesson::one_line(passage), "\"");
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "lm/train.h"

namespace lesson {

// A causal byte LM with flash attention, trained with AdamW at lr 3e-3, validated 4 times, progress as lines.
inline lm::TrainOptions small_byte_lm(int64_t context, int64_t steps, int64_t batch, uint64_t seed) {
  lm::TrainOptions o;
  o.lm.model.scheme = "flash";
  o.lm.model.d_model = 64;
  o.lm.model.n_heads = 4;
  o.lm.model.n_layers = 2;
  o.lm.model.d_ff = 256;
  o.lm.context = context;
  o.steps = steps;
  o.batch_size = batch;
  o.lr = 3e-3f;
  o.eval_every = std::max<int64_t>(1, steps / 4);
  o.eval_bytes = 1 << 15;
  o.seed = seed;
  o.progress = lra::ProgressMode::Lines;
  return o;
}

// A passage with its line breaks made visible ("\n"), for printing on one line.
inline std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out;
}

}  // namespace lesson
