// lessons/solutions/04_reformer.h — SPOILER: the reference solution of lesson 04's exercise (step 14), and a
// known-wrong answer. Try the exercise first; `build/lessons/04_reformer --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `MySettings` struct.
#pragma once

namespace solution {

// Exercise 1 of the lesson: one chunk of all 64 tokens makes every key a candidate of every query, whatever
// the buckets. The output is then shared-QK attention over all keys — still not standard full attention,
// because LSH attention gives a token's own key a score of -1e5 (it attends to itself only when nothing else
// is there: the diagonal of the step-5 pictures).
inline MySettings settings() {
  MySettings s;
  s.chunk = 64;
  s.buckets = 8;
  s.hashes = 2;
  s.causal = false;
  s.predicted_full = true;
  return s;
}

// Wrong: an odd number of buckets. The hash is argmax over [xR; -xR], so buckets come in pairs.
inline MySettings wrong_settings() {
  MySettings s = settings();
  s.buckets = 7;
  return s;
}

}  // namespace solution
