// cli/bench.cpp — `attnzoo bench`: time and peak activation memory of every scheme's kernel, forward +
// backward, at growing n (attention/benchmark.h); with --decode, what one generated token costs against the
// context length, cached and recomputed (attention/decode_bench.h). `make bench` runs both.
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "attention/scheme.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "core/core.h"
#include "attention/benchmark.h"
#include "attention/decode_bench.h"

namespace cli {

namespace {

std::vector<std::string> scheme_list(const Args& args) {
  std::vector<std::string> names;
  if (args.has("schemes")) {
    std::stringstream ss(args.get("schemes"));
    for (std::string name; std::getline(ss, name, ',');)
      names.push_back(attention::find_scheme(name).name());  // unknown names fail here, before any work
  }
  return names;
}

// attnzoo bench --decode: per-token time and state memory vs the context length t.
int bench_decode(const Args& args) {
  for (const char* other : {"n", "batch", "causal", "repeats", "no-roofline", "thread-speedup"})
    AZ_CHECK(!args.has(other), "bench --decode: --", other, " is for the training benchmark (--decode measures ",
             "batch 1, causal, at the lengths of --t)");
  attention::DecodeBenchOptions o;
  o.schemes = scheme_list(args);
  for (const std::string& name : o.schemes) {
    const attention::Scheme& s = attention::find_scheme(name);
    AZ_CHECK(s.supports_causal(), "bench --decode: ", name, " has no causal variant to decode (", s.causal_refusal(),
             ")");
  }
  o.ts = parse_int_list(args, "t", o.ts, 1, 1 << 17);
  if (args.has("long-t") && args.get("long-t") == "none")
    o.long_ts.clear();
  else
    o.long_ts = parse_int_list(args, "long-t", o.long_ts, 1, 1 << 20);
  o.heads = parse_int(args, "heads", 4, 1, 64);
  o.d_head = parse_int(args, "d", 64, 1, 1024);
  o.steps = static_cast<int>(parse_int(args, "steps", o.steps, 1, 1000));
  o.recompute = !args.has("no-recompute");
  o.seed = parse_seed(args);
  const std::string dir = args.get("out", "out/bench");
  check_output_dir(dir, "bench");
  o.progress = [](const std::string& line) { std::cout << line << std::endl; };
  const auto points = attention::run_decode_benchmark(o);
  const std::string md = attention::write_decode_report(points, o, dir);
  std::cout << "\n" << md << "\nwrote " << dir << "/decode.csv, decode.md, decode.png\n";
  return kExitOk;
}

}  // namespace

int cmd_bench(const std::vector<std::string>& words) {
  const Args args = parse_args("bench", words,
                               {{"schemes", true, false}, {"n", true, false}, {"out", true, false},
                                {"batch", true, false}, {"heads", true, false}, {"d", true, false},
                                {"causal", false, false}, {"repeats", true, false}, {"seed", true, false},
                                {"decode", false, false}, {"t", true, false}, {"long-t", true, false},
                                {"steps", true, false}, {"no-recompute", false, false},
                                {"no-roofline", false, false}, {"thread-speedup", false, false}});
  AZ_CHECK(args.positional.empty(), "bench: unexpected argument '", args.positional.empty() ? "" : args.positional[0],
           "' (use --schemes a,b)");
  if (args.has("decode")) return bench_decode(args);
  for (const char* only : {"t", "long-t", "steps", "no-recompute"})
    AZ_CHECK(!args.has(only), "bench: --", only, " goes with --decode");
  attention::BenchOptions o;
  o.schemes = scheme_list(args);
  o.ns = parse_int_list(args, "n", o.ns, 1, 1 << 17);
  o.batch = parse_int(args, "batch", 1, 1, 64);
  o.heads = parse_int(args, "heads", 4, 1, 64);
  o.d_head = parse_int(args, "d", 64, 1, 1024);
  o.repeats = static_cast<int>(parse_int(args, "repeats", 3, 1, 100));
  o.causal = args.flags.count("causal") > 0;
  o.thread_speedup = args.has("thread-speedup");
  o.seed = parse_seed(args);
  const std::string dir = args.get("out", "out/bench");
  check_output_dir(dir, "bench");
  o.progress = [](const std::string& line) { std::cout << line << std::endl; };
  if (!args.has("no-roofline")) {
    // The yardstick first, once per run (core/machine.h): ~2 s, 384 MiB for the triad's arrays.
    std::cout << "measuring this machine: sgemm peak (2048 x 2048 x 2048) and STREAM triad bandwidth ..." << std::flush;
    o.machine = core::measure_machine();
    std::cout << " " << attention::format_number("%.1f", o.machine.peak_gflops) << " GFLOP/s, "
              << attention::format_number("%.1f", o.machine.bandwidth_gbs) << " GB/s (" << o.machine.threads
              << " threads)" << std::endl;
  }
  const auto points = attention::run_benchmark(o);
  const std::string md = attention::write_benchmark_report(points, o, dir);
  std::cout << "\n" << md << "\nwrote " << dir << "/attention.csv, attention.md, attention.png"
            << (o.machine.measured() ? ", roofline.png" : "") << "\n";
  return kExitOk;
}

}  // namespace cli
