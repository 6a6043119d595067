#pragma once
// The state file: what pweb-update last registered, so that a restart does not
// send an update for an address that has not changed. Missing or unreadable
// state only means "update now"; failures are return values.
#include <filesystem>
#include <optional>
#include <string>

#include "pweb/registrar/update_policy.hpp"

namespace pweb::updater {

// The default path for `device`: $STATE_DIRECTORY/DEVICE (systemd's
// StateDirectory=), else $XDG_STATE_HOME/pweb-update/DEVICE, else
// $HOME/.local/state/pweb-update/DEVICE; nullopt if none of them is set.
std::optional<std::filesystem::path> default_state_path(const std::string& device);

struct LoadedState {
  std::optional<registrar::update::UpdateState> state;
  std::string warning;  // set when a file exists but cannot be used
};
LoadedState load_state(const std::filesystem::path& path);

// Writes atomically (temporary file, fsync, rename), creating the directory
// (mode 0700). Returns an error message, empty on success.
std::string save_state(const std::filesystem::path& path,
                       const registrar::update::UpdateState& state);

}  // namespace pweb::updater
