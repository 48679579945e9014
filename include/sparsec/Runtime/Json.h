//===- Json.h - minimal strict JSON reader ----------------------*- C++ -*-===//
//
// Just enough JSON for artifact manifests, without a dependency: RFC 8259
// values, no comments, no trailing commas, no duplicate keys. Every value
// remembers where it started so that validation errors can point at it.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_RUNTIME_JSON_H
#define SPARSEC_RUNTIME_JSON_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sparsec::json {

class Value {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  /// Set for numbers written without fraction or exponent that fit int64.
  bool isInteger = false;
  int64_t integer = 0;
  std::string string;
  std::vector<Value> elements;                        // arrays
  std::vector<std::pair<std::string, Value>> members; // objects, in order
  int line = 0, column = 0;                           // 1-based start

  bool isNull() const { return kind == Kind::Null; }
  bool isBool() const { return kind == Kind::Bool; }
  bool isNumber() const { return kind == Kind::Number; }
  bool isString() const { return kind == Kind::String; }
  bool isArray() const { return kind == Kind::Array; }
  bool isObject() const { return kind == Kind::Object; }

  /// Member `key` of an object, or null if absent (or not an object).
  const Value *find(const std::string &key) const;
  /// "object", "array", "string", ... for error messages.
  static const char *kindName(Kind kind);
};

/// Parses `text`. Returns "" or "<fileName>:<line>:<col>: <cause>".
std::string parse(const std::string &text, const std::string &fileName,
                  Value &out);
/// Reads and parses the file at `path` (named by `path` in errors).
std::string parseFile(const std::string &path, Value &out);

} // namespace sparsec::json

#endif
