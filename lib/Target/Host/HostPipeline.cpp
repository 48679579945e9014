//===- HostPipeline.cpp - lowering to LLVM for the host CPU ---------------===//
#include "HostPipeline.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Import/ONNXImporter.h"
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace sparsec {

namespace {
/// Gives `main` a C interface so the runner and linked programs can call it.
struct EmitCInterfacePass
    : PassWrapper<EmitCInterfacePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(EmitCInterfacePass)
  StringRef getArgument() const override { return "sparsec-emit-c-interface"; }
  void runOnOperation() override {
    getOperation().walk([](func::FuncOp f) {
      if (!f.isDeclaration())
        f->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                   UnitAttr::get(f.getContext()));
    });
  }
};

/// Records `main`'s tensor signature and names as module attributes.
struct RecordSignaturePass
    : PassWrapper<RecordSignaturePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RecordSignaturePass)
  StringRef getArgument() const override { return "sparsec-record-signature"; }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main)
      return;
    Builder b(module.getContext());
    auto outputDims = main->getAttrOfType<ArrayAttr>(kOutputDimsAttr);
    auto record = [&](TypeRange types, StringRef namesAttr, StringRef prefix,
                      StringRef attrName, bool inputs) {
      auto names = main->getAttrOfType<ArrayAttr>(namesAttr);
      SmallVector<Attribute> entries;
      for (auto [i, type] : llvm::enumerate(types)) {
        std::string name = (prefix + Twine(i)).str();
        if (names && i < names.size())
          if (auto s = dyn_cast<StringAttr>(names[i]))
            name = s.str();
        NamedAttrList entry;
        entry.set("name", b.getStringAttr(name));
        entry.set("type", TypeAttr::get(type));
        // Dynamic dims: the inputs' bounds, the outputs' sizes in terms of
        // the inputs' (see ONNXImporter.h).
        if (inputs) {
          if (Attribute bounds = main.getArgAttr(i, kDimBoundsAttr))
            entry.set("bounds", bounds);
          if (Attribute symbols = main.getArgAttr(i, kDimSymbolsAttr))
            entry.set("symbols", symbols);
        } else if (outputDims && i < outputDims.size()) {
          entry.set("dims", outputDims[i]);
        }
        entries.push_back(entry.getDictionary(b.getContext()));
      }
      module->setAttr(attrName, b.getArrayAttr(entries));
    };
    record(main.getArgumentTypes(), "sparsec.input_names", "input_",
           kCpuInputsAttr, true);
    // Recorded: LLVM has no use for the bounds (and warns about them).
    for (unsigned i = 0; i < main.getNumArguments(); ++i) {
      main.removeArgAttr(i, kDimBoundsAttr);
      main.removeArgAttr(i, kDimSymbolsAttr);
    }
    record(main.getResultTypes(), "sparsec.output_names", "output_",
           kCpuOutputsAttr, false);
  }
};
} // namespace

void buildHostPipeline(OpPassManager &pm,
                       const SparsecCpuLowerLayersOptions &kernels,
                       unsigned numThreads, bool approximateMath,
                       StringRef permuteIsa, StringRef kernelSchedule) {
  pm.addPass(std::make_unique<RecordSignaturePass>());
  // Bias adds become the layers' biases, so that the ops after them fuse.
  pm.addNestedPass<func::FuncOp>(createSparsecFoldBiasAdd());
  pm.addPass(createSparsecCpuLowerLayers(kernels));
  pm.addPass(createSparsecLowerToLinalg());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createLinalgElementwiseOpFusionPass());
  // After the canonicalizer, which would fold the reshapes back.
  pm.addNestedPass<func::FuncOp>(createSparsecFlattenConstants());
  pm.addNestedPass<func::FuncOp>(createSparsecCpuInterchangeLoops());

  bufferization::OneShotBufferizePassOptions bufferization;
  bufferization.bufferizeFunctionBoundaries = true;
  bufferization.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferization));
  // Results become caller-allocated out-params; allocations of static shape
  // are hoisted so that results are written in place.
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.modifyPublicFunctions = true;
  outParams.hoistStaticAllocs = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);

  // Intermediates share one arena by their lifetimes (after the dealloc
  // pipeline, which frees them all at the end of the function).
  // main_workspace takes the arena from callers that keep it (sparsec-run).
  SparsecCpuPlanMemoryOptions memoryPlan;
  memoryPlan.workspace = true;
  pm.addPass(createSparsecCpuPlanMemory(memoryPlan));
  // Weights as byte arrays: LLVM writes those as one block, not one float
  // at a time (a fifth of ResNet-50's compile time).
  pm.addPass(createSparsecCpuByteGlobals());
  // After deallocation (the x86 intrinsic call declares no memory effects).
  SparsecCpuLowerPermuteLanesOptions permutes;
  permutes.isa = permuteIsa.str();
  pm.addPass(createSparsecCpuLowerPermuteLanes(permutes));
  pm.addNestedPass<func::FuncOp>(createSparsecCpuStridedCopiesToLoops());
  // Elementwise ops, copies and fills as vector loops: LLVM left many of
  // them scalar.
  SparsecCpuVectorizeElementwiseOptions elementwise;
  elementwise.vectorWidth = kernels.vectorWidth;
  pm.addNestedPass<func::FuncOp>(
      createSparsecCpuVectorizeElementwise(elementwise));
  // Parallel loops for the ops the kernels did not take, shaped so that
  // each becomes one OpenMP loop with a vectorisable innermost loop.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addNestedPass<func::FuncOp>(createSparsecCpuShapeParallelLoops());
  // Before any conversion to LLVM (convert-openmp-to-llvm converts func ops
  // too).
  pm.addPass(std::make_unique<EmitCInterfacePass>());
  // Before expand-strided-metadata, which crashes on these (MLIR 22).
  pm.addNestedPass<func::FuncOp>(createSparsecCpuDynamicExpandShapes());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // GELU's erf and softmax's exp as polynomials the loops can vectorise,
  // not one libm call per element (12 % of a BERT layer's time was erff).
  if (approximateMath)
    pm.addPass(createSparsecCpuApproximateMath());
  // The kernels' scf.parallel panel loops become OpenMP work-sharing loops
  // (libomp at run time; OMP_NUM_THREADS caps the threads when numThreads
  // is 0).
  ConvertSCFToOpenMPPassOptions openmp;
  openmp.numThreads = numThreads;
  pm.addPass(createConvertSCFToOpenMPPass(openmp));
  // The kernels' tiles handed out on demand (their loops' locations carry
  // the tag the conversion dropped with their attributes): on this shared
  // Xeon, guided cut ResNet-50 batch 8's libomp waiting at two threads
  // from 9.7 % to 2.1 % of its samples (docs/CPUBackend.md, Threads).
  SparsecCpuScheduleKernelLoopsOptions schedule;
  schedule.schedule = kernelSchedule.str();
  pm.addPass(createSparsecCpuScheduleKernelLoops(schedule));
  // Inlines the memref.alloca_scope that wraps each parallel body (the
  // kernels allocate nothing there), which scf-to-cf would otherwise fill
  // with blocks it may not hold.
  pm.addPass(createCanonicalizerPass());
  // After that inlining, which a call in the scope prevents: math ops with
  // an LLVM intrinsic (floor in the polynomial exp, sqrt, fma) become it,
  // one vector instruction; the rest (erf without the approximations) libm
  // calls.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

std::string getHostPermuteIsa() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return "avx512";
  return features.lookup("avx2") ? "avx2" : "none";
}

int64_t getHostVectorWidth() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return 16;
  if (features.lookup("avx"))
    return 8;
  return 4;
}

} // namespace sparsec
