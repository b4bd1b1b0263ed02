// lessons/solutions/17_pretraining_on_text.h — SPOILER: the reference solution of lesson 17's exercise (step 7),
// and a known-wrong answer. Try the exercise first; `build/lessons/17_pretraining_on_text --solution` runs this
// solution, `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `MyRun` struct.
#pragma once

namespace solution {

// Longformer with a window of 16 bytes each side (causal: the 16 before) at n = 64, 60 steps of 8 windows:
// 30,720 training bytes are enough to learn the byte frequencies and some of what follows what, so the test bits
// per byte fall below the unigram count's (about 4.4 on the KJV Bible).
inline MyRun run() {
  MyRun r;
  r.scheme = "longformer";
  r.settings = {"window=16"};
  r.context = 64;
  r.steps = 60;
  r.predicted_beats_unigram = true;
  return r;
}

// Wrong: 3 steps. A fresh model starts near 8 bits per byte (it spreads its bets over all 256 values); three
// small steps do not bring it down to the byte frequencies, so "yes" is the wrong prediction.
inline MyRun wrong_run() {
  MyRun r;
  r.scheme = "flash";
  r.context = 64;
  r.steps = 3;
  r.predicted_beats_unigram = true;
  return r;
}

}  // namespace solution
