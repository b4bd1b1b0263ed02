// lessons/solutions/03_sparse_transformer.h — SPOILER: the reference solution of lesson 03's exercise (step 8),
// and a known-wrong answer. Try the exercise first; `build/lessons/03_sparse_transformer --solution` runs this
// solution, `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `MyPattern` struct.
#pragma once

namespace solution {

// Exercise 4 of the lesson: heads = split. Head 0 reads only A1 (its own block), head 1 only A2 (the summary
// cells): one head alone no longer reaches every earlier position in two hops. K is the longest list of the
// two: A2's summary cells, 2 in each of the 10 blocks.
inline MyPattern pattern() {
  MyPattern p;
  p.options = SparseOptions(SparseMode::fixed, /*stride=*/0, /*summary=*/2, /*causal=*/true);
  p.options.heads = attention::SparseHeads::split;
  p.predicted_keys = 20;
  p.predicted_two_hops = false;
  return p;
}

// Wrong: the same split heads, predicted as if one head still held both sets (K = 28, two hops everywhere).
inline MyPattern wrong_pattern() {
  MyPattern p = pattern();
  p.predicted_keys = 28;
  p.predicted_two_hops = true;
  return p;
}

}  // namespace solution
