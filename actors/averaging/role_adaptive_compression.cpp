#include "actors/averaging/role_adaptive_compression.hpp"

namespace colony::averaging {

const char* to_string(tensor_role role) noexcept {
  switch (role) {
  case tensor_role::parameter:
    return "parameter";
  case tensor_role::gradient:
    return "gradient";
  case tensor_role::optimizer:
    return "optimizer";
  case tensor_role::other:
    return "other";
  }
  return "other";
}

averaging_compression
role_adaptive_compression::for_role(tensor_role role) const {
  const std::optional<compression_type>* chosen = &other;
  switch (role) {
  case tensor_role::parameter:
    chosen = &parameter;
    break;
  case tensor_role::gradient:
    chosen = &gradient;
    break;
  case tensor_role::optimizer:
    chosen = &optimizer;
    break;
  case tensor_role::other:
    break;
  }
  auto out = fallback;
  if (*chosen)
    out.codec = **chosen;
  return out;
}

std::vector<averaging_compression> role_adaptive_compression::for_tensors(
    const std::vector<tensor_role>& roles) const {
  std::vector<averaging_compression> out;
  out.reserve(roles.size());
  for (auto role : roles)
    out.push_back(for_role(role));
  return out;
}

} // namespace colony::averaging
