// Migrations: the town host's PostgreSQL schema as numbered, append-only steps.
//
// Each step runs once, in its own transaction, recorded in schema_migrations; several
// host instances starting together over one database serialise on an advisory lock.
// A released step is never edited: a change is a new step. Called by PgStore on the
// host loop's thread.
#pragma once

#include <vector>

namespace host {

struct Migration {
  int version;
  const char* sql;
};

const std::vector<Migration>& Migrations();

}  // namespace host
