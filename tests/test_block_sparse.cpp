// tests/test_block_sparse.cpp — the tiled sparse kernel against its naive reference, index_attention (which is
// itself tested against dense attention with the equivalent mask): outputs and gradients on random, band and
// strided indices, odd sizes (n not a multiple of the tile, d = 1, 17, 64, 128), shared index slices, padding,
// rows with no usable key; the layout it builds; thread-count independence; O(n·K) memory.

#include <set>

#include "attention/kernels/block_sparse.h"
#include "tests/helpers.h"

using namespace core;
using attention::BlockSparseOptions;
using attention::IndexAttentionOptions;
using testing::random_index;

namespace {

// Each query i sees keys i-w..i+w (clipped): contiguous key ranges, the Longformer-like case.
IntTensor band_index(int64_t n, int64_t w) {
  IntTensor index({1, 1, n, 2 * w + 1}, -1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = -w; t <= w; ++t)
      if (i + t >= 0 && i + t < n) index.data[i * (2 * w + 1) + t + w] = i + t;
  return index;
}

// Each query i sees its last `local` keys and every key j ≡ stride-1 (mod stride), j <= i: scattered columns,
// the Sparse Transformer (strided) case.
IntTensor strided_index(int64_t n, int64_t local, int64_t stride) {
  const int64_t K = local + n / stride + 1;
  IntTensor index({1, 1, n, K}, -1);
  for (int64_t i = 0; i < n; ++i) {
    std::set<int64_t> keys;
    for (int64_t j = std::max<int64_t>(0, i - local + 1); j <= i; ++j) keys.insert(j);
    for (int64_t j = stride - 1; j <= i; j += stride) keys.insert(j);
    int64_t t = 0;
    for (int64_t j : keys) index.data[i * K + t++] = j;
  }
  return index;
}

void check_against_index_attention(const IntTensor& index, int64_t B, int64_t H, int64_t n, int64_t m, int64_t d,
                                   const IndexAttentionOptions& o, const BlockSparseOptions& blocks, uint64_t seed) {
  const Tensor q = testing::rand_tensor({B, H, n, d}, seed), k = testing::rand_tensor({B, H, m, d}, seed + 1),
               v = testing::rand_tensor({B, H, m, d}, seed + 2), g = testing::rand_tensor({B, H, n, d}, seed + 3);
  auto shared = std::make_shared<const IntTensor>(index);
  const testing::Grads mine = testing::with_grads(
      [&](const Tensor& a, const Tensor& b, const Tensor& c) {
        return attention::block_sparse_attention(a, b, c, shared, o, blocks);
      },
      q, k, v, g);
  const testing::Grads ref = testing::with_grads(
      [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::index_attention(a, b, c, shared, o); },
      q, k, v, g);
  CHECK_SAME_GRADS(mine, ref, 1e-4, 1e-5);
}

}  // namespace

TEST_CASE("block_sparse: outputs and gradients equal index_attention") {
  SUBCASE("random lists per batch and head, small tiles that do not divide n or m") {
    check_against_index_attention(random_index(2, 3, 23, 7, 19, 1), 2, 3, 23, 19, 5, {}, {4, 5}, 10);
  }
  SUBCASE("index shared over the batch, then over batch and heads") {
    check_against_index_attention(random_index(1, 3, 21, 6, 21, 2), 2, 3, 21, 21, 4, {}, {8, 8}, 20);
    check_against_index_attention(random_index(1, 1, 21, 6, 21, 3), 2, 3, 21, 21, 4, {}, {3, 7}, 30);
  }
  SUBCASE("padding keys and a custom scale") {
    IndexAttentionOptions o;
    o.scale = 0.7f;
    o.key_padding_mask = Tensor::ones({2, 17});
    for (int64_t j : {2, 5, 6, 16}) o.key_padding_mask.at({1, j}) = 0.0f;
    check_against_index_attention(random_index(2, 1, 17, 6, 17, 4), 2, 2, 17, 17, 3, o, {4, 4}, 40);
  }
  SUBCASE("a band (contiguous keys) and strided columns (gathered keys), default 64x64 tiles") {
    for (int64_t d : {1, 17, 64, 128}) {
      CAPTURE(d);
      check_against_index_attention(band_index(150, 9), 1, 2, 150, 150, d, {}, {}, 50 + d);
      check_against_index_attention(strided_index(150, 12, 12), 1, 2, 150, 150, d, {}, {}, 60 + d);
    }
  }
}

TEST_CASE("block_sparse: gradcheck in q, k and v") {
  auto index = std::make_shared<const IntTensor>(random_index(1, 2, 7, 3, 6, 6));
  const Tensor q = testing::rand_tensor({2, 2, 7, 3}, 60), k = testing::rand_tensor({2, 2, 6, 3}, 61),
               v = testing::rand_tensor({2, 2, 6, 3}, 62);
  const auto r = testing::gradcheck_qkv(
      [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::block_sparse_attention(a, b, c, index, {}, {2, 4}); },
      q, k, v);
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == q.numel() + k.numel() + v.numel());
}

TEST_CASE("block_sparse: a row with no usable key gives zeros and zero gradients, never NaN") {
  const int64_t n = 9, m = 9, d = 4, K = 3;
  IntTensor index = random_index(1, 1, n, K, m, 7, /*empty_row0=*/true);  // row 0: every slot -1
  for (int64_t t = 0; t < K; ++t) index.data[1 * K + t] = t < 2 ? 7 + t : -1;  // row 1: only padding keys
  IndexAttentionOptions o;
  o.key_padding_mask = Tensor::from_vector({1, m}, {1, 1, 1, 1, 1, 1, 1, 0, 0});
  Tensor q = testing::rand_tensor({1, 1, n, d}, 70).set_requires_grad(),
         k = testing::rand_tensor({1, 1, m, d}, 71).set_requires_grad(),
         v = testing::rand_tensor({1, 1, m, d}, 72).set_requires_grad();
  const Tensor out =
      attention::block_sparse_attention(q, k, v, std::make_shared<const IntTensor>(index), o, {4, 4});
  CHECK(testing::all_finite(out));
  sum(out * testing::rand_tensor({1, 1, n, d}, 73)).backward();
  for (int64_t i : {0, 1})
    for (int64_t c = 0; c < d; ++c) {
      CHECK(out.at({0, 0, i, c}) == 0.0f);
      CHECK(q.grad().at({0, 0, i, c}) == 0.0f);
    }
  for (int64_t j : {7, 8})
    for (int64_t c = 0; c < d; ++c) CHECK(k.grad().at({0, 0, j, c}) == 0.0f);
  for (const Tensor* t : {&q, &k, &v}) CHECK(testing::all_finite(t->grad()));
  check_against_index_attention(index, 1, 1, n, m, d, o, {4, 4}, 74);
}

TEST_CASE("block_sparse: the layout holds exactly the listed keys, masks only where needed") {
  SUBCASE("random lists: every (row, key) listed appears in its tile's pair with mask 1, nothing else is 1") {
    const int64_t n = 30, m = 26, K = 5, bq = 8, bk = 6;
    const IntTensor index = random_index(1, 2, n, K, m, 8);
    const attention::BlockLayout L = attention::make_block_layout(index, m, {bq, bk});
    CHECK(L.q_tiles == 4);
    CHECK(L.k_blocks == 5);
    int64_t listed = 0, visible = 0;
    for (int64_t r = 0; r < 2 * n * K; ++r) listed += index.data[r] >= 0;
    for (const auto& p : L.pairs) {
      const int64_t rows = std::min(bq, n - p.query_tile * bq);
      for (int64_t c = 0; c < p.count; ++c) {
        const int32_t j = L.keys[p.keys_begin + c];
        CHECK(j / bk == p.key_block);
        if (c > 0) CHECK(j > L.keys[p.keys_begin + c - 1]);
        for (int64_t r = 0; r < rows; ++r) visible += p.mask_begin < 0 ? 1 : L.masks[p.mask_begin + r * p.count + c];
      }
    }
    CHECK(visible == listed);
    CHECK(L.computed_entries() >= static_cast<double>(listed));
    CHECK(L.key_pairs.size() == L.pairs.size());
  }
  SUBCASE("a block-diagonal pattern aligned with the tiles: one unmasked contiguous pair per tile, no waste") {
    const int64_t n = 64, b = 16;
    IntTensor index({1, 1, n, b}, -1);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t t = 0; t < b; ++t) index.data[i * b + t] = (i / b) * b + t;
    const attention::BlockLayout L = attention::make_block_layout(index, n, {b, b});
    REQUIRE(L.pairs.size() == 4);
    for (const auto& p : L.pairs) {
      CHECK(p.contiguous);
      CHECK(p.mask_begin == -1);
      CHECK(p.query_tile == p.key_block);
    }
    CHECK(L.masks.empty());
    CHECK(L.computed_entries() == doctest::Approx(double(n * b)));
  }
  SUBCASE("strided columns are gathered (not contiguous), and the work stays near the pattern's size") {
    const int64_t n = 1024;
    const IntTensor index = strided_index(n, 32, 32);
    const attention::BlockLayout L = attention::make_block_layout(index, n, {});
    int64_t listed = 0, scattered = 0;
    for (int64_t x : index.data) listed += x >= 0;
    for (const auto& p : L.pairs) scattered += !p.contiguous;
    CHECK(scattered > 0);
    CHECK(L.computed_entries() < 3.0 * listed);       // tiles waste some entries, never the whole n×n
    CHECK(L.computed_entries() < 0.25 * double(n) * n);
  }
}

TEST_CASE("block_sparse: repeated keys, a missing index and bad shapes are rejected with one-line errors") {
  const Tensor q = testing::rand_tensor({1, 1, 4, 2}, 1), k = testing::rand_tensor({1, 1, 4, 2}, 2);
  IntTensor index({1, 1, 4, 2}, -1);
  index.data[0] = 1;
  index.data[1] = 1;  // row 0 lists key 1 twice
  CHECK_THROWS_WITH_AS(attention::block_sparse_attention(q, k, k, std::make_shared<const IntTensor>(index)),
                       doctest::Contains("twice"), core::Error);
  CHECK_THROWS_WITH_AS(attention::block_sparse_attention(q, k, k, nullptr), doctest::Contains("no key index"),
                       core::Error);
  index.data[1] = 4;  // out of range
  CHECK_THROWS_WITH_AS(attention::block_sparse_attention(q, k, k, std::make_shared<const IntTensor>(index)),
                       doctest::Contains("out of range"), core::Error);
  CHECK_THROWS_WITH_AS(attention::make_block_layout(IntTensor({1, 1, 4, 2}, -1), 4, {0, 4}),
                       doctest::Contains("block sizes"), core::Error);
}

TEST_CASE("block_sparse: 1 and 2 threads agree to 1e-6, and a rerun is bit-identical") {
  // One head: the backward splits by key blocks and query tiles, so both thread counts really run in parallel.
  const int64_t n = 520, d = 32;
  auto index = std::make_shared<const IntTensor>(strided_index(n, 40, 24));
  const Tensor q = testing::rand_tensor({1, 1, n, d}, 100), k = testing::rand_tensor({1, 1, n, d}, 101),
               v = testing::rand_tensor({1, 1, n, d}, 102), g = testing::rand_tensor({1, 1, n, d}, 103);
  auto run = [&] {
    return testing::with_grads(
        [&](const Tensor& a, const Tensor& b, const Tensor& c) {
          return attention::block_sparse_attention(a, b, c, index);
        },
        q, k, v, g);
  };
  const testing::Grads one = testing::with_threads(1, run);
  const testing::Grads two = testing::with_threads(2, run), again = testing::with_threads(2, run);
  CHECK_SAME_GRADS(one, two, 1e-6, 1e-6);
  CHECK(testing::bit_equal(two.out, again.out));
  CHECK(testing::bit_equal(two.dq, again.dq));
  CHECK(testing::bit_equal(two.dk, again.dk));
}

TEST_CASE("block_sparse: memory is O(n·K), not O(n²)") {
  const int64_t n = 2048, d = 8;
  auto index = std::make_shared<const IntTensor>(band_index(n, 8));
  const Tensor k = testing::rand_tensor({1, 1, n, d}, 111), v = testing::rand_tensor({1, 1, n, d}, 112);
  Tensor q = testing::rand_tensor({1, 1, n, d}, 110).set_requires_grad();
  memory::PeakScope scope;
  const Tensor out = attention::block_sparse_attention(q, k, v, index);
  out.backward(Tensor::ones(out.shape()));
  CHECK(static_cast<double>(scope.peak_above_start()) < 4.0 * n * n / 8);
}

TEST_CASE("block_sparse: the kernel choice follows how well the pattern fills its tiles, and either kernel is exact") {
  const int64_t n = 1024;
  const attention::SparseKernelChoice wide = attention::choose_sparse_kernel(band_index(n, 128), n);
  CHECK(wide.tiled);
  CHECK(wide.block == 64);
  CHECK(wide.waste <= 1.25);
  REQUIRE(wide.layout != nullptr);
  const attention::SparseKernelChoice narrow = attention::choose_sparse_kernel(band_index(n, 2), n);
  CHECK_FALSE(narrow.tiled);  // a 5-key band in 32-key tiles: > 2× the entries
  CHECK(narrow.waste > 2.0);
  // Strided stripes: each row of a tile lists a different residue class, so the tiles fill with masked entries.
  IntTensor stripes({1, 1, n, n / 32}, -1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < n / 32; ++t) stripes.data[i * (n / 32) + t] = (i % 32) + 32 * t;
  CHECK_FALSE(attention::choose_sparse_kernel(stripes, n).tiled);
  // The dispatcher gives index_attention's results on both paths.
  for (const IntTensor& index : {band_index(200, 40), band_index(200, 2)}) {
    auto shared = std::make_shared<const IntTensor>(index);
    const Tensor q = testing::rand_tensor({1, 2, 200, 8}, 120), k = testing::rand_tensor({1, 2, 200, 8}, 121),
                 v = testing::rand_tensor({1, 2, 200, 8}, 122);
    CHECK_CLOSE(attention::sparse_pattern_attention(q, k, v, shared), attention::index_attention(q, k, v, shared), 1e-5,
                1e-6);
  }
}

TEST_CASE("block_sparse: the chooser's waste is the layout's computed entries over the listed ones") {
  const IntTensor index = random_index(1, 2, 100, 9, 120, 12);
  double listed = 0;
  for (int64_t j : index.data) listed += j >= 0;
  const attention::SparseKernelChoice c = attention::choose_sparse_kernel(index, 120);
  CHECK(c.waste == doctest::Approx(attention::make_block_layout(index, 120, {32, 32}).computed_entries() / listed));
}
