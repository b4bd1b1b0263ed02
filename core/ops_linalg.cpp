// core/ops_linalg.cpp — matmul on OpenBLAS cblas_sgemm, with transpose flags and batch broadcasting.
#include "core/ops_linalg.h"

#include <cblas.h>

#include <cstring>

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"
#include "core/parallel.h"

namespace core {

namespace {

struct MatmulDims {
  int64_t m, k, n;
  Shape batch;  // broadcast batch shape
};

MatmulDims check_dims(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const char* ta_mark = ta ? "ᵀ" : "";
  const char* tb_mark = tb ? "ᵀ" : "";
  AZ_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: ", a.shape(), ta_mark, " @ ", b.shape(), tb_mark,
           ": both operands need at least 2 dims (reshape a vector to (1,k) or (k,1))");
  MatmulDims d;
  d.m = ta ? a.size(-1) : a.size(-2);
  const int64_t ka = ta ? a.size(-2) : a.size(-1);
  const int64_t kb = tb ? b.size(-1) : b.size(-2);
  d.n = tb ? b.size(-2) : b.size(-1);
  AZ_CHECK(ka == kb, "matmul: ", a.shape(), ta_mark, " @ ", b.shape(), tb_mark, ": inner dims ", ka, " != ", kb);
  d.k = ka;
  const Shape ba(a.shape().begin(), a.shape().end() - 2);
  const Shape bb(b.shape().begin(), b.shape().end() - 2);
  d.batch = broadcast_shapes(ba, bb, "matmul (batch dims)");
  return d;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const MatmulDims d = check_dims(a, b, ta, tb);
  Shape out_shape = d.batch;
  out_shape.push_back(d.m);
  out_shape.push_back(d.n);
  Tensor out = Tensor::empty(out_shape);
  float* pc = out.data();
  const float* pa = a.data();
  const float* pb = b.data();
  const int64_t lda = a.size(-1), ldb = b.size(-1);
  const auto trans_a = ta ? CblasTrans : CblasNoTrans;
  const auto trans_b = tb ? CblasTrans : CblasNoTrans;

  if (d.m * d.n == 0) {
    // nothing to compute
  } else if (d.k == 0) {
    std::memset(pc, 0, static_cast<size_t>(out.numel()) * sizeof(float));
  } else if (b.dim() == 2 && !ta) {
    // A (..., m, k) @ B (k, n): the batch folds into the rows of one big product (e.g. a Linear layer).
    const int64_t rows = a.numel() / a.size(-1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b, static_cast<int>(rows), static_cast<int>(d.n),
                static_cast<int>(d.k), 1.0f, pa, static_cast<int>(lda), pb, static_cast<int>(ldb), 0.0f, pc,
                static_cast<int>(d.n));
  } else {
    const Shape ba(a.shape().begin(), a.shape().end() - 2);
    const Shape bb(b.shape().begin(), b.shape().end() - 2);
    // Offsets of each batch's matrix in a and b: broadcast strides in units of whole matrices.
    const auto sa = detail::broadcast_strides(ba, d.batch);
    const auto sb = detail::broadcast_strides(bb, d.batch);
    const int64_t mat_a = a.size(-1) * a.size(-2), mat_b = b.size(-1) * b.size(-2);
    const int64_t batches = numel_of(d.batch);
    for (int64_t i = 0; i < batches; ++i) {
      int64_t rem = i, oa = 0, ob = 0;
      for (int64_t dd = static_cast<int64_t>(d.batch.size()) - 1; dd >= 0; --dd) {
        const int64_t coord = rem % d.batch[dd];
        rem /= d.batch[dd];
        oa += coord * sa[dd];
        ob += coord * sb[dd];
      }
      cblas_sgemm(CblasRowMajor, trans_a, trans_b, static_cast<int>(d.m), static_cast<int>(d.n),
                  static_cast<int>(d.k), 1.0f, pa + oa * mat_a, static_cast<int>(lda), pb + ob * mat_b,
                  static_cast<int>(ldb), 0.0f, pc + i * d.m * d.n, static_cast<int>(d.n));
    }
  }

  return record(out, "matmul", {a, b}, [ta, tb](BackwardContext& c) {
    // forward: C = op(A) op(B)  =>  d op(A) = dC op(B)ᵀ,  d op(B) = op(A)ᵀ dC
    // and each transposed case is rewritten so that sgemm takes the operands as stored (no copies):
    const Tensor& a = c.inputs[0];
    const Tensor& b = c.inputs[1];
    const Tensor& g = c.grad_out;
    if (c.needs_grad(0)) {
      Tensor ga = ta ? matmul(b, g, tb, true)     // A = op(A)ᵀ: dA = op(B) dCᵀ
                     : matmul(g, b, false, !tb);  // dA = dC op(B)ᵀ
      c.add_grad(0, sum_to_shape(ga, a.shape()));
    }
    if (c.needs_grad(1) && b.dim() == 2 && !ta && a.dim() > 2) {
      // B shared by every batch (a Linear weight): fold the batch into the rows, one sgemm, no summing after.
      const Tensor a2 = reshape(a, {-1, a.size(-1)});  // (rows, k)
      const Tensor g2 = reshape(g, {-1, g.size(-1)});  // (rows, n)
      c.add_grad(1, tb ? matmul(g2, a2, true, false)   // (n, k)
                       : matmul(a2, g2, true, false)); // (k, n)
    } else if (c.needs_grad(1)) {
      Tensor gb = tb ? matmul(g, a, true, ta)     // B = op(B)ᵀ: dB = dCᵀ op(A)
                     : matmul(a, g, !ta, false);  // dB = op(A)ᵀ dC
      c.add_grad(1, sum_to_shape(gb, b.shape()));
    }
  });
}

}  // namespace core
