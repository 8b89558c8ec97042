// Fuzz target: the frame decoder. Input: byte 0 chooses the chunking, the
// rest is a raw stream as a peer sends it (frames in Cap'n Proto stream
// framing). The stream goes through frame_reader twice: in the exact reads
// the transport makes (consume) and in arbitrary chunks (feed); both must
// agree. Each frame is then read as the transport reads a wire::Frame.

#include "fuzz_target.hpp"

#include "messages/error.hpp"
#include "messages/wire.capnp.h"
#include "runtime/transport/frame_reader.hpp"
#include "runtime/transport/sealed_stream.hpp"

#include <capnp/any.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <string>

namespace colony::fuzz {

namespace {

/// Small, so that frames claiming more are common; larger than the seeds.
constexpr size_t max_frame_bytes = 64 << 10;

/// Bodies are read as the services read them, with the transport's limits.
void read_body(const envelope& body) {
  if (check_flat_message(body.data(), body.size(), max_frame_bytes))
    return;
  count("body read");
  capnp::FlatArrayMessageReader reader{body.words(), reader_limits{}.options()};
  auto root = reader.getRoot<capnp::AnyStruct>();
  (void)root.getDataSection().size();
  (void)root.getPointerSection().size();
}

/// A body as the transport hands it on: a view into the frame's buffer
/// (transport.cpp, `slice`).
envelope slice(const received_frame& frame, capnp::Data::Reader data) {
  return envelope::view(frame.buffer, data.begin(), data.size());
}

/// Reads every field the transport reads (transport.cpp, `on_frame`,
/// `on_handshake_frame`, `on_call_frame`).
void read_frame(const received_frame& frame) {
  capnp::SegmentArrayMessageReader reader(
      kj::arrayPtr(frame.segments.data(), frame.segments.size()),
      reader_limits{}.options());
  auto root = reader.getRoot<wire::Frame>();
  std::string text;
  switch (root.which()) {
  case wire::Frame::HELLO: {
    auto hello = root.getHello();
    (void)hello.getProtocolVersion();
    text = hello.getSwarmId();
    (void)hello.getPublicKey().size();
    (void)hello.getNonce().size();
    (void)hello.getListenPort();
    break;
  }
  case wire::Frame::PROOF:
    (void)root.getProof().getSignature().size();
    break;
  case wire::Frame::REQUEST: {
    auto req = root.getRequest();
    (void)req.getCallId();
    text = req.getService();
    (void)req.getTimeoutMs();
    auto body = req.getBody();
    if (body.size() == req.getTotalBytes())
      read_body(slice(frame, body));
    break;
  }
  case wire::Frame::RESPONSE: {
    auto resp = root.getResponse();
    (void)resp.getCallId();
    auto body = resp.getBody();
    if (body.size() == resp.getTotalBytes())
      read_body(slice(frame, body));
    break;
  }
  case wire::Frame::PART: {
    auto part = root.getPart();
    (void)part.getCallId();
    (void)part.getIsResponse();
    auto data = part.getData();
    text.assign(reinterpret_cast<const char*>(data.begin()), data.size());
    break;
  }
  case wire::Frame::ERROR: {
    auto e = root.getError();
    (void)e.getCallId();
    (void)e.getHasCallId();
    (void)e.getCode();
    text = e.getMessage();
    break;
  }
  case wire::Frame::CANCEL:
    (void)root.getCancel().getCallId();
    break;
  case wire::Frame::HEARTBEAT:
    (void)root.getHeartbeat().getSentAtNs();
    (void)root.getHeartbeat().getIsReply();
    break;
  case wire::Frame::GOODBYE:
    text = root.getGoodbye().getReason().cStr();
    break;
  default:
    break; // a newer sender's frame: the transport refuses it
  }
}

struct outcome {
  std::vector<bytes> frames; ///< each frame's segments, concatenated
  bool failed = false;
  uint8_t code = 0;
};

void add_frame(outcome& out, const received_frame& f) {
  bytes b;
  for (auto seg : f.segments) {
    auto* p = reinterpret_cast<const uint8_t*>(seg.begin());
    b.insert(b.end(), p, p + seg.size() * sizeof(capnp::word));
  }
  FUZZ_CHECK(b.size() == f.size());
  out.frames.push_back(std::move(b));
  try {
    read_frame(f);
    count("frame read");
  } catch (const kj::Exception&) {
    count("frame undecodable"); // refused at the edge, as by the transport
  }
}

/// Exact reads, as the transport asks CAF for them.
outcome by_exact_reads(const uint8_t* data, size_t size) {
  outcome out;
  frame_reader reader{max_frame_bytes};
  size_t pos = 0;
  for (;;) {
    auto want = reader.next_read_size();
    FUZZ_CHECK(want > 0 && want <= max_frame_bytes);
    if (size - pos < want)
      return out; // the peer went quiet mid-frame
    std::vector<char> buf(data + pos, data + pos + want);
    pos += want;
    auto res = reader.consume(buf);
    if (!res) {
      FUZZ_CHECK(res.error().category() == colony_error_category);
      out.failed = true;
      out.code = res.error().code();
      return out;
    }
    if (*res)
      add_frame(out, **res);
  }
}

/// Arbitrary chunks through `feed`, sizes drawn from `chunking`.
outcome by_chunks(const uint8_t* data, size_t size, uint8_t chunking) {
  outcome out;
  frame_reader reader{max_frame_bytes};
  uint32_t state = chunking * 2654435761u + 1;
  size_t pos = 0;
  while (pos < size) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    size_t n = chunking == 0 ? size - pos : 1 + state % 23;
    n = std::min(n, size - pos);
    auto res = reader.feed(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    if (!res) {
      FUZZ_CHECK(res.error().category() == colony_error_category);
      out.failed = true;
      out.code = res.error().code();
      return out;
    }
    for (auto& f : *res)
      add_frame(out, f);
  }
  return out;
}

/// The input as an authenticated peer of a sealed stream sends it: sealed
/// as one record with the session key, so the bytes that reach the frame
/// decoder after the tag check are the fuzzer's (transport.cpp, `on_data`
/// with an opener).
void through_sealed_record(const uint8_t* data, size_t size) {
  session_key key{};
  key[0] = 7;
  auto sealer = frame_cipher::make(cipher_suite::chacha20_poly1305, key,
                                   frame_cipher::direction::seal);
  auto opener = frame_cipher::make(cipher_suite::chacha20_poly1305, key,
                                   frame_cipher::direction::open);
  FUZZ_CHECK(sealer && opener);
  std::vector<char> record(sealed_stream::header_bytes);
  record.insert(record.end(), data, data + size);
  FUZZ_CHECK(sealed_stream::seal(*sealer, record, 0));
  sealed_reader reader{std::move(*opener), max_frame_bytes};
  size_t pos = 0;
  while (pos + reader.next_read_size() <= record.size()) {
    std::vector<char> chunk(record.begin() + pos,
                            record.begin() + pos + reader.next_read_size());
    pos += chunk.size();
    auto res = reader.consume(chunk);
    if (!res) {
      count("sealed: refused");
      return;
    }
    if (*res) {
      count("sealed: frame");
      try {
        read_frame(**res);
      } catch (const kj::Exception&) {
        count("sealed: frame undecodable");
      }
      return;
    }
  }
}

} // namespace

std::vector<bytes> seeds() {
  std::vector<bytes> out;
  bytes stream;
  auto add = [&](capnp::MessageBuilder& msg) {
    auto frame = frame_bytes(msg);
    bytes one{7}; // chunking byte
    one.insert(one.end(), frame.begin(), frame.end());
    out.push_back(std::move(one));
    stream.insert(stream.end(), frame.begin(), frame.end());
  };
  {
    capnp::MallocMessageBuilder msg;
    auto hello = msg.initRoot<wire::Frame>().initHello();
    hello.setProtocolVersion(wire::PROTOCOL_VERSION);
    hello.setSwarmId("colony");
    hello.initPublicKey(32);
    hello.initNonce(32);
    hello.setListenPort(4000);
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<wire::Frame>().initProof().initSignature(64);
    add(msg);
  }
  {
    // A request whose body is a flat message, as services get it.
    capnp::MallocMessageBuilder body;
    auto inner = body.initRoot<wire::Frame>().initGoodbye();
    inner.setReason("inner");
    auto flat = flat_bytes(body);
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<wire::Frame>().initRequest();
    req.setCallId(42);
    req.setService("expert/ffn.0.1/forward");
    req.setTimeoutMs(1000);
    req.setTotalBytes(flat.size());
    req.setBody(kj::arrayPtr(flat.data(), flat.size()));
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto resp = msg.initRoot<wire::Frame>().initResponse();
    resp.setCallId(42);
    resp.setTotalBytes(100);
    resp.initBody(40);
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto part = msg.initRoot<wire::Frame>().initPart();
    part.setCallId(42);
    part.setIsResponse(true);
    part.initData(60);
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto e = msg.initRoot<wire::Frame>().initError();
    e.setCallId(3);
    e.setHasCallId(true);
    e.setCode(wire::ErrorCode::TOO_LARGE);
    e.setMessage("boom");
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<wire::Frame>().initCancel().setCallId(9);
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto hb = msg.initRoot<wire::Frame>().initHeartbeat();
    hb.setSentAtNs(123456789);
    add(msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<wire::Frame>().initGoodbye().setReason("idle");
    add(msg);
  }
  {
    // Several segments: a tiny first segment forces the rest elsewhere.
    capnp::MallocMessageBuilder msg{1, capnp::AllocationStrategy::FIXED_SIZE};
    auto req = msg.initRoot<wire::Frame>().initRequest();
    req.setService("dht");
    req.initBody(24);
    req.setTotalBytes(24);
    add(msg);
  }
  for (uint8_t chunking : {0, 1, 200}) {
    bytes all{chunking};
    all.insert(all.end(), stream.begin(), stream.end());
    out.push_back(std::move(all));
  }
  return out;
}

void run_one(const uint8_t* data, size_t size) {
  if (size == 0)
    return;
  auto exact = by_exact_reads(data + 1, size - 1);
  auto chunked = by_chunks(data + 1, size - 1, data[0]);
  // feed() drops the frames completed before an error; exact reads keep them.
  FUZZ_CHECK(exact.failed == chunked.failed);
  FUZZ_CHECK(exact.code == chunked.code);
  if (!exact.failed)
    FUZZ_CHECK(exact.frames == chunked.frames);
  count(exact.failed ? "stream: framing error" : "stream: framing ok");
  through_sealed_record(data + 1, size - 1);
}

} // namespace colony::fuzz
