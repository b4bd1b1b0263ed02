// core/csv.h — comma-separated values, as every results file of the project writes and reads them (RFC 4180):
// a field that holds a comma, a double quote or a line break is written in double quotes, its quotes doubled.
//
//   core::csv_field("n > 4096")            == "n > 4096"
//   core::csv_field("failed: a, b")        == "\"failed: a, b\""
//   core::csv_fields("full,4096,\"a, b\"") == {"full", "4096", "a, b"}
//
// Writers: out/bench/attention.csv and decode.csv (attention/), out/lra/results.csv and efficiency.csv (lra/),
// out/lm/all_runs.csv (lm/). Readers: read_benchmark_csv, lra::read_results_csv, lm/claims.cpp.
#pragma once

#include <string>
#include <vector>

namespace core {

// `s` as one CSV field: as it is, or quoted when it holds ',', '"', '\n' or '\r'.
std::string csv_field(const std::string& s);

// One line of a CSV file split into its fields, quotes undone ("" inside quotes is one "). A trailing '\r' (a
// file written on Windows) is dropped. A line with an unclosed quote keeps what follows the quote as its last
// field; readers check the field count, which such a line rarely has right.
std::vector<std::string> csv_fields(const std::string& line);

}  // namespace core
