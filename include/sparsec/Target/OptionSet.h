//===- OptionSet.h - option structs shared by every front end ---*- C++ -*-===//
//
// sparsec's option structs (SparsecCompileOptions and each target's options)
// are MLIR pass options: they parse from "key=value ..." strings, which the
// C API, Python and sparsec-opt pipelines use. CommandLineBinding exposes the
// same options as flags of a tool, so the driver copies no option by hand.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_TARGET_OPTIONSET_H
#define SPARSEC_TARGET_OPTIONSET_H

#include "mlir/Pass/PassOptions.h"
#include "llvm/Support/CommandLine.h"

#include <memory>
#include <string>
#include <vector>

namespace sparsec {

class OptionSet : public virtual mlir::detail::PassOptions {
public:
  /// Every option, sorted by key.
  std::vector<llvm::cl::Option *> getOptions() const;
  /// Parses "key=value ..." (a leading "--" on a key is accepted, and so is
  /// `<prefix>-key` when `prefix` is given); "" or the error.
  std::string parse(llvm::StringRef text, llvm::StringRef prefix = "");
};

/// Flags `--<prefix><key>` for every option of an OptionSet, registered in
/// the global command line for the lifetime of this object. Hidden options
/// are not bound.
class CommandLineBinding {
public:
  CommandLineBinding(OptionSet &options, llvm::StringRef prefix,
                     llvm::cl::OptionCategory &category);
  ~CommandLineBinding();
  /// After llvm::cl::ParseCommandLineOptions: stores each flag that was
  /// given into the option set. "" or the error (e.g. a non-number).
  std::string apply();
  /// Whether the flag for `key` occurred.
  bool occurred(llvm::StringRef key) const;

private:
  struct Flag;
  std::vector<std::unique_ptr<Flag>> flags;
};

} // namespace sparsec

#endif
