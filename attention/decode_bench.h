// attention/decode_bench.h — what inference costs: the time to produce one token, and the memory kept between
// tokens, against the context length t, for every causal scheme (`attnzoo bench --decode`, `make bench`).
//
// Legend: H = heads, d = head size, t = tokens already in the context (the new token is number t).
//
//   cached      the scheme's Decoder (attention/decode.h) after a prefill of t tokens; the time of one step,
//               the median over a few steps; memory = the state it holds (Decoder::state_floats, exact)
//   recomputed  what a generate() without a cache does for the same token: the causal kernel, forward only,
//               over all t + 1 tokens, of which one row is used; memory = the peak of that forward pass
//
// Batch 1, q, k, v from N(0, 1). Schemes whose state does not grow with t (measured: the same state at two
// lengths) are also measured at the long lengths (64K by default). Times depend on the machine; memory does not.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attention/scheme.h"
#include "plot/plot.h"

namespace attention {

struct DecodeBenchOptions {
  std::vector<std::string> schemes;  // registered names; empty = every scheme with a causal variant
  std::vector<int64_t> ts = {256, 512, 1024, 2048, 4096, 8192, 16384};
  std::vector<int64_t> long_ts = {32768, 65536};  // only for the schemes whose state is constant in t
  int64_t heads = 4, d_head = 64;
  int steps = 8;                      // timed decoder steps per point (median), after one warm-up step
  bool recompute = true;              // also time the recomputation
  double max_seconds_per_point = 20;  // stop stepping (or repeating the recomputation) after this long; a
                                      // point whose step, extrapolated as t² from the last point, would take
                                      // longer is skipped, and so are the longer ones of that curve
  double max_mib = 6144;              // skip a recomputation (or a fallback decoder's step, which recomputes)
                                      // whose memory, extrapolated as t² from the last point, would exceed this
  uint64_t seed = 0;
  std::function<void(const std::string&)> progress;  // one line per point
};

struct DecodePoint {
  std::string scheme;
  std::string mode;            // "cached" or "recomputed"
  int64_t t = 0;               // context length: tokens before the timed one
  double ms_per_token = 0;     // median
  double mib = 0;              // cached: the state (exact); recomputed: the forward pass's peak
  bool constant_state = false; // cached: the scheme's state is the same at two lengths
  bool fallback = false;       // cached: the scheme has no cheaper state; its decoder recomputes (RecomputeDecoder)
  std::string skipped;         // non-empty: why this point was not measured
};

// The schemes' settings are their LM presets (SchemeInfo::lm_settings: about 64 keys per query where a scheme
// keeps some), as the generating models use them.
std::vector<DecodePoint> run_decode_benchmark(const DecodeBenchOptions& options);

// Three log-log panels, one colour per scheme: time per token cached, time per token recomputed, and the cached
// state's memory, against t (the fallback schemes marked). Times are this machine's: the title says so.
plot::Image decode_cost_figure(const std::vector<DecodePoint>& points, const DecodeBenchOptions& options);

// Writes DIR/decode.csv, DIR/decode.md (per-token time and memory at each t, the fitted exponents, the speed-up
// of the cache, the crossover against exact attention with a KV cache, and the targets checked) and
// DIR/decode.png (log-log time per token and memory vs t). Returns the markdown.
std::string write_decode_report(const std::vector<DecodePoint>& points, const DecodeBenchOptions& options,
                                const std::string& dir);

}  // namespace attention
