// cli/bench.cpp — `attnzoo bench`: time and peak activation memory of every scheme's kernel, forward +
// backward, at growing n (attention/benchmark.h); `make bench` runs it.
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

namespace cli {

namespace {

}  // namespace

int cmd_bench(const std::vector<std::string>& words) {
  const Args args = parse_args("bench", words,
                               {{"schemes", true, false}, {"n", true, false}, {"out", true, false},
                                {"batch", true, false}, {"heads", true, false}, {"d", true, false},
                                {"causal", false, false}, {"repeats", true, false}, {"seed", true, false}});
  AZ_CHECK(args.positional.empty(), "bench: unexpected argument '", args.positional.empty() ? "" : args.positional[0],
           "' (use --schemes a,b)");
  attention::BenchOptions o;
  if (args.has("schemes")) {
    std::stringstream ss(args.get("schemes"));
    for (std::string name; std::getline(ss, name, ',');) {
      o.schemes.push_back(attention::find_scheme(name).name());  // unknown names fail here, before any work
    }
  }
  o.ns = parse_int_list(args, "n", o.ns, 1, 1 << 17);
  o.batch = parse_int(args, "batch", 1, 1, 64);
  o.heads = parse_int(args, "heads", 4, 1, 64);
  o.d_head = parse_int(args, "d", 64, 1, 1024);
  o.repeats = static_cast<int>(parse_int(args, "repeats", 3, 1, 100));
  o.causal = args.flags.count("causal") > 0;
  o.seed = parse_seed(args);
  const std::string dir = args.get("out", "out/bench");
  check_output_dir(dir, "bench");
  o.progress = [](const std::string& line) { std::cout << line << std::endl; };
  const auto points = attention::run_benchmark(o);
  const std::string md = attention::write_benchmark_report(points, o, dir);
  std::cout << "\n" << md << "\nwrote " << dir << "/attention.csv, attention.md, attention.png\n";
  return kExitOk;
}

}  // namespace cli
