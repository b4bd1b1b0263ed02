// lessons/solutions/06_linformer.h — SPOILER: the reference solution of lesson 06's exercise (step 5), and a
// known-wrong answer. Try the exercise first; `build/lessons/06_linformer --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `MyProjection` struct.
#pragma once

namespace solution {

// Exercise 1's "all-ones rows": every projected position is the sum of all n tokens, E = F = 𝟙 (k x 𝟙ᵀ). All
// k rows of F are the same row, so F has rank 1, and P_bar F = P_bar · F — each of its rows a mixture of F's
// rows — has rank 1 too, whatever k is: every query gets the same row (K_bar's k keys are all equal, so P_bar's
// rows are uniform 1/k, and P_bar F is the all-ones matrix). Such a projection keeps no position at all.
inline MyProjection projection() {
  MyProjection p;
  p.make = [](int64_t k, int64_t n) {
    Tensor E = Tensor::zeros({k, n});
    for (int64_t r = 0; r < k; ++r)
      for (int64_t j = 0; j < n; ++j) E.at({r, j}) = 1.0f;
    return E;
  };
  p.predicted_rank_at_8 = 1;
  return p;
}

// Wrong: "k = 8 projected positions, so rank 8". The rank is bounded by k, but reached only when the k rows of
// F are independent; eight copies of one row give rank 1.
inline MyProjection wrong_projection() {
  MyProjection p = projection();
  p.predicted_rank_at_8 = 8;
  return p;
}

}  // namespace solution
