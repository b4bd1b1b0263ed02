// tests/test_limits.cpp — settings at their boundaries, and memory that follows the input, not the setting.
//
// The contract (README, "Errors and limits"): a setting far above what the input needs is cut to what it can
// use (a window wider than n is the full row), a setting that makes no sense is refused with one line naming
// it, and no call allocates beyond what its input needs. Checked here for every registered scheme, every one of
// its settings, at the values a user might type: 0, 1, n-1, n, n+1, huge, INT64_MAX, negative, not a number.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attention/bigbird.h"
#include "attention/etc.h"
#include "attention/longformer.h"
#include "attention/reformer.h"
#include "attention/scheme.h"
#include "core/core.h"
#include "tests/helpers.h"

namespace {

using attention::Scheme;
using core::Tensor;

constexpr int64_t kN = 20;  // the sequence length of every call here

// True when `s` is one line of printable text (UTF-8 allowed): what the CLI prints after "attnzoo: ".
bool one_printable_line(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return !s.empty();
}

struct Outcome {
  bool refused = false;
  std::string message;
  Tensor out;
  size_t peak = 0;  // bytes allocated above what was live before the call
};

// configure + kernel + effective_attention on q, k, v (1, 2, n, 8), catching the refusal.
Outcome call(const Scheme& s, const std::vector<std::string>& set, bool causal, const Tensor& q, const Tensor& k,
             const Tensor& v) {
  Outcome r;
  core::memory::PeakScope scope;
  try {
    const attention::Config cfg = s.configure(set, causal, 3);
    core::NoGradGuard no_grad;
    r.out = s.kernel(q, k, v, cfg);
    if (q.size(2) <= 64) s.effective_attention(q, k, v, cfg);
  } catch (const core::Error& e) {
    r.refused = true;
    r.message = e.what();
  }
  r.peak = scope.peak_above_start();
  return r;
}

bool all_finite(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.data()[i])) return false;
  return true;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.numel(), b.data());
}

}  // namespace

TEST_CASE("limits: every setting of every scheme at boundary values is used, cut or refused in one line") {
  const Tensor q = testing::rand_tensor({1, 2, kN, 8}, 1), k = testing::rand_tensor({1, 2, kN, 8}, 2),
               v = testing::rand_tensor({1, 2, kN, 8}, 3);
  const std::vector<std::string> values = {"0",  "1",  std::to_string(kN - 1), std::to_string(kN), std::to_string(kN + 1),
                                           "1000000000", "9223372036854775807", "-1", "-9223372036854775808",
                                           "99999999999999999999", "abc", "1e3", "0.5", "nan", "inf", "1,2", ",", ""};
  // What a call on (1, 2, 20, 8) may take at most, whatever the setting: the largest legitimate use is an n×n
  // matrix per head a few times over (kilobytes), so 16 MiB is far above any honest need and far below what the
  // unclamped settings took (hundreds of MiB to GiB).
  constexpr size_t kMaxBytes = size_t(16) << 20;
  int calls = 0, refusals = 0;
  for (const Scheme* s : attention::all_schemes()) {
    for (const attention::HyperParam& hp : s->hyperparams())
      for (const std::string& value : values)
        for (bool causal : {false, true}) {
          if (causal && !s->supports_causal()) continue;
          CAPTURE(s->name());
          CAPTURE(hp.key);
          CAPTURE(value);
          CAPTURE(causal);
          const Outcome r = call(*s, {hp.key + "=" + value}, causal, q, k, v);
          ++calls;
          CHECK(r.peak <= kMaxBytes);
          if (r.refused) {
            ++refusals;
            CHECK(one_printable_line(r.message));
            CHECK(r.message.find(s->name()) != std::string::npos);  // the message names the scheme...
            continue;
          }
          REQUIRE(r.out.defined());
          CHECK(r.out.shape() == q.shape());
          CHECK(all_finite(r.out));
        }
  }
  MESSAGE(calls, " calls, ", refusals, " refused");
  CHECK(refusals > 0);
  CHECK(refusals < calls);
}

TEST_CASE("limits: a setting beyond the sequence gives exactly the result of the largest setting that matters") {
  const Tensor q = testing::rand_tensor({1, 2, kN, 8}, 11), k = testing::rand_tensor({1, 2, kN, 8}, 12),
               v = testing::rand_tensor({1, 2, kN, 8}, 13);
  struct Case {
    const char* scheme;
    std::string huge, fitted;  // setting far above n, and the value it is cut to
  };
  const std::string n = std::to_string(kN), n1 = std::to_string(kN - 1), n2 = std::to_string(2 * kN);
  const std::vector<Case> cases = {
      {"bigbird", "block=10000000", "block=" + n},
      {"longformer", "window=10000000", "window=" + n1},
      {"longformer", "dilation=9223372036854775807", "dilation=" + n},
      {"reformer", "n_buckets=10000000", "n_buckets=" + n2},
      {"etc", "rel_clip=10000000", "rel_clip=" + n1},
      {"sparse", "stride=9223372036854775807", "stride=" + n},
  };
  for (const Case& c : cases)
    for (bool causal : {false, true}) {
      CAPTURE(c.scheme);
      CAPTURE(c.huge);
      CAPTURE(causal);
      const Scheme& s = attention::find_scheme(c.scheme);
      const Outcome big = call(s, {c.huge}, causal, q, k, v), fit = call(s, {c.fitted}, causal, q, k, v);
      REQUIRE_FALSE(big.refused);
      REQUIRE_FALSE(fit.refused);
      CHECK(same(big.out, fit.out));
      CHECK(big.peak <= 2 * fit.peak + 4096);  // memory of the cut setting, not of the one asked for
    }
}

TEST_CASE("limits: the options helpers cut settings to the sequence") {
  attention::BigBirdOptions b;
  b.block = 1000;
  CHECK(attention::bigbird_fit(b, 37).block == 37);
  CHECK(attention::bigbird_num_blocks(b, 37) == 1);
  b.block = 16;
  CHECK(attention::bigbird_fit(b, 37).block == 16);  // a setting that fits stays as it is
  attention::LongformerOptions l;
  l.window = 500;
  l.dilation = {1, 1000};
  const attention::LongformerOptions lf = attention::longformer_fit(l, 10);
  CHECK(lf.window == 9);
  CHECK(lf.dilation == std::vector<int64_t>{1, 10});
  CHECK(attention::longformer_index(l, 10, 2).shape[3] == 2 * 9 + 1);  // (1, H, n, 2w+1) with the cut w
  attention::EtcOptions e;
  e.rel_clip = 99;
  CHECK(attention::etc_fit(e, 12).rel_clip == 11);
  attention::LSHOptions o;
  o.n_buckets = 1 << 20;
  CHECK(attention::lsh_num_buckets(o, 20) == 40);
  o.n_buckets = 8;
  CHECK(attention::lsh_num_buckets(o, 20) == 8);
}

TEST_CASE("limits: a setting given twice is refused, naming both values") {
  const Scheme& s = attention::find_scheme("longformer");
  CHECK_THROWS_WITH_AS(s.configure({"window=3", "window=5"}),
                       doctest::Contains("setting 'window' is given twice (window=3 and window=5)"), core::Error);
  CHECK_NOTHROW(s.configure({"window=3", "dilation=2"}));
}

TEST_CASE("limits: an allocation beyond the machine's memory is refused before it is tried") {
  const size_t machine = core::memory::machine_bytes();
  REQUIRE(machine > 0);
  const size_t live = core::memory::current_bytes();
  // A float tensor twice the machine's memory: refused with the sizes, nothing allocated.
  const int64_t too_many = static_cast<int64_t>(machine / 2);  // floats: 4 bytes each, so 2x the memory
  CHECK_THROWS_WITH_AS(Tensor::empty({too_many}), doctest::Contains("beyond this machine's"), core::Error);
  CHECK(core::memory::current_bytes() == live);
  CHECK_NOTHROW(Tensor::empty({1024}));
}
