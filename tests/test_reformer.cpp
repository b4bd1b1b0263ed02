// tests/test_reformer.cpp — LSH attention, the shared-QK layer, the reversible stack and the chunked feed-forward.
//
// The kernel is checked against a dense softmax built from core ops over exactly the same (query, key) pairs,
// each counted as many times as the rounds found it (that is what combining rounds by their log-sum-exp weights
// means), with the keys derived from q (shared QK) and the self score at -1e5: outputs, dq and dv at 1e-4.
#include <cmath>
#include <limits>

#include "attention/dense.h"
#include "attention/reformer.h"
#include "attention/reversible.h"
#include "tests/helpers.h"

using namespace core;
using attention::LSHOptions;

namespace {

// softmax(q kᵀ/√d + log(count)) v with k = q/|q| and s_ii = -1e5, from core ops (autograd does the backward).
// count(i, j) = how many rounds made j a candidate of i (0 = blocked: -inf).
Tensor dense_reference(const Tensor& q, const Tensor& v, const Tensor& counts) {
  const int64_t n = q.size(2);
  const Tensor k = attention::lsh_shared_keys(q);                                       // (B, H, n, d)
  Tensor scores = matmul(q, k, false, true) / std::sqrt(static_cast<float>(q.size(3)));  // (B, H, n, n)
  Tensor eye = Tensor::zeros({1, 1, n, n});
  for (int64_t i = 0; i < n; ++i) eye.at({0, 0, i, i}) = 1.0f;
  scores = where(eye, Tensor::full({1, 1, n, n}, attention::kSelfScore), scores);  // constant self score
  Tensor log_count = Tensor::empty(counts.shape());
  for (int64_t i = 0; i < counts.numel(); ++i)
    log_count.data()[i] =
        counts.data()[i] > 0 ? std::log(counts.data()[i]) : -std::numeric_limits<float>::infinity();
  return matmul(softmax(scores + log_count, -1), v);
}

struct Grads {
  Tensor out, dq, dv;
};

template <class F>
Grads run_with_grads(const Tensor& q0, const Tensor& v0, const Tensor& G, F f) {
  Tensor q = q0.clone().detach().set_requires_grad(), v = v0.clone().detach().set_requires_grad();
  const Tensor out = f(q, v);
  sum(out * G).backward();
  return {out.detach(), q.grad(), v.grad()};
}

}  // namespace

TEST_CASE("reformer: the kernel equals a dense softmax over the same pairs and multiplicities (out, dq, dv)") {
  struct Case {
    int64_t n, n_hashes, n_buckets, chunk;
    bool causal, padded;
  };
  const std::vector<Case> cases = {
      {64, 3, 4, 8, false, false}, {64, 3, 4, 8, true, false},  {37, 2, 6, 8, false, false},
      {37, 2, 6, 8, true, false},  {37, 4, 0, 5, false, true},  {37, 4, 0, 5, true, true},
      {64, 1, 8, 16, false, false}, {9, 2, 2, 32, false, false}};
  for (const Case& c : cases) {
    CAPTURE(c.n);
    CAPTURE(c.n_hashes);
    CAPTURE(c.chunk);
    CAPTURE(c.causal);
    CAPTURE(c.padded);
    const Tensor q = testing::rand_tensor({2, 2, c.n, 8}, 10 + c.n), v = testing::rand_tensor({2, 2, c.n, 8}, 11),
                 G = testing::rand_tensor({2, 2, c.n, 8}, 12);
    Tensor pad;
    if (c.padded) {
      pad = Tensor::ones({2, c.n});
      for (int64_t j = c.n - 6; j < c.n; ++j) pad.at({1, j}) = 0.0f;  // the second sequence ends in padding
      pad.at({0, 3}) = 0.0f;
    }
    const LSHOptions o(c.n_hashes, c.n_buckets, c.chunk, c.causal, 5, pad);
    const Tensor counts = attention::lsh_candidate_counts(q, o);
    const Grads mine = run_with_grads(q, v, G, [&](const Tensor& a, const Tensor& b) {
      return attention::lsh_attention(a, b, o);
    });
    // The reference must see the same buckets: hash the unperturbed q once (hashing is not differentiable).
    const Grads ref = run_with_grads(q, v, G, [&](const Tensor& a, const Tensor& b) {
      return dense_reference(a, b, counts);
    });
    CHECK_CLOSE(mine.out, ref.out, 1e-4, 1e-5);
    CHECK_CLOSE(mine.dq, ref.dq, 1e-4, 1e-5);
    CHECK_CLOSE(mine.dv, ref.dv, 1e-4, 1e-5);
    // The effective matrix is the one applied, and it lives inside the pattern.
    const Tensor A = attention::lsh_effective_attention(q, o);
    CHECK_CLOSE(matmul(A, v), mine.out, 1e-4, 1e-5);
    const Tensor P = attention::lsh_pattern(q, o);
    int64_t outside = 0, above = 0;
    for (int64_t i = 0; i < A.numel(); ++i) outside += P.data()[i] == 0.0f && A.data()[i] != 0.0f;
    CHECK(outside == 0);
    if (c.causal)
      for (int64_t bh = 0; bh < 4; ++bh)
        for (int64_t i = 0; i < c.n; ++i)
          for (int64_t j = i + 1; j < c.n; ++j) above += P.data()[(bh * c.n + i) * c.n + j] != 0.0f;
    CHECK(above == 0);
  }
}

TEST_CASE("reformer: the candidates are the chunk and the previous chunk of the sorted order, in every round") {
  // Non-causal: round r's pairs are exactly {(i, j): chunk(slot j) ∈ {chunk(slot i), chunk(slot i) - 1 mod N}}.
  const int64_t n = 40, m = 8, R = 2;
  const Tensor q = testing::rand_tensor({1, 1, n, 8}, 21);
  const LSHOptions o(R, 4, m, false, 1);
  const IntTensor ids = attention::lsh_buckets(q, o);
  const attention::LSHLayout L = attention::lsh_layout(ids, o);
  Tensor want = Tensor::zeros({1, 1, n, n});
  const int64_t N = (n + m - 1) / m;
  for (int64_t r = 0; r < R; ++r) {
    CHECK(L.n_chunks.data[r] == N);
    for (int64_t s = 1; s < n; ++s) {  // sorted by (bucket, position)
      const int64_t a = L.perm.data[r * n + s - 1], b = L.perm.data[r * n + s];
      const int64_t ba = ids.data[r * n + a], bb = ids.data[r * n + b];
      CHECK((ba < bb || (ba == bb && a < b)));
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t ci = L.slot.data[r * n + i] / m, cj = L.slot.data[r * n + j] / m;
        if (cj == ci || cj == (ci + N - 1) % N) want.at({0, 0, i, j}) += 1.0f;
      }
  }
  CHECK(testing::bit_equal(attention::lsh_candidate_counts(q, o, &ids), want));
  // One chunk (chunk >= n): every key exactly once per round, so LSH attention is dense shared-QK attention.
  const LSHOptions one(3, 4, 64, false, 1);
  const Tensor v = testing::rand_tensor({1, 1, n, 8}, 22);
  const Tensor all = Tensor::full({1, 1, n, n}, 3.0f);
  CHECK_CLOSE(attention::lsh_attention(q, v, one), dense_reference(q, v, all), 1e-5, 1e-6);
}

TEST_CASE("reformer: hashing is argmax([xR; -xR]) and invariant to the length of x") {
  const Tensor q = testing::rand_tensor({1, 2, 16, 6}, 31);
  const LSHOptions o(2, 6, 4, false, 9);
  const IntTensor ids = attention::lsh_buckets(q, o);
  const Tensor rot = attention::lsh_rotations(2, 6, 6, o);  // (H, R, d, 3)
  int wrong = 0;
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t i = 0; i < 16; ++i) {
        std::vector<double> proj(6);
        for (int64_t c = 0; c < 3; ++c) {
          double s = 0;
          for (int64_t t = 0; t < 6; ++t) s += double(q.at({0, h, i, t})) * rot.at({h, r, t, c});
          proj[c] = s;
          proj[c + 3] = -s;
        }
        const int64_t want = std::max_element(proj.begin(), proj.end()) - proj.begin();
        wrong += ids.at({0, h, r, i}) != want;
      }
  CHECK(wrong == 0);
  const IntTensor scaled = attention::lsh_buckets(q * 3.5f, o);
  CHECK(scaled.data == ids.data);
  // n_buckets = auto: 2 ceil(n / chunk)
  CHECK(attention::lsh_num_buckets(LSHOptions(1, 0, 32, false, 3), 64) == 4);
  CHECK(attention::lsh_num_buckets(LSHOptions(1, 0, 32, false, 3), 37) == 4);
  CHECK(attention::lsh_num_buckets(LSHOptions(1, 0, 32, false, 3), 4096) == 256);
  CHECK(attention::lsh_num_buckets(LSHOptions(1, 0, 32, false, 3), 5) == 2);
}

TEST_CASE("reformer: a token attends to itself only when nothing else is available") {
  // Causal, one round: the first token of each bucket has no earlier key in its chunks, only itself.
  const int64_t n = 48;
  const Tensor q = testing::rand_tensor({1, 2, n, 8}, 41);
  const LSHOptions o(1, 8, 4, true, 2);
  const Tensor A = attention::lsh_effective_attention(q, o);
  const Tensor counts = attention::lsh_candidate_counts(q, o);
  int64_t alone = 0, with_others = 0, wrong = 0;
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < n; ++i) {
      bool others = false;
      for (int64_t j = 0; j < n; ++j) others = others || (j != i && counts.at({0, h, i, j}) > 0);
      if (others) {
        ++with_others;
        wrong += A.at({0, h, i, i}) != 0.0f;  // exp(-1e5 - L) underflows to exactly 0
      } else {
        ++alone;
        wrong += std::fabs(A.at({0, h, i, i}) - 1.0f) > 1e-6f;  // the fallback: all weight on itself
      }
    }
  CHECK(alone >= 8);  // at least the first token of every bucket that occurs
  CHECK(with_others > 0);
  CHECK(wrong == 0);
  // Token 0 in causal mode has only itself: its output is its own value.
  const Tensor v = testing::rand_tensor({1, 2, n, 8}, 42);
  const Tensor out = attention::lsh_attention(q, v, o);
  CHECK(testing::bit_equal(slice(slice(out, 2, 0, 1), 1, 0, 1), slice(slice(v, 2, 0, 1), 1, 0, 1)));
  // Non-causal, several rounds: the diagonal is empty.
  const Tensor A2 = attention::lsh_effective_attention(q, LSHOptions(2, 4, 8, false, 2));
  int64_t diag = 0;
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < n; ++i) diag += A2.at({0, h, i, i}) != 0.0f;
  CHECK(diag == 0);
}

TEST_CASE("reformer: causal outputs up to t are bit-identical whatever the tokens after t are") {
  // Small chunks and many buckets, so that a naive global sort would move chunk boundaries.
  const int64_t n = 96;
  const Tensor q = testing::rand_tensor({2, 2, n, 8}, 51), v = testing::rand_tensor({2, 2, n, 8}, 52);
  for (const LSHOptions& o : {LSHOptions(2, 8, 4, true, 4), LSHOptions(3, 0, 6, true, 4), LSHOptions(1, 2, 3, true, 4)}) {
    CAPTURE(o.chunk);
    const Tensor out = attention::lsh_attention(q, v, o);
    for (int64_t t : {0, 7, 30, 61}) {
      CAPTURE(t);
      Tensor q2 = q.clone(), v2 = v.clone();
      for (int64_t bh = 0; bh < 4; ++bh)
        for (int64_t i = t + 1; i < n; ++i)
          for (int64_t c = 0; c < 8; ++c) {
            q2.data()[(bh * n + i) * 8 + c] = -2.0f * q2.data()[(bh * n + i) * 8 + c] + 0.3f;
            v2.data()[(bh * n + i) * 8 + c] += 1.0f;
          }
      const Tensor out2 = attention::lsh_attention(q2, v2, o);
      CHECK(testing::bit_equal(slice(out, 2, 0, t + 1), slice(out2, 2, 0, t + 1)));
    }
  }
}

TEST_CASE("reformer: the naive causal design (one global sort, causal mask only) would leak the future") {
  // The reason for per-bucket chunks: with the non-causal layout plus a j <= i mask, what an early query sees
  // changes when only later tokens change. Shown on the candidate sets (counts) of the first t + 1 queries.
  const int64_t n = 96, t = 40;
  const Tensor q = testing::rand_tensor({1, 1, n, 8}, 61);
  Tensor q2 = q.clone();
  for (int64_t i = t + 1; i < n; ++i)
    for (int64_t c = 0; c < 8; ++c) q2.data()[i * 8 + c] = -q2.data()[i * 8 + c] + 0.5f;
  auto early_pairs = [&](const Tensor& x, bool causal) {
    const Tensor counts = attention::lsh_candidate_counts(x, LSHOptions(2, 8, 4, causal, 4));
    std::vector<float> keep;
    for (int64_t i = 0; i <= t; ++i)
      for (int64_t j = 0; j <= i; ++j) keep.push_back(counts.at({0, 0, i, j}));
    return keep;
  };
  CHECK(early_pairs(q, false) != early_pairs(q2, false));  // global sort: the early queries' sets moved
  CHECK(early_pairs(q, true) == early_pairs(q2, true));    // per-bucket chunks: they did not
}

TEST_CASE("reformer: gradcheck of the kernel with fixed buckets, and of the layer with its parameters") {
  const Tensor q = testing::rand_away_from_zero({1, 2, 12, 4}, 71), v = testing::rand_tensor({1, 2, 12, 4}, 72);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const LSHOptions o(2, 4, 3, causal, 6);
    const IntTensor ids = attention::lsh_buckets(q, o);  // hashing is piecewise constant: keep it fixed
    const auto r = gradcheck([&](const std::vector<Tensor>& in) { return attention::lsh_attention(in[0], in[1], o, &ids); },
                             {q, v}, {"lsh_attention"});
    INFO(r.message);
    CHECK(r.ok);
  }
  // The layer: one shared QK projection, its own V and output projections; all of them gradcheck, with the
  // buckets of the unperturbed input replayed.
  Rng rng(73);
  attention::LayerConfig lc = testing::layer_config(8, 2, {"chunk=3", "n_buckets=4", "n_hashes=2"}, true);
  lc.seed = 4;
  auto layer = attention::find_scheme("reformer").make_layer(lc, rng);
  auto* lsh = dynamic_cast<attention::LSHAttentionLayer*>(layer.get());
  REQUIRE(lsh != nullptr);
  std::vector<std::string> names;
  for (const auto& [name, p] : layer->named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"w_qk.weight", "w_qk.bias", "w_v.weight", "w_v.bias", "w_o.weight", "w_o.bias"});
  Tensor x = testing::rand_tensor({1, 10, 8}, 74).detach();
  x.set_requires_grad();
  IntTensor ids;
  {
    NoGradGuard no_grad;
    lsh->forward_lsh(x, Tensor(), &ids, false);
  }
  CHECK(ids.shape == Shape({1, 2, 2, 10}));
  std::vector<Tensor> leaves = {x};
  for (const Tensor& p : layer->parameters()) leaves.push_back(p);
  const auto r = gradcheck_leaves([&] { return lsh->forward_lsh(x, Tensor(), &ids, true); }, leaves, {"reformer layer"});
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == x.numel() + layer->num_parameters());
  // Without replay the layer hashes by itself and gives the same output.
  CHECK(testing::bit_equal(layer->forward(x).detach(), lsh->forward_lsh(x, Tensor(), &ids, true).detach()));
}

TEST_CASE("reformer: an odd n_buckets and mismatched inputs are refused (generic bad settings: tests/test_schemes.cpp)") {
  const auto& s = attention::find_scheme("reformer");
  CHECK(s.hyperparams().size() == 3);
  const Tensor q = testing::rand_tensor({1, 1, 8, 4}, 81);
  auto run = [&](const std::vector<std::string>& set) { return s.kernel(q, q, q, s.configure(set)); };
  CHECK_THROWS_WITH_AS(run({"n_buckets=7"}), doctest::Contains("n_buckets must be \"auto\" or an even integer >= 2, got 7"),
                       core::Error);
  // Shapes: keys are the queries, so v must have q's shape; the padding mask must be (B, n).
  const Tensor v5 = testing::rand_tensor({1, 1, 5, 4}, 82);
  CHECK_THROWS_WITH_AS(s.kernel(q, v5, v5, s.configure({})), doctest::Contains("reformer"), core::Error);
  attention::Config cfg = s.configure({});
  cfg.key_padding_mask = Tensor::ones({1, 7});
  CHECK_THROWS_WITH_AS(s.kernel(q, q, q, cfg), doctest::Contains("key_padding_mask must be (B, n) = (1,8)"),
                       core::Error);
}

TEST_CASE("reformer: the registry's data_pattern is lsh_pattern; a shape alone has no pattern") {
  const auto& s = attention::find_scheme("reformer");
  CHECK(s.has_pattern());
  const Tensor q = testing::rand_tensor({1, 2, 30, 4}, 95), k = testing::rand_tensor({1, 2, 30, 4}, 96);
  for (bool causal : {false, true}) {
    const attention::Config cfg = s.configure({"chunk=4", "n_hashes=3"}, causal, 2);
    CHECK(testing::bit_equal(s.data_pattern(q, k, cfg), attention::lsh_pattern(q, attention::lsh_options(cfg))));
    CHECK(testing::bit_equal(s.data_pattern(q, q, cfg), s.data_pattern(q, k, cfg)));  // k plays no part
  }
  CHECK_THROWS_WITH_AS(s.pattern(q.shape(), s.configure({})), doctest::Contains("data_pattern"), core::Error);
}

TEST_CASE("reformer: deterministic under a seed; another seed hashes differently; k is ignored") {
  const auto& s = attention::find_scheme("reformer");
  const Tensor q = testing::rand_tensor({2, 2, 50, 8}, 91), k = testing::rand_tensor({2, 2, 50, 8}, 92),
               v = testing::rand_tensor({2, 2, 50, 8}, 93);
  const std::vector<std::string> set = {"chunk=5", "n_buckets=8"};
  const Tensor a = s.kernel(q, k, v, s.configure(set, false, 7));
  CHECK(testing::bit_equal(a, s.kernel(q, k, v, s.configure(set, false, 7))));
  CHECK(testing::bit_equal(a, s.kernel(q, v, v, s.configure(set, false, 7))));  // shared QK: k plays no part
  CHECK_FALSE(testing::bit_equal(a, s.kernel(q, k, v, s.configure(set, false, 8))));
  CHECK(attention::lsh_buckets(q, LSHOptions(2, 8, 5, false, 7)).data != attention::lsh_buckets(q, LSHOptions(2, 8, 5, false, 8)).data);
}

// ---- reversible stack and chunked feed-forward ------------------------------------------------------------------

namespace {
attention::ReformerConfig small_stack(int64_t layers, bool reversible, bool causal, float dropout) {
  attention::ReformerConfig c;
  c.d_model = 16;
  c.n_heads = 2;
  c.d_ff = 32;
  c.n_layers = layers;
  c.ff_chunk = 16;
  c.dropout = dropout;
  c.causal = causal;
  c.reversible = reversible;
  c.seed = 17;
  c.set = {"chunk=8", "n_hashes=2"};
  return c;
}

// Activation memory of forward + backward: peak bytes above what was live before (gradients already allocated
// by a warm-up pass, so that parameter gradients do not count).
size_t stack_peak(attention::ReformerStack& stack, const Tensor& x, const Tensor& w) {
  sum(stack.forward(x) * w).backward();  // warm-up: allocates every .grad
  memory::PeakScope scope;
  sum(stack.forward(x) * w).backward();
  return scope.peak_above_start();
}
}  // namespace

TEST_CASE("reformer: the reversible stack gives the ordinary stack's outputs and gradients (dropout, buckets replayed)") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    attention::ReformerStack rev(small_stack(3, true, causal, 0.1f)), plain(small_stack(3, false, causal, 0.1f));
    const Tensor x0 = testing::rand_tensor({2, 40, 16}, 101), w = testing::rand_tensor({2, 40, 16}, 102);
    Tensor xr = x0.clone().detach().set_requires_grad(), xp = x0.clone().detach().set_requires_grad();
    const Tensor yr = rev.forward(xr), yp = plain.forward(xp);
    CHECK(std::string(yr.op_name()) != "leaf");
    CHECK_CLOSE(yr.detach(), yp.detach(), 1e-5, 1e-6);
    sum(yr * w).backward();
    sum(yp * w).backward();
    CHECK_CLOSE(xr.grad(), xp.grad(), 1e-4, 1e-5);
    const auto pr = rev.named_parameters(), pp = plain.named_parameters();
    REQUIRE(pr.size() == pp.size());
    for (size_t i = 0; i < pr.size(); ++i) {
      CAPTURE(pr[i].first);
      REQUIRE(pr[i].second.grad().defined());
      CHECK_CLOSE(pr[i].second.grad(), pp[i].second.grad(), 1e-4, 1e-5);
    }
    // Dropout is really on: in eval mode the output differs.
    rev.eval();
    CHECK_FALSE(testing::bit_equal(rev.forward(x0), yr.detach()));
  }
}

TEST_CASE("reformer: activation memory stays flat with depth for the reversible stack and grows without it") {
  const Tensor x0 = testing::rand_tensor({1, 128, 16}, 111), w = testing::rand_tensor({1, 128, 16}, 112);
  size_t peak[2][2];
  for (int rev = 0; rev < 2; ++rev)
    for (int k = 0; k < 2; ++k) {
      attention::ReformerStack stack(small_stack(k == 0 ? 2 : 8, rev == 1, false, 0.0f));
      Tensor x = x0.clone().detach().set_requires_grad();
      peak[rev][k] = stack_peak(stack, x, w);
    }
  INFO("ordinary: depth 2 " << peak[0][0] << " B, depth 8 " << peak[0][1] << " B; reversible: depth 2 " << peak[1][0]
                            << " B, depth 8 " << peak[1][1] << " B");
  CHECK(double(peak[0][1]) / double(peak[0][0]) > 2.5);   // the ordinary stack keeps every layer
  CHECK(double(peak[1][1]) / double(peak[1][0]) < 1.3);   // the reversible one keeps only bucket ids per layer
  CHECK(peak[1][1] * 2 < peak[0][1]);
}

TEST_CASE("reformer: the chunked feed-forward equals the plain one, at any n, with a lower peak") {
  Rng rng(121);
  attention::FeedForward ff(16, 128, rng, 0);
  for (int64_t n : {50, 256}) {
    CAPTURE(n);
    const Tensor x0 = testing::rand_tensor({2, n, 16}, 122), w = testing::rand_tensor({2, n, 16}, 123);
    std::vector<Tensor> grads[2];
    Tensor outs[2];
    size_t peaks[2];
    for (int chunked = 0; chunked < 2; ++chunked) {
      ff.chunk = chunked ? 16 : 0;
      ff.zero_grad();
      Tensor x = x0.clone().detach().set_requires_grad();
      memory::PeakScope scope;
      const Tensor y = ff.forward(x);
      sum(y * w).backward();
      peaks[chunked] = scope.peak_above_start();
      outs[chunked] = y.detach();
      grads[chunked] = {x.grad()};
      for (const Tensor& p : ff.parameters()) grads[chunked].push_back(p.grad());
    }
    CHECK_CLOSE(outs[1], outs[0], 1e-5, 1e-6);
    for (size_t i = 0; i < grads[0].size(); ++i) {
      CAPTURE(i);
      CHECK_CLOSE(grads[1][i], grads[0][i], 1e-4, 1e-5);
    }
    INFO("plain " << peaks[0] << " B, chunked " << peaks[1] << " B");
    if (n == 256) CHECK(double(peaks[1]) < 0.5 * double(peaks[0]));
  }
  ff.chunk = 3;
  const Tensor xs = testing::rand_tensor({1, 7, 16}, 124);
  std::vector<Tensor> leaves = {xs.clone().detach().set_requires_grad()};
  for (const Tensor& p : ff.parameters()) leaves.push_back(p);
  const auto r = gradcheck_leaves([&] { return ff.forward(leaves[0]); }, leaves, {"chunked_feed_forward"});
  INFO(r.message);
  CHECK(r.ok);
  CHECK_THROWS_WITH_AS(attention::chunked_feed_forward(xs, ff.fc1, ff.fc2, 0), doctest::Contains("chunk must be >= 1"),
                       core::Error);
}
