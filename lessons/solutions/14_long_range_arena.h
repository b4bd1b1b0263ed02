// lessons/solutions/14_long_range_arena.h — SPOILER: the reference solution of lesson 14's exercise (step 6), and
// a known-wrong answer. Try the exercise first; `build/lessons/14_long_range_arena --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports an operator that computes the wrong value.
// Included by the lesson after its `MyEvaluator` struct.
#pragma once

namespace solution {

// The four operators of ListOps, as the original generator's to_value computes them:
//   MIN, MAX  the smallest and the largest argument;
//   MED       int(np.median(v)): the middle value of the sorted arguments, and for an even count the mean of
//             the two middle ones, truncated (both are digits >= 0, so truncating is rounding down);
//   SM        the sum modulo 10 — every value, and so every label, stays one digit 0..9 (10 classes).
// Written without sorting the whole list: nth_element finds the middle values, and the sum is reduced as it goes.
inline MyEvaluator evaluator() {
  MyEvaluator e;
  e.apply = [](lo::Op op, std::vector<int> v) -> int {
    switch (op) {
      case lo::Op::Min: return *std::min_element(v.begin(), v.end());
      case lo::Op::Max: return *std::max_element(v.begin(), v.end());
      case lo::Op::Med: {
        const size_t mid = v.size() / 2;
        std::nth_element(v.begin(), v.begin() + mid, v.end());  // v[mid]: the upper middle value
        if (v.size() % 2) return v[mid];
        const int lower = *std::max_element(v.begin(), v.begin() + mid);  // the largest of the lower half
        return (lower + v[mid]) / 2;
      }
      case lo::Op::SumMod: {
        int s = 0;
        for (int x : v) s = (s + x) % 10;
        return s;
      }
    }
    return -1;
  };
  return e;
}

// Wrong: MED of an even number of arguments as the lower middle value instead of the mean of the two middle
// ones ([MED 2 7 3 9 ] gives 3, the label is 5). Right whenever the count is odd or the two middle values are
// equal or neighbours, so only some labels change — the self-check finds them and names MED.
inline MyEvaluator wrong_evaluator() {
  MyEvaluator e = evaluator();
  const auto right = e.apply;
  e.apply = [right](lo::Op op, std::vector<int> v) -> int {
    if (op != lo::Op::Med || v.size() % 2) return right(op, v);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2 - 1];
  };
  return e;
}

}  // namespace solution
