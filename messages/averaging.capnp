@0xc599fb7634f76465;
# Decentralized averaging on colony's wire (actors/averaging): matchmaking
# through DHT group keys, butterfly all-reduce in parts, state download.
# Served under the transport service name `averager/<prefix>`.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

using import "tensor.capnp".Tensor;

# ---------------------------------------------------------------------------
# Matchmaking
# ---------------------------------------------------------------------------

# Averagers that look for a group declare themselves in the DHT under the
# group key `{prefix}.0b{group bits}`, subkey = their base58 peer id, value =
# a GroupDeclaration, expiring at their scheduled time T. Withdrawing stores
# `looking = false` with a slightly later expiration. A peer asks a declared
# peer to lead with `join`; once accepted it `awaitGroup`s the outcome (a
# call, so that client-mode peers, which cannot be called, learn it too).
# Limits: actors/averaging/matchmaking_codec.hpp and group_info.hpp.

struct GroupDeclaration {
  looking @0 :Bool;           # false: withdrawn
  address @1 :Text;           # HOST:PORT where the averager listens
}

enum PeerMode {
  node @0;                    # sends tensors and reduces a span
  client @1;                  # sends tensors; cannot be called, reduces none
  auxiliary @2;               # reduces a span; sends no tensors
}

struct PeerContact {
  peerId @0 :Text;            # base58 peer id
  address @1 :Text;           # HOST:PORT; empty in client mode
}

# What an averager's matchmaking serves. The caller's peer id is the one its
# transport authenticated; messages do not repeat it.
struct MatchmakingRequest {
  union {
    join @0 :JoinRequest;     # reply: JoinResponse
    awaitGroup @1 :Text;      # the group key; reply: LeaderMessage, sent
                              # when the callee assembles or disbands
    leave @2 :Text;           # the group key; the caller no longer follows
                              # the callee; reply: an empty MatchmakingAck
  }
}

struct JoinRequest {
  address @0 :Text;           # where the requester listens; empty in client mode
  schemaHash @1 :Data;        # identifies the averaged tensors
  groupKey @2 :Text;
  expiration @3 :Float64;     # the requester's scheduled time T (DHT time, s)
  mode @4 :PeerMode;
  bandwidth @5 :Float64;      # NaN: not stated
  gathered @6 :Data;          # the requester's bytes to gather, opaque
}

enum RefusalReason {
  notLookingForGroup @0;
  notDeclared @1;             # the callee cannot lead (client mode)
  badSchemaHash @2;
  badGroupKey @3;
  laterExpiration @4;         # the callee expires later: the caller leads
  notALeader @5;              # the callee follows suggestedLeader
  duplicatePeer @6;
  groupFull @7;
}

struct JoinResponse {
  union {
    accepted @0 :Void;
    refused @1 :RefusalReason;
  }
  suggestedLeader @2 :PeerContact;  # set only with notALeader
}

struct GroupMember {
  peer @0 :PeerContact;
  gathered @1 :Data;
  bandwidth @2 :Float64;      # NaN: not stated
  mode @3 :PeerMode;
}

# The leader's word to an accepted follower.
struct LeaderMessage {
  union {
    beginAllReduce @0 :BeginAllReduce;
    disbanded @1 :Disbanded;
  }
}

struct BeginAllReduce {
  groupId @0 :Data;           # 16 random bytes; seeds the next group bits
  members @1 :List(GroupMember); # the leader's shuffled order, leader included
}

struct Disbanded {
  suggestedLeader @0 :PeerContact;  # unset: ask the next candidate
}

struct MatchmakingAck {}

# ---------------------------------------------------------------------------
# All-reduce
# ---------------------------------------------------------------------------

# A round's flat vector (the averaged tensors' elements one after another,
# each row-major) is split into one contiguous span per member, and each span
# into parts of at most `part_size_bytes` encoded bytes that never mix dtypes
# or codecs. Every member derives the same spans and parts from the group's
# tensor schema, the partition, the part size and the compression policy
# (the rule: actors/averaging/tensor_parts.hpp), so a part is named by its
# index within the reducer's span alone. A sender calls the reducer once per
# part, in order; the reducer answers each call when that part is averaged.

# A call from a sender to the reducer of a span.
struct AllReduceRequest {
  groupId @0 :Data;          # the round's group id (from begin-all-reduce)
  sender @1 :UInt32;         # the sender's index in the group's member list;
                             # the reducer checks it against the caller's peer id
  union {
    part @2 :AllReducePart;
    abort @3 :Text;          # the sender stops contributing from its next part
                             # on (why); the reducer excludes it at once
  }
}

# One part of the sender's copy of the reducer's span.
struct AllReducePart {
  partIndex @0 :UInt32;      # within the reducer's span, from 0, in order
  weight @1 :Float64;        # the sender's weight in this step: finite, >= 0
  values @2 :Tensor;         # 1-D, the part's numel and dtype, the part's codec
}

# Why a reducer did not count a part, or could not average it. A sender that
# gets one keeps its local values for that part.
enum PartRefusalReason {
  timeout @0;      # the sender was silent past the reducer's sender timeout
  failed @1;       # the sender's call failed or it aborted
  wrongSize @2;    # values of another numel, shape or dtype than the part's
  wrongGroup @3;   # a group id other than the round's
  nonFinite @4;    # NaN or infinity among the values
  outOfOrder @5;   # not the next part the reducer expected from the sender
  badWeight @6;    # negative or non-finite weight
  notASender @7;   # not a member that contributes tensors (e.g. auxiliary)
  notAveraged @8;  # the part got no average (every weight was 0)
}

# The reducer's answer to an AllReducePart. After timeout, failed, wrongSize,
# wrongGroup, nonFinite, outOfOrder or badWeight, the sender is excluded from
# that part on: its later parts are refused with the same reason.
struct AllReduceReply {
  partIndex @0 :UInt32;
  union {
    delta @1 :PartDelta;
    refused @2 :PartRefusal;
  }
}

struct PartDelta {
  values @0 :Tensor;           # average - what this sender sent: 1-D, the
                               # part's numel and dtype, the part's codec
  contributors @1 :List(UInt32); # members the average counts, ascending
}

struct PartRefusal {
  reason @0 :PartRefusalReason;
  message @1 :Text;            # details for the sender's log
}

# ---------------------------------------------------------------------------
# State download
# ---------------------------------------------------------------------------

# A peer that shares its state (`allow_state_sharing`) declares itself in the
# DHT under `{prefix}.all_averagers`, subkey = its base58 peer id, value = a
# StateDeclaration, expiring about two declaration periods later and stored
# again every period. Withdrawing stores `sharing = false` with a slightly
# later expiration. A downloader asks the sharing peers in order of priority
# (highest first, ties in random order) and ignores values that do not
# decode. Limits: actors/averaging/state_declaration.hpp.

struct StateDeclaration {
  sharing @0 :Bool;            # false: withdrawn
  address @1 :Text;            # HOST:PORT where the state is served
  priority @2 :Float64;        # finite; higher is asked first
}

# A sharing peer serves its state under `averager/<prefix>/state` in parts
# that the downloader pulls, several at a time: the first request names no
# snapshot; the server freezes a snapshot of its metadata and tensors, names
# it in every reply, and the downloader repeats the name in its later
# requests, so that every part comes from the same snapshot. A server keeps
# a few recent snapshots and drops idle ones; one that no longer holds the
# named snapshot answers with an error, and the downloader then starts over
# with another peer.

using import "tensor.capnp".DType;

struct StateRequest {
  snapshot @0 :UInt64;         # 0: start a new download (partIndex 0)
  partIndex @1 :UInt32;
}

# The dtype and shape of one state tensor.
struct StateTensorInfo {
  dtype @0 :DType;
  shape @1 :List(Int64);
}

# A run of consecutive elements of one state tensor (row-major order).
struct StateChunk {
  tensorIndex @0 :UInt32;
  offset @1 :UInt64;           # index of the chunk's first element
  values @2 :Tensor;           # 1-D, the tensor's dtype, any codec that
                               # applies to it (`state_compression`)
}

struct StatePart {
  snapshot @0 :UInt64;         # nonzero
  partIndex @1 :UInt32;
  partCount @2 :UInt32;        # the same in every part of a snapshot
  metadata @3 :Data;           # part 0 only: the owner's opaque metadata
  tensors @4 :List(StateTensorInfo); # part 0 only: every state tensor
  chunks @5 :List(StateChunk); # disjoint; together the parts cover every
                               # element of every tensor exactly once
}
