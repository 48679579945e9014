//===- OpsetCoverageTest.cpp - imported definitions vs the ONNX library ---===//
//
// The importer refuses a node whose op's definition at the model's opset is
// newer than the one its lowering was checked against. When the linked ONNX
// library gains a definition (an upgrade), this test names the ops to review
// (their attributes, inputs and types against the lowering), so that the
// upgrade does not silently narrow what imports.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Import/ONNXImporter.h"
#include "sparsec/Import/ONNXLoader.h"

#include "gtest/gtest.h"

namespace {

TEST(ONNXOpsetCoverage, EveryImportedOpIsCheckedAgainstItsNewestDefinition) {
  int64_t newest = sparsec::newestONNXOpset();
  ASSERT_GE(newest, 23) << "the importer needs ONNX 1.18 or later (opset 23)";
  std::vector<std::string> ops = sparsec::importedONNXOpTypes();
  ASSERT_GT(ops.size(), 60u);
  for (const std::string &op : ops) {
    int64_t since = sparsec::onnxDefinitionSince(op, newest);
    ASSERT_GT(since, 0) << op << " is not an ONNX op at opset " << newest;
    EXPECT_LE(since, sparsec::newestImportedDefinition(op))
        << op << " has a definition from opset " << since
        << " that the importer was not checked against "
           "(newestImportedDefinition in lib/Import/ONNX/Importer.cpp)";
  }
}

TEST(ONNXOpsetCoverage, DefinitionsAreLookedUpByOpset) {
  // ReduceMean took its axes as an attribute until opset 17 and as an
  // input since 18; Gelu appeared in 20.
  EXPECT_EQ(sparsec::onnxDefinitionSince("ReduceMean", 17), 13);
  EXPECT_EQ(sparsec::onnxDefinitionSince("ReduceMean", 18), 18);
  EXPECT_EQ(sparsec::onnxDefinitionSince("Gelu", 19), -1);
  EXPECT_EQ(sparsec::onnxDefinitionSince("Gelu", 20), 20);
  EXPECT_EQ(sparsec::onnxDefinitionSince("NoSuchOp", 20), -1);
  EXPECT_EQ(sparsec::onnxDefinitionSince("Relu", 0), -1);
  EXPECT_EQ(sparsec::onnxDefinitionSince("Relu", sparsec::newestONNXOpset() + 1),
            -1);
  EXPECT_EQ(sparsec::newestImportedDefinition("Relu"), 17);
  EXPECT_EQ(sparsec::newestImportedDefinition("RMSNormalization"), 23);
}

} // namespace
