// %% [markdown]
// # 06 · Linformer: attention is (nearly) low rank
//
// Linformer (Wang, Li, Khabsa, Fang, Ma 2020, Linformer: Self-Attention with Linear Complexity) starts from an
// observation rather than a pattern: the n × n attention matrix P = softmax(Q Kᵀ/√d) of a trained Transformer
// is close to a matrix of low rank. Most of its "energy" (the sum of its squared singular values) sits in the
// first few singular values. If P is essentially rank k, we should not need n keys to express it — k mixtures
// of keys would do.
//
// So Linformer projects the sequence axis. Two learned (k, n) matrices E and F turn the n keys and n values
// into k rows each, and attention runs over those k "projected positions":
//
//     K̄ = E K   (k, d)        V̄ = F V   (k, d)
//     P̄ = softmax(Q K̄ᵀ / √d)  (n, k)        out = P̄ V̄  (n, d)
//
// Time O(n·k·d) and memory O(n·k): linear in n for a fixed k. The matrix actually applied to V is P̄ F (n × n,
// rank ≤ k); it is never built by the kernel. The price: E and F have n columns, so n has a fixed maximum; and
// every projected key mixes every position, so the scheme cannot be causal.
//
// In this lesson we (1) train two small Transformers with full attention on tasks that need attention — one
// that looks up a token by content, one that looks one position back — (2) look at the singular values of
// their attention matrices and of attention on random inputs, (3) measure the error of the best rank-k matrix
// (truncated SVD) as k grows, (4) build the Linformer kernel from core ops and check it, (5) measure
// Linformer's error with projections that are fixed across inputs, as a layer's must be, (6) train Linformer
// models end to end, (7) draw P̄, P̄F and P side by side, (8) measure time and memory against full attention,
// and (9) put the paper's results next to ours.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, k = projected length. q, k, v: (B, H, n, d).
// %%
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "attention/dense.h"
#include "attention/linformer.h"
#include "attention/transformer.h"
#include "core/svd.h"
#include "lessons/cost.h"
#include "lessons/lesson.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
using lesson::head;        // the (n, m) matrix of one head, head(t, h, b) (lessons/lesson.h)
using lesson::matrix_map;  // a heatmap of an attention matrix (lessons/lesson.h)

// Two tiny tasks, chosen so that attention must do two different kinds of work (vocabulary 16, n tokens):
//   find the marker   ordinary tokens 0..7 and exactly one "marker" token 8..15 at a random position; every
//                     position must output which marker it is. Every query looks for the same key, chosen by
//                     content: its attention is (nearly) the rank-one matrix 1·e_pᵀ, p = the marker's position.
//   previous token    every position must output the token just before it (position 0: nothing to predict).
//                     Every query looks one step back, chosen by position: attention is (nearly) the shift
//                     matrix, a permutation of rank n - 1.
enum class Task { find_marker, previous_token };
const char* task_name(Task t) { return t == Task::find_marker ? "find the marker" : "previous token"; }
constexpr int64_t kVocab = 16;

struct Batch {
  IntTensor ids;     // (B, n) tokens in [0, 16)
  IntTensor labels;  // (B, n) the class to predict, -100 where there is nothing to predict
};

Batch task_batch(Task task, int64_t B, int64_t n, core::Rng& rng) {
  Batch b{IntTensor({B, n}), IntTensor({B, n})};
  for (int64_t r = 0; r < B; ++r) {
    if (task == Task::find_marker) {
      const int64_t where = rng.randint(0, n), marker = rng.randint(8, 16);
      for (int64_t i = 0; i < n; ++i) {
        b.ids.at({r, i}) = i == where ? marker : rng.randint(0, 8);
        b.labels.at({r, i}) = marker - 8;
      }
    } else {
      for (int64_t i = 0; i < n; ++i) {
        b.ids.at({r, i}) = rng.randint(0, kVocab);
        b.labels.at({r, i}) = i == 0 ? -100 : b.ids.at({r, i - 1});
      }
    }
  }
  return b;
}

// A one-layer encoder with 4 heads and full softmax attention (attention/transformer.h, scheme "full"),
// trained with AdamW; returns the share of correct predictions on held-out inputs.
double train(attention::TokenClassifier& model, Task task, int64_t n, int steps, core::Rng& rng) {
  const int64_t batch = 16, classes = kVocab;
  core::optim::AdamW opt(model.parameters(), 2e-2f, 0.9f, 0.999f, 1e-8f, 0.0f);
  core::optim::WarmupCosine schedule(2e-2f, 10, steps, 2e-3f);
  for (int step = 0; step < steps; ++step) {
    const Batch b = task_batch(task, batch, n, rng);
    opt.set_lr(schedule.lr(step));
    opt.zero_grad();
    IntTensor targets = b.labels;
    targets.shape = {batch * n};
    core::cross_entropy(core::reshape(model.forward(b.ids), {batch * n, classes}), targets).backward();
    core::optim::clip_grad_norm(model.parameters(), 1.0f);
    opt.step();
  }
  model.eval();
  core::NoGradGuard no_grad;
  const Batch test = task_batch(task, 32, n, rng);
  const IntTensor pred = core::argmax(model.forward(test.ids), -1);  // (32, n)
  double right = 0.0, total = 0.0;
  for (int64_t i = 0; i < pred.numel(); ++i) {
    if (test.labels.data[i] < 0) continue;
    right += pred.data[i] == test.labels.data[i];
    total += 1.0;
  }
  return right / total;
}

// What an attention layer computed on a batch, for one head: its queries, keys, values and probabilities.
struct HeadAttention {
  Tensor q, k, v;  // (B, 1, n, d)
  Tensor P;        // (B, 1, n, n) = softmax(q kᵀ / √d)
};

// The trained model's attention, head `head` (or the head with the sharpest rows when head < 0, the one that
// does the task's work): runs the encoder's embedding and first block by hand. Inference only.
HeadAttention attention_of(attention::Encoder& enc, const IntTensor& ids, int64_t* head) {
  core::NoGradGuard no_grad;
  const int64_t n = ids.shape[1];
  IntTensor pos({n});
  for (int64_t i = 0; i < n; ++i) pos.data[i] = i;
  const Tensor x = enc.tokens.forward(ids) + enc.positions.forward(pos);  // (B, n, d_model)
  auto* layer = dynamic_cast<attention::ProjectedAttention*>(enc.blocks[0]->attn.get());
  AZ_CHECK(layer, "06_linformer: the model must use the standard projected attention layer (scheme full)");
  const Tensor h = enc.blocks[0]->ln1.forward(x);
  const Tensor q = attention::split_heads(layer->w_q.forward(h), layer->n_heads);  // (B, H, n, d)
  const Tensor k = attention::split_heads(layer->w_k.forward(h), layer->n_heads);
  const Tensor v = attention::split_heads(layer->w_v.forward(h), layer->n_heads);
  const Tensor P = attention::dense_probabilities(q, k);                             // (B, H, n, n)
  if (*head < 0) {  // sharpest: the largest mean over rows of max_j P[i, j]
    double best = -1.0;
    for (int64_t hh = 0; hh < layer->n_heads; ++hh) {
      const Tensor rows = core::max(core::slice(P, 1, hh, hh + 1), -1);  // (B, 1, n)
      const double sharp = core::mean(rows).item();
      if (sharp > best) best = sharp, *head = hh;
    }
  }
  auto pick = [&](const Tensor& t) { return core::slice(t, 1, *head, *head + 1); };
  return {pick(q), pick(k), pick(v), pick(P)};
}

// SVD curves of a (B, H, n, n) stack of attention matrices: per matrix, and their mean.
struct Spectrum {
  std::vector<std::vector<double>> floors;  // [b * H + h][t]: best rank-t relative error, t = 0..n
  std::vector<double> energy;               // [t-1]: mean share of energy in the first t singular values
  std::vector<double> error;                // [t]: best rank-t relative Frobenius error, root mean square
  std::vector<double> sigma_ratio;          // [t-1]: mean σ_t / σ_1 (each at least 1e-7)
};

Spectrum spectrum_of(const Tensor& P) {
  const int64_t B = P.size(0), H = P.size(1), n = P.size(2);
  Spectrum s{{}, std::vector<double>(n, 0.0), std::vector<double>(n + 1, 0.0), std::vector<double>(n, 0.0)};
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const std::vector<double> sv = core::singular_values(head(P, h, b));
      const std::vector<double> e = core::cumulative_energy(sv);
      s.floors.push_back(core::truncation_error(sv));
      for (int64_t t = 0; t < n; ++t) {
        s.energy[t] += e[t] / double(B * H);
        s.sigma_ratio[t] += std::max(sv[t] / sv[0], 1e-7) / double(B * H);  // below 1e-7: float32 rounding
      }
      for (int64_t t = 0; t <= n; ++t) s.error[t] += s.floors.back()[t] * s.floors.back()[t] / double(B * H);
    }
  for (double& e : s.error) e = std::sqrt(e);
  return s;
}

// ||A - P||_F / ||P||_F for each (example, head) slice of two (B, H, r, c) tensors, row-major over (B, H).
std::vector<double> relative_errors(const Tensor& A, const Tensor& P) {
  const int64_t BH = P.size(0) * P.size(1), nn = P.size(2) * P.size(3);
  std::vector<double> out;
  for (int64_t bh = 0; bh < BH; ++bh) {
    double d2 = 0.0, p2 = 0.0;
    for (int64_t i = 0; i < nn; ++i) {
      const double p = P.data()[bh * nn + i], a = A.data()[bh * nn + i];
      d2 += (a - p) * (a - p);
      p2 += p * p;
    }
    out.push_back(std::sqrt(d2 / p2));
  }
  return out;
}

// Root mean square: the errors of several inputs as one number (the square root of the mean squared error, so
// that sqrt(1 - k/n)-type bounds on the mean of squares read directly).
double rms_of(const std::vector<double>& xs) {
  double s2 = 0.0;
  for (double x : xs) s2 += x * x;
  return std::sqrt(s2 / double(xs.size()));
}

// Mean pooling: row r of E averages the positions of segment r (position j belongs to segment j·k/n). One of
// the alternatives to a learned E in the paper's §4. With k = n it is the identity.
Tensor pooling_projection(int64_t k, int64_t n) {
  Tensor E = Tensor::zeros({k, n});
  std::vector<float> count(static_cast<size_t>(k), 0.0f);
  for (int64_t j = 0; j < n; ++j) count[j * k / n] += 1.0f;
  for (int64_t j = 0; j < n; ++j) E.at({j * k / n, j}) = 1.0f / count[j * k / n];
  return E;
}

// ||out - P v||_F / ||P v||_F per input, for the Linformer output with E, F.
std::vector<double> output_errors(const HeadAttention& h, const Tensor& E, const Tensor& F) {
  return relative_errors(attention::linformer_attention(h.q, h.k, h.v, E, F), core::matmul(h.P, h.v));
}

img::Series series(const std::string& name, const std::vector<double>& x, const std::vector<double>& y) {
  return img::Series{name, x, y};
}

// Step 5's figure, one panel per head: the relative matrix error ||P̄F − P||_F / ||P||_F against k (log axis)
// of the SVD floor, random E, F, pooling E = F and your E = F (no curve when `mine_curve` is empty: your projection
// was not a (k, n) matrix), with the line sqrt(1 − k/n) for comparison. Every curve has one value per k of k_axis.
img::Image error_vs_k_panel(const std::string& head_name, int64_t n, const std::vector<double>& k_axis,
                            const std::vector<double>& floor_curve, const std::vector<double>& random_curve,
                            const std::vector<double>& pool_curve, const std::vector<double>& mine_curve) {
  std::vector<double> sq;
  for (double kk : k_axis) sq.push_back(std::sqrt(1.0 - kk / double(n)));
  img::PlotOptions o;
  o.title = "matrix error: " + head_name + " head";
  o.xlabel = "k (rank / projected length)";
  o.ylabel = "||PbarF - P||_F / ||P||_F";
  o.log_x = true;
  std::vector<img::Series> curves = {series("SVD floor (per input)", k_axis, floor_curve),
                                     series("random E,F", k_axis, random_curve),
                                     series("pooling E=F", k_axis, pool_curve)};
  if (!mine_curve.empty()) curves.push_back(series("your E=F", k_axis, mine_curve));
  curves.push_back(series("sqrt(1 - k/n)", k_axis, sq));
  return img::line_plot(curves, o);
}

// %%
// Step 5's exercise: your fixed projection E = F, and your prediction of the rank it leaves the matrix P_bar F.
// Your version is the EXERCISE block in main; the reference solution and a known-wrong answer are in
// lessons/solutions/06_linformer.h.
struct MyProjection {
  std::function<Tensor(int64_t k, int64_t n)> make;  // E = F, (k, n): row r mixes the n tokens into position r
  int64_t predicted_rank_at_8 = 0;  // the rank of P_bar F with your E = F at k = 8 (the largest over the inputs)
};
#include "lessons/solutions/06_linformer.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "06_linformer");
  const bool quick = L.quick();

  // %% [markdown]
  // ## Step 1 · models whose attention does real work
  // The paper measured RoBERTa's attention on natural text. We cannot pretrain RoBERTa here, so we train two
  // tiny Transformer encoders (1 layer, 4 heads, d_model = 32, full softmax attention: `attention/transformer.h`
  // with scheme "full") for about a second each, on two tasks that need attention for different reasons:
  //   - "find the marker": one special token sits at a random position; every position must name it. The
  //     query does not care where the marker is, only what it is: attention chosen by content.
  //   - "previous token": every position must output its left neighbour. Attention chosen by position.
  // After training we keep, for each model, the head with the sharpest attention (the one doing the work).
  // %%
  L.step("Step 1 · train two small full-attention models");
  const int64_t n = quick ? 32 : 64, H = 4, d_model = 32, d = d_model / H;
  const int train_steps = quick ? 80 : 150;
  const int64_t n_eval = quick ? 8 : 16;
  struct Trained {
    Task task;
    double accuracy = 0.0;
    int64_t head = -1;
    HeadAttention eval;  // the chosen head on held-out inputs
    IntTensor eval_ids;  // (n_eval, n) those inputs
  };
  std::vector<Trained> models;
  for (Task task : {Task::find_marker, Task::previous_token}) {
    attention::ModelConfig mc;
    mc.scheme = "full";
    mc.vocab = kVocab;
    mc.max_len = n;
    mc.d_model = d_model;
    mc.n_heads = H;
    mc.n_layers = 1;
    mc.d_ff = 64;
    mc.seed = L.seed() * 7919 + (task == Task::find_marker ? 1 : 2);
    attention::TokenClassifier model(mc, kVocab);
    core::Rng rng = L.rng(task == Task::find_marker ? 10 : 11);
    core::Stopwatch clock;
    Trained t;
    t.task = task;
    t.accuracy = train(model, task, n, train_steps, rng);
    const Batch eval = task_batch(task, n_eval, n, rng);
    t.eval = attention_of(model.encoder, eval.ids, &t.head);
    t.eval_ids = eval.ids;
    L.say(task_name(task), ": ", model.num_parameters(), " parameters, ", train_steps, " steps in ",
          lesson::fixed(clock.seconds(), 1), " s, held-out accuracy ", lesson::fixed(100 * t.accuracy, 1),
          " %; its sharpest head is head ", t.head);
    models.push_back(t);
  }
  L.check("both models learned their task (held-out accuracy > 90 %; chance is 1/8 and 1/16)",
          models[0].accuracy > 0.9 && models[1].accuracy > 0.9);
  L.say("attention of the chosen head on ", n_eval, " held-out inputs: ", models[0].eval.P.shape(), "   (B, 1, n, n)");

  // %% [markdown]
  // ## Step 2 · singular values of attention matrices
  // For each attention matrix P (one per input) we compute its singular values σ_1 ≥ σ_2 ≥ ... ≥ σ_n with a
  // small Jacobi SVD in double precision (`core/svd.h`). The share of the energy ||P||_F² = Σ σ_t² held by the
  // first t values says how much of P a rank-t matrix can capture: by the Eckart–Young theorem, the best rank-t
  // approximation misses exactly sqrt(1 − energy(t)) of P, relative, in the Frobenius norm. (The paper plots the
  // normalised cumulative sum of σ_t itself; energy uses σ_t², which is what the error depends on.)
  //
  // Beside the trained heads, attention on random inputs: q, k ~ N(0, σ²) with the same d = 8. With σ = 1 the
  // logits are small and the rows fairly flat, so a large share of P is its rank-one average 𝟙𝟙ᵀ/n. With σ = 2
  // the logits are 4× larger, rows become peaked at random places, and the energy spreads out.
  // %%
  L.step("Step 2 · the spectrum of trained and random attention");
  core::Rng random_rng = L.rng(2);
  auto random_head = [&](float sigma) {
    HeadAttention r;
    r.q = core::randn({n_eval, 1, n, d}, random_rng, 0.0f, sigma);
    r.k = core::randn({n_eval, 1, n, d}, random_rng, 0.0f, sigma);
    r.v = core::randn({n_eval, 1, n, d}, random_rng);
    r.P = attention::dense_probabilities(r.q, r.k);
    return r;
  };
  struct Kind {
    std::string name;
    HeadAttention eval;
    Spectrum spectrum;
  };
  std::vector<Kind> kinds = {
      {"find the marker (content)", models[0].eval, {}},
      {"previous token (position)", models[1].eval, {}},
      {"random, sigma=1", random_head(1.0f), {}},
      {"random, sigma=2", random_head(2.0f), {}},
  };
  for (Kind& kd : kinds) kd.spectrum = spectrum_of(kd.eval.P);
  const int64_t t4 = 4, t8 = 8, tq = n / 4;
  L.say("mean over ", n_eval, " held-out inputs; energy(t) = share of the sum of sigma^2 held by the first t values");
  lesson::Table spec({"attention", "energy(1)", "energy(4)", "energy(8)", "energy(n/4)", "sigma_2/sigma_1", "sigma_8/sigma_1"}, 9);
  for (const Kind& kd : kinds) {
    const Spectrum& s = kd.spectrum;
    spec.row({kd.name, lesson::fixed(s.energy[0], 3), lesson::fixed(s.energy[t4 - 1], 3), lesson::fixed(s.energy[t8 - 1], 3),
              lesson::fixed(s.energy[tq - 1], 3), lesson::fixed(s.sigma_ratio[1], 3), lesson::fixed(s.sigma_ratio[t8 - 1], 3)});
  }

  // %% [markdown]
  // **The whole spectrum.** The table samples four values of t; the figure draws every t from 1 to n, the
  // cumulative energy on the left and σ_t / σ_1 on a log axis on the right. Then two checks on the trained heads:
  // the content head is nearly rank one (energy(1) > 0.8), the positional head far from low rank
  // (energy(n/4) < 0.5).
  // %%
  {
    std::vector<double> t(n);
    std::iota(t.begin(), t.end(), 1.0);
    std::vector<img::Series> energy, ratio;
    for (const Kind& kd : kinds) {
      energy.push_back(series(kd.name, t, kd.spectrum.energy));
      ratio.push_back(series(kd.name, t, kd.spectrum.sigma_ratio));
    }
    img::PlotOptions o;
    o.title = "cumulative energy of attention matrices";
    o.xlabel = "number of singular values t";
    o.ylabel = "share of ||P||_F^2";
    img::PlotOptions o2 = o;
    o2.title = "singular values, normalised";
    o2.ylabel = "sigma_t / sigma_1";
    o2.log_y = true;
    L.show(img::hstack({img::line_plot(energy, o), img::line_plot(ratio, o2)}), "spectrum.png",
           "left: share of the energy in the first t singular values; right: sigma_t / sigma_1 on a log axis "
           "(clipped at 1e-7, float32 rounding). The content head sits entirely in sigma_1 (every row alike: "
           "rank one), the positional head climbs in a near straight line (a shift is a permutation: its singular "
           "values are all equal), random attention lies in between - the sharper (sigma=2), the flatter");
  }
  L.check("the content head is nearly rank one: energy(1) > 0.8", kinds[0].spectrum.energy[0] > 0.8,
          "energy(1) = " + lesson::fixed(kinds[0].spectrum.energy[0], 3));
  L.check("the positional head is far from low rank: energy(n/4) < 0.5", kinds[1].spectrum.energy[tq - 1] < 0.5,
          "energy(" + std::to_string(tq) + ") = " + lesson::fixed(kinds[1].spectrum.energy[tq - 1], 3));

  // %% [markdown]
  // ## Step 3 · the best rank-k approximation
  // Truncating the SVD after k terms gives the best rank-k matrix P_k (Eckart–Young). Its relative error
  // ||P − P_k||_F / ||P||_F is the floor that any rank-k method, Linformer included, can reach on this P.
  // Mind what "best" means here: P_k is built from P's own singular vectors, a different basis for every input.
  // %%
  L.step("Step 3 · error of the best rank-k approximation (truncated SVD)");
  std::vector<int64_t> ks = {1, 2, 4, 8, n / 4, n / 2, 3 * n / 4};
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  {
    std::vector<std::string> headers = {"k"};
    for (const Kind& kd : kinds) headers.push_back(kd.name);
    lesson::Table table(headers, 9);
    for (int64_t kk : ks) {
      std::vector<std::string> row = {std::to_string(kk)};
      for (const Kind& kd : kinds) row.push_back(lesson::fixed(kd.spectrum.error[kk], 3));
      table.row(row);
    }
  }
  L.say("(relative Frobenius error, root mean square over held-out inputs = sqrt(1 - mean energy(k)); 0 = exact,");
  L.say(" 1 = nothing captured)");

  // %% [markdown]
  // ## Step 4 · the Linformer kernel from core ops
  // Now the scheme itself, one line per equation, on one input of the random σ = 1 kind of Step 2 (its numbers
  // are easy to read; the trained heads' are all 0s and 1s), with random projections E, F ~ N(0, 1/n), k = n/4. We check it against the fused kernel
  // `attention::linformer_attention` (one op with a hand-written backward), check that out == (P̄ F) @ v, and
  // check that with k = n and E = F = identity it is exactly full attention.
  // %%
  L.step("Step 4 · the Linformer kernel, step by step");
  const int64_t k_demo = n / 4;
  core::Rng proj_rng = L.rng(3);
  {
    const Tensor q = core::slice(kinds[2].eval.q, 0, 0, 1), kt = core::slice(kinds[2].eval.k, 0, 0, 1);  // (1, 1, n, d)
    const Tensor v = core::randn({1, 1, n, d}, proj_rng);  // values: any will do for the checks
    const attention::LinformerProjections p =
        attention::linformer_projections(1, k_demo, n, attention::LinformerShare::none, proj_rng);
    L.say("q, k, v: ", q.shape(), "   E, F: ", p.E.shape(), "   (Hs, k, n)");
    const Tensor k_bar = core::matmul(p.E, kt);  // K̄ = E k: (1, k, n) @ (1, 1, n, d) -> (1, 1, k, d)
    const Tensor v_bar = core::matmul(p.F, v);   // V̄ = F v: (1, 1, k, d)
    L.say("K_bar = E k: ", k_bar.shape(), "   V_bar = F v: ", v_bar.shape(), "   (n = ", n, " positions became k = ",
          k_demo, " mixtures)");
    const Tensor P_bar = core::softmax(core::matmul(q, k_bar, false, true) / std::sqrt(float(d)), -1);  // (1, 1, n, k)
    const Tensor out = core::matmul(P_bar, v_bar);  // (1, 1, n, d)
    L.say("P_bar = softmax(q K_barT / sqrt(d)): ", P_bar.shape(), "   out = P_bar V_bar: ", out.shape());
    L.print("P_bar, first 4 queries x first 6 projected positions (each full row sums to 1)",
            core::reshape(core::slice(core::slice(P_bar, 2, 0, 4), 3, 0, 6), {4, 6}));
    L.check_close("the step-by-step output equals the fused kernel attention::linformer_attention", out,
                  attention::linformer_attention(q, kt, v, p.E, p.F), 1e-5f);
    L.check_close("out == (P_bar F) @ v: the effective n x n matrix is what the kernel applied",
                  core::matmul(attention::linformer_effective_attention(q, kt, p.E, p.F), v), out, 1e-5f);
    Tensor I = Tensor::zeros({1, n, n});
    for (int64_t i = 0; i < n; ++i) I.at({0, i, i}) = 1.0f;
    L.check_close("k = n, E = F = identity: Linformer is exactly full attention",
                  attention::linformer_attention(q, kt, v, I, I), attention::dense_attention(q, kt, v), 1e-5f);
  }

  // %% [markdown]
  // ## Step 5 · Linformer's approximation error as k grows
  // Linformer does not get P's own singular vectors: it gets one E and one F, the same for every input. Here we
  // put fixed projections into the kernel, on the held-out inputs, and measure two errors as k grows: of the
  // matrix, ||P̄F − P||_F / ||P||_F (comparable with the SVD floor), and of the output, ||P̄Fv − Pv||_F / ||Pv||_F
  // (what the layer is for), for three projections: random E, F ~ N(0, 1/n) (how a Linformer layer starts),
  // mean pooling E = F (each projected position averages n/k neighbours), and yours (the EXERCISE block).
  //
  // P̄ F has rank ≤ k, so its matrix error can never beat the SVD floor: a check. More than that: every row of
  // P̄ F lies in the k-dimensional row space of F, whatever the input. Where the useful columns move from input
  // to input — the marker can sit anywhere — a fixed subspace would have to cover all n positions: the marker
  // head's floor is ~0 at k = 1, yet no fixed projection gets near it: a k-dimensional subspace keeps, averaged
  // over the n positions, only k/n of the squared length of a one-hot row e_p, so the root-mean-square error
  // over inputs with the marker at a random position is at least about sqrt(1 − k/n).
  // %%
  L.step("Step 5 · Linformer approximation error vs k with fixed projections");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  // A fixed projection E = F of shape (k, n) for the Linformer kernel. The default keeps every (n/k)-th
  // position (strided sampling: projected position r is token r·n/k). Try instead:
  //   E.at({r, r}) = 1.0f for r < k                  (the first k positions)
  //   E.at({r, j}) = 1.0f for all j                  (every row the sum of all positions: no position at all)
  //   a mix: half the rows strided, half pooling     (what helps the marker head? the positional head?)
  // First PREDICT the rank of the n x n matrix P_bar F that your E = F gives at k = 8 (predicted_rank_at_8):
  // the self-check measures it (on the random inputs of Step 2, largest over the inputs). It also verifies that
  // your projection has the right shape, that out == (P_bar F) @ v holds with it, and that its matrix never
  // beats the SVD floor (Eckart–Young).
  MyProjection my_projection;
  my_projection.make = [](int64_t k, int64_t n) {
    Tensor E = Tensor::zeros({k, n});
    for (int64_t r = 0; r < k; ++r) E.at({r, r * n / k}) = 1.0f;
    return E;
  };
  my_projection.predicted_rank_at_8 = 8;  // 8 rows, each a different single token
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyProjection answer = L.exercise(my_projection, solution::projection(), solution::wrong_projection());
  // Your projection must be a (k, n) matrix for every k of the table; anything else is a mistake of the
  // exercise, and the columns "yours" are left out.
  std::string shape_problem;
  for (int64_t kk : ks) {
    if (!shape_problem.empty()) break;
    try {
      const Tensor E = answer.make(kk, n);
      if (E.shape() != core::Shape({kk, n}))
        shape_problem = "for k = " + std::to_string(kk) + " it is " + core::shape_str(E.shape()) + ", not (k, n) = " +
                        core::shape_str(core::Shape({kk, n})) + ": one row per projected position, one column per token";
    } catch (const std::exception& e) {  // an index outside the matrix, or no function given at all
      shape_problem = "for k = " + std::to_string(kk) + " making it stopped with \"" + e.what() +
                      "\": make must fill a (k, n) matrix, with rows r < k and columns j < n";
    }
  }
  const bool mine_usable = L.exercise_check("your projection is a (k, n) matrix for every k", shape_problem.empty(),
                                            "", shape_problem);

  // %% [markdown]
  // **Measuring.** For each head and each k of the table, three projections go into the kernel: random E, F
  // (drawn afresh for every k), mean pooling, and yours. Each gives the matrix P̄F it applies, whose errors — of
  // the matrix and of the output — are taken on every held-out input; a table cell is their root mean square
  // over the inputs, and "-" marks the columns of a projection that is not a (k, n) matrix. The random-attention
  // head (sigma = 1) comes third; sigma = 2 is left out, its point was its spectrum.
  // %%
  core::Rng proj_rng5 = L.rng(4);
  bool above_floor = true, mine_consistent = true;
  double marker_best_fixed_at_kq = 1e9;
  std::vector<double> k_axis(ks.begin(), ks.end());
  std::vector<img::Image> panels;
  auto cell = [&](const std::vector<double>& errors, size_t which) {  // a table cell: "-" when yours is left out
    return which < errors.size() ? lesson::fixed(errors[which], 3) : std::string("-");
  };
  for (size_t c = 0; c < 3; ++c) {  // the peaked random attention's point was its spectrum
    const Kind& kd = kinds[c];
    const HeadAttention& h = kd.eval;
    L.say(kd.name, ":");
    lesson::Table table({"k", "SVD floor", "matrix: random", "matrix: pooling", "matrix: yours", "output: random",
                         "output: pooling", "output: yours"}, 8);
    std::vector<double> floor_curve, random_curve, pool_curve, mine_curve;
    for (int64_t kk : ks) {
      const attention::LinformerProjections rnd =
          attention::linformer_projections(1, kk, n, attention::LinformerShare::none, proj_rng5);
      const Tensor pool = pooling_projection(kk, n);
      std::vector<Tensor> matrices;  // P_bar F (n_eval, 1, n, n) of random, pooling (and yours)
      matrices.push_back(attention::linformer_effective_attention(h.q, h.k, rnd.E, rnd.F));
      matrices.push_back(attention::linformer_effective_attention(h.q, h.k, pool, pool));
      std::vector<double> output = {rms_of(output_errors(h, rnd.E, rnd.F)), rms_of(output_errors(h, pool, pool))};
      if (mine_usable) {
        const Tensor mine = answer.make(kk, n);
        matrices.push_back(attention::linformer_effective_attention(h.q, h.k, mine, mine));
        output.push_back(rms_of(output_errors(h, mine, mine)));
        mine_consistent = mine_consistent && lesson::max_abs_diff(attention::linformer_attention(h.q, h.k, h.v, mine, mine),
                                                                  core::matmul(matrices.back(), h.v)) < 1e-4f;
      }
      std::vector<double> rms;  // root-mean-square matrix error of random, pooling (and yours)
      for (const Tensor& A : matrices) {
        const std::vector<double> e = relative_errors(A, h.P);
        for (size_t i = 0; i < e.size(); ++i) above_floor = above_floor && e[i] >= kd.spectrum.floors[i][kk] - 1e-5;
        rms.push_back(rms_of(e));
      }
      if (c == 0 && kk == n / 4) marker_best_fixed_at_kq = *std::min_element(rms.begin(), rms.end());
      floor_curve.push_back(kd.spectrum.error[kk]);
      random_curve.push_back(rms[0]);
      pool_curve.push_back(rms[1]);
      if (mine_usable) mine_curve.push_back(rms[2]);
      table.row({std::to_string(kk), lesson::fixed(floor_curve.back(), 3), cell(rms, 0), cell(rms, 1), cell(rms, 2),
                 cell(output, 0), cell(output, 1), cell(output, 2)});
    }
    if (c < 2)  // the figure shows the two trained heads
      panels.push_back(error_vs_k_panel(task_name(models[c].task), n, k_axis, floor_curve, random_curve, pool_curve,
                                        mine_curve));
  }

  // %% [markdown]
  // **What the errors say.** The checks: no matrix beats its SVD floor, input by input (Eckart–Young); your
  // projection keeps out == (P̄F) @ v, and the rank of its P̄F at k = 8 is measured for your prediction; the
  // marker head's floor is near 0 at k = 1 while every fixed projection stays above 0.6 at k = n/4.
  // error_vs_k.png draws the matrix errors of the two trained heads beside the line sqrt(1 − k/n).
  // %%
  L.say("(relative Frobenius errors on held-out inputs, root mean square over inputs; errors above 1 mean P_bar F is further");
  L.say(" from P than the zero matrix: random E, F with the scheme's N(0, 1/n) start are not an approximation)");
  L.check("no rank-k Linformer matrix beats the truncated SVD at the same k (Eckart–Young), per input", above_floor);
  if (mine_usable) {
    L.check("your projection: out == (P_bar F) @ v with it", mine_consistent);
    // The rank of P_bar F at k = 8, on the random sigma = 1 inputs: their P_bar (n x 8) has full rank 8, so what
    // limits the rank of P_bar F is F alone.
    const int64_t k8 = 8;
    const Tensor E8 = answer.make(k8, n);
    const Tensor A8 = attention::linformer_effective_attention(kinds[2].eval.q, kinds[2].eval.k, E8, E8);  // (n_eval, 1, n, n)
    int64_t rank8 = 0;
    for (int64_t b = 0; b < n_eval; ++b) rank8 = std::max(rank8, core::numerical_rank(head(A8, 0, b)));
    const int64_t rank_F = core::numerical_rank(E8);
    L.say("your E = F at k = 8: rank of F ", rank_F, "; rank of P_bar F (n x n = ", n, " x ", n, "), largest over ",
          n_eval, " random inputs: ", rank8);
    L.exercise_check("your prediction of the rank of P_bar F at k = 8", answer.predicted_rank_at_8 == rank8,
                     "predicted " + std::to_string(answer.predicted_rank_at_8) + ", measured " + std::to_string(rank8),
                     "P_bar F = P_bar · F: every row of it is a mixture of the k rows of F, so its rank is at most "
                     "the number of independent rows of your E = F — count them: rows that repeat, or are sums of "
                     "other rows, add nothing, and a zero row adds nothing");
  } else {
    L.say("(skipped: out == (P_bar F) @ v with your projection, and the rank of P_bar F you predicted — both need a "
          "(k, n) projection)");
  }
  L.check("marker head: SVD floor < 0.3 at k = 1, but every fixed projection's error > 0.6 at k = n/4",
          kinds[0].spectrum.error[1] < 0.3 && marker_best_fixed_at_kq > 0.6,
          "floor " + lesson::fixed(kinds[0].spectrum.error[1], 3) + ", best fixed " + lesson::fixed(marker_best_fixed_at_kq, 3));
  L.show(img::hstack(panels), "error_vs_k.png",
           "matrix error vs k, left the content (marker) head, right the positional head: the SVD floor is per "
           "input, the other curves use one projection for all inputs. On the left the floor is ~0 from k = 1 "
           "while every fixed projection stays near or above the sqrt(1 - k/n) line; on the right floor and "
           "projections both follow it: a shift matrix has no low-rank structure to find");

  // %% [markdown]
  // ## Step 6 · Linformer trained end to end
  // In the paper, E and F are learned together with the rest of the model. So the fairest test is to train
  // Linformer models — the same encoder with scheme "linformer", k = n/4, learned E and F per head — on our two
  // tasks, for the same number of steps as the full-attention models of Step 1, and compare held-out accuracy.
  // %%
  L.step("Step 6 · Linformer models trained end to end (k = n/4), next to full attention");
  std::vector<double> linformer_accuracy;
  {
    lesson::Table acc({"task", "full attention (%)", "linformer k=n/4 (%)", "chance (%)"}, 10);
    for (size_t c = 0; c < 2; ++c) {
      attention::ModelConfig mc;
      mc.scheme = "linformer";
      mc.set = {"k=" + std::to_string(n / 4)};
      mc.vocab = kVocab;
      mc.max_len = n;
      mc.d_model = d_model;
      mc.n_heads = H;
      mc.n_layers = 1;
      mc.d_ff = 64;
      mc.seed = L.seed() * 7919 + 3 + c;
      attention::TokenClassifier model(mc, kVocab);
      core::Rng rng = L.rng(20 + c);
      const double accuracy = train(model, models[c].task, n, train_steps, rng);
      linformer_accuracy.push_back(accuracy);
      acc.row({task_name(models[c].task), lesson::fixed(100 * models[c].accuracy, 1), lesson::fixed(100 * accuracy, 1),
               lesson::fixed(100.0 / (c == 0 ? 8 : 16), 1)});
    }
  }
  L.say("Same steps, same optimiser. Where Linformer lags, remember Step 5: the shift needs all n positions, and");
  L.say("the marker can sit at any of them; with k = n/4 fixed projected positions, neither is easy to express.");

  // %% [markdown]
  // ## Step 7 · pictures: P̄ (n × k), P̄ F (n × n) and P (n × n)
  // One held-out input per trained full-attention head (for the marker, the input whose marker sits nearest the
  // middle), with mean pooling E = F and k = n/4. P̄ is the small matrix the kernel really stores: each of the n
  // queries spreads its weight over k projected positions. P̄ F is the n × n matrix it implicitly applies to the
  // values. Next to them, the head's own attention P.
  // %%
  L.step("Step 7 · P_bar, P_bar F and full attention side by side");
  {
    std::vector<img::Image> rows;
    const Tensor pool = pooling_projection(k_demo, n);
    for (size_t c = 0; c < 2; ++c) {
      const Kind& kd = kinds[c];
      int64_t pick = 0;  // which held-out input to draw
      if (models[c].task == Task::find_marker) {
        int64_t best = n;
        for (int64_t b = 0; b < n_eval; ++b)
          for (int64_t i = 0; i < n; ++i)
            if (models[c].eval_ids.at({b, i}) >= 8 && std::abs(i - n / 2) < best) best = std::abs(i - n / 2), pick = b;
      }
      core::NoGradGuard no_grad;
      const Tensor q0 = core::slice(kd.eval.q, 0, pick, pick + 1), k0 = core::slice(kd.eval.k, 0, pick, pick + 1);
      const Tensor P_bar = head(attention::linformer_context(q0, k0, pool), 0);                // (n, k)
      const Tensor A = head(attention::linformer_effective_attention(q0, k0, pool, pool), 0);  // (n, n)
      const Tensor P = head(kd.eval.P, 0, pick);                                               // (n, n)
      const std::string sub = std::string(task_name(models[c].task)) + ", head " + std::to_string(models[c].head) +
                              ", input " + std::to_string(pick) + ", pooling, k = " + std::to_string(k_demo);
      const lesson::MapStyle style = lesson::MapStyle().value("weight").px(300);
      rows.push_back(img::hstack({matrix_map(P_bar, "P_bar (n x k): what Linformer stores", sub,
                                             style.xlabel("projected position r")),
                                  matrix_map(A, "P_bar F (n x n): what it applies", sub, style),
                                  matrix_map(P, "P: full softmax attention", sub, style)}));
      L.say(task_name(models[c].task), ", input ", pick, ": relative error of P_bar F ",
            lesson::fixed(relative_errors(core::reshape(A, {1, 1, n, n}), core::reshape(P, {1, 1, n, n}))[0], 3),
            ", SVD floor ", lesson::fixed(kd.spectrum.floors[pick][k_demo], 3));
    }
    L.show(img::vstack(rows), "matrices.png",
           "top: find the marker, bottom: previous token. P (right) is one bright column (the marker) or the line "
           "just under the diagonal (the left neighbour). P_bar (left) is only k columns wide - all the kernel "
           "stores. In P_bar F (middle) each weight is spread evenly over a segment of n/k keys: the marker's "
           "column becomes a band n/k wide; the diagonal dissolves, because averaged keys no longer tell where "
           "position i-1 is, and many rows pick a wrong segment");
  }

  // %% [markdown]
  // ## Step 8 · the cost: linear vs quadratic
  // Forward + backward of one attention call, B = 1, H = 1, d = 64, Linformer with k = 64 (its kernel keeps P̄:
  // n × k floats, plus K̄ and V̄) beside full attention (n × n probabilities and their gradients). Memory is
  // counted exactly by core::memory; times are medians of a few runs and vary from machine to machine.
  // %%
  L.step("Step 8 · time and peak memory vs n: Linformer (k = 64) beside full attention");
  const lesson::CostResult cost = lesson::cost_step(
      L,
      {lesson::Curve("full").up_to(quick ? 2048 : 4096).expect(2.0, 2.0),
       lesson::Curve("linformer", {"k=64"}, "linformer k=64").expect(1.0, 1.0)},
      lesson::CostOptions()
          .sizes(quick ? 512 : 256, quick ? 4096 : 16384)
          .title("Linformer (k = 64) vs full attention")
          .figure("cost.png",
                  "log-log axes, where a slope of 2 is quadratic and a slope of 1 linear: full attention's memory "
                  "climbs twice as steeply as Linformer's, and the gap widens with n"));
  // full / linformer at the largest n measured for both
  const attention::Scaling& full_cost = cost.fit("full");
  const attention::Scaling& lin_cost = cost.fit("linformer k=64");
  const double ratio_n = full_cost.n.back();
  const size_t at = size_t(lin_cost.index_of(ratio_n));
  const double memory_ratio = full_cost.mib.back() / lin_cost.mib[at], time_ratio = full_cost.ms.back() / lin_cost.ms[at];

  // %% [markdown]
  // ## Step 9 · what the paper reported, and what we measured
  // The paper's results (Wang et al. 2020), quoted as theirs:
  // - Spectrum: in pretrained RoBERTa-base and -large, the normalised cumulative singular values of P rise
  //   steeply: most of the mass lies in the first ~128 of 512 (their Figure 1), more so in higher layers.
  // - Pretraining (masked language modelling on BookCorpus + English Wikipedia, n = 512): validation perplexity
  //   with k = 128 comes close to the standard Transformer and k = 256 matches it (their Figure 3); with k fixed,
  //   longer n (up to 4096) reaches about the same final perplexity.
  // - Downstream (their Table 2, n = 512): RoBERTa-base SST-2 93.1, IMDB 94.1, QNLI 90.9, QQP 90.9 (average
  //   92.25); Linformer k = 128: 92.4, 94.0, 90.4, 90.2 (average 91.75); with k = 256 it matches or slightly
  //   beats RoBERTa. Sharing E, F across heads, keys and values, or layers costs almost nothing.
  // - Efficiency (their Table 3, inference): the gain grows with n, to about 20× faster and 60× less memory at
  //   n = 65536 with k = 128.
  // - Long Range Arena (Tay et al. 2021) measured Linformer at 4K tokens about 5.5× faster than the Transformer
  //   with about 10× less memory, and an average accuracy of 51.4 against the Transformer's 54.4.
  // Our tiny measurements say the same about cost, and add a caution about the low-rank argument: a low rank
  // per input is not enough; Linformer needs the attention of all inputs to live in one k-dimensional subspace.
  // In language models much attention is broad or local, and E, F, W_q, W_k, W_v adapt to each other in
  // training — which is how the paper's models get by with k = 128 of 512.
  // %%
  L.step("Step 9 · the paper's results next to ours");
  L.say("The paper's (Wang et al. 2020): GLUE/IMDB average 91.75 for Linformer n=512 k=128 vs 92.25 for RoBERTa-base,");
  L.say("  about equal at k=256; inference up to ~20x faster with ~60x less memory at n=65536, k=128.");
  L.say("The paper's, LRA (Tay et al. 2021): ~5.5x faster, ~10x less memory at 4K tokens; accuracy 51.4 vs 54.4.");
  L.say("Ours (measured): energy in sigma_1 ", lesson::fixed(kinds[0].spectrum.energy[0], 3), " (content head) vs ",
        lesson::fixed(kinds[1].spectrum.energy[0], 3), " (positional head); Linformer k = n/4 trained end to end: ",
        lesson::fixed(100 * linformer_accuracy[0], 1), " % and ", lesson::fixed(100 * linformer_accuracy[1], 1),
        " % where full attention reached ", lesson::fixed(100 * models[0].accuracy, 1), " % and ",
        lesson::fixed(100 * models[1].accuracy, 1), " %;");
  L.say("  at n = ", ratio_n, ", k = 64: ", lesson::fixed(memory_ratio, 1), "x less memory and ", lesson::fixed(time_ratio, 1),
        "x less time than full attention (forward + backward, this machine).");

  // %% [markdown]
  // ## Exercises
  // 1. In the EXERCISE block, try the first k positions, all-ones rows, and a mix of strided and pooled rows.
  //    Predict the rank of P_bar F for each before you run. Which fixed projection suits which head, and why
  //    does none of them find the marker at small k?
  // 2. In Step 6, try share=kv (mc.set = {"k=16", "share=kv"}) and k = n (then E, F can become the identity).
  //    Does Linformer learn "find the marker" then? How many steps does it need?
  // 3. Why can Linformer not be causal? Write down which entries of P̄ F above the diagonal are non-zero.
  // 4. From the cost table, estimate the n at which Linformer (k = 64) uses 100× less memory than full attention.
  // Next lesson: Synthesizer — attention weights that do not look at the keys at all.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
