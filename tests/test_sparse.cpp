// tests/test_sparse.cpp — the Sparse Transformer scheme: the paper's sets A1, A2 on worked examples, key lists
// equal to the membership rules, kernel vs dense attention with the pattern as mask (outputs and gradients),
// the dense-mask version, out == A @ v, n not a multiple of the stride, two-hop connectivity, K ~ √n, its
// cross-key rules (summary <= stride). Causal no-leak, determinism, gradcheck of the layer and generic bad
// settings: the conformance table (tests/test_schemes.cpp).
#include <set>

#include "attention/dense.h"
#include "attention/sparse.h"
#include "tests/helpers.h"

using namespace core;
using attention::SparseMode;
using attention::SparseOptions;

using testing::Grads;
using testing::masked_dense_attention;
using testing::with_grads;

namespace {

SparseOptions options(SparseMode mode, int64_t stride, int64_t summary, bool causal, bool split = false) {
  SparseOptions o;
  o.mode = mode;
  o.stride = stride;
  o.summary = summary;
  o.causal = causal;
  o.heads = split ? attention::SparseHeads::split : attention::SparseHeads::merged;
  return o;
}

std::set<int64_t> keys_of(const SparseOptions& o, int64_t n, int parts, int64_t i) {
  std::vector<int64_t> keys;
  attention::sparse_row_keys(o, attention::sparse_stride(o, n), n, parts, i, keys);
  return {keys.begin(), keys.end()};
}

// The dense reference of the course with the pattern as a mask: softmax(q kᵀ/√d, pattern == 0 -> -inf) v.
}  // namespace

TEST_CASE("sparse: A1 and A2 follow the paper's equations on worked examples") {
  // strided, l = 4, causal, query 9: A1 = {6,7,8,9}, A2 = {1,5,9}.
  const SparseOptions s = options(SparseMode::strided, 4, 1, true);
  CHECK(keys_of(s, 16, attention::kSparseA1, 9) == std::set<int64_t>{6, 7, 8, 9});
  CHECK(keys_of(s, 16, attention::kSparseA2, 9) == std::set<int64_t>{1, 5, 9});
  CHECK(keys_of(s, 16, attention::kSparseBoth, 9) == std::set<int64_t>{1, 5, 6, 7, 8, 9});
  // non-causal strided: symmetric window |i-j| < 4 and every 4th position both ways.
  const SparseOptions sn = options(SparseMode::strided, 4, 1, false);
  CHECK(keys_of(sn, 16, attention::kSparseA1, 9) == std::set<int64_t>{6, 7, 8, 9, 10, 11, 12});
  CHECK(keys_of(sn, 16, attention::kSparseA2, 9) == std::set<int64_t>{1, 5, 9, 13});
  // fixed, l = 4, c = 1, causal, query 9 (block 8..11): A1 = {8, 9}, A2 = {3, 7} (cells with j mod 4 = 3, j <= 9).
  const SparseOptions f = options(SparseMode::fixed, 4, 1, true);
  CHECK(keys_of(f, 16, attention::kSparseA1, 9) == std::set<int64_t>{8, 9});
  CHECK(keys_of(f, 16, attention::kSparseA2, 9) == std::set<int64_t>{3, 7});
  // fixed, c = 2, non-causal: the whole block and every block's last two cells.
  const SparseOptions fn = options(SparseMode::fixed, 4, 2, false);
  CHECK(keys_of(fn, 14, attention::kSparseA1, 9) == std::set<int64_t>{8, 9, 10, 11});
  CHECK(keys_of(fn, 14, attention::kSparseA2, 9) == std::set<int64_t>{2, 3, 6, 7, 10, 11});  // 14, 15 do not exist
  // auto stride: ceil(sqrt(n)), at least c in fixed mode.
  CHECK(attention::sparse_stride(options(SparseMode::strided, 0, 2, true), 64) == 8);
  CHECK(attention::sparse_stride(options(SparseMode::strided, 0, 2, true), 65) == 9);
  CHECK(attention::sparse_stride(options(SparseMode::strided, 0, 2, true), 37) == 7);
  CHECK(attention::sparse_stride(options(SparseMode::fixed, 0, 5, true), 9) == 5);
  CHECK(attention::sparse_stride(options(SparseMode::strided, 0, 2, true), 1) == 1);
}

TEST_CASE("sparse: the key lists are exactly the membership rules, each key once") {
  for (SparseMode mode : {SparseMode::strided, SparseMode::fixed})
    for (bool causal : {false, true})
      for (bool split : {false, true})
        for (int64_t stride : {0, 5}) {
          CAPTURE(static_cast<int>(mode));
          CAPTURE(causal);
          CAPTURE(split);
          CAPTURE(stride);
          const SparseOptions o = options(mode, stride, 2, causal, split);
          const int64_t n = 37, H = 3;
          const IntTensor index = attention::sparse_index(o, n, H);
          CHECK(index.shape[1] == (split ? H : 1));
          const Tensor from_index = attention::index_pattern(index, 1, H, n);  // checks: no key twice
          const Tensor from_rules = attention::sparse_pattern(o, n, H);
          CHECK(testing::bit_equal(from_index, from_rules));
          if (causal) {
            int64_t above = 0;
            for (int64_t h = 0; h < H; ++h)
              for (int64_t i = 0; i < n; ++i)
                for (int64_t j = i + 1; j < n; ++j) above += from_rules.at({0, h, i, j}) != 0.0f;
            CHECK(above == 0);
          }
        }
}

TEST_CASE("sparse: kernel equals dense attention with the pattern as mask, outputs and gradients") {
  const int64_t B = 2, H = 2, d = 8;
  for (int64_t n : {37, 64})
    for (SparseMode mode : {SparseMode::strided, SparseMode::fixed})
      for (bool causal : {false, true})
        for (bool split : {false, true}) {
          CAPTURE(n);
          CAPTURE(static_cast<int>(mode));
          CAPTURE(causal);
          CAPTURE(split);
          const SparseOptions o = options(mode, 0, 2, causal, split);
          const Tensor q = testing::rand_tensor({B, H, n, d}, 1 + n), k = testing::rand_tensor({B, H, n, d}, 2 + n),
                       v = testing::rand_tensor({B, H, n, d}, 3 + n), g = testing::rand_tensor({B, H, n, d}, 4 + n);
          const Tensor pattern = attention::sparse_pattern(o, n, H);
          const Grads mine = with_grads(
              [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::sparse_attention(a, b, c, o); }, q,
              k, v, g);
          const Grads ref = with_grads(
              [&](const Tensor& a, const Tensor& b, const Tensor& c) { return masked_dense_attention(a, b, c, pattern); }, q, k, v, g);
          const Grads dense_mask = with_grads(
              [&](const Tensor& a, const Tensor& b, const Tensor& c) {
                return attention::sparse_dense_mask_attention(a, b, c, o);
              },
              q, k, v, g);
          CHECK_CLOSE(mine.out, ref.out, 1e-4, 1e-5);
          CHECK_CLOSE(mine.dq, ref.dq, 1e-4, 1e-5);
          CHECK_CLOSE(mine.dk, ref.dk, 1e-4, 1e-5);
          CHECK_CLOSE(mine.dv, ref.dv, 1e-4, 1e-5);
          CHECK_CLOSE(dense_mask.out, ref.out, 1e-5, 1e-6);
          CHECK_CLOSE(dense_mask.dk, ref.dk, 1e-5, 1e-6);
          const Tensor A = attention::sparse_effective_attention(q, k, v, o);
          CHECK_CLOSE(matmul(A, v), mine.out, 1e-4, 1e-5);
        }
}

TEST_CASE("sparse: padding keys are never attended, through the scheme interface") {
  const auto& s = attention::find_scheme("sparse");
  attention::Config cfg = s.configure({"mode=fixed", "stride=6"}, true);
  const int64_t n = 20;
  cfg.key_padding_mask = Tensor::ones({2, n});
  for (int64_t j : {5, 11, 17}) cfg.key_padding_mask.at({1, j}) = 0.0f;
  const Tensor q = testing::rand_tensor({2, 2, n, 4}, 30), k = testing::rand_tensor({2, 2, n, 4}, 31),
               v = testing::rand_tensor({2, 2, n, 4}, 32);
  const Tensor A = s.effective_attention(q, k, v, cfg);
  const Tensor P = s.pattern(q.shape(), cfg);
  CHECK_CLOSE(s.kernel(q, k, v, cfg), matmul(A, v), 1e-4, 1e-5);
  CHECK_CLOSE(s.kernel(q, k, v, cfg), masked_dense_attention(q, k, v, P), 1e-4, 1e-5);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < n; ++i) CHECK(A.at({1, h, i, 11}) == 0.0f);
}

TEST_CASE("sparse: every key j <= i is reachable from query i in two hops (the factorisation property)") {
  for (SparseMode mode : {SparseMode::strided, SparseMode::fixed})
    for (int64_t n : {37, 64}) {
      CAPTURE(static_cast<int>(mode));
      CAPTURE(n);
      const SparseOptions o = options(mode, 0, 1, true);
      const Tensor P = reshape(attention::sparse_pattern(o, n, 1), {n, n});
      const Tensor two_hops = matmul(P, P);  // (n, n): number of paths i -> k -> j
      int64_t missing = 0, direct_missing = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j <= i; ++j) {
          missing += two_hops.at({i, j}) == 0.0f;
          direct_missing += P.at({i, j}) == 0.0f;
        }
      CHECK(missing == 0);
      CHECK(direct_missing > 0);  // one hop is not enough: the pattern really is sparse
    }
}

TEST_CASE("sparse: with the automatic stride, keys per query grow like sqrt(n)") {
  for (SparseMode mode : {SparseMode::strided, SparseMode::fixed})
    for (bool causal : {false, true}) {
      const SparseOptions o = options(mode, 0, 2, causal);
      const int64_t k1 = attention::sparse_index(o, 1024, 1).shape[3], k4 = attention::sparse_index(o, 4096, 1).shape[3];
      CAPTURE(k1);
      CAPTURE(k4);
      CHECK(k1 <= 4 * 32);
      CHECK(static_cast<double>(k4) / k1 > 1.8);
      CHECK(static_cast<double>(k4) / k1 < 2.2);
    }
}

TEST_CASE("sparse: its cross-key rule (summary <= stride) and keys as long as the queries") {
  const auto& s = attention::find_scheme("sparse");
  const Tensor q = testing::rand_tensor({1, 1, 16, 4}, 60);
  CHECK_THROWS_WITH_AS(s.kernel(q, q, q, s.configure({"mode=fixed", "stride=4", "summary=5"})),
                       doctest::Contains("summary (c = 5) must be <= stride"), core::Error);
  CHECK_THROWS_WITH_AS(s.kernel(q, testing::rand_tensor({1, 1, 8, 4}, 61), testing::rand_tensor({1, 1, 8, 4}, 62), s.configure({})),
                       doctest::Contains("as many positions as q"), core::Error);
}

TEST_CASE("sparse: the strided block kernel equals the key-list kernel (odd n, padding, causal), any thread count") {
  // The strided pattern runs on dense blocks (band tiles + one block per residue class, merged by log-sum-exp);
  // the per-pair kernel on its key lists is the independent reference here, at sizes where several band tiles
  // and classes of unequal length exist.
  const int64_t B = 2, H = 3, d = 24;
  for (int64_t n : {1, 17, 301})
    for (bool causal : {false, true})
      for (bool padded : {false, true}) {
        CAPTURE(n);
        CAPTURE(causal);
        CAPTURE(padded);
        SparseOptions o = options(SparseMode::strided, 0, 2, causal);
        Tensor pad;
        if (padded) {
          pad = Tensor::ones({B, n});
          for (int64_t j = n / 2; j < n; j += 3) pad.at({1, j}) = 0.0f;
          pad.at({0, 0}) = 0.0f;
        }
        const Tensor q = testing::rand_tensor({B, H, n, d}, 5 + n), k = testing::rand_tensor({B, H, n, d}, 6 + n),
                     v = testing::rand_tensor({B, H, n, d}, 7 + n), g = testing::rand_tensor({B, H, n, d}, 8 + n);
        const auto blocks = [&](const Tensor& a, const Tensor& b, const Tensor& c) {
          return attention::sparse_strided_attention(a, b, c, o, pad);
        };
        const auto index = std::make_shared<const IntTensor>(attention::sparse_index(o, n, H));
        attention::IndexAttentionOptions io;
        io.key_padding_mask = pad;
        const Grads mine = with_grads(blocks, q, k, v, g);
        const auto per_pair = [&](const Tensor& a, const Tensor& b, const Tensor& c) {
          return attention::index_attention(a, b, c, index, io);
        };
        const Grads ref = with_grads(per_pair, q, k, v, g);
        CHECK_CLOSE(mine.out, ref.out, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dq, ref.dq, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dk, ref.dk, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dv, ref.dv, 1e-4, 1e-5);
        CHECK(testing::bit_equal(attention::sparse_attention(q, k, v, o, pad), mine.out));  // what the scheme runs
        const Grads one = testing::with_threads(1, [&] { return with_grads(blocks, q, k, v, g); });
        CHECK(testing::bit_equal(one.out, mine.out));
        CHECK(testing::bit_equal(one.dq, mine.dq));
        CHECK(testing::bit_equal(one.dk, mine.dk));
        CHECK(testing::bit_equal(one.dv, mine.dv));
        if (n <= 17) {  // the effective matrix is the one applied
          const Tensor A = attention::sparse_effective_attention(q, k, v, o, pad);
          CHECK_CLOSE(matmul(A, v), mine.out, 1e-4, 1e-5);
        }
      }
}
