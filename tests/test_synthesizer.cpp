// tests/test_synthesizer.cpp — the Synthesizer (attention/synthesizer.h): every mode against naive loops from the
// documented parameter draw, mixture with a zero synthetic part == full attention (outputs and gradients), R
// identical across inputs, dense rows from their own token only, heads transposed not reshaped, the top-left
// block == padding to max_len, the rank of the factorised modes, causal no-leak, fixed vs learned R, gradchecks,
// errors and determinism.
#include <limits>

#include "attention/dense.h"
#include "attention/synthesizer.h"
#include "core/svd.h"
#include "tests/helpers.h"

using namespace core;
using attention::SynthesizerLayer;
using attention::SynthesizerMode;
using testing::QKV;
using testing::random_qkv;

namespace {

const attention::Scheme& synth() { return attention::find_scheme("synthesizer"); }

const std::vector<std::string> kModes = {"dense", "random", "factorized_random", "factorized_dense", "mixture"};

// The kernel recomputed with plain loops in double precision: the parameters are drawn exactly as synthesizer.h
// documents (Rng(seed): W₁, b₁ for dense modes, then the mode's parameters at L = n), the logits by the paper's
// formulas, the mask and the softmax by hand.
Tensor naive_kernel(const Tensor& q, const Tensor& k, const Tensor& v, const std::string& mode, const std::string& mix,
                    int64_t rank, bool causal, const Tensor& pad, uint64_t seed) {
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
  const std::string base = mode == "mixture" ? mix : mode;
  const bool reads = base == "dense" || base == "factorized_dense";
  Rng rng(seed);
  Tensor W1, b1;
  if (reads) {
    const float bound = 1.0f / std::sqrt(float(d));
    W1 = rand_uniform({H, d, d}, rng, -bound, bound);
    b1 = rand_uniform({H, 1, d}, rng, -bound, bound);
  }
  SynthesizerMode m = base == "dense" ? SynthesizerMode::dense
                      : base == "random" ? SynthesizerMode::random
                      : base == "factorized_random" ? SynthesizerMode::factorized_random
                                                    : SynthesizerMode::factorized_dense;
  const attention::SynthesizerParams p = attention::init_synthesizer_params(m, H, n, d, rank, rng);
  Tensor out = Tensor::zeros(q.shape());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      // hidden[i][t] = relu(Σ_s q[i][s] W1[s][t] + b1[t])
      std::vector<std::vector<double>> hid(n, std::vector<double>(d, 0.0));
      if (reads)
        for (int64_t i = 0; i < n; ++i)
          for (int64_t t = 0; t < d; ++t) {
            double acc = b1.at({h, 0, t});
            for (int64_t s = 0; s < d; ++s) acc += double(q.at({b, h, i, s})) * W1.at({h, s, t});
            hid[i][t] = std::max(acc, 0.0);
          }
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> logit(n, -std::numeric_limits<double>::infinity());
        double top = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < n; ++j) {
          if ((causal && j > i) || (pad.defined() && pad.at({b, j}) == 0.0f)) continue;
          double x = 0.0;
          if (base == "random") x = p.R.at({h, i, j});
          if (base == "factorized_random")
            for (int64_t t = 0; t < rank; ++t) x += double(p.R1.at({h, i, t})) * p.R2.at({h, j, t});
          if (base == "dense") {
            x = p.b2.at({h, 0, j});
            for (int64_t t = 0; t < d; ++t) x += hid[i][t] * p.W2.at({h, t, j});
          }
          if (base == "factorized_dense") {
            const int64_t a = p.Wa.size(2);
            double A = p.ba.at({h, 0, j % a}), Bf = p.bb.at({h, 0, j / a});
            for (int64_t t = 0; t < d; ++t) {
              A += hid[i][t] * p.Wa.at({h, t, j % a});
              Bf += hid[i][t] * p.Wb.at({h, t, j / a});
            }
            x = A * Bf;
          }
          if (mode == "mixture") {
            double dot = 0.0;
            for (int64_t t = 0; t < d; ++t) dot += double(q.at({b, h, i, t})) * k.at({b, h, j, t});
            x += dot / std::sqrt(double(d));
          }
          logit[j] = x;
          top = std::max(top, x);
        }
        if (top == -std::numeric_limits<double>::infinity()) continue;
        double z = 0.0;
        for (int64_t j = 0; j < n; ++j) z += std::exp(logit[j] - top);
        for (int64_t j = 0; j < n; ++j)
          for (int64_t t = 0; t < d; ++t)
            out.at({b, h, i, t}) += static_cast<float>(std::exp(logit[j] - top) / z * v.at({b, h, j, t}));
      }
    }
  return out;
}

std::unique_ptr<attention::AttentionLayer> make_layer(const std::vector<std::string>& set, int64_t d_model,
                                                      int64_t heads, int64_t max_len, bool causal, uint64_t seed) {
  Rng rng(seed);
  attention::LayerConfig lc = testing::layer_config(d_model, heads, set, causal);
  lc.max_len = max_len;
  return synth().make_layer(lc, rng);
}

SynthesizerLayer& as_synth(std::unique_ptr<attention::AttentionLayer>& layer) {
  auto* s = dynamic_cast<SynthesizerLayer*>(layer.get());
  REQUIRE(s != nullptr);
  return *s;
}

}  // namespace

TEST_CASE("synthesizer: every mode's kernel equals naive loops over the documented parameter draw") {
  const Tensor pad = Tensor::from_vector({2, 9}, {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1});
  for (const std::string& mode : kModes)
    for (bool causal : {false, true})
      for (bool padded : {false, true}) {
        CAPTURE(mode);
        CAPTURE(causal);
        CAPTURE(padded);
        const QKV x = random_qkv({2, 2, 9, 4}, 5);
        attention::Config cfg = synth().configure({"mode=" + mode, "k=3", "mix=dense"}, causal, 17);
        if (padded) cfg.key_padding_mask = pad;
        const Tensor out = synth().kernel(x.q, x.k, x.v, cfg);
        const Tensor want = naive_kernel(x.q, x.k, x.v, mode, "dense", 3, causal, padded ? pad : Tensor(), 17);
        CHECK_CLOSE(out, want, 1e-4, 1e-5);
        const Tensor A = synth().effective_attention(x.q, x.k, x.v, cfg);
        REQUIRE(A.shape() == Shape{2, 2, 9, 9});
        CHECK_CLOSE(matmul(A, x.v), out, 1e-5, 1e-6);
      }
  // mixture with the other synthetic parts
  for (const std::string mix : {"random", "factorized_random", "factorized_dense"}) {
    CAPTURE(mix);
    const QKV x = random_qkv({1, 3, 7, 5}, 6);
    const Tensor out = synth().kernel(x.q, x.k, x.v, synth().configure({"mode=mixture", "mix=" + mix, "k=2"}, true, 3));
    CHECK_CLOSE(out, naive_kernel(x.q, x.k, x.v, "mixture", mix, 2, true, Tensor(), 3), 1e-4, 1e-5);
  }
}

TEST_CASE("synthesizer: kernel gradients — dv = Aᵀ g exactly; gradcheck of q, k, v in every mode") {
  for (const std::string& mode : kModes) {
    CAPTURE(mode);
    const attention::Config cfg = synth().configure({"mode=" + mode, "k=2"}, mode == "dense", 4);
    const QKV x = random_qkv({1, 2, 5, 3}, 30);
    std::vector<Tensor> l = {x.q.clone().set_requires_grad(), x.k.clone().set_requires_grad(),
                             x.v.clone().set_requires_grad()};
    const Tensor g = testing::rand_tensor({1, 2, 5, 3}, 31);
    synth().kernel(l[0], l[1], l[2], cfg).backward(g);
    const Tensor A = synth().effective_attention(x.q, x.k, x.v, cfg);
    CHECK_CLOSE(l[2].grad(), matmul(A, g, true, false), 1e-5, 1e-6);
    // random modes never read q or k: no gradient reaches them
    if (mode == "random" || mode == "factorized_random") {
      CHECK_FALSE(l[0].grad().defined());
      CHECK_FALSE(l[1].grad().defined());
    }
    GradcheckOptions opt;
    opt.name = "synthesizer " + mode;
    opt.eps = 3e-3f;  // dense modes pass q through a ReLU: keep the step away from its kink
    const auto r = gradcheck(
        [&](const std::vector<Tensor>& t) { return synth().kernel(t[0], t[1], t[2], cfg); },
        {testing::rand_away_from_zero({1, 2, 5, 3}, 32), x.k, x.v}, opt);
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("synthesizer: mixture with a zero synthetic part is exactly full attention (outputs and gradients)") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    auto layer = make_layer({"mode=mixture", "mix=random"}, 8, 2, 10, causal, 40);
    SynthesizerLayer& s = as_synth(layer);
    Rng rng(41);
    attention::LayerConfig lc = testing::layer_config(8, 2, {}, causal);
    auto full = attention::find_scheme("full").make_layer(lc, rng);
    auto* proj = dynamic_cast<attention::ProjectedAttention*>(full.get());
    REQUIRE(proj != nullptr);
    {
      NoGradGuard no_grad;
      for (int64_t i = 0; i < s.params.R.numel(); ++i) s.params.R.data()[i] = 0.0f;
      const std::pair<nn::Linear*, nn::Linear*> pairs[] = {
          {s.w_q.get(), &proj->w_q}, {s.w_k.get(), &proj->w_k}, {&s.w_v, &proj->w_v}, {&s.w_o, &proj->w_o}};
      for (const auto& [a, b] : pairs) {
        std::copy_n(b->weight.data(), b->weight.numel(), a->weight.data());
        std::copy_n(b->bias.data(), b->bias.numel(), a->bias.data());
      }
    }
    Tensor x1 = testing::rand_tensor({2, 7, 8}, 42).set_requires_grad();
    Tensor x2 = x1.detach().clone().set_requires_grad();
    const Tensor pad = Tensor::from_vector({2, 7}, {1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1});
    const Tensor y1 = layer->forward(x1, pad), y2 = full->forward(x2, pad);
    CHECK_CLOSE(y1, y2, 1e-4, 1e-6);
    const Tensor g = testing::rand_tensor({2, 7, 8}, 43);
    y1.backward(g);
    y2.backward(g);
    CHECK_CLOSE(x1.grad(), x2.grad(), 1e-4, 1e-5);
    CHECK_CLOSE(s.w_q->weight.grad(), proj->w_q.weight.grad(), 1e-4, 1e-5);
    CHECK_CLOSE(s.w_k->weight.grad(), proj->w_k.weight.grad(), 1e-4, 1e-5);
    CHECK_CLOSE(s.w_v.weight.grad(), proj->w_v.weight.grad(), 1e-4, 1e-5);
    CHECK_CLOSE(s.w_o.bias.grad(), proj->w_o.bias.grad(), 1e-4, 1e-5);
  }
}

TEST_CASE("synthesizer: random mode — the attention matrix is the same for every input") {
  auto layer = make_layer({"mode=random"}, 8, 2, 16, false, 50);
  SynthesizerLayer& s = as_synth(layer);
  const Tensor a = s.probabilities(testing::rand_tensor({1, 16, 8}, 51));
  const Tensor b = s.probabilities(testing::rand_tensor({1, 16, 8}, 52) * 5.0f);
  CHECK(testing::bit_equal(a, b));
  CHECK(testing::bit_equal(s.logits(testing::rand_tensor({1, 16, 8}, 53)), unsqueeze(s.params.R, 0)));
  // and it is not the uniform matrix
  CHECK(testing::max_abs(a - 1.0f / 16.0f) > 0.05f);
}

TEST_CASE("synthesizer: dense mode — row i of the logits comes from token i alone") {
  for (const std::string mode : {"dense", "factorized_dense"}) {
    CAPTURE(mode);
    auto layer = make_layer({"mode=" + mode, "k=4"}, 8, 2, 12, false, 60);
    SynthesizerLayer& s = as_synth(layer);
    const Tensor x = testing::rand_tensor({1, 12, 8}, 61);
    Tensor x2 = x.clone();
    for (int64_t c = 0; c < 8; ++c) x2.at({0, 5, c}) += 1.0f;  // change token 5 only
    const Tensor a = s.logits(x), b = s.logits(x2);
    REQUIRE(a.shape() == Shape{1, 2, 12, 12});
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 12; ++i) {
        CAPTURE(i);
        const bool same = testing::bit_equal(slice(slice(a, 1, h, h + 1), 2, i, i + 1),
                                             slice(slice(b, 1, h, h + 1), 2, i, i + 1));
        CHECK(same == (i != 5));
      }
  }
}

TEST_CASE("synthesizer: heads and positions are transposed, not reshaped — every head gets its own logits") {
  const int64_t D = 8, H = 2, e = 4, n = 6;
  auto layer = make_layer({"mode=dense"}, D, H, n, false, 70);
  SynthesizerLayer& s = as_synth(layer);
  const Tensor x = testing::rand_tensor({2, n, D}, 71);
  const Tensor logits = s.logits(x);  // (2, H, n, n)
  // by hand: hidden = relu(x W₁ᵀ + b₁) is (B, n, D); head h owns channels [h·e, (h+1)·e) of token i
  const Tensor hidden = relu(s.w_1->forward(x));
  Tensor want = Tensor::zeros({2, H, n, n});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double acc = s.params.b2.at({h, 0, j});
          for (int64_t t = 0; t < e; ++t) acc += double(hidden.at({b, i, h * e + t})) * s.params.W2.at({h, t, j});
          want.at({b, h, i, j}) = static_cast<float>(acc);
        }
  CHECK_CLOSE(logits, want, 1e-5, 1e-6);
  // The pitfall, for contrast: a reshape of (B, n, D) to (B, H, n, e) hands head 0 the channels of other tokens.
  const Tensor scrambled = attention::dense_synthesizer_logits(reshape(hidden, {2, H, n, e}), s.params.W2,
                                                               s.params.b2, n);
  CHECK_FALSE(testing::close(scrambled, want, 1e-3, 1e-4).ok);
}

TEST_CASE("synthesizer: a short sequence uses the top-left block, which equals padding to max_len") {
  for (const std::string mode : {"random", "dense", "factorized_random", "factorized_dense"}) {
    CAPTURE(mode);
    const int64_t L = 12, n = 7;
    auto layer = make_layer({"mode=" + mode, "k=5"}, 8, 2, L, false, 80);
    SynthesizerLayer& s = as_synth(layer);
    const Tensor x_long = testing::rand_tensor({1, L, 8}, 81);
    const Tensor x = slice(x_long, 1, 0, n);
    Tensor pad = Tensor::ones({1, L});
    for (int64_t j = n; j < L; ++j) pad.at({0, j}) = 0.0f;
    const Tensor short_out = layer->forward(x);
    const Tensor padded_out = layer->forward(x_long, pad);
    CHECK_CLOSE(short_out, slice(padded_out, 1, 0, n), 1e-5, 1e-6);
    if (mode == "random")
      CHECK(testing::bit_equal(s.logits(x), unsqueeze(slice(slice(s.params.R, 1, 0, n), 2, 0, n), 0)));
    CHECK_THROWS_WITH_AS(layer->forward(testing::rand_tensor({1, L + 1, 8}, 82)),
                         doctest::Contains("n=13 exceeds max_len=12"), core::Error);
  }
}

TEST_CASE("synthesizer: factorized_random has rank k; a factorized_dense row is a rank-1 (b x a) grid") {
  auto layer = make_layer({"mode=factorized_random", "k=3"}, 8, 2, 16, false, 90);
  const Tensor R = as_synth(layer).logits(testing::rand_tensor({1, 16, 8}, 91));  // (1, 2, 16, 16)
  for (int64_t h = 0; h < 2; ++h) CHECK(core::numerical_rank(reshape(slice(R, 1, h, h + 1), {16, 16})) == 3);
  auto random = make_layer({"mode=random"}, 8, 2, 16, false, 92);
  CHECK(core::numerical_rank(reshape(slice(as_synth(random).params.R, 0, 0, 1), {16, 16})) == 16);

  auto fd = make_layer({"mode=factorized_dense", "k=4"}, 8, 2, 16, false, 93);  // a = 4, b = 4
  const Tensor F = as_synth(fd).logits(testing::rand_tensor({1, 16, 8}, 94));     // (1, 2, 16, 16)
  for (int64_t i : {0, 9}) {
    Tensor grid = Tensor::empty({4, 4});  // grid[r][c] = row i at column j = r·a + c
    for (int64_t j = 0; j < 16; ++j) grid.at({j / 4, j % 4}) = F.at({0, 1, i, j});
    CHECK(core::numerical_rank(grid) == 1);
  }
}

TEST_CASE("synthesizer: causal layers leak nothing from later tokens, in every mode") {
  for (const std::string& mode : kModes) {
    CAPTURE(mode);
    auto layer = make_layer({"mode=" + mode, "k=3"}, 8, 2, 12, true, 100);
    const Tensor x = testing::rand_tensor({2, 12, 8}, 101);
    Tensor x2 = x.clone();
    for (int64_t i = 6; i < 12; ++i)
      for (int64_t c = 0; c < 8; ++c) x2.at({1, i, c}) = -x2.at({1, i, c}) + 0.3f;
    const Tensor a = layer->forward(x), b = layer->forward(x2);
    CHECK(testing::bit_equal(slice(a, 1, 0, 6), slice(b, 1, 0, 6)));
    const Tensor P = as_synth(layer).probabilities(x);
    int64_t above = 0;
    for (int64_t bh = 0; bh < P.size(0) * 2; ++bh)
      for (int64_t i = 0; i < 12; ++i)
        for (int64_t j = i + 1; j < 12; ++j) above += P.data()[(bh * 12 + i) * 12 + j] != 0.0f;
    CHECK(above == 0);
  }
}

TEST_CASE("synthesizer: trainable=false keeps R fixed (not a parameter); trainable=true learns it") {
  auto fixed = make_layer({"mode=random", "trainable=false"}, 8, 2, 8, false, 110);
  auto learned = make_layer({"mode=random"}, 8, 2, 8, false, 110);
  CHECK(fixed->parameters().size() == 4);    // w_v, w_o (weight + bias)
  CHECK(learned->parameters().size() == 5);  // + R
  for (const auto& [name, p] : fixed->named_parameters()) CHECK(name.find("R") == std::string::npos);
  CHECK(testing::bit_equal(as_synth(fixed).params.R, as_synth(learned).params.R));  // same draw
  // not trained, but the layer's state: a buffer, so that a checkpoint keeps it
  REQUIRE(fixed->named_buffers().size() == 1);
  CHECK(fixed->named_buffers()[0].first == "R");
  CHECK(fixed->named_buffers()[0].second.impl() == as_synth(fixed).params.R.impl());
  CHECK(learned->named_buffers().empty());
  const Tensor x = testing::rand_tensor({1, 8, 8}, 111);
  sum(fixed->forward(x)).backward();
  CHECK_FALSE(as_synth(fixed).params.R.grad().defined());
  auto fr = make_layer({"mode=factorized_random", "trainable=false"}, 8, 2, 8, false, 112);
  CHECK(fr->parameters().size() == 4);
  REQUIRE(fr->named_buffers().size() == 2);
  CHECK(fr->named_buffers()[0].first == "R1");
  CHECK(fr->named_buffers()[1].first == "R2");
  auto dense = make_layer({"mode=dense", "trainable=false"}, 8, 2, 8, false, 113);  // no effect on dense modes
  CHECK(dense->parameters().size() == 8);  // w_v, w_o, w_1, W2, b2
}

TEST_CASE("synthesizer: the layer gradchecks through x and every parameter, in every mode") {
  for (const std::string& mode : kModes) {
    CAPTURE(mode);
    auto layer = make_layer({"mode=" + mode, "k=2", "mix=dense"}, 4, 2, 5, mode == "random", 120);
    Tensor x = testing::rand_tensor({2, 5, 4}, 121);
    x.set_requires_grad();
    GradcheckOptions opt;
    opt.eps = 3e-3f;  // dense modes have a ReLU: a small step stays on one side of its kink
    const auto r = testing::gradcheck_layer(*layer, x, opt);
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.checked == x.numel() + layer->num_parameters());
  }
}

TEST_CASE("synthesizer: mix cannot be mixture; q and k need the same n; same seed, same bytes in every mode") {
  const QKV x = random_qkv({1, 2, 6, 4}, 130);
  // (malformed and out-of-range values of every key: the conformance table)
  CHECK_THROWS_WITH_AS(synth().kernel(x.q, x.k, x.v, synth().configure({"mix=mixture"})), doctest::Contains("mix=mixture"),
                       core::Error);  // a mixture cannot mix itself
  attention::LayerConfig lc = testing::layer_config(8, 2, {"mix=mixture"});
  Rng rng(1);
  CHECK_THROWS_WITH_AS(synth().make_layer(lc, rng), doctest::Contains("mix=mixture"), core::Error);
  CHECK_THROWS_WITH_AS(synth().kernel(x.q, slice(x.k, 2, 0, 4), slice(x.v, 2, 0, 4), synth().configure({})),
                       doctest::Contains("synthesizer: the synthesized matrix is n x n, so q and k need the same n"), core::Error);
  for (const std::string& mode : kModes) {
    CAPTURE(mode);
    const Tensor a = synth().kernel(x.q, x.k, x.v, synth().configure({"mode=" + mode}, false, 9));
    const Tensor b = synth().kernel(x.q, x.k, x.v, synth().configure({"mode=" + mode}, false, 9));
    const Tensor c = synth().kernel(x.q, x.k, x.v, synth().configure({"mode=" + mode}, false, 10));
    CHECK(testing::bit_equal(a, b));
    CHECK_FALSE(testing::bit_equal(a, c));
  }
}
