#pragma once
#include <sys/socket.h>

#include <array>
#include <asio.hpp>
#include <span>
#include <string>
#include <vector>

#include "worker.hpp"

namespace pweb::dns {

// A UDP socket served in batches: Asio says when it is readable, then
// recvmmsg/sendmmsg move up to kBatch datagrams per system call.
class UdpListener {
 public:
  UdpListener(Worker& worker, const asio::ip::udp::endpoint& endpoint);
  void start();
  void close();

 private:
  static constexpr std::size_t kBatch = 32;
  static constexpr std::size_t kMaxQuery = 4096;
  static constexpr int kRoundsPerWakeup = 16;  // then yield to the worker's other sockets

  void wait();
  void drain();
  static constexpr std::uint64_t kMaxSignedInFlight = 1024;
  void hand_over(std::span<const std::uint8_t> query, const sockaddr_storage& peer,
                 socklen_t peer_size, const Processed& p, Worker::Clock::time_point started);
  // Answers `query` once the resolver has `key` (another agent's device).
  void defer(std::span<const std::uint8_t> query, const sockaddr_storage& peer, socklen_t peer_size,
             const std::string& key, Worker::Clock::time_point started);

  Worker& worker_;
  asio::ip::udp::socket socket_;
  std::vector<std::uint8_t> in_;
  std::vector<std::uint8_t> out_;
  std::array<mmsghdr, kBatch> in_msgs_{};
  std::array<mmsghdr, kBatch> out_msgs_{};
  std::array<iovec, kBatch> in_iov_{};
  std::array<iovec, kBatch> out_iov_{};
  std::array<sockaddr_storage, kBatch> peers_{};
};

}  // namespace pweb::dns
