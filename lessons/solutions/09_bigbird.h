// lessons/solutions/09_bigbird.h — SPOILER: the reference solution of lesson 09's exercise (step 10), and a
// known-wrong answer. Try the exercise first; `build/lessons/09_bigbird --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `MyConfiguration` struct.
#pragma once

namespace solution {

// Exercise 2 of the lesson: no window beyond the own block (w = 1) and no global blocks (g = 0), 3 random blocks.
// Then only the random draws connect blocks. Each of the 64 blocks draws 3 of the 63 others, so a given block
// is drawn by nobody with probability (1 - 3/63)^63 ≈ 0.045: about 3 of 64 blocks are read by no other block,
// and no output can ever depend on their tokens — the average path is infinite, however many layers are
// stacked. (The draw is fixed by the seed; with this one the lesson counts such blocks and prints them.)
inline MyConfiguration configuration() {
  MyConfiguration c;
  c.options.block = 6;
  c.options.window_blocks = 1;
  c.options.global_blocks = 0;
  c.options.random_blocks = 3;
  c.options.causal = false;
  c.options.seed = 42;
  c.predicted_all_reachable = false;
  return c;
}

// Wrong: "random graphs have short paths, so everything is reachable". The paper's argument needs enough random
// edges (and its BigBird keeps the window and the global tokens); three per block leave some blocks unread.
inline MyConfiguration wrong_configuration() {
  MyConfiguration c = configuration();
  c.predicted_all_reachable = true;
  return c;
}

}  // namespace solution
