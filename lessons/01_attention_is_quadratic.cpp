// %% [markdown]
// # 01 · Attention is quadratic
//
// Scaled dot-product attention (Vaswani et al. 2017, Attention Is All You Need) lets every position of a
// sequence look at every other one:
//
//     Attention(Q, K, V) = softmax(Q Kᵀ / √d) V
//
// Each of the n queries is compared with each of the n keys: the score matrix Q Kᵀ has n × n entries. That is
// the whole story of this course — twice the sequence, four times the work and four times the memory. Every
// later lesson is a way around this n × n matrix.
//
// In this lesson we build attention from the engine's ops in four lines, check it against the reference
// `attention::dense_attention` (outputs and gradients), look at what it does on a sequence with a repeated
// pattern, and measure the quadratic cost.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size. q, k, v are (B, H, n, d).
// %%
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
using lesson::matrix_map;  // a (1, 1, n, n) attention matrix as a heatmap (lessons/lesson.h)

// may_attend(i, j): may query i look at key j?
using Rule = std::function<bool(int64_t i, int64_t j)>;

// The mask the scores need: 1 where query i may NOT look at key j. (1, 1, n, n): broadcasts over B and H.
Tensor blocked_from_rule(int64_t n, const Rule& may_attend) {
  Tensor blocked = Tensor::zeros({1, 1, n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) blocked.at({0, 0, i, j}) = may_attend(i, j) ? 0.0f : 1.0f;
  return blocked;
}

// Attention from core ops, returning its probabilities too so that they can be drawn.
// q, k, v: (B, H, n, d); blocked: (1, 1, n, n) or undefined (every query sees every key).
struct AttentionResult {
  Tensor out;    // (B, H, n, d)
  Tensor probs;  // (B, H, n, n)
};

AttentionResult attention_from_ops(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& blocked,
                                   float scale) {
  Tensor scores = core::matmul(q, k, false, true) * scale;  // (B,H,n,d) @ (B,H,n,d)ᵀ -> (B,H,n,n)
  if (blocked.defined())
    scores = core::masked_fill(scores, blocked, -std::numeric_limits<float>::infinity());
  Tensor probs = core::softmax(scores, -1);  // (B,H,n,n): each row sums to 1 (0 if all blocked)
  return {core::matmul(probs, v), probs};    // (B,H,n,n) @ (B,H,n,d) -> (B,H,n,d)
}

// The same computation as plain loops in double precision: a second, independent implementation.
Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Rule& may_attend, float scale) {
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
  Tensor out = Tensor::zeros(q.shape());
  std::vector<double> w(static_cast<size_t>(n));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < n; ++i) {
        double top = -std::numeric_limits<double>::infinity(), total = 0.0;
        for (int64_t j = 0; j < n; ++j) {
          if (!may_attend(i, j)) continue;
          double dot = 0.0;
          for (int64_t t = 0; t < d; ++t) dot += double(q.at({b, h, i, t})) * k.at({b, h, j, t});
          w[j] = dot * scale;
          top = std::max(top, w[j]);
        }
        for (int64_t j = 0; j < n; ++j)
          if (may_attend(i, j)) total += (w[j] = std::exp(w[j] - top));
        for (int64_t j = 0; j < n; ++j) {
          if (!may_attend(i, j)) continue;
          for (int64_t t = 0; t < d; ++t) out.at({b, h, i, t}) += static_cast<float>(w[j] / total * v.at({b, h, j, t}));
        }
      }
  return out;
}

// %%
// Step 9's exercise: your attention rule and your prediction of how many (query, key) pairs it lets through.
// Your version is the EXERCISE block in main; the reference solution and a known-wrong answer are in
// lessons/solutions/01_attention_is_quadratic.h.
struct MyRule {
  Rule may_attend;              // may query i look at key j?
  int64_t predicted_pairs = 0;  // your count of the pairs (i, j) with may_attend(i, j), for n = 48
};
#include "lessons/solutions/01_attention_is_quadratic.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "01_attention_is_quadratic");

  // %% [markdown]
  // ## Step 1 · a sequence with a pattern
  // Attention is easiest to see on an input with structure. Our "sentence" is a motif of 8 tokens repeated
  // 6 times (n = 48). Each token id has a random embedding vector of size d = 64, and we use the embeddings
  // directly as queries, keys and values (a real layer would first multiply by learned W_q, W_k, W_v).
  // %%
  L.step("Step 1 · a sequence with a pattern");
  const int64_t motif = 8, repeats = 6, n = motif * repeats, d = 64;
  core::Rng rng = L.rng(0);
  const Tensor embedding = core::randn({motif, d}, rng);  // (vocab, d): one random vector per token id
  IntTensor tokens({n});
  for (int64_t i = 0; i < n; ++i) tokens.data[i] = i % motif;
  std::string token_line;
  for (int64_t i = 0; i < n; ++i) token_line += std::to_string(tokens.data[i]) + (i + 1 < n ? " " : "");
  L.say("tokens: ", token_line);
  const Tensor x = core::reshape(core::embedding(embedding, tokens), {1, 1, n, d});  // (B, H, n, d) = (1,1,48,64)
  const Tensor q = x, k = x, v = x;
  L.say("q = k = v = embedding[tokens]: ", q.shape(), "   (B, H, n, d)");

  // %% [markdown]
  // ## Step 2 · the scores
  // Score (i, j) says how well query i matches key j: their dot product, divided by √d. Without the division
  // the dot product of two random d-dimensional vectors has a spread of √d, the softmax saturates, and its
  // gradients vanish (Vaswani et al. 2017, section 3.2.1). `matmul(q, k, false, true)` multiplies by kᵀ
  // without copying k. The output has one entry per (query, key) pair: n × n.
  // %%
  L.step("Step 2 · the scores");
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const Tensor scores = core::matmul(q, k, false, true) * scale;  // (1,1,48,64) @ (1,1,48,64)ᵀ -> (1,1,48,48)
  L.say("scores = q kᵀ / √", d, ": ", q.shape(), " @ ", k.shape(), "ᵀ -> ", scores.shape());
  L.print("scores[0, 0, :4, :4]  (a token matches itself with |x|²/8 ≈ 64/8 = 8; others score near 0)",
          core::reshape(core::slice(core::slice(scores, 2, 0, 4), 3, 0, 4), {4, 4}));
  const lesson::MapStyle motif_grid = lesson::MapStyle().grid(static_cast<int>(motif));  // a line every 8 tokens
  L.show(matrix_map(scores, "scores q kT / sqrt(d)", "n = 48: a motif of 8 tokens, 6 times",
                    motif_grid.value("score").diverging()),
         "scores.png",
         "the raw scores (signed, white = 0) — red stripes every 8 positions: a token scores high with every "
         "copy of itself; the rest is pale noise around 0");

  // %% [markdown]
  // ## Step 3 · the mask
  // A language model must not peek at the future: query i may only look at keys j ≤ i ("causal" attention).
  // We set the forbidden scores to -∞, so that exp(-∞) = 0 gives them no weight at all.
  // %%
  L.step("Step 3 · the causal mask");
  const Tensor causal = blocked_from_rule(n, [](int64_t i, int64_t j) { return j <= i; });  // (1,1,48,48)
  L.print("blocked[0, 0, :5, :5]  (1 = may not look)", core::reshape(core::slice(core::slice(causal, 2, 0, 5), 3, 0, 5), {5, 5}));
  const Tensor causal_scores = core::masked_fill(scores, causal, -std::numeric_limits<float>::infinity());
  L.say("masked scores: ", causal_scores.shape(), ", row 1 = [", causal_scores.at({0, 0, 1, 0}), ", ",
        causal_scores.at({0, 0, 1, 1}), ", ", causal_scores.at({0, 0, 1, 2}), ", ...]");

  // %% [markdown]
  // ## Step 4 · softmax
  // Each row of scores becomes a probability distribution over the keys:
  //     probs[i, j] = exp(s[i, j]) / Σ_j' exp(s[i, j'])
  // (computed as exp(s - max) so that a large score cannot overflow).
  // %%
  L.step("Step 4 · softmax");
  const Tensor full_probs = core::softmax(scores, -1);           // (1,1,48,48)
  const Tensor causal_probs = core::softmax(causal_scores, -1);  // (1,1,48,48)
  const Tensor row_sums = core::sum(full_probs, -1);             // (1,1,48)
  double worst_sum = 0.0;
  for (int64_t i = 0; i < row_sums.numel(); ++i) worst_sum = std::max(worst_sum, std::fabs(row_sums.data()[i] - 1.0));
  L.say("probs: ", full_probs.shape(), "; row 0 puts ", lesson::fixed(100 * full_probs.at({0, 0, 0, 0}), 1),
        " % on key 0 and ", lesson::fixed(100 * full_probs.at({0, 0, 0, 8}), 1), " % on key 8 (the next copy of token 0)");
  L.check("every row of probabilities sums to 1", worst_sum < 1e-5, "max |sum - 1| = " + lesson::sig(worst_sum, 2));

  // %% [markdown]
  // ## Step 5 · the weighted sum
  // The output of query i is the average of the values, weighted by its row of probabilities:
  //     out = probs @ v     (1,1,48,48) @ (1,1,48,64) -> (1,1,48,64)
  // %%
  L.step("Step 5 · the weighted sum");
  const Tensor out = core::matmul(full_probs, v);  // (1,1,48,48) @ (1,1,48,64) -> (1,1,48,64)
  L.say("out = probs @ v: ", full_probs.shape(), " @ ", v.shape(), " -> ", out.shape());
  L.say("Steps 2-5 in one function, attention_from_ops(q, k, v, blocked, scale), are four lines (top of file).");

  // %% [markdown]
  // ## Step 6 · check against the reference
  // `attention::dense_attention` is the course's reference, and every efficient scheme is tested against it.
  // Our four lines must give the same output and, through autograd, the same gradients for q, k and v — with
  // and without the causal mask, on random inputs with two heads. `lesson::kernel_vs_reference`
  // (lessons/reference.h) runs each implementation on its own fresh copy of q, k, v, backpropagates the same
  // upstream gradient g through both, and hands back the two outputs and the two sets of gradients; every later
  // lesson checks its kernel this way.
  // %%
  L.step("Step 6 · check against attention::dense_attention");
  {
    core::Rng check_rng = L.rng(1);
    const int64_t cn = 24, ch = 2, cd = 16;
    const Tensor q0 = core::randn({1, ch, cn, cd}, check_rng), k0 = core::randn({1, ch, cn, cd}, check_rng),
                 v0 = core::randn({1, ch, cn, cd}, check_rng), g = core::randn({1, ch, cn, cd}, check_rng);
    L.say("random q, k, v: ", q0.shape(), ", upstream gradient g: ", g.shape());
    for (const bool is_causal : {false, true}) {
      const Tensor blocked = is_causal ? blocked_from_rule(cn, [](int64_t i, int64_t j) { return j <= i; }) : Tensor();
      const lesson::KernelVsReference c = lesson::kernel_vs_reference(
          [&](const std::vector<Tensor>& x) {
            return attention_from_ops(x[0], x[1], x[2], blocked, 1.0f / std::sqrt(float(cd))).out;
          },
          [&](const std::vector<Tensor>& x) {
            return attention::dense_attention(x[0], x[1], x[2], {is_causal, Tensor()});
          },
          {q0, k0, v0}, g);
      const std::string what = is_causal ? "causal" : "full";
      L.check_close(what + ": output equals dense_attention", c.out, c.ref_out, 1e-5f);
      const char* names[] = {"dq", "dk", "dv"};
      for (int a = 0; a < 3; ++a)
        L.check_close(what + ": " + names[a] + " equals dense_attention's", c.grads[a], c.ref_grads[a], 1e-5f);
    }
  }

  // %% [markdown]
  // ## Step 7 · what attention does with the pattern
  // Same tokens have the same embedding, so each query matches every copy of itself. Attention ignores word
  // order: without positional information, identical tokens at different places give identical rows.
  // %%
  L.step("Step 7 · pictures of full and causal attention");
  L.show(matrix_map(full_probs, "full attention softmax(q kT / sqrt(d))", "n = 48: a motif of 8 tokens, 6 times",
                    motif_grid),
         "full.png",
         "full attention — 6 parallel stripes: every query splits its weight (about 1/6 each) between the 6 "
         "copies of its token, one per 8x8 block, wherever they are");
  L.show(matrix_map(causal_probs, "causal attention (key j <= query i)", "n = 48: a motif of 8 tokens, 6 times",
                    motif_grid),
         "causal.png",
         "causal attention — the upper triangle is empty (no peeking ahead); the first 8 rows are bright on the "
         "diagonal (only one copy visible yet), and rows further down share their weight among more earlier "
         "copies, so the stripes fade downwards");
  L.check("causal: no weight above the diagonal", [&] {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j)
        if (causal_probs.at({0, 0, i, j}) != 0.0f) return false;
    return true;
  }());
  L.check("full: query 20 puts most weight on the copies of its token",
          [&] {
            double on_copies = 0.0;
            for (int64_t j = 20 % motif; j < n; j += motif) on_copies += full_probs.at({0, 0, 20, j});
            return on_copies > 0.9;
          }(),
          "copies of token 4 at keys 4, 12, 20, ..., 44");

  // %% [markdown]
  // ## Step 8 · the cost
  // The scores and the probabilities are n × n matrices. Written as four ops (QKᵀ, /√d, mask, softmax), each
  // of them would stay alive for the backward pass; `attention::dense_attention` fuses scale, mask and softmax
  // into one op that turns the scores into the probabilities in place and keeps only those (attention/dense.cpp),
  // so the forward's activation memory is about one n² · 4 bytes per head. The time is dominated by two matrix
  // products of 2 · n² · d floating-point operations each. Double n: four times the memory, four times the
  // time. We measure the registry's `full` kernel (`attention::dense_attention`) at B = 1, H = 1, d = 64, the
  // forward alone and forward + backward, with `lesson::cost_step`, the call every lesson's cost step makes: it
  // runs the course's benchmark (attention/benchmark.h; time: the fastest of a few runs in separate rounds, on
  // this machine, with their spread — other programs only ever slow a run down; memory: bytes of tensors allocated
  // by core::memory on top of q, k and v, exact), prints the table, fits the exponent a of cost ~ n^a, checks the
  // memory exponent against the one we expect, says what the times support, and draws the log-log figure.
  // %%
  L.step("Step 8 · the cost of dense attention");
  // One call measures, prints, fits, checks and draws (lessons/cost.h): the same call in every lesson's cost step.
  const lesson::CostResult cost = lesson::cost_step(
      L,
      {lesson::Curve("full", {}, "forward").forward_only().expect(2.0, 2.0),
       lesson::Curve("full", {}, "forward+backward").up_to(L.quick() ? 2048 : 4096).expect(2.0, 2.0)},
      lesson::CostOptions()
          .sizes(L.quick() ? 512 : 256, L.quick() ? 2048 : 8192)
          .title("dense attention: the cost")
          .figure("cost.png",
                  "time and peak memory vs n on log-log axes — a straight line of slope 2 is n²: the memory curves "
                  "have slope 2 from the start (legend), the time curves bend towards slope 2 as n grows (small n "
                  "pay fixed overheads)"));
  {
    // How many n × n float matrices the peak holds: the forward keeps one, forward+backward three.
    auto matrices = [&](const attention::Scaling& c) {
      return c.mib.back() / lesson::mib(static_cast<std::size_t>(4.0 * c.n.back() * c.n.back()));
    };
    const attention::Scaling& fwd = cost.fit("forward");
    const attention::Scaling& fb = cost.fit("forward+backward");
    L.check("forward peak memory is about one n x n matrix (scores become probabilities in place)",
            matrices(fwd) > 0.9 && matrices(fwd) < 1.5,
            lesson::fixed(matrices(fwd), 2) + " matrices at n = " + std::to_string(int64_t(fwd.n.back())));
    L.say("Forward+backward peaks at about ", lesson::fixed(matrices(fb), 1), " n x n matrices (n = ", fb.n.back(),
          "): autograd keeps the probabilities for the backward pass, which then");
    L.say("makes n x n gradients of its own (of the probabilities, then of the scores): three at the peak.");
  }
  {
    // What the doublings show, in the sentence the measured ratios support (lessons/cost.h: doubling_verdict):
    // the n² work predicts x prev = 4; fixed overheads pull the first doublings below it, a busy machine or the
    // matrices leaving the cache can push a doubling above it.
    L.say("What the time ratios per doubling show (n² work predicts 4):");
    for (const char* label : {"forward", "forward+backward"}) {
      const attention::Scaling& c = cost.fit(label);
      if (c.n.size() < 2) continue;
      L.say("  ", label, ", first doubling: ", lesson::doubling_verdict(c, cost.runs_of(label), 1, 4.0, cost.other_load), ";");
      L.say("  ", label, ", last doubling: ", lesson::doubling_verdict(c, cost.runs_of(label), c.n.size() - 1, 4.0, cost.other_load), ".");
    }
  }

  // %% [markdown]
  // ## Step 9 · your own attention rule
  // A mask is just a rule "may query i look at key j?". Most efficient schemes in this course are such rules
  // (a window, a stride, a few global tokens) plus a kernel that skips the blocked pairs instead of computing
  // and discarding them. Change the rule below, rebuild, rerun: the self-check verifies that the engine's
  // attention follows your rule exactly — zero weight where blocked, the same output as plain loops, and no
  // gradient flowing to keys a query may not see.
  // %%
  L.step("Step 9 · your own attention rule");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // may_attend(i, j): may query i look at key j? Rules here are for a decoder: query i may only look at keys
  // j <= i, and every query must see at least one key. The default is a causal window of 8 keys, exactly one
  // too short to reach the previous copy of a token (the motif repeats every 8): custom.png shows only the
  // diagonal band. Your task: widen the window until each token (after the first motif) sees its previous
  // copy, and first PREDICT how many of the 48 x 48 pairs your rule lets through (predicted_pairs); the
  // self-check counts them. Then try, each with its prediction:
  //   j <= i && (i - j < 4 || j < 2)  (a local window plus two "global" tokens, as in Longformer)
  //   (i - j) % 8 == 0 && j <= i      (a strided pattern, as in the Sparse Transformer)
  // and my_scale = 1.0f (sharper rows) or 0.01f (almost uniform rows).
  MyRule mine;
  mine.may_attend = [](int64_t i, int64_t j) { return j <= i && i - j < 8; };
  mine.predicted_pairs = 356;  // rows 0..6 see 1..7 keys (28 pairs), the 41 rows from 7 on see 8 each (328)
  const float my_scale = 1.0f / std::sqrt(static_cast<float>(d));
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyRule answer = L.exercise(mine, solution::rule(), solution::wrong_rule());
  const Rule may_attend = answer.may_attend;
  const Tensor blocked = blocked_from_rule(n, may_attend);  // (1,1,48,48)
  const AttentionResult with_rule = attention_from_ops(x, x, x, blocked, my_scale);
  img::HeatmapOptions po;
  po.title = "your rule: may_attend(i, j)";
  po.subtitle = "n = 48";
  po.xlabel = "key position j";
  po.ylabel = "query position i";
  po.grid_every = static_cast<int>(motif);
  IntTensor pattern({n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) pattern.at({i, j}) = may_attend(i, j) ? 1 : 0;
  po.colors = {img::Color{235, 235, 235}, img::categorical(0)};
  L.show(img::hstack({img::categorical_heatmap(pattern, {"blocked", "may attend"}, po),
                      matrix_map(with_rule.probs, "attention with your rule", "n = 48: a motif of 8 tokens, 6 times",
                                 motif_grid)}),
         "custom.png",
         "left: the pairs your EXERCISE rule lets through (by default a band of 8 keys under the diagonal); "
         "right: the attention weights — they can only appear inside the band, and with the default window "
         "each token sees no earlier copy of itself, so only the diagonal lights up");

  // %% [markdown]
  // **What your rule lets through.** First the rule itself, in numbers: the (query, key) pairs it allows,
  // counted and set beside your prediction, and whether it is a decoder's rule — every query sees at least one
  // key, none sees a later one. On the weights: a blocked pair gets exactly 0, and each row still sums to 1.
  // %%
  // 1. blocked pairs get exactly zero weight; every row with a visible key sums to 1.
  bool rows_ok = true;
  int64_t visible = 0;
  for (int64_t i = 0; i < n; ++i) {
    double total = 0.0;
    bool any = false;
    for (int64_t j = 0; j < n; ++j) {
      const float p = with_rule.probs.at({0, 0, i, j});
      if (!may_attend(i, j) && p != 0.0f) rows_ok = false;
      if (may_attend(i, j)) any = true, ++visible;
      total += p;
    }
    if (std::fabs(total - (any ? 1.0 : 0.0)) > 1e-4) rows_ok = false;
  }
  L.say("your rule lets ", visible, " of ", n * n, " (query, key) pairs through (",
        lesson::fixed(100.0 * visible / double(n * n), 1), " %)");
  // The rule itself, in the exercise's terms: a decoder's rule, where every query sees something.
  int64_t first_blind = -1, future_i = -1, future_j = -1;
  for (int64_t i = 0; i < n; ++i) {
    bool sees = false;
    for (int64_t j = 0; j < n; ++j) {
      sees = sees || may_attend(i, j);
      if (may_attend(i, j) && j > i && future_i < 0) future_i = i, future_j = j;
    }
    if (!sees && first_blind < 0) first_blind = i;
  }
  L.exercise_check("every query sees at least one key", first_blind < 0, "",
                   "query " + std::to_string(first_blind) + " sees no key at all: its softmax has nothing to " +
                       "normalise and its output is a row of zeros — let each query see at least itself (j <= i, " +
                       "not j < i)");
  L.exercise_check("the rule is causal: no query looks at a later key", future_i < 0, "",
                   "query " + std::to_string(future_i) + " may look at key " + std::to_string(future_j) +
                       ", a later position: a decoder would read the token it must predict — add j <= i");
  L.exercise_check("your prediction of the pairs it lets through", answer.predicted_pairs == visible,
                   "predicted " + std::to_string(answer.predicted_pairs) + ", counted " + std::to_string(visible),
                   "count row by row: row i sees the keys j with may_attend(i, j), and the total is the sum");
  L.check("your rule: blocked pairs have weight 0, rows sum to 1", rows_ok);

  // %% [markdown]
  // **Does the engine follow it?** Two checks against independent evidence: the output equals plain loops in
  // double precision (`naive_attention`, which skips the blocked pairs outright), and one backward pass per
  // query (48 of them) gives exactly zero gradient to every key and value that query may not see.
  // %%
  // 2. the same output as the plain loops.
  L.check_close("your rule: output equals a plain-loop implementation", with_rule.out,
                naive_attention(x, x, x, may_attend, my_scale), 1e-4f);
  // 3. no information leaks: the output of query i does not depend on the keys and values it may not see.
  //    One backward pass per query: d(sum of out[i]) / d(k, v) must be exactly 0 at every blocked key.
  bool no_leak = true;
  for (int64_t i = 0; i < n; ++i) {
    const Tensor lk = x.detach().clone().set_requires_grad(), lv = x.detach().clone().set_requires_grad();
    const Tensor out_i = core::slice(attention_from_ops(x, lk, lv, blocked, my_scale).out, 2, i, i + 1);
    core::sum(out_i).backward();  // (1,1,1,64) -> ()
    for (int64_t j = 0; j < n; ++j) {
      if (may_attend(i, j)) continue;
      for (int64_t t = 0; t < d; ++t)
        if (lk.grad().at({0, 0, j, t}) != 0.0f || lv.grad().at({0, 0, j, t}) != 0.0f) no_leak = false;
    }
  }
  L.check("your rule: no query gets gradient from keys or values it may not see", no_leak);

  // %% [markdown]
  // ## Exercises
  // 1. In the EXERCISE block, widen the window to 9 and find the stripes again in custom.png.
  // 2. Compute, from the table, how much memory n = 65536 would need for one head. And for 12 heads?
  // 3. The time ratio at small n is well below 4. Why? (Hint: what does not depend on n²?)
  // Next lesson: the first way around the n × n matrix.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
