#include "actors/averaging/state_declaration.hpp"

#include "actors/averaging/matchmaking_codec.hpp"
#include "messages/averaging.capnp.h"
#include "messages/envelope.hpp"
#include "messages/error.hpp"
#include "messages/flat_message.hpp"

#include <capnp/message.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace colony::averaging {

std::string state_declaration_key(const std::string& prefix) {
  return prefix + ".all_averagers";
}

std::chrono::milliseconds
declaration_lifetime(std::chrono::milliseconds declare_state_period) noexcept {
  return 2 * declare_state_period;
}

double declarable_priority(double priority) noexcept {
  if (std::isnan(priority))
    return 0;
  constexpr auto largest = std::numeric_limits<double>::max();
  return std::clamp(priority, -largest, largest);
}

std::string encode_state_declaration(const state_declaration& declaration) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<wire::StateDeclaration>();
  out.setSharing(declaration.sharing);
  out.setAddress(capnp::Text::Reader{declaration.address.data(),
                                     declaration.address.size()});
  out.setPriority(declarable_priority(declaration.priority));
  auto flat = to_envelope(message);
  return std::string{flat.data(), flat.size()};
}

caf::expected<state_declaration>
decode_state_declaration(std::string_view bytes) {
  if (bytes.size() > max_declaration_bytes)
    return make_error(errc::malformed,
                      "state declaration of " + std::to_string(bytes.size()) +
                          " bytes, above the bound " +
                          std::to_string(max_declaration_bytes));
  // DHT values carry no alignment promise: copy into a word-aligned buffer.
  envelope flat{std::vector<char>(bytes.begin(), bytes.end())};
  return read_flat_message(
      flat, "state declaration",
      [](capnp::MessageReader& reader) -> caf::expected<state_declaration> {
        auto in = reader.getRoot<wire::StateDeclaration>();
        state_declaration d;
        d.sharing = in.getSharing();
        auto address = in.getAddress();
        if (address.size() > max_address_bytes)
          return make_error(errc::too_large,
                            "address of " + std::to_string(address.size()) +
                                " bytes, above the bound " +
                                std::to_string(max_address_bytes));
        d.address.assign(address.cStr(), address.size());
        d.priority = in.getPriority();
        if (!std::isfinite(d.priority))
          return make_error(errc::malformed,
                            "a state declaration with a non-finite priority");
        if (d.sharing && d.address.empty())
          return make_error(errc::invalid_argument,
                            "a sharing peer without an address");
        return d;
      });
}

std::vector<state_source> sharing_peers(const dht::get_result& found,
                                        const peer_id& self,
                                        std::mt19937_64& rng) {
  std::vector<state_source> out;
  if (!found.found || !found.is_dictionary)
    return out;
  for (const auto& [subkey, value] : found.subkeys) {
    if (subkey.size() > 2 * peer_id::text_size)
      continue; // parsing is quadratic in the length
    auto id = peer_id::parse(subkey);
    if (!id || *id == self)
      continue;
    auto declaration = decode_state_declaration(value.value);
    if (!declaration || !declaration->sharing)
      continue;
    out.push_back(state_source{peer_contact{*id, declaration->address},
                               declaration->priority});
  }
  // Shuffled, then stably sorted: equal priorities keep a random order.
  std::shuffle(out.begin(), out.end(), rng);
  std::stable_sort(out.begin(), out.end(),
                   [](const state_source& a, const state_source& b) {
                     return a.priority > b.priority;
                   });
  return out;
}

} // namespace colony::averaging
