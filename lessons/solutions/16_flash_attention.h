// lessons/solutions/16_flash_attention.h — SPOILER: the reference solution of lesson 16's exercise (step 6), and
// a known-wrong answer. Try the exercise first; `build/lessons/16_flash_attention --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports an update that forgets to rescale.
// Included by the lesson after its `MyOnlineSoftmax` struct.
#pragma once

namespace solution {

// Step 1's three equations, for a chunk with maximum c:
//   m_new = max(m, c),   l = l·e^(m − m_new) + Σ e^(s − m_new),   o = o·e^(m − m_new) + Σ e^(s − m_new)·v.
// Every exponent is <= 0, so nothing overflows, and e^(m − m_new) puts what was summed under the old maximum on
// the new one's scale. While every score so far is -inf there is nothing to add (and e^(-inf − (-inf)) would be
// NaN), so the update returns. Tile 7 does not divide 100: the last chunk of a row holds 2 scores, and the
// answers are the same as with 16 — only the number of rescalings changes.
inline MyOnlineSoftmax online_softmax() {
  MyOnlineSoftmax a;
  a.tile = 7;
  a.update = [](RowState& st, const float* s, const float* v, int64_t count, int64_t d) {
    const float m_new = std::max(st.m, *std::max_element(s, s + count));
    if (m_new == kNegInf) return;  // a chunk of masked scores after nothing but masked scores
    if (m_new > st.m) {            // the maximum grew: re-express l and o under it (st.m = -inf gives factor 0)
      const float alpha = std::exp(st.m - m_new);
      st.l *= alpha;
      for (float& x : st.o) x *= alpha;
      st.m = m_new;
    }
    for (int64_t c = 0; c < count; ++c) {
      const float p = std::exp(s[c] - st.m);
      st.l += p;
      for (int64_t t = 0; t < d; ++t) st.o[static_cast<size_t>(t)] += p * v[c * d + t];
    }
  };
  return a;
}

// Wrong: no rescaling (alpha = 1). Each chunk's terms are summed under its own running maximum, so a row whose
// maximum grows after its first chunk mixes scales: the random row, the large-score row and the masked row (its
// maximum grows after its first real chunk too) come out finite and wrong; only the one-score row, a single
// chunk, is right.
inline MyOnlineSoftmax wrong_online_softmax() {
  MyOnlineSoftmax a;
  a.tile = 16;
  a.update = [](RowState& st, const float* s, const float* v, int64_t count, int64_t d) {
    const float m_new = std::max(st.m, *std::max_element(s, s + count));
    if (m_new == kNegInf) return;
    for (int64_t c = 0; c < count; ++c) {
      const float p = std::exp(s[c] - m_new);
      st.l += p;
      for (int64_t t = 0; t < d; ++t) st.o[static_cast<size_t>(t)] += p * v[c * d + t];
    }
    st.m = m_new;
  };
  return a;
}

}  // namespace solution
