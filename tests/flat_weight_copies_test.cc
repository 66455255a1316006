// FlatWeightCopies (train/flat_weight_copies.h): each parameter's bfloat16
// copy holds its value rounded, lies where the parameter lies in its flat
// buffer (so adjacent parameters have adjacent copies), and unknown
// tensors are refused.
#include "train/flat_weight_copies.h"

#include <string>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include "model_test_util.h"
#include "models/model.h"
#include "train/flat_parameters.h"

namespace tinylm {
namespace {

TEST(FlatWeightCopiesTest, CopiesAreTheRoundedParametersInPlace) {
  Transformer model =
      testutil::MakeRandomModel(testutil::TinyConfig("score_fcn"), 7);
  FlatParameters flat(*model);
  FlatWeightCopies copies(*model, flat);
  for (const auto& item : model->named_parameters()) {
    const at::Tensor& p = item.value();
    const at::Tensor copy = copies.Of(p);
    EXPECT_EQ(copy.scalar_type(), at::kBFloat16) << item.key();
    EXPECT_TRUE(at::equal(copy, p.detach().to(at::kBFloat16))) << item.key();
    // The copy's place in its flat copy is the parameter's in its buffer.
    const at::Tensor buffer =
        p.dim() >= 2 ? flat.decayed()[0] : flat.undecayed()[0];
    EXPECT_EQ(copy.storage_offset(), p.storage_offset()) << item.key();
    EXPECT_TRUE(copy.is_alias_of(copies.FlatCopyOf(buffer))) << item.key();
  }
  // fc_1 and fc_2 are adjacent: one product reads both copies.
  const at::Tensor fc_1 =
      copies.Of(testutil::Param(model, "h.0.mlp.fc_1.weight"));
  const at::Tensor fc_2 =
      copies.Of(testutil::Param(model, "h.0.mlp.fc_2.weight"));
  EXPECT_EQ(fc_2.storage_offset(), fc_1.storage_offset() + fc_1.numel());
}

TEST(FlatWeightCopiesTest, TensorsOutsideTheModelAreRefused) {
  Transformer model =
      testutil::MakeRandomModel(testutil::TinyConfig("base"), 7);
  FlatParameters flat(*model);
  FlatWeightCopies copies(*model, flat);
  const at::Tensor stranger = at::zeros({4, 4});
  EXPECT_THROW(copies.Of(stranger), c10::Error);
  EXPECT_THROW(copies.FlatCopyOf(stranger), c10::Error);
  try {
    copies.Of(stranger);
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("not a parameter"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace tinylm
