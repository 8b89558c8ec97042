#include "actors/moe/server/expert_poison.hpp"

#include "messages/error.hpp"

#include <ATen/ATen.h>

#include <limits>

namespace colony::moe {

const char* to_string(poison_mode mode) noexcept {
  switch (mode) {
  case poison_mode::off:
    return "off";
  case poison_mode::nan:
    return "nan";
  case poison_mode::wrong_shape:
    return "wrong_shape";
  }
  return "off";
}

caf::expected<poison_mode> parse_poison_mode(std::string_view text) {
  for (auto mode :
       {poison_mode::off, poison_mode::nan, poison_mode::wrong_shape})
    if (text == to_string(mode))
      return mode;
  return make_error(errc::bad_config,
                    "unknown poison mode '" + std::string{text} +
                        "' (expected off, nan or wrong_shape)");
}

std::vector<at::Tensor> poison_outputs(std::vector<at::Tensor> outputs,
                                       poison_mode mode) {
  if (mode == poison_mode::off)
    return outputs;
  for (auto& t : outputs) {
    if (!t.defined())
      continue;
    if (mode == poison_mode::nan) {
      if (t.is_floating_point())
        t = at::full_like(t, std::numeric_limits<double>::quiet_NaN());
    } else if (t.dim() >= 2) {
      t = at::cat({t, at::zeros_like(t.narrow(-1, 0, 1))}, -1);
    } else {
      // A vector per row gains a dimension instead.
      t = t.unsqueeze(-1);
    }
  }
  return outputs;
}

} // namespace colony::moe
