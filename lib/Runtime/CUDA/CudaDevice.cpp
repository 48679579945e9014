//===- CudaDevice.cpp - a GPU through the CUDA driver API -----------------===//
//
// The driver is opened with dlopen at run time and the few types and entry
// points we use are declared below, so that the runtime builds without a CUDA
// toolkit and loads (then reports "no CUDA driver") on machines without one.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Runtime/Device.h"

#include <dlfcn.h>

#include <map>
#include <mutex>

namespace sparsec::rt {
namespace {

// Driver API subset (ABI-stable since CUDA 4; the _v2 names since 3.2).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;

constexpr CUresult kSuccess = 0;
constexpr int kJitInfoLogBuffer = 3;
constexpr int kJitInfoLogBufferSize = 4;
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSize = 6;
constexpr int kAttrComputeMajor = 75;
constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrComputeMinor = 76;
constexpr int kFuncAttrMaxDynamicShared = 8;
// Kernels may use this much dynamic shared memory without opting in.
constexpr uint32_t kDefaultDynamicShared = 48 * 1024;

struct DriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
};

template <typename Fn>
bool resolve(void *lib, Fn &fn, const char *name, std::string &missing) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn && missing.empty())
    missing = name;
  return fn != nullptr;
}

/// Loads the driver once per process. It is never unloaded: contexts (ours
/// and, through the C API, PyTorch's) outlive any one device object.
const DriverApi *loadDriver(std::string &error) {
  static DriverApi api;
  static std::string loadError;
  static std::once_flag once;
  std::call_once(once, [] {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *why = dlerror();
      loadError = std::string("cannot load libcuda.so.1") +
                  (why ? std::string(" (") + why + ")" : "");
      return;
    }
    std::string missing;
    resolve(lib, api.cuInit, "cuInit", missing);
    resolve(lib, api.cuDeviceGetCount, "cuDeviceGetCount", missing);
    resolve(lib, api.cuDeviceGet, "cuDeviceGet", missing);
    resolve(lib, api.cuDeviceGetName, "cuDeviceGetName", missing);
    resolve(lib, api.cuDeviceGetAttribute, "cuDeviceGetAttribute", missing);
    resolve(lib, api.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain",
            missing);
    resolve(lib, api.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",
            missing);
    resolve(lib, api.cuCtxSetCurrent, "cuCtxSetCurrent", missing);
    resolve(lib, api.cuCtxSynchronize, "cuCtxSynchronize", missing);
    resolve(lib, api.cuModuleLoadDataEx, "cuModuleLoadDataEx", missing);
    resolve(lib, api.cuModuleUnload, "cuModuleUnload", missing);
    resolve(lib, api.cuModuleGetFunction, "cuModuleGetFunction", missing);
    resolve(lib, api.cuFuncSetAttribute, "cuFuncSetAttribute", missing);
    resolve(lib, api.cuLaunchKernel, "cuLaunchKernel", missing);
    resolve(lib, api.cuMemAlloc, "cuMemAlloc_v2", missing);
    resolve(lib, api.cuMemFree, "cuMemFree_v2", missing);
    resolve(lib, api.cuMemcpyHtoD, "cuMemcpyHtoD_v2", missing);
    resolve(lib, api.cuMemcpyDtoH, "cuMemcpyDtoH_v2", missing);
    resolve(lib, api.cuEventCreate, "cuEventCreate", missing);
    resolve(lib, api.cuEventRecord, "cuEventRecord", missing);
    resolve(lib, api.cuEventSynchronize, "cuEventSynchronize", missing);
    resolve(lib, api.cuEventElapsedTime, "cuEventElapsedTime", missing);
    resolve(lib, api.cuEventDestroy, "cuEventDestroy_v2", missing);
    resolve(lib, api.cuGetErrorName, "cuGetErrorName", missing);
    resolve(lib, api.cuGetErrorString, "cuGetErrorString", missing);
    if (!missing.empty())
      loadError = "libcuda.so.1 lacks '" + missing + "' (driver too old?)";
  });
  error = loadError;
  return loadError.empty() ? &api : nullptr;
}

std::string describe(const DriverApi &api, CUresult result) {
  const char *name = nullptr, *text = nullptr;
  api.cuGetErrorName(result, &name);
  api.cuGetErrorString(result, &text);
  std::string s = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    s += std::string(" (") + text + ")";
  return s;
}

class CudaModule : public KernelModule {
public:
  CudaModule(const DriverApi &api, CUcontext context, CUmodule module)
      : api(api), context(context), module(module) {}
  ~CudaModule() override {
    api.cuCtxSetCurrent(context);
    api.cuModuleUnload(module);
  }

  const DriverApi &api;
  CUcontext context;
  CUmodule module;
  // Looked up once per entry; the opt-in size only ever grows.
  std::map<std::string, CUfunction> functions;
  std::map<CUfunction, uint32_t> dynamicSharedLimit;
  std::mutex mutex;
};

class CudaDevice : public Device {
public:
  CudaDevice(const DriverApi &api, CUdevice device, CUcontext context,
             std::string name, int major, int minor, int sms)
      : api(api), device(device), context(context), name(std::move(name)),
        major(major), minor(minor), sms(sms) {}
  ~CudaDevice() override { api.cuDevicePrimaryCtxRelease(device); }

  const char *kind() const override { return "cuda"; }
  int multiprocessorCount() const override { return sms; }

  std::string description() const override {
    return name + " (sm_" + std::to_string(major) + std::to_string(minor) + ")";
  }

  std::string supportsArch(const std::string &arch) const override {
    std::string have =
        "this GPU is sm_" + std::to_string(major) + std::to_string(minor);
    if (arch == "sm_80")
      return major >= 8 ? "" : "sm_80 kernels need sm_80 or newer; " + have;
    // 'a' features (wgmma) exist on exactly sm_90.
    if (arch == "sm_90a")
      return major == 9 && minor == 0 ? ""
                                      : "sm_90a kernels need sm_90; " + have;
    return "unknown architecture '" + arch + "'";
  }

  std::string allocate(uint64_t bytes, uint64_t &address) override {
    if (std::string err = makeCurrent(); !err.empty())
      return err;
    CUdeviceptr ptr = 0;
    if (CUresult r = api.cuMemAlloc(&ptr, bytes); r != kSuccess)
      return "cuMemAlloc(" + std::to_string(bytes) +
             " bytes) failed: " + describe(api, r);
    address = ptr;
    return "";
  }

  void free(uint64_t address) override {
    if (makeCurrent().empty())
      api.cuMemFree(address);
  }

  std::string copyToDevice(uint64_t dst, const void *src,
                           uint64_t bytes) override {
    if (std::string err = makeCurrent(); !err.empty())
      return err;
    if (CUresult r = api.cuMemcpyHtoD(dst, src, bytes); r != kSuccess)
      return "cuMemcpyHtoD failed: " + describe(api, r);
    return "";
  }

  std::string copyToHost(void *dst, uint64_t src, uint64_t bytes) override {
    if (std::string err = makeCurrent(); !err.empty())
      return err;
    if (CUresult r = api.cuMemcpyDtoH(dst, src, bytes); r != kSuccess)
      return "cuMemcpyDtoH failed: " + describe(api, r);
    return "";
  }

  std::string loadModule(const std::string &ptx,
                         std::unique_ptr<KernelModule> &out) override {
    if (std::string err = makeCurrent(); !err.empty())
      return err;
    std::vector<char> errorLog(16384, '\0'), infoLog(4096, '\0');
    int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize,
                     kJitInfoLogBuffer, kJitInfoLogBufferSize};
    void *values[] = {
        errorLog.data(), reinterpret_cast<void *>(uintptr_t(errorLog.size())),
        infoLog.data(), reinterpret_cast<void *>(uintptr_t(infoLog.size()))};
    CUmodule module = nullptr;
    CUresult r =
        api.cuModuleLoadDataEx(&module, ptx.c_str(), 4, options, values);
    if (r != kSuccess) {
      errorLog.back() = '\0';
      std::string log = errorLog.data();
      return "cuModuleLoadDataEx failed: " + describe(api, r) +
             (log.empty() ? "" : "\nJIT log:\n" + log);
    }
    out = std::make_unique<CudaModule>(api, context, module);
    return "";
  }

  std::string launch(const KernelModule &kernelModule, const std::string &entry,
                     Dim3 grid, Dim3 block, uint32_t dynamicSharedBytes,
                     const std::vector<ParamValue> &params,
                     uint64_t stream) override {
    if (std::string err = makeCurrent(); !err.empty())
      return err;
    // Modules only ever come from this class's loadModule.
    auto &module =
        const_cast<CudaModule &>(static_cast<const CudaModule &>(kernelModule));
    CUfunction function = nullptr;
    {
      std::lock_guard<std::mutex> lock(module.mutex);
      auto it = module.functions.find(entry);
      if (it == module.functions.end()) {
        CUresult r =
            api.cuModuleGetFunction(&function, module.module, entry.c_str());
        if (r != kSuccess)
          return "no kernel '" + entry + "' in module: " + describe(api, r);
        module.functions[entry] = function;
      } else {
        function = it->second;
      }
      uint32_t &limit = module.dynamicSharedLimit[function];
      if (dynamicSharedBytes > kDefaultDynamicShared &&
          dynamicSharedBytes > limit) {
        CUresult r = api.cuFuncSetAttribute(function, kFuncAttrMaxDynamicShared,
                                            int(dynamicSharedBytes));
        if (r != kSuccess)
          return "kernel '" + entry + "': cannot use " +
                 std::to_string(dynamicSharedBytes) +
                 " bytes of dynamic shared memory: " + describe(api, r);
        limit = dynamicSharedBytes;
      }
    }
    std::vector<void *> args;
    args.reserve(params.size());
    for (const ParamValue &p : params)
      args.push_back(const_cast<uint8_t *>(p.bytes.data()));
    CUresult r = api.cuLaunchKernel(function, grid.x, grid.y, grid.z, block.x,
                                    block.y, block.z, dynamicSharedBytes,
                                    reinterpret_cast<CUstream>(stream),
                                    args.data(), nullptr);
    if (r != kSuccess)
      return "launching '" + entry + "' failed: " + describe(api, r);
    return "";
  }

  std::string synchronize() override {
    if (std::string err = makeCurrent(); !err.empty())
      return err;
    if (CUresult r = api.cuCtxSynchronize(); r != kSuccess)
      return "kernel execution failed: " + describe(api, r);
    return "";
  }

  std::string time(const std::function<std::string()> &work, uint64_t stream,
                   float &milliseconds) override {
    if (std::string err = makeCurrent(); !err.empty())
      return err;
    CUevent start = nullptr, stop = nullptr;
    auto cuStream = reinterpret_cast<CUstream>(stream);
    std::string err;
    CUresult r = api.cuEventCreate(&start, 0);
    if (r == kSuccess)
      r = api.cuEventCreate(&stop, 0);
    if (r == kSuccess)
      r = api.cuEventRecord(start, cuStream);
    if (r == kSuccess) {
      err = work();
      if (err.empty()) {
        r = api.cuEventRecord(stop, cuStream);
        if (r == kSuccess)
          r = api.cuEventSynchronize(stop);
        if (r == kSuccess)
          r = api.cuEventElapsedTime(&milliseconds, start, stop);
      }
    }
    if (err.empty() && r != kSuccess)
      err = "event timing failed: " + describe(api, r);
    if (start)
      api.cuEventDestroy(start);
    if (stop)
      api.cuEventDestroy(stop);
    return err;
  }

private:
  const DriverApi &api;
  CUdevice device;
  CUcontext context;
  std::string name;
  int major, minor, sms;

  // Callers may come from any thread (Python, PyTorch workers); the primary
  // context is the one PyTorch uses, so its pointers are valid here.
  std::string makeCurrent() {
    if (CUresult r = api.cuCtxSetCurrent(context); r != kSuccess)
      return "cuCtxSetCurrent failed: " + describe(api, r);
    return "";
  }
};

} // namespace

std::string createCudaDevice(int ordinal, std::unique_ptr<Device> &out) {
  std::string error;
  const DriverApi *api = loadDriver(error);
  if (!api)
    return "no CUDA driver: " + error;
  if (CUresult r = api->cuInit(0); r != kSuccess)
    return "no CUDA driver: cuInit failed: " + describe(*api, r);
  int count = 0;
  if (CUresult r = api->cuDeviceGetCount(&count); r != kSuccess)
    return "no CUDA driver: cuDeviceGetCount failed: " + describe(*api, r);
  if (ordinal < 0 || ordinal >= count)
    return "no CUDA device " + std::to_string(ordinal) + " (found " +
           std::to_string(count) + ")";
  CUdevice device = 0;
  if (CUresult r = api->cuDeviceGet(&device, ordinal); r != kSuccess)
    return "cuDeviceGet failed: " + describe(*api, r);
  char name[256] = {0};
  api->cuDeviceGetName(name, sizeof(name) - 1, device);
  int major = 0, minor = 0;
  api->cuDeviceGetAttribute(&major, kAttrComputeMajor, device);
  api->cuDeviceGetAttribute(&minor, kAttrComputeMinor, device);
  int sms = 0;
  api->cuDeviceGetAttribute(&sms, kAttrMultiprocessorCount, device);
  CUcontext context = nullptr;
  if (CUresult r = api->cuDevicePrimaryCtxRetain(&context, device);
      r != kSuccess)
    return "cannot retain the primary context: " + describe(*api, r);
  out = std::make_unique<CudaDevice>(*api, device, context, name, major, minor,
                                     sms);
  return "";
}

} // namespace sparsec::rt
