// OpenPg: a libpq connection from the config's conninfo and the password read from its
// password_file (passed apart, so that it is never part of a string that could be
// logged). Shared by the ingest store, the town report and the town board, each of
// which owns its own connection. Any thread; the caller owns the PGconn (PQfinish).
// PgResult and PgTextArray are the small libpq helpers the three share.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/status.h"

namespace host {

// Never null; check PQstatus(conn) == CONNECTION_OK. NOTICEs are silenced.
PGconn* OpenPg(const std::string& conninfo, const std::string& password, const char* application_name);

// Owns one PGresult.
struct PgResult {
  explicit PgResult(PGresult* p) : r(p) {}
  ~PgResult() { PQclear(r); }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ExecStatusType status() const { return PQresultStatus(r); }
  bool null(int row, int col) const { return PQgetisnull(r, row, col) != 0; }
  std::string at(int row, int col) const { return null(row, col) ? std::string() : PQgetvalue(r, row, col); }
  int64_t integer(int row, int col) const { return std::strtoll(PQgetvalue(r, row, col), nullptr, 10); }
  PGresult* r;
};

// A text[] literal for a $n parameter: every element quoted, quotes and backslashes escaped.
std::string PgTextArray(const std::vector<std::string>& v);

// Unavailable("what: the connection's error message").
gateway::Status PgError(PGconn* conn, const std::string& what);

}  // namespace host
