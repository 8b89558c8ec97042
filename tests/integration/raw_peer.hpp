#pragma once

// A hand-driven peer for bad-input tests: a plain socket that can speak
// colony's framing and handshake correctly, or break them on purpose.

#include "messages/wire.capnp.h"
#include "runtime/identity.hpp"
#include "runtime/peer_address.hpp"
#include "runtime/transport/frame_reader.hpp"
#include "runtime/transport/frame_writer.hpp"
#include "runtime/transport/handshake.hpp"
#include "runtime/transport/sealed_stream.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace colony::testing {

class raw_peer {
 public:
  explicit raw_peer(const std::string& address)
      : me_(*identity::generate()), reader_(64 << 20) {
    auto addr = *peer_address::parse(address);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(addr.port);
    ::inet_pton(AF_INET, addr.host.c_str(), &sa.sin_addr);
    connected_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  ~raw_peer() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  bool connected() const { return connected_; }

  void send_bytes(const void* data, size_t n) {
    ::send(fd_, data, n, MSG_NOSIGNAL);
  }

  /// Sends `msg` as a frame, sealed once the handshake made the stream
  /// encrypted (as a node does).
  void send_frame(capnp::MessageBuilder& msg) {
    std::vector<char> out;
    if (sealer_)
      out.resize(sealed_stream::header_bytes);
    write_frame(msg, [&](const void* p, size_t n) {
      auto* c = static_cast<const char*>(p);
      out.insert(out.end(), c, c + n);
    });
    if (sealer_)
      (void)sealed_stream::seal(*sealer_, out, 0);
    send_bytes(out.data(), out.size());
  }

  /// Whether the stream is sealed (both ends encrypt).
  bool sealed() const { return sealer_.has_value(); }

  /// Reads frames until one arrives or `timeout`; nullopt on EOF/timeout.
  std::optional<received_frame> next_frame(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (pending_.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0 || eof_)
        return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char buf[65536];
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      if (!feed(buf, static_cast<size_t>(n)))
        return std::nullopt;
    }
    auto f = std::move(pending_.front());
    pending_.erase(pending_.begin());
    return f;
  }

  /// True if the node closes the connection within `timeout` (frames it
  /// sends before closing are collected in `seen`).
  bool closed_within(std::chrono::milliseconds timeout,
                     std::vector<std::string>* seen = nullptr) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto f = next_frame(std::chrono::milliseconds(50));
      if (f && seen)
        seen->push_back(describe_frame(*f));
      if (eof_)
        return true;
    }
    return false;
  }

  /// Runs the handshake; if `forge` the proof carries a wrong signature.
  bool handshake_with_node(const std::string& swarm, bool forge = false) {
    hs_ = std::make_unique<handshake>(me_, swarm, 0, std::nullopt);
    capnp::MallocMessageBuilder hello;
    hs_->write_hello(hello.initRoot<wire::Frame>().initHello());
    send_frame(hello);
    auto theirs = next_frame(std::chrono::seconds(5));
    if (!theirs)
      return false;
    {
      capnp::SegmentArrayMessageReader r(
          kj::arrayPtr(theirs->segments.data(), theirs->segments.size()));
      if (hs_->read_hello(r.getRoot<wire::Frame>().getHello()))
        return false;
    }
    if (!session_ready())
      return false;
    capnp::MallocMessageBuilder proof;
    auto p = proof.initRoot<wire::Frame>().initProof();
    hs_->write_proof(p);
    if (forge)
      p.getSignature()[5] ^= 0x40;
    send_frame(proof);
    if (auto& keys = hs_->session())
      sealer_.emplace(std::move(*frame_cipher::make(
          keys->suite, keys->seal, frame_cipher::direction::seal)));
    if (forge)
      return true;
    auto their_proof = next_frame(std::chrono::seconds(5));
    if (!their_proof)
      return false;
    capnp::SegmentArrayMessageReader r(kj::arrayPtr(
        their_proof->segments.data(), their_proof->segments.size()));
    return !hs_->read_proof(r.getRoot<wire::Frame>().getProof());
  }

  /// One line describing a frame: "error <code> <text>", "response <id>"...
  static std::string describe_frame(const received_frame& f) {
    capnp::SegmentArrayMessageReader r(
        kj::arrayPtr(f.segments.data(), f.segments.size()));
    auto root = r.getRoot<wire::Frame>();
    switch (root.which()) {
    case wire::Frame::ERROR:
      return "error " + std::to_string(root.getError().getCallId()) + " " +
             std::to_string(static_cast<int>(root.getError().getCode())) + " " +
             root.getError().getMessage().cStr();
    case wire::Frame::RESPONSE:
      return "response " + std::to_string(root.getResponse().getCallId());
    case wire::Frame::GOODBYE:
      return std::string("goodbye ") + root.getGoodbye().getReason().cStr();
    case wire::Frame::HEARTBEAT:
      return "heartbeat";
    default:
      return "frame " + std::to_string(static_cast<int>(root.which()));
    }
  }

 private:
  identity me_;
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  frame_reader reader_;
  std::vector<received_frame> pending_;
  std::unique_ptr<handshake> hs_;
  std::optional<frame_cipher> sealer_;
  std::optional<sealed_reader> opener_;
  std::vector<char> partial_; ///< a sealed record being read
  bool proof_seen_ = false;   ///< their Proof arrived
  std::vector<char>
      after_proof_; ///< bytes after it, before their Hello was read

  /// Parses received bytes into frames: plain frames up to the node's
  /// Proof, sealed records after it when the stream is encrypted. False on
  /// a broken stream.
  bool feed(const char* data, size_t n) {
    while (n > 0) {
      if (!opener_) {
        // Byte by byte: the bytes after the node's Proof are sealed records
        // and must not be parsed as plain frames.
        auto frames = reader_.feed(data, 1);
        if (!frames)
          return false;
        ++data;
        --n;
        bool proof = false;
        for (auto& f : *frames) {
          proof = proof || is_proof(f);
          pending_.push_back(std::move(f));
        }
        if (proof) {
          proof_seen_ = true;
          if (hs_ && hs_->session()) {
            open_sealed();
          } else {
            // Their Hello is not read yet, so the keys are unknown: what
            // follows waits until it is (their Hello and Proof can arrive
            // in one read).
            after_proof_.assign(data, data + n);
            return true;
          }
        }
        continue;
      }
      auto want = opener_->next_read_size();
      auto take = std::min(n, want - partial_.size());
      partial_.insert(partial_.end(), data, data + take);
      data += take;
      n -= take;
      if (partial_.size() == want) {
        auto res = opener_->consume(partial_);
        partial_.clear();
        if (!res)
          return false;
        if (*res)
          pending_.push_back(std::move(**res));
      }
    }
    return true;
  }

  void open_sealed() {
    opener_.emplace(std::move(*frame_cipher::make(
                        hs_->session()->suite, hs_->session()->open,
                        frame_cipher::direction::open)),
                    64 << 20);
  }

  /// Called once their Hello is read: reads what followed their Proof.
  bool session_ready() {
    if (!proof_seen_ || opener_ || !hs_->session())
      return true;
    open_sealed();
    auto rest = std::move(after_proof_);
    after_proof_.clear();
    return feed(rest.data(), rest.size());
  }

  static bool is_proof(const received_frame& f) {
    capnp::SegmentArrayMessageReader r(
        kj::arrayPtr(f.segments.data(), f.segments.size()));
    return r.getRoot<wire::Frame>().which() == wire::Frame::PROOF;
  }
};

} // namespace colony::testing
