#pragma once

#include <string>
#include <string_view>

namespace colony::apps {

/// `text` as a JSON string literal, quotes included. Control characters are
/// escaped; other bytes pass as they are (UTF-8 text stays readable).
std::string json_string(std::string_view text);

} // namespace colony::apps
