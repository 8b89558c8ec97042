#include "actors/averaging/allreduce_messages.hpp"

namespace colony::averaging {

const char* to_string(exclusion_reason reason) noexcept {
  switch (reason) {
  case exclusion_reason::timeout:
    return "timeout";
  case exclusion_reason::failed:
    return "failed";
  case exclusion_reason::wrong_size:
    return "wrong_size";
  case exclusion_reason::wrong_group:
    return "wrong_group";
  case exclusion_reason::non_finite:
    return "non_finite";
  case exclusion_reason::out_of_order:
    return "out_of_order";
  case exclusion_reason::bad_weight:
    return "bad_weight";
  case exclusion_reason::not_a_sender:
    return "not_a_sender";
  case exclusion_reason::not_averaged:
    return "not_averaged";
  }
  return "unknown";
}

} // namespace colony::averaging
