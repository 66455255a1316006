#include "kernels/torch/swiglu_op.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/silu.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/swiglu.h"
#include "kernels/torch/launch.h"

namespace tinylm::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void CheckMatrix(const at::Tensor& t, const at::Tensor& like,
                 const char* what) {
  TORCH_CHECK(t.is_cuda() && t.device() == like.device() && t.dim() == 2 &&
                  t.sizes() == like.sizes() &&
                  t.scalar_type() == like.scalar_type() &&
                  (t.stride(1) == 1 || t.size(1) <= 1),
              what, ": ", like.scalar_type(), " ", like.sizes(),
              " with unit column stride on ", like.device(), " expected, got ",
              t.scalar_type(), " ", t.sizes(), " strides ", t.strides());
}

template <typename Ptr>
kernels::StridedRows<Ptr> Rows(const at::Tensor& t, Ptr data) {
  return {data, t.stride(0)};
}

// Separate a and b: inputs and gradients are [N, I] each.
class SwiGluFunction : public torch::autograd::Function<SwiGluFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a,
                            const at::Tensor& b) {
    const at::Tensor a_rows = detail::AsRows(a), b_rows = detail::AsRows(b);
    at::Tensor h = at::empty(a_rows.sizes(), a.options());
    SwiGluForwardOut(a_rows, b_rows, h);
    ctx->save_for_backward({a_rows, b_rows});
    return h.view(a.sizes());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor dh = detail::AsRows(grads[0]);
    at::Tensor da = at::empty(saved[0].sizes(), saved[0].options());
    at::Tensor db = at::empty(saved[1].sizes(), saved[1].options());
    SwiGluBackwardOut(dh, saved[0], saved[1], da, db);
    return {da.view(grads[0].sizes()), db.view(grads[0].sizes())};
  }
};

// a and b as the halves of ab [N, 2I]; the gradient is one [N, 2I] buffer
// whose halves the kernel writes directly.
class SwiGluPackedFunction
    : public torch::autograd::Function<SwiGluPackedFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& ab) {
    const at::Tensor rows = detail::AsRows(ab);
    const int64_t I = rows.size(1) / 2;
    at::Tensor h = at::empty({rows.size(0), I}, ab.options());
    SwiGluForwardOut(rows.narrow(1, 0, I), rows.narrow(1, I, I), h);
    ctx->save_for_backward({rows});
    std::vector<int64_t> sizes = ab.sizes().vec();
    sizes.back() = I;
    return h.view(sizes);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor rows = ctx->get_saved_variables()[0];
    const int64_t I = rows.size(1) / 2;
    const at::Tensor dh = detail::AsRows(grads[0]);
    at::Tensor dab = at::empty(rows.sizes(), rows.options());
    at::Tensor da = dab.narrow(1, 0, I), db = dab.narrow(1, I, I);
    SwiGluBackwardOut(dh, rows.narrow(1, 0, I), rows.narrow(1, I, I), da, db);
    std::vector<int64_t> sizes = grads[0].sizes().vec();
    sizes.back() = 2 * I;
    return {dab.view(sizes)};
  }
};

}  // namespace

at::Tensor SwiGlu(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.dim() >= 1 && a.sizes() == b.sizes() &&
                  a.scalar_type() == b.scalar_type(),
              "SwiGlu: a and b of one shape and dtype expected, got ",
              a.sizes(), " ", a.scalar_type(), " and ", b.sizes(), " ",
              b.scalar_type());
  if (!a.is_cuda() || a.numel() == 0) return SwiGluReference(a, b);
  return SwiGluFunction::apply(a, b);
}

at::Tensor SwiGluPacked(const at::Tensor& ab) {
  TORCH_CHECK(ab.dim() >= 1 && ab.size(-1) % 2 == 0,
              "SwiGluPacked: ab [..., 2I] expected, got ", ab.sizes());
  if (!ab.is_cuda() || ab.numel() == 0) {
    const int64_t I = ab.size(-1) / 2;
    return SwiGluReference(ab.narrow(-1, 0, I), ab.narrow(-1, I, I));
  }
  return SwiGluPackedFunction::apply(ab);
}

at::Tensor SwiGluReference(const at::Tensor& a, const at::Tensor& b) {
  const auto compute =
      a.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  return (at::silu(a.to(compute)) * b.to(compute)).to(a.scalar_type());
}

void SwiGluForwardOut(const at::Tensor& a, const at::Tensor& b, at::Tensor& h) {
  CheckMatrix(a, a, "SwiGluForwardOut: a");
  CheckMatrix(b, a, "SwiGluForwardOut: b");
  CheckMatrix(h, a, "SwiGluForwardOut: h");
  detail::CheckLaunch(
      kernels::SwiGluForward(detail::KernelDType(a, "SwiGlu: a"), a.size(0),
                             int(a.size(1)), Rows<const void*>(a, a.data_ptr()),
                             Rows<const void*>(b, b.data_ptr()),
                             Rows<void*>(h, h.data_ptr()),
                             detail::CurrentStream(a)),
      "SwiGluForward");
}

void SwiGluBackwardOut(const at::Tensor& dh, const at::Tensor& a,
                       const at::Tensor& b, at::Tensor& da, at::Tensor& db) {
  CheckMatrix(a, a, "SwiGluBackwardOut: a");
  CheckMatrix(b, a, "SwiGluBackwardOut: b");
  CheckMatrix(dh, a, "SwiGluBackwardOut: dh");
  CheckMatrix(da, a, "SwiGluBackwardOut: da");
  CheckMatrix(db, a, "SwiGluBackwardOut: db");
  detail::CheckLaunch(
      kernels::SwiGluBackward(
          detail::KernelDType(a, "SwiGlu: a"), a.size(0), int(a.size(1)),
          Rows<const void*>(dh, dh.data_ptr()),
          Rows<const void*>(a, a.data_ptr()),
          Rows<const void*>(b, b.data_ptr()), Rows<void*>(da, da.data_ptr()),
          Rows<void*>(db, db.data_ptr()), detail::CurrentStream(a)),
      "SwiGluBackward");
}

}  // namespace tinylm::ops
