#pragma once
#include <asio.hpp>
#include <asio/ssl/context.hpp>
#include <memory>

#include "worker.hpp"

namespace pweb::dns {

// Accepts DNS-over-TCP connections (RFC 7766): queries may be pipelined, answers
// are written as they are produced, idle connections are closed. With `tls`,
// the same over TLS (DNS over TLS, RFC 7858) once the handshake is done.
class TcpListener : public std::enable_shared_from_this<TcpListener> {
 public:
  TcpListener(Worker& worker, const asio::ip::tcp::endpoint& endpoint,
              std::shared_ptr<asio::ssl::context> tls = nullptr);
  void start();
  void close();

 private:
  void accept();
  void serve(asio::ip::tcp::socket socket);

  Worker& worker_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<asio::ssl::context> tls_;
};

}  // namespace pweb::dns
