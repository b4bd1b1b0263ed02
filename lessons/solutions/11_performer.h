// lessons/solutions/11_performer.h — SPOILER: the reference solution of lesson 11's exercise (step 9), and a
// known-wrong answer. Try the exercise first; `build/lessons/11_performer --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports random features that estimate the wrong kernel.
// Included by the lesson after its `MyRandomFeatures` struct.
#pragma once

#include <cmath>

namespace solution {

// The paper's "regularised" variant: FAVOR+'s orthogonal blocks with every row rescaled to length exactly √d.
// The rows stay orthogonal within a block, and now none is much shorter or longer than the others either, so
// the m directions cover the sphere more evenly than independent Gaussian rows: the error falls below iid's
// (prediction: yes). A Gaussian row's length is √d on average, so the kernel estimated is still (close to)
// exp(q·k/√d) — the error stays near FAVOR+'s, well inside the 1.5x bound.
inline MyRandomFeatures random_features() {
  MyRandomFeatures f;
  f.draw = [](int64_t m, int64_t d, uint64_t seed) {
    const Tensor W = attention::draw_random_features(m, d, /*orthogonal=*/true, seed);  // (m, d)
    const Tensor length = core::sqrt(core::sum(core::square(W), -1, true));               // (m, 1)
    return W / length * std::sqrt(static_cast<float>(d));                                // rows of length √d
  };
  f.predicted_below_iid = true;
  return f;
}

// Wrong: rows half as long. exp(w·q' - ‖q'‖²/2) exp(w·k' - ‖k'‖²/2) averages to exp(q'·k') only for
// w ~ N(0, I_d); with w/2 it estimates exp(q'·k'/4) times a factor that depends on ‖k'‖ — a flatter, different
// kernel: phi(q)·phi(k) averages to 0.63 of exp(q·k/√d) here, however many features are drawn. (The error of
// Â grows only a little, 0.0019 against FAVOR+'s 0.0017: softmax on these inputs is almost uniform, and the
// shorter rows also make the estimate vary less.) The prediction is not checked for a biased kernel.
inline MyRandomFeatures wrong_random_features() {
  MyRandomFeatures f;
  f.draw = [](int64_t m, int64_t d, uint64_t seed) {
    return attention::draw_random_features(m, d, /*orthogonal=*/true, seed) * 0.5f;
  };
  f.predicted_below_iid = false;
  return f;
}

}  // namespace solution
