// OpenPg: a libpq connection from the config's conninfo and the password read from its
// password_file (passed apart, so that it is never part of a string that could be
// logged). Shared by the ingest store, the town report and the town board, each of
// which owns its own connection. Any thread; the caller owns the PGconn (PQfinish).
#pragma once

#include <libpq-fe.h>

#include <string>

namespace host {

// Never null; check PQstatus(conn) == CONNECTION_OK. NOTICEs are silenced.
PGconn* OpenPg(const std::string& conninfo, const std::string& password, const char* application_name);

}  // namespace host
