// lessons/solutions/15_comparison_and_taxonomy.h — SPOILER: the reference solution of lesson 15's exercise
// (step 7), and a known-wrong answer. Try the exercise first; `build/lessons/15_comparison_and_taxonomy
// --solution` runs this solution, `--wrong-answer` shows how the self-check reports a wrong memory exponent.
// Included by the lesson after its `MyConfiguration` struct.
#pragma once

namespace solution {

// The step's second idea: is Synthesizer O(n²) whatever its mode? Factorized random synthesizes the logits from
// two n × k factors, R = R1 R2ᵀ: fewer parameters (2·n·k instead of n²), and the survey puts Synthesizer in LR
// (and LP) for it. But R is still expanded into n × n logits and softmaxed row by row: the memory counted by the
// allocator grows as n², exponent 2 (exactly 2.00 here: 8, 32, 128, 512 MiB at n = 1K..8K).
inline MyConfiguration configuration() {
  MyConfiguration c;
  c.scheme = "synthesizer";
  c.settings = {"mode=factorized_random"};
  c.predicted_family = "LR";
  c.predicted_memory_exponent = 2.0;
  return c;
}

// Wrong: the same configuration, with "low rank, so linear" for its memory: the family is right, the exponent
// is not — a low-rank R saves parameters, not the n × n matrix of weights.
inline MyConfiguration wrong_configuration() {
  MyConfiguration c = configuration();
  c.predicted_memory_exponent = 1.0;
  return c;
}

}  // namespace solution
