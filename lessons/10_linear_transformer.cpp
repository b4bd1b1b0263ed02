// %% [markdown]
// # 10 · Linear Transformer: attention as an RNN
//
// Softmax attention weighs key j for query i by exp(q_i·k_j/√d), normalised over j. Because the exponential
// of a dot product does not split into "something of q_i" times "something of k_j", every pair (i, j) has to
// be computed: the n × n matrix of lesson 01.
//
// Katharopoulos, Vyas, Pappas and Fleuret (2020, Transformers are RNNs: Fast Autoregressive Transformers
// with Linear Attention, ICML) replace the similarity by a kernel that does split, sim(q, k) = phi(q)·phi(k),
// with the feature map phi(x) = elu(x) + 1 (positive, so every weight is positive, like softmax's). Then
//
//     out_i = Σ_j phi(q_i)·phi(k_j) v_j / Σ_j phi(q_i)·phi(k_j)
//           = phi(q_i)ᵀ (Σ_j phi(k_j) v_jᵀ) / (phi(q_i)ᵀ Σ_j phi(k_j))
//
// and the bracket, a d × d matrix S and a d-vector z, is the same for every query: compute it once, and
// attention costs O(n·d²) time and O(n·d) memory. With a causal mask the sums run over j ≤ i — prefix sums
// S_i = S_{i-1} + phi(k_i) v_iᵀ, z_i = z_{i-1} + phi(k_i) — and that is a recurrent network whose state
// (S_i, z_i) has a fixed size: a Transformer that generates text one token at a time in constant memory.
//
// We build it step by step, check it against the dense n × n matrix it is equivalent to, watch it
// generate token by token, compare its attention with softmax's, and measure it up to n = 16K.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size. q, k, v are (B, H, n, d).
// %%
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "attention/kernels/feature_attention.h"
#include "attention/linear.h"
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

// 1 on and below the diagonal: (1, 1, n, n).
Tensor lower_triangle(int64_t n) {
  Tensor lower = Tensor::zeros({1, 1, n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) lower.at({0, 0, i, j}) = 1.0f;
  return lower;
}

// The dense matrix linear attention is equivalent to: A = D⁻¹ (phi(Q) phi(K)ᵀ [lower triangle]), n × n.
Tensor dense_normalised(const Tensor& phi_q, const Tensor& phi_k, bool causal, float eps) {
  Tensor scores = core::matmul(phi_q, phi_k, false, true);  // (B,H,n,d) @ (B,H,d,n) -> (B,H,n,n)
  if (causal) scores = scores * lower_triangle(phi_q.size(2));
  return scores / (core::sum(scores, -1, true) + eps);  // rows sum to 1 (up to eps)
}

// Causal linear attention the memory-hungry way: every prefix sum S_i is kept, n matrices of d × d.
Tensor causal_with_stored_states(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, float eps) {
  const Tensor outer = core::unsqueeze(phi_k, -1) * core::unsqueeze(v, -2);  // (B,H,n,d,1)*(B,H,n,1,d) -> (B,H,n,d,d)
  const Tensor S = core::cumsum(outer, 2);                                  // (B,H,n,d,d): S_i for every i
  const Tensor z = core::cumsum(phi_k, 2);                                  // (B,H,n,d)
  const Tensor num = core::squeeze(core::matmul(core::unsqueeze(phi_q, -2), S), -2);  // (B,H,n,1,d)@(B,H,n,d,d) -> (B,H,n,d)
  return num / (core::sum(phi_q * z, -1, true) + eps);                      // (B,H,n,d) / (B,H,n,1)
}

// Mean over rows of the largest weight in the row: 1 = every query looks at one key, 1/n = uniform.
double mean_row_max(const Tensor& A) {
  const int64_t n = A.size(-1), rows = A.numel() / n;
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) total += *std::max_element(A.data() + r * n, A.data() + (r + 1) * n);
  return total / double(rows);
}

// %%
// Step 10's exercise: your feature map, and your prediction of whether it makes the attention on step 5's motif
// input more selective than elu+1. Your version is the EXERCISE block in main; the reference solution and a
// known-wrong answer are in lessons/solutions/10_linear_transformer.h.
struct MyFeatureMap {
  std::function<Tensor(const Tensor&)> phi;  // phi(x), applied to every coordinate of q and of k
  bool predicted_sharper = false;  // your prediction: mean largest weight per row clearly above elu+1's (> 1.25x)?
};
#include "lessons/solutions/10_linear_transformer.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "10_linear_transformer");
  const float eps = attention::kLinearEps;

  // %% [markdown]
  // ## Step 1 · the feature map and the shared sums
  // phi(x) = elu(x) + 1 is x + 1 for x > 0 and exp(x) for x ≤ 0: smooth and always positive. We take a
  // sequence of n = 6 tokens with d = 4, apply phi to q and k, and form the two sums every query shares:
  // S = phi(K)ᵀ V (d × d) and z = phi(K)ᵀ 1 (d). Note: no 1/√d — the paper has none.
  // %%
  L.step("Step 1 · phi(x) = elu(x) + 1, and the sums S and z");
  core::Rng rng = L.rng(0);
  const int64_t n0 = 6, d0 = 4;
  const Tensor q0 = core::randn({1, 1, n0, d0}, rng), k0 = core::randn({1, 1, n0, d0}, rng),
               v0 = core::randn({1, 1, n0, d0}, rng);
  const Tensor phi_q0 = attention::elu_feature_map(q0), phi_k0 = attention::elu_feature_map(k0);  // (1,1,6,4)
  L.print("q[0, 0]", core::reshape(q0, {n0, d0}));
  L.print("phi(q)[0, 0] = elu(q) + 1   (every entry > 0)", core::reshape(phi_q0, {n0, d0}));
  const Tensor S0 = core::matmul(phi_k0, v0, true, false);  // (1,1,4,6) @ (1,1,6,4) -> (1,1,4,4)
  const Tensor z0 = core::sum(phi_k0, 2, true);             // (1,1,1,4)
  L.say("S = phi(K)ᵀ V: ", phi_k0.shape(), "ᵀ @ ", v0.shape(), " -> ", S0.shape(), "   z = Σ_j phi(k_j): ", z0.shape());
  const Tensor out0 = core::matmul(phi_q0, S0) / core::matmul(phi_q0, z0, false, true);  // (1,1,6,4) / (1,1,6,1)
  L.say("out = phi(Q) S / (phi(Q) z): ", out0.shape(), " — no 6 x 6 matrix anywhere");
  const Tensor A0 = dense_normalised(phi_q0, phi_k0, false, 0.0f);  // (1,1,6,6)
  L.print("the 6 x 6 matrix it is equivalent to, D⁻¹ phi(Q) phi(K)ᵀ (rows sum to 1)", core::reshape(A0, {n0, n0}));
  L.check_close("phi(Q) (phi(K)ᵀ V) / phi(Q) z equals (D⁻¹ phi(Q) phi(K)ᵀ) V", out0, core::matmul(A0, v0), 1e-5f);
  L.check_close("attention::linear_attention gives the same (eps = 1e-6)", attention::linear_attention(q0, k0, v0, false),
                out0, 1e-5f);

  // %% [markdown]
  // ## Step 2 · causal: prefix sums
  // A language model's query i may only look at keys j ≤ i, so S and z become prefix sums S_i and z_i. The
  // obvious implementation keeps all of them: n matrices of d × d, O(n·d²) memory — more than the n × n matrix
  // whenever d² > n. The kernel instead runs through the sequence once, adding phi(k_i) v_iᵀ to one running
  // S: O(d²) state. Its backward runs two scans (forward for dq, backward for dk and dv) instead of
  // storing the states.
  // %%
  L.step("Step 2 · causal attention by prefix sums");
  const Tensor outer0 = core::unsqueeze(phi_k0, -1) * core::unsqueeze(v0, -2);  // (1,1,6,4,1)*(1,1,6,1,4)
  L.say("phi(k_i) v_iᵀ for every i: ", outer0.shape(), "; cumsum over positions gives all S_i, ",
        core::cumsum(outer0, 2).shape());
  const Tensor stored0 = causal_with_stored_states(phi_q0, phi_k0, v0, eps);
  const Tensor scan0 = attention::linear_attention(q0, k0, v0, true);
  const Tensor tri0 = core::matmul(dense_normalised(phi_q0, phi_k0, true, eps), v0);
  L.check_close("causal: the scan kernel equals the stored-states version", scan0, stored0, 1e-5f);
  L.check_close("causal: the scan kernel equals the dense lower-triangular matrix @ v", scan0, tri0, 1e-5f);
  L.say("row 0 sees only key 0, so out_0 = v_0 exactly: out_0 = [", scan0.at({0, 0, 0, 0}), ", ",
        scan0.at({0, 0, 0, 1}), ", ...], v_0 = [", v0.at({0, 0, 0, 0}), ", ", v0.at({0, 0, 0, 1}), ", ...]");

  // %% [markdown]
  // ## Step 3 · the RNN form
  // The causal recurrence is an RNN: state (S, z), input (q_t, k_t, v_t), output out_t. `LinearAttentionState`
  // keeps that state and takes one token per step — this is how a Linear Transformer generates. It runs the
  // kernel's own step function, so it reproduces the parallel form bit for bit.
  // %%
  L.step("Step 3 · the RNN form: one token at a time");
  {
    const int64_t B = 2, H = 2, n = 40, d = 8;
    core::Rng r = L.rng(1);
    const Tensor q = core::randn({B, H, n, d}, r), k = core::randn({B, H, n, d}, r), v = core::randn({B, H, n, d}, r);
    const Tensor parallel = attention::linear_attention(q, k, v, true);  // (2,2,40,8)
    attention::LinearAttentionState state(B, H, d, d);
    Tensor rnn = Tensor::empty({B, H, n, d});
    for (int64_t t = 0; t < n; ++t) {
      auto at_t = [&](const Tensor& x) { return core::reshape(core::slice(x, 2, t, t + 1), {B, H, d}); };  // (B,H,d)
      const Tensor out_t = state.step(at_t(q), at_t(k), at_t(v));                                      // (B,H,d)
      for (int64_t bh = 0; bh < B * H; ++bh)
        for (int64_t c = 0; c < d; ++c) rnn.data()[(bh * n + t) * d + c] = out_t.data()[bh * d + c];
    }
    L.say("state: S ", Tensor::zeros({B, H, d, d}).shape(), " + z ", Tensor::zeros({B, H, d}).shape(), " = ",
          state.state_bytes(), " bytes, whatever the position; ", n, " steps of (B, H, d) -> (B, H, d)");
    L.check("RNN form == parallel form, bit for bit (40 steps, B = H = 2)", lesson::max_abs_diff(rnn, parallel) == 0.0f,
            "max |diff| = " + lesson::sig(lesson::max_abs_diff(rnn, parallel), 2));
  }

  // %% [markdown]
  // ## Step 4 · gradients
  // The kernel's backward is hand-written (attention/kernels/feature_attention.cpp). We check dq, dk and dv against
  // autograd through the dense normalised matrix, causal and not, and with finite differences.
  // %%
  L.step("Step 4 · gradients against the dense normalised matrix");
  {
    core::Rng r = L.rng(2);
    const int64_t n = 40, d = 8;
    const Tensor q = core::randn({1, 2, n, d}, r), k = core::randn({1, 2, n, d}, r), v = core::randn({1, 2, n, d}, r),
                 g = core::randn({1, 2, n, d}, r);
    for (const bool causal : {false, true}) {
      const lesson::KernelVsReference c = lesson::kernel_vs_reference(
          [&](const std::vector<Tensor>& x) { return attention::linear_attention(x[0], x[1], x[2], causal); },
          [&](const std::vector<Tensor>& x) {
            const Tensor phi_q = attention::elu_feature_map(x[0]), phi_k = attention::elu_feature_map(x[1]);
            return core::matmul(dense_normalised(phi_q, phi_k, causal, eps), x[2]);
          },
          {q, k, v}, g);
      const std::string what = causal ? "causal" : "non-causal";
      const char* names[] = {"dq", "dk", "dv"};
      for (int a = 0; a < 3; ++a)
        L.check_close(what + ": " + names[a] + " equals autograd through the n x n matrix", c.grads[a], c.ref_grads[a],
                      1e-4f);
      const auto gc = core::gradcheck(
          [causal](const std::vector<Tensor>& x) { return attention::linear_attention(x[0], x[1], x[2], causal); },
          {core::slice(q, 2, 0, 6), core::slice(k, 2, 0, 6), core::slice(v, 2, 0, 6)});
      L.check(what + ": gradcheck (finite differences) of the kernel", gc.ok, gc.ok ? "" : gc.message);
    }
  }

  // %% [markdown]
  // ## Step 5 · what the attention looks like
  // Same input as lesson 01: a motif of 8 tokens repeated 6 times, random embeddings of size d = 64 used
  // directly as q = k = v. Softmax puts almost all of a query's weight on the copies of its own token. The
  // elu+1 kernel cannot be that selective: phi(q)·phi(k) is a sum of positive products, large for every pair
  // of vectors with many positive coordinates in common, and it grows only linearly with the match (no
  // exponential to sharpen it). Expect a washed-out picture with faint stripes.
  // %%
  L.step("Step 5 · linear attention beside softmax attention");
  const int64_t motif = 8, repeats = 6, n_pic = motif * repeats, d_pic = 64;
  core::Rng pic_rng = L.rng(3);
  const Tensor embedding = core::randn({motif, d_pic}, pic_rng);  // (8, 64)
  IntTensor tokens({n_pic});
  for (int64_t i = 0; i < n_pic; ++i) tokens.data[i] = i % motif;
  const Tensor x = core::reshape(core::embedding(embedding, tokens), {1, 1, n_pic, d_pic});  // (1,1,48,64)
  double copies_softmax = 0.0, copies_linear = 0.0;
  for (const bool causal : {false, true}) {
    const Tensor soft = attention::dense_probabilities(x, x, {causal, Tensor()});  // (1,1,48,48)
    const Tensor lin = attention::linear_attention_matrix(x, x, causal);         // (1,1,48,48)
    L.check_close(std::string(causal ? "causal" : "non-causal") + ": the drawn matrix is the kernel's (A @ v)",
                  core::matmul(lin, x), attention::linear_attention(x, x, x, causal), 1e-4f);
    const double max_soft = mean_row_max(soft), max_lin = mean_row_max(lin);
    L.say(causal ? "causal" : "non-causal", ": mean largest weight per row — softmax ", lesson::fixed(max_soft, 3),
          ", linear ", lesson::fixed(max_lin, 3), " (uniform would be ", lesson::fixed(1.0 / n_pic, 3), ")");
    if (!causal) {
      for (int64_t j = 20 % motif; j < n_pic; j += motif) {
        copies_softmax += soft.at({0, 0, 20, j});
        copies_linear += lin.at({0, 0, 20, j});
      }
      L.say("query 20 (token 4) puts ", lesson::fixed(100 * copies_softmax, 1), " % of its weight on the 6 copies of its token "
            "with softmax, ", lesson::fixed(100 * copies_linear, 1), " % with linear attention (6/48 = 12.5 % if uniform)");
      L.check("linear attention is flatter than softmax (smaller largest weight per row)", max_lin < 0.5 * max_soft,
              lesson::fixed(max_lin, 3) + " vs " + lesson::fixed(max_soft, 3));
      L.check("but still prefers the copies of a query's own token (more than uniform)", copies_linear > 0.125,
              lesson::fixed(100 * copies_linear, 1) + " % > 12.5 %");
    }
    const std::string sub = std::string("n = 48: a motif of 8 tokens, 6 times") + (causal ? ", causal" : "");
    // each panel on its own colour scale, 0 .. its largest weight: the two differ by a factor of ~4-6
    const lesson::MapStyle motif_grid = lesson::MapStyle().px(384).grid(static_cast<int>(motif));
    L.show(img::hstack({matrix_map(soft, "softmax(q kT / sqrt(d))", sub + ", own scale",
                                   motif_grid.range(0.0f, max_abs(soft))),
                        matrix_map(lin, "linear: D^-1 phi(Q) phi(K)T", sub + ", own scale",
                                   motif_grid.range(0.0f, max_abs(lin)))}),
           causal ? "linear_vs_softmax_causal.png" : "linear_vs_softmax.png",
           std::string(causal ? "causal: " : "") +
               "left softmax attention, right linear attention (elu+1) for the same q = k = v — softmax is nearly "
               "one-hot on the copies of each token; linear attention spreads its weight over every key (compare "
               "the colour scales: its largest weight is several times smaller) with stripes that barely stand out "
               "from the background" +
               (causal ? "; both are zero above the diagonal, and early rows (few keys) are brighter" : ""));
  }

  // %% [markdown]
  // ## Step 6 · the causal backward without stored states
  // Peak memory of forward + backward (d = 64, one head) for the version that stores every S_i and for the
  // kernel. The stored version holds n·d² floats (and autograd keeps more of them for backward); the
  // kernel keeps O(n·d): its inputs' features, the output, one denominator per row, and d × d scratch.
  // %%
  L.step("Step 6 · memory of the causal backward: stored states vs scans");
  {
    const int64_t d = 64, n_max = L.quick() ? 512 : 1024;
    lesson::Table t({"n", "stored S_i: peak (MiB)", "/ n·d²·4B", "scans: peak (MiB)", "/ n·d·4B", "ratio"}, 8);
    core::Rng r = L.rng(4);
    double last_ratio = 0.0, scan_units_first = 0.0, scan_units_last = 0.0;
    for (int64_t n = 128; n <= n_max; n *= 2) {
      const Tensor q = core::randn({1, 1, n, d}, r), k = core::randn({1, 1, n, d}, r), v = core::randn({1, 1, n, d}, r),
                   g = core::randn({1, 1, n, d}, r);
      std::vector<Tensor> a = {leaf(q), leaf(k), leaf(v)}, b = {leaf(q), leaf(k), leaf(v)};
      core::memory::PeakScope stored_scope;
      causal_with_stored_states(attention::elu_feature_map(a[0]), attention::elu_feature_map(a[1]), a[2], eps).backward(g);
      const std::size_t stored = stored_scope.peak_above_start();
      core::memory::PeakScope scan_scope;
      attention::linear_attention(b[0], b[1], b[2], true).backward(g);
      const std::size_t scan = scan_scope.peak_above_start();
      const double nd2 = 4.0 * n * d * d, nd = 4.0 * n * d;
      last_ratio = double(stored) / double(scan);
      scan_units_last = double(scan) / nd;
      if (n == 128) scan_units_first = scan_units_last;
      t.row({std::to_string(n), lesson::fixed(lesson::mib(stored), 2), lesson::fixed(stored / nd2, 2),
             lesson::fixed(lesson::mib(scan), 3), lesson::fixed(scan / nd, 1), lesson::fixed(last_ratio, 1) + "x"});
    }
    L.check("the scans need far less memory than stored states (> 10x at the largest n)", last_ratio > 10.0,
            lesson::fixed(last_ratio, 1) + "x");
    L.check("the scans' peak is a constant number of (n, d) tensors: O(n·d), not O(n·d²)",
            scan_units_last < 16.0 && scan_units_last < scan_units_first * 1.05 + 0.1,
            lesson::fixed(scan_units_first, 1) + " -> " + lesson::fixed(scan_units_last, 1) + " tensors of n·d floats");
  }

  // %% [markdown]
  // ## Step 7 · generating: constant memory per token
  // Softmax attention generates token t by attending over a cache of all t previous keys and values: the cache
  // grows by 2·d floats per token, and each step's work and scratch memory grow with t. The RNN form keeps
  // (S, z), d² + d floats, and each step costs the same. We generate with one head, d = 64, and measure the
  // memory every step allocates (core::memory's counters) at several positions.
  // %%
  L.step("Step 7 · generation: memory per token");
  {
    const int64_t d = 64, T = L.quick() ? 512 : 4096;
    core::Rng r = L.rng(5);
    const Tensor q = core::randn({1, 1, T, d}, r), k = core::randn({1, 1, T, d}, r), v = core::randn({1, 1, T, d}, r);
    attention::LinearAttentionState state(1, 1, d, d);
    Tensor k_cache = Tensor::zeros({1, 1, T, d}), v_cache = Tensor::zeros({1, 1, T, d});  // softmax's KV cache
    lesson::Table t({"token t", "linear: state (KiB)", "linear: step peak (KiB)", "linear: step (µs)",
                     "softmax: KV cache (KiB)", "softmax: step peak (KiB)", "softmax: step (µs)"},
                    8);
    std::vector<std::size_t> linear_peaks, softmax_peaks;
    core::NoGradGuard no_grad;
    for (int64_t pos = 0; pos < T; ++pos) {
      auto at = [&](const Tensor& x) { return core::reshape(core::slice(x, 2, pos, pos + 1), {1, 1, d}); };  // (1,1,d)
      const Tensor qt = at(q), kt = at(k), vt = at(v);
      const bool report = pos + 1 == 1 || pos + 1 == 16 || pos + 1 == 256 || pos + 1 == T;
      core::Stopwatch lin_clock;
      core::memory::PeakScope lin_scope;
      state.step(qt, kt, vt);
      const std::size_t lin_peak = lin_scope.peak_above_start();
      const double lin_us = 1e6 * lin_clock.seconds();
      // softmax: append k_t, v_t to the cache, attend over the first t + 1 entries
      std::copy_n(kt.data(), d, k_cache.data() + pos * d);
      std::copy_n(vt.data(), d, v_cache.data() + pos * d);
      core::Stopwatch soft_clock;
      core::memory::PeakScope soft_scope;
      attention::dense_attention(core::reshape(qt, {1, 1, 1, d}), core::slice(k_cache, 2, 0, pos + 1),
                                 core::slice(v_cache, 2, 0, pos + 1));
      const std::size_t soft_peak = soft_scope.peak_above_start();
      const double soft_us = 1e6 * soft_clock.seconds();
      if (report) {
        linear_peaks.push_back(lin_peak);
        softmax_peaks.push_back(soft_peak);
        t.row({std::to_string(pos + 1), lesson::fixed(state.state_bytes() / 1024.0, 2), lesson::fixed(lin_peak / 1024.0, 2),
               lesson::fixed(lin_us, 1), lesson::fixed(2.0 * (pos + 1) * d * 4 / 1024.0, 1),
               lesson::fixed(soft_peak / 1024.0, 1), lesson::fixed(soft_us, 1)});
      }
    }
    L.check("linear: every step allocates the same bytes, at token 1 and at token " + std::to_string(T),
            std::all_of(linear_peaks.begin(), linear_peaks.end(), [&](std::size_t b) { return b == linear_peaks[0]; }),
            std::to_string(linear_peaks[0]) + " bytes per step; state " + std::to_string(state.state_bytes()) + " bytes");
    L.check("softmax: a step's memory grows with t (cache slices, scores over t keys)",
            softmax_peaks.back() > 20 * softmax_peaks.front(),
            std::to_string(softmax_peaks.front()) + " -> " + std::to_string(softmax_peaks.back()) + " bytes");
    L.say("Times are measured (they vary); the linear step's time does not depend on t, softmax's grows with t.");
  }

  // %% [markdown]
  // ## Step 8 · cost against n
  // Forward + backward, one head, d = 64, up to n = 16K (dense attention only up to 4K: beyond that its
  // n × n matrices take gigabytes). Linear attention is O(n·d²) in time and O(n·d) in memory: doubling n
  // doubles both. Dense attention quadruples.
  // %%
  L.step("Step 8 · time and peak memory of forward + backward vs n");
  lesson::cost_step(L,
                    {lesson::Curve("linear").expect(1.0, 1.0), lesson::Curve("linear", {}, "linear causal").causal().expect(1.0, 1.0),
                     lesson::Curve("full").up_to(L.quick() ? 2048 : 4096).expect(2.0, 2.0)},
                    lesson::CostOptions()
                        .sizes(L.quick() ? 512 : 256, L.quick() ? 2048 : 16384)
                        .title("linear attention vs full (softmax) attention")
                        .figure("cost.png",
                                "time and peak memory vs n on log-log axes — the linear curves have slope 1 (doubling "
                                "n doubles the cost), the full-attention curves slope 2; at 4K dense attention already "
                                "needs tens of times the memory"));

  // %% [markdown]
  // ## Step 9 · what the paper reported
  // Numbers from Katharopoulos et al. 2020 (the paper's, on a GPU; not measured here):
  // - Autoregressive image generation, MNIST (Table 1, §4.2.1): 0.644 bits/dim for linear vs 0.621 for softmax
  //   attention, while generating about 317x faster (142.8 vs 0.45 images/s).
  // - CIFAR-10 (Table 2, §4.2.2): 3.40 bits/dim vs 3.47 for softmax after the same 7 days of training, about
  //   4,460x faster generation (17.85 vs 0.004 images/s): the RNN form's constant cost per pixel against
  //   softmax's growing cost over 3,072 pixels.
  // - Speech recognition (WSJ, Table 3, §4.3): phoneme error rate 8.08 vs 5.12 for softmax — more than 3x faster
  //   per epoch, but less accurate: the flat attention of step 5 is the price.
  // Long Range Arena (Tay et al. 2021) later measured the Linear Transformer at 50.55 average accuracy vs
  // 54.39 for the Transformer (its Table 1), at 5.6x the Transformer's steps per second and 1.03 GB of peak
  // memory against 9.48 GB at 4K tokens (its Table 2, on TPUs).
  // %%
  L.step("Step 9 · the paper's results (reported, not measured here)");
  L.say("Katharopoulos et al. 2020 (paper's numbers): MNIST image generation 0.644 bits/dim (softmax 0.621), ~317x faster");
  L.say("  (Table 1); CIFAR-10 3.40 bits/dim (softmax 3.47), ~4,460x faster generation (Table 2); WSJ speech PER 8.08");
  L.say("  (softmax 5.12; Table 3).");
  L.say("Long Range Arena (Tay et al. 2021, reported): average 50.55 vs 54.39 for the Transformer (Table 1); at 4K tokens");
  L.say("  5.6x the steps per second, 1.03 vs 9.48 GB peak memory (Table 2).");
  L.say("Measured here: the RNN form's constant bytes per token (step 7) and the ~n growth (step 8).");

  // %% [markdown]
  // ## Step 10 · your own feature map
  // Any phi with non-negative values gives a valid linear attention (the weights stay >= 0); phi decides how
  // selective the attention can be. Change the feature map in the EXERCISE block below, rebuild, rerun — but
  // first PREDICT whether your phi makes the attention on step 5's motif input clearly more selective than
  // elu+1: is the mean largest weight per row more than 1.25 times elu+1's? The self-check verifies that phi is
  // non-negative, the kernel with your phi against the dense matrix (outputs and gradients, causal), and your
  // prediction; custom.png shows your attention beside softmax. Your version is the EXERCISE block; the
  // reference solution and a known-wrong answer are in lessons/solutions/10_linear_transformer.h.
  // %%
  L.step("Step 10 · your own feature map");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // phi(x) for every coordinate. The paper's choice is elu(x) + 1. Try, each with its prediction:
  //   core::relu(x)                     (weights can be exactly 0; a query with no positive coordinate sees nothing)
  //   core::exp(x)                      (sharper: large coordinates dominate)
  //   core::square(x)                   (symmetric: x and -x look alike)
  //   core::exp(x * 4.0f)               (sharper still — does the picture get closer to softmax?)
  //   core::elu(x) + 3.0f               (a larger constant: more or less selective?)
  MyFeatureMap mine;
  mine.phi = [](const Tensor& x) { return core::elu(x) + 1.0f; };
  mine.predicted_sharper = false;  // the paper's own map: as selective as elu+1 itself, not 1.25 times more
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyFeatureMap answer = L.exercise(mine, solution::feature_map(), solution::wrong_feature_map());
  const std::function<Tensor(const Tensor&)> my_feature_map = answer.phi;
  core::Rng r = L.rng(7);
  const int64_t n = 24, d = 8;
  const Tensor q = core::randn({1, 2, n, d}, r), k = core::randn({1, 2, n, d}, r), v = core::randn({1, 2, n, d}, r),
               g = core::randn({1, 2, n, d}, r);
  std::string problem;             // what is wrong with the feature map, in the exercise's terms
  bool one_row_per_token = false;  // phi gives (B, H, n, m) features: the motif matrix can be drawn
  double min_phi = 0.0;
  if (!my_feature_map) {
    problem = "the EXERCISE block sets no feature map: give mine.phi a function, e.g. [](const Tensor& x) { ... }";
  } else {
    const Tensor phi_test = my_feature_map(q);  // (1, 2, 24, m)
    if (phi_test.dim() != 4 || phi_test.size(0) != 1 || phi_test.size(1) != 2 || phi_test.size(2) != n) {
      problem = "phi must keep one row of features per token: (B, H, n, d) in, (B, H, n, m) out";
    } else {
      one_row_per_token = true;
      min_phi = 1e30;
      for (int64_t i = 0; i < phi_test.numel(); ++i) min_phi = std::min(min_phi, double(phi_test.data()[i]));
      if (!all_finite(phi_test))
        problem = "phi gave inf or NaN: exp of a float overflows above x = 88 — keep its argument small";
      else if (min_phi < 0.0)
        problem = "a feature map with negative values gives negative attention weights, and the normaliser "
                  "sum_j phi(q_i)·phi(k_j) can pass through 0: did you drop the +1 of elu(x) + 1?";
    }
  }
  const bool phi_ok = L.exercise_check("your phi is finite and non-negative (so every attention weight is >= 0)",
                                       problem.empty(),
                                       one_row_per_token ? "smallest value " + lesson::sig(min_phi, 3) : "", problem);
  if (!phi_ok)
    L.say("(so the two checks of kernel against dense matrix and the check of your prediction are skipped: the "
          "kernel refuses a normaliser that is not positive, near 0 both sides would divide by almost nothing, "
          "and weights that are negative or not numbers are not a selection of keys)");
  // %% [markdown]
  // **Your phi in the kernel.** With a valid phi, the causal kernel (running sums of phi(k) vᵀ and phi(k)) must
  // equal the dense normalised matrix D⁻¹ phi(Q) phi(K)ᵀ, masked, times v — outputs, and gradients compared
  // relative to each gradient's size.
  // %%
  if (phi_ok) {
    const lesson::KernelVsReference c = lesson::kernel_vs_reference(
        [&](const std::vector<Tensor>& x) {
          return attention::feature_attention(my_feature_map(x[0]), my_feature_map(x[1]), x[2], {true, eps, Tensor()});
        },
        [&](const std::vector<Tensor>& x) {
          return core::matmul(dense_normalised(my_feature_map(x[0]), my_feature_map(x[1]), true, eps), x[2]);
        },
        {q, k, v}, g);
    float worst = 0.0f;
    const char* names[] = {"dq", "dk", "dv"};
    std::string detail;
    for (int a = 0; a < 3; ++a) {
      const float scale = std::max(1.0f, max_abs(c.ref_grads[a]));  // relative to the gradient's size
      const float diff = all_finite(c.grads[a]) ? lesson::max_abs_diff(c.grads[a], c.ref_grads[a]) / scale : 1e30f;
      worst = std::max(worst, diff);
      detail += std::string(a ? ", " : "") + names[a] + " " + lesson::sig(diff, 2);
    }
    L.check_close("your phi: causal kernel output equals the dense normalised matrix @ v", c.out, c.ref_out, 1e-4f);
    L.check("your phi: gradients equal autograd through the dense matrix (relative)", worst < 1e-4f, detail);
  }
  // %% [markdown]
  // **How selective is your phi?** On step 5's motif input, the mean largest weight per row of your attention
  // beside elu+1's and softmax's: your prediction was whether yours exceeds 1.25 times elu+1's. custom.png puts
  // your matrix beside softmax.
  // %%
  if (one_row_per_token) {
    const Tensor mine_A = dense_normalised(my_feature_map(x), my_feature_map(x), false, eps);  // (1,1,48,48)
    const Tensor soft = attention::dense_probabilities(x, x);
    const double mine_max = mean_row_max(mine_A);
    const double elu_max = mean_row_max(attention::linear_attention_matrix(x, x, false));
    L.say("your phi on the motif input: mean largest weight per row ", lesson::fixed(mine_max, 3), " (elu+1: ",
          lesson::fixed(elu_max, 3), ", softmax ", lesson::fixed(mean_row_max(soft), 3), ")");
    if (phi_ok) {
      const bool sharper = mine_max > 1.25 * elu_max;
      L.exercise_check(
          "your prediction of whether your phi is clearly more selective than elu+1",
          answer.predicted_sharper == sharper,
          "predicted " + std::string(answer.predicted_sharper ? "yes" : "no") + "; yours is " +
              lesson::fixed(mine_max / elu_max, 2) + "x elu+1's mean largest weight per row, yes means above 1.25x",
          sharper ? "it is: your phi is small for most coordinates and large for a few, so phi(q)·phi(k) is "
                    "dominated by the coordinates where q and k are both large — a token's own copies stand out"
                  : "it is not: phi(q)·phi(k) sums d products, and a phi that is about as large for every "
                    "coordinate (a constant like the +1, or slow growth) makes every pair's sum alike — rows "
                    "stay flat; sharpening needs a phi near 0 for most x and large for a few (relu, exp(c·x))");
    }
    const lesson::MapStyle motif_grid = lesson::MapStyle().px(384).grid(static_cast<int>(motif));
    L.show(img::hstack({matrix_map(soft, "softmax(q kT / sqrt(d))", "n = 48 motif input, own scale",
                                   motif_grid.range(0.0f, max_abs(soft))),
                        matrix_map(mine_A, "your phi: D^-1 phi(Q) phi(K)T",
                                   phi_ok ? "n = 48 motif input, own scale" : "n = 48: negative weights in blue",
                                   phi_ok ? motif_grid.range(0.0f, std::max(max_abs(mine_A), 1e-6f))
                                          : motif_grid.diverging())}),
           "custom.png",
           "left softmax, right linear attention with your EXERCISE feature map on the motif input of step 5 — "
           "with elu+1 it is the washed-out picture of step 5; sharper feature maps bring the stripes out");
  }

  // %% [markdown]
  // ## Exercises
  // 1. In the EXERCISE block try exp(4x), predicting first whether it beats 1.25x elu+1: how close does the
  //    mean largest weight get to softmax's? What happens to the numbers for larger inputs (hint: float
  //    overflows at exp(88))? And elu(x) + 3: why is it flatter than elu(x) + 1?
  // 2. From step 6's table: at what n does the stored-states version need more memory than the n x n
  //    matrix of dense attention (d = 64)? And for d = 16?
  // 3. Step 7 measures memory per generated token. Write down the cost (flops) of one step for both forms at
  //    token t and find the t at which linear attention's step becomes cheaper (d = 64).
  // 4. Make linear attention causal by masking the n x n matrix (dense_normalised with causal = true) and time
  //    it at n = 4096 against the kernel: what did associativity buy?
  // Next lesson: the Performer, a feature map whose kernel *is* softmax's, on average.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
