//===- Registry.cpp - the targets the driver knows ------------------------===//
#include "sparsec/Target/Target.h"

using namespace mlir;

namespace sparsec {

LogicalResult Target::emitArtifact(ModuleOp module, llvm::StringRef) const {
  return module.emitError()
         << "target '" << getName() << "' does not write artifact directories";
}

const std::vector<const Target *> &getTargets() {
  static std::vector<const Target *> targets = {&getHostTarget(),
                                                &getCudaTarget()};
  return targets;
}

const Target *lookupTarget(llvm::StringRef name) {
  for (const Target *t : getTargets())
    if (t->getName() == name)
      return t;
  return nullptr;
}

} // namespace sparsec
