// %% [markdown]
// # 05 · Longformer: a sliding window, dilation and global tokens
//
// Beltagy, Peters and Cohan (2020), *Longformer: The Long-Document Transformer*, read documents of thousands of
// tokens with attention whose cost is linear in n. Three ingredients:
//
// 1. a **sliding window**: token i attends to the w tokens on each side, |i - j| <= w — a band around the
//    diagonal of the attention matrix, 2w + 1 keys per query whatever n is;
// 2. **dilation**: some heads look at j = i + δ·t (|t| <= w) with gaps of δ, so the same 2w + 1 keys cover a
//    window δ times wider; different heads use different δ;
// 3. **global tokens** chosen by the task (the [CLS] token for classification, the question for QA): every
//    token attends to them and they attend to every token — symmetric — with their own projections Q_g, K_g,
//    V_g. A global key that also lies in a token's window must count once, not twice.
//
// Stacking L layers widens the receptive field to L·w (L·w·δ with dilation), and global tokens connect any
// two tokens in two hops. We build the key lists, check the kernel against dense attention with the same mask,
// look at the storage (n, 2w+1+G) next to the n × n matrix it stands for, and measure the linear cost.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, w = window, δ = dilation, G = number of
// global tokens. q, k, v are (B, H, n, d).
// %%
#include <algorithm>
#include <cmath>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "attention/longformer.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
using attention::LongformerOptions;
using lesson::head;        // the (n, m) matrix of one head (lessons/lesson.h)
using lesson::list_str;    // {0, 16, 20} (lessons/lesson.h)
using lesson::matrix_map;  // a heatmap of an attention matrix (lessons/lesson.h)

// Row i of head h of a key index (1, Hi, n, K).
std::vector<int64_t> index_row(const IntTensor& index, int64_t h, int64_t i) {
  const int64_t n = index.shape[2], K = index.shape[3], hh = index.shape[1] == 1 ? 0 : h;
  return {index.data.begin() + (hh * n + i) * K, index.data.begin() + (hh * n + i + 1) * K};
}

// Cell kinds for one head: 0 = not attended, 1 = window (band), 2 = global column, 3 = global token's row.
IntTensor cell_kinds(const LongformerOptions& o, int64_t n, int64_t h) {
  const IntTensor index = attention::longformer_index(o, n, h + 1);
  const int64_t W = attention::longformer_band_width(attention::longformer_fit(o, n));  // a window wider than n is cut to n - 1
  IntTensor ids({n, n}, 0);
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t> row = index_row(index, h, i);
    for (int64_t s = 0; s < static_cast<int64_t>(row.size()); ++s)
      if (row[s] >= 0) ids.at({i, row[s]}) = s < W ? 1 : 2;
  }
  for (int64_t g : o.global)
    for (int64_t j = 0; j < n; ++j)
      if (!o.causal || j <= g) ids.at({g, j}) = 3;
  return ids;
}

img::Image kinds_panel(const LongformerOptions& o, int64_t n, int64_t h, const std::string& title) {
  img::HeatmapOptions p;
  p.title = title;
  p.subtitle = "n = " + std::to_string(n) + ", w = " + std::to_string(o.window) + ", dilation " +
               std::to_string(attention::longformer_dilation(o, h)) + (o.causal ? ", causal" : "");
  p.xlabel = "key position j";
  p.ylabel = "query position i";
  p.target_px = 320;
  p.colors = {img::Color{235, 235, 235}, img::categorical(0), img::categorical(1), img::categorical(3)};
  return img::categorical_heatmap(cell_kinds(o, n, h), {"not attended", "window", "global key", "global token's row"}, p);
}

// Layers needed before the output at `from` can depend on the input at `to`: the shortest path from `from` to
// `to` where query i reaches key j when some head of one layer lets i attend to j (breadth-first search).
int64_t layers_to_reach(const LongformerOptions& o, int64_t n, int64_t H, int64_t from, int64_t to) {
  const Tensor P = attention::longformer_pattern(o, 1, H, n);  // (1, H, n, n)
  std::vector<char> edge(static_cast<size_t>(n * n), 0);      // (n, n): some head lets i attend to j
  for (int64_t e = 0; e < H * n * n; ++e)
    if (P.data()[e] != 0.0f) edge[static_cast<size_t>(e % (n * n))] = 1;
  std::vector<int64_t> dist(static_cast<size_t>(n), -1);
  std::deque<int64_t> queue = {from};
  dist[static_cast<size_t>(from)] = 0;
  while (!queue.empty()) {
    const int64_t i = queue.front();
    queue.pop_front();
    for (int64_t j = 0; j < n; ++j) {
      if (edge[static_cast<size_t>(i * n + j)] && dist[static_cast<size_t>(j)] < 0) {
        dist[static_cast<size_t>(j)] = dist[static_cast<size_t>(i)] + 1;
        queue.push_back(j);
      }
    }
  }
  return dist[static_cast<size_t>(to)];
}

// %%
// Step 9's exercise: your configuration, and your prediction of how many distinct keys query 20 reads in head 0.
// Your version is the EXERCISE block in main; the reference solution and a known-wrong answer are in
// lessons/solutions/05_longformer.h.
struct MyConfiguration {
  LongformerOptions options;
  int64_t predicted_keys_of_20 = 0;  // distinct keys query 20 attends to in head 0, at n = 48
};
#include "lessons/solutions/05_longformer.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "05_longformer");

  // %% [markdown]
  // ## Step 1 · the band, per head
  // Query i of a head with dilation δ lists the keys i + δ·t for t = -w, ..., w: slot t + w of a row of
  // 2w + 1 slots. Keys outside [0, n) are -1 (masked) — that is all the edge handling there is.
  // `longformer_index` returns these lists as an int64 tensor (1, H, n, 2w + 1) (one per head when the heads'
  // dilations differ, one shared by all heads otherwise).
  // %%
  L.step("Step 1 · the band, per head");
  const int64_t n = 32, w = 3;
  const LongformerOptions bands(w, {1, 2}, {}, false);
  const IntTensor band_index = attention::longformer_index(bands, n, 2);  // (1, 2, 32, 7)
  L.say("longformer_index(w = 3, dilation = 1,2): ", band_index.shape, "   (1, H, n, 2w+1)");
  L.say("head 0 (δ = 1), query 10: ", list_str(index_row(band_index, 0, 10)));
  L.say("head 1 (δ = 2), query 10: ", list_str(index_row(band_index, 1, 10)), "  — the same 7 slots, twice as wide");
  L.say("head 1 (δ = 2), query 1:  ", list_str(index_row(band_index, 1, 1)), "  — -1 where i + δt falls outside [0, n)");
  L.show(img::hstack({kinds_panel(bands, n, 0, "head 0: window"), kinds_panel(bands, n, 1, "head 1: dilated window")}),
         "bands.png",
         "the band of each head, n = 32, w = 3 — left a solid diagonal band of 7 keys per row; right the same 7 "
         "keys spread over 13 positions: every other cell is a gap (dilation 2), so the head sees twice as far "
         "for the same cost");
  L.check("every row lists at most 2w + 1 keys, none outside [0, n)", [&] {
    for (int64_t e = 0; e < band_index.numel(); ++e)
      if (band_index.data[e] < -1 || band_index.data[e] >= n) return false;
    return band_index.shape[3] == 2 * w + 1;
  }());

  // %% [markdown]
  // ## Step 2 · global tokens: the cross
  // Now make tokens 0 and 16 global. Their rows attend to every key (a full row), and every other row gets two
  // extra slots for them (a full column each). Token 17's window contains token 16 — so 16 is removed from the
  // band (its slot becomes -1) and lives only in its global column: one key, one score, one share of the
  // softmax. Counting it twice would give it double weight (exp(s) twice in the numerator and the sum).
  // %%
  L.step("Step 2 · global tokens: the cross");
  const LongformerOptions with_global(w, {1, 2}, {0, 16}, false);
  const IntTensor gindex = attention::longformer_index(with_global, n, 2);  // (1, 2, 32, 2w+1+2)
  const std::vector<int64_t> row17 = index_row(gindex, 0, 17);
  L.say("key lists with global = 0,16: ", gindex.shape, "   (1, H, n, 2w+1+G)");
  L.say("head 0, query 17: ", list_str(row17), "  — band slots 14..20 with 16 taken out, then the global keys 0, 16");
  L.say("head 0, query 16 (global): ", list_str(index_row(gindex, 0, 16)),
        "  — empty: global rows are computed densely, over all n keys");
  const std::set<int64_t> listed(row17.begin(), row17.end());
  L.check("a global key inside the window is listed once, in its global column",
          std::count(row17.begin(), row17.end(), 16) == 1 && row17[static_cast<size_t>(w + (16 - 17))] == -1);
  L.show(img::hstack({kinds_panel(with_global, n, 0, "head 0 with global tokens 0, 16"),
                      kinds_panel(with_global, n, 1, "head 1 with global tokens 0, 16")}),
         "global.png",
         "the global 'cross': rows 0 and 16 are full (global tokens see everything), columns 0 and 16 are full "
         "(everything sees them), the window fills the rest; where the band crosses column 16 the cell is a "
         "global key, not a window key: counted once");

  // %% [markdown]
  // ## Step 3 · what is stored: the band, not the matrix
  // The kernel keeps the probabilities of the local rows in band form: (B, H, n, 2w + 1 + G) — row i, slot
  // t + w is the weight of key i + δt, the last G slots the global keys — plus a (B, H, G, n) block for the
  // global rows. For n = 32 that is 32 × 9 numbers per head instead of 32 × 32; for n = 4096 and w = 256 (the
  // paper's setting, 2w = 512) it is 8 times smaller, and the ratio keeps growing with n.
  // %%
  L.step("Step 3 · band storage vs the n x n matrix it stands for");
  core::Rng rng = L.rng(0);
  const Tensor q = core::randn({1, 2, n, 16}, rng), k = core::randn({1, 2, n, 16}, rng), v = core::randn({1, 2, n, 16}, rng);
  const auto probs = attention::longformer_probabilities(q, k, v, with_global);
  L.say("band form ", probs.band.shape(), " + global rows ", probs.global.shape(), " stand for the effective matrix ",
        probs.dense.shape());
  L.check_close("out == A @ v: the drawn matrix is the one the kernel applied",
                attention::longformer_attention(q, k, v, with_global), core::matmul(probs.dense, v), 1e-5f);
  const lesson::MapStyle style = lesson::MapStyle().px(384);
  L.show(img::hstack({matrix_map(head(probs.band, 1), "stored: band form (n, 2w+1+G)",
                                 "head 1, dilation 2, w = 3, global 0, 16",
                                 style.xlabel("slot (t + w, then global keys)")),
                      matrix_map(head(probs.dense, 1), "the same weights as an n x n matrix",
                                 "head 1, dilation 2, w = 3, global 0, 16", style)}),
         "storage.png",
         "left: what the kernel stores, one row of 9 slots per query (7 window slots, 2 global slots; rows 0 and "
         "16 are empty here because the global rows are kept separately, and dark slots are masked edges or a "
         "global key taken out of the band); right: the same numbers scattered into n x n — a dilated band plus "
         "the global cross; everything else is exactly 0 and never stored");

  // %% [markdown]
  // ## Step 4 · check it against dense attention with the same mask
  // `longformer_pattern` writes the mask as an n × n 0/1 matrix; dense softmax attention with -inf outside it
  // must give the same output and the same gradients for q, k and v — with dilation, global tokens, padding
  // keys, causal or not, and at n = 37 (the band simply stops at the edges; no padding to a multiple of w).
  // Causal: the band looks back only (j = i - δt, t = 0..w) and a global token only sees (and is only seen by)
  // positions after it.
  // %%
  L.step("Step 4 · the kernel equals masked dense attention");
  {
    core::Rng crng = L.rng(1);
    const int64_t cn = 37, cd = 16;
    const Tensor q0 = core::randn({2, 2, cn, cd}, crng), k0 = core::randn({2, 2, cn, cd}, crng),
                 v0 = core::randn({2, 2, cn, cd}, crng), g = core::randn({2, 2, cn, cd}, crng);
    Tensor pad = Tensor::ones({2, cn});
    pad.at({1, 35}) = pad.at({1, 36}) = 0.0f;  // batch 1 has two padding tokens at the end
    for (bool causal : {false, true}) {
      const LongformerOptions o(4, {1, 2}, {0, 20}, causal);
      const Tensor pattern = attention::longformer_pattern(o, 2, 2, cn, pad);  // (2, 2, 37, 37)
      const float worst = lesson::kernel_vs_reference(
          [&](const std::vector<Tensor>& x) { return attention::longformer_attention(x[0], x[1], x[2], o, pad); },
          [&](const std::vector<Tensor>& x) { return lesson::masked_dense_attention(x[0], x[1], x[2], pattern); },
          {q0, k0, v0}, g).max_abs_diff();
      L.check(std::string(causal ? "causal" : "non-causal") + ": output, dq, dk, dv equal masked dense attention",
              worst < 1e-4f, "max |diff| = " + lesson::sig(worst, 2));
    }
  }

  // %% [markdown]
  // ## Step 5 · global tokens have their own projections
  // In the layer, local attention uses Q, K, V and the global rows use separate Q_g, K_g, V_g (the paper
  // initialises them as copies of Q, K, V; here they are drawn like any other weight). Local rows still read
  // global keys through the local K, V — so changing Q_g must move the global tokens' outputs and nothing else.
  // %%
  L.step("Step 5 · the layer: separate projections for global attention");
  {
    core::Rng lrng = L.rng(2);
    attention::LayerConfig lc;
    lc.d_model = 16;
    lc.n_heads = 2;
    lc.set = {"window=3", "dilation=1,2", "global=0"};
    auto layer = attention::find_scheme("longformer").make_layer(lc, lrng);
    std::string names;
    for (const auto& [name, p] : layer->named_parameters()) names += (names.empty() ? "" : ", ") + name;
    L.say("parameters: ", names);
    const Tensor x = core::randn({1, 24, 16}, lrng);
    const Tensor before = layer->forward(x);  // (1, 24, 16)
    for (const auto& [name, p] : layer->named_parameters())
      if (name.rfind("w_q_global", 0) == 0)
        for (int64_t e = 0; e < p.numel(); ++e) p.data()[e] *= 1.5f;
    const Tensor after = layer->forward(x);
    std::vector<int64_t> changed;
    for (int64_t i = 0; i < 24; ++i)
      if (lesson::max_abs_diff(core::slice(before, 1, i, i + 1), core::slice(after, 1, i, i + 1)) > 0.0f) changed.push_back(i);
    L.say("scaling Q_g by 1.5 changed the outputs at positions ", list_str(changed));
    L.check("Q_g moves only the global token's output", changed == std::vector<int64_t>{0});
  }

  // %% [markdown]
  // ## Step 6 · how far information travels
  // One layer lets token i read tokens up to w away. After L layers the output at i can depend on inputs
  // L·w away — L·w·δ with dilation. Global tokens shortcut this: every token reads a global token, which read
  // every token one layer earlier. Below: how many layers until the output at the last position can depend on
  // the input at position 0, for n = 256, w = 4, two heads.
  // %%
  L.step("Step 6 · layers needed for the last token to see the first");
  {
    const int64_t rn = 256;
    lesson::Table t({"setting", "layers (n = 256, w = 4)"}, 10);
    const int64_t plain = layers_to_reach(LongformerOptions(4, {1}, {}, false), rn, 2, rn - 1, 0);
    const int64_t dilated = layers_to_reach(LongformerOptions(4, {1, 4}, {}, false), rn, 2, rn - 1, 0);
    const int64_t global = layers_to_reach(LongformerOptions(4, {1}, {128}, false), rn, 2, rn - 1, 0);
    t.add({"window only, dilation 1,1", std::to_string(plain)});
    t.add({"window, dilation 1,4 (one head dilated)", std::to_string(dilated)});
    t.add({"window + global token 128", std::to_string(global)});
    t.print();
    L.check("window only needs ceil((n-1)/w) layers", plain == (rn - 1 + 3) / 4, std::to_string(plain) + " layers");
    L.check("a dilated head shortens the path, a global token makes it 2 layers", dilated < plain && global == 2);
  }

  // %% [markdown]
  // ## Step 7 · the cost grows linearly
  // Forward time and peak memory of the Longformer kernel (w = 32, one global token) and of full attention, at
  // B = 1, H = 1, d = 64, and the Longformer forward+backward, at n = 1K ... 8K (with --quick: 512 ... 2K).
  // Memory is exact (the engine's counting allocator); times vary between runs. On log-log axes a slope of 1
  // is linear, 2 quadratic.
  // %%
  L.step("Step 7 · time and memory vs n");
  const lesson::CostResult cost = lesson::cost_step(
      L,
      {lesson::Curve("longformer", {"window=32", "global=0"}, "longformer fwd").forward_only().expect(1.0, 1.0),
       lesson::Curve("longformer", {"window=32", "global=0"}, "longformer fwd+bwd").expect(1.0, 1.0),
       lesson::Curve("full", {}, "full fwd").forward_only().expect(2.0, 2.0)},
      lesson::CostOptions()
          .sizes(L.quick() ? 512 : 1024, L.quick() ? 2048 : 8192)
          .reference("full fwd")
          .title("Longformer (w = 32, one global token) vs full attention")
          .figure("cost.png",
                  "time and peak memory on log-log axes (w = 32, one global token), fitted exponents in the legend "
                  "— the Longformer lines rise with slope about 1 (double n, double the cost), full attention with "
                  "slope 2; the gap widens with every doubling"));
  const attention::Scaling& lf_cost = cost.fit("longformer fwd");
  const attention::Scaling& full_cost = cost.fit("full fwd");

  // %% [markdown]
  // ## Step 8 · what the paper reported
  // Beltagy et al. (2020) report (the paper's numbers, not measured here):
  // - character-level language modelling with dilated sliding windows (causal, window sizes growing with
  //   depth, dilation on some heads of the upper layers): text8 1.10 and enwik8 1.00 bits per character with
  //   a 12-layer, 41M-parameter model (Table 2); enwik8 0.99 BPC with a 30-layer, 102M-parameter model (Table 3)
  //   — state of the art for their sizes at the time;
  // - pretraining from RoBERTa with window 512 and 4,096-token inputs, then fine-tuning: Longformer-large set new
  //   results on WikiHop (81.9 accuracy, test) and TriviaQA (77.3 F1, test) on the May 2020 leaderboards (Table 8),
  //   and Longformer-base beat RoBERTa-base on every long-document task they tried (QA, coreference,
  //   classification; Table 7).
  // What this lesson measured: exact equality with masked dense attention, and a memory exponent of about 1
  // against 2 for full attention on this machine.
  // %%
  L.step("Step 8 · what the paper reported (Beltagy et al. 2020)");
  L.say("paper: text8 1.10 BPC, enwik8 1.00 BPC (small, 12 layers, 41M params; Table 2); enwik8 0.99 BPC (large, 30 layers,");
  L.say("       102M; Table 3)");
  L.say("paper: pretrained from RoBERTa (window 512, 4096 tokens): WikiHop 81.9 accuracy, TriviaQA 77.3 F1 (large, test;");
  L.say("       Table 8)");
  L.say("this lesson: memory exponent ", lesson::fixed(lf_cost.memory_exponent, 2), " vs full ",
        lesson::fixed(full_cost.memory_exponent, 2), "; at n = ", full_cost.n.back(), " Longformer (w = 32) needs ",
        lesson::fixed(lf_cost.mib.back(), 2), " MiB, full attention ", lesson::fixed(full_cost.mib.back(), 1), " MiB");

  // %% [markdown]
  // ## Step 9 · your own configuration
  // Change the settings below, rebuild, rerun. The self-check verifies that the kernel still equals dense
  // attention with the same mask (outputs and gradients), and prints the storage per query.
  // %%
  L.step("Step 9 · your own configuration");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // n = 48 tokens, 4 heads. window w: keys i-w..i+w (times the head's dilation); dilation: one entry per head
  // (at most 4; a shorter list repeats its last entry); global: positions that attend to and are attended by
  // everyone. First PREDICT how many distinct keys query 20 reads in head 0 (predicted_keys_of_20); the
  // self-check counts them and draws your pattern (yours.png). Try: a window of 1 (only the neighbours),
  // dilation {1, 2, 4, 8} (four heads, four reaches), global tokens at the ends {0, 47}, causal = true. What
  // happens to K when a global token sits inside every window?
  MyConfiguration my_config;
  my_config.options.window = 5;
  my_config.options.dilation = {1, 3};
  my_config.options.global = {0, 24};
  my_config.options.causal = false;
  my_config.predicted_keys_of_20 = 12;  // the band 15..25 (11 keys, 24 among them) and the global token 0
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyConfiguration answer = L.exercise(my_config, solution::configuration(), solution::wrong_configuration());
  LongformerOptions mine = answer.options;
  const int64_t en = 48, H = 4;
  std::string problem;  // what is wrong with the configuration, in the exercise's terms
  for (int64_t r : mine.dilation)
    if (r < 1) problem = "dilation " + std::to_string(r) + " would read the same key 2w+1 times: every dilation is >= 1";
  if (mine.dilation.empty() || static_cast<int64_t>(mine.dilation.size()) > H)
    problem = "dilation lists one reach per head: 1 to " + std::to_string(H) + " entries, got " +
              std::to_string(mine.dilation.size());
  if (mine.window < 0) problem = "the window w counts keys on each side: w >= 0, got " + std::to_string(mine.window);
  for (size_t t = 0; t < mine.global.size(); ++t) {
    if (mine.global[t] < 0 || mine.global[t] >= en)
      problem = "global token " + std::to_string(mine.global[t]) + " is not a position of the 48 tokens (0..47)";
    for (size_t u = 0; u < t; ++u)
      if (mine.global[u] == mine.global[t]) problem = "global token " + std::to_string(mine.global[t]) + " is listed twice";
  }
  const bool usable = L.exercise_check("your configuration is one Longformer can use", problem.empty(), "", problem);

  // %% [markdown]
  // **Checking your configuration.** If Longformer can use it, the kernel runs on random q, k, v (4 heads, 48
  // tokens, d = 8) and must equal dense attention masked with the same pattern, in outputs and in gradients.
  // Then query 20's distinct keys in head 0 are counted from that pattern and set beside your prediction, and
  // yours.png draws heads 0 and 1 of the pattern.
  // %%
  if (usable) {
    std::sort(mine.global.begin(), mine.global.end());
    core::Rng erng = L.rng(4);
    const Tensor q0 = core::randn({1, H, en, 8}, erng), k0 = core::randn({1, H, en, 8}, erng),
                 v0 = core::randn({1, H, en, 8}, erng), g = core::randn({1, H, en, 8}, erng);
    const IntTensor index = attention::longformer_index(mine, en, H);
    L.say("your configuration at n = ", en, ": key lists ", index.shape, " -> ", index.shape[3],
          " slots per query (band ", attention::longformer_band_width(mine), " + global ", mine.global.size(), ")");
    const Tensor pattern = attention::longformer_pattern(mine, 1, H, en);
    const float worst = lesson::kernel_vs_reference(
        [&](const std::vector<Tensor>& x) { return attention::longformer_attention(x[0], x[1], x[2], mine); },
        [&](const std::vector<Tensor>& x) { return lesson::masked_dense_attention(x[0], x[1], x[2], pattern); },
        {q0, k0, v0}, g).max_abs_diff();
    L.check("your configuration: output and gradients equal masked dense attention", worst < 1e-4f,
            "max |diff| = " + lesson::sig(worst, 2));
    double density = 0;
    for (int64_t e = 0; e < pattern.numel(); ++e) density += pattern.data()[e];
    L.say("share of the n x n matrix your heads attend to: ", lesson::fixed(100.0 * density / pattern.numel(), 1), " %");
    // Query 20's distinct keys in head 0, from the pattern the kernel was checked against.
    int64_t keys_of_20 = 0;
    for (int64_t j = 0; j < en; ++j) keys_of_20 += pattern.at({0, 0, 20, j}) != 0.0f;
    L.exercise_check("your prediction of query 20's keys in head 0", answer.predicted_keys_of_20 == keys_of_20,
                     "predicted " + std::to_string(answer.predicted_keys_of_20) + ", counted " +
                         std::to_string(keys_of_20),
                     "count the band 20-w·r .. 20+w·r in steps of head 0's dilation r (only up to 20 when causal), "
                     "then add the global tokens outside it — a global token inside the band is not a new key");
    L.show(img::hstack({matrix_map(head(pattern, 0), "your pattern, head 0",
                                   "dilation " + std::to_string(mine.dilation[0]) + ", w = " + std::to_string(mine.window)),
                        matrix_map(head(pattern, std::min<int64_t>(1, H - 1)), "your pattern, head 1",
                                   "dilation " + std::to_string(mine.dilation[std::min<size_t>(1, mine.dilation.size() - 1)]))}),
           "yours.png",
           "your EXERCISE configuration at n = 48, heads 0 and 1 (1 = attended, 0 = not): the band of the window, "
           "the rows and columns of the global tokens; row 20 holds the keys you predicted");
  }

  // %% [markdown]
  // ## Exercises
  // 1. Step 3: at n = 4096 with the paper's window (w = 256), how many times smaller is the band storage than
  //    the n × n matrix? And at n = 16384?
  // 2. Put a global token inside every window (EXERCISE block: global = {0, 6, 12, ..., 42}, window 5). K grows
  //    by G, but the band slots of those keys are all -1. What is the effective number of keys per query?
  // 3. Step 6: with dilation {1, 4}, why does one dilated head shorten the path even though the other head is
  //    not dilated? Try {2, 2} and {1, 8}.
  // 4. Make Step 5 change K_g instead of Q_g: which positions move now, and why?
  // Next lesson: Linformer, which projects the keys instead of choosing them.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
