// What GradientSync (train/gradient_sync.h) relies on when the fused step's
// weight products add their gradients into the flat buffers themselves
// (kernels/torch/linear_op.h) and hand autograd an undefined gradient: the
// parameter's accumulation node still runs once per backward pass, with
// its post hooks, after the product that wrote the gradient, and adds
// nothing. Shown on the CPU with the same pattern and hook type.
#include <memory>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

namespace tinylm {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y = x * w, elementwise; the backward adds dy * x into w.grad() itself.
class ScaleWritingItsGradient
    : public torch::autograd::Function<ScaleWritingItsGradient> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& w) {
    ctx->save_for_backward({x});
    ctx->saved_data["w"] = w;
    return x * w;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    at::Tensor w = ctx->saved_data["w"].toTensor();
    w.mutable_grad().add_(grads[0] * x);
    return {grads[0] * w.detach(), at::Tensor()};
  }
};

TEST(GradientHooksTest, AccumulatorHooksRunWhenAFunctionWritesTheGradient) {
  const at::Tensor w = at::full({4}, 2.0).requires_grad_();
  w.mutable_grad() = at::zeros({4});
  const at::Tensor x = at::arange(4, at::kFloat).requires_grad_();
  int hooks = 0;
  at::Tensor grad_seen_by_hook;
  const auto accumulator = torch::autograd::impl::grad_accumulator(w);
  const auto key = accumulator->add_post_hook(
      std::make_unique<torch::autograd::utils::LambdaPostHook>(
          [&](const variable_list& outputs, const variable_list&) {
            ++hooks;
            grad_seen_by_hook = w.grad().clone();
            return outputs;
          }));
  for (int pass = 1; pass <= 2; ++pass) {
    ScaleWritingItsGradient::apply(x, w).sum().backward();
    EXPECT_EQ(hooks, pass);
    // Written once per pass, by the Function only; the hook saw it written.
    EXPECT_TRUE(at::equal(w.grad(), pass * at::arange(4, at::kFloat)));
    EXPECT_TRUE(at::equal(grad_seen_by_hook, w.grad()));
  }
  EXPECT_TRUE(at::equal(x.grad(), at::full({4}, 4.0)));
  accumulator->del_post_hook(key);
}

}  // namespace
}  // namespace tinylm
