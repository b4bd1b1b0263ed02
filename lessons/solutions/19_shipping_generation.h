// lessons/solutions/19_shipping_generation.h — SPOILER: the reference solution of lesson 19's exercise (step 6),
// and a known-wrong answer. Try the exercise first; `build/lessons/19_shipping_generation --solution` runs this
// solution, `--wrong-answer` shows how the self-check reports a wrong prediction.
// Included by the lesson after its `MyPrediction` struct.
#pragma once

namespace solution {

// Performer: the causal FAVOR+ recurrence keeps S = Σ φ(k) vᵀ (m × d), z = Σ φ(k) and a running maximum per head,
// plus its m × d random features — every token is added in and forgotten, so the state after 1024 tokens is the
// one after 256, to the float.
inline MyPrediction prediction() {
  MyPrediction p;
  p.scheme = "performer";
  p.state_stays_the_same = true;
  return p;
}

// Wrong: the Sparse Transformer's strided pattern reads only about t/l + l keys per query, but the keys it reads
// are every l-th one back to the start, with every residue coming round again: no key can be dropped, so its
// state grows like a KV cache. Cheap in time is not cheap in memory.
inline MyPrediction wrong_prediction() {
  MyPrediction p;
  p.scheme = "sparse";
  p.state_stays_the_same = true;
  return p;
}

}  // namespace solution
