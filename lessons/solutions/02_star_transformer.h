// lessons/solutions/02_star_transformer.h — SPOILER: the reference solution of lesson 02's exercise (step 7),
// and a known-wrong answer. Try the exercise first; `build/lessons/02_star_transformer --solution` runs this
// solution, `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `WindowStack` struct.
#pragma once

namespace solution {

// Stacked windows of radius r reach r·L positions: output 0 needs r·L >= 15, so 15 layers of radius 1 (8 of
// radius 2). Then it sees all 16 inputs — what one Star layer does through its relay, for any n.
inline WindowStack stack() {
  WindowStack s;
  s.radius = 1;
  s.window_layers = 15;
  s.predicted_seen = 16;
  return s;
}

// Wrong: two layers of radius 2 reach only 4 positions (inputs 0..4, 5 of 16), not the whole sequence.
inline WindowStack wrong_stack() {
  WindowStack s;
  s.radius = 2;
  s.window_layers = 2;
  s.predicted_seen = 16;
  return s;
}

}  // namespace solution
