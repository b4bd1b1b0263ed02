// lessons/claims.h — each paper's headline claim beside what this machine measured, as a lesson prints it
// (lessons 15 and 18). The verdicts come from lm/claims.h, which reads what `make lm`, `make lra` and
// `make lra-pretrained` wrote under OUT; `attnzoo claims` writes the same table to out/claims.md.
//
//   const lesson::ClaimCount n = lesson::print_claims(out);  // OUT: the lesson's --out directory's parent
//   L.check("every claim has a verdict, ...", n.complete());
#pragma once

#include <iostream>
#include <string>
#include <vector>

#include "lessons/lesson.h"
#include "lm/claims.h"

namespace lesson {

struct ClaimCount {
  int rows = 0;
  int tested = 0;     // verdict yes or no
  int explained = 0;  // not measurable here (with the reason), or not measured yet naming the make target
  // Every row has a verdict, a reason it is not measurable here, or the make target that measures it.
  bool complete() const { return rows > 0 && tested + explained == rows; }
};

// One row per method (method, reproduced?, our numbers), then each claim itself in the paper's words.
inline ClaimCount print_claims(const std::string& out) {
  const std::vector<lm::ClaimRow> rows = lm::check_claims(lm::ClaimSources::under(out));
  Table t({"method", "reproduced?", "measured (ours)"}, 10);
  for (const lm::ClaimRow& r : rows)
    t.add({r.scheme, r.verdict, r.measured.size() > 70 ? r.measured.substr(0, 67) + "..." : r.measured});
  t.print();
  ClaimCount n;
  for (const lm::ClaimRow& r : rows) {
    std::cout << "  " << r.scheme << " — " << r.claim << "\n";
    ++n.rows;
    n.tested += r.verdict == "yes" || r.verdict == "no";
    n.explained += r.verdict == "not measurable here" ||
                   (r.verdict == "not measured yet" && r.measured.find("make ") != std::string::npos);
  }
  return n;
}

}  // namespace lesson
