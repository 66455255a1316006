#include "kernels/torch/cross_entropy_op.h"

#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/cross_entropy.h"
#include "kernels/torch/launch.h"

namespace tinylm::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

kernels::CrossEntropyLayout Layout(const at::Tensor& logits,
                                   int64_t ignore_index) {
  kernels::CrossEntropyLayout layout;
  layout.rows = logits.size(0);
  layout.vocab = int(logits.size(1));
  layout.ignore_index = ignore_index;
  return layout;
}

void CheckLogits(const at::Tensor& logits, const at::Tensor& targets,
                 const char* what) {
  TORCH_CHECK(logits.is_cuda() && logits.dim() == 2 && logits.is_contiguous() &&
                  logits.size(1) > 0 && logits.size(1) < (int64_t(1) << 31),
              what, ": contiguous CUDA logits [N, V] expected, got ",
              logits.sizes());
  TORCH_CHECK(targets.device() == logits.device() &&
                  targets.scalar_type() == at::kLong && targets.dim() == 1 &&
                  targets.size(0) == logits.size(0) && targets.is_contiguous(),
              what, ": contiguous int64 targets [", logits.size(0),
              "] expected, got ", targets.scalar_type(), " ", targets.sizes());
}

void CheckFloat(const at::Tensor& t, int64_t size, const at::Tensor& like,
                const char* what) {
  TORCH_CHECK(t.device() == like.device() && t.scalar_type() == at::kFloat &&
                  t.numel() == size && t.is_contiguous(),
              what, ": contiguous float32 of ", size, " elements on ",
              like.device(), " expected");
}

class CrossEntropyFunction
    : public torch::autograd::Function<CrossEntropyFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits,
                            const at::Tensor& targets, int64_t ignore_index) {
    const at::Tensor x = logits.contiguous();
    const at::Tensor t = targets.contiguous();
    const auto f32 = x.options().dtype(at::kFloat);
    at::Tensor row_loss = at::empty({x.size(0)}, f32);
    at::Tensor lse = at::empty({x.size(0)}, f32);
    at::Tensor loss = at::empty({}, f32);
    at::Tensor count = at::empty({}, f32);
    CrossEntropyForwardOut(x, t, ignore_index, row_loss, lse, loss, count);
    ctx->save_for_backward({x, t, lse, count});
    ctx->saved_data["ignore_index"] = ignore_index;
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    at::Tensor dlogits = at::empty_like(x);
    CrossEntropyBackwardOut(
        x, saved[1], ctx->saved_data["ignore_index"].toInt(), saved[2],
        saved[3], grads[0].to(at::kFloat).contiguous(), dlogits);
    return {dlogits, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor CrossEntropy(const at::Tensor& logits, const at::Tensor& targets,
                        int64_t ignore_index) {
  TORCH_CHECK(logits.dim() == 2 && targets.dim() == 1 &&
                  targets.size(0) == logits.size(0),
              "CrossEntropy: logits [N, V] and targets [N] expected, got ",
              logits.sizes(), " and ", targets.sizes());
  if (!logits.is_cuda() || logits.numel() == 0) {
    return CrossEntropyReference(logits, targets, ignore_index);
  }
  return CrossEntropyFunction::apply(logits, targets, ignore_index);
}

at::Tensor CrossEntropyReference(const at::Tensor& logits,
                                 const at::Tensor& targets,
                                 int64_t ignore_index) {
  const auto compute =
      logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  return at::cross_entropy_loss(logits.to(compute), targets, {},
                                at::Reduction::Mean, ignore_index);
}

void CrossEntropyForwardOut(const at::Tensor& logits, const at::Tensor& targets,
                            int64_t ignore_index, at::Tensor& row_loss,
                            at::Tensor& lse, at::Tensor& loss,
                            at::Tensor& count) {
  CheckLogits(logits, targets, "CrossEntropyForwardOut");
  const int64_t N = logits.size(0);
  CheckFloat(row_loss, N, logits, "CrossEntropyForwardOut: row_loss");
  CheckFloat(lse, N, logits, "CrossEntropyForwardOut: lse");
  CheckFloat(loss, 1, logits, "CrossEntropyForwardOut: loss");
  CheckFloat(count, 1, logits, "CrossEntropyForwardOut: count");
  detail::CheckLaunch(
      kernels::CrossEntropyForward(
          detail::KernelDType(logits, "CrossEntropy: logits"),
          Layout(logits, ignore_index), logits.data_ptr(),
          targets.data_ptr<int64_t>(), row_loss.data_ptr<float>(),
          lse.data_ptr<float>(), loss.data_ptr<float>(),
          count.data_ptr<float>(), detail::CurrentStream(logits)),
      "CrossEntropyForward");
}

void CrossEntropyBackwardOut(const at::Tensor& logits,
                             const at::Tensor& targets, int64_t ignore_index,
                             const at::Tensor& lse, const at::Tensor& count,
                             const at::Tensor& grad_loss, at::Tensor& dlogits) {
  CheckLogits(logits, targets, "CrossEntropyBackwardOut");
  const int64_t N = logits.size(0);
  CheckFloat(lse, N, logits, "CrossEntropyBackwardOut: lse");
  CheckFloat(count, 1, logits, "CrossEntropyBackwardOut: count");
  CheckFloat(grad_loss, 1, logits, "CrossEntropyBackwardOut: grad_loss");
  TORCH_CHECK(dlogits.device() == logits.device() &&
                  dlogits.sizes() == logits.sizes() &&
                  dlogits.scalar_type() == logits.scalar_type() &&
                  dlogits.is_contiguous(),
              "CrossEntropyBackwardOut: dlogits like logits expected");
  detail::CheckLaunch(kernels::CrossEntropyBackward(
                          detail::KernelDType(logits, "CrossEntropy: logits"),
                          Layout(logits, ignore_index), logits.data_ptr(),
                          targets.data_ptr<int64_t>(), lse.data_ptr<float>(),
                          count.data_ptr<float>(), grad_loss.data_ptr<float>(),
                          dlogits.data_ptr(), detail::CurrentStream(logits)),
                      "CrossEntropyBackwardOut");
}

}  // namespace tinylm::ops
