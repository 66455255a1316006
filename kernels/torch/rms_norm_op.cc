#include "kernels/torch/rms_norm_op.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/rsqrt.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/rms_norm.h"
#include "kernels/torch/launch.h"

namespace tinylm::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void CheckRows(const at::Tensor& t, const at::Tensor& like,
               at::ScalarType dtype, const char* what) {
  TORCH_CHECK(t.is_cuda() && t.device() == like.device(), what, ": on ",
              like.device(), " expected");
  TORCH_CHECK(t.dim() == 2 && t.sizes() == like.sizes() && t.is_contiguous(),
              what, ": contiguous ", like.sizes(), " expected, got ",
              t.sizes());
  TORCH_CHECK(t.scalar_type() == dtype, what, ": ", dtype, " expected");
}

// y's dtype: x's, or bfloat16 for float32 x.
void CheckOutputDType(const at::Tensor& x, at::ScalarType y_dtype,
                      const char* what) {
  TORCH_CHECK(y_dtype == x.scalar_type() ||
                  (x.scalar_type() == at::kFloat && y_dtype == at::kBFloat16),
              what, ": y of x's dtype, or bfloat16 for float32 x, expected; "
              "got x ", x.scalar_type(), ", y ", y_dtype);
}

void CheckFloatVector(const at::Tensor& t, int64_t size, const at::Tensor& like,
                      const char* what) {
  TORCH_CHECK(t.device() == like.device() && t.scalar_type() == at::kFloat &&
                  t.dim() == 1 && t.size(0) == size && t.is_contiguous(),
              what, ": contiguous float32 [", size, "] on ", like.device(),
              " expected");
}

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  // x: [..., C]; weight: [C]; y_dtype: see CheckOutputDType.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, double eps,
                            at::ScalarType y_dtype) {
    const int64_t cols = x.size(-1);
    const at::Tensor x_rows = x.reshape({-1, cols}).contiguous();
    at::Tensor y = at::empty_like(x_rows, x_rows.options().dtype(y_dtype));
    at::Tensor rstd =
        at::empty({x_rows.size(0)}, x.options().dtype(at::kFloat));
    RmsNormForwardOut(x_rows, weight.to(at::kFloat).contiguous(), eps, y, rstd);
    ctx->save_for_backward({x_rows, weight, rstd});
    ctx->saved_data["y_dtype"] = int64_t(y_dtype);
    return y.view(x.sizes());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& x_rows = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& rstd = saved[2];
    // dy in y's dtype, dx in x's.
    const auto y_dtype = at::ScalarType(ctx->saved_data["y_dtype"].toInt());
    const at::Tensor dy =
        grads[0].reshape(x_rows.sizes()).to(y_dtype).contiguous();
    at::Tensor dx = at::empty_like(x_rows);
    at::Tensor dweight =
        at::empty({x_rows.size(1)}, x_rows.options().dtype(at::kFloat));
    RmsNormBackwardOut(dy, x_rows, weight.to(at::kFloat).contiguous(), rstd, dx,
                       dweight);
    return {dx.view(grads[0].sizes()), dweight.to(weight.scalar_type()),
            at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps,
                   std::optional<at::ScalarType> y_dtype) {
  TORCH_CHECK(x.dim() >= 1 && weight.dim() == 1 && weight.size(0) == x.size(-1),
              "RmsNorm: x [..., C] and weight [C] expected, got ", x.sizes(),
              " and ", weight.sizes());
  const at::ScalarType out = y_dtype.value_or(x.scalar_type());
  if (!x.is_cuda() || x.size(-1) > kernels::kRmsNormMaxCols || x.numel() == 0) {
    return RmsNormReference(x, weight, eps).to(out);
  }
  CheckOutputDType(x, out, "RmsNorm");
  return RmsNormFunction::apply(x, weight, eps, out);
}

at::Tensor RmsNormReference(const at::Tensor& x, const at::Tensor& weight,
                            double eps) {
  const auto compute =
      x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor xc = x.to(compute);
  const at::Tensor norm = xc * at::rsqrt(xc.pow(2).mean(-1, true) + eps);
  return (norm * weight.to(compute)).to(x.scalar_type());
}

void RmsNormForwardOut(const at::Tensor& x, const at::Tensor& weight,
                       double eps, at::Tensor& y, at::Tensor& rstd) {
  TORCH_CHECK(x.is_cuda() && x.dim() == 2 && x.is_contiguous(),
              "RmsNormForwardOut: contiguous CUDA [N, C] x expected");
  const int64_t rows = x.size(0), cols = x.size(1);
  TORCH_CHECK(cols <= kernels::kRmsNormMaxCols, "RmsNormForwardOut: C = ", cols,
              " exceeds ", kernels::kRmsNormMaxCols);
  CheckFloatVector(weight, cols, x, "RmsNormForwardOut: weight");
  CheckOutputDType(x, y.scalar_type(), "RmsNormForwardOut");
  CheckRows(y, x, y.scalar_type(), "RmsNormForwardOut: y");
  CheckFloatVector(rstd, rows, x, "RmsNormForwardOut: rstd");
  detail::CheckLaunch(
      kernels::RmsNormForward(detail::KernelDType(x, "RmsNorm: x"),
                              detail::KernelDType(y, "RmsNorm: y"),
                              x.data_ptr(), weight.data_ptr<float>(),
                              float(eps), rows, int(cols), y.data_ptr(),
                              rstd.data_ptr<float>(), detail::CurrentStream(x)),
      "RmsNormForward");
}

void RmsNormBackwardOut(const at::Tensor& dy, const at::Tensor& x,
                        const at::Tensor& weight, const at::Tensor& rstd,
                        at::Tensor& dx, at::Tensor& dweight) {
  TORCH_CHECK(x.is_cuda() && x.dim() == 2 && x.is_contiguous(),
              "RmsNormBackwardOut: contiguous CUDA [N, C] x expected");
  const int64_t rows = x.size(0), cols = x.size(1);
  TORCH_CHECK(cols <= kernels::kRmsNormMaxCols,
              "RmsNormBackwardOut: C = ", cols, " exceeds ",
              kernels::kRmsNormMaxCols);
  CheckOutputDType(x, dy.scalar_type(), "RmsNormBackwardOut");
  CheckRows(dy, x, dy.scalar_type(), "RmsNormBackwardOut: dy");
  CheckRows(dx, x, x.scalar_type(), "RmsNormBackwardOut: dx");
  CheckFloatVector(weight, cols, x, "RmsNormBackwardOut: weight");
  CheckFloatVector(rstd, rows, x, "RmsNormBackwardOut: rstd");
  CheckFloatVector(dweight, cols, x, "RmsNormBackwardOut: dweight");
  const at::Tensor workspace = detail::Workspace(
      kernels::RmsNormBackwardWorkspaceBytes(rows, int(cols)), x);
  detail::CheckLaunch(
      kernels::RmsNormBackward(
          detail::KernelDType(x, "RmsNorm: x"),
          detail::KernelDType(dy, "RmsNorm: dy"), dy.data_ptr(), x.data_ptr(),
          weight.data_ptr<float>(), rstd.data_ptr<float>(), rows, int(cols),
          dx.data_ptr(), dweight.data_ptr<float>(), workspace.data_ptr(),
          detail::CurrentStream(x)),
      "RmsNormBackward");
}

}  // namespace tinylm::ops
