#pragma once
// SIGINT/SIGTERM: the first one asks the updater to stop (a wait returns at
// once; a request in flight finishes within its timeout); a second one ends
// the process immediately with 128+N. SIGPIPE is ignored.
#include <chrono>
#include <string>

namespace pweb::updater {

// Returns an error message, empty on success. Call once, at start-up.
std::string install_stop_signals();

// Waits up to `duration`, returning early if a stop signal arrives. Returns the
// signal number if one has arrived (now or before), 0 otherwise.
int wait_for_stop(std::chrono::milliseconds duration);

// The stop signal received so far, 0 if none.
int stop_requested();

}  // namespace pweb::updater
