// lessons/solutions/07_synthesizer.h — SPOILER: the reference solution of lesson 07's exercise (step 7), and a
// known-wrong answer. Try the exercise first; `build/lessons/07_synthesizer --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `MyTask` struct.
#pragma once

namespace solution {

// Exercise 1 of the lesson: the reversal with a factorised R of rank 1. Row i's logits are then a_i·b_j — one
// number a_i per query times one number b_j per key — so as a function of j they all rise and fall with b_j:
// a row can only put its largest weight on the key with the largest b_j (a_i > 0) or the smallest (a_i < 0).
// Two heads single out at most 4 keys, and a reversal needs 16 different ones: the model cannot learn it
// (accuracy stays far below 0.9). With k = 2 the vectors b_j can sit on a circle, and every one of them is the
// largest in some direction a_i: rank 2 can already express any permutation once the logits grow large.
inline MyTask task() {
  MyTask t;
  t.mode = "factorized_random";
  t.settings = {"k=1"};
  t.source = [](int64_t i, int64_t n) { return n - 1 - i; };
  t.predicted_learns = false;
  return t;
}

// Wrong: "R is learned, so it can learn any routing". The parameters are learned, but a rank-1 R can only
// express logits a_i·b_j, whatever values training gives a and b.
inline MyTask wrong_task() {
  MyTask t = task();
  t.predicted_learns = true;
  return t;
}

}  // namespace solution
