#pragma once

// What each fuzz target (one .cpp per decoder in tests/fuzz/) defines, and
// helpers they share. fuzz_main.cpp turns a target into libFuzzer's entry
// points; fuzz_driver.cpp adds a mutation driver for builds without
// libFuzzer (g++, CI). docs/fuzzing.md says how to run them.

#include "messages/envelope.hpp"
#include "runtime/transport/frame_writer.hpp"

#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace colony::fuzz {

using bytes = std::vector<uint8_t>;

/// Valid inputs built in code (with colony's own encoders), so that
/// mutation starts deep inside the decoder instead of at its first check.
std::vector<bytes> seeds();

/// Decodes one input the way colony does with bytes from a peer. Returns
/// for every input the decoder handles, decoded or refused with a typed
/// error; anything else (a crash, a sanitizer report, an exception escaping
/// the decoder, a failed FUZZ_CHECK) is a finding.
void run_one(const uint8_t* data, size_t size);

/// Reports a broken invariant and aborts, so both engines keep the input.
[[noreturn]] inline void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
  std::abort();
}

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond))                                                               \
      ::colony::fuzz::fail(__FILE__, __LINE__, #cond);                         \
  } while (false)

/// Counts an outcome of an input (e.g. "established"); both engines print
/// the counts at exit, which shows how deep the inputs reach.
inline std::map<std::string, uint64_t>& outcomes() {
  // Never destroyed: printed by an exit handler registered before it.
  static auto* counts = new std::map<std::string, uint64_t>;
  return *counts;
}

inline void count(const char* outcome) {
  ++outcomes()[outcome];
}

/// `message` in stream framing, as the transport writes a frame.
inline bytes frame_bytes(capnp::MessageBuilder& message) {
  bytes out;
  write_frame(message, [&](const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    out.insert(out.end(), c, c + n);
  });
  return out;
}

/// `message` in flat form (segment table, then segments), as a body or an
/// envelope holds it.
inline bytes flat_bytes(capnp::MessageBuilder& message) {
  auto env = to_envelope(message);
  auto* p = reinterpret_cast<const uint8_t*>(env.data());
  return bytes(p, p + env.size());
}

/// An envelope owning a copy of the input: a fresh, word-aligned buffer of
/// exactly its size, so ASan sees any read past the message.
inline envelope envelope_of(const uint8_t* data, size_t size) {
  return envelope{std::vector<char>(data, data + size)};
}

} // namespace colony::fuzz
