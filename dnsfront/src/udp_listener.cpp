#include "udp_listener.hpp"

#include <cerrno>

namespace pweb::dns {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

UdpListener::UdpListener(Worker& worker, const asio::ip::udp::endpoint& endpoint)
    : worker_(worker),
      socket_(worker.io),
      in_(kBatch * kMaxQuery),
      out_(kBatch * kServerUdpPayload) {
  socket_.open(endpoint.protocol());
  socket_.set_option(asio::socket_base::reuse_address(true));
  socket_.set_option(ReusePort(true));
  if (endpoint.address().is_v6()) socket_.set_option(asio::ip::v6_only(true));
  socket_.bind(endpoint);
  socket_.non_blocking(true);
  for (std::size_t i = 0; i < kBatch; ++i) {
    in_iov_[i] = {in_.data() + i * kMaxQuery, kMaxQuery};
  }
}

void UdpListener::start() { wait(); }

void UdpListener::close() {
  asio::error_code ignored;
  socket_.close(ignored);
}

void UdpListener::wait() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const asio::error_code& ec) {
    if (ec) return;  // closed
    drain();
    wait();
  });
}

void UdpListener::drain() {
  const int fd = socket_.native_handle();
  for (int round = 0; round < kRoundsPerWakeup; ++round) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      auto& h = in_msgs_[i].msg_hdr;
      h = msghdr{};
      h.msg_name = &peers_[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &in_iov_[i];
      h.msg_iovlen = 1;
    }
    const int received = recvmmsg(fd, in_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) return;  // EAGAIN, or an error the next wakeup will see again
    const auto started = Worker::Clock::now();
    const bool logging = static_cast<bool>(worker_.config.query_log);

    const auto& snapshot = worker_.snapshots.get();
    const RemoteContext remote = worker_.remote_context();
    const std::uint32_t unix_now = unix_time_now();
    unsigned replies = 0;
    for (int i = 0; i < received; ++i) {
      const auto& in = in_msgs_[static_cast<std::size_t>(i)];
      if ((in.msg_hdr.msg_flags & MSG_TRUNC) != 0) {  // larger than any sane query
        WorkerStats::bump(worker_.stats.udp_queries);
        WorkerStats::bump(worker_.stats.dropped);
        continue;
      }
      std::span<const std::uint8_t> query(
          static_cast<const std::uint8_t*>(in_iov_[static_cast<std::size_t>(i)].iov_base),
          in.msg_len);
      std::span<std::uint8_t> out(out_.data() + replies * kServerUdpPayload, kServerUdpPayload);
      const Processed p =
          process_query(query, out, Transport::udp, worker_.authority, snapshot, remote,
                        client_info(static_cast<const sockaddr*>(in.msg_hdr.msg_name),
                                    in.msg_hdr.msg_namelen, unix_now));
      if (p.special && worker_.signed_messages) {
        hand_over(query, peers_[static_cast<std::size_t>(i)], in.msg_hdr.msg_namelen, p, started);
        continue;
      }
      if (p.pending) {
        worker_.stats.cache_misses.inc();
        defer(query, peers_[static_cast<std::size_t>(i)], in.msg_hdr.msg_namelen, p.pending_key,
              started);
        continue;
      }
      worker_.stats.count(p, Transport::udp);
      if (logging) {
        worker_.log_query(query, p, Transport::udp, Worker::Clock::now() - started,
                          static_cast<const sockaddr*>(in.msg_hdr.msg_name),
                          in.msg_hdr.msg_namelen);
      }
      if (p.response.size == 0) continue;
      // A valid server cookie proves the source address (RFC 7873 §5.2.4): not rate limited.
      const std::size_t size = p.cookie == CookieResult::valid
                                   ? p.response.size
                                   : worker_.limit_udp(peers_[static_cast<std::size_t>(i)], out,
                                                       p.response.size, started);
      if (size == 0) continue;
      out_iov_[replies] = {out.data(), size};
      auto& h = out_msgs_[replies].msg_hdr;
      h = msghdr{};
      h.msg_name = in.msg_hdr.msg_name;
      h.msg_namelen = in.msg_hdr.msg_namelen;
      h.msg_iov = &out_iov_[replies];
      h.msg_iovlen = 1;
      ++replies;
    }
    for (unsigned sent = 0; sent < replies;) {
      const int n = sendmmsg(fd, out_msgs_.data() + sent, replies - sent, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        // A full socket buffer or an unreachable peer: skip that datagram.
        ++sent;
        continue;
      }
      sent += static_cast<unsigned>(n);
    }
    // One clock read per batch: every answer in it took at most this long.
    if (replies > 0) worker_.stats.latency.observe(Worker::Clock::now() - started, replies);
    if (static_cast<std::size_t>(received) < kBatch) return;
  }
}

}  // namespace pweb::dns

namespace pweb::dns {

// Answered off the lock-free path (keys, the writer); sent from this worker's
// thread when ready. Bounded: past kMaxSignedInFlight per worker, dropped (the
// client retries).
void UdpListener::hand_over(std::span<const std::uint8_t> query, const sockaddr_storage& peer,
                            socklen_t peer_size, const Processed& p,
                            Worker::Clock::time_point started) {
  if (worker_.signed_in_flight.load(std::memory_order_relaxed) >= kMaxSignedInFlight) {
    WorkerStats::bump(worker_.stats.udp_queries);
    WorkerStats::bump(worker_.stats.dropped);
    return;
  }
  worker_.signed_in_flight.fetch_add(1, std::memory_order_relaxed);
  Query q;
  (void)parse_query(query, q);
  const std::size_t max_size = response_limit(q, Transport::udp);
  const std::uint16_t qtype = p.qtype;
  worker_.signed_messages->handle(
      std::vector<std::uint8_t>(query.begin(), query.end()), Transport::udp,
      peer_ip(reinterpret_cast<const sockaddr*>(&peer), peer_size), max_size,
      [this, gate = worker_.gate, peer, peer_size, qtype,
       started](std::vector<std::uint8_t> response) {
        gate->post([this, peer, peer_size, qtype, started, response = std::move(response)] {
          worker_.signed_in_flight.fetch_sub(1, std::memory_order_relaxed);
          Processed done;
          done.qtype = qtype;
          done.response.size = response.size();
          done.response.rcode =
              response.size() >= 4 ? static_cast<Rcode>(response[3] & 0xF) : Rcode::noerror;
          worker_.stats.count(done, Transport::udp);
          if (response.empty() || !socket_.is_open()) return;
          worker_.stats.latency.observe(Worker::Clock::now() - started);
          (void)::sendto(socket_.native_handle(), response.data(), response.size(), MSG_DONTWAIT,
                         reinterpret_cast<const sockaddr*>(&peer), peer_size);
        });
      });
}

void UdpListener::defer(std::span<const std::uint8_t> query, const sockaddr_storage& peer,
                        socklen_t peer_size, const std::string& key,
                        Worker::Clock::time_point started) {
  std::vector<std::uint8_t> copy(query.begin(), query.end());
  const bool queued = worker_.await_remote(key, [this, copy = std::move(copy), peer, peer_size,
                                                 started](const RemoteAnswer& answer) {
    if (!socket_.is_open()) return;
    RemoteContext remote = worker_.remote_context();
    remote.resolved = &answer;
    auto& out = worker_.tcp_scratch;  // this thread's; nothing else uses it now
    const Processed p =
        process_query(copy, std::span(out.data(), kServerUdpPayload), Transport::udp,
                      worker_.authority, worker_.snapshots.get(), remote,
                      client_info(reinterpret_cast<const sockaddr*>(&peer), peer_size));
    worker_.finish(copy, p, Transport::udp, started, reinterpret_cast<const sockaddr*>(&peer),
                   peer_size);
    if (p.response.size == 0) return;
    const std::size_t size = p.cookie == CookieResult::valid
                                 ? p.response.size
                                 : worker_.limit_udp(peer, std::span(out.data(), kServerUdpPayload),
                                                     p.response.size, Worker::Clock::now());
    if (size == 0) return;
    // Best effort, as every UDP answer: a full buffer drops it, the client retries.
    (void)::sendto(socket_.native_handle(), out.data(), size, MSG_DONTWAIT,
                   reinterpret_cast<const sockaddr*>(&peer), peer_size);
  });
  if (!queued) {
    WorkerStats::bump(worker_.stats.udp_queries);
    WorkerStats::bump(worker_.stats.dropped);
  }
}

}  // namespace pweb::dns
