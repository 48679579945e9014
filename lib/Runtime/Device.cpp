//===- Device.cpp - the device factory -----------------------------------===//
//
// The one place that knows every device, so that the devices themselves
// (lib/Runtime/CUDA, lib/Runtime/Emulator) need only the Device interface.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Runtime/Device.h"

namespace sparsec::rt {

std::string createDevice(const std::string &kind,
                         std::unique_ptr<Device> &out) {
  if (kind == "cuda")
    return createCudaDevice(0, out);
  if (kind == "emulator") {
    out = createEmulatorDevice();
    return "";
  }
  return "unknown device '" + kind + "' (expected 'cuda' or 'emulator')";
}

} // namespace sparsec::rt
