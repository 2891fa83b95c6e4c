#pragma once
// The three ways sb-bots runs.
//
// run_single: all bots in this process (procs == 1): one io_context thread runs the fleet, a
//   1-second ticker prints the live line, orders the --drop-at drop, and at the end the summary.
// run_parent: procs > 1 (a process may hold at most 20,000 open files here): re-executes this
//   binary K times with --child --first-index --count (stdin and stdout are pipes), reads every
//   child's one-JSON-line-per-second stats, adds the latest of each into the totals for the live
//   line and the summary, and sends "drop" / "stop" lines to the children's stdin.
// run_child: the fleet of one child; prints `{"t":s,"final":bool,"s":BotStats}` each second and
//   once more at the end; obeys "drop" and "stop" on stdin (EOF = the parent is gone: stop).
//
// Final summary (--json PATH, "-" = stdout), version 1:
//   config{host,port,transport,bots,procs,duration_s,chat_rate,ramp,prefix,zone,mode,text_bytes,
//          drop_at_s|null,source_ips,scenario,game_zone,game_params{}}, elapsed_s,
//   bots{target,peak_connected,peak_logged_in,final_connected,final_logged_in,
//        time_to_all_logged_in_s|null,dead,lost,auto_reconnects}, connects,
//   logins{ok,registered,new_session,took_over,reattached}, errors{total,by_code{name:n}},
//   closes{reason:n}, chat{sent,received,replayed,sent_per_s,received_per_s,steady_sent_per_s,
//        steady_received_per_s (null unless all bots were in for >= 1 s),peak_sent_per_s,
//        peak_received_per_s},
//   latency_ms{connect,login,chat,resume: {count,min,mean,p50,p90,p99,p999,max}},
//   resume{drop_at_elapsed_s,dropped,resumed,relogged,time_to_all_back_s,all_back_at_elapsed_s,
//          peak_resumes_per_s,resumes_per_s[]}   (only with --drop-at)
//   game{joins,final_in_game,events,events_per_s,hands,hands_per_s,peak_hands_per_s,actions,
//        auto_actions,rejected,ticks_received,ticks_received_per_s,peak_ticks_received_per_s,
//        inputs,lost_ticks,matches_ended,corrections,latency_ms{event,input}}
//        (scenarios poker and ctf; ticks are States received summed over bots)
#include <cstdint>
#include <string>

#include "bot_fleet.hpp"

namespace sb::bots {

struct RunConfig {
  FleetConfig fleet;            // first_index/count: this process's share
  std::uint64_t total_bots = 100;
  double duration_s = 60;
  double drop_at_s = -1;        // < 0: no drop
  int procs = 1;
  std::string json_path;        // empty: no summary file
  bool quiet = false;
  std::string mode_name = "register-or-login";
};

/// Each returns the process exit code.
int run_single(const RunConfig& config);
int run_child(const RunConfig& config);
int run_parent(const RunConfig& config);

}  // namespace sb::bots
