#include "gateway/status.h"

namespace gateway {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: name = "invalid argument"; break;
    case Code::kNotFound: name = "not found"; break;
    case Code::kIoError: name = "I/O error"; break;
    case Code::kCorruption: name = "corruption"; break;
    case Code::kNoSpace: name = "disk full"; break;
    case Code::kBusy: name = "busy"; break;
    case Code::kUnavailable: name = "unavailable"; break;
    case Code::kShutdown: name = "shutting down"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace gateway
