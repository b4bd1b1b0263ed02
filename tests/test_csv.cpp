// tests/test_csv.cpp — core/csv.h: the quoting every results file uses, written and read back.
#include <string>
#include <vector>

#include "core/csv.h"
#include "tests/helpers.h"

using core::csv_field;
using core::csv_fields;
using Fields = std::vector<std::string>;

TEST_CASE("csv: a plain field is written as it is, one with a comma, quote or line break is quoted") {
  CHECK(csv_field("n > 4096") == "n > 4096");
  CHECK(csv_field("") == "");
  CHECK(csv_field("a, b") == "\"a, b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
}

TEST_CASE("csv: a line splits into its fields, quotes undone") {
  CHECK(csv_fields("full,4096,,1.5") == Fields{"full", "4096", "", "1.5"});
  CHECK(csv_fields("") == Fields{""});
  CHECK(csv_fields("a,") == Fields{"a", ""});
  CHECK(csv_fields("\"a, b\",c") == Fields{"a, b", "c"});
  CHECK(csv_fields("x,\"say \"\"hi\"\"\"") == Fields{"x", "say \"hi\""});
  CHECK(csv_fields("a,b\r") == Fields{"a", "b"});  // a line of a file written on Windows
}

TEST_CASE("csv: every field survives a round trip, whatever it holds") {
  const Fields fields = {"plain", "", "a, b", "\"quoted\"", "comma, \"and\" quote", ",", "\"", "tab\there"};
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csv_field(fields[i]);
  CHECK(csv_fields(line) == fields);
}
