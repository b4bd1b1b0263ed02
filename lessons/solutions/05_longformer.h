// lessons/solutions/05_longformer.h — SPOILER: the reference solution of lesson 05's exercise (step 9), and a
// known-wrong answer. Try the exercise first; `build/lessons/05_longformer --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports a configuration Longformer cannot use.
// Included by the lesson after its `MyConfiguration` struct.
#pragma once

namespace solution {

// Exercise 2 of the lesson: a global token in every window, global = {0, 6, ..., 42}, w = 5. Query 20 reads the
// band 15..25 (11 keys, among them the global tokens 18 and 24) plus the six global tokens outside it (0, 6, 12,
// 30, 36, 42): 17 distinct keys. K, the slots per query, is 11 + 8 = 19: the band's slots of the two global
// tokens inside it are left empty (-1), so the effective count is what we predicted.
inline MyConfiguration configuration() {
  MyConfiguration c;
  c.options.window = 5;
  c.options.dilation = {1, 3};
  c.options.global = {0, 6, 12, 18, 24, 30, 36, 42};
  c.options.causal = false;
  c.predicted_keys_of_20 = 17;
  return c;
}

// Wrong: dilation 0 — a head whose every band slot is the query's own position.
inline MyConfiguration wrong_configuration() {
  MyConfiguration c = configuration();
  c.options.dilation = {0};
  return c;
}

}  // namespace solution
