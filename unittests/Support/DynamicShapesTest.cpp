//===- DynamicShapesTest.cpp - run-time checks of dynamic dims ------------===//
#include "sparsec/Support/DynamicShapes.h"

#include <gtest/gtest.h>

using namespace sparsec;

namespace {

// hidden_states [batch, seq, 8] with seq in 1..64, mask [batch, 1, seq]:
// the model names batch and seq alike on both.
std::vector<DynamicInput> bertInputs() {
  return {{{kRuntimeDim, kRuntimeDim, 8},
           {1, int64_t(1) << 40, 1, 64, 8, 8},
           {0, 1, -1}},
          {{kRuntimeDim, 1, kRuntimeDim}, {}, {0, -1, 1}}};
}

TEST(DynamicShapesTest, AcceptsSizesWithinBoundsAndAgreeing) {
  EXPECT_EQ(checkInputShapes(bertInputs(), {{2, 64, 8}, {2, 1, 64}}), "");
  EXPECT_EQ(checkInputShapes(bertInputs(), {{1, 1, 8}, {1, 1, 1}}), "");
}

TEST(DynamicShapesTest, RefusesSizesOutsideTheBounds) {
  EXPECT_EQ(checkInputShapes(bertInputs(), {{2, 65, 8}, {2, 1, 65}}, {"h"}),
            "input 0 ('h'): dimension 1 is 65, outside its bounds 1..64 "
            "(--input-shape)");
}

TEST(DynamicShapesTest, RefusesDimsNamedAlikeThatDiffer) {
  EXPECT_EQ(checkInputShapes(bertInputs(), {{2, 5, 8}, {2, 1, 6}}),
            "input 1: dimension 2 is 6 but input 0's dimension 1 is 5; the "
            "model names them alike, so they must be equal");
}

TEST(DynamicShapesTest, RefusesWrongStaticDimsAndRanks) {
  EXPECT_EQ(checkInputShapes(bertInputs(), {{2, 5, 9}, {2, 1, 5}}),
            "input 0: expected shape ?x?x8, got 2x5x9");
  EXPECT_EQ(checkInputShapes(bertInputs(), {{2, 5}, {2, 1, 5}}),
            "input 0: expected shape ?x?x8, got 2x5");
  EXPECT_EQ(checkInputShapes(bertInputs(), {{2, 5, 8}}),
            "the model takes 2 input(s), 1 given");
}

TEST(DynamicShapesTest, SizesOutputsFromTheInputs) {
  // [batch * seq, 4 * seq, 8]: products of input dims times a constant.
  DynamicOutput out{{kRuntimeDim, kRuntimeDim, 8},
                    {{1, 0, 0, 0, 1}, {4, 0, 1}, {8}}};
  std::vector<int64_t> shape;
  EXPECT_EQ(outputShape(out, {{3, 5, 8}, {3, 1, 5}}, shape), "");
  EXPECT_EQ(shape, (std::vector<int64_t>{15, 20, 8}));
}

TEST(DynamicShapesTest, RefusesMissingOrBadRules) {
  std::vector<int64_t> shape;
  DynamicOutput missing{{kRuntimeDim}, {}};
  EXPECT_EQ(outputShape(missing, {{3}}, shape),
            "the size of dynamic dimension 0 is not recorded");
  DynamicOutput badInput{{kRuntimeDim}, {{1, 7, 0}}};
  EXPECT_EQ(outputShape(badInput, {{3}}, shape),
            "the recorded size of dynamic dimension 0 names no input "
            "dimension");
}

} // namespace
