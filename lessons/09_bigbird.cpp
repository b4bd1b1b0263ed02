// %% [markdown]
// # 09 · BigBird: window, global and random blocks
//
// Zaheer et al. (2020), *Big Bird: Transformers for Longer Sequences* (NeurIPS), make attention linear in n by
// letting every query look at three kinds of keys, all under one softmax:
//
// 1. a **window**: its neighbours (locality: most of what a token needs is near it);
// 2. a few **global** tokens that see everything and are seen by everything (the paper's ITC variant makes
//    existing tokens global — here the first and the last block);
// 3. a few **random** keys, different for every head (the paper's graph argument: a random graph has short paths
//    between any two nodes — logarithmic in the number of nodes — so information mixes in few layers).
//
// To run fast on accelerators everything is done in **blocks** of b tokens: query block i attends to key blocks
// {i-1, i, i+1}, the global blocks, and r random blocks. The paper proves that this sparse attention keeps the
// theoretical power of full attention (a universal approximator of sequence functions, Turing complete) thanks
// to the global tokens — at O(n) cost. We build the block graph, turn it into key lists for the shared
// index_attention kernel, check it against dense attention with the same mask, see why the random blocks must
// stay fixed, measure the graph's shortest paths, and the linear cost.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, b = block size, nb = number of blocks,
// w = window blocks, g = global blocks at each end, r = random blocks. q, k, v are (B, H, n, d).
// %%
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "attention/bigbird.h"
#include "attention/dense.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"
#include "lessons/reference.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
using attention::BigBirdOptions;
using lesson::head;        // the (n, m) matrix of one head (lessons/lesson.h)
using lesson::list_str;    // {0, 16, 20} (lessons/lesson.h)
using lesson::matrix_map;  // a heatmap of an attention matrix (lessons/lesson.h)

// The key blocks of query block i in head h, with their kinds spelled out.
std::string row_str(const attention::BigBirdBlocks& bb, int64_t h, int64_t i) {
  static const char* names[] = {"-", "window", "global", "random"};
  std::string s;
  for (const auto& key : bb.row(h, i)) s += (s.empty() ? "" : ", ") + std::to_string(key.block) + " " + names[key.kind];
  return s;
}

// One head of the (H, nb, nb) block layout as a categorical picture.
img::Image layout_panel(const IntTensor& layout, int64_t h, const std::string& title, const std::string& subtitle) {
  const int64_t nb = layout.shape[1];
  IntTensor one({nb, nb});
  std::copy(layout.data.begin() + h * nb * nb, layout.data.begin() + (h + 1) * nb * nb, one.data.begin());
  img::HeatmapOptions p;
  p.title = title;
  p.subtitle = subtitle;
  p.xlabel = "key block";
  p.ylabel = "query block";
  p.target_px = 320;
  p.colors = {img::Color{235, 235, 235}, img::categorical(0), img::categorical(1), img::categorical(2)};
  return img::categorical_heatmap(one, {"not attended", "window", "global", "random"}, p);
}


// Masked dense attention with the pattern, the O(n²) way: outputs and the gradients of q, k, v for upstream g,
// against the kernel's. Returns the largest difference.
float kernel_vs_dense(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g, const BigBirdOptions& o,
                      const Tensor& pad) {
  const Tensor pattern = attention::bigbird_pattern(o, q.size(0), q.size(1), q.size(2), pad);  // (B, H, n, n)
  return lesson::kernel_vs_reference(
      [&](const std::vector<Tensor>& x) { return attention::bigbird_attention(x[0], x[1], x[2], o, pad); },
      [&](const std::vector<Tensor>& x) { return lesson::masked_dense_attention(x[0], x[1], x[2], pattern); },
      {q, k, v}, g).max_abs_diff();
}

// The graph view. Query block A reads key block B in one layer when B is in A's list: an edge A -> B. The
// shortest path from A to B is the number of layers before the output at A can depend on the input at B. Two
// tokens of one block are 1 apart (every block reads itself); tokens of blocks A != B are dist(A, B) apart. The
// average over all ordered pairs of distinct tokens (one head, n = nb·b) — infinite if some pair is unreachable.
double average_token_path(const BigBirdOptions& o, int64_t nb) {
  const int64_t b = o.block, n = nb * b;
  const attention::BigBirdBlocks bb = attention::bigbird_blocks(o, n, 1);
  double total = static_cast<double>(nb) * b * (b - 1);  // pairs inside one block: distance 1
  std::vector<int64_t> dist(static_cast<size_t>(nb));
  for (int64_t from = 0; from < nb; ++from) {
    std::fill(dist.begin(), dist.end(), -1);
    std::deque<int64_t> queue = {from};
    dist[static_cast<size_t>(from)] = 0;
    while (!queue.empty()) {
      const int64_t a = queue.front();
      queue.pop_front();
      for (const auto& key : bb.row(0, a))
        if (dist[static_cast<size_t>(key.block)] < 0) {
          dist[static_cast<size_t>(key.block)] = dist[static_cast<size_t>(a)] + 1;
          queue.push_back(key.block);
        }
    }
    for (int64_t to = 0; to < nb; ++to) {
      if (to == from) continue;
      if (dist[static_cast<size_t>(to)] < 0) return std::numeric_limits<double>::infinity();
      total += static_cast<double>(dist[static_cast<size_t>(to)]) * b * b;
    }
  }
  return total / (static_cast<double>(n) * (n - 1));
}

// %%
// Step 10's exercise: your configuration, and your prediction of whether every token can reach every other.
// Your version is the EXERCISE block in main; the reference solution and a known-wrong answer are in
// lessons/solutions/09_bigbird.h.
struct MyConfiguration {
  BigBirdOptions options;
  bool predicted_all_reachable = false;  // in your (non-causal) graph at nb = 64 blocks, can every token's output
                                         // come to depend on every other token's input, given enough layers?
};
#include "lessons/solutions/09_bigbird.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "09_bigbird");

  // %% [markdown]
  // ## Step 1 · the block graph, per head
  // Cut n = 128 tokens into nb = 16 blocks of b = 8. For every query block, `bigbird_blocks` lists its key
  // blocks: the window (i-1, i, i+1), the global blocks (0 and 15), and r = 2 random blocks drawn from the
  // blocks that are neither — a different draw in every head. The two global blocks are also global *queries*:
  // their rows attend to every block. As an (nb, nb) picture: a band of width 3, a full first/last row and
  // column, and two random cells per row.
  // %%
  L.step("Step 1 · the block graph, per head");
  const int64_t n = 128, b = 8, H = 2;
  const BigBirdOptions o(b, 3, 1, 2, false, L.seed() + 1);
  const attention::BigBirdBlocks bb = attention::bigbird_blocks(o, n, H);
  const IntTensor layout = attention::bigbird_block_layout(o, n, H);  // (H, nb, nb)
  L.say("n = ", n, ", b = ", b, ": nb = ", bb.nb, " blocks; block layout ", layout.shape, "   (H, nb, nb)");
  L.say("head 0, query block 5 reads: ", row_str(bb, 0, 5));
  L.say("head 1, query block 5 reads: ", row_str(bb, 1, 5), "   — same window and globals, other random blocks");
  L.say("query block 0 (global) reads all ", bb.row(0, 0).size(), " blocks");
  L.say("query block 1 reads ", row_str(bb, 0, 1), "   — block 0 is in its window: listed once, as a window block");
  L.check("query blocks 2..13 read w + 2g + r = 7 distinct blocks, their own among them", [&] {
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 2; i + 2 < bb.nb; ++i) {  // blocks 1 and 14 have a global block inside their window
        const auto& row = bb.row(h, i);
        if (row.size() != 7 || std::none_of(row.begin(), row.end(), [&](const auto& key) { return key.block == i; }))
          return false;
      }
    return true;
  }());
  const std::string sub = "n = 128, b = 8, w = 3, g = 1, r = 2";
  L.show(img::hstack({layout_panel(layout, 0, "head 0: block layout", sub),
                      layout_panel(layout, 1, "head 1: block layout", sub)}),
         "layout.png",
         "the (nb, nb) block layout of two heads, coloured by kind — blue the window band around the diagonal, "
         "orange the global first/last blocks (a full row: they see everything; a full column: everyone sees "
         "them), green the random blocks: two per row, at different places in the two heads");

  // %% [markdown]
  // ## Step 2 · from blocks to key lists
  // The kernel needs, for every query token i, the token positions it may see: all tokens of i's key blocks.
  // `bigbird_index` writes them block by block — slot t·b + u holds token u of the row's t-th key block — into
  // (1, H, n, K) with K = b · 7 = 56. The rows of the global blocks are left empty (-1): they see all n keys, so
  // the kernel computes them as a small dense block (2 blocks × b rows × n keys). When n is not a multiple of b
  // the last block is simply shorter: its missing tokens are -1 in every list — nothing is padded.
  // %%
  L.step("Step 2 · from blocks to key lists");
  const IntTensor index = attention::bigbird_index(o, n, H);  // (1, H, n, K)
  const int64_t K = index.shape[3];
  L.say("bigbird_index: ", index.shape, "   (1, H, n, K = b·(w + 2g + r))");
  std::vector<int64_t> row42(index.data.begin() + 42 * K, index.data.begin() + 42 * K + 24);
  L.say("head 0, query 42 (block 5), first 3 key blocks: ", list_str(row42));
  {
    const BigBirdOptions odd(16, 3, 1, 2, false, 1);
    const IntTensor odd_index = attention::bigbird_index(odd, 37, 1);  // blocks of 16, 16 and 5
    const int64_t most = *std::max_element(odd_index.data.begin(), odd_index.data.end());
    L.say("n = 37, b = 16: blocks of 16, 16 and 5 tokens; index ", odd_index.shape, ", largest key listed ", most);
    L.check("n = 37: no key outside the sequence is listed (the short last block is not padded)", most <= 36);
  }

  // %% [markdown]
  // ## Step 3 · check it against dense attention with the same mask
  // `bigbird_pattern` writes the mask as an n × n 0/1 matrix (the block layout expanded to tokens); dense softmax
  // attention with -inf outside it must give the same output and the same gradients for q, k and v — at n = 37
  // and n = 100 (not multiples of b), with two padding keys, causal or not.
  // %%
  L.step("Step 3 · the kernel equals masked dense attention");
  {
    core::Rng crng = L.rng(1);
    for (int64_t cn : {37, 100})
      for (bool causal : {false, true}) {
        const Tensor q0 = core::randn({2, 2, cn, 16}, crng), k0 = core::randn({2, 2, cn, 16}, crng),
                     v0 = core::randn({2, 2, cn, 16}, crng), g = core::randn({2, 2, cn, 16}, crng);
        Tensor pad = Tensor::ones({2, cn});
        pad.at({1, cn - 1}) = pad.at({1, 3}) = 0.0f;
        const float worst = kernel_vs_dense(q0, k0, v0, g, BigBirdOptions(8, 3, 1, 2, causal, 3), pad);
        L.check("n = " + std::to_string(cn) + (causal ? ", causal" : "") + ": output, dq, dk, dv equal masked dense attention",
                worst < 1e-4f, "max |diff| = " + lesson::sig(worst, 2));
      }
  }

  // %% [markdown]
  // ## Step 4 · what the kernel applied: the expanded probabilities
  // `bigbird_probabilities` returns the weights in slot form (B, H, n, K) — what the kernel stores — and scattered
  // into the n × n matrix they stand for, so that out == A @ v. Blocks show up as squares: the block grid is
  // drawn every b = 8 tokens.
  // %%
  L.step("Step 4 · the expanded probabilities");
  core::Rng rng = L.rng(0);
  // q is scaled down so that the weights spread over the attended blocks (sharp random scores would light up
  // a few cells only, and the block structure would be hard to see).
  const Tensor q = core::randn({1, H, n, 16}, rng) * 0.3f, k = core::randn({1, H, n, 16}, rng),
               v = core::randn({1, H, n, 16}, rng);
  const auto probs = attention::bigbird_probabilities(q, k, v, o);
  L.say("slot form ", probs.slots.shape(), " stands for the effective matrix ", probs.dense.shape());
  L.check_close("out == A @ v: the drawn matrix is the one the kernel applied", attention::bigbird_attention(q, k, v, o),
                core::matmul(probs.dense, v), 1e-5f);
  const lesson::MapStyle blocks = lesson::MapStyle().px(384).grid(static_cast<int>(b));
  L.show(img::hstack({matrix_map(head(probs.dense, 0), "head 0: A (n x n)", sub, blocks),
                      matrix_map(head(probs.dense, 1), "head 1: A (n x n)", sub, blocks),
                      matrix_map(head(probs.slots, 0), "head 0: stored slots (n, K)", sub,
                                 blocks.xlabel("slot (7 blocks of b)"))}),
         "probabilities.png",
         "the effective attention of two heads for random q, k, v, with the block grid every b = 8 tokens — the "
         "blocks of the layout (Step 1) filled with weights, exactly zero everywhere else; rows 0-7 and 120-127 "
         "are full (global queries), columns 0-7 and 120-127 too (global keys). Right: what the kernel actually "
         "stores, 56 slots per query (the global rows are kept separately, so they are empty here)");

  // %% [markdown]
  // ## Step 5 · the random blocks are fixed
  // The random blocks are part of the model, not noise: they are drawn once from a seed and stay the same in every
  // call, in training and in evaluation. A layer draws its own seed when it is built, so the layers of a model
  // have different random graphs (more paths overall). A public implementation draws all-zero "random" blocks
  // in evaluation mode — the evaluated model is then not the trained one. Here: the pattern and the output of a
  // layer are bit-identical in train and eval mode.
  // %%
  L.step("Step 5 · fixed random blocks: same in training and evaluation");
  {
    core::Rng lrng = L.rng(2);
    attention::LayerConfig lc;
    lc.d_model = 16;
    lc.n_heads = 2;
    lc.set = {"block=8"};
    auto layer1 = attention::find_scheme("bigbird").make_layer(lc, lrng);
    auto layer2 = attention::find_scheme("bigbird").make_layer(lc, lrng);
    auto* l1 = dynamic_cast<attention::BigBirdLayer*>(layer1.get());
    auto* l2 = dynamic_cast<attention::BigBirdLayer*>(layer2.get());
    const Tensor x = core::randn({1, 96, 16}, lrng);
    const Tensor pattern_train = l1->pattern(96), y_train = l1->forward(x);
    l1->eval();
    const Tensor pattern_eval = l1->pattern(96), y_eval = l1->forward(x);
    L.say("layer 1 random-block seed ", l1->random_seed(), ", layer 2 seed ", l2->random_seed());
    L.check("train and eval use the same random blocks and give bit-identical outputs",
            lesson::max_abs_diff(pattern_train, pattern_eval) == 0.0f && lesson::max_abs_diff(y_train, y_eval) == 0.0f);
    L.check("two layers of one model have different random graphs", lesson::max_abs_diff(l1->pattern(96), l2->pattern(96)) > 0.0f);
  }

  // %% [markdown]
  // ## Step 6 · the causal variant
  // For a decoder, query block i may only use blocks <= i: the window is {i-1, i}, the global blocks are the
  // first g only (the last block would be the future), the random blocks are drawn from blocks before the window,
  // and inside the diagonal block the usual triangle masks j > i. Changing tokens after t must leave every
  // output up to t bit-identical.
  // %%
  L.step("Step 6 · the causal variant");
  {
    const BigBirdOptions co(b, 3, 1, 2, true, L.seed() + 1);
    const IntTensor clayout = attention::bigbird_block_layout(co, n, 1);
    core::Rng crng = L.rng(3);
    const Tensor cq = core::randn({1, 1, n, 16}, crng) * 0.3f, ck = core::randn({1, 1, n, 16}, crng),
                 cv = core::randn({1, 1, n, 16}, crng);
    Tensor cq2 = cq.clone(), ck2 = ck.clone(), cv2 = cv.clone();
    const int64_t t = 70;
    for (Tensor* m : {&cq2, &ck2, &cv2})
      for (int64_t i = t + 1; i < n; ++i)
        for (int64_t c = 0; c < 16; ++c) m->at({0, 0, i, c}) += 1.0f;
    const Tensor a = attention::bigbird_attention(cq, ck, cv, co), a2 = attention::bigbird_attention(cq2, ck2, cv2, co);
    L.check("causal: outputs up to t = 70 are bit-identical when every token after t changes",
            lesson::max_abs_diff(core::slice(a, 2, 0, t + 1), core::slice(a2, 2, 0, t + 1)) == 0.0f);
    const auto cp = attention::bigbird_probabilities(cq, ck, cv, co);
    // The first causal rows put weight 1/1, 1/2, ... on few keys: colours capped at 0.1 keep them from washing
    // out the rest.
    const lesson::MapStyle capped = lesson::MapStyle().px(384).grid(static_cast<int>(b)).range(0.0f, 0.1f);
    L.show(img::hstack({layout_panel(clayout, 0, "causal: block layout", "n = 128, b = 8, w = 3 (i-1, i), g = 1, r = 2"),
                        matrix_map(head(cp.dense, 0), "causal: A (n x n)", "head 0, colours capped at 0.1", capped)}),
           "causal.png",
           "the causal block graph: everything above the diagonal is empty; each row keeps its block and the one "
           "before (blue), the first block (orange) and up to two random earlier blocks (green); right, the "
           "probabilities (colours capped at 0.1: the first rows spread weight 1 over very few keys) with the "
           "triangle inside each diagonal block");
  }

  // %% [markdown]
  // ## Step 7 · the graph view: how many layers between two tokens?
  // Think of the attention pattern as a graph: query block A has an edge to every block it reads. After L layers
  // the output at A can depend on every block within L hops. The paper's argument in numbers — the average
  // shortest path between two tokens (breadth-first search, one head, b = 16):
  // - window only: about nb/3 hops — it grows linearly with n;
  // - window + random: a random graph has short paths, about logarithmic in nb;
  // - window + global: at most 2 hops (through a global block), but every long-range path squeezes through the
  //   same 2g blocks; random blocks add many short paths that avoid that bottleneck.
  // %%
  L.step("Step 7 · average shortest path between tokens");
  std::vector<int64_t> graph_blocks = L.quick() ? std::vector<int64_t>{16, 64, 256} : std::vector<int64_t>{16, 64, 256, 1024};
  struct Variant {
    std::string name;
    int64_t g, r;
  };
  const std::vector<Variant> variants = {
      {"window", 0, 0}, {"window+random", 0, 2}, {"window+global", 1, 0}, {"window+global+random", 1, 2}};
  std::vector<std::vector<double>> paths(variants.size());
  std::vector<double> graph_n;
  {
    std::vector<std::string> headers = {"n"};
    for (const auto& var : variants) headers.push_back(var.name + " (hops)");
    lesson::Table t(headers, 8);
    for (int64_t nb : graph_blocks) {
      graph_n.push_back(static_cast<double>(nb * 16));
      std::vector<std::string> cells = {std::to_string(nb * 16)};
      for (size_t vi = 0; vi < variants.size(); ++vi) {
        paths[vi].push_back(average_token_path(BigBirdOptions(16, 3, variants[vi].g, variants[vi].r, false, L.seed() + 7), nb));
        cells.push_back(lesson::fixed(paths[vi].back(), 2));
      }
      t.row(cells);
    }
  }
  const double window_growth = paths[0].back() / paths[0].front(), random_growth = paths[1].back() / paths[1].front();
  const double nb_growth = static_cast<double>(graph_blocks.back()) / graph_blocks.front();
  L.check("window only: the average path grows about linearly with n",
          window_growth > 0.5 * nb_growth, "x" + lesson::fixed(window_growth, 1) + " for x" + lesson::fixed(nb_growth, 0) + " more tokens");
  L.check("window + random: the average path grows far slower (random graphs have short paths)",
          random_growth < 0.25 * window_growth && paths[1].back() < 2.0 * std::log2(static_cast<double>(graph_blocks.back())),
          "x" + lesson::fixed(random_growth, 2) + ", " + lesson::fixed(paths[1].back(), 2) + " hops at n = " +
              std::to_string(graph_blocks.back() * 16));
  L.check("with global blocks every pair is at most 2 hops apart", paths[2].back() <= 2.0 && paths[3].back() <= 2.0);
  {
    img::PlotOptions p;
    p.title = "average shortest path between tokens";
    p.xlabel = "sequence length n (b = 16)";
    p.ylabel = "layers (hops)";
    p.log_x = p.log_y = true;
    std::vector<img::Series> series;
    for (size_t vi = 0; vi < variants.size(); ++vi) series.push_back({variants[vi].name, graph_n, paths[vi]});
    L.show(img::line_plot(series, p), "graph.png",
           "average number of layers between two tokens vs n on log-log axes — window only climbs with slope ~1 "
           "(linear), window + random stays low and nearly flat (logarithmic), anything with global blocks stays "
           "below 2");
  }

  // %% [markdown]
  // ## Step 8 · the cost grows linearly
  // Forward + backward time and peak memory of the BigBird kernel at its defaults (b = 16, w = 3, g = 1, r = 2:
  // K = 112 keys per query) and of full attention, B = 1, H = 1, d = 64, at n = 1K, 2K, 4K (with --quick:
  // 512 ... 2K). Memory is exact (the engine's counting allocator); times vary between runs.
  // %%
  L.step("Step 8 · time and memory vs n");
  const lesson::CostResult cost = lesson::cost_step(
      L, {lesson::Curve("bigbird").expect(1.0, 1.0), lesson::Curve("full").expect(2.0, 2.0)},
      lesson::CostOptions()
          .sizes(L.quick() ? 512 : 1024, L.quick() ? 2048 : 4096)
          .title("BigBird (b = 16, w = 3, g = 1, r = 2) vs full attention")
          .figure("cost.png", "time and peak memory of forward + backward on log-log axes, fitted exponents in the "
                              "legend — BigBird rises with slope about 1, full attention with slope about 2"));
  const attention::Scaling& bb_cost = cost.fit("bigbird");
  const attention::Scaling& full_cost = cost.fit("full");

  // %% [markdown]
  // ## Step 9 · what the paper reported
  // Zaheer et al. (2020) report (the paper's results, not measured here):
  // - with the same hardware, BigBird handles sequences up to 8 times longer than a full-attention BERT (4,096
  //   instead of 512 tokens), using blocks of 64 tokens;
  // - theory: with global tokens, this sparse attention is a universal approximator of sequence-to-sequence
  //   functions and Turing complete, like full attention — but some tasks need many more layers with sparse
  //   attention than with full attention (there is no free lunch);
  // - pretrained with masked language modelling from a RoBERTa checkpoint, BigBird improved on long-document
  //   question answering (HotpotQA, Natural Questions, TriviaQA, WikiHop), with state-of-the-art results on
  //   several of them at the time, and on long-document summarisation (arXiv, PubMed, BigPatent) as the encoder
  //   of an encoder-decoder model;
  // - genomics (§5): pretrained on DNA, it reached an F1 of 99.9 on promoter-region prediction (Tab. 6, against
  //   95.6 for the previous best) and improved chromatin-profile prediction (Tab. 7).
  // %%
  L.step("Step 9 · what the paper reported (Zaheer et al. 2020)");
  L.say("paper: sequences 8x longer than BERT's on the same hardware (4096 vs 512 tokens), blocks of 64 tokens");
  L.say("paper: with global tokens, sparse attention is a universal approximator and Turing complete");
  L.say("paper: better long-document QA (HotpotQA, Natural Questions, TriviaQA, WikiHop) and summarisation; "
        "genomics: promoter-region prediction F1 99.9 (Tab. 6)");
  L.say("this lesson: exact equality with masked dense attention; memory exponent ",
        lesson::fixed(bb_cost.memory_exponent, 2), " vs full ", lesson::fixed(full_cost.memory_exponent, 2), "; at n = ",
        full_cost.n.back(), " BigBird (K = 112) needs ", lesson::fixed(bb_cost.mib.back(), 2),
        " MiB for forward + backward, full attention ", lesson::fixed(full_cost.mib.back(), 1), " MiB; average path ",
        lesson::fixed(paths[0].back(), 1), " hops (window only) vs ", lesson::fixed(paths[1].back(), 2),
        " (window + random) at n = ", graph_blocks.back() * 16);

  // %% [markdown]
  // ## Step 10 · your own configuration
  // Change the settings below, rebuild, rerun. First predict whether every token of your graph can reach every
  // other one (a finite average path); the self-check measures it on the non-causal graph at nb = 64 blocks,
  // verifies that the kernel still equals dense attention with the same mask (outputs and gradients) at a
  // length that is not a multiple of your block, and prints how many hops your graph needs on average.
  // %%
  L.step("Step 10 · your own configuration");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // Try: random_blocks = 0 (no random graph), window_blocks = 1 (only the own block), global_blocks = 0, a block
  // of 4, causal = true. Which settings make some tokens unreachable (an infinite average path)? First PREDICT
  // predicted_all_reachable for your settings.
  MyConfiguration my_config;
  my_config.options.block = 6;
  my_config.options.window_blocks = 3;
  my_config.options.global_blocks = 1;
  my_config.options.random_blocks = 3;
  my_config.options.causal = false;
  my_config.options.seed = 42;
  my_config.predicted_all_reachable = true;  // the window alone chains every block to its neighbours
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyConfiguration answer = L.exercise(my_config, solution::configuration(), solution::wrong_configuration());
  const BigBirdOptions mine = answer.options;
  std::string problem;  // the library's own rules for BigBird settings, in its words
  try {
    attention::find_scheme("bigbird").configure({"block=" + std::to_string(mine.block),
                                                 "window_blocks=" + std::to_string(mine.window_blocks),
                                                 "global_blocks=" + std::to_string(mine.global_blocks),
                                                 "random_blocks=" + std::to_string(mine.random_blocks)},
                                                mine.causal);
  } catch (const core::Error& e) {
    problem = std::string(e.what()) + " — block counts tokens (>= 1), the others count blocks (>= 0; the window "
              "is the own block and as many on each side, so it is odd)";
  }
  // %% [markdown]
  // **Checking your configuration.** Only if BigBird accepts it: the kernel against masked dense attention at
  // n = 77, then the graph of your blocks at nb = 64 without the causal mask — its average path between tokens,
  // and where information cannot flow: the blocks no other block reads and the blocks that read no other block.
  // %%
  if (L.exercise_check("your configuration is one BigBird can use", problem.empty(),
                       "b = " + std::to_string(mine.block) + ", w = " + std::to_string(mine.window_blocks) +
                           ", g = " + std::to_string(mine.global_blocks) + ", r = " + std::to_string(mine.random_blocks),
                       problem)) {
    const int64_t en = 77, eH = 3;
    core::Rng erng = L.rng(5);
    const Tensor q0 = core::randn({1, eH, en, 8}, erng), k0 = core::randn({1, eH, en, 8}, erng),
                 v0 = core::randn({1, eH, en, 8}, erng), g = core::randn({1, eH, en, 8}, erng);
    const IntTensor eindex = attention::bigbird_index(mine, en, eH);
    L.say("your configuration at n = ", en, ": ", attention::bigbird_num_blocks(mine, en), " blocks, key lists ",
          eindex.shape, " -> ", eindex.shape[3], " slots per query");
    const float worst = kernel_vs_dense(q0, k0, v0, g, mine, Tensor());
    L.check("your configuration: output and gradients equal masked dense attention", worst < 1e-4f,
            "max |diff| = " + lesson::sig(worst, 2));
    BigBirdOptions acyclic = mine;
    acyclic.causal = false;
    const int64_t gnb = 64;
    const double hops = average_token_path(acyclic, gnb);
    // Information flows from a key block into the query blocks that read it: count the blocks no other block
    // reads (nobody can ever depend on them) and the blocks that read no other block (they never hear anything).
    const attention::BigBirdBlocks gb = attention::bigbird_blocks(acyclic, gnb * acyclic.block, 1);
    std::vector<char> read_by_other(static_cast<size_t>(gnb), 0);
    int64_t deaf = 0;
    for (int64_t i = 0; i < gnb; ++i) {
      bool reads_other = false;
      for (const auto& key : gb.row(0, i))
        if (key.block != i) read_by_other[static_cast<size_t>(key.block)] = 1, reads_other = true;
      deaf += !reads_other;
    }
    const int64_t unread = gnb - std::count(read_by_other.begin(), read_by_other.end(), 1);
    const bool reachable = !std::isinf(hops);
    L.say("average path between tokens of your (non-causal) graph at nb = ", gnb, " blocks: ",
          reachable ? lesson::fixed(hops, 2) + " hops" : std::string("infinite (some tokens never reach each other)"),
          "; blocks no other block reads: ", unread, ", blocks that read no other block: ", deaf);
    L.exercise_check("your prediction of whether every token reaches every other", answer.predicted_all_reachable == reachable,
                     std::string("predicted ") + (answer.predicted_all_reachable ? "yes" : "no") + ", measured " +
                         (reachable ? "yes" : "no"),
                     reachable ? "every block is reached: a window of 3 or more chains each block to its "
                                 "neighbours, a global block is one hop from everyone, and without both, enough "
                                 "random blocks can still leave no block unread — see the counts above"
                               : "information moves only from a key block to the blocks that read it: here " +
                                     std::to_string(unread) + " blocks are read by no other block (no output can "
                                     "ever depend on them) and " + std::to_string(deaf) +
                                     " read no other block — without a wider window or global blocks, nothing "
                                     "guarantees that the random draws connect everything");
  } else {
    L.say("(skipped: the kernel check and the path length of your graph — BigBird cannot build it)");
  }

  // %% [markdown]
  // ## Exercises
  // 1. Step 7: add a variant with r = 1 and one with r = 4. How does the average path change? Which r is enough
  //    to keep it under 3 hops at n = 16K?
  // 2. In the EXERCISE block, set window_blocks = 1 and global_blocks = 0 (predict first). Why does the average
  //    path become infinite — and what does that mean for a deep stack of such layers? How many random blocks
  //    make it finite again?
  // 3. Step 8: at which n does BigBird (K = 112) need less memory than full attention? Predict it from K and
  //    check with the table.
  // 4. Step 5: make the layer redraw its random blocks in eval mode (a copy of the public bug) and measure how
  //    much the output changes.
  // Next lesson: the Linear Transformer, which drops the softmax instead of choosing keys.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
