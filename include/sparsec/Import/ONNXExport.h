//===- ONNXExport.h - write pruned weights back to ONNX ---------*- C++ -*-===//
#ifndef SPARSEC_IMPORT_ONNXEXPORT_H
#define SPARSEC_IMPORT_ONNXEXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include <string>

namespace sparsec {

/// Writes `inputPath` to `outputPath` with every pruned initializer replaced by
/// the masked weight of `module` (same name, shape and orientation), and with
/// `withMasks` a float32 0/1 initializer `<name>.mask` for each. A model with
/// external data is written with external data: every weight that was
/// external, each pruned weight and each mask go to `<outputPath>.data`,
/// streamed one tensor at a time. Returns an error message or "".
std::string exportPrunedONNX(mlir::ModuleOp module, llvm::StringRef inputPath,
                             llvm::StringRef outputPath, bool withMasks);

} // namespace sparsec

#endif
