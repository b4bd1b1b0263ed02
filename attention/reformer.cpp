// attention/reformer.cpp — LSH attention (shared QK, rounds, chunks, causal per-bucket chunks), its hand-written
// backward, the effective matrix, the shared-QK layer and the registered scheme "reformer".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, R = n_hashes, m = chunk, nb = n_buckets.
// "bh" numbers a (batch, head) pair: bh = b·H + h. A "slot" is a place in one round's sorted order.
#include "attention/reformer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "attention/kernels/small_gemm.h"
#include "core/fast_exp.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/row_sums.h"

namespace attention {

using namespace core;
using core::detail::parallel_rows;
using namespace attention::blocks;

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kMaxHashes = 64;

// a·b over d floats in a fixed order (8 independent lanes, then their sum): vectorises without -ffast-math and
// gives the same bits for the same inputs wherever it is called from.
inline float dot(const float* a, const float* b, int64_t d) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t t = 0;
  for (; t + 8 <= d; t += 8)
    for (int l = 0; l < 8; ++l) lane[l] += a[t + l] * b[t + l];
  float tail = 0.0f;
  for (; t < d; ++t) tail += a[t] * b[t];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])) + tail;
}

}  // namespace

// ---- options --------------------------------------------------------------------------------------------------
const ParamTable<LSHOptions>& reformer_params() {
  static const auto table =
      ParamTable<LSHOptions>("reformer")
          .integer("n_hashes", &LSHOptions::n_hashes, 1, kMaxHashes,
                   "hashing rounds R; more rounds find more of the true nearest keys, at R times the cost")
          .integer_or_auto("n_buckets", &LSHOptions::n_buckets, 2, kNoLimit,
                           "buckets per round (even; at most 2n are used), or auto = 2*ceil(n/chunk) so that a "
                           "bucket averages chunk/2 tokens")
          .integer("chunk", &LSHOptions::chunk, 1, kNoLimit,
                   "m: positions per chunk of the sorted order; each query sees its chunk and the previous one")
          .rule([](const std::string& scheme, const LSHOptions& o) { validate(o); });
  return table;
}

std::vector<HyperParam> reformer_hyperparams() { return reformer_params().hyperparams(); }

void validate(const LSHOptions& o) {
  AZ_CHECK(o.n_hashes >= 1 && o.n_hashes <= kMaxHashes, "reformer: n_hashes must be in [1, ", kMaxHashes, "], got ",
           o.n_hashes);
  AZ_CHECK(o.n_buckets == 0 || (o.n_buckets >= 2 && o.n_buckets % 2 == 0),
           "reformer: n_buckets must be \"auto\" or an even integer >= 2, got ", o.n_buckets);
  AZ_CHECK(o.chunk >= 1, "reformer: chunk must be >= 1, got ", o.chunk);
}

LSHOptions lsh_options(const Config& cfg) {
  LSHOptions o = reformer_params().read(cfg.settings);
  o.causal = cfg.causal;
  o.seed = cfg.seed;
  o.key_padding_mask = cfg.key_padding_mask;
  validate(o);
  return o;
}

int64_t lsh_chunk(const LSHOptions& o, int64_t n) { return std::min(o.chunk, std::max<int64_t>(n, 1)); }

int64_t lsh_num_buckets(const LSHOptions& o, int64_t n) {
  // More buckets than 2n cannot all be filled by n tokens: clamp, so that the rotations (d × nb/2 per round) and
  // the projections (n × nb/2) follow the input, not the setting.
  if (o.n_buckets > 0) return std::min(o.n_buckets, 2 * std::max<int64_t>(n, 1));
  const int64_t m = lsh_chunk(o, n);
  return std::max<int64_t>(2, 2 * ((n + m - 1) / m));  // the paper's m = 2n / nb
}

Tensor lsh_shared_keys(const Tensor& q) {
  // k = q / sqrt(|q|² + eps)      (B, H, n, d) / (B, H, n, 1)
  return q / core::sqrt(core::sum(q * q, -1, true) + kKeyNormEps);
}

// ---- hashing --------------------------------------------------------------------------------------------------
Tensor lsh_rotations(int64_t H, int64_t d, int64_t n_buckets, const LSHOptions& o) {
  AZ_CHECK(n_buckets >= 2 && n_buckets % 2 == 0, "reformer: n_buckets must be even and >= 2, got ", n_buckets);
  Rng rng(o.seed);
  return randn({H, o.n_hashes, d, n_buckets / 2}, rng);  // (H, R, d, nb/2)
}

namespace {
void check_padding(const Tensor& pad, int64_t B, int64_t n) {
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({B, n}), "reformer: key_padding_mask must be (B, n) = ", Shape({B, n}), ", got ",
             pad.shape());
}
}  // namespace

IntTensor lsh_buckets(const Tensor& q, const LSHOptions& o) {
  validate(o);
  AZ_CHECK(q.dim() == 4 && q.size(2) > 0 && q.size(3) > 0, "reformer: q must be (B, H, n, d), got ", q.shape());
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3), R = o.n_hashes;
  check_padding(o.key_padding_mask, B, n);
  const int64_t nb = lsh_num_buckets(o, n), half = nb / 2;
  const Tensor rot = lsh_rotations(H, d, nb, o);  // (H, R, d, nb/2)
  IntTensor out({B, H, R, n});
  const float* pq = q.data();
  const float* prot = rot.data();
  const float* pad = o.key_padding_mask.defined() ? o.key_padding_mask.data() : nullptr;
  parallel_rows(B * H * R, n * d * half, [&](int64_t row) {
    const int64_t r = row % R, bh = row / R, h = bh % H, b = bh / H;
    const float* Rm = prot + (h * R + r) * d * half;  // (d, nb/2)
    int64_t* ids = out.data.data() + row * n;
    constexpr int64_t kRows = 64;  // positions projected per block: x R for kRows rows of x at once
    std::vector<float> block(static_cast<size_t>(kRows * half));
    for (int64_t i0 = 0; i0 < n; i0 += kRows) {
      const int64_t rows = std::min(kRows, n - i0);
      small_gemm(pq + (bh * n + i0) * d, d, 1, Rm, half, rows, half, d, block.data(), half);  // x R: (rows, nb/2)
      for (int64_t i = i0; i < i0 + rows; ++i) {
        if (pad && pad[b * n + i] == 0.0f) {
          ids[i] = nb;  // padding: its own id, after every real bucket
          continue;
        }
        const float* proj = block.data() + (i - i0) * half;
        // argmax over [x R; -x R]: ids 0..nb/2-1 are +x R, nb/2..nb-1 are -x R; the first maximum wins. So: the
        // largest hi and smallest lo of x R (core/row_sums.h: exact in any order), then the first
        // position holding hi (when hi >= -lo: the +x R half comes first and wins a tie) or else lo.
        const float lo = detail::row_min(proj, half), hi = detail::row_max(proj, half);
        const bool plus = hi >= -lo;
        const float target = plus ? hi : lo;
        int64_t best = 0;
        while (best < half - 1 && proj[best] != target) ++best;
        ids[i] = plus ? best : half + best;
      }
    }
  });
  return out;
}

// ---- sorting and chunking -------------------------------------------------------------------------------------
LSHLayout lsh_layout(const IntTensor& buckets, const LSHOptions& o) {
  validate(o);
  AZ_CHECK(buckets.dim() == 4 && buckets.shape[2] == o.n_hashes, "reformer: buckets must be (B, H, n_hashes=",
           o.n_hashes, ", n), got ", buckets.shape);
  LSHLayout L;
  L.B = buckets.shape[0], L.H = buckets.shape[1], L.R = buckets.shape[2], L.n = buckets.shape[3];
  const int64_t n = L.n, m = lsh_chunk(o, n), rows = L.B * L.H * L.R;
  const int64_t nb = lsh_num_buckets(o, n);
  L.perm = IntTensor({L.B, L.H, L.R, n});
  L.slot = IntTensor({L.B, L.H, L.R, n});
  L.chunk_of = IntTensor({L.B, L.H, L.R, n});
  L.chunk_start = IntTensor({L.B, L.H, L.R, n + 1});
  L.prev = IntTensor({L.B, L.H, L.R, n}, -1);
  L.next = IntTensor({L.B, L.H, L.R, n}, -1);
  L.n_chunks = IntTensor({L.B, L.H, L.R});
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t* ids = buckets.data.data() + row * n;
    int64_t* perm = L.perm.data.data() + row * n;
    int64_t* slot = L.slot.data.data() + row * n;
    int64_t* chunk_of = L.chunk_of.data.data() + row * n;
    int64_t* start = L.chunk_start.data.data() + row * (n + 1);
    int64_t* prev = L.prev.data.data() + row * n;
    int64_t* next = L.next.data.data() + row * n;
    // 1. Stable sort of the positions by bucket (counting sort; id nb = padding goes last).
    std::vector<int64_t> offset(static_cast<size_t>(nb + 2), 0);
    for (int64_t i = 0; i < n; ++i) {
      AZ_CHECK(ids[i] >= 0 && ids[i] <= nb, "reformer: bucket id ", ids[i], " outside [0, ", nb, "] at position ", i);
      ++offset[static_cast<size_t>(ids[i] + 1)];
    }
    for (int64_t c = 1; c < nb + 2; ++c) offset[c] += offset[c - 1];
    for (int64_t i = 0; i < n; ++i) perm[offset[static_cast<size_t>(ids[i])]++] = i;  // i ascending: stable
    for (int64_t s = 0; s < n; ++s) slot[perm[s]] = s;
    // 2. Chunks.
    int64_t N = 0;
    if (!o.causal) {
      // Fixed chunks of m slots over the whole sorted order (the last one may be shorter: that is the padding of
      // the paper's n to a multiple of m, with the pad slots masked). Chunk c looks back at c - 1, chunk 0 at the
      // last chunk. With one chunk there is nothing to look back at.
      N = (n + m - 1) / m;
      for (int64_t c = 0; c < N; ++c) start[c] = c * m;
      if (N > 1)
        for (int64_t c = 0; c < N; ++c) {
          prev[c] = (c + N - 1) % N;
          next[c] = (c + 1) % N;
        }
    } else {
      // Causal: chunks of m slots cut inside each bucket's run of the sorted order; the previous chunk is the
      // previous chunk of the same bucket. See reformer.h: this is what keeps the future out.
      for (int64_t s = 0; s < n;) {
        int64_t e = s;
        while (e < n && ids[perm[e]] == ids[perm[s]]) ++e;  // [s, e) = one bucket
        for (int64_t t = s; t < e; t += m) {
          start[N] = t;
          if (t > s) {
            prev[N] = N - 1;
            next[N - 1] = N;
          }
          ++N;
        }
        s = e;
      }
    }
    start[N] = n;
    for (int64_t c = 0; c < N; ++c)
      for (int64_t s = start[c]; s < start[c + 1]; ++s) chunk_of[s] = c;
    L.n_chunks.data[static_cast<size_t>(row)] = N;
  }
  return L;
}

// ---- the kernel -----------------------------------------------------------------------------------------------
namespace {

// Everything one call needs. The forward, the backward, the effective matrix and the counts all walk it chunk by
// chunk through load_chunk below, so all of them see exactly the same pairs and the same score bits (at inputs of
// 1e19 one rounding apart is e^(1e12): the effective matrix must not recompute a score another way).
struct LSHContext {
  int64_t B, H, R, n, d, m;
  bool causal;
  float scale;            // 1 / sqrt(d)
  const float* q;         // (B, H, n, d)
  const float* k;         // (B, H, n, d)  normalised q
  const float* pad;       // (B, n) or nullptr
  const LSHLayout* L;

  bool blocked(int64_t b, int64_t i, int64_t j) const {
    return (causal && j > i) || (pad && pad[b * n + j] == 0.0f);
  }
  const int64_t* row(const IntTensor& t, int64_t bh, int64_t r, int64_t width) const {
    return t.data.data() + (bh * R + r) * width;
  }
};

// k = q / sqrt(|q|² + eps) row by row, and rnorm = 1 / sqrt(|q|² + eps): (B, H, n, d) and (B, H, n).
void shared_keys(const Tensor& q, Tensor& k, Tensor& rnorm) {
  const int64_t rows = q.numel() / q.size(-1), d = q.size(-1);
  k = Tensor::empty(q.shape());
  rnorm = Tensor::empty({rows});
  const float* pq = q.data();
  float* pk = k.data();
  float* pr = rnorm.data();
  parallel_rows(rows, d, [&](int64_t i) {
    double ss = 0.0;
    for (int64_t t = 0; t < d; ++t) ss += double(pq[i * d + t]) * pq[i * d + t];
    const float r = static_cast<float>(1.0 / std::sqrt(ss + double(kKeyNormEps)));
    pr[i] = r;
    for (int64_t t = 0; t < d; ++t) pk[i * d + t] = pq[i * d + t] * r;
  });
}

void check_inputs(const Tensor& q, const Tensor& v, const LSHOptions& o) {
  validate(o);
  AZ_CHECK(q.dim() == 4 && q.size(2) > 0 && q.size(3) > 0, "reformer: q must be (B, H, n, d), got ", q.shape());
  AZ_CHECK(v.defined() && v.shape() == q.shape(), "reformer: shared-QK attention needs v of q's shape ", q.shape(),
           " (keys are the queries), got v ", v.defined() ? v.shape() : Shape{});
  check_padding(o.key_padding_mask, q.size(0), q.size(2));
}

// What the forward computes, kept apart from autograd so that effective_attention can reuse it.
// The log-sum-exp of query i, L_i = log Σ_rounds Σ_candidates exp(s_ij), is kept as two floats: the largest
// score top_i and log Σ exp(s_ij - top_i). One float L_i would not do: when a token has only itself
// (s_ii = -1e5), L_i ≈ -1e5 + log(count), and floats near 1e5 are 0.008 apart — exp(s - L) would be 0.3 % off.
struct Forward {
  Tensor out;    // (B, H, n, d)
  Tensor stats;  // (B, H, n, 2): [top_i, log Σ exp(s_ij - top_i)]; top_i = -inf when i has no candidate
};

// P_ij = exp(s_ij - L_i) from the stats of row i.
inline float prob(const float* st, float s) { return core::fast_exp((s - st[0]) - st[1]); }

// The keys, the layout and the context of one call, built in place (ctx points into layout and k: no copies).
struct Prepared {
  Prepared(const Tensor& q, const LSHOptions& o, const IntTensor& buckets) {
    const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
    AZ_CHECK(buckets.shape == Shape({B, H, o.n_hashes, n}), "reformer: buckets must be (B, H, n_hashes, n) = ",
             Shape({B, H, o.n_hashes, n}), ", got ", buckets.shape);
    shared_keys(q, k, rnorm);
    layout = lsh_layout(buckets, o);
    ctx = LSHContext{B, H, o.n_hashes, n, d, lsh_chunk(o, n), o.causal, 1.0f / std::sqrt(static_cast<float>(d)), q.data(),
                     k.data(), o.key_padding_mask.defined() ? o.key_padding_mask.data() : nullptr, &layout};
  }
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;
  Tensor k, rnorm;  // (B, H, n, d) normalised q, (B·H·n) 1/sqrt(|q|² + eps)
  LSHLayout layout;
  LSHContext ctx;
};

// ---- one chunk at a time ----------------------------------------------------------------------------------------
// The paper's layout: in one round, chunk c's nq queries (its slots) attend to nk keys, the slots of the previous
// chunk p = prev(c) and then its own. Their rows are gathered once into small contiguous blocks, so the scores
// are an nq × nk matrix product (nq <= m, nk <= 2m) rather than nq·nk dot products of rows fetched from wherever
// the tokens sat before sorting — which past the caches made every pair wait on memory.
struct Chunk {
  int64_t nq = 0, nk = 0, n_prev = 0;  // keys [0, n_prev) are the previous chunk's slots, [n_prev, nk) its own
  int64_t ld = 0;                      // padded(nk): the row stride of every (nq, ·) matrix and of Kt
  std::vector<int64_t> qpos, kpos;     // (nq), (nk): the original positions of the chunk's queries and keys
  std::vector<float> Q, K, Kt;         // (nq, d), (nk, d), (d, ld) with zeros in the padding columns
  std::vector<float> S;                // (nq, ld) scores with the masks applied (self: kSelfScore; blocked: -inf)
};

// Which positions chunk c of round r of slice bh holds, and its masked scores S.
void load_chunk(const LSHContext& cx, int64_t bh, int64_t r, int64_t c, Chunk& w) {
  const int64_t* perm = cx.row(cx.L->perm, bh, r, cx.n);
  const int64_t* start = cx.row(cx.L->chunk_start, bh, r, cx.n + 1);
  const int64_t p = cx.row(cx.L->prev, bh, r, cx.n)[c];
  w.qpos.assign(perm + start[c], perm + start[c + 1]);
  w.kpos.clear();
  if (p >= 0) w.kpos.assign(perm + start[p], perm + start[p + 1]);
  w.n_prev = static_cast<int64_t>(w.kpos.size());
  w.kpos.insert(w.kpos.end(), w.qpos.begin(), w.qpos.end());
  const int64_t nq = w.nq = static_cast<int64_t>(w.qpos.size()), nk = w.nk = static_cast<int64_t>(w.kpos.size());
  const int64_t d = cx.d, ld = w.ld = padded(nk);
  w.Q.resize(static_cast<size_t>(nq * d));
  w.K.resize(static_cast<size_t>(nk * d));
  w.S.resize(static_cast<size_t>(nq * ld));
  const float* q = cx.q + bh * cx.n * d;
  const float* k = cx.k + bh * cx.n * d;
  for (int64_t i = 0; i < nq; ++i) copy_row(w.Q.data() + i * d, q + w.qpos[i] * d, d);
  gather_rows(k, w.kpos.data(), nk, d, w.K);
  gather_columns(k, w.kpos.data(), nk, d, w.Kt);
  scores(w.Q.data(), w.Kt.data(), nq, ld, d, w.S.data());
  const int64_t b = bh / cx.H;
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t j = 0; j < nk; ++j) {
      float& s = w.S[i * ld + j];
      const int64_t qi = w.qpos[i], kj = w.kpos[j];
      s = cx.blocked(b, qi, kj) ? kNegInf : qi == kj ? kSelfScore : s * cx.scale;
    }
}

// Round buffers of one (bh) slice, indexed by position: what one round's chunks write (each position is a query
// in exactly one chunk and a key of its own chunk and of the chunk after it), merged into the totals in round
// order after the round — so every sum has one fixed order, whatever the number of threads.
Forward lsh_forward(const Prepared& p, const Tensor& v) {
  const LSHContext& cx = p.ctx;
  const int64_t BH = cx.B * cx.H, n = cx.n, d = cx.d;
  Forward f{Tensor::zeros({cx.B, cx.H, n, d}), Tensor::empty({cx.B, cx.H, n, 2})};
  std::vector<float> round_top(static_cast<size_t>(n)), round_out(static_cast<size_t>(n * d));
  std::vector<double> round_sum(static_cast<size_t>(n)), total(static_cast<size_t>(n));
  std::vector<float> top(static_cast<size_t>(n));
  for (int64_t bh = 0; bh < BH; ++bh) {
    float* out = f.out.data() + bh * n * d;  // Σ_rounds exp(top_r - top) o_r, normalised at the end
    const float* vs = v.data() + bh * n * d;
    std::fill(top.begin(), top.end(), kNegInf);
    std::fill(total.begin(), total.end(), 0.0);
    for (int64_t r = 0; r < cx.R; ++r) {
      const int64_t chunks = cx.L->n_chunks.data[static_cast<size_t>(bh * cx.R + r)];
      float* rtop = round_top.data();
      float* rout = round_out.data();
      double* rsum = round_sum.data();
      // Round r, chunk by chunk: for each query i, top_r = max_j s_ij, sum_r = Σ_j exp(s_ij - top_r),
      // o_r = Σ_j exp(s_ij - top_r) v_j over its candidates j of this round.
      parallel_rows(chunks, 4 * cx.m * cx.m * d, [&, rtop, rout, rsum, vs](int64_t c) {
        thread_local Chunk w;
        thread_local std::vector<float> V, E;
        load_chunk(cx, bh, r, c, w);
        gather_rows(vs, w.kpos.data(), w.nk, d, V);
        const int64_t nq = w.nq, nk = w.nk, ld = w.ld;
        E.resize(static_cast<size_t>(nq * ld));
        for (int64_t i = 0; i < nq; ++i) {
          const float* s = w.S.data() + i * ld;
          float* e = E.data() + i * ld;
          float mx = kNegInf;
          for (int64_t j = 0; j < nk; ++j) mx = std::max(mx, s[j]);
          const int64_t pos = w.qpos[i];
          rtop[pos] = mx;
          if (mx == kNegInf) {  // every candidate of this round masked
            for (int64_t j = 0; j < nk; ++j) e[j] = 0.0f;
            rsum[pos] = 0.0;
            continue;
          }
          for (int64_t j = 0; j < nk; ++j) e[j] = core::fast_exp(s[j] - mx);
          rsum[pos] = detail::lane_sum(nk, [e](int64_t j) { return static_cast<double>(e[j]); });
        }
        thread_local std::vector<float> O;
        O.resize(static_cast<size_t>(nq * d));
        weighted_rows(E.data(), ld, V.data(), nq, nk, d, O.data());
        for (int64_t i = 0; i < nq; ++i) copy_row(rout + w.qpos[i] * d, O.data() + i * d, d);
      });
      // Merge round r into the totals, position by position: rescale both to the larger top.
      float* ptop = top.data();
      double* ptotal = total.data();
      parallel_rows(n, d, [=](int64_t i) {
        if (rtop[i] == kNegInf) return;
        const float t = std::max(ptop[i], rtop[i]);
        const float a = ptop[i] == kNegInf ? 0.0f : std::exp(ptop[i] - t), b = std::exp(rtop[i] - t);
        float* o = out + i * d;
        const float* ro = rout + i * d;
        for (int64_t u = 0; u < d; ++u) o[u] = a * o[u] + b * ro[u];
        ptotal[i] = ptotal[i] * a + rsum[i] * b;
        ptop[i] = t;
      });
    }
    // out_i = Σ_(r,j) exp(s_ij - L_i) v_j,  L_i = top_i + log total_i
    float* st = f.stats.data() + bh * n * 2;
    const float* ptop = top.data();
    const double* ptotal = total.data();
    parallel_rows(n, d, [=](int64_t i) {
      st[2 * i] = ptop[i];
      if (ptop[i] == kNegInf) {  // every candidate masked in every round (e.g. a padding chunk): 0, not NaN
        st[2 * i + 1] = 0.0f;
        return;
      }
      const float inv = static_cast<float>(1.0 / ptotal[i]);
      float* o = out + i * d;
      for (int64_t u = 0; u < d; ++u) o[u] *= inv;
      st[2 * i + 1] = static_cast<float>(std::log(ptotal[i]));
    });
  }
  return f;
}

// The backward of one (bh) slice, chunk by chunk (the forward's scores recomputed, nothing n × n saved):
//   forward: out_i = Σ P_ij v_j, P_ij = exp(s_ij - L_i), s_ij = q_i·k_j/√d
//   =>  ds_ij = P_ij (do_i·v_j - D_i), D_i = do_i·out_i   (s_ii is a constant: no gradient)
//       dq_i += Σ_j ds_ij k_j / √d,   dk_j += Σ_i ds_ij q_i / √d,   dv_j += Σ_i P_ij do_i
//   k_j = q_j r_j, r_j = (|q_j|² + eps)^(-1/2)  =>  dq_j += r_j dk_j - r_j³ (q_j·dk_j) q_j
// A key's gradient comes from two chunks per round (its own, and the chunk after it, which looks back at it):
// each writes its own buffer (own / from_next), so no two threads write one row, and the sums have one order.
void lsh_backward_slice(const Prepared& p, int64_t bh, const float* vs, const float* gs, const float* stats,
                        const float* D, float* dq, float* dv) {
  const LSHContext& cx = p.ctx;
  const int64_t n = cx.n, d = cx.d;
  const size_t nd = static_cast<size_t>(n * d);
  std::vector<float> dk(nd, 0.0f), dq_r(nd), dk_own(nd), dv_own(nd), dk_next(nd), dv_next(nd);
  std::fill(dq, dq + n * d, 0.0f);
  std::fill(dv, dv + n * d, 0.0f);
  float *pdq_r = dq_r.data(), *pdk_own = dk_own.data(), *pdv_own = dv_own.data(), *pdk_next = dk_next.data(),
        *pdv_next = dv_next.data(), *pdk = dk.data();
  const float scale = cx.scale;
  for (int64_t r = 0; r < cx.R; ++r) {
    const int64_t chunks = cx.L->n_chunks.data[static_cast<size_t>(bh * cx.R + r)];
    const int64_t* next = cx.row(cx.L->next, bh, r, n);
    parallel_rows(chunks, 8 * cx.m * cx.m * d, [&, pdq_r, pdk_own, pdv_own, pdk_next, pdv_next](int64_t c) {
      thread_local Chunk w;
      thread_local std::vector<float> G, Vt, P, dS, dQ, dK, dV;
      load_chunk(cx, bh, r, c, w);
      const int64_t nq = w.nq, nk = w.nk, ld = w.ld;
      gather_rows(gs, w.qpos.data(), nq, d, G);
      gather_columns(vs, w.kpos.data(), nk, d, Vt);
      P.resize(static_cast<size_t>(nq * ld));
      dS.resize(static_cast<size_t>(nq * ld));
      scores(G.data(), Vt.data(), nq, ld, d, dS.data());  // do_i · v_j
      for (int64_t i = 0; i < nq; ++i) {
        const float* st = stats + 2 * w.qpos[i];
        const float Di = D[w.qpos[i]];
        const float* s = w.S.data() + i * ld;
        float* pr = P.data() + i * ld;
        float* ds = dS.data() + i * ld;
        for (int64_t j = 0; j < nk; ++j) {
          const float P_ij = st[0] == kNegInf || s[j] == kNegInf ? 0.0f : prob(st, s[j]);
          pr[j] = P_ij;
          ds[j] = w.qpos[i] == w.kpos[j] ? 0.0f : P_ij * (ds[j] - Di) * scale;
        }
      }
      dQ.resize(static_cast<size_t>(nq * d));
      dK.resize(static_cast<size_t>(nk * d));
      dV.resize(static_cast<size_t>(nk * d));
      weighted_rows(dS.data(), ld, w.K.data(), nq, nk, d, dQ.data());
      weighted_rows_t(dS.data(), ld, w.Q.data(), nq, nk, d, dK.data());
      weighted_rows_t(P.data(), ld, G.data(), nq, nk, d, dV.data());
      for (int64_t i = 0; i < nq; ++i) copy_row(pdq_r + w.qpos[i] * d, dQ.data() + i * d, d);
      for (int64_t j = 0; j < nk; ++j) {
        const bool own = j >= w.n_prev;
        float* to_k = (own ? pdk_own : pdk_next) + w.kpos[j] * d;
        float* to_v = (own ? pdv_own : pdv_next) + w.kpos[j] * d;
        copy_row(to_k, dK.data() + j * d, d);
        copy_row(to_v, dV.data() + j * d, d);
      }
      if (next[c] < 0)  // no chunk looks back at this one: its keys get nothing from a next chunk
        for (int64_t i = 0; i < nq; ++i) {
          std::fill(pdk_next + w.qpos[i] * d, pdk_next + (w.qpos[i] + 1) * d, 0.0f);
          std::fill(pdv_next + w.qpos[i] * d, pdv_next + (w.qpos[i] + 1) * d, 0.0f);
        }
    });
    parallel_rows(n, d, [=](int64_t i) {
      for (int64_t u = i * d; u < (i + 1) * d; ++u) {
        dq[u] += pdq_r[u];
        pdk[u] += pdk_own[u] + pdk_next[u];
        dv[u] += pdv_own[u] + pdv_next[u];
      }
    });
  }
  const float* qs = cx.q + bh * n * d;
  const float* rn = p.rnorm.data() + bh * n;
  parallel_rows(n, d, [=](int64_t j) {
    const float r = rn[j];
    const float* qj = qs + j * d;
    const float* dkj = pdk + j * d;
    const float qdk = dot(qj, dkj, d);
    float* dqj = dq + j * d;
    for (int64_t t = 0; t < d; ++t) dqj[t] += r * dkj[t] - r * r * r * qdk * qj[t];
  });
}

}  // namespace

Tensor lsh_attention(const Tensor& q, const Tensor& v, const LSHOptions& o, const IntTensor* buckets) {
  check_inputs(q, v, o);
  auto ids = std::make_shared<const IntTensor>(buckets ? *buckets : lsh_buckets(q, o));  // (B, H, R, n)
  const Prepared p(q, o, *ids);
  Forward f = lsh_forward(p, v);
  LSHOptions opts = o;
  return record(
      f.out, "lsh_attention", {q, v},
      [opts, ids](BackwardContext& c) {
        const Tensor& q = c.inputs[0];
        const Tensor& v = c.inputs[1];
        const Tensor& out = c.out;
        const Tensor& g = c.grad_out;  // dL/dout (B, H, n, d)
        const Tensor& stats = c.saved[0];  // (B, H, n, 2)
        // Rebuild the keys and the layout from q and the saved bucket ids (O(n) work, not stored).
        const Prepared p(q, opts, *ids);
        const LSHContext& cx = p.ctx;
        const int64_t BH = cx.B * cx.H, n = cx.n, d = cx.d;
        const float *pv = v.data(), *po = out.data(), *pg = g.data(), *pl = stats.data();
        // D_i = do_i · out_i = Σ_j P_ij (do_i · v_j)   (the softmax backward's row term)
        Tensor D = Tensor::empty({BH * n});
        float* pD = D.data();
        parallel_rows(BH * n, d, [=](int64_t row) { pD[row] = dot(pg + row * d, po + row * d, d); });
        Tensor dq = Tensor::empty(q.shape()), dv = Tensor::empty(v.shape());
        for (int64_t bh = 0; bh < BH; ++bh)
          lsh_backward_slice(p, bh, pv + bh * n * d, pg + bh * n * d, pl + bh * n * 2, pD + bh * n,
                             dq.data() + bh * n * d, dv.data() + bh * n * d);
        c.add_grad(0, dq);
        c.add_grad(1, dv);
      },
      {f.stats});
}

namespace {
// Fills a (B, H, n, n) matrix with value(stats_i, s_ij) summed over the candidate occurrences of each (i, j).
template <class F>
Tensor pair_matrix(const Tensor& q, const LSHOptions& o, const IntTensor* buckets, bool need_lse, F value) {
  NoGradGuard no_grad;
  check_inputs(q, q, o);
  const IntTensor ids = buckets ? *buckets : lsh_buckets(q, o);
  const Prepared p(q, o, ids);
  const LSHContext& cx = p.ctx;
  const int64_t BH = cx.B * cx.H, n = cx.n;
  Tensor stats;
  if (need_lse) stats = lsh_forward(p, q).stats;  // L depends on the scores only, not on v
  Tensor A = Tensor::zeros({cx.B, cx.H, n, n});
  float* pa = A.data();
  const float* pl = need_lse ? stats.data() : nullptr;
  // Round after round (a query's row gets one chunk's keys per round), the chunks of a round in parallel.
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t r = 0; r < cx.R; ++r) {
      const int64_t chunks = cx.L->n_chunks.data[static_cast<size_t>(bh * cx.R + r)];
      parallel_rows(chunks, 4 * cx.m * cx.m * cx.d, [&](int64_t c) {
        thread_local Chunk w;
        load_chunk(cx, bh, r, c, w);
        for (int64_t i = 0; i < w.nq; ++i) {
          const int64_t row = bh * n + w.qpos[i];
          const float* st = pl ? pl + 2 * row : nullptr;
          for (int64_t j = 0; j < w.nk; ++j) {
            const float s = w.S[i * w.ld + j];
            if (s != kNegInf) pa[row * n + w.kpos[j]] += value(st, s);
          }
        }
      });
    }
  return A;
}
}  // namespace

Tensor lsh_candidate_counts(const Tensor& q, const LSHOptions& o, const IntTensor* buckets) {
  return pair_matrix(q, o, buckets, false, [](const float*, float) { return 1.0f; });
}

Tensor lsh_pattern(const Tensor& q, const LSHOptions& o, const IntTensor* buckets) {
  Tensor counts = lsh_candidate_counts(q, o, buckets);
  float* p = counts.data();
  for (int64_t i = 0; i < counts.numel(); ++i) p[i] = p[i] > 0.0f ? 1.0f : 0.0f;
  return counts;
}

Tensor lsh_effective_attention(const Tensor& q, const LSHOptions& o, const IntTensor* buckets) {
  // A_ij = Σ_rounds [j a candidate of i] exp(s_ij - L_i): the rounds' weights exp(L_r - L) times their softmax
  return pair_matrix(q, o, buckets, true, [](const float* st, float s) { return prob(st, s); });
}

// ---- the layer ------------------------------------------------------------------------------------------------
LSHAttentionLayer::LSHAttentionLayer(const LayerConfig& cfg, Rng& rng)
    : d_model(cfg.d_model),
      n_heads(cfg.n_heads),
      w_qk(cfg.d_model, cfg.d_model, rng),
      w_v(cfg.d_model, cfg.d_model, rng),
      w_o(cfg.d_model, cfg.d_model, rng) {
  check_heads(cfg, "reformer");
  config.causal = cfg.causal;
  config.seed = cfg.seed;
  config.settings = Settings("reformer", reformer_hyperparams(), cfg.set);
  validate(lsh_options(config));
  register_module("w_qk", w_qk);
  register_module("w_v", w_v);
  register_module("w_o", w_o);
}

LSHOptions LSHAttentionLayer::options(const Tensor& key_padding_mask) const {
  Config cfg = config;
  cfg.key_padding_mask = key_padding_mask;
  return lsh_options(cfg);
}

Tensor LSHAttentionLayer::forward(const Tensor& x, const Tensor& key_padding_mask) {
  return forward_lsh(x, key_padding_mask, nullptr, false);
}

Tensor LSHAttentionLayer::forward_lsh(const Tensor& x, const Tensor& key_padding_mask, IntTensor* buckets,
                                      bool replay) {
  AZ_CHECK(x.dim() == 3 && x.size(2) == d_model, "reformer layer: x must be (B, n, ", d_model, "), got ", x.shape());
  const Tensor qk = split_heads(w_qk.forward(x), n_heads);  // (B, H, n, d): queries, and (normalised) keys
  const Tensor v = split_heads(w_v.forward(x), n_heads);    // (B, H, n, d)
  const LSHOptions o = options(key_padding_mask);
  Tensor out;
  if (buckets && replay) {
    out = lsh_attention(qk, v, o, buckets);
  } else if (buckets) {
    *buckets = lsh_buckets(qk, o);  // (B, H, R, n): kept by the caller to replay later
    out = lsh_attention(qk, v, o, buckets);
  } else {
    out = lsh_attention(qk, v, o);
  }
  return w_o.forward(merge_heads(out));  // (B, n, d_model)
}

Tensor LSHAttentionLayer::attention_weights(const Tensor& x) {
  AZ_CHECK(x.dim() == 3 && x.size(2) == d_model, "reformer layer: x must be (B, n, ", d_model, "), got ", x.shape());
  core::NoGradGuard no_grad;
  return lsh_effective_attention(split_heads(w_qk.forward(x), n_heads), options());  // (B, H, n, n)
}

// ---- the registered scheme ------------------------------------------------------------------------------------
namespace {

SchemeInfo reformer_info() {
  SchemeInfo i;
  i.name = "reformer";
  i.summary =
      "LSH attention, shared QK (keys = normalised queries; the k input is ignored): hash by random rotations, sort "
      "by bucket, attend within chunks and the previous chunk; O(n·chunk·n_hashes)";
  i.paper = "Kitaev, Kaiser, Levskaya 2020, Reformer: The Efficient Transformer";
  i.lecture = 4;
  i.use(reformer_params());
  i.causal = true;
  // The pattern is the pairs that shared a chunk (or the previous chunk) in some round: it depends on the buckets
  // of q, so it exists only for a given q (data_pattern), not for a shape.
  i.has_pattern = true;
  i.families = {Family::LP};
  i.exactness = Exactness::on_pattern;
  i.nonsmooth = "LSH buckets are piecewise constant in q";
  i.time_growth = "n (x rounds)";
  i.memory_exponent = 1;
  i.idea = "pairs chosen by locality-sensitive hashing of shared q = k";
  i.claim = {"Kitaev et al. 2020 (§5, Figure 4): LSH attention with 8 hashing rounds matches full attention "
              "(imagenet64); a 12-layer Reformer reaches 1.05 bits/dim on enwik8 with further tuning",
             attention::ClaimTest::lm_matches_exact};
  i.lra_paper = {"Reformer", 37.27, 68.50, 50.67, 56.10, 53.40, 38.07};
  i.gallery_settings = {"n_hashes=4"};
  i.test_settings = {{"n_hashes=1", "chunk=8"}, {"n_hashes=3", "n_buckets=8", "chunk=16"}};
  return i;
}

class ReformerScheme : public Scheme {
 public:
  ReformerScheme() : Scheme(reformer_info()) {}
  Tensor pattern(const Shape&, const Config&) const override {
    AZ_FAIL("reformer: the pattern depends on q (its buckets); use data_pattern(q, k, cfg)");
  }
  Tensor data_pattern(const Tensor& q, const Tensor& k, const Config& cfg) const override {
    check_qkv(q, k, k, "reformer");
    return lsh_pattern(q.detach(), lsh_options(cfg));  // k is ignored: shared QK
  }

  // Each round: every query scores its own and the previous chunk (2m keys); causal: about half of them.
  double flops(const Shape& q, const Config& cfg) const override {
    const LSHOptions o = lsh_options(cfg);
    const double m = static_cast<double>(std::min<int64_t>(o.chunk, q[2]));
    return attention_flops(q, static_cast<double>(o.n_hashes) * q[2] * (cfg.causal ? m : 2.0 * m));
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "reformer");
    return lsh_attention(q, v, lsh_options(cfg));  // k is ignored: shared QK
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "reformer");
    check_inputs(q, v, lsh_options(cfg));
    return lsh_effective_attention(q, lsh_options(cfg));
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& cfg, Rng& rng) const override {
    return std::make_unique<LSHAttentionLayer>(cfg, rng);
  }
};

Registrar registrar(std::make_unique<ReformerScheme>());

}  // namespace

}  // namespace attention
