#include "apps/cli/config_flags.hpp"

#include "apps/cli/commands.hpp"
#include "messages/error.hpp"
#include "runtime/config/toml_input.hpp"

#include <cstdio>
#include <iostream>

namespace colony::apps {

namespace {

/// `"text"` with TOML's escapes, so any value stays one string.
std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof(escaped), "\\u%04x",
                      static_cast<unsigned>(static_cast<unsigned char>(c)));
        out += escaped;
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

} // namespace

void config_flags::add(CLI::App* cmd, std::vector<config_flag> flags,
                       bool greedy_lists) {
  for (const auto& f : flags) {
    auto& values = values_[f.flag];
    auto help = std::string{f.help} + " (" + f.key + ")";
    auto* opt = cmd->add_option(f.flag, values, help);
    if (f.is_list)
      opt->delimiter(',')->allow_extra_args(greedy_lists);
    else
      opt->expected(1)->allow_extra_args(false)->multi_option_policy(
          CLI::MultiOptionPolicy::TakeLast);
    flags_.push_back(f);
  }
}

std::vector<std::string> config_flags::overrides() const {
  std::vector<std::string> out;
  for (const auto& f : flags_) {
    auto i = values_.find(f.flag);
    if (i == values_.end() || i->second.empty())
      continue;
    std::string value;
    if (f.is_list) {
      value = "[";
      for (size_t k = 0; k < i->second.size(); ++k)
        value += (k > 0 ? ", " : "") + toml_string(i->second[k]);
      value += "]";
    } else {
      // Read as TOML with a plain-string fallback, as `--set` is.
      value = i->second.back();
    }
    out.push_back(std::string{f.key} + "=" + value);
  }
  return out;
}

std::string config_flags::name_flags(std::string text) const {
  for (const auto& f : flags_) {
    auto from = std::string{"--set "} + f.key + ":";
    auto to = std::string{f.flag} + ":";
    for (auto pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size()))
      text.replace(pos, from.size(), to);
  }
  return text;
}

int load_command_config(const command_config_sources& sources,
                        node_config& out) {
  std::string text;
  std::string source = "<flags>";
  if (!sources.config_path.empty()) {
    auto read = read_config_file(sources.config_path);
    if (!read) {
      std::cerr << error_reason(read.error()) << std::endl;
      return usage_error_status;
    }
    text = std::move(*read);
    source = sources.config_path;
  }
  auto overrides = sources.defaults;
  if (sources.flags != nullptr) {
    auto from_flags = sources.flags->overrides();
    overrides.insert(overrides.end(), from_flags.begin(), from_flags.end());
  }
  overrides.insert(overrides.end(), sources.sets.begin(), sources.sets.end());
  overrides.insert(overrides.end(), sources.fixed.begin(), sources.fixed.end());
  auto config = parse_node_config(text, source, overrides);
  if (!config) {
    auto reason = error_reason(config.error());
    if (sources.flags != nullptr)
      reason = sources.flags->name_flags(std::move(reason));
    std::cerr << reason << std::endl;
    return usage_error_status;
  }
  out = std::move(*config);
  return 0;
}

} // namespace colony::apps
