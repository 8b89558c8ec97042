#include "actors/moe/expert_declaration.hpp"

#include "actors/moe/expert_record.hpp"
#include "actors/moe/expert_uid.hpp"
#include "messages/error.hpp"
#include "messages/expert_record.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace colony::moe {
namespace {

constexpr auto peer = "12D3KooWPBRNBzgceXh7Z27wGoyYYz9ggwaYg2dWiwXXe8ieyFCN";
constexpr auto address = "10.0.0.7:31337";

expert_info info(std::string uid) {
  return expert_info{std::move(uid), peer, address};
}

TEST(expert_declaration, record_round_trip) {
  auto original = info("ffn.0.13");
  auto bytes = encode_expert_info(original);
  EXPECT_EQ(bytes.size() % 8, 0u);
  EXPECT_LE(bytes.size(), max_expert_record_bytes);
  auto decoded = decode_expert_info(bytes);
  ASSERT_TRUE(decoded) << describe(decoded.error());
  EXPECT_EQ(*decoded, original);
  // Misaligned input decodes too: DHT values carry no alignment promise.
  std::string shifted = "x" + bytes;
  auto from_odd = decode_expert_info(std::string_view{shifted}.substr(1));
  ASSERT_TRUE(from_odd) << describe(from_odd.error());
  EXPECT_EQ(*from_odd, original);
}

TEST(expert_declaration, malformed_records_rejected) {
  auto expect_malformed = [](std::string_view bytes, std::string_view what) {
    auto decoded = decode_expert_info(bytes);
    ASSERT_FALSE(decoded) << what;
    EXPECT_TRUE(is_error(decoded.error(), errc::malformed)) << what;
  };
  expect_malformed("", "empty");
  expect_malformed("1234567", "not whole words");
  expect_malformed(std::string(16, '\xff'), "garbage words");
  expect_malformed(std::string(max_expert_record_bytes + 8, '\0'), "too big");
  auto good = encode_expert_info(info("ffn.1.2"));
  expect_malformed(good.substr(0, good.size() - 8), "truncated");
  expect_malformed(encode_expert_info(info("ffn.01")), "bad uid");
  expect_malformed(encode_expert_info(info("ffn")), "uid without coordinates");
  expect_malformed(encode_expert_info(expert_info{"ffn.1", "", address}),
                   "no peer");
  expect_malformed(encode_expert_info(expert_info{"ffn.1", peer, ""}),
                   "no address");
  // Random bytes never crash the decoder.
  std::mt19937 rng{5};
  for (int round = 0; round < 2000; ++round) {
    auto bytes = good;
    auto flips = 1 + rng() % 4;
    for (unsigned i = 0; i < flips; ++i)
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
    auto decoded = decode_expert_info(bytes);
    if (decoded) {
      EXPECT_TRUE(is_valid_uid(decoded->uid));
    }
  }
}

TEST(expert_declaration, record_with_embedded_nul_rejected) {
  capnp::MallocMessageBuilder message;
  auto record = message.initRoot<wire::ExpertRecord>();
  std::string uid{"ffn.1\0x", 7};
  record.setUid(capnp::Text::Reader{uid.data(), uid.size()});
  record.setPeerId(peer);
  record.setAddress(address);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  auto decoded = decode_expert_info(std::string_view{
      reinterpret_cast<const char*>(bytes.begin()), bytes.size()});
  EXPECT_FALSE(decoded);
}

TEST(expert_declaration, ops_for_uids) {
  auto ops = declare_experts_ops({"ffn.1.2.3"}, peer, address, 1234.5);
  ASSERT_TRUE(ops) << describe(ops.error());
  ASSERT_EQ(ops->size(), 4u);
  auto value = encode_expert_info(info("ffn.1.2.3"));
  EXPECT_EQ((*ops)[0],
            (dht_store_op{"ffn.1.2.3", std::nullopt, value, 1234.5}));
  EXPECT_EQ((*ops)[1], (dht_store_op{"ffn.", "1", value, 1234.5}));
  EXPECT_EQ((*ops)[2], (dht_store_op{"ffn.1.", "2", value, 1234.5}));
  EXPECT_EQ((*ops)[3], (dht_store_op{"ffn.1.2.", "3", value, 1234.5}));
}

TEST(expert_declaration, one_dimensional_uids) {
  auto ops = declare_experts_ops({"expert.7", "expert.12"}, peer, address, 9);
  ASSERT_TRUE(ops);
  ASSERT_EQ(ops->size(), 4u);
  EXPECT_EQ((*ops)[1].key, "expert.");
  EXPECT_EQ((*ops)[1].subkey, "7");
  EXPECT_EQ((*ops)[3].key, "expert.");
  EXPECT_EQ((*ops)[3].subkey, "12");
}

TEST(expert_declaration, ops_are_deduplicated) {
  // Duplicate uids, and siblings sharing `ffn.` / `1` and `ffn.1.` / `2`.
  auto ops = declare_experts_ops({"ffn.1.2", "ffn.1.2", "ffn.1.3", "ffn.0.2"},
                                 peer, address, 50);
  ASSERT_TRUE(ops);
  std::vector<std::pair<std::string, std::string>> slots;
  for (auto& op : *ops)
    slots.emplace_back(op.key, op.subkey.value_or("-"));
  EXPECT_EQ(slots, (std::vector<std::pair<std::string, std::string>>{
                       {"ffn.1.2", "-"},
                       {"ffn.", "1"},
                       {"ffn.1.", "2"},
                       {"ffn.1.3", "-"},
                       {"ffn.1.", "3"},
                       {"ffn.0.2", "-"},
                       {"ffn.", "0"},
                       {"ffn.0.", "2"},
                   }));
  // `ffn.` / `1` names the first uid that has it.
  EXPECT_EQ(decode_expert_info((*ops)[1].value)->uid, "ffn.1.2");
}

TEST(expert_declaration, bad_declarations) {
  auto bad_uid = declare_experts_ops({"ffn.1", "ffn.1."}, peer, address, 1);
  ASSERT_FALSE(bad_uid);
  EXPECT_TRUE(is_error(bad_uid.error(), errc::invalid_argument));
  EXPECT_NE(describe(bad_uid.error()).find("'ffn.1.'"), std::string::npos);
  EXPECT_FALSE(declare_experts_ops({"ffn.1"}, "", address, 1));
  EXPECT_FALSE(declare_experts_ops({"ffn.1"}, peer, "", 1));
  auto none = declare_experts_ops({}, peer, address, 1);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(expert_declaration, keys_and_plain_values) {
  EXPECT_EQ(get_experts_keys({"ffn.1.2", "ffn.3.4"}),
            (std::vector<std::string>{"ffn.1.2", "ffn.3.4"}));
  auto value = encode_expert_info(info("ffn.1.2"));
  auto found = decode_expert_value("ffn.1.2", value);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->address, address);
  auto other = decode_expert_value("ffn.1.3", value);
  ASSERT_FALSE(other);
  EXPECT_TRUE(is_error(other.error(), errc::malformed));
}

TEST(expert_declaration, uid_extends) {
  EXPECT_TRUE(uid_extends("ffn.1.2.3", "ffn.1.", 2));
  EXPECT_TRUE(uid_extends("ffn.1.2", "ffn.1.", 2));
  EXPECT_FALSE(uid_extends("ffn.1.20", "ffn.1.", 2));
  EXPECT_FALSE(uid_extends("ffn.1.2", "ffn.1.", 3));
  EXPECT_FALSE(uid_extends("ffn.11.2", "ffn.1.", 2));
  EXPECT_TRUE(uid_extends("ffn.4", "ffn.", 4));
}

TEST(expert_declaration, prefix_successors_decoded) {
  auto ops = declare_experts_ops({"ffn.1.2.3", "ffn.1.5.0", "ffn.2.0.0"}, peer,
                                 address, 10);
  ASSERT_TRUE(ops);
  std::map<std::string, std::map<std::string, std::string>> dictionaries;
  for (auto& op : *ops)
    if (op.subkey)
      dictionaries[op.key][*op.subkey] = op.value;
  auto root = decode_prefix_successors("ffn.", dictionaries["ffn."]);
  ASSERT_EQ(root.size(), 2u);
  EXPECT_EQ(root.at(1).uid, "ffn.1.2.3");
  EXPECT_EQ(root.at(2).uid, "ffn.2.0.0");
  auto level1 = decode_prefix_successors("ffn.1.", dictionaries["ffn.1."]);
  ASSERT_EQ(level1.size(), 2u);
  EXPECT_EQ(level1.at(2).uid, "ffn.1.2.3");
  EXPECT_EQ(level1.at(5).uid, "ffn.1.5.0");
  EXPECT_EQ(level1.at(5).peer_id, peer);
}

TEST(expert_declaration, malformed_successors_skipped) {
  auto good = encode_expert_info(info("ffn.1.2"));
  std::map<std::string, std::string> subkeys{
      {"2", good},                                  // the only valid one
      {"3", good},                                  // names ffn.1.2, not 1.3
      {"02", good},                                 // not canonical
      {"-1", good},                                 // hivemind's flat marker
      {"x", good},                                  // not a coordinate
      {"4", "garbage!"},                            // not a record
      {"5", encode_expert_info(info("attn.1.5"))},  // another grid
      {"6", encode_expert_info(info("ffn.1.60"))},  // 60 is not 6
      {"7", encode_expert_info(info("ffn.1.7.0"))}, // deeper uid: fine
      {"99999999999", good},                        // too large
  };
  auto successors = decode_prefix_successors("ffn.1.", subkeys);
  ASSERT_EQ(successors.size(), 2u);
  EXPECT_EQ(successors.at(2).uid, "ffn.1.2");
  EXPECT_EQ(successors.at(7).uid, "ffn.1.7.0");
  EXPECT_TRUE(decode_prefix_successors("ffn.1", subkeys).empty());
}

} // namespace
} // namespace colony::moe
