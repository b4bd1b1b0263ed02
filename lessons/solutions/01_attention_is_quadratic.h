// lessons/solutions/01_attention_is_quadratic.h — SPOILER: the reference solution of lesson 01's exercise
// (step 9), and a known-wrong answer. Try the exercise first; `build/lessons/01_attention_is_quadratic
// --solution` runs this solution, `--wrong-answer` shows how the self-check reports a rule that is wrong.
// Included by the lesson after its `MyRule` struct.
#pragma once

namespace solution {

// The motif is 8 tokens long, so the previous copy of token i is key i - 8: the window must hold 9 keys,
// i - j < 9. Rows 0..7 see 1..8 keys (36 pairs), the 40 rows from 8 on see 9 each (360): 396 pairs. In
// custom.png a second diagonal appears 8 keys left of the main one — each token finds its earlier copy.
inline MyRule rule() {
  MyRule r;
  r.may_attend = [](int64_t i, int64_t j) { return j <= i && i - j < 9; };
  r.predicted_pairs = 396;
  return r;
}

// Wrong: j < i ("only earlier keys") leaves query 0 with no key at all. The prediction is right for that
// rule (0 + 1 + ... + 47 = 1128 pairs), so only the rule's own check fails.
inline MyRule wrong_rule() {
  MyRule r;
  r.may_attend = [](int64_t i, int64_t j) { return j < i; };
  r.predicted_pairs = 1128;
  return r;
}

}  // namespace solution
