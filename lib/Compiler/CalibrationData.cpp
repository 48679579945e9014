//===- CalibrationData.cpp - the samples of --calibration -----------------===//
#include "sparsec/Compiler/Calibration.h"
#include "sparsec/Target/Target.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cstring>

namespace sparsec {

namespace {

/// The array for input `name`: the member of that key, or the only member
/// of a one-input model's archive.
std::vector<NpzMember>::iterator findMember(std::vector<NpzMember> &members,
                                            const std::string &name,
                                            size_t numInputs) {
  auto found =
      llvm::find_if(members, [&](const NpzMember &m) { return m.key == name; });
  if (found == members.end() && numInputs == 1 && members.size() == 1)
    found = members.begin();
  return found;
}

bool endsWith(llvm::StringRef s, llvm::StringRef suffix) {
  return s.ends_with(suffix);
}

} // namespace

std::string CalibrationSet::check(const std::string &where,
                                  const ModelInput &input,
                                  const NpyArray &array) const {
  if (array.dtype == input.dtype && array.shape == input.shape)
    return "";
  return "calibration sample " + where + ": input '" + input.name +
         "' must be " + describeNpyType(input.dtype, input.shape) + ", got " +
         describeNpyType(array.dtype, array.shape);
}

std::string CalibrationSet::open(const std::string &calibrationPath,
                                 std::vector<ModelInput> modelInputs,
                                 int64_t limit) {
  path = calibrationPath;
  inputs = std::move(modelInputs);
  entries.clear();
  stacked.clear();
  hasSampleAxis.clear();
  stackedSamples = 0;
  if (inputs.empty())
    return "--calibration: the model has no inputs to calibrate with";
  if (llvm::sys::fs::is_directory(path)) {
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec)) {
      llvm::StringRef name = llvm::sys::path::filename(it->path());
      if (name.starts_with("."))
        continue;
      entries.push_back(it->path());
    }
    if (ec)
      return "--calibration: cannot list '" + path + "': " + ec.message();
    llvm::sort(entries);
    if (entries.empty())
      return "--calibration: '" + path +
             "' is empty: it needs one sample per entry (.npy, .npz or a "
             "folder of <input>.npy)";
    if (limit > 0 && int64_t(entries.size()) > limit)
      entries.resize(limit);
    return "";
  }
  if (!llvm::sys::fs::exists(path))
    return "--calibration: '" + path + "' does not exist";
  if (!endsWith(path, ".npz"))
    return "--calibration: '" + path +
           "' is neither a directory of samples nor a .npz";
  std::vector<NpzMember> members;
  if (std::string error = readNpz(path, members); !error.empty())
    return "--calibration: " + error;
  for (const ModelInput &input : inputs) {
    auto found = findMember(members, input.name, inputs.size());
    if (found == members.end())
      return "--calibration: '" + path + "' has no array '" + input.name +
             "' (its keys must be the model's input names)";
    NpyArray &array = found->array;
    std::string where = "'" + path + "' array '" + found->key + "'";
    bool axis = array.shape.size() == input.shape.size() + 1 &&
                std::equal(input.shape.begin(), input.shape.end(),
                           array.shape.begin() + 1);
    if (!axis)
      if (std::string error = check(where, input, array); !error.empty())
        return error + " (or samples stacked on a leading axis)";
    if (array.dtype != input.dtype)
      return check(where, input, array);
    int64_t samples = axis ? array.shape[0] : 1;
    if (samples == 0)
      return "--calibration: " + where + " holds no samples";
    if (!stacked.empty() && samples != stackedSamples)
      return "--calibration: " + where + " holds " + std::to_string(samples) +
             " samples, the other inputs " + std::to_string(stackedSamples);
    stackedSamples = samples;
    hasSampleAxis.push_back(axis);
    stacked.push_back(std::move(array));
  }
  if (limit > 0)
    stackedSamples = std::min(stackedSamples, limit);
  return "";
}

int64_t CalibrationSet::size() const {
  return stacked.empty() ? int64_t(entries.size()) : stackedSamples;
}

std::string CalibrationSet::readEntry(const std::string &entry,
                                      std::vector<NpyArray> &out) const {
  out.assign(inputs.size(), NpyArray());
  if (llvm::sys::fs::is_directory(entry)) {
    for (auto [i, input] : llvm::enumerate(inputs)) {
      std::string file = entry + "/" + input.name + ".npy";
      if (!llvm::sys::fs::exists(file))
        return "calibration sample '" + entry + "' has no '" + input.name +
               ".npy' (a folder holds one <input>.npy per model input)";
      if (std::string error = readNpy(file, out[i]); !error.empty())
        return "calibration sample: " + error;
      if (std::string error = check("'" + file + "'", input, out[i]);
          !error.empty())
        return error;
    }
    return "";
  }
  if (endsWith(entry, ".npz")) {
    std::vector<NpzMember> members;
    if (std::string error = readNpz(entry, members); !error.empty())
      return "calibration sample: " + error;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const ModelInput &input = inputs[i];
      auto found = findMember(members, input.name, inputs.size());
      if (found == members.end())
        return "calibration sample '" + entry + "' has no array '" +
               input.name + "'";
      out[i] = std::move(found->array);
      if (std::string error = check("'" + entry + "'", input, out[i]);
          !error.empty())
        return error;
    }
    return "";
  }
  if (!endsWith(entry, ".npy"))
    return "calibration sample '" + entry +
           "' is not a .npy, a .npz or a folder of <input>.npy";
  if (inputs.size() != 1)
    return "calibration sample '" + entry + "': the model has " +
           std::to_string(inputs.size()) +
           " inputs; give each sample as a .npz or a folder of <input>.npy";
  if (std::string error = readNpy(entry, out[0]); !error.empty())
    return "calibration sample: " + error;
  return check("'" + entry + "'", inputs[0], out[0]);
}

std::string CalibrationSet::read(int64_t index,
                                 std::vector<NpyArray> &out) const {
  if (stacked.empty())
    return readEntry(entries[index], out);
  out.assign(inputs.size(), NpyArray());
  for (auto [i, input] : llvm::enumerate(inputs)) {
    const NpyArray &all = stacked[i];
    NpyArray &one = out[i];
    one.dtype = all.dtype;
    one.shape = input.shape;
    size_t bytes = size_t(NpyArray::checkedNumElements(input.shape)) *
                   NpyArray::elementSize(all.dtype);
    size_t offset = hasSampleAxis[i] ? size_t(index) * bytes : 0;
    one.data.assign(all.data.begin() + offset,
                    all.data.begin() + offset + bytes);
  }
  return "";
}

} // namespace sparsec
