// Schemas of DHT records: each built-in form takes what fits and refuses
// the rest; keys no schema names pass unless the validator is strict; the
// most specific schema of a key decides; schemas merge in a chain; under
// signatures a schema judges the payload, and both must accept.

#include "actors/dht/record_validator.hpp"
#include "actors/dht/schema_validator.hpp"
#include "actors/optim/progress_record.hpp"

#include <gtest/gtest.h>

#include <limits>

using namespace colony;
using namespace colony::dht;

namespace {

std::shared_ptr<const identity> new_identity() {
  return std::make_shared<const identity>(*identity::generate());
}

std::string marker_of(const identity& id) {
  return signed_record_validator::owner_marker(id.peer_id());
}

record_schema plain_schema(std::string key, byte_schema value) {
  record_schema s;
  s.name = "test";
  s.key = std::move(key);
  s.subkey = subkey_rule::forbidden;
  s.value = std::move(value);
  return s;
}

bool accepts(const schema_validator& v, std::string_view key,
             std::string_view value) {
  return v.validate(dht_record{key, {}, false, value, 10.0});
}

bool accepts(const schema_validator& v, std::string_view key,
             std::string_view subkey, std::string_view value) {
  return v.validate(dht_record{key, subkey, true, value, 10.0});
}

optim::progress_record good_progress() {
  optim::progress_record r;
  r.epoch = 3;
  r.samples_accumulated = 40;
  r.samples_per_second = 12.5;
  r.time = 1000;
  return r;
}

} // namespace

TEST(schema_validator, any_bytes_refuses_only_what_exceeds_its_bound) {
  schema_validator v{{plain_schema("k", byte_schema::any(4))}};
  EXPECT_TRUE(accepts(v, "k", ""));
  EXPECT_TRUE(accepts(v, "k", std::string("\0\xff\x01z", 4)));
  EXPECT_FALSE(accepts(v, "k", "12345"));
}

TEST(schema_validator, utf8_takes_text_and_refuses_broken_sequences) {
  schema_validator v{{plain_schema("k", byte_schema::utf8(16))}};
  EXPECT_TRUE(accepts(v, "k", "plain"));
  EXPECT_TRUE(accepts(v, "k", "gr\xc3\xbc\xc3\x9f")); // grüß
  EXPECT_TRUE(accepts(v, "k", "\xf0\x9f\x98\x80"));   // U+1F600
  EXPECT_FALSE(accepts(v, "k", "\xc3"));              // cut short
  EXPECT_FALSE(accepts(v, "k", "\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(accepts(v, "k", "\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(accepts(v, "k", "\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(accepts(v, "k", "\xff"));              // never in UTF-8
  EXPECT_FALSE(accepts(v, "k", "seventeen bytes!!")); // above the bound
}

TEST(schema_validator, peer_id_subkeys_must_be_canonical_peer_ids) {
  record_schema s;
  s.name = "declarations";
  s.key = "avg.0b";
  s.match = key_match::prefix;
  s.subkey = subkey_rule::required;
  s.subkey_form = byte_schema::peer_id_text();
  schema_validator v{{s}};
  auto id = new_identity()->peer_id().to_string();
  EXPECT_TRUE(accepts(v, "avg.0b01", id, "x"));
  EXPECT_FALSE(accepts(v, "avg.0b01", "not a peer", "x"));
  EXPECT_FALSE(accepts(v, "avg.0b01", id + "1", "x"));
  EXPECT_FALSE(accepts(v, "avg.0b01", " " + id, "x"));
  EXPECT_FALSE(accepts(v, "avg.0b01", "x")); // the subkey is required
}

TEST(schema_validator, owner_marker_subkeys_name_exactly_one_valid_owner) {
  record_schema s;
  s.name = "owned";
  s.key = "k";
  s.subkey = subkey_rule::required;
  s.subkey_form = byte_schema::owner_marker();
  schema_validator v{{s}};
  auto a = new_identity();
  auto b = new_identity();
  EXPECT_TRUE(accepts(v, "k", marker_of(*a), "x"));
  EXPECT_TRUE(accepts(v, "k", "worker" + marker_of(*a), "x"));
  EXPECT_FALSE(accepts(v, "k", a->peer_id().to_string(), "x"));
  EXPECT_FALSE(accepts(v, "k", marker_of(*a) + marker_of(*b), "x"));
  EXPECT_FALSE(accepts(v, "k", "[owner:nonsense]", "x"));
}

TEST(schema_validator, subkey_rules_require_or_forbid_a_subkey) {
  record_schema s;
  s.name = "rules";
  s.key = "required";
  s.subkey = subkey_rule::required;
  auto forbidden = s;
  forbidden.key = "forbidden";
  forbidden.subkey = subkey_rule::forbidden;
  auto optional = s;
  optional.key = "optional";
  optional.subkey = subkey_rule::optional;
  optional.subkey_form = byte_schema::utf8(3);
  schema_validator v{{s, forbidden, optional}};
  EXPECT_TRUE(accepts(v, "required", "sk", "v"));
  EXPECT_FALSE(accepts(v, "required", "v"));
  EXPECT_TRUE(accepts(v, "forbidden", "v"));
  EXPECT_FALSE(accepts(v, "forbidden", "sk", "v"));
  EXPECT_TRUE(accepts(v, "optional", "v"));
  EXPECT_TRUE(accepts(v, "optional", "abc", "v"));
  // An optional subkey, when present, still has its form.
  EXPECT_FALSE(accepts(v, "optional", "abcd", "v"));
}

TEST(schema_validator, custom_check_sees_only_bytes_within_the_bound) {
  size_t calls = 0;
  auto s = plain_schema("k", byte_schema::checked(
                                 [&](std::string_view x) {
                                   ++calls;
                                   return x == "yes";
                                 },
                                 3));
  schema_validator v{{s}};
  EXPECT_TRUE(accepts(v, "k", "yes"));
  EXPECT_FALSE(accepts(v, "k", "no"));
  EXPECT_EQ(calls, 2u);
  EXPECT_FALSE(accepts(v, "k", "yes, long"));
  EXPECT_EQ(calls, 2u);
}

TEST(schema_validator, progress_schema_takes_bounded_training_progress) {
  schema_validator v{{optim::progress_schema("run")}};
  auto owner = marker_of(*new_identity());
  auto key = optim::progress_key("run");
  EXPECT_EQ(key, "run_progress");
  EXPECT_TRUE(accepts(v, key, owner, optim::encode(good_progress())));
  auto left = good_progress();
  left.left = true;
  EXPECT_TRUE(accepts(v, key, owner, optim::encode(left)));
  // Garbage, out-of-bounds fields, a plain value, a subkey without owner.
  EXPECT_FALSE(accepts(v, key, owner, "not a progress record"));
  EXPECT_FALSE(accepts(v, key, owner, ""));
  auto nan = good_progress();
  nan.samples_per_second = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(accepts(v, key, owner, optim::encode(nan)));
  auto absurd = good_progress();
  absurd.samples_accumulated = optim::max_progress_samples + 1;
  EXPECT_FALSE(accepts(v, key, owner, optim::encode(absurd)));
  auto past = good_progress();
  past.time = -1;
  EXPECT_FALSE(accepts(v, key, owner, optim::encode(past)));
  auto padded = optim::encode(good_progress());
  padded.resize(optim::max_progress_bytes + 1, '\0');
  EXPECT_FALSE(accepts(v, key, owner, padded));
  EXPECT_FALSE(accepts(v, key, optim::encode(good_progress())));
  EXPECT_FALSE(accepts(v, key, "peer", optim::encode(good_progress())));
  // Other runs' progress keys are not this schema's business.
  EXPECT_TRUE(accepts(v, "other_progress", "peer", "garbage"));
}

TEST(schema_validator, unknown_keys_pass_and_strict_mode_refuses_them) {
  auto s = plain_schema("known", byte_schema::any(2));
  schema_validator lenient{{s}};
  EXPECT_TRUE(accepts(lenient, "unknown", "anything at all"));
  EXPECT_TRUE(accepts(lenient, "unknown", "sk", "anything"));
  EXPECT_EQ(lenient.sign_value(dht_record{"unknown", {}, false, "v", 1}), "v");
  EXPECT_EQ(lenient.strip_value(dht_record{"unknown", {}, false, "v", 1}), "v");
  schema_validator strict{{s}, false};
  EXPECT_FALSE(accepts(strict, "unknown", "anything at all"));
  EXPECT_FALSE(accepts(strict, "knownx", "ok"));
  EXPECT_TRUE(accepts(strict, "known", "ok"));
  EXPECT_FALSE(accepts(strict, "known", "too long"));
}

TEST(schema_validator, the_most_specific_schema_of_a_key_decides) {
  auto broad = plain_schema("run", byte_schema::any());
  broad.match = key_match::prefix;
  auto narrower = plain_schema("run_grads", byte_schema::any(4));
  narrower.match = key_match::prefix;
  auto exact = plain_schema("run_grads_x", byte_schema::utf8());
  schema_validator v{{broad, narrower, exact}, false};
  EXPECT_TRUE(accepts(v, "run_other", "a long value"));
  EXPECT_TRUE(accepts(v, "run_grads.0b1", "abcd"));
  // The broad prefix would take it; the narrower one decides.
  EXPECT_FALSE(accepts(v, "run_grads.0b1", "abcde"));
  EXPECT_TRUE(accepts(v, "run_grads_x", "long text, not bounded"));
  EXPECT_FALSE(accepts(v, "run_grads_x", "\xff"));
  EXPECT_FALSE(accepts(v, "ru", "x"));
}

TEST(schema_validator, schemas_of_one_key_widen_and_same_name_replaces) {
  auto text = plain_schema("k", byte_schema::utf8(3));
  text.name = "text";
  auto big = plain_schema("k", byte_schema::any(8));
  big.name = "big";
  schema_validator both{{text, big}};
  EXPECT_TRUE(accepts(both, "k", "\xff\xff\xff\xff\xff")); // fits big
  EXPECT_FALSE(accepts(both, "k", "nine bytes"));          // fits neither
  auto text_again = plain_schema("k", byte_schema::utf8(20));
  text_again.name = "text";
  schema_validator replaced{{text, big, text_again}};
  EXPECT_EQ(replaced.schemas().size(), 2u);
  EXPECT_TRUE(accepts(replaced, "k", "nine bytes")); // the new text bound
}

TEST(schema_validator, a_chain_merges_schemas_so_strict_ones_judge_together) {
  schema_validator a{{plain_schema("a", byte_schema::any(1))}, false};
  schema_validator b{{plain_schema("b", byte_schema::any(1))}, false};
  validator_chain chain;
  chain.add(std::make_shared<schema_validator>(a));
  chain.add(std::make_shared<schema_validator>(b));
  // Unmerged, `a` would refuse b's records and `b` a's.
  EXPECT_TRUE(chain.validate(dht_record{"a", {}, false, "x", 1}));
  EXPECT_TRUE(chain.validate(dht_record{"b", {}, false, "x", 1}));
  EXPECT_FALSE(chain.validate(dht_record{"b", {}, false, "xx", 1}));
  EXPECT_FALSE(chain.validate(dht_record{"c", {}, false, "x", 1}));
  // A lenient schema merged in lets unknown keys pass again.
  chain.add(std::make_shared<schema_validator>(
      std::vector<record_schema>{plain_schema("c", byte_schema::any(1))}));
  EXPECT_TRUE(chain.validate(dht_record{"d", {}, false, "anything", 1}));
  EXPECT_FALSE(chain.validate(dht_record{"a", {}, false, "xx", 1}));
  auto merged = a.merged_with(b);
  ASSERT_TRUE(merged);
  EXPECT_EQ(dynamic_cast<const schema_validator&>(*merged).schemas().size(),
            2u);
  EXPECT_FALSE(a.merged_with(signed_record_validator{nullptr}));
}

namespace {

/// A progress schema under signatures, added in either order: the chain
/// layers them by priority, not by the order of `add`.
validator_chain signed_progress_chain(std::shared_ptr<const identity> me,
                                      bool schema_first) {
  validator_chain chain;
  auto schema = std::make_shared<schema_validator>(
      std::vector<record_schema>{optim::progress_schema("run")});
  auto signatures = std::make_shared<signed_record_validator>(std::move(me));
  if (schema_first) {
    chain.add(schema);
    chain.add(signatures);
  } else {
    chain.add(signatures);
    chain.add(schema);
  }
  return chain;
}

} // namespace

TEST(schema_validator, under_signatures_both_must_accept) {
  for (bool schema_first : {true, false}) {
    SCOPED_TRACE(schema_first ? "schema added first" : "signatures first");
    auto owner = new_identity();
    auto forger = new_identity();
    auto key = optim::progress_key("run");
    auto subkey = marker_of(*owner);
    auto payload = optim::encode(good_progress());
    auto mine = signed_progress_chain(owner, schema_first);
    auto reader = signed_progress_chain(new_identity(), schema_first);
    // Well-typed and signed by its owner: passes, reads as the payload.
    auto value = mine.sign_value(dht_record{key, subkey, true, payload, 9});
    ASSERT_NE(value, payload);
    dht_record good{key, subkey, true, value, 9};
    EXPECT_TRUE(reader.validate(good));
    EXPECT_EQ(reader.strip_value(good), payload);
    // Well-typed under a forged signature (the forger's own key).
    auto forgers = signed_progress_chain(forger, schema_first);
    auto forged = forgers.sign_value(
        dht_record{key, marker_of(*forger), true, payload, 9});
    ASSERT_TRUE(
        reader.validate(dht_record{key, marker_of(*forger), true, forged, 9}));
    EXPECT_FALSE(reader.validate(dht_record{key, subkey, true, forged, 9}));
    // Correctly signed by its owner, but not a progress record.
    auto garbage = mine.sign_value(dht_record{key, subkey, true, "garbage", 9});
    EXPECT_FALSE(reader.validate(dht_record{key, subkey, true, garbage, 9}));
    // The owner's chain signs what it refuses; its own store refuses it.
    EXPECT_FALSE(mine.validate(dht_record{key, subkey, true, garbage, 9}));
  }
}

TEST(schema_validator, the_schema_sees_the_value_without_its_signature) {
  auto owner = new_identity();
  auto key = marker_of(*owner);
  // Exactly the payload's size: the signed value is far longer.
  validator_chain chain;
  chain.add(std::make_shared<signed_record_validator>(owner));
  chain.add(std::make_shared<schema_validator>(
      std::vector<record_schema>{plain_schema(
          key, byte_schema::checked(
                   [](std::string_view v) { return v == "body"; }, 4))}));
  auto value = chain.sign_value(dht_record{key, {}, false, "body", 5});
  ASSERT_GT(value.size(), 4u);
  EXPECT_TRUE(chain.validate(dht_record{key, {}, false, value, 5}));
  EXPECT_EQ(chain.strip_value(dht_record{key, {}, false, value, 5}), "body");
}
