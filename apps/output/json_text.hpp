#pragma once

#include <string>
#include <string_view>

namespace colony::apps {

/// `text` as a JSON string literal, quotes included: valid JSON for any
/// bytes. Quotes, backslashes and control characters are escaped; valid
/// UTF-8 passes as it is (text stays readable); each byte that is not part
/// of valid UTF-8 becomes U+FFFD.
std::string json_string(std::string_view text);

/// `x` as a JSON number (shortest form that reads back the same), or
/// `null` if it is NaN or infinite (JSON has no such numbers).
std::string json_number(double x);

/// Returns true if `bytes` is valid UTF-8 (no overlong forms, surrogates
/// or code points beyond U+10FFFF) with no NUL byte: text a JSON string
/// carries unchanged.
bool is_json_text(std::string_view bytes) noexcept;

/// `bytes` in standard base64 (RFC 4648, with padding).
std::string base64(std::string_view bytes);

/// `"name":value` for a value that may be binary: `"name":"text"`, and for
/// bytes that are not text (`is_json_text`) also `"name_base64":"..."`
/// with the exact bytes (the text then has U+FFFD for bad bytes).
std::string json_bytes_field(std::string_view name, std::string_view bytes);

} // namespace colony::apps
