// lessons/solutions/12_sinkhorn.h — SPOILER: the reference solution of lesson 12's exercise (step 5), and a
// known-wrong answer. Try the exercise first; `build/lessons/12_sinkhorn --solution` runs this solution,
// `--wrong-answer` shows how the self-check reports a Sinkhorn whose steps come in the wrong order.
// Included by the lesson after its `MySinkhorn` struct.
#pragma once

namespace solution {

// Log-domain Sinkhorn, 20 iterations: subtract each row's logsumexp, then each column's, and exp once at the
// end. Logs never overflow, whatever τ (the probability domain, exp(X) first, gives the same P here — exp(X)
// peaks at 8.8e4 for τ = 0.75 — but overflows to inf at τ = 0.05). The columns end exact (the column step comes
// last); the rows converge slowly on a P this close to a permutation: 0.10 off after 5 iterations, 0.032 after
// 20 — so "every row within 0.05" is yes at 20, no at 5 or 10.
inline MySinkhorn sinkhorn() {
  MySinkhorn s;
  s.balance = [](const Tensor& X, int64_t iters) {
    Tensor Y = X;  // log P, (..., nb, nb)
    for (int64_t t = 0; t < iters; ++t) {
      Y = core::log_softmax(Y, -1);  // rows
      Y = core::log_softmax(Y, -2);  // columns
    }
    return core::exp(Y);
  };
  s.iters = 20;
  s.predicted_rows_within_5pct = true;
  return s;
}

// Wrong: the columns first, then the rows. In the limit both orders reach the same doubly stochastic P, but
// after 5 iterations the last step is the exact one: here the rows sum to 1 exactly and the columns do not, so
// P is not the library's (whose columns are exact). The prediction is right (the rows are exact, so within
// 0.05), so only the comparison with the library fails.
inline MySinkhorn wrong_sinkhorn() {
  MySinkhorn s;
  s.balance = [](const Tensor& X, int64_t iters) {
    Tensor Y = X;
    for (int64_t t = 0; t < iters; ++t) {
      Y = core::log_softmax(Y, -2);  // columns first
      Y = core::log_softmax(Y, -1);  // then rows
    }
    return core::exp(Y);
  };
  s.iters = 5;
  s.predicted_rows_within_5pct = true;
  return s;
}

}  // namespace solution
