// A DHT request costs the node work in proportion to its bytes. Found by
// tests/fuzz/dht_fuzz.cpp: a list of zero-sized structs costs no bytes on
// the wire (one tag word claims up to 2^29 elements), and the default
// traversal limit (64 Mi words) let a 48-byte `store` request make the node
// store 2^25 empty items and answer with 2^25 booleans.

#include "actors/dht/dht_node.hpp"
#include "messages/envelope.hpp"
#include "messages/error.hpp"
#include "runtime/identity.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstring>

using namespace colony;

namespace {

/// A DhtRequest whose `store` list holds `count` zero-sized items: root
/// pointer, the request (discriminant `store`, no sender), the list pointer
/// and its tag word, nothing else.
std::vector<char> zero_sized_store_items(uint32_t count) {
  const uint32_t words[] = {
      0,          5,          // segment table: one segment of 5 words
      0,          0x00020001, // root: struct of 1 data word, 2 pointers
      1,          0,          // data: union discriminant 1 = store
      0,          0,          // sender: null
      1,          7,          // store: inline-composite list, 0 words
      count << 2, 0,          // tag: `count` structs of 0 words
  };
  std::vector<char> out(sizeof(words));
  std::memcpy(out.data(), words, sizeof(words));
  return out;
}

} // namespace

TEST(dht_serve_limits, zero_sized_list_elements_do_not_amplify) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  // Stands in for the transport: takes the node's service registration.
  auto transport = sys.spawn([]() -> caf::behavior {
    return {[](register_service_atom, const std::string&, const caf::actor&) {
    }};
  });
  dht::dht_node_config dcfg;
  dcfg.me = std::make_shared<identity>(*identity::generate());
  dcfg.address = "127.0.0.1:1";
  dcfg.transport = transport;
  dcfg.log = std::make_shared<spdlog::logger>(
      "dht_serve_limits", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto node = dht::spawn_dht_node(sys, dcfg);
  caf::scoped_actor self{sys};
  // 2^22 items take the unbounded node seconds; a bounded one refuses them.
  self->request(node, caf::infinite, serve_atom::value, std::string{"dht"},
                std::string{"peer"}, envelope{zero_sized_store_items(1u << 22)})
      .receive(
          [](envelope& reply) {
            FAIL() << "served a 48-byte request with 2^22 items ("
                   << reply.size() << " bytes of reply)";
          },
          [](caf::error& err) {
            EXPECT_TRUE(is_error(err, errc::malformed)) << describe(err);
          });
  // A request of real items is still served.
  self->request(node, caf::infinite, serve_atom::value, std::string{"dht"},
                std::string{"peer"}, envelope{zero_sized_store_items(3)})
      .receive([](envelope& reply) { EXPECT_GT(reply.size(), 0u); },
               [](caf::error& err) { FAIL() << describe(err); });
  self->send_exit(node, caf::exit_reason::user_shutdown);
  self->send_exit(transport, caf::exit_reason::user_shutdown);
}
