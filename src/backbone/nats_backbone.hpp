#pragma once
// The NATS backbone: the Backbone (backbone.hpp) on a nats-server with JetStream, through libnats
// (Debian libnats 3.4.1, nats-server 2.9.10). docs/decisions/0001-nats-client-integration.md says
// why it is built this way, with the figures measured here.
//
// Bus: core NATS. publish() is natsConnection_Publish; subscribe() is one async subscription per
// call (a queue subscription for a group), delivered by libnats's global delivery pool, never a
// thread per subscription; request() publishes with a reply subject under ONE wildcard inbox
// subscription per backbone, with its own timer thread for timeouts, and reads NATS 2.9's
// "no responders" status as Errc::unavailable. subscribe() returns before the server has the
// subscription: this backbone's own later publishes reach it (one connection, in order), but
// another node's may not until a round trip later (a flush would block the caller).
// Key-value: one JetStream KV bucket (created if absent with History 64, file storage, the given
// replicas). Writes are JetStream publishes on "$KV.<bucket>.<key>" with expected-last-subject-
// sequence headers (create, update, delete with a revision); reads are direct gets (the last
// message on the key's subject). Revisions are the bucket stream's sequence numbers, so they
// increase across the bucket. The asynchronous get/put/create/update are pipelined: a message
// with a reply subject of the shared inbox, the answer parsed on the libnats thread and posted,
// so thousands can be in flight; delete, refresh, list and a create over a deletion marker take
// several round trips and run as tasks on a few worker threads doing blocking libnats calls. No
// caller thread ever waits on the network: there is no synchronous KV form (backbone.hpp).
// kv_watch is an ephemeral JetStream push consumer (no acks, memory storage; the last message
// per key, then every new one; not libnats's "ordered" kind, see Reconnects) with an async
// callback; the initial values are gathered until the consumer reports nothing pending,
// sorted by key, then delivered; later changes follow in order. A watch more than `history`
// writes of one key behind the writers misses the oldest of them (JetStream no longer has them).
// Direct gets may be answered by any replica of an R3 bucket, so a get right after a write may
// (rarely) see the previous revision; an update with it then fails with conflict (re-read).
// Per-key TTL: NOT supported. 2.9.10 KV has only a bucket-wide max age and does not tell watchers
// about expiry, so a non-zero ttl is Errc::invalid_argument (kv_refresh with 0 only checks the key
// exists). Liveness uses heartbeats on core subjects (issue 7 §3), not expiring keys.
// Reconnects: libnats reconnects (every reconnect_wait, to any server of the list, forever) and
// re-sends core subscriptions itself; on every reconnect the backbone re-creates each watch from
// the revision after the last one it delivered (no gap, no duplicate: events delivered twice are
// dropped by revision). libnats 3.4.1's ordered consumers also reset themselves on a reconnect,
// on threads of their own that raced this re-creation and the connection's close (a
// use-after-free, a leaked connection: start_watch), so watches do not use them. A watch's old or
// unsubscribed consumer is dropped with natsSubscription_Destroy only, not deleted by a round trip
// (nats_backbone_impl.hpp); the server removes it once nobody listens. When the connection
// drops, requests and pipelined KV calls in flight end with Errc::unavailable (a write's outcome
// is then unknown);
// while disconnected, request() and KV calls fail at once with Errc::unavailable; publish() is
// buffered by libnats (8 MB) and sent on reconnect, Errc::unavailable once that buffer is full.
// Threading: every method from any thread. libnats threads (delivery pool, connection callbacks)
// only copy a message and post it to the caller's executor, or queue a task for the workers.
// Known deviation: an update whose expected revision is that of a deletion marker succeeds
// (inproc answers conflict); revisions of deletions reach callers only through watch events.
// Destruction: stops the workers and timer (queued KV tasks are dropped uncalled, outstanding
// requests and KV calls are abandoned), unsubscribes everything and closes the connection.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "backbone/backbone.hpp"

namespace sb::backbone {

struct NatsOptions {
  std::vector<std::string> servers = {"nats://127.0.0.1:4222"};  // any of them (shuffled)
  std::string bucket = "switchboard";                            // JetStream KV bucket
  int replicas = 1;                                              // bucket replicas (R3: 3)
  // Revisions kept per key when the bucket is created (NATS allows 1..64). A watch that lags
  // behind the writers can only deliver revisions still stored: with 1, a key overwritten before
  // its change was pushed was skipped (a gap; measured: ~1 run in 12 of the contract suite).
  int history = 64;
  std::chrono::milliseconds connect_timeout{2000};               // first connection, start-up
  std::chrono::milliseconds op_timeout{2000};                    // each KV operation
  std::chrono::milliseconds reconnect_wait{250};                 // between reconnect attempts
  std::string name = "switchboard";                              // connection name (node name)
  std::size_t kv_workers = 4;   // threads for delete, refresh, list (blocking calls)
  bool send_asap = true;        // natsOptions_SetSendAsap: no 1 ms write delay (0001)
  bool global_delivery = true;  // libnats's shared delivery pool, not a thread per sub
};

/// Connects to `options.servers` and opens (creating if absent) the KV bucket. Throws
/// std::runtime_error naming the servers and libnats's reason if it cannot, at start-up.
std::unique_ptr<Backbone> make_nats_backbone(NatsOptions options);

}  // namespace sb::backbone
