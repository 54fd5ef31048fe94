#pragma once
// Every row of every table of a database file as text: a test takes one before and one after a
// refused command to prove it changed nothing.

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

namespace labgate::test {

/// The whole content of the database at `path`, table by table in name order.
inline std::string database_snapshot(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::string all;
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name", -1,
                     &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  for (const auto& t : tables) {
    all += "## " + t + "\n";
    sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\"").c_str(), -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const auto* text = sqlite3_column_blob(st, c);
        const int n = sqlite3_column_bytes(st, c);
        all += text != nullptr ? std::string(static_cast<const char*>(text), n) : "NULL";
        all += '|';
      }
      all += '\n';
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return all;
}

}  // namespace labgate::test
