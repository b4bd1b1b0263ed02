// cli/show.cpp — `attnzoo show SCHEME`: draw the attention matrix a scheme applies to random q, k, v, one
// panel per head, and its 0/1 sparsity pattern where it has one.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "attention/figure.h"
#include "attention/scheme.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "core/core.h"
#include "plot/plot.h"

namespace cli {

using attention::Scheme;
using core::Shape;
using core::Tensor;

namespace {

// Limits of `show`: the effective attention is n×n per head, and every head becomes a panel of the figure.
constexpr int64_t kShowMaxN = 4096;
constexpr int64_t kShowMaxHeads = 16;
constexpr int64_t kShowMaxD = 4096;

}  // namespace

int cmd_show(const std::vector<std::string>& words) {
  const Args args = parse_args("show", words,
                               {{"n", true, false}, {"d", true, false}, {"heads", true, false},
                                {"causal", false, false}, {"seed", true, false}, {"set", true, true},
                                {"out", true, false}});
  const std::string name = scheme_name(args);
  const Scheme& scheme = attention::find_scheme(name);
  const int64_t n = parse_int(args, "n", 64, 1, kShowMaxN, ": the effective attention is an n x n matrix per head");
  const int64_t d = parse_int(args, "d", 16, 1, kShowMaxD);
  const int64_t H = parse_int(args, "heads", 2, 1, kShowMaxHeads, ": every head is a panel of the figure");
  const uint64_t seed = parse_seed(args);
  const bool causal = args.has("causal");
  const std::vector<std::string> sets = args.all("set");
  const attention::Config cfg = scheme.configure(sets, causal, seed);
  const std::string out_path = args.get("out", "out/show/" + name + ".png");
  check_output_file(out_path, "out", /*make_parent=*/true);  // save_png makes the directory

  // q, k, v ~ N(0, 1): (1, H, n, d), drawn in this order from one generator.
  core::Rng rng(seed);
  const Tensor q = core::randn({1, H, n, d}, rng);
  const Tensor k = core::randn({1, H, n, d}, rng);
  const Tensor v = core::randn({1, H, n, d}, rng);

  attention::FigureOptions fo;
  fo.subtitle = "d=" + std::to_string(d) + " seed=" + std::to_string(seed);
  for (const std::string& s : sets) fo.subtitle += " " + s;
  const attention::SchemeFigure figure = attention::draw_scheme(scheme, cfg, q, k, v, fo);  // A: (1, H, n, n)

  plot::save_png(figure.image, out_path);  // the one output, written last (atomically)
  std::cout << out_path << "\n";
  if (!figure.finite)
    std::cerr << "attnzoo: warning: " << name << ": the effective attention has non-finite values (magenta cells)\n";
  return kExitOk;
}

}  // namespace cli
