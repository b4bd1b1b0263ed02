// lessons/solutions/08_etc.h — SPOILER: the reference solution of lesson 08's exercise (step 10), and a
// known-wrong answer. Try the exercise first; `build/lessons/08_etc --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `MyConfiguration` struct.
#pragma once

namespace solution {

// A clip larger than the radius: G = 8, r = 5, k = 12. V = 2k + 3 = 27 ids, but no pair is 12 apart. Long
// tokens meet long tokens at distances -5..5 (the band); the 8 global tokens meet each other at distances
// -7..7 (g2g uses the same distance table). k = 12 clips none of them: 15 distance ids, plus l2g and g2l —
// 17 of the 27 ids are in use; the other 10 are biases no pair ever reads.
inline MyConfiguration configuration() {
  MyConfiguration c;
  c.options.global_tokens = 8;
  c.options.window = 5;
  c.options.rel_clip = 12;
  c.options.causal = false;
  c.predicted_ids_in_use = 17;
  return c;
}

// Wrong: counting the band only, -5..5 plus the two labels = 13, forgets that the global tokens also get
// distance ids among themselves, and with G = 8 they reach further than the band.
inline MyConfiguration wrong_configuration() {
  MyConfiguration c = configuration();
  c.predicted_ids_in_use = 13;
  return c;
}

}  // namespace solution
