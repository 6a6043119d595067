#pragma once
// One HTTP/2 connection (RFC 9113) over TLS, served with libnghttp2 on the
// HTTP worker that accepted it, when ALPN chose "h2". It carries what the
// handler takes (DNS over HTTPS); a request the handler declines is reset with
// HTTP_1_1_REQUIRED, and clients (curl, browsers) retry it over HTTP/1.1,
// where cpp-httplib serves the whole API.
//
// The limits of HTTP/1.1 hold per stream: head and body bytes, the time from
// a request's first frame to its end; and per connection: concurrent streams
// (SETTINGS_MAX_CONCURRENT_STREAMS), idle time without a request, the time to
// write. A request over a limit is refused and the connection ended after it.
#include <openssl/ssl.h>

#include <functional>

#include "bounded_server.hpp"
#include "h2_types.hpp"

namespace pweb::rest {

// The ALPN protocol `ssl` agreed on is "h2".
bool alpn_is_h2(const SSL* ssl);

// Lets clients choose "h2" (preferred) or "http/1.1" on `ctx` by ALPN; a
// client that offers neither is served HTTP/1.1 without ALPN.
void offer_h2(SSL_CTX* ctx);

// Serves the connection until the client ends it, a limit or deadline ends
// it, or `stopping` says the server stops. `fd` is non-blocking and `ssl` has
// finished its handshake. Refusals are counted in `counters`.
bool serve_h2(int fd, SSL* ssl, const H2Limits& limits, const std::function<bool()>& stopping,
              const H2Handler& handler, LimitCounters& counters);

}  // namespace pweb::rest
