// attention/star.cpp — the Star Transformer: ring satellites + one relay, and the registered scheme "star".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, D = d_model = H * d.
#include "attention/star.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attention/dense.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"
#include "core/parallel.h"
#include "core/row_sums.h"

namespace attention {

using namespace core;
using detail::lane_sum;
using detail::parallel_rows;

// ---- the ring ---------------------------------------------------------------------------------------------
StarRing star_ring(int64_t batch, int64_t n, const Tensor& pad) {
  AZ_CHECK(batch >= 1 && n >= 1, "star: the ring needs B >= 1 and n >= 1, got B = ", batch, ", n = ", n);
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({batch, n}), "star: key_padding_mask must be (B, n) = ", Shape({batch, n}),
             ", got ", pad.shape());
  StarRing ring{IntTensor({batch, n}), IntTensor({batch, n})};
  for (int64_t b = 0; b < batch; ++b) {
    auto real = [&](int64_t j) { return !pad.defined() || pad.data()[b * n + j] != 0.0f; };
    for (int64_t i = 0; i < n; ++i) {
      // nearest real token before / after i, cyclically (i itself if it is the only one, or if none is real)
      int64_t p = i, q = i;
      for (int64_t step = 1; step <= n; ++step) {
        const int64_t j = ((i - step) % n + n) % n;
        if (real(j)) {
          p = j;
          break;
        }
      }
      for (int64_t step = 1; step <= n; ++step) {
        const int64_t j = (i + step) % n;
        if (real(j)) {
          q = j;
          break;
        }
      }
      ring.prev.data[static_cast<size_t>(b * n + i)] = p;
      ring.next.data[static_cast<size_t>(b * n + i)] = q;
    }
  }
  return ring;
}

// ---- the satellite update -----------------------------------------------------------------------------------
namespace {

void check_satellite_shapes(const Tensor& q, const Tensor& k_h, const Tensor& v_h, const Tensor& k_e,
                            const Tensor& v_e, const Tensor& k_s, const Tensor& v_s, const StarRing& ring) {
  AZ_CHECK(q.defined() && q.dim() == 4, "star: q must be (B, H, n, d), got ", q.defined() ? q.shape() : Shape{});
  const Shape& s = q.shape();
  for (const Tensor* t : {&k_h, &v_h, &k_e, &v_e})
    AZ_CHECK(t->defined() && t->shape() == s, "star: satellite and embedding keys/values must be ", s, " like q, got ",
             t->defined() ? t->shape() : Shape{});
  const Shape relay{s[0], s[1], 1, s[3]};
  for (const Tensor* t : {&k_s, &v_s})
    AZ_CHECK(t->defined() && t->shape() == relay, "star: the relay key/value must be (B, H, 1, d) = ", relay,
             ", got ", t->defined() ? t->shape() : Shape{});
  AZ_CHECK(ring.prev.shape == Shape({s[0], s[2]}) && ring.next.shape == Shape({s[0], s[2]}),
           "star: the ring must be (B, n) = ", Shape({s[0], s[2]}), ", got ", ring.prev.shape);
}

// Where the 5 context keys (or values) of satellite i of sequence bh sit: satellites, embedding, relay.
struct Context {
  const float* at[kStarSlots];
};
inline Context context_of(const float* h, const float* e, const float* s, int64_t bh, int64_t n, int64_t d,
                          int64_t prev, int64_t i, int64_t next) {
  return {{h + (bh * n + prev) * d, h + (bh * n + i) * d, h + (bh * n + next) * d, e + (bh * n + i) * d, s + bh * d}};
}

// probs (B, H, n, 5) and, if out != nullptr, out (B, H, n, d).
void satellite_forward(const Tensor& q, const Tensor& k_h, const Tensor& v_h, const Tensor& k_e, const Tensor& v_e,
                       const Tensor& k_s, const Tensor& v_s, const StarRing& ring, float* probs, float* out) {
  const int64_t H = q.size(1), n = q.size(2), d = q.size(3);
  const int64_t rows = q.size(0) * H * n;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const float *pq = q.data(), *pkh = k_h.data(), *pke = k_e.data(), *pks = k_s.data();
  const float *pvh = out ? v_h.data() : nullptr, *pve = out ? v_e.data() : nullptr, *pvs = out ? v_s.data() : nullptr;
  parallel_rows(rows, 2 * kStarSlots * d, [&](int64_t r) {
    const int64_t bh = r / n, i = r % n, b = bh / H;
    const int64_t prev = ring.prev.data[static_cast<size_t>(b * n + i)];
    const int64_t next = ring.next.data[static_cast<size_t>(b * n + i)];
    const float* qi = pq + r * d;
    const Context key = context_of(pkh, pke, pks, bh, n, d, prev, i, next);
    // scores: s_c = q_i · key_c / √d, then a softmax over the 5 slots
    double score[kStarSlots], top = -1e300;
    for (int c = 0; c < kStarSlots; ++c) {
      const float* kc = key.at[c];
      score[c] = lane_sum(d, [&](int64_t t) { return static_cast<double>(qi[t]) * kc[t]; }) * scale;
      top = std::max(top, score[c]);
    }
    double total = 0.0;
    for (int c = 0; c < kStarSlots; ++c) total += (score[c] = std::exp(score[c] - top));
    float* p = probs + r * kStarSlots;
    for (int c = 0; c < kStarSlots; ++c) p[c] = static_cast<float>(score[c] / total);
    if (!out) return;
    // out_i = Σ_c p_c value_c
    const Context val = context_of(pvh, pve, pvs, bh, n, d, prev, i, next);
    float* o = out + r * d;
    for (int64_t t = 0; t < d; ++t) {
      float acc = 0.0f;
      for (int c = 0; c < kStarSlots; ++c) acc += p[c] * val.at[c][t];
      o[t] = acc;
    }
  });
}

}  // namespace

Tensor star_satellite_probabilities(const Tensor& q, const Tensor& k_h, const Tensor& k_e, const Tensor& k_s,
                                    const StarRing& ring) {
  check_satellite_shapes(q, k_h, k_h, k_e, k_e, k_s, k_s, ring);
  Tensor probs = Tensor::empty({q.size(0), q.size(1), q.size(2), kStarSlots});  // (B, H, n, 5)
  satellite_forward(q, k_h, k_h, k_e, k_e, k_s, k_s, ring, probs.data(), nullptr);
  return probs;
}

Tensor star_satellite_attention(const Tensor& q, const Tensor& k_h, const Tensor& v_h, const Tensor& k_e,
                                const Tensor& v_e, const Tensor& k_s, const Tensor& v_s, const StarRing& ring) {
  check_satellite_shapes(q, k_h, v_h, k_e, v_e, k_s, v_s, ring);
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
  Tensor out = Tensor::empty(q.shape());               // (B, H, n, d)
  Tensor probs = Tensor::empty({B, H, n, kStarSlots});  // (B, H, n, 5): all the backward pass needs besides inputs
  satellite_forward(q, k_h, v_h, k_e, v_e, k_s, v_s, ring, probs.data(), out.data());

  return record(
      out, "star_satellite_attention", {q, k_h, v_h, k_e, v_e, k_s, v_s},
      [ring, B, H, n, d](BackwardContext& c) {
        const Tensor &q = c.inputs[0], &k_h = c.inputs[1], &v_h = c.inputs[2], &k_e = c.inputs[3],
                     &v_e = c.inputs[4], &k_s = c.inputs[5], &v_s = c.inputs[6];
        const float* P = c.saved[0].data();  // (B, H, n, 5)
        const float* G = c.grad_out.data();  // (B, H, n, d)
        // Gradients are accumulated with += : a satellite is the neighbour of two others and its own self key.
        Tensor dq = Tensor::zeros(q.shape()), dk_h = Tensor::zeros(q.shape()), dv_h = Tensor::zeros(q.shape()),
               dk_e = Tensor::zeros(q.shape()), dv_e = Tensor::zeros(q.shape()), dk_s = Tensor::zeros(k_s.shape()),
               dv_s = Tensor::zeros(k_s.shape());
        const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
        // One (b, h) sequence per thread: its scatters into neighbours never cross into another sequence.
        parallel_rows(B * H, n * d * 4 * kStarSlots, [&](int64_t bh) {
          const int64_t b = bh / H;
          for (int64_t i = 0; i < n; ++i) {
            const int64_t r = bh * n + i;
            const int64_t prev = ring.prev.data[static_cast<size_t>(b * n + i)];
            const int64_t next = ring.next.data[static_cast<size_t>(b * n + i)];
            const float* p = P + r * kStarSlots;
            const float* g = G + r * d;
            const float* qi = q.data() + r * d;
            const Context key = context_of(k_h.data(), k_e.data(), k_s.data(), bh, n, d, prev, i, next);
            const Context val = context_of(v_h.data(), v_e.data(), v_s.data(), bh, n, d, prev, i, next);
            float* dkey[kStarSlots] = {dk_h.data() + (bh * n + prev) * d, dk_h.data() + r * d,
                                       dk_h.data() + (bh * n + next) * d, dk_e.data() + r * d, dk_s.data() + bh * d};
            float* dval[kStarSlots] = {dv_h.data() + (bh * n + prev) * d, dv_h.data() + r * d,
                                       dv_h.data() + (bh * n + next) * d, dv_e.data() + r * d, dv_s.data() + bh * d};
            // forward: out_i = Σ_c p_c value_c  =>  dp_c = g · value_c,  dvalue_c += p_c g
            double dp[kStarSlots], dot = 0.0;
            for (int s = 0; s < kStarSlots; ++s) {
              const float* vs = val.at[s];
              const double acc = lane_sum(d, [&](int64_t t) { return static_cast<double>(g[t]) * vs[t]; });
              dp[s] = acc;
              dot += p[s] * acc;
              for (int64_t t = 0; t < d; ++t) dval[s][t] += p[s] * g[t];
            }
            // forward: p = softmax(score)  =>  dscore_c = p_c (dp_c - Σ_c' p_c' dp_c')
            // forward: score_c = q_i · key_c / √d  =>  dq_i += dscore_c key_c / √d,  dkey_c += dscore_c q_i / √d
            float* dqi = dq.data() + r * d;
            for (int s = 0; s < kStarSlots; ++s) {
              const float ds = static_cast<float>(p[s] * (dp[s] - dot)) * scale;
              for (int64_t t = 0; t < d; ++t) {
                dqi[t] += ds * key.at[s][t];
                dkey[s][t] += ds * qi[t];
              }
            }
          }
        });
        c.add_grad(0, dq);
        c.add_grad(1, dk_h);
        c.add_grad(2, dv_h);
        c.add_grad(3, dk_e);
        c.add_grad(4, dv_e);
        c.add_grad(5, dk_s);
        c.add_grad(6, dv_s);
      },
      {probs});
}

// ---- the kernel on q, k, v ----------------------------------------------------------------------------------
Tensor star_token_mean(const Tensor& x, const Tensor& pad) {
  AZ_CHECK(x.dim() == 4, "star: star_token_mean wants (B, H, n, d), got ", x.shape());
  if (!pad.defined()) return mean(x, 2, true);  // (B, H, 1, d)
  const int64_t B = x.size(0), n = x.size(2);
  AZ_CHECK(pad.shape() == Shape({B, n}), "star: key_padding_mask must be (B, n) = ", Shape({B, n}), ", got ",
           pad.shape());
  // Σ_j m_j x_j / max(1, Σ_j m_j): padding takes no part in the relay.
  Tensor inv = Tensor::empty({B, 1, 1, 1});
  for (int64_t b = 0; b < B; ++b) {
    double count = 0.0;
    for (int64_t j = 0; j < n; ++j) count += pad.data()[b * n + j] != 0.0f;
    inv.data()[b] = static_cast<float>(1.0 / std::max(1.0, count));
  }
  const Tensor m = reshape(pad.detach(), {B, 1, n, 1});
  return sum(x * m, 2, true) * inv;  // (B, H, 1, d)
}

Tensor star_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& pad) {
  Scheme::check_qkv(q, k, v, "star");
  AZ_CHECK(k.size(2) == q.size(2), "star: the keys are the satellites themselves, so q and k need the same n; got q ",
           q.shape(), " and k ", k.shape());
  const StarRing ring = star_ring(q.size(0), q.size(2), pad);
  const Tensor k_s = star_token_mean(k, pad), v_s = star_token_mean(v, pad);  // (B, H, 1, d): the relay s⁰
  // h⁰ = e: the embedding slot's key/value are the satellite's own.
  return star_satellite_attention(q, k, v, k, v, k_s, v_s, ring);
}

Tensor star_effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& pad) {
  Scheme::check_qkv(q, k, v, "star");
  AZ_CHECK(k.size(2) == q.size(2), "star: the keys are the satellites themselves, so q and k need the same n; got q ",
           q.shape(), " and k ", k.shape());
  NoGradGuard no_grad;
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2);
  const StarRing ring = star_ring(B, n, pad);
  const Tensor k_s = star_token_mean(k.detach(), pad);
  const Tensor P = star_satellite_probabilities(q.detach(), k.detach(), k.detach(), k_s, ring);  // (B, H, n, 5)
  // The relay's value is Σ_j w_j v_j with w_j = 1/count for real tokens: its weight spreads over every column.
  std::vector<float> w(static_cast<size_t>(B * n));
  for (int64_t b = 0; b < B; ++b) {
    double count = 0.0;
    for (int64_t j = 0; j < n; ++j) count += !pad.defined() || pad.data()[b * n + j] != 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      const bool real = !pad.defined() || pad.data()[b * n + j] != 0.0f;
      w[static_cast<size_t>(b * n + j)] = real ? static_cast<float>(1.0 / std::max(1.0, count)) : 0.0f;
    }
  }
  Tensor A = Tensor::zeros({B, H, n, n});  // (B, H, n, n)
  float* pa = A.data();
  const float* pp = P.data();
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H;
    for (int64_t i = 0; i < n; ++i) {
      const float* p = pp + (bh * n + i) * kStarSlots;
      float* row = pa + (bh * n + i) * n;
      for (int64_t j = 0; j < n; ++j) row[j] = p[kStarRelay] * w[static_cast<size_t>(b * n + j)];
      row[ring.prev.data[static_cast<size_t>(b * n + i)]] += p[kStarPrev];
      row[i] += p[kStarSelf] + p[kStarEmbedding];
      row[ring.next.data[static_cast<size_t>(b * n + i)]] += p[kStarNext];
    }
  }
  return A;
}

Tensor star_connectivity(int64_t n) {
  AZ_CHECK(n >= 1, "star: star_connectivity needs n >= 1, got ", n);
  Tensor C = Tensor::zeros({n + 1, n + 2});  // rows: satellites, relay; columns: satellites, embedding, relay
  for (int64_t i = 0; i < n; ++i) {
    C.at({i, (i + n - 1) % n}) = 1.0f;
    C.at({i, i}) = 1.0f;
    C.at({i, (i + 1) % n}) = 1.0f;
    C.at({i, n}) = 1.0f;      // eᵢ
    C.at({i, n + 1}) = 1.0f;  // s
  }
  for (int64_t j = 0; j < n; ++j) C.at({n, j}) = 1.0f;  // the relay reads every satellite ...
  C.at({n, n + 1}) = 1.0f;                               // ... and itself
  return C;
}

// ---- the layer ----------------------------------------------------------------------------------------------
StarCycle::StarCycle(int64_t D, bool with_relay, Rng& rng)
    : w_q(D, D, rng), w_k(D, D, rng), w_v(D, D, rng), w_o(D, D, rng), satellite_norm(D) {
  register_module("w_q", w_q);
  register_module("w_k", w_k);
  register_module("w_v", w_v);
  register_module("w_o", w_o);
  register_module("satellite_norm", satellite_norm);
  if (!with_relay) return;
  r_q = std::make_unique<nn::Linear>(D, D, rng);
  r_k = std::make_unique<nn::Linear>(D, D, rng);
  r_v = std::make_unique<nn::Linear>(D, D, rng);
  r_o = std::make_unique<nn::Linear>(D, D, rng);
  relay_norm = std::make_unique<nn::LayerNorm>(D);
  register_module("r_q", *r_q);
  register_module("r_k", *r_k);
  register_module("r_v", *r_v);
  register_module("r_o", *r_o);
  register_module("relay_norm", *relay_norm);
}

StarLayer::StarLayer(const LayerConfig& cfg, int64_t cycles_, Rng& rng)
    : d_model(cfg.d_model), n_heads(cfg.n_heads), cycles(cycles_) {
  check_heads(cfg, "star");
  AZ_CHECK(cycles >= 1, "star layer: cycles must be >= 1, got ", cycles);
  for (int64_t t = 0; t < cycles; ++t) {
    cycle.push_back(std::make_unique<StarCycle>(d_model, /*with_relay=*/t + 1 < cycles, rng));
    register_module("cycle" + std::to_string(t), *cycle.back());
  }
}

Tensor StarLayer::forward(const Tensor& x, const Tensor& pad) {
  AZ_CHECK(x.dim() == 3 && x.size(2) == d_model, "star layer: x must be (B, n, ", d_model, "), got ", x.shape());
  const int64_t B = x.size(0), n = x.size(1);
  const StarRing ring = star_ring(B, n, pad);  // checks pad's shape
  const Tensor& e = x;                          // (B, n, D) the token embeddings
  Tensor h = x;                                 // (B, n, D) satellites h⁰ = e
  // s⁰ = mean of the embeddings over the real tokens: (B, 1, D)
  Tensor s = squeeze(star_token_mean(unsqueeze(x, 1), pad), 1);
  // The relay reads [s; h_1..h_n]: the relay itself is never padding.
  Tensor relay_pad;
  if (pad.defined()) relay_pad = concat({Tensor::ones({B, 1}), pad.detach()}, 1);  // (B, n+1)
  for (int64_t t = 0; t < cycles; ++t) {
    StarCycle& c = *cycle[static_cast<size_t>(t)];
    // satellites: hᵢ <- LayerNorm(ReLU(MultiAtt(hᵢ, [h_{i-1}; hᵢ; h_{i+1}; eᵢ; s])))
    const Tensor q = split_heads(c.w_q.forward(h), n_heads);    // (B, H, n, d)
    const Tensor k_h = split_heads(c.w_k.forward(h), n_heads);  // (B, H, n, d)
    const Tensor v_h = split_heads(c.w_v.forward(h), n_heads);
    const Tensor k_e = split_heads(c.w_k.forward(e), n_heads);  // (B, H, n, d)
    const Tensor v_e = split_heads(c.w_v.forward(e), n_heads);
    const Tensor k_s = split_heads(c.w_k.forward(s), n_heads);  // (B, H, 1, d)
    const Tensor v_s = split_heads(c.w_v.forward(s), n_heads);
    const Tensor a = star_satellite_attention(q, k_h, v_h, k_e, v_e, k_s, v_s, ring);  // (B, H, n, d)
    h = c.satellite_norm.forward(relu(c.w_o.forward(merge_heads(a))));                 // (B, n, D)
    if (t + 1 == cycles) break;  // the last relay update would feed nothing (see star.h)
    // relay: s <- LayerNorm(ReLU(MultiAtt(s, [s; H])))
    const Tensor ctx = concat({s, h}, 1);                           // (B, n+1, D)
    const Tensor q_s = split_heads(c.r_q->forward(s), n_heads);     // (B, H, 1, d)
    const Tensor k_c = split_heads(c.r_k->forward(ctx), n_heads);   // (B, H, n+1, d)
    const Tensor v_c = split_heads(c.r_v->forward(ctx), n_heads);
    const Tensor r = dense_attention(q_s, k_c, v_c, {false, relay_pad});  // (B, H, 1, d): 1 × (n+1) scores
    s = c.relay_norm->forward(relu(c.r_o->forward(merge_heads(r))));       // (B, 1, D)
  }
  return h;  // (B, n, D)
}

// ---- the registered scheme "star" ---------------------------------------------------------------------------
namespace {

struct StarOptions {
  int64_t cycles = 2;  // T: update cycles per layer
};

const ParamTable<StarOptions>& star_params() {
  static const auto table = ParamTable<StarOptions>("star").integer(
      "cycles", &StarOptions::cycles, 1, 64,
      "layer: update cycles per layer (cycles satellite updates, cycles-1 relay updates between them, each cycle "
      "with its own weights); the kernel (run/show) is one satellite update");
  return table;
}

int64_t star_cycles(const Settings& settings) { return star_params().read(settings).cycles; }

SchemeInfo star_info() {
  SchemeInfo i;
  i.name = "star";
  i.summary =
      "Star Transformer: ring of satellites + one relay, O(n·d); run = one satellite update on q, k, v "
      "(context [k_{i-1}, k_i, k_{i+1}, k_i as the embedding, mean(k) as the relay])";
  i.paper = "Guo et al. 2019, Star-Transformer (NAACL)";
  i.lecture = 2;
  i.use(star_params());
  i.causal = false;
  i.causal_refusal = "the relay summarises the whole sequence, future tokens included, for every satellite";
  i.families = {Family::FP, Family::M};
  i.in_survey = false;  // the survey's Table 1 does not list Star; this is the course's placement
  i.exactness = Exactness::on_pattern;
  i.nonsmooth = "each cycle ends in LayerNorm(ReLU(.))";
  i.time_growth = "n";
  i.memory_exponent = 1;
  i.idea = "ring of neighbours (a window of 1) + one relay node every token reads";
  i.claim = {"Guo et al. 2019 (abstract): better than the standard Transformer on modestly sized datasets "
              "(22 datasets, 4 tasks; e.g. SST-5 53.0 % accuracy, as Papers with Code lists it)",
             attention::ClaimTest::small_data_beats_exact};
  i.lra_paper.model = "Star Transformer";
  i.test_settings = {{"cycles=1"}};
  return i;
}

class StarScheme : public Scheme {
 public:
  StarScheme() : Scheme(star_info()) {}
  Figure extra_figure(int64_t n, const Config&) const override {
    return {star_connectivity(n), "star - one cycle's connectivity", "satellite j | embedding e_i | relay",
            "satellite i | relay", "1 = attends"};
  }

  // Each satellite scores 5 keys: its ring neighbours, itself, its embedding and the relay.
  double flops(const Shape& q, const Config&) const override { return attention_flops(q, 5.0 * q[2]); }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    AZ_CHECK(!cfg.causal, "star: causal attention is not supported (the relay summarises the whole sequence)");
    star_cycles(cfg.settings);  // validated here too, so that `run --set cycles=0` is an error
    return star_attention(q, k, v, cfg.key_padding_mask);
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    AZ_CHECK(!cfg.causal, "star: causal attention is not supported (the relay summarises the whole sequence)");
    star_cycles(cfg.settings);
    return star_effective_attention(q, k, v, cfg.key_padding_mask);
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& cfg, Rng& rng) const override {
    const Config c = configure(cfg.set, cfg.causal, cfg.seed);
    return std::make_unique<StarLayer>(cfg, star_cycles(c.settings), rng);
  }
  // A pretrained standard layer's w_q, w_k, w_v, w_o start every cycle's satellite projections (cycleT.w_q, ...)
  // and its relay projections (cycleT.r_q, ...): both are multi-head attention over the token states. The
  // LayerNorms after each update have no counterpart and start fresh.
  std::vector<std::string> carry_names(const std::string& name, const Config& cfg) const override {
    static const char* const kProjections[] = {"w_q.", "w_k.", "w_v.", "w_o."};
    bool projection = false;
    for (const char* p : kProjections) projection = projection || name.rfind(p, 0) == 0;
    if (!projection) return {};
    const int64_t cycles = star_cycles(cfg.settings);
    std::vector<std::string> names;
    for (int64_t t = 0; t < cycles; ++t) {
      const std::string cycle = "cycle" + std::to_string(t) + ".";
      names.push_back(cycle + name);                                         // satellites: cycleT.w_q.weight
      if (t + 1 < cycles) names.push_back(cycle + "r" + name.substr(1));    // relay:      cycleT.r_q.weight
    }
    return names;
  }
};

Registrar registrar(std::make_unique<StarScheme>());

}  // namespace

}  // namespace attention
