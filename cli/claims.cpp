// cli/claims.cpp — `attnzoo claims`: each paper's headline claim beside what the offline experiments measured
// (lm/claims.h), printed and written to out/claims.md.
//
//   attnzoo claims [--lm-runs out/lm/all_runs.csv] [--lra out/lra/results.csv]
//                  [--pretrained out/lra-pretrained/results.csv] [--out out/claims.md]
#include <iostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "core/core.h"
#include "lm/claims.h"
#include "lra/files.h"

namespace cli {

int cmd_claims(const std::vector<std::string>& words) {
  const Args args = parse_args("claims", words,
                               {{"lm-runs", true, false}, {"lra", true, false}, {"pretrained", true, false},
                                {"out", true, false}});
  AZ_CHECK(args.positional.empty(), "claims: unexpected argument '", args.positional.empty() ? "" : args.positional[0],
           "'");
  lm::ClaimSources sources;
  sources.lm_runs = args.get("lm-runs", sources.lm_runs);
  sources.lra = args.get("lra", sources.lra);
  sources.pretrained = args.get("pretrained", sources.pretrained);
  const std::string out = args.get("out", "out/claims.md");
  check_output_file(out, "out", true);
  // Missing result files are not an error: their rows say which make target measures them.
  const std::string md = lm::claims_markdown(lm::check_claims(sources), sources);
  lra::files::write_atomically(out, md, "claims");
  std::cout << md << "\nwrote " << out << "\n";
  return kExitOk;
}

}  // namespace cli
