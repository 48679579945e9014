//===- Json.cpp - minimal strict JSON reader ------------------------------===//
#include "sparsec/Runtime/Json.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sparsec::json {

const Value *Value::find(const std::string &key) const {
  for (const auto &member : members)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

const char *Value::kindName(Kind kind) {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "boolean";
  case Kind::Number:
    return "number";
  case Kind::String:
    return "string";
  case Kind::Array:
    return "array";
  case Kind::Object:
    return "object";
  }
  return "?";
}

namespace {

// Manifests are shallow; the limit only keeps hostile input from exhausting
// the stack.
constexpr int kMaxDepth = 128;

class Parser {
public:
  Parser(const std::string &text, const std::string &fileName)
      : text(text), fileName(fileName) {}

  std::string run(Value &out) {
    skipSpace();
    if (!parseValue(out, 0))
      return error;
    skipSpace();
    if (pos != text.size())
      fail("unexpected trailing characters after the top-level value");
    return error;
  }

private:
  const std::string &text;
  const std::string &fileName;
  size_t pos = 0;
  int line = 1, column = 1;
  std::string error;

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }

  void advance() {
    if (text[pos] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    ++pos;
  }

  bool fail(const std::string &cause) {
    if (error.empty())
      error = fileName + ":" + std::to_string(line) + ":" +
              std::to_string(column) + ": " + cause;
    return false;
  }

  void skipSpace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' ||
                        peek() == '\r'))
      advance();
  }

  bool expectWord(const char *word) {
    for (const char *c = word; *c; ++c) {
      if (peek() != *c)
        return fail(std::string("invalid literal, expected '") + word + "'");
      advance();
    }
    return true;
  }

  bool parseValue(Value &out, int depth) {
    out = Value();
    out.line = line;
    out.column = column;
    if (depth > kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth));
    switch (peek()) {
    case '{':
      return parseObject(out, depth);
    case '[':
      return parseArray(out, depth);
    case '"':
      out.kind = Value::Kind::String;
      return parseString(out.string);
    case 't':
      out.kind = Value::Kind::Bool;
      out.boolean = true;
      return expectWord("true");
    case 'f':
      out.kind = Value::Kind::Bool;
      return expectWord("false");
    case 'n':
      return expectWord("null");
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber(out);
      if (atEnd())
        return fail("unexpected end of input, expected a value");
      return fail(std::string("unexpected character '") + peek() +
                  "', expected a value");
    }
  }

  bool parseObject(Value &out, int depth) {
    out.kind = Value::Kind::Object;
    advance(); // '{'
    skipSpace();
    if (peek() == '}') {
      advance();
      return true;
    }
    while (true) {
      if (peek() != '"')
        return fail("expected a string key in object");
      int keyLine = line, keyColumn = column;
      std::string key;
      if (!parseString(key))
        return false;
      if (out.find(key)) {
        line = keyLine;
        column = keyColumn;
        return fail("duplicate key \"" + key + "\"");
      }
      skipSpace();
      if (peek() != ':')
        return fail("expected ':' after object key");
      advance();
      skipSpace();
      Value member;
      if (!parseValue(member, depth + 1))
        return false;
      out.members.emplace_back(std::move(key), std::move(member));
      skipSpace();
      if (peek() == ',') {
        advance();
        skipSpace();
        continue;
      }
      if (peek() == '}') {
        advance();
        return true;
      }
      return fail("expected ',' or '}' in object");
    }
  }

  bool parseArray(Value &out, int depth) {
    out.kind = Value::Kind::Array;
    advance(); // '['
    skipSpace();
    if (peek() == ']') {
      advance();
      return true;
    }
    while (true) {
      Value element;
      if (!parseValue(element, depth + 1))
        return false;
      out.elements.push_back(std::move(element));
      skipSpace();
      if (peek() == ',') {
        advance();
        skipSpace();
        continue;
      }
      if (peek() == ']') {
        advance();
        return true;
      }
      return fail("expected ',' or ']' in array");
    }
  }

  bool parseHex4(uint32_t &out) {
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      uint32_t digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return fail("invalid \\u escape, expected 4 hex digits");
      out = out * 16 + digit;
      advance();
    }
    return true;
  }

  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xC0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += char(0xE0 | (cp >> 12));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    } else {
      s += char(0xF0 | (cp >> 18));
      s += char(0x80 | ((cp >> 12) & 0x3F));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    }
  }

  bool parseEscape(std::string &out) {
    advance(); // '\'
    char c = peek();
    const char *simple = "\"\\/bfnrt";
    const char *mapped = "\"\\/\b\f\n\r\t";
    for (int i = 0; simple[i]; ++i) {
      if (c == simple[i]) {
        out += mapped[i];
        advance();
        return true;
      }
    }
    if (c != 'u')
      return fail(atEnd() ? "unterminated string"
                          : std::string("invalid escape '\\") + c + "'");
    advance();
    uint32_t cp;
    if (!parseHex4(cp))
      return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return fail("unpaired low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (peek() != '\\')
        return fail("unpaired high surrogate in \\u escape");
      advance();
      if (peek() != 'u')
        return fail("unpaired high surrogate in \\u escape");
      advance();
      uint32_t low;
      if (!parseHex4(low))
        return false;
      if (low < 0xDC00 || low > 0xDFFF)
        return fail("unpaired high surrogate in \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(out, cp);
    return true;
  }

  bool parseString(std::string &out) {
    advance(); // '"'
    while (true) {
      if (atEnd())
        return fail("unterminated string");
      char c = peek();
      if (c == '"') {
        advance();
        return true;
      }
      if (c == '\\') {
        if (!parseEscape(out))
          return false;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("unescaped control character in string");
      out += c;
      advance();
    }
  }

  bool isDigit(char c) const { return c >= '0' && c <= '9'; }

  bool parseNumber(Value &out) {
    out.kind = Value::Kind::Number;
    size_t start = pos;
    bool integral = true;
    if (peek() == '-')
      advance();
    if (peek() == '0') {
      advance();
      if (isDigit(peek()))
        return fail("leading zeros are not allowed in numbers");
    } else if (isDigit(peek())) {
      while (isDigit(peek()))
        advance();
    } else {
      return fail("invalid number, expected a digit");
    }
    if (peek() == '.') {
      integral = false;
      advance();
      if (!isDigit(peek()))
        return fail("invalid number, expected a digit after '.'");
      while (isDigit(peek()))
        advance();
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      advance();
      if (peek() == '+' || peek() == '-')
        advance();
      if (!isDigit(peek()))
        return fail("invalid number, expected a digit in the exponent");
      while (isDigit(peek()))
        advance();
    }
    std::string literal = text.substr(start, pos - start);
    out.number = std::strtod(literal.c_str(), nullptr);
    if (integral) {
      errno = 0;
      long long v = std::strtoll(literal.c_str(), nullptr, 10);
      if (errno != ERANGE) {
        out.isInteger = true;
        out.integer = v;
      }
    }
    return true;
  }
};

} // namespace

std::string parse(const std::string &text, const std::string &fileName,
                  Value &out) {
  return Parser(text, fileName).run(out);
}

std::string parseFile(const std::string &path, Value &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "cannot open '" + path + "'";
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    return "failed reading '" + path + "'";
  return parse(buffer.str(), path, out);
}

} // namespace sparsec::json
