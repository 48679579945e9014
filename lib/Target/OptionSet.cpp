//===- OptionSet.cpp - option structs and their command-line flags --------===//
#include "sparsec/Target/OptionSet.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>

namespace cl = llvm::cl;

namespace sparsec {

std::vector<cl::Option *> OptionSet::getOptions() const {
  std::vector<cl::Option *> result;
  // PassOptions keeps its options in its protected llvm::cl::SubCommand base.
  for (const auto &entry : OptionsMap)
    result.push_back(entry.second);
  std::sort(result.begin(), result.end(),
            [](auto *a, auto *b) { return a->ArgStr < b->ArgStr; });
  return result;
}

namespace {
/// Splits "a=1 b='x y' c={p q}" at top-level blanks.
std::vector<std::string> splitPairs(llvm::StringRef text) {
  std::vector<std::string> pairs;
  std::string current;
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote)
        quote = 0;
      current += c;
      continue;
    }
    if (c == '"' || c == '\'')
      quote = c;
    else if (c == '{')
      ++depth;
    else if (c == '}')
      --depth;
    if (depth == 0 && (c == ' ' || c == '\t' || c == '\n')) {
      if (!current.empty())
        pairs.push_back(std::move(current));
      current.clear();
      continue;
    }
    current += c;
  }
  if (!current.empty())
    pairs.push_back(std::move(current));
  return pairs;
}

} // namespace

std::string OptionSet::parse(llvm::StringRef text, llvm::StringRef prefix) {
  std::vector<cl::Option *> all = getOptions();
  std::string normalized;
  for (const std::string &pair : splitPairs(text)) {
    llvm::StringRef key = llvm::StringRef(pair).split('=').first;
    llvm::StringRef value = llvm::StringRef(pair).split('=').second;
    bool hasValue = llvm::StringRef(pair).contains('=');
    key.consume_front("--");
    std::string prefixed = (prefix + "-").str();
    if (!prefix.empty())
      key.consume_front(prefixed);
    auto it = std::find_if(all.begin(), all.end(),
                           [&](cl::Option *o) { return o->ArgStr == key; });
    if (it == all.end()) {
      std::string known;
      for (cl::Option *o : all)
        if (o->getOptionHiddenFlag() == cl::NotHidden)
          known += (known.empty() ? "" : ", ") + o->ArgStr.str();
      return "unknown option '" + key.str() + "'" +
             (known.empty() ? " (this takes no options)"
                            : " (known: " + known + ")");
    }
    if (!hasValue && (*it)->getValueExpectedFlag() != cl::ValueOptional)
      return "option '" + key.str() + "' needs a value (" + key.str() + "=...)";
    normalized += (normalized.empty() ? "" : " ") + key.str();
    if (hasValue)
      normalized += "=" + value.str();
  }
  // MLIR's parser handles quoting and reports bad values to a stream.
  std::string error;
  llvm::raw_string_ostream os(error);
  if (failed(parseFromString(normalized, os))) {
    llvm::StringRef message = llvm::StringRef(error).trim();
    message.consume_front("<Pass-Options-Parser>: ");
    return message.empty() ? "cannot parse options '" + text.str() + "'"
                           : message.str();
  }
  return "";
}

struct CommandLineBinding::Flag {
  cl::Option *target;
  std::string name; // cl::opt keeps a StringRef to its name
  std::unique_ptr<cl::opt<std::string>> single;
  std::unique_ptr<cl::list<std::string>> list;
};

CommandLineBinding::CommandLineBinding(OptionSet &options,
                                       llvm::StringRef prefix,
                                       cl::OptionCategory &category) {
  for (cl::Option *option : options.getOptions()) {
    if (option->getOptionHiddenFlag() != cl::NotHidden)
      continue;
    auto flag = std::make_unique<Flag>();
    flag->target = option;
    flag->name = (prefix + option->ArgStr).str();
    llvm::StringRef name = flag->name;
    llvm::StringRef valueName =
        option->ValueStr.empty() ? "value" : option->ValueStr;
    // MLIR's ListOption is a cl::list (comma-separated values).
    if (option->getNumOccurrencesFlag() == cl::ZeroOrMore) {
      flag->list = std::make_unique<cl::list<std::string>>(
          name, cl::desc(option->HelpStr), cl::value_desc(valueName),
          cl::cat(category));
    } else {
      flag->single = std::make_unique<cl::opt<std::string>>(
          name, cl::desc(option->HelpStr), cl::value_desc(valueName),
          cl::cat(category));
      if (option->getValueExpectedFlag() == cl::ValueOptional)
        flag->single->setValueExpectedFlag(cl::ValueOptional);
    }
    flags.push_back(std::move(flag));
  }
}

CommandLineBinding::~CommandLineBinding() = default;

std::string CommandLineBinding::apply() {
  for (const auto &flag : flags) {
    cl::Option &option = *flag->target;
    if (flag->list) {
      for (const std::string &value : *flag->list)
        if (option.addOccurrence(0, option.ArgStr, value))
          return "invalid value '" + value + "' for --" +
                 flag->list->ArgStr.str();
      continue;
    }
    if (!flag->single->getNumOccurrences())
      continue;
    llvm::StringRef value = *flag->single;
    bool isFlag = option.getValueExpectedFlag() == cl::ValueOptional;
    if (isFlag && value.empty())
      value = "true";
    if (option.addOccurrence(0, option.ArgStr, value))
      return "invalid value '" + value.str() + "' for --" +
             flag->single->ArgStr.str();
  }
  return "";
}

bool CommandLineBinding::occurred(llvm::StringRef key) const {
  for (const auto &flag : flags)
    if (flag->target->ArgStr == key)
      return flag->list ? flag->list->getNumOccurrences() > 0
                        : flag->single->getNumOccurrences() > 0;
  return false;
}

} // namespace sparsec
