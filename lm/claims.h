// lm/claims.h — each paper's headline claim beside what our offline experiments measured: out/claims.md.
//
// Every scheme file declares its paper's claim and how we test its direction (SchemeInfo::claim, a ClaimTest;
// attention/scheme.h). This file reads what the experiments wrote and gives each claim a verdict:
//
//   lm_matches_exact, mlm_matches_exact, lm_beats_local, longer_context_helps
//       out/lm/all_runs.csv           (`make lm`: every scheme's byte LM at n = 512, and the context sweep)
//   small_data_beats_exact            out/lra/results.csv, task "text"  (`make lra`: which book? from scratch),
//                                     or else the scratch runs of out/lra-pretrained
//   pretraining_helps                 out/lra-pretrained/results.csv, tasks "text" and "text+pretrained"
//                                     (`make lra-pretrained`: scratch vs fine-tuned from make lm's long run)
//
// Verdicts: "yes" (the direction reproduced), "no" (it did not), "not measured yet" (the file or the scheme's
// row is missing: which make target writes it), "not measurable here" (ClaimTest::none, with the reason).
// One seed, mini sizes, this machine: a difference of a few tenths of a percent is within noise, and the table
// says so. "Matches" means within 1 % of exact attention's bits per byte (the twelve schemes spread over about 3 %).
#pragma once

#include <string>
#include <vector>

namespace lm {

struct ClaimSources {
  std::string lm_runs = "out/lm/all_runs.csv";
  std::string lra = "out/lra/results.csv";
  std::string pretrained = "out/lra-pretrained/results.csv";
  // The same three files under another output directory (a lesson's --out parent, make's OUT).
  static ClaimSources under(const std::string& out) {
    return {out + "/lm/all_runs.csv", out + "/lra/results.csv", out + "/lra-pretrained/results.csv"};
  }
};

struct ClaimRow {
  std::string scheme, paper, claim;  // paper: SchemeInfo::paper; claim: PaperClaim::claim (theirs)
  std::string test;                  // what we compare, in words
  std::string measured;              // our numbers, or why there are none
  std::string verdict;               // "yes", "no", "not measured yet", "not measurable here"
};

// One row per registered scheme with a claim, in course order. Missing or unreadable files make "not measured
// yet" rows, never an error: the table is useful after `make lm` alone.
std::vector<ClaimRow> check_claims(const ClaimSources& sources = {});

// The table, with the claims that did not reproduce listed first in the summary, and the sources.
std::string claims_markdown(const std::vector<ClaimRow>& rows, const ClaimSources& sources = {});

}  // namespace lm
