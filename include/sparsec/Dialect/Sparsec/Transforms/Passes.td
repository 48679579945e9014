//===- Passes.td - sparsec pass definitions ----------------*- tablegen -*-===//
#ifndef SPARSEC_TRANSFORMS_PASSES_TD
#define SPARSEC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SparsecLowerToLinalg : Pass<"sparsec-lower-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower sparsec layers to linalg on tensors (dense host path)";
  let description = [{
    Rewrites `sparsec.linear` and `sparsec.conv2d` into `linalg` operations on
    tensors with the weight used as stored: masked (pruned) weights execute as
    dense tensors with zeros, which is the host reference semantics of every
    sparsity encoding. Grouped and depthwise convolutions become
    `linalg.conv_2d_ngchw_gfchw`; padding becomes `tensor.pad`.

    Example: `sparsec-opt --sparsec-lower-to-linalg model.mlir`.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect"
  ];
}

def SparsecVerifyEncodings : Pass<"sparsec-verify-encodings", "::mlir::ModuleOp"> {
  let summary = "Check every weight encoding and report the encoded layers";
  let description = [{
    Runs the sparsity-encoding checks of every weight-carrying op (also done by
    the op verifiers) and, with `report`, prints one line per layer with its
    GEMM view, encoding and measured density to stderr. Fails if a layer
    without an encoding is required by `require-encoding`.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print one line per weight-carrying layer to stderr">,
    Option<"requireEncoding", "require-encoding", "bool", /*default=*/"false",
           "Fail if a weight-carrying layer has no weight_encoding">
  ];
}

#endif // SPARSEC_TRANSFORMS_PASSES_TD
