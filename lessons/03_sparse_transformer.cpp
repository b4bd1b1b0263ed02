// %% [markdown]
// # 03 · Sparse Transformer: factorised attention in O(n·√n)
//
// Child, Gray, Radford and Sutskever (2019), *Generating Long Sequences with Sparse Transformers*, noticed that
// trained attention maps are mostly empty: a query looks at a few nearby positions and at a few positions a
// fixed stride away. So they keep only those two sets of keys per query,
//
//     A1(i): a local set of about l keys        A2(i): a strided set of about n/l keys
//
// and choose l ≈ √n, so that each query sees about 2√n keys instead of n. The trick is that the two sets are a
// *factorisation*: every earlier position j can be reached from i in two hops (i -> a key in A1 -> j in its A2,
// or the other way round), so two layers still connect every pair. The cost drops from O(n²) to O(n·√n) —
// but only if the kernel skips the missing pairs. A dense n × n mask with -inf in the gaps computes exactly the
// same numbers at full O(n²) price. This lesson builds the patterns, runs them through a kernel that works on
// per-query key lists (`attention::index_attention`), checks it against the dense mask, and measures the
// scheme's kernel (for the strided pattern: dense blocks, step 6) against both.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, l = stride, c = summary width,
// K = keys per query. q, k, v are (B, H, n, d).
// %%
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "attention/kernels/index_attention.h"
#include "attention/sparse.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
using attention::SparseMode;
using attention::SparseOptions;
using lesson::list_str;    // {0, 16, 20} (lessons/lesson.h)
using lesson::matrix_map;  // a heatmap of an attention matrix (lessons/lesson.h)

// Cell ids of one (n, n) picture: 0 = not attended, 1 = A1 only, 2 = A2 only, 3 = both.
IntTensor part_ids(const SparseOptions& o, int64_t n, int parts) {
  const int64_t l = attention::sparse_stride(o, n);
  IntTensor ids({n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const bool a1 = (parts & attention::kSparseA1) && attention::sparse_in_a1(o, l, i, j);
      const bool a2 = (parts & attention::kSparseA2) && attention::sparse_in_a2(o, l, i, j);
      ids.at({i, j}) = (a1 ? 1 : 0) + (a2 ? 2 : 0);
    }
  return ids;
}

// A1, A2 and their union side by side, each with the block grid every l cells.
img::Image pattern_panels(const SparseOptions& o, int64_t n, const std::string& name) {
  const int64_t l = attention::sparse_stride(o, n);
  const img::Color none{235, 235, 235}, a1 = img::categorical(0), a2 = img::categorical(1), both = img::categorical(2);
  std::vector<img::Image> panels;
  const std::vector<std::pair<int, std::string>> parts = {
      {attention::kSparseA1, "A1"}, {attention::kSparseA2, "A2"}, {attention::kSparseBoth, "A1 u A2"}};
  for (const auto& [p, label] : parts) {
    img::HeatmapOptions h;
    h.title = name + ": " + label;
    h.subtitle = "n = " + std::to_string(n) + ", l = " + std::to_string(l) +
                 (o.mode == SparseMode::fixed ? ", c = " + std::to_string(o.summary) : std::string()) +
                 (o.causal ? ", causal" : "");
    h.xlabel = "key position j";
    h.ylabel = "query position i";
    h.grid_every = static_cast<int>(l);
    h.target_px = 320;
    h.colors = {none, a1, a2, both};
    panels.push_back(img::categorical_heatmap(part_ids(o, n, p), {"not attended", "A1", "A2", "A1 and A2"}, h));
  }
  return img::hstack(panels);
}

// 1 where j <= i cannot be reached from i in at most two hops through the pattern P (n, n).
int64_t unreachable_in_two_hops(const Tensor& P) {
  const int64_t n = P.size(0);
  const Tensor two = core::matmul(P, P) + P;  // paths of length 2, plus direct edges
  int64_t missing = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) missing += two.at({i, j}) == 0.0f;
  return missing;
}

// %%
// Step 8's exercise: your pattern, and your predictions of its cost and its reach at n = 100. Your version is
// the EXERCISE block in main; the reference solution and a known-wrong answer are in
// lessons/solutions/03_sparse_transformer.h.
struct MyPattern {
  SparseOptions options;
  int64_t predicted_keys = 0;       // K: the most keys any query reads (the key lists' width)
  bool predicted_two_hops = true;   // does every head alone reach every earlier position in two hops?
};
#include "lessons/solutions/03_sparse_transformer.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "03_sparse_transformer");

  // %% [markdown]
  // ## Step 1 · the two sets
  // Strided pattern with stride l (causal): A1(i) = {j : i-l < j <= i} are the l previous positions, and
  // A2(i) = {j <= i : (i-j) mod l = 0} every l-th position back. Think of the sequence as an image of rows of
  // length l: A1 is (about) the current row, A2 the current column. The fixed pattern instead cuts the sequence
  // into blocks of l: A1(i) is i's own block (up to i), A2(i) the last c "summary" cells of every block,
  // j mod l in {l-c, ..., l-1}, which later tokens read to learn about earlier blocks. Below: n = 64, l = 8.
  // %%
  L.step("Step 1 · the two sets A1 and A2");
  const int64_t n = 64, l = 8, c = 2;
  const SparseOptions strided(SparseMode::strided, l, c, true);
  const SparseOptions fixed(SparseMode::fixed, l, c, true);
  std::vector<int64_t> keys;
  for (const auto& [o, name] : {std::pair{strided, "strided"}, std::pair{fixed, "fixed"}}) {
    for (const auto& [part, label] : {std::pair{attention::kSparseA1, "A1"}, std::pair{attention::kSparseA2, "A2"}}) {
      attention::sparse_row_keys(o, l, n, part, 21, keys);
      L.say(name, " ", label, "(21) = ", list_str(keys), "   (", keys.size(), " keys)");
    }
  }
  L.show(pattern_panels(strided, n, "strided"), "strided.png",
         "strided pattern, n = 64, l = 8, grid every l cells — A1 is a band of width l under the diagonal, A2 a "
         "set of diagonals l apart (the 'column' of the query); their union touches every l x l block below the "
         "diagonal, which is why two hops reach everything");
  L.show(pattern_panels(fixed, n, "fixed"), "fixed.png",
         "fixed pattern, n = 64, l = 8, c = 2 — A1 is a staircase of triangles (each query's own block), A2 a few "
         "full-height columns: the last c = 2 cells of every block, read by every later query");
  bool sizes_ok = true;
  for (int64_t i = 0; i < n; ++i) {
    attention::sparse_row_keys(strided, l, n, attention::kSparseA1, i, keys);
    sizes_ok = sizes_ok && static_cast<int64_t>(keys.size()) <= l;
    attention::sparse_row_keys(strided, l, n, attention::kSparseA2, i, keys);
    sizes_ok = sizes_ok && static_cast<int64_t>(keys.size()) <= (n + l - 1) / l;
  }
  L.check("strided: |A1(i)| <= l and |A2(i)| <= n/l for every query", sizes_ok);

  // %% [markdown]
  // ## Step 2 · key lists instead of a mask
  // A mask would be n × n. Instead we write each query's keys as a list: `sparse_index` returns an int64 tensor
  // (1, 1, n, K) (one list per query, shared by every batch and head; -1 pads the shorter lists). With the
  // automatic stride l = ceil(√n), K is about 2√n: a vanishing share of the n keys as n grows.
  // %%
  L.step("Step 2 · key lists instead of a mask");
  const IntTensor index = attention::sparse_index(strided, n, 1);  // (1, 1, 64, K)
  L.say("sparse_index(strided, n = 64, l = 8): ", index.shape, "   (1, 1, n, K)");
  std::vector<int64_t> row21(index.data.begin() + 21 * index.shape[3], index.data.begin() + 22 * index.shape[3]);
  L.say("row 21: ", list_str(row21), "  — A1 ∪ A2 in increasing order, each key once");
  lesson::Table kt({"n", "l (auto)", "K", "K / √n", "n·K / n² (%)"}, 8);
  bool k_like_sqrt = true;
  SparseOptions autostride = strided;
  autostride.stride = 0;
  const std::vector<int64_t> k_sizes = L.quick() ? std::vector<int64_t>{64, 256, 1024, 4096}
                                                 : std::vector<int64_t>{64, 256, 1024, 4096, 16384};
  for (int64_t m : k_sizes) {
    const int64_t K = attention::sparse_index(autostride, m, 1).shape[3];
    const double ratio = K / std::sqrt(static_cast<double>(m));
    k_like_sqrt = k_like_sqrt && ratio > 1.7 && ratio < 2.2;
    kt.row({std::to_string(m), std::to_string(attention::sparse_stride(autostride, m)), std::to_string(K),
            lesson::fixed(ratio, 2), lesson::fixed(100.0 * K / m, 2)});
  }
  L.check("with the automatic stride, K stays close to 2√n", k_like_sqrt);

  // %% [markdown]
  // ## Step 3 · attention on the lists
  // `attention::index_attention(q, k, v, index)` is softmax attention where row i only ever touches its own
  // keys: for each slot s with key j = index[i, s] it computes score = q_i · k_j / √d, takes the softmax over
  // the row's slots, and sums p_s v_j. The forward keeps the probabilities in slot form, p (B, H, n, K), for
  // the backward, which scatters dk_j and dv_j back through the lists (one key row per thread, in a fixed
  // order, so results are bit-identical for any thread count). Cost O(n·K·d) time, O(n·K) memory.
  //
  // To see something, we feed it a sequence with a period of exactly l = 8 (tokens 0..7 repeated, q = k = v =
  // a random embedding of each token, d = 64, as in lesson 01). A token matches itself best, and in the
  // strided pattern A2(i) = {i, i-8, i-16, ...} holds exactly the earlier copies of token i.
  // %%
  L.step("Step 3 · attention on the key lists");
  core::Rng rng = L.rng(0);
  const int64_t d = 64;
  const Tensor embedding = core::randn({l, d}, rng);  // (vocab = 8, d)
  IntTensor tokens({n});
  for (int64_t i = 0; i < n; ++i) tokens.data[i] = i % l;
  const Tensor x = core::reshape(core::embedding(embedding, tokens), {1, 1, n, d});  // (1, 1, 64, 64)
  const auto result = attention::index_attention_forward(x, x, x, index);
  L.say("index_attention_forward: out ", result.out.shape(), ", probabilities in slot form ", result.probs.shape());
  const Tensor A_strided = attention::sparse_effective_attention(x, x, x, strided);  // (1, 1, 64, 64)
  const Tensor A_fixed = attention::sparse_effective_attention(x, x, x, fixed);
  double on_copies = 0.0;
  for (int64_t j = 21 % l; j <= 21; j += l) on_copies += A_strided.at({0, 0, 21, j});
  L.say("query 21 (token 5) puts ", lesson::fixed(100 * on_copies, 1), " % of its weight on the copies of token 5 at ",
        "keys 5, 13, 21 (all in A2)");
  L.check("strided, periodic input: query 21 attends almost only to its copies", on_copies > 0.9);
  const lesson::MapStyle grid_l = lesson::MapStyle().px(384).grid(l);
  L.show(img::hstack({matrix_map(A_strided, "strided: probabilities", "period-8 input, n = 64, l = 8, causal", grid_l),
                      matrix_map(A_fixed, "fixed: probabilities", "period-8 input, n = 64, l = 8, c = 2, causal",
                                 grid_l)}),
         "probabilities.png",
         "the probabilities the kernel applied (the matrix A with out = A @ v), grid every l = 8 — left: the "
         "strided A2 diagonals light up, because they hold the earlier copies of each token; right: the fixed "
         "pattern reaches earlier copies only through the summary cells (positions 6, 7 of each block), so only "
         "the rows of tokens 6 and 7 spread their weight over earlier columns; every other query keeps its "
         "weight on itself, the diagonal");

  // %% [markdown]
  // ## Step 4 · check it against the dense mask
  // The same attention the O(n²) way: `sparse_dense_mask_attention` builds the n × n scores, writes -inf
  // where the pattern is 0, and takes a dense softmax. Both must agree — outputs and gradients of q, k and v —
  // for both modes, causal or not, at n = 37 (not a multiple of l: the last block is simply shorter).
  // %%
  L.step("Step 4 · the kernel equals the dense-mask version");
  {
    core::Rng crng = L.rng(1);
    const int64_t cn = 37, cd = 16;
    const Tensor q0 = core::randn({2, 2, cn, cd}, crng), k0 = core::randn({2, 2, cn, cd}, crng),
                 v0 = core::randn({2, 2, cn, cd}, crng), g = core::randn({2, 2, cn, cd}, crng);
    for (SparseMode mode : {SparseMode::strided, SparseMode::fixed})
      for (bool causal : {true, false}) {
        const SparseOptions o(mode, 0, c, causal);
        const float worst = lesson::kernel_vs_reference(
            [&](const std::vector<Tensor>& x) { return attention::sparse_attention(x[0], x[1], x[2], o); },
            [&](const std::vector<Tensor>& x) { return attention::sparse_dense_mask_attention(x[0], x[1], x[2], o); },
            {q0, k0, v0}, g).max_abs_diff();
        L.check(lesson::str(mode == SparseMode::strided ? "strided" : "fixed", causal ? ", causal" : ", non-causal",
                            ": output, dq, dk, dv equal the dense-mask version"),
                worst < 1e-4f, "max |diff| = " + lesson::sig(worst, 2));
      }
  }

  // %% [markdown]
  // ## Step 5 · two hops reach every earlier position
  // Why this works as well as full attention in the paper: with A = A1 ∪ A2, a key j <= i that is not in A(i)
  // is in A(k) for some k in A(i). So two stacked layers route information between any pair. A plain local
  // window with the same number of keys needs n / K layers instead.
  // %%
  L.step("Step 5 · two hops reach every earlier position");
  {
    auto dense_pattern = [&](const SparseOptions& o) { return core::reshape(attention::sparse_pattern(o, n, 1), {n, n}); };
    const Tensor Ps = dense_pattern(strided), Pf = dense_pattern(fixed);
    Tensor window = Tensor::zeros({n, n});  // a causal window with as many keys as the strided union
    const int64_t keys_per_row = index.shape[3];
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = std::max<int64_t>(0, i - keys_per_row + 1); j <= i; ++j) window.at({i, j}) = 1.0f;
    const int64_t miss_s = unreachable_in_two_hops(Ps), miss_f = unreachable_in_two_hops(Pf),
                  miss_w = unreachable_in_two_hops(window);
    L.say("pairs j <= i not reachable in two hops: strided ", miss_s, ", fixed ", miss_f, ", causal window of ",
          keys_per_row, " keys ", miss_w, " (of ", n * (n + 1) / 2, ")");
    L.check("strided and fixed: every j <= i is reachable in two hops", miss_s == 0 && miss_f == 0);
    L.check("a window with the same number of keys is not", miss_w > 0);
    const Tensor reach = core::matmul(Ps, Ps) + Ps;  // (n, n) paths of length <= 2
    Tensor reach01 = Tensor::zeros({n, n});
    for (int64_t e = 0; e < n * n; ++e) reach01.data()[e] = reach.data()[e] > 0.0f ? 1.0f : 0.0f;
    img::HeatmapOptions h;
    h.xlabel = "key position j";
    h.ylabel = "query position i";
    h.grid_every = static_cast<int>(l);
    h.target_px = 384;
    h.value_label = "1 = connected";
    h.title = "strided: one hop";
    h.subtitle = "n = 64, l = 8, causal";
    const img::Image one = img::heatmap(Ps, h);
    h.title = "strided: two hops";
    L.show(img::hstack({one, img::heatmap(reach01, h)}), "two_hops.png",
           "left: who query i reads directly (A1 ∪ A2); right: who it can read through one intermediate "
           "position — the whole lower triangle is filled");
  }

  // %% [markdown]
  // ## Step 6 · the cost
  // We time the forward pass of three implementations at B = 1, H = 1, d = 64, causal strided, stride ≈ √n:
  // the sparse kernel (forward and forward+backward), the dense-mask version of the same pattern, and full causal
  // attention (`attention::dense_attention`). For the strided pattern the kernel uses the paper's own layout: A1
  // is a band, computed in tiles of 32 queries against the keys they reach, and A2 is dense once the sequence is
  // read by residue class (the queries i ≡ r mod l all see the keys j ≡ r mod l), one n/l × n/l block per class;
  // the two softmax parts are merged by log-sum-exp. Each query meets l + n/l ≈ 2√n keys: time n·√n. It keeps one
  // log-sum-exp per query and tiles that are freed as it goes: memory n, like flash. (The fixed pattern and split
  // heads run on key lists, K ≈ 2√n slots per query: memory n·√n.) Memory is the peak of the engine's counting
  // allocator on top of q, k, v — exact and the same on every machine; times vary from run to run. A straight line
  // on the log-log plot has slope = the exponent: 1 for n, 1.5 for n·√n, 2 for n². Sizes n = 1K ... 8K (with
  // --quick, which the test suite uses, also under a sanitizer: 512 ... 2K).
  // %%
  L.step("Step 6 · time and memory: the sparse kernel vs dense mask vs full");
  // The dense-mask version is not a registered kernel: the sparse scheme's curve runs it in place of its own.
  const SparseOptions strided_causal(SparseMode::strided, 0, c, true);
  const lesson::CostResult cost = lesson::cost_step(
      L,
      {lesson::Curve("sparse", {}, "sparse fwd").causal().forward_only().expect(1.0, 1.5),
       lesson::Curve("sparse", {}, "sparse fwd+bwd").causal(),  // shown, not checked: its n·d gradients dominate at these n
       lesson::Curve("sparse", {}, "dense mask fwd")
           .causal()
           .forward_only()
           .kernel([strided_causal](const Tensor& q, const Tensor& k, const Tensor& v, const attention::Config&) {
             return attention::sparse_dense_mask_attention(q, k, v, strided_causal);
           })
           .expect(2.0, 2.0),
       lesson::Curve("full", {}, "full fwd").causal().forward_only().expect(2.0, 2.0)},
      lesson::CostOptions()
          .sizes(L.quick() ? 512 : 1024, L.quick() ? 2048 : 8192)
          .reference("full fwd")
          .title("sparse (strided, causal) vs dense mask vs full")
          .figure("cost.png",
                  "time and peak memory on log-log axes, fitted exponents in the legend — the sparse kernel's lines "
                  "are flatter (time about n^1.5, memory n) and far below; the dense mask and full attention run "
                  "parallel at slope 2: a mask alone saves nothing"));
  const attention::Scaling& sparse_fwd = cost.fit("sparse fwd");
  const attention::Scaling& full_fwd = cost.fit("full fwd");
  L.check("at the largest n the sparse kernel needs at most 1/4 of full attention's memory",
          sparse_fwd.mib.back() * 4 <= full_fwd.mib.back(),
          lesson::fixed(sparse_fwd.mib.back(), 1) + " MiB vs " + lesson::fixed(full_fwd.mib.back(), 1) + " MiB");
  L.say("The dense-mask version computes the same numbers as the sparse kernel and costs as much as full attention");
  L.say("(a little more: it also holds the n x n mask). Sparsity only pays when the kernel skips the missing pairs.");

  // %% [markdown]
  // ## Step 7 · what the paper reported
  // Child et al. (2019) trained deep Sparse Transformers (with recomputation of attention in the backward pass
  // and custom GPU block-sparse kernels) and reported, as density modelling results (the paper's numbers, not
  // this lesson's; its Table 1 unless said otherwise):
  // - CIFAR-10: 2.80 bits/dim (strided pattern, 59M parameters), a new state of the art at the time;
  // - Enwik8: 0.99 bits/byte (fixed pattern, 30 layers, 95M parameters), matching a Transformer-XL of about
  //   three times the parameters (277M);
  // - ImageNet 64×64: 3.44 bits/dim (strided, 152M parameters); classical music (raw audio, 12 kHz, sequences of
  //   65,536 samples): 1.97 bits/byte (strided, 152M parameters; also Table 4);
  // - in its head-to-head comparison with dense attention (Table 2), the better pattern for each task (strided
  //   for images: 2.80 vs 2.82; fixed for text: 0.99 vs 1.00) reached a lower loss at a lower time per step,
  //   while the strided pattern did clearly worse on text (1.13), whose structure is not periodic.
  // This lesson measured none of the modelling numbers; it measured the cost exponents above (time about 1.5 and
  // memory 1 for the sparse kernel, 2 for dense) on this machine's CPU.
  // %%
  L.step("Step 7 · what the paper reported (Child et al. 2019)");
  L.say("paper (Table 1): CIFAR-10 2.80 bits/dim (strided, 59M params); Enwik8 0.99 bits/byte (fixed, 30 layers, 95M);");
  L.say("paper (Table 1): ImageNet 64x64 3.44 bits/dim; classical music 1.97 bits/byte. Against dense attention (Table 2),");
  L.say("strided (images) and fixed (text) beat it at a lower time per step (the paper's GPU kernels); strided did worse on text.");
  L.say("this lesson: sparse kernel exponent ", lesson::fixed(sparse_fwd.time_exponent, 2), " (time) / ",
        lesson::fixed(sparse_fwd.memory_exponent, 2), " (memory) vs full ", lesson::fixed(full_fwd.time_exponent, 2),
        " / ", lesson::fixed(full_fwd.memory_exponent, 2), "; full/sparse time at n = ", full_fwd.n.back(), ": ",
        lesson::fixed(full_fwd.ms.back() / sparse_fwd.ms.back(), 1), "x (this machine)");

  // %% [markdown]
  // ## Step 8 · your own pattern
  // Change the options below, rebuild, rerun. The self-check verifies that the scheme's kernel (key lists, or dense
  // blocks for the strided pattern with merged heads) still equals the dense-mask attention for your pattern (so
  // any pattern the options can express is exact), and reports how many keys each query reads and whether two hops
  // still reach every earlier position.
  // %%
  L.step("Step 8 · your own pattern");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // Choose a pattern, then PREDICT, before you run, for n = 100 (so the auto stride is l = ceil(√100) = 10):
  //   predicted_keys      K, the most keys a query reads (the table of Step 2 shows how K is made up);
  //   predicted_two_hops  whether each head alone reaches every earlier position j <= i in two hops.
  // The self-check counts both. Try: summary 1, 2, 4 (fewer summary cells: cheaper, but still two hops?);
  // stride 4 or 16 instead of 0 (auto); causal = false; heads = attention::SparseHeads::split (a head then
  // sees only A1 or only A2: does one head alone still reach everything in two hops?).
  MyPattern mine;
  mine.options = SparseOptions(SparseMode::fixed, /*stride=*/0, /*summary=*/2, /*causal=*/true);
  mine.options.heads = attention::SparseHeads::merged;
  mine.predicted_keys = 28;         // the 10 keys of its own block + 2 summary cells in each of 9 earlier blocks
  mine.predicted_two_hops = true;
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyPattern answer = L.exercise(mine, solution::pattern(), solution::wrong_pattern());
  const SparseOptions& mine_options = answer.options;
  {
    const int64_t en = 100, H = 2;
    core::Rng erng = L.rng(3);
    const Tensor q = core::randn({1, H, en, 16}, erng), k = core::randn({1, H, en, 16}, erng),
                 v = core::randn({1, H, en, 16}, erng);
    const IntTensor my_index = attention::sparse_index(mine_options, en, H);
    L.say("your pattern at n = ", en, ": stride l = ", attention::sparse_stride(mine_options, en), ", key lists ", my_index.shape,
          " -> at most ", my_index.shape[3], " keys per query (", lesson::fixed(100.0 * my_index.shape[3] / en, 1),
          " % of n)");
    L.check_close("your pattern: the sparse kernel equals the dense-mask version",
                  attention::sparse_attention(q, k, v, mine_options),
                  attention::sparse_dense_mask_attention(q, k, v, mine_options), 1e-4f);
    const Tensor P = attention::sparse_pattern(mine_options, en, H);  // (1, H, n, n)
    bool two_hops = true;
    for (int64_t h = 0; h < std::min<int64_t>(H, 2); ++h) {
      const int64_t missing = unreachable_in_two_hops(core::reshape(core::slice(P, 1, h, h + 1), {en, en}));
      L.say("head ", h, ": ", missing, " pairs j <= i are not reachable in two hops");
      two_hops = two_hops && missing == 0;
    }
    const int64_t K = my_index.shape[3];
    L.exercise_check("your prediction of K, the keys per query", answer.predicted_keys == K,
                     "predicted " + std::to_string(answer.predicted_keys) + ", counted " + std::to_string(K),
                     "K is the longest key list: count the keys of the last query (its own block or window, plus "
                     "what A2 adds from the others) — for strided, about l + n/l; for fixed, l + c·(blocks before)");
    L.exercise_check("your prediction of the two-hop reach", answer.predicted_two_hops == two_hops,
                     std::string("every head reaches every earlier position in two hops: ") + (two_hops ? "yes" : "no"),
                     two_hops ? "every head alone does reach everything: A1 and A2 together in one head make two hops enough"
                              : "some head misses earlier positions (see the counts above): a head with only A1 or "
                                "only A2 cannot reach every earlier position in two hops");
  }

  // %% [markdown]
  // ## Exercises
  // 1. In the table of Step 2, K / √n approaches 2. Which two terms make up K, and why is l = √n the stride
  //    that minimises l + n/l?
  // 2. With a fixed stride l = 16 (stride = 16 in the EXERCISE block), K grows like n/16. At which n does the
  //    sparse kernel stop being cheaper than full attention, and what exponent would the cost plot show?
  // 3. In probabilities.png (fixed), only the rows of tokens 6 and 7 reach their earlier copies. Why exactly
  //    those two? Predict the picture for c = 4, then set c = 4 in Step 1 and check.
  // 4. heads = split: even heads read A1, odd heads A2. Check in Step 8 that one head alone no longer reaches
  //    everything in two hops — the paper needs both sets, in one head or across heads and layers.
  // Next lesson: Reformer, where the keys a query reads are found by hashing instead of fixed in advance.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
