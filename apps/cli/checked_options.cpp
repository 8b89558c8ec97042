#include "apps/cli/checked_options.hpp"

#include "messages/error.hpp"

namespace colony::apps {

CLI::Option* add_seconds_option(CLI::App* cmd, const std::string& name,
                                double& value, const std::string& help,
                                seconds_bounds bounds) {
  CLI::Validator rule{
      [bounds](std::string& text) -> std::string {
        auto number = parse_number(text);
        if (!number)
          return "expected a number of seconds, got '" + text + "'";
        auto checked = check_seconds(*number, bounds);
        return checked ? std::string{} : error_reason(checked.error());
      },
      "SECONDS"};
  return cmd->add_option(name, value, help)->check(rule);
}

CLI::Option* add_count_option(CLI::App* cmd, const std::string& name,
                              int64_t& value, const std::string& help,
                              int64_t min, int64_t max) {
  CLI::Validator rule{[min, max](std::string& text) -> std::string {
                        auto number = parse_integer(text);
                        if (!number)
                          return "expected an integer, got '" + text + "'";
                        auto checked = check_count(*number, min, max);
                        return checked ? std::string{}
                                       : error_reason(checked.error());
                      },
                      "N"};
  return cmd->add_option(name, value, help)->check(rule);
}

} // namespace colony::apps
