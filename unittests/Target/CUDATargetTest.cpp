//===- CUDATargetTest.cpp - the cuda target's plan and its artifact -------===//
//
// The artifact writer follows the plan of sparsec-cuda-plan-kernels. A module
// that did not go through the target's pipeline (Target::emitArtifact called
// directly) is planned on a copy: same artifact, caller's module untouched.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Compiler/Compiler.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/InitAll.h"
#include "sparsec/Target/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <map>

using namespace mlir;

namespace {

/// `rows` x `cols` f32 constant text with non-trivial values.
std::string weight(int rows, int cols, int seed) {
  std::string text = "dense<[";
  for (int r = 0; r < rows; ++r) {
    text += r ? ", [" : "[";
    for (int c = 0; c < cols; ++c)
      text += (c ? ", " : "") +
              std::to_string(((r * 31 + c * 17 + seed) % 23) - 11) + ".0";
    text += "]";
  }
  return text + "]>";
}

/// fc1 (bias, ReLU) -> fc2 -> residual Add -> head (bias) -> ReLU: pruned
/// 2:4 except the head, this gives sparse kernels with and without a fused
/// epilogue, a host Add, a dense host layer and its host ReLU.
std::string model() {
  return R"(#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x16xf32>
    attributes {sparsec.input_names = ["x"], sparsec.output_names = ["y"]} {
  %w1 = arith.constant )" +
         weight(128, 64, 1) + R"( : tensor<128x64xf32>
  %b1 = arith.constant dense<0.5> : tensor<128xf32>
  %h = sparsec.linear %x, %w1, %b1 : (tensor<8x64xf32>, tensor<128x64xf32>,
      tensor<128xf32>) -> tensor<8x128xf32> loc("fc1")
  %e1 = tensor.empty() : tensor<8x128xf32>
  %r = linalg.generic {indexing_maps = [#id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%h : tensor<8x128xf32>) outs(%e1 : tensor<8x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<8x128xf32> loc("act1")
  %w2 = arith.constant )" +
         weight(64, 128, 2) + R"( : tensor<64x128xf32>
  %y = sparsec.linear %r, %w2 : (tensor<8x128xf32>, tensor<64x128xf32>)
      -> tensor<8x64xf32> loc("fc2")
  %e2 = tensor.empty() : tensor<8x64xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%y, %x : tensor<8x64xf32>, tensor<8x64xf32>)
      outs(%e2 : tensor<8x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %sum = arith.addf %a, %b : f32
    linalg.yield %sum : f32
  } -> tensor<8x64xf32> loc("residual")
  %w3 = arith.constant )" +
         weight(16, 64, 3) + R"( : tensor<16x64xf32>
  %b3 = arith.constant dense<0.25> : tensor<16xf32>
  %z = sparsec.linear %s, %w3, %b3 : (tensor<8x64xf32>, tensor<16x64xf32>,
      tensor<16xf32>) -> tensor<8x16xf32> loc("head")
  %e3 = tensor.empty() : tensor<8x16xf32>
  %o = linalg.generic {indexing_maps = [#id, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%z : tensor<8x16xf32>) outs(%e3 : tensor<8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<8x16xf32> loc("act3")
  return %o : tensor<8x16xf32>
}
)";
}

/// Every file of `dir` by name, with its bytes.
std::map<std::string, std::string> readDir(llvm::StringRef dir) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    auto buffer = llvm::MemoryBuffer::getFile(it->path());
    EXPECT_TRUE(static_cast<bool>(buffer)) << it->path();
    if (buffer)
      files[llvm::sys::path::filename(it->path()).str()] =
          (*buffer)->getBuffer().str();
  }
  return files;
}

std::string print(ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  return text;
}

class CUDATargetTest : public testing::Test {
protected:
  void SetUp() override {
    sparsec::registerAllSparsecDialects(registry);
    context = std::make_unique<MLIRContext>(registry);
    context->loadAllAvailableDialects();
    module = parseSourceString<ModuleOp>(model(), context.get());
    ASSERT_TRUE(module);
    sparsec::SparsecCompileOptions compile;
    ASSERT_EQ(compile.parse("sparsity=nm:n=2,m=4 prune-skip-last=1"), "");
    PassManager pm(context.get());
    ASSERT_EQ(sparsec::buildCompressPipeline(pm, compile), "");
    ASSERT_TRUE(succeeded(pm.run(*module)));
    cuda = sparsec::TargetRegistry::get().lookup("cuda");
    ASSERT_NE(cuda, nullptr);
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("sparsec-cuda-test", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::unique_ptr<sparsec::TargetOptions> options(llvm::StringRef text) {
    std::unique_ptr<sparsec::TargetOptions> result = cuda->createOptions();
    EXPECT_EQ(result->parse(text), "");
    return result;
  }
  /// `module` planned by the target's pipeline with `text`.
  OwningOpRef<ModuleOp> lowered(llvm::StringRef text) {
    OwningOpRef<ModuleOp> copy = module->clone();
    PassManager pm(context.get());
    cuda->buildPipeline(pm, *options(text));
    EXPECT_TRUE(succeeded(pm.run(*copy)));
    return copy;
  }
  std::map<std::string, std::string> artifact(ModuleOp m, llvm::StringRef text,
                                              llvm::StringRef name) {
    std::string out = (dir + "/" + name).str();
    EXPECT_TRUE(succeeded(cuda->emitArtifact(m, out, *options(text))));
    return readDir(out);
  }

  DialectRegistry registry;
  std::unique_ptr<MLIRContext> context;
  OwningOpRef<ModuleOp> module;
  const sparsec::Target *cuda = nullptr;
  llvm::SmallString<128> dir;
};

TEST_F(CUDATargetTest, UnplannedModuleIsPlannedOnACopy) {
  for (const char *text :
       {"", "arch=sm_90a", "arch=sm_90a wgmma=async", "tile-n=64 dtype=bf16"}) {
    SCOPED_TRACE(text);
    std::string before = print(*module);
    auto direct = artifact(*module, text, std::string("direct") + text);
    EXPECT_EQ(print(*module), before) << "emitArtifact changed its input";
    OwningOpRef<ModuleOp> planned = lowered(text);
    auto main = planned->lookupSymbol<func::FuncOp>("main");
    EXPECT_TRUE(main->hasAttr("sparsec.cuda.plan"));
    auto viaPipeline = artifact(*planned, text, std::string("lowered") + text);
    ASSERT_EQ(direct.size(), viaPipeline.size());
    // Two sparse layers (PTX, values, meta; fc1 a bias), the dense head's
    // weight and bias, the manifest.
    EXPECT_EQ(direct.size(), 10u);
    for (const auto &[name, bytes] : direct) {
      ASSERT_TRUE(viaPipeline.count(name)) << name;
      EXPECT_TRUE(viaPipeline[name] == bytes) << name << " differs";
    }
  }
}

TEST_F(CUDATargetTest, PlannedModuleIsWrittenAsPlanned) {
  // The plan, not emitArtifact's options, says what the kernels are.
  OwningOpRef<ModuleOp> planned = lowered("arch=sm_90a wgmma=async");
  auto files = artifact(*planned, "", "planned");
  EXPECT_TRUE(files.count("0_fc1.sm_90a.ptx"));
  EXPECT_NE(files["manifest.json"].find("\"arch\": \"sm_90a\""),
            std::string::npos);
  EXPECT_NE(files["manifest.json"].find("\"mma\": \"wgmma\""),
            std::string::npos);
}

TEST_F(CUDATargetTest, PlanThatDoesNotFitItsOpIsRefused) {
  // A (hand-edited) plan the writer cannot follow: a kind that does not
  // apply to its op.
  OwningOpRef<ModuleOp> planned = lowered("");
  auto main = planned->lookupSymbol<func::FuncOp>("main");
  Builder b(context.get());
  for (Operation &op : main.getBody().front())
    if (op.hasAttr("sparsec.cuda.step") && isa<sparsec::LinearOp>(op)) {
      op.setAttr("sparsec.cuda.step",
                 b.getDictionaryAttr(
                     b.getNamedAttr("kind", b.getStringAttr("host_relu"))));
      break;
    }
  std::string message;
  ScopedDiagnosticHandler handler(context.get(), [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  std::string out = (dir + "/bad").str();
  EXPECT_TRUE(failed(cuda->emitArtifact(*planned, out, *options(""))));
  EXPECT_EQ(message, "layer 'fc1' (sparsec.linear): the plan's kind "
                     "'host_relu' does not apply to this op");
}

} // namespace
