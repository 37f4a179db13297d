// The one notion of a listen address and of "loopback", shared by the config check and
// every server (the status page, the HTTP ingest, the OCPP endpoint), so that an address
// check-config accepts is one the server can bind, and a server never applies a
// different idea of "this board only" than the check that let its config through.
//
// An address is an IPv4 or IPv6 literal, or "localhost" (taken as 127.0.0.1, without
// asking a resolver: /etc/hosts may say anything). Loopback is 127.0.0.0/8 and ::1
// (and ::ffff:127.x.y.z). Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "gateway/status.h"

namespace gateway {

struct ListenAddress {
  std::string ip;         // a literal the socket layer takes: "localhost" becomes "127.0.0.1"
  bool loopback = false;  // reachable from this board only
  bool v6 = false;
};

// InvalidArgument naming the text when it is not an address.
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace gateway
