#include "gateway/net_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace gateway {

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress out;
  std::string s(text);
  if (s == "localhost") s = "127.0.0.1";
  unsigned char buf[sizeof(struct in6_addr)];
  if (::inet_pton(AF_INET, s.c_str(), buf) == 1) {
    out.loopback = buf[0] == 127;
  } else if (::inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    static const unsigned char kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    out.loopback = std::memcmp(buf, kLoop6, 16) == 0 || (std::memcmp(buf, kMapped, 12) == 0 && buf[12] == 127);
    out.v6 = true;
  } else {
    // Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) of "literal" + a
    // temporary std::string.
    std::string why = "'";
    why.append(text).append("' is not an IPv4 or IPv6 address (or localhost); 0.0.0.0 for every interface");
    return Status::InvalidArgument(std::move(why));
  }
  out.ip = std::move(s);
  return out;
}

}  // namespace gateway
