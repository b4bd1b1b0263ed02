// lessons/solutions/10_linear_transformer.h — SPOILER: the reference solution of lesson 10's exercise (step 10),
// and a known-wrong answer. Try the exercise first; `build/lessons/10_linear_transformer --solution` runs this
// solution, `--wrong-answer` shows how the self-check reports a feature map with negative values.
// Included by the lesson after its `MyFeatureMap` struct.
#pragma once

namespace solution {

// exp(2x): positive everywhere, so every weight is > 0 and the normaliser never reaches 0. It is also sharper
// than elu+1: phi(q)·phi(k) = sum_c exp(2 q_c + 2 k_c) is dominated by the few coordinates where q and k are
// both large — where a token meets its own copies — while elu+1's d terms are each about 1 whatever the match.
// On the motif input the mean largest weight per row rises from 0.029 (elu+1) to 0.076, 2.7 times more
// (exp(4x): 0.121; softmax: 0.166), so the prediction "clearly more selective" is yes.
inline MyFeatureMap feature_map() {
  MyFeatureMap f;
  f.phi = [](const Tensor& x) { return core::exp(x * 2.0f); };
  f.predicted_sharper = true;
  return f;
}

// Wrong: elu(x) without the +1 is negative for every x < 0 (down to -1), so weights can be negative and the
// normaliser sum_j phi(q_i)·phi(k_j) can be 0 or below: not a weighted average of the values any more.
// Its prediction is never checked: weights below 0 are not a selection of keys, so the lesson skips it.
inline MyFeatureMap wrong_feature_map() {
  MyFeatureMap f;
  f.phi = [](const Tensor& x) { return core::elu(x); };
  f.predicted_sharper = false;
  return f;
}

}  // namespace solution
