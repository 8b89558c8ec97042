#include "runtime/config/toml_input.hpp"

#include "messages/error.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace colony {

caf::expected<std::string> read_config_file(const std::string& path) {
  if (path.empty())
    return make_error(errc::io_error, "no config file named (empty path)");
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found)
    return make_error(errc::io_error, path + ": no such file");
  if (status.type() == std::filesystem::file_type::directory)
    return make_error(errc::io_error,
                      path + ": is a directory, not a config file");
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::io_error,
                      path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char chunk[64 * 1024];
  while (in.read(chunk, sizeof(chunk)) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > max_config_file_bytes)
      return make_error(errc::io_error,
                        path + ": larger than " +
                            std::to_string(max_config_file_bytes >> 20) +
                            " MiB, not a config file");
  }
  if (in.bad())
    return make_error(errc::io_error, path + ": cannot read");
  return text;
}

std::optional<toml::table> parse_toml(std::string_view text,
                                      const std::string& source,
                                      config_issues& issues) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& err) {
    issues.add(config_place::in(source, err.source()),
               "TOML syntax error: " + std::string{err.description()});
    return std::nullopt;
  }
}

const char* toml_type_name(const toml::node& node) noexcept {
  switch (node.type()) {
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a floating-point number";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  default:
    return "nothing";
  }
}

} // namespace colony
