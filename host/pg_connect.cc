#include "pg_connect.h"

namespace host {

PGconn* OpenPg(const std::string& conninfo, const std::string& password, const char* application_name) {
  const char* keys[] = {"dbname", "application_name", nullptr, nullptr};
  const char* vals[] = {conninfo.c_str(), application_name, nullptr, nullptr};
  if (!password.empty()) {
    keys[2] = "password";
    vals[2] = password.c_str();
  }
  PGconn* conn = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
  // NOTICEs ("already exists, skipping") are expected, not news for the log.
  if (PQstatus(conn) == CONNECTION_OK) PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return conn;
}

}  // namespace host
