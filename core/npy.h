// core/npy.h — read and write NumPy .npy files (format 1.0/2.0/3.0; float32 '<f4' and int64 '<i8', C order).
//
// Writing is atomic: the file appears complete or not at all (written to a temporary name, then renamed).
// Reading checks everything (magic, version, header, dtype, order, shape, size) and throws core::Error naming
// the file and what is wrong, e.g.
//   npy: q.npy: dtype '<f8' (float64) is not supported; expected float32 '<f4' (save float32: a.astype(np.float32))
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
