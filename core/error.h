// core/error.h — the one error type of the engine and the AZ_CHECK macro that throws it.
//
// Library code never aborts or asserts: a bad shape, a bad file or a bad argument throws core::Error whose
// message names the op and the shapes involved, e.g.
//   matmul: (2,3) @ (4,5): inner dims 3 != 4
// Programs (lessons, the CLI) catch it in main and print that one line.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace core {

using Shape = std::vector<int64_t>;

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "(2,3,4)"; "()" for a scalar.
std::string shape_str(const Shape& shape);

// `s` (bytes from a file, a path, a setting) safe to quote in a one-line message: printable ASCII stays, a
// backslash is doubled, \n \t \r are spelled out and every other byte becomes \xNN (ESC -> \x1b), so no control
// byte from the input ever reaches a terminal.
std::string printable(std::string_view s);

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  if constexpr (std::is_same_v<T, Shape>) {
    os << shape_str(first);
  } else {
    os << first;
  }
  append(os, rest...);
}
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  append(os, parts...);
  return os.str();
}
}  // namespace detail

}  // namespace core

// AZ_CHECK(cond, "op: ", shape_a, " @ ", shape_b, ": inner dims ", k1, " != ", k2);
// Shapes passed as arguments print as (2,3). The message is built only when the check fails.
#define AZ_CHECK(cond, ...)                                          \
  do {                                                               \
    if (!(cond)) throw ::core::Error(::core::detail::concat(__VA_ARGS__)); \
  } while (0)

// AZ_FAIL("op: ...") — throw unconditionally.
#define AZ_FAIL(...) throw ::core::Error(::core::detail::concat(__VA_ARGS__))
