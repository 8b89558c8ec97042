@0x85fae9bbea39ced7;
# colony's wire: every frame between two nodes is one `Frame` message in
# Cap'n Proto's standard stream framing (segment table, then segments).
# A receiver checks the segment table against its max_frame_bytes before it
# allocates anything. Any Cap'n Proto implementation can speak this wire.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

const protocolVersion :UInt32 = 2;

struct Frame {
  union {
    hello @0 :Hello;
    proof @1 :Proof;
    request @2 :Request;
    response @3 :Response;
    part @4 :Part;
    error @5 :RemoteError;
    cancel @6 :Cancel;
    heartbeat @7 :Heartbeat;
    goodbye @8 :Goodbye;
  }
}

# First frame of each side of a new connection. Sent in clear; every field
# that matters is bound to the sender's identity by its Proof.
struct Hello {
  protocolVersion @0 :UInt32;
  swarmId @1 :Text;        # peers of different swarms refuse each other
  publicKey @2 :Data;      # Ed25519, 32 bytes; the peer id derives from it
  nonce @3 :Data;          # 32 fresh random bytes the other side must sign
  listenPort @4 :UInt16;   # where the sender accepts connections; 0 = none
  kxPublicKey @5 :Data;    # X25519, 32 bytes, fresh for this connection
  plaintext @6 :Bool;      # the sender has transport.encryption = false;
                           # both must say so, or the connection is refused
  ciphers @7 :UInt8;       # bit 0: ChaCha20-Poly1305, bit 1: AES-256-GCM
                           # (hardware AES); AES-GCM if both have it
  accessToken @8 :AccessToken;  # the sender's, when the swarm has an authority
}

# Second frame of each side: proves possession of the Hello's key.
# signature = Ed25519 over "colony-handshake-v2" ++ receiver's nonce ++
# sender's public key ++ swarm id ++ sender's kxPublicKey ++
# [plaintext ? 1 : 0, ciphers].
# Unless both sides sent plaintext, every later frame of each direction is
# sealed: [u32 LE n][n bytes ciphertext][16-byte tag], the AEAD keyed by
# libsodium's crypto_kx session keys (the dialer is the client) with the
# record's length word as associated data and a 12-byte nonce counting the
# direction's records from 0 (little-endian in its first 8 bytes).
struct Proof {
  signature @0 :Data;
}

# A swarm authority's permission for one peer to join until a time.
# signature = the authority's Ed25519 over "colony-access-token-v1" ++
# peerId ++ expiresAt (8 bytes, little-endian).
struct AccessToken {
  peerId @0 :Data;         # the holder's peer id, binary form (38 bytes)
  expiresAt @1 :Int64;     # unix seconds
  signature @2 :Data;      # 64 bytes
}

# A call. Bodies above the sender's part size travel as this frame (first
# part) followed by `Part` frames of the same call id, in order.
struct Request {
  callId @0 :UInt64;       # chosen by the caller, unique per connection side
  service @1 :Text;        # e.g. "ping", "dht", "expert/ffn.0.3"
  timeoutMs @2 :UInt32;    # time the caller will wait; the server may drop late work
  totalBytes @3 :UInt64;   # size of the whole body
  body @4 :Data;           # first part of the body (a flat Cap'n Proto message)
}

struct Response {
  callId @0 :UInt64;
  totalBytes @1 :UInt64;
  body @2 :Data;
}

# A further part of a request or response body.
struct Part {
  callId @0 :UInt64;
  isResponse @1 :Bool;
  data @2 :Data;
}

enum ErrorCode {
  unknown @0;
  unknownDtype @1;
  badShape @2;
  tooLarge @3;
  malformed @4;
  unsupportedCodec @5;
  unknownService @6;
  timeout @7;
  cancelled @8;
  disconnected @9;
  handshakeFailed @10;
  remoteError @11;
  badConfig @12;
  ioError @13;
  unreachable @14;
  invalidArgument @15;
  overloaded @16;
}

# The call failed on the server (or the frame that carried it was refused).
struct RemoteError {
  callId @0 :UInt64;
  hasCallId @1 :Bool;      # false: a connection-level complaint
  code @2 :ErrorCode;
  message @3 :Text;        # the server's words, shown to the caller
}

# The caller no longer wants the answer to `callId`.
struct Cancel {
  callId @0 :UInt64;
}

# Sent on idle connections; a peer silent past its timeout is dropped.
struct Heartbeat {
  sentAtNs @0 :UInt64;
  isReply @1 :Bool;
}

# The sender closes the connection on purpose and says why.
struct Goodbye {
  reason @0 :Text;
}
