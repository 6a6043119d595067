#pragma once
#include <asio.hpp>
#include <memory>

#include "worker.hpp"

namespace pweb::dns {

// Accepts DNS-over-TCP connections (RFC 7766): queries may be pipelined, answers
// are written as they are produced, idle connections are closed.
class TcpListener : public std::enable_shared_from_this<TcpListener> {
 public:
  TcpListener(Worker& worker, const asio::ip::tcp::endpoint& endpoint);
  void start();
  void close();

 private:
  void accept();

  Worker& worker_;
  asio::ip::tcp::acceptor acceptor_;
};

}  // namespace pweb::dns
