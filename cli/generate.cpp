// cli/generate.cpp — `attnzoo generate`: a causal byte LM of `attnzoo lm train` writes text after a prompt, one
// byte at a time, with every block's attention state cached (lm/generate.h) or, with --no-cache, the whole
// window recomputed at every byte. The text goes to stdout as it comes; the speed and the state's size to stderr.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/core.h"
#include "lm/generate.h"
#include "lm/train.h"

namespace cli {

int cmd_generate(const std::vector<std::string>& words) {
  const Args args = parse_args("generate", words,
                               {{"model", true, false}, {"prompt", true, false}, {"tokens", true, false},
                                {"temperature", true, false}, {"top-k", true, false}, {"seed", true, false},
                                {"no-cache", false, false}});
  AZ_CHECK(args.positional.empty(), "generate: unexpected argument '",
           args.positional.empty() ? std::string() : args.positional.front(), "'");
  AZ_CHECK(args.has("model"), "generate: which model? (--model DIR, a causal LM written by attnzoo lm train)");
  AZ_CHECK(args.has("prompt"), "generate: what to start from? (--prompt TEXT)");
  AZ_CHECK(!args.get("prompt").empty(), "generate: the prompt is empty (give at least one byte to start from)");
  lm::GenerateOptions o;
  o.tokens = parse_int(args, "tokens", 200, 1, 10000000);
  o.temperature = static_cast<float>(parse_float(args, "temperature", 0.8, 0, 1000));
  o.top_k = parse_int(args, "top-k", 0, 0, 256);
  o.seed = parse_seed(args);
  o.cache = !args.has("no-cache");

  std::unique_ptr<lm::ByteLM> model = lm::load_model(args.get("model"));
  model->eval();
  lm::GenerateStats st;
  // The prompt is printed with the first byte, so that a refusal (checked before it) prints nothing on stdout.
  bool first = true;
  auto print = [&](char c) {
    if (first) std::cout << args.get("prompt");
    first = false;
    std::cout << c << std::flush;
  };
  lm::generate(*model, args.get("prompt"), o, print, &st);
  std::cout << std::endl;

  const double kib = static_cast<double>(st.peak_state_floats) * 4 / 1024;
  std::ostringstream line;
  line << std::fixed << std::setprecision(2) << "generate: " << st.bytes << " bytes in " << st.seconds << " s ("
       << std::setprecision(1) << (st.seconds > 0 ? st.bytes / st.seconds : 0.0) << " bytes/s on this machine; "
       << st.fed << " bytes through the model, " << st.windows << (st.windows == 1 ? " window" : " windows")
       << " of " << model->config.context << "), " << model->config.model.scheme << " "
       << (o.cache ? "cached" : "recomputed") << "; state at its largest " << st.peak_state_floats << " floats ("
       << std::setprecision(1) << kib << " KiB): " << st.state;
  std::cerr << line.str() << std::endl;
  return kExitOk;
}

}  // namespace cli
