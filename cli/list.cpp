// cli/list.cpp — `attnzoo list`: every scheme of the registry, its settings with their defaults and ranges,
// and what it supports (with, for the causal ones, what their decoder keeps between generated tokens).
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "attention/decode.h"
#include "attention/scheme.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/core.h"

namespace cli {

using attention::Scheme;

namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

}  // namespace

int cmd_list(const std::vector<std::string>& words) {
  const Args args = parse_args("list", words, {});
  AZ_CHECK(args.positional.empty(), "list: unexpected argument '", args.positional.empty() ? "" : args.positional[0],
           "'");
  const std::vector<const Scheme*> schemes = attention::all_schemes();

  // An overview table, then one block per scheme with everything `show` and `run` accept.
  size_t name_w = 6;
  for (const Scheme* s : schemes) name_w = std::max(name_w, s->name().size());
  auto pad = [](const std::string& s, size_t w) { return s + std::string(w > s.size() ? w - s.size() : 1, ' '); };

  std::cout << schemes.size() << " attention scheme" << (schemes.size() == 1 ? "" : "s")
            << " (attnzoo show SCHEME / attnzoo run SCHEME)\n\n";
  auto families = [](const Scheme* s) {
    std::string f;
    for (attention::Family x : s->info().families) f += (f.empty() ? "" : "+") + std::string(attention::family_code(x));
    return s->info().in_survey ? f : f + "*";
  };
  std::cout << pad("scheme", name_w + 2) << "lecture  causal  pattern  family   exactness\n";
  for (const Scheme* s : schemes)
    std::cout << pad(s->name(), name_w + 2) << pad(std::to_string(s->lecture()), 9)
              << pad(yes_no(s->supports_causal()), 8) << pad(yes_no(s->has_pattern()), 9) << pad(families(s), 9)
              << attention::exactness_name(s->info().exactness) << "\n";
  std::cout << "family: the class in Tay et al. 2020, Efficient Transformers: A Survey (EX = exact attention; "
               "* = not in the survey: the course's placement)\n";

  for (const Scheme* s : schemes) {
    std::cout << "\n" << s->name() << "  (lecture " << s->lecture() << ")\n";
    std::cout << "  " << s->summary() << "\n";
    std::cout << "  paper:    " << s->paper() << "\n";
    const std::vector<attention::HyperParam>& hps = s->hyperparams();
    if (hps.empty()) {
      std::cout << "  settings: none\n";
    } else {
      std::cout << "  settings: (--set key=value; default shown)\n";
      size_t kv_w = 0;
      for (const auto& hp : hps) kv_w = std::max(kv_w, hp.key.size() + 1 + hp.default_value.size());
      for (const auto& hp : hps)
        std::cout << "    " << pad(hp.key + "=" + hp.default_value, kv_w + 2) << hp.help
                  << (hp.accepts.empty() ? "" : " [" + hp.accepts + "]") << "\n";
    }
    std::cout << "  causal: " << (s->supports_causal() ? "yes" : "no (" + s->causal_refusal() + ")")
              << "   pattern: " << yes_no(s->has_pattern()) << "\n";
    const auto preset = [](const std::vector<std::string>& set) {
      std::string t;
      for (const std::string& kv : set) t += (t.empty() ? "" : " ") + kv;
      return t.empty() ? std::string("defaults") : t;
    };
    std::cout << "  presets: lra " << preset(s->info().lra_settings) << "; lm " << preset(s->info().lm_settings)
              << "\n";
    // What its decoder keeps between generated tokens (attention/decode.h; `run --causal --decode`).
    if (s->supports_causal())
      std::cout << "  decoding keeps (n = 4096): "
                << attention::make_decoder(*s, s->configure({}, true), 4096)->state() << "\n";
  }
  return kExitOk;
}

}  // namespace cli
