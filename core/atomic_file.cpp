// core/atomic_file.cpp — see atomic_file.h.
#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace core {

void write_file_atomically(const std::string& path, const std::string& bytes, const std::string& who) {
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long long>(::getpid()));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) AZ_FAIL(who, ": cannot write ", printable(path), ": ", std::strerror(errno));
  const size_t written = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  int err = written == bytes.size() ? 0 : (errno != 0 ? errno : EIO);
  if (std::fflush(f) != 0 && err == 0) err = errno != 0 ? errno : EIO;
  if (std::fclose(f) != 0 && err == 0) err = errno != 0 ? errno : EIO;
  if (err == 0 && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    std::remove(tmp.c_str());
    AZ_FAIL(who, ": cannot write ", printable(path), ": ", std::strerror(err));
  }
}

}  // namespace core
