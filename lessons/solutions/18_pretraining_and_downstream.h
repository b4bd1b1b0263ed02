// lessons/solutions/18_pretraining_and_downstream.h — SPOILER: the reference solution of lesson 18's exercise
// (step 6), and a known-wrong answer. Try the exercise first; `build/lessons/18_pretraining_and_downstream
// --solution` runs this solution, `--wrong-answer` shows how the self-check reports a rule that is not
// Longformer's.
// Included by the lesson after its `MyExtension` struct.
#pragma once

namespace solution {

// Longformer's rule (Beltagy et al. 2020, §5 "Position Embeddings": "we initialize them by copying the 512
// position embeddings from RoBERTa multiple times"): row t of the long table is row t mod c of the learned one.
// Written as whole blocks: the learned table (c, d) is copied to rows [0, c), [c, 2c), ...; the last block may
// be cut short when n_long is not a multiple of c.
inline MyExtension extension() {
  MyExtension e;
  e.extend = [](const core::Tensor& learned, int64_t n_long) {
    const int64_t c = learned.size(0), d = learned.size(1);
    core::Tensor out = core::Tensor::empty({n_long, d});
    for (int64_t start = 0; start < n_long; start += c) {
      const int64_t rows = std::min(c, n_long - start);
      std::copy_n(learned.data(), rows * d, out.data() + start * d);
    }
    return out;
  };
  return e;
}

// Wrong: keep the learned rows and repeat the LAST one for every new position ("clamp the position at c - 1").
// Every position from c on then looks the same to the model: it cannot tell byte c from byte 4c - 1.
inline MyExtension wrong_extension() {
  MyExtension e;
  e.extend = [](const core::Tensor& learned, int64_t n_long) {
    const int64_t c = learned.size(0), d = learned.size(1);
    core::Tensor out = core::Tensor::empty({n_long, d});
    for (int64_t t = 0; t < n_long; ++t)
      std::copy_n(learned.data() + std::min(t, c - 1) * d, d, out.data() + t * d);
    return out;
  };
  return e;
}

}  // namespace solution
