#include "apps/cli/store_value.hpp"

#include "messages/error.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace colony::apps {

namespace {

/// Reads `in` to its end into `out`; false once it holds more than
/// `max_bytes` (the rest is not read).
bool read_bounded(std::istream& in, size_t max_bytes, std::string& out) {
  char chunk[64 * 1024];
  while (in.read(chunk, sizeof(chunk)) || in.gcount() > 0) {
    out.append(chunk, static_cast<size_t>(in.gcount()));
    if (out.size() > max_bytes)
      return false;
  }
  return true;
}

caf::error too_long(const std::string& what, size_t max_bytes) {
  return make_error(errc::invalid_argument,
                    what + ": longer than " + std::to_string(max_bytes) +
                        " bytes, the most a value may have "
                        "(transport.max_message_bytes)");
}

} // namespace

caf::expected<std::string> read_store_value(const store_value_source& source,
                                            size_t max_bytes,
                                            std::istream& standard_input) {
  const auto& file = source.value_file;
  if (source.argument && !file.empty())
    return make_error(errc::invalid_argument,
                      "give the value as an argument or with --value-file, "
                      "not both");
  if (source.argument) {
    const auto& value = *source.argument;
    if (value.size() > max_argument_value_bytes)
      return make_error(errc::invalid_argument,
                        "the value argument has " +
                            std::to_string(value.size()) + " bytes; at most " +
                            std::to_string(max_argument_value_bytes) +
                            " fit on the command line (use --value-file "
                            "FILE, or --value-file - for standard input)");
    if (value.size() > max_bytes)
      return too_long("the value argument", max_bytes);
    return value;
  }
  if (file.empty())
    return make_error(errc::invalid_argument,
                      "no value: give it as an argument, or with "
                      "--value-file FILE (- for standard input)");
  std::string value;
  if (file == "-") {
    if (!read_bounded(standard_input, max_bytes, value))
      return too_long("standard input", max_bytes);
    if (standard_input.bad())
      return make_error(errc::invalid_argument, "cannot read standard input");
    return value;
  }
  std::error_code ec;
  auto status = std::filesystem::status(file, ec);
  if (status.type() == std::filesystem::file_type::not_found)
    return make_error(errc::invalid_argument, file + ": no such file");
  if (status.type() == std::filesystem::file_type::directory)
    return make_error(errc::invalid_argument, file + ": is a directory");
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return make_error(errc::invalid_argument,
                      file + ": cannot read: " + std::strerror(errno));
  if (!read_bounded(in, max_bytes, value))
    return too_long(file, max_bytes);
  if (in.bad())
    return make_error(errc::invalid_argument, file + ": cannot read");
  return value;
}

} // namespace colony::apps
