// What the benchmarks read about a process from /proc, and the free
// loopback ports they give their nodes. Shared by bench_dht, bench_e2e and
// bench_connections so the figures mean the same thing in each.
#pragma once

#include <cstdint>
#include <string>

namespace ht::bench {

/// CPU time (user + system, all threads, also exited ones) of a process so
/// far, in microseconds, at clock-tick resolution (10 ms): /proc/<pid>/stat.
double cpu_us(int pid);

/// A field of /proc/<pid>/status, e.g. "VmRSS", "VmHWM" (kB) or "Threads"
/// (a count); -1 if the process or the field is not there.
long status_field(int pid, const std::string& name);

/// The 1, 5 and 15 minute load averages, space-separated (/proc/loadavg):
/// printed next to figures, since the machine is shared.
std::string load_average();

/// A free UDP port on 127.0.0.1 clear of 49737-49741 (the ports the project
/// never uses) and of the range [p, p+5) a JS dht-rpc node tries when its
/// port is taken, so the rule holds whichever node gets the port.
uint16_t free_port();

/// A UDP socket (close-on-exec) bound to an ephemeral port on 127.0.0.1;
/// returns its fd and sets `port`.
int loopback_udp_socket(uint16_t& port);

} // namespace ht::bench
