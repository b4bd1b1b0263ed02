// %% [markdown]
// # 11 · Performer: softmax attention from random features
//
// Lesson 10's Linear Transformer swapped softmax's exp(q·k/√d) for a different, cheaper kernel, and its
// attention became blurry. Choromanski et al. (2021, Rethinking Attention with Performers, ICLR) keep the
// softmax kernel and approximate it instead. With x' = x / d^(1/4) and w ~ N(0, I_d):
//
//     exp(q'·k') = E_w[ exp(w·q' - ‖q'‖²/2) · exp(w·k' - ‖k'‖²/2) ]
//
// so m random vectors w_1..w_m (the rows of W) define positive random features
//
//     phi(x) = exp(W x' - ‖x'‖²/2) / √m            (m values, all > 0)
//
// with phi(q)·phi(k) ≈ exp(q·k/√d) — unbiased, and never negative. Attention then becomes the kernel attention
// of lesson 10: Â = D⁻¹ phi(Q) phi(K)ᵀ applied as phi(Q) (phi(K)ᵀ V) / phi(Q)(phi(K)ᵀ 1), O(n·m·d), causal
// by prefix sums. The "+" of FAVOR+ (Fast Attention Via positive Orthogonal Random features) is the positivity;
// the "O" is drawing the w's in blocks that are exactly orthogonal, which lowers the variance.
//
// We build the estimator, check the kernel against the matrix it applies, make it numerically safe without
// letting the future leak into causal rows, measure how the error falls with m for iid and orthogonal
// features, compare with the older trigonometric features, and measure the cost.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, m = number of random features.
// %%
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "attention/kernels/feature_attention.h"
#include "attention/performer.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
using lesson::all_finite;  // no NaN, no ±inf (lessons/lesson.h)
using lesson::leaf;        // a copy of a tensor that records gradients (lessons/lesson.h)
using lesson::matrix_map;  // a heatmap of an attention matrix (lessons/lesson.h)
using lesson::max_abs;     // the largest |x| (lessons/lesson.h)

// mean |Â - A| over all entries, Â from random features W, A exact softmax attention.
double mean_error(const Tensor& q, const Tensor& k, const Tensor& W, bool causal = false) {
  const Tensor A = attention::dense_probabilities(q, k, {causal, Tensor()});
  return core::mean(core::abs(attention::performer_attention_matrix(q, k, W, causal) - A)).item();
}

// Key features stabilised the WRONG way for causal attention: one maximum over every key of the sequence.
Tensor global_max_key_features(const Tensor& k, const Tensor& W) {
  const float scale = 1.0f / std::pow(static_cast<float>(k.size(3)), 0.25f);
  const Tensor xs = k * scale;                                                      // (B,H,n,d)
  const Tensor e = core::matmul(xs, W, false, true) - core::sum(core::square(xs), -1, true) * 0.5f;  // (B,H,n,m)
  const Tensor c = core::max(core::max(e, -1, true), -2, true).detach();           // (B,H,1,1): looks at ALL keys
  return core::exp(e - c) / std::sqrt(static_cast<float>(W.size(0)));
}

// Step 3's keys for the causal leak, crafted (as the comments below explain) so that the demo works for every
// draw of k and W. k: (1, 1, n, d) the random keys, of which only the directions are kept; W: (m, d).
struct LeakKeys {
  Tensor past;         // (1, 1, n, d): the past keys, all of norm R (in x' units), the best-aligned first
  Tensor with_future;  // (1, 1, n, d): the same, with key n-1 replaced by the crafted future key
  float R = 0.0f;         // the past keys' norm ‖x'‖
  float a0 = 0.0f;        // a_0 = max_l w_l·x'_0/R of key 0
  float c_future = 0.0f;  // ‖w_longest‖²/2: the crafted key's largest exponent
};
LeakKeys leak_keys(const Tensor& k, const Tensor& W, float gap) {
  const int64_t n = k.size(2), d = k.size(3), m = W.size(0);
  // A future key crafted to have the largest exponent of all: x' = the longest row of W.
  int64_t longest = 0;
  for (int64_t l = 0; l < m; ++l)
    if (core::sum(core::square(core::slice(W, 0, l, l + 1))).item() > core::sum(core::square(core::slice(W, 0, longest, longest + 1))).item())
      longest = l;
  // The past keys: key j's exponents are e_jl = w_l·x'_j - ‖x'_j‖²/2 (x' = x/d^¼), its largest c_j. In exact
  // arithmetic a common factor exp(-c) cancels in every row; in float32 it decides whether a row's terms
  // survive. The demo needs two things for EVERY draw of q, k and W, so we build the keys to have them rather
  // than hope a random draw does:
  //   (a) with the past keys alone the wrong stabiliser works: every row must hold a key whose exponent is
  //       near c. All keys get the SAME norm R (so ‖x'‖²/2 is the same for all), and the key with the largest
  //       a_j = max_l w_l·x'_j/R goes to position 0 — then c = c_0, and key 0 is in every causal row;
  //   (b) with c taken from the crafted future key (c_f = ‖w_longest‖²/2, its own largest exponent), key 0's
  //       terms fall 110 below it: exp(-110) is under float32's smallest denormal (about exp(-103)), so rows
  //       0..t are all 0/0. R solves R²/2 - a_0·R + c_f = 110 (about 17 to 18, where a plain key has ‖x'‖ ≈ 1).
  const float root_d = std::pow(float(d), 0.25f);                      // x = x'·d^¼
  std::vector<std::vector<float>> dir(n, std::vector<float>(d));      // (n, d): unit directions of the keys
  std::vector<float> a(n, 0.0f);                                      // a_j = max_l w_l·dir_j
  for (int64_t j = 0; j < n; ++j) {
    float norm2 = 0.0f;
    for (int64_t c = 0; c < d; ++c) norm2 += k.at({0, 0, j, c}) * k.at({0, 0, j, c});
    for (int64_t c = 0; c < d; ++c) dir[j][c] = k.at({0, 0, j, c}) / std::sqrt(norm2);
    a[j] = -INFINITY;
    for (int64_t l = 0; l < m; ++l) {
      float dot = 0.0f;
      for (int64_t c = 0; c < d; ++c) dot += W.at({l, c}) * dir[j][c];
      a[j] = std::max(a[j], dot);
    }
  }
  const int64_t top = std::max_element(a.begin(), a.end()) - a.begin();
  std::swap(dir[0], dir[top]);
  std::swap(a[0], a[top]);
  float c_future = 0.0f;  // ‖w_longest‖²/2: the crafted key's largest exponent
  for (int64_t c = 0; c < d; ++c) c_future += 0.5f * W.at({longest, c}) * W.at({longest, c});
  const float R = a[0] + std::sqrt(a[0] * a[0] + 2.0f * std::max(0.0f, gap - c_future));
  Tensor k_far = Tensor::zeros({1, 1, n, d});  // (1,1,n,d): the past keys, all of norm R (in x' units)
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < d; ++c) k_far.at({0, 0, j, c}) = R * root_d * dir[j][c];
  Tensor k2 = k_far.clone();
  for (int64_t c = 0; c < d; ++c) k2.at({0, 0, n - 1, c}) = W.at({longest, c}) * std::pow(float(d), 0.25f);
  return {k_far, k2, R, a[0], c_future};
}

// %%
// Step 9's exercise: your way of drawing the random features W, and your prediction of whether they beat iid
// Gaussian rows. Your version is the EXERCISE block in main; the reference solution and a known-wrong answer are
// in lessons/solutions/11_performer.h.
struct MyRandomFeatures {
  std::function<Tensor(int64_t m, int64_t d, uint64_t seed)> draw;  // W: (m, d), one row w per feature
  bool predicted_below_iid = false;  // your prediction: is the mean error of your W lower than iid rows' error?
};
#include "lessons/solutions/11_performer.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "11_performer");

  // %% [markdown]
  // ## Step 1 · one kernel value from random features
  // Take one query and one key (d = 4) and estimate exp(q·k/√d) by phi(q)·phi(k) with more and more features.
  // The estimate is unbiased, and its relative error has a known size: one feature's product has variance
  // exp(2 q'·k') (exp(‖q' + k'‖²) - 1), so with m iid features the relative error is about
  // √((exp(‖q' + k'‖²) - 1) / m) — 1/√m, times a factor that explodes with the norms of q and k.
  // The matrix W is drawn either with iid N(0, 1) entries or in orthogonal blocks: a block is an exactly
  // orthogonal d × d matrix (QR of a Gaussian matrix), each row rescaled to the length of an independent
  // Gaussian vector, so each row still looks like a Gaussian vector on its own.
  // %%
  L.step("Step 1 · estimating exp(q·k/√d) with random features");
  core::Rng rng = L.rng(0);
  {
    const int64_t d = 4, draws = 20;
    const Tensor q = core::randn({1, 1, 1, d}, rng) * 0.5f, k = core::randn({1, 1, 1, d}, rng) * 0.5f;
    const double exact = std::exp(core::matmul(q, k, false, true).item() / 2.0);  // √d = 2
    const double spread = std::exp(core::sum(core::square((q + k) / std::sqrt(2.0f))).item()) - 1.0;  // ‖q'+k'‖², d^(1/4) = √2
    const Tensor W8 = attention::draw_random_features(8, d, true, L.seed());
    L.print("orthogonal W (8 x 4): two blocks of 4 rows", W8);
    L.print("W Wᵀ: zero off the diagonal inside each 4 x 4 block (orthogonal rows), not across blocks",
            core::matmul(W8, W8, false, true));
    L.say("exact exp(q·k/√d) = ", lesson::sig(exact, 5), "; exp(‖q' + k'‖²) - 1 = ", lesson::sig(spread, 3));
    lesson::Table t({"m", "one iid estimate", "iid: rms rel. error", "predicted √(.../m)", "orth.: rms rel. error"}, 10);
    double ratio_to_prediction = 0.0, rms_orth_last = 1.0, predicted_last = 1.0;
    for (int64_t m : {4, 16, 64, 256, 1024, 4096}) {
      double rms[2] = {0.0, 0.0}, first = 0.0;
      for (int orthogonal = 0; orthogonal < 2; ++orthogonal)
        for (int64_t s = 0; s < draws; ++s) {
          const Tensor W = attention::draw_random_features(m, d, orthogonal == 1, L.seed() * 1000 + 7 * s);
          const double est =
              core::matmul(attention::positive_random_features(q, W), attention::positive_random_features(k, W), false, true).item();
          if (s == 0 && orthogonal == 0) first = est;
          rms[orthogonal] += (est - exact) * (est - exact) / (exact * exact) / draws;
        }
      const double predicted = std::sqrt(spread / double(m));
      if (m == 1024) ratio_to_prediction = std::sqrt(rms[0]) / predicted;
      rms_orth_last = std::sqrt(rms[1]);
      predicted_last = predicted;
      t.row({std::to_string(m), lesson::sig(first, 5), lesson::fixed(100.0 * std::sqrt(rms[0]), 2) + " %",
             lesson::fixed(100.0 * predicted, 2) + " %", lesson::fixed(100.0 * std::sqrt(rms[1]), 2) + " %"});
    }
    L.say("(rms over ", draws, " draws of W for each m)");
    L.check("the measured iid error matches the predicted √((exp(‖q'+k'‖²) - 1) / m) (within 0.6x - 1.5x, m = 1024)",
            ratio_to_prediction > 0.6 && ratio_to_prediction < 1.5, "measured / predicted = " + lesson::fixed(ratio_to_prediction, 2));
    L.check("orthogonal features follow the same 1/√m law (m = 4096: rms within 1.4x of the iid prediction)",
            rms_orth_last < 1.4 * predicted_last,
            lesson::fixed(100 * rms_orth_last, 2) + " % vs " + lesson::fixed(100 * predicted_last, 2) + " %");
  }

  // %% [markdown]
  // ## Step 2 · the attention matrix Â and the kernel
  // For a sequence, phi(Q) and phi(K) are (B, H, n, m). Â = D⁻¹ phi(Q) phi(K)ᵀ is what the Performer applies —
  // an approximation of softmax's A — but the kernel never forms it: phi(K)ᵀ V is m × d, phi(K)ᵀ 1 is m.
  // We check the kernel against Â @ v and its gradients against autograd through Â.
  // %%
  L.step("Step 2 · Â = D⁻¹ phi(Q) phi(K)ᵀ, and the kernel that never builds it");
  {
    const int64_t n = 32, d = 8, m = 64;
    core::Rng r = L.rng(1);
    const Tensor q = core::randn({1, 2, n, d}, r), k = core::randn({1, 2, n, d}, r), v = core::randn({1, 2, n, d}, r),
                 g = core::randn({1, 2, n, d}, r);
    const Tensor W = attention::draw_random_features(m, d, true, L.seed() + 2);  // (64, 8)
    const Tensor phi_q = attention::positive_random_features(q, W);               // (1,2,32,64)
    L.say("W ", W.shape(), ", phi(Q) ", phi_q.shape(), ", phi(K)ᵀ V ",
          core::matmul(attention::positive_random_features(k, W), v, true, false).shape(), " — the n x n matrix is never needed");
    for (const bool causal : {false, true}) {
      const std::string what = causal ? "causal" : "non-causal";
      const lesson::KernelVsReference c = lesson::kernel_vs_reference(
          [&](const std::vector<Tensor>& x) { return attention::performer_attention(x[0], x[1], x[2], W, causal); },
          [&](const std::vector<Tensor>& x) {
            return core::matmul(attention::performer_attention_matrix(x[0], x[1], W, causal), x[2]);
          },
          {q, k, v}, g);
      L.check_close(what + ": kernel output equals Â @ v", c.out, c.ref_out, 1e-4f);
      const char* names[] = {"dq", "dk", "dv"};
      for (int a = 0; a < 3; ++a)
        L.check_close(what + ": " + names[a] + " equals autograd through Â", c.grads[a], c.ref_grads[a], 1e-4f);
      const auto gc = core::gradcheck(
          [&W, causal](const std::vector<Tensor>& x) { return attention::performer_attention(x[0], x[1], x[2], W, causal); },
          {core::slice(q, 2, 0, 5), core::slice(k, 2, 0, 5), core::slice(v, 2, 0, 5)});
      L.check(what + ": gradcheck (finite differences) of the kernel", gc.ok, gc.ok ? "" : gc.message);
    }
  }

  // %% [markdown]
  // ## Step 3 · keeping exp in range, without looking at the future
  // exp(w·x' - ‖x'‖²/2) leaves float's range: for inputs with a large norm the -‖x'‖²/2 term wins and every
  // feature underflows to 0, so Â becomes 0/0. The fix divides each feature vector by its largest entry
  // before the exponential — a factor that cancels in the ratio if it is the same for all the terms that
  // are added together:
  //   - a query's factor is per row: it multiplies both numerator and denominator of that row;
  //   - a key's factor must be common to all the keys a row adds up. Without a mask, one maximum over all keys
  //     works. With a causal mask it does NOT: row i would then depend on keys after i through that maximum
  //     (a public implementation did this). Our kernel takes each key's own maximum c_j and rescales by the
  //     running maximum max_{j<=i} c_j — only positions <= i (attention/kernels/feature_attention.h).
  // %%
  L.step("Step 3 · the stabiliser, and a causal leak to avoid");
  {
    const int64_t n = 24, d = 16, m = 64;
    core::Rng r = L.rng(2);
    const Tensor q = core::randn({1, 1, n, d}, r) * 0.5f, k = core::randn({1, 1, n, d}, r) * 0.5f,
                 v = core::randn({1, 1, n, d}, r);  // k is for the leak below, which draws the same q, k, v, W
    const Tensor W = attention::draw_random_features(m, d, true, L.seed() + 3);
    const Tensor big = q * 30.0f;  // ‖x'‖² in the thousands
    const Tensor raw = attention::positive_random_features(big, W);  // (1,1,24,64)
    int64_t zero_rows = 0;
    for (int64_t i = 0; i < n; ++i)
      zero_rows += std::all_of(raw.data() + i * m, raw.data() + (i + 1) * m, [](float x) { return x == 0.0f; });
    L.say("inputs 30x larger: ", zero_rows, " of ", n, " rows of plain features are entirely 0 (underflow), so their Â",
          " rows are 0/0; the stabilised features' largest value per row is 1/√m = ",
          lesson::sig(max_abs(attention::favor_query_features(big, W)), 4));
    const Tensor big_out = attention::performer_attention(big, big * 0.5f, v, W, true);
    L.check("stabilised Performer attention stays finite where the plain features give 0/0",
            zero_rows > n / 2 && all_finite(big_out), std::to_string(zero_rows) + " zero rows");
  }
  // %% [markdown]
  // **The causal leak.** Now the keys' factor. We change only the LAST key and look at the causal rows 0..11,
  // which must not notice. The keys are built for the demo (leak_keys, in the appendix) from the directions of
  // the random k: past keys of one norm R, the best-aligned first, on which one sequence-wide maximum works
  // fine; then key n-1 replaced by a future key whose largest exponent lies 110 above key 0's, and exp(-110)
  // underflows float32. The wrong stabiliser's rows change or can no longer be computed; ours stay the same bits.
  // %%
  {
    const int64_t n = 24, d = 16, t = 11;
    core::Rng r = L.rng(2);  // the same q, k, v and W as above
    const Tensor q = core::randn({1, 1, n, d}, r) * 0.5f, k = core::randn({1, 1, n, d}, r) * 0.5f,
                 v = core::randn({1, 1, n, d}, r);
    const Tensor W = attention::draw_random_features(64, d, true, L.seed() + 3);  // (m, d), m = 64
    const LeakKeys crafted = leak_keys(k, W, /*gap=*/110.0f);
    const Tensor k_far = crafted.past, k2 = crafted.with_future;  // (1,1,n,d) each
    const float R = crafted.R;
    L.say("past keys: all of norm ‖x'‖ = ", lesson::sig(R, 3), ", the best-aligned first (a_0 = ",
          lesson::sig(crafted.a0, 3), "): c = ", lesson::sig(crafted.a0 * R - R * R / 2, 4),
          " without the future key, c_f = ", lesson::sig(crafted.c_future, 3), " with it");
    auto wrong = [&](const Tensor& keys) {
      return attention::feature_attention(attention::favor_query_features(q, W), global_max_key_features(keys, W), v,
                                          {true, attention::kPerformerEps, Tensor()});
    };
    auto ours = [&](const Tensor& keys) { return attention::performer_attention(q, keys, v, W, true); };
    // What the wrong stabiliser does to rows 0..t once key n-1 changes: a different output, or a refusal
    // (feature_attention refuses a row whose normaliser left float32's normal range instead of dividing by it).
    Tensor wrong_before;  // with the past keys alone the wrong stabiliser works: premise (a), checked
    std::string premise_problem;
    try {
      wrong_before = wrong(k_far);
    } catch (const core::Error& e) {
      premise_problem = e.what();
    }
    L.check("premise: with the past keys alone, the sequence-wide maximum computes every row", premise_problem.empty(),
            premise_problem);
    std::string wrong_effect = "not measured: the premise above failed";
    bool wrong_leaks = false;
    if (premise_problem.empty()) {
      try {
        const float change = lesson::max_abs_diff(core::slice(wrong_before, 2, 0, t + 1), core::slice(wrong(k2), 2, 0, t + 1));
        wrong_leaks = change > 1e-3f;
        wrong_effect = "max |change| = " + lesson::sig(change, 3);
      } catch (const core::Error& e) {
        wrong_leaks = true;
        wrong_effect = std::string("the rows can no longer be computed: ") + e.what();
      }
    }
    const float leak_ours = lesson::max_abs_diff(core::slice(ours(k_far), 2, 0, t + 1), core::slice(ours(k2), 2, 0, t + 1));
    L.say("change key ", n - 1, " only, look at the outputs of rows 0..", t, ":");
    L.say("  one maximum over all keys (wrong): ", wrong_effect);
    L.say("  running maximum over keys <= i (ours): max |change| = ", lesson::sig(leak_ours, 3));
    L.check("a sequence-wide key maximum leaks the future into causal rows", wrong_leaks, wrong_effect);
    L.check("the running maximum does not: rows <= t are bit-identical", leak_ours == 0.0f);
  }

  // %% [markdown]
  // ## Step 4 · error against softmax attention as m grows, iid vs orthogonal
  // q, k ~ N(0, 0.4²) with d = 16, n = 64. For each m we draw W from several seeds and average
  // mean |Â - A| over all entries. Expect ~1/√m (a slope of -1/2 on log-log axes), and orthogonal features
  // below iid ones (Choromanski et al., Theorem 2: orthogonality strictly lowers the mean squared error).
  // %%
  L.step("Step 4 · mean |Â - A| vs m, iid and orthogonal features");
  std::vector<double> ms, err_iid, err_orth;
  {
    const int64_t n = 64, d = 16, seeds = L.quick() ? 12 : 16, m_max = L.quick() ? 128 : 512;
    core::Rng r = L.rng(3);
    const Tensor q = core::randn({1, 1, n, d}, r) * 0.4f, k = core::randn({1, 1, n, d}, r) * 0.4f;
    L.say("softmax attention for these inputs: largest weight ",
          lesson::fixed(max_abs(attention::dense_probabilities(q, k)), 3), ", mean weight 1/n = ", lesson::fixed(1.0 / n, 4));
    lesson::Table t({"m", "iid: mean |Â-A|", "orthogonal: mean |Â-A|", "orth / iid"}, 10);
    for (int64_t m = 8; m <= m_max; m *= 2) {
      double e_iid = 0.0, e_orth = 0.0;
      for (int64_t s = 0; s < seeds; ++s) {
        e_iid += mean_error(q, k, attention::draw_random_features(m, d, false, L.seed() * 100 + s)) / seeds;
        e_orth += mean_error(q, k, attention::draw_random_features(m, d, true, L.seed() * 100 + s)) / seeds;
      }
      ms.push_back(double(m));
      err_iid.push_back(e_iid);
      err_orth.push_back(e_orth);
      t.row({std::to_string(m), lesson::sig(e_iid, 3), lesson::sig(e_orth, 3), lesson::fixed(e_orth / e_iid, 2)});
    }
    int lower = 0;
    double mean_ratio = 0.0;
    for (size_t i = 0; i < ms.size(); ++i) {
      lower += err_orth[i] < err_iid[i];
      mean_ratio += err_orth[i] / err_iid[i] / double(ms.size());
    }
    L.check("orthogonal features have the lower error on average over m", mean_ratio < 1.0,
            "mean orth/iid ratio " + lesson::fixed(mean_ratio, 3));
    L.check("... and at the majority of the m values", lower * 2 > int(ms.size()),
            std::to_string(lower) + " of " + std::to_string(ms.size()) + " values of m");
    const double drop = err_orth.front() / err_orth.back(), expected = std::sqrt(ms.back() / ms.front());
    L.check("the error falls roughly like 1/√m", drop > 0.5 * expected,
            "m x" + lesson::fixed(ms.back() / ms.front(), 0) + ": error / " + lesson::fixed(drop, 2) + " (1/√m: / " +
                lesson::fixed(expected, 2) + ")");
    img::Series ref{"1/sqrt(m)", {}, {}};
    for (double m : ms) ref.x.push_back(m), ref.y.push_back(err_iid.front() * std::sqrt(ms.front() / m));
    img::PlotOptions po;
    po.title = "Performer: mean |A_hat - A| vs number of features";
    po.xlabel = "random features m";
    po.ylabel = "mean |A_hat - A|";
    po.log_x = po.log_y = true;
    po.width = 760;
    L.show(img::line_plot({{"iid Gaussian W", ms, err_iid}, {"orthogonal W (FAVOR+)", ms, err_orth}, ref}, po),
           "error_vs_m.png",
           "the approximation error of Â against exact softmax attention, averaged over feature draws — both curves "
           "run parallel to the 1/sqrt(m) line, and the orthogonal one lies below the iid one");
  }

  // %% [markdown]
  // ## Step 5 · what Â looks like
  // The motif input of lesson 01 (8 tokens repeated 6 times, embeddings of size d = 16, scaled by 0.8 so that
  // softmax is clearly peaked but not one-hot). Top row m = 16, bottom row m = 256 features; columns: the
  // Performer's Â, the exact A, and |Â - A|.
  // %%
  L.step("Step 5 · Â, A and |Â - A| for a structured input");
  {
    const int64_t motif = 8, n = 48, d = 16;
    core::Rng r = L.rng(4);
    const Tensor embedding = core::randn({motif, d}, r) * 0.8f;
    IntTensor tokens({n});
    for (int64_t i = 0; i < n; ++i) tokens.data[i] = i % motif;
    const Tensor x = core::reshape(core::embedding(embedding, tokens), {1, 1, n, d});  // (1,1,48,16)
    const Tensor A = attention::dense_probabilities(x, x);
    const float vmax = max_abs(A);
    const lesson::MapStyle same_scale = lesson::MapStyle().value("weight").px(320).range(0.0f, vmax);  // all panels
    std::vector<img::Image> panels;
    std::vector<double> errs;
    for (int64_t m : {16, 256}) {
      const Tensor W = attention::draw_random_features(m, d, true, L.seed() + 5);
      const Tensor Ah = attention::performer_attention_matrix(x, x, W, false);
      const Tensor diff = core::abs(Ah - A);
      errs.push_back(core::mean(diff).item());
      const std::string sub = "m = " + std::to_string(m) + ", mean |diff| " + lesson::sig(errs.back(), 2);
      panels.push_back(matrix_map(Ah, "Performer A_hat", sub, same_scale));
      panels.push_back(matrix_map(A, "exact softmax A", "n = 48 motif input, d = 16", same_scale));
      panels.push_back(matrix_map(diff, "|A_hat - A|", sub, same_scale.value("abs. difference")));
      L.say("m = ", m, ": mean |Â - A| = ", lesson::sig(errs.back(), 3), ", largest ", lesson::sig(max_abs(diff), 3),
            " (largest weight of A: ", lesson::sig(vmax, 3), ")");
    }
    L.check("more features, closer to softmax (m = 256 vs m = 16)", errs[1] < errs[0],
            lesson::sig(errs[0], 3) + " -> " + lesson::sig(errs[1], 3));
    L.show(img::grid(panels, 3), "approximation.png",
           "rows m = 16 and m = 256 (same colour scale everywhere): with 16 features Â has vertical bands — a few "
           "keys whose random features happen to be large take weight from every query — and A's diagonal stripes "
           "are faint; with 256 the stripes of A show through and |Â - A| is much darker, its remaining error "
           "sitting on the stripes, where A is large");
  }

  // %% [markdown]
  // ## Step 6 · why positive features: trigonometric ones go negative
  // Random Fourier features (Rahimi & Recht 2007) estimate the same kernel with
  // phi(x) = exp(‖x'‖²/2) / √m · [sin(W x'), cos(W x')]. Their products can be negative, and their variance
  // is large exactly where softmax is small — which is most of an attention row. We sweep the scale σ of
  // q, k ~ N(0, σ²) (d = 16, n = 64, m = 64, several draws) and count rows whose normaliser
  // D_ii = phi(q_i)·Σ_j phi(k_j) is negative (causal: sum over j <= i), and the error of each.
  // %%
  L.step("Step 6 · positive vs trigonometric random features");
  std::vector<double> sigmas, e_trig, e_pos;  // σ, and mean |Â - A| of the trigonometric and positive features
  double worst_negative_pos = 0.0;            // positive features: most rows with D < 0 at one σ (all draws)
  double max_negative_trig = 0.0;             // trigonometric, causal: largest share of rows with D < 0
  Tensor trig_example;                        // (1,1,64,64): a trigonometric Â at σ = 1
  {
    const int64_t n = 64, d = 16, m = 64, draws = 8;
    core::Rng r = L.rng(5);
    const Tensor q0 = core::randn({1, 1, n, d}, r), k0 = core::randn({1, 1, n, d}, r);
    lesson::Table t({"sigma", "trig: D<0 rows", "trig causal: D<0 rows", "trig: mean |Â-A|", "positive: mean |Â-A|",
                     "positive: D<0 rows"},
                    10);
    Tensor A_example;
    for (double sigma : {0.25, 0.5, 0.75, 1.0, 1.25, 1.5}) {
      const Tensor q = q0 * float(sigma), k = k0 * float(sigma);
      const Tensor A = attention::dense_probabilities(q, k);
      double neg = 0.0, neg_causal = 0.0, et = 0.0, ep = 0.0, neg_pos = 0.0;
      for (int64_t s = 0; s < draws; ++s) {
        const Tensor W = attention::draw_random_features(m, d, false, L.seed() * 1000 + s);
        const Tensor kt = core::matmul(attention::trig_random_features(q, W), attention::trig_random_features(k, W), false, true);
        const Tensor den = core::sum(kt, -1, true);                                          // (1,1,n,1)
        const Tensor den_causal = core::cumsum(kt, -1);                                      // (1,1,n,n): D_ii at [i, i]
        const Tensor kp = core::matmul(attention::favor_query_features(q, W), attention::favor_key_features(k, W).phi,
                                       false, true);
        const Tensor den_pos = core::sum(kp, -1, true);
        for (int64_t i = 0; i < n; ++i) {
          neg += den.data()[i] < 0.0f;
          neg_causal += den_causal.data()[i * n + i] < 0.0f;
          neg_pos += den_pos.data()[i] < 0.0f;
        }
        const Tensor At = kt / den;
        et += core::mean(core::abs(At - A)).item() / draws;
        ep += mean_error(q, k, W) / draws;
        if (s == 0 && sigma == 1.0) trig_example = At, A_example = A;
      }
      const double share = neg / double(draws * n), share_causal = neg_causal / double(draws * n);
      max_negative_trig = std::max(max_negative_trig, share_causal);
      worst_negative_pos = std::max(worst_negative_pos, neg_pos);
      sigmas.push_back(sigma);
      e_trig.push_back(et);
      e_pos.push_back(ep);
      t.row({lesson::fixed(sigma, 2), lesson::fixed(100 * share, 1) + " %", lesson::fixed(100 * share_causal, 1) + " %",
             lesson::sig(et, 3), lesson::sig(ep, 3), lesson::fixed(100 * neg_pos / double(draws * n), 1) + " %"});
    }
  }
  // %% [markdown]
  // **Reading the sweep.** First the sign of the normaliser: a positive feature is an exponential, so D_ii can
  // never be negative, while the trigonometric one can. Then the error for σ >= 1, where the attention has many
  // small entries. The figure puts the two error curves beside a trigonometric Â at σ = 1.
  // %%
  {
    L.check("positive features never give a negative normaliser", worst_negative_pos == 0.0);
    L.check("trigonometric features do (causal rows, growing σ)", max_negative_trig > 0.05,
            "up to " + lesson::fixed(100 * max_negative_trig, 1) + " % of rows");
    double trig_large = 0.0, pos_large = 0.0;  // mean error over σ >= 1
    for (size_t i = 0; i < sigmas.size(); ++i)
      if (sigmas[i] >= 1.0) trig_large += e_trig[i], pos_large += e_pos[i];
    L.check("for σ >= 1 the positive features' error is lower, on average by > 1.5x", trig_large > 1.5 * pos_large,
            "trig / positive = " + lesson::fixed(trig_large / pos_large, 1) + "x");
    L.say("At small σ (nearly uniform attention) the trigonometric features are as good or better; the positive ones");
    L.say("win where attention has small entries — which a trained model's attention mostly has.");
    img::PlotOptions po;
    po.title = "mean |A_hat - A| vs input scale (m = 64)";
    po.width = 700;
    po.xlabel = "scale sigma of q and k";
    po.ylabel = "mean |A_hat - A|";
    po.log_y = true;
    const float a = std::max(max_abs(trig_example), 1e-6f);
    L.show(img::hstack({img::line_plot({{"trigonometric (sin, cos)", sigmas, e_trig}, {"positive (FAVOR+)", sigmas, e_pos}}, po),
                        matrix_map(trig_example, "trigonometric A_hat (sigma = 1, m = 64)",
                                   "signed: blue entries are negative weights",
                                   lesson::MapStyle().value("weight").diverging().range(-a, a).px(320))}),
           "positive_vs_trig.png",
           "left: error against exact softmax as the inputs grow — the trigonometric features' error explodes past "
           "sigma ~ 0.75, the positive features' grows slowly; right: a trigonometric Â at sigma = 1 with its "
           "negative weights in blue and rows whose normaliser is near 0 or negative (large values of either sign)");
  }

  // %% [markdown]
  // ## Step 7 · cost against n
  // Forward + backward, one head, d = 64, m = 128 features (the scheme's default), beside dense softmax
  // attention (up to 4K). Features cost O(n·m·d) and O(n·m) memory — linear in n, with a constant m/d times
  // larger than the Linear Transformer's.
  // %%
  L.step("Step 7 · time and peak memory of forward + backward vs n");
  {
    const std::vector<std::string> favor = {"features=128", "orthogonal=true"};  // m = 128 orthogonal features
    lesson::cost_step(L,
                      {lesson::Curve("performer", favor).expect(1.0, 1.0),
                       lesson::Curve("performer", favor, "performer causal").causal().expect(1.0, 1.0),
                       lesson::Curve("full").up_to(L.quick() ? 2048 : 4096).expect(2.0, 2.0)},
                      lesson::CostOptions()
                          .sizes(L.quick() ? 512 : 256, L.quick() ? 2048 : 8192)
                          .title("Performer (m = 128) vs full (softmax) attention")
                          .figure("cost.png",
                                  "time and peak memory vs n on log-log axes — the Performer's curves have slope 1, "
                                  "dense attention's slope 2; at small n the Performer's m = 128 features make it "
                                  "the more expensive one, the curves cross once n is a few times m"));
  }

  // %% [markdown]
  // ## Step 8 · what the paper reported
  // Numbers from Choromanski et al. 2021 (the paper's, on accelerators; not measured here):
  // - The orthogonal features' lower error (their Figure 4 and Theorem 2) — step 4 reproduces the ordering.
  // - Speed: forward + backward time grows nearly linearly with length; on a 16 GB V100 GPU the regular
  //   Transformer runs out of memory at lengths the Performer still handles (their Figure 3).
  // - Protein sequences (TrEMBL): Performers reach accuracy comparable to a regular Transformer of the same
  //   size, above Reformer and Linformer; on ImageNet64 a 6-layer Performer matches a 12-layer Reformer.
  // Long Range Arena (Tay et al. 2021) measured Performer at 51.41 average accuracy vs 54.39 for the
  // Transformer, among the fastest models (about 5.7x the Transformer's speed at 4K tokens).
  // %%
  L.step("Step 8 · the paper's results (reported, not measured here)");
  L.say("Choromanski et al. 2021 (paper's results): orthogonal features lower the error (Fig. 4, Thm. 2); near-linear");
  L.say("  time in length, while the Transformer runs out of memory on a 16 GB V100 (Fig. 3); on proteins (TrEMBL)");
  L.say("  Performers reach the Transformer's accuracy; ImageNet64: a 6-layer Performer matches a 12-layer Reformer.");
  L.say("Long Range Arena (Tay et al. 2021, reported): average 51.41 vs 54.39 for the Transformer.");
  L.say("Measured here: the orthogonal < iid ordering (step 4) and the ~n growth of time and memory (step 7).");

  // %% [markdown]
  // ## Step 9 · your own random features
  // The features decide the estimator. Change the draw of W in the EXERCISE block below, rebuild, rerun — but
  // first PREDICT whether your W gives a lower error than iid Gaussian rows. The self-check runs the Performer
  // with your W on the inputs of step 4 (m = 64, several draws). It checks that phi(q)·phi(k), averaged over
  // the draws, still estimates exp(q·k/√d) — a biased estimator estimates another kernel and fails — that the
  // error of Â against exact softmax attention stays within 1.5x of FAVOR+'s own (orthogonal) features, and
  // compares your error with iid rows' to check your prediction. Your version is the EXERCISE block; the
  // reference solution and a known-wrong answer are in lessons/solutions/11_performer.h.
  // %%
  L.step("Step 9 · your own random features");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // W: (m, d), drawn from `seed`. The default is FAVOR+'s orthogonal draw. Try, each with its prediction:
  //   attention::draw_random_features(m, d, false, seed)          (iid rows: a bit worse, still unbiased)
  //   attention::draw_random_features(m, d, true, seed) * 0.5f    (rows too short: biased — the check fails)
  //   rows of length exactly √d (normalise each row of the orthogonal W): the paper's "regularised" variant
  MyRandomFeatures mine;
  mine.draw = [](int64_t m, int64_t d, uint64_t seed) {
    return attention::draw_random_features(m, d, /*orthogonal=*/true, seed);
  };
  mine.predicted_below_iid = true;  // step 4: orthogonal rows have the lower error
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyRandomFeatures answer = L.exercise(mine, solution::random_features(), solution::wrong_random_features());
  const int64_t n = 64, d = 16, m = 64, seeds = L.quick() ? 6 : 12;
  core::Rng r = L.rng(3);  // the inputs of step 4
  const Tensor q = core::randn({1, 1, n, d}, r) * 0.4f, k = core::randn({1, 1, n, d}, r) * 0.4f,
               v = core::randn({1, 1, n, d}, r);
  std::vector<Tensor> Ws;  // your W for each seed, (m, d)
  std::string problem;     // what is wrong with the draw, in the exercise's terms
  if (!answer.draw) {
    problem = "the EXERCISE block sets no draw: give mine.draw a function (m, d, seed) -> W";
  } else {
    for (int64_t s = 0; s < seeds && problem.empty(); ++s) {
      Ws.push_back(answer.draw(m, d, L.seed() * 100 + 50 + s));
      if (Ws.back().shape() != core::Shape({m, d}))
        problem = "W has shape " + core::shape_str(Ws.back().shape()) + ": it needs one row w of d = 16 numbers "
                  "for each of the m = 64 features, (m, d)";
      else if (!all_finite(Ws.back()))
        problem = "W has inf or NaN entries: every row w is a direction to project on, a vector of finite numbers";
    }
  }
  const bool shapes_ok = L.exercise_check("your W is (m, d) and finite", problem.empty(), "", problem);
  if (!shapes_ok) L.say("(so the checks of the kernel, of the error and of your prediction are skipped)");
  // %% [markdown]
  // **Your W at work.** For each draw: the mean |Â - A| of your W, of FAVOR+'s orthogonal W and of iid rows, and
  // the causal kernel against its own Â @ v. Then the kernel itself: phi(q)·phi(k) averaged over the draws,
  // divided by exp(q·k/√d), should be near 1 — your prediction is only checked if it is.
  // %%
  if (shapes_ok) {
    double mine_error = 0.0, favor = 0.0, iid = 0.0;
    bool kernel_ok = true;
    for (int64_t s = 0; s < seeds; ++s) {
      const uint64_t seed = L.seed() * 100 + 50 + s;
      mine_error += mean_error(q, k, Ws[s]) / seeds;
      favor += mean_error(q, k, attention::draw_random_features(m, d, true, seed)) / seeds;
      iid += mean_error(q, k, attention::draw_random_features(m, d, false, seed)) / seeds;
      const Tensor out = attention::performer_attention(q, k, v, Ws[s], true);
      const Tensor A_hat = attention::performer_attention_matrix(q, k, Ws[s], true);  // (1,1,n,n)
      kernel_ok = kernel_ok && lesson::max_abs_diff(out, core::matmul(A_hat, v)) < 1e-4f;
    }
    // The kernel itself: phi(q)·phi(k) with your W, averaged over the draws, against exp(q·k/√d), as a ratio
    // for every (query, key) pair. Averaging over draws shrinks the random error; a bias stays.
    const Tensor exact = core::exp(core::matmul(q, k, false, true) / std::sqrt(static_cast<float>(d)));  // (1,1,n,n)
    Tensor estimate = Tensor::zeros({1, 1, n, n});
    for (const Tensor& W : Ws)
      estimate = estimate + core::matmul(attention::positive_random_features(q, W),
                                         attention::positive_random_features(k, W), false, true) / float(seeds);
    const double ratio = core::mean(estimate / exact).item();
    L.say("mean |Â - A| over ", seeds, " draws, m = ", m, ": yours ", lesson::sig(mine_error, 3),
          ", FAVOR+ (orthogonal) ", lesson::sig(favor, 3), ", iid rows ", lesson::sig(iid, 3));
    L.check("the causal kernel with your W equals its Â @ v", kernel_ok);
    const bool unbiased = L.exercise_check(
        "your phi(q)·phi(k), averaged over the draws, estimates exp(q·k/√d) (mean ratio 0.9 to 1.1)",
        ratio > 0.9 && ratio < 1.1, "mean ratio " + lesson::fixed(ratio, 3),
        "your features estimate another kernel than softmax's: the identity behind phi needs rows w drawn like "
        "N(0, I_d), of length about √d = 4 — rows scaled by c estimate exp(c²·q·k/√d) times a factor that "
        "shrinks or grows with |q| and |k|");
    L.exercise_check("your features approximate softmax within 1.5x of FAVOR+'s error", mine_error < 1.5 * favor,
                     "yours " + lesson::sig(mine_error, 3) + ", FAVOR+ " + lesson::sig(favor, 3),
                     "your Â strays from softmax's A: either the kernel is biased (the check above), or your "
                     "estimate varies more from draw to draw than Gaussian rows' (repeated rows, or a few very "
                     "long rows that dominate the sum)");
    const bool below = mine_error < iid;
    if (!unbiased)
      L.say("(so your prediction is not checked: beating iid rows means a smaller random error for the SAME "
            "kernel, and yours estimates another one)");
    else
      L.exercise_check("your prediction of whether your W beats iid Gaussian rows",
                       answer.predicted_below_iid == below,
                       "predicted " + std::string(answer.predicted_below_iid ? "yes" : "no") + "; yours / iid = " +
                           lesson::fixed(mine_error / iid, 2),
                       below ? "it does: rows that are orthogonal (or of equal length) spread the m directions "
                               "more evenly than chance, so their errors cancel more than independent draws do — "
                               "the O of FAVOR+"
                             : "it does not: independent Gaussian rows are the iid baseline itself, and rows "
                               "that are repeated or vary more in length add variance; only rows spread more "
                               "evenly than chance (orthogonal blocks, equal lengths) lower the error");
  }

  // %% [markdown]
  // ## Exercises
  // 1. In the EXERCISE block, try the rows-too-short W: the kernel check fails, yet the error of Â barely
  //    grows — why does a softmax this flat (step 4: largest weight 0.027) hide the bias? And why does a
  //    shorter w make phi(q)·phi(k) estimate exp(c·q·k/√d) for some c < 1 instead?
  // 2. Step 4 uses σ = 0.4. Rerun it at σ = 1: the error barely falls with m. The estimator's variance grows
  //    like exp(‖q' + k'‖²): work out ‖q' + k'‖² for q, k ~ N(0, σ² I_16).
  // 3. From step 7's table: at which n does the Performer's memory drop below dense attention's? Predict it
  //    from n² versus n·m and compare.
  // 4. Lesson 10's elu+1 and these features are both kernel attention (attention/kernels/feature_attention.h). Which
  //    of the two would you pick for generating text one token at a time, and what state does each carry?
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
