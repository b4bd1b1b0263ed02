// core/npy.h — read and write NumPy .npy files (format 1.0/2.0/3.0; float32 '<f4' and int64 '<i8', C order).
//
// Writing is atomic: the file appears complete or not at all (written to a temporary name, then renamed).
// Reading checks everything (magic, version, header, dtype, order, shape, size) and throws core::Error naming
// the file and what is wrong, in one line of printable ASCII (bytes from the path or the header show as \x1b ...):
//   npy: q.npy: dtype '<f8' (float64) is not supported; expected float32 '<f4' (save float32: a.astype(np.float32))
// A file is never read whole before it is checked: a regular file's size must match what its header describes
// before the data is read; a pipe, FIFO or device is read no further than the header promises plus one byte.
// So memory stays O(the array the header describes), whatever the file's size, and /dev/zero is refused at once.
// A directory, a missing or unreadable file: "npy: cannot open PATH: ..." / "npy: cannot read PATH: Is a directory".
// Opening a FIFO waits for its writer (as cat does), so `--q <(python make_q.py)` works.
#pragma once

#include <string>

#include "core/tensor.h"

namespace core::npy {

void save(const std::string& path, const Tensor& t);
void save(const std::string& path, const IntTensor& t);
Tensor load(const std::string& path);          // float32 file
IntTensor load_int(const std::string& path);   // int64 file (int32 is widened)

// The same parsers on bytes in memory; `name` is used in error messages. For tests and fuzzing.
Tensor load_from_bytes(const std::string& bytes, const std::string& name);
IntTensor load_int_from_bytes(const std::string& bytes, const std::string& name);

}  // namespace core::npy
